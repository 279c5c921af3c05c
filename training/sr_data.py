"""Training crops for SR: random HR crops with flips and rotations (the LR is made from them by
``training.degradations``)."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from training.options import ConfigError



def load_rgb(path: Path) -> torch.Tensor:
    """uint8 CHW tensor of an image file, EXIF orientation applied."""
    from PIL import ImageOps

    with Image.open(path) as im:
        im = ImageOps.exif_transpose(im).convert("RGB")
        return torch.from_numpy(np.asarray(im).copy()).permute(2, 0, 1)


class CropSampler:
    """Random HR crops with flips and 90-degree rotations from images decoded once and kept."""

    def __init__(self, paths: list[Path], crop: int, seed: int):
        self.images = [load_rgb(p) for p in paths]
        self.images = [im for im in self.images if min(im.shape[1:]) >= crop]
        if not self.images:
            raise ConfigError(f"no training image is at least {crop}px on both sides")
        self.crop = crop
        self.rng = random.Random(seed)

    def batch(self, size: int) -> torch.Tensor:
        crops = []
        for _ in range(size):
            image = self.images[self.rng.randrange(len(self.images))]
            top = self.rng.randint(0, image.shape[1] - self.crop)
            left = self.rng.randint(0, image.shape[2] - self.crop)
            crop = image[:, top : top + self.crop, left : left + self.crop]
            if self.rng.random() < 0.5:
                crop = crop.flip(2)
            crop = torch.rot90(crop, self.rng.randrange(4), dims=(1, 2))
            crops.append(crop)
        return torch.stack(crops).float() / 255
