"""Training pairs for SR: random HR crops, LR by antialiased bicubic downsampling, optional
realistic degradations of the LR (blur before downsampling, sensor noise, JPEG) because that is
what uploaded drone photos look like."""

from __future__ import annotations

import io
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from dronesr.resample import downscale


def load_rgb(path: Path) -> torch.Tensor:
    """uint8 CHW tensor of an image file, EXIF orientation applied."""
    from PIL import ImageOps

    with Image.open(path) as im:
        im = ImageOps.exif_transpose(im).convert("RGB")
        return torch.from_numpy(np.asarray(im).copy()).permute(2, 0, 1)


@dataclass
class Degradations:
    """Probabilities and ranges of the LR degradations (all off by default)."""

    blur_prob: float = 0.0
    blur_sigma: tuple[float, float] = (0.2, 1.5)
    noise_prob: float = 0.0
    noise_sigma: tuple[float, float] = (1.0, 8.0)  # in 8-bit levels
    jpeg_prob: float = 0.0
    jpeg_quality: tuple[int, int] = (50, 95)


def gaussian_blur(image: torch.Tensor, sigma: float) -> torch.Tensor:
    radius = max(1, int(3 * sigma + 0.5))
    coords = torch.arange(-radius, radius + 1, dtype=image.dtype)
    kernel = torch.exp(-(coords**2) / (2 * sigma**2))
    kernel = kernel / kernel.sum()
    c = image.shape[1]
    padded = torch.nn.functional.pad(image, (radius, radius, radius, radius), mode="reflect")
    out = torch.nn.functional.conv2d(padded, kernel.view(1, 1, 1, -1).repeat(c, 1, 1, 1), groups=c)
    return torch.nn.functional.conv2d(out, kernel.view(1, 1, -1, 1).repeat(c, 1, 1, 1), groups=c)


def jpeg_roundtrip(image: torch.Tensor, quality: int) -> torch.Tensor:
    array = (image.clamp(0, 1) * 255).round().byte().permute(1, 2, 0).numpy()
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="JPEG", quality=quality)
    decoded = np.asarray(Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")).copy()
    return torch.from_numpy(decoded).permute(2, 0, 1).float() / 255


def make_lr(hr: torch.Tensor, scale: int, degrade: Degradations, rng: random.Random) -> torch.Tensor:
    """HR batch (NCHW float [0,1]) -> LR batch, each image degraded independently."""
    out = []
    for image in hr.split(1):
        if rng.random() < degrade.blur_prob:
            image = gaussian_blur(image, rng.uniform(*degrade.blur_sigma))
        lr = downscale(image, scale)
        if rng.random() < degrade.noise_prob:
            lr = lr + torch.randn_like(lr) * rng.uniform(*degrade.noise_sigma) / 255
        if rng.random() < degrade.jpeg_prob:
            lr = jpeg_roundtrip(lr[0], rng.randint(*degrade.jpeg_quality)).unsqueeze(0)
        out.append(lr.clamp(0, 1))
    return torch.cat(out)


class CropSampler:
    """Random HR crops with flips and 90-degree rotations from images decoded once and kept."""

    def __init__(self, paths: list[Path], crop: int, seed: int):
        self.images = [load_rgb(p) for p in paths]
        self.images = [im for im in self.images if min(im.shape[1:]) >= crop]
        if not self.images:
            raise SystemExit(f"no training image is at least {crop}px on both sides")
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
