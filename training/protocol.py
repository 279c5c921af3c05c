"""The evaluation protocol: how an HR test image becomes the LR a model is judged on, clean or
degraded the way real uploads are, and the bicubic baseline of that same LR.

One definition for evaluation (``make evaluate``), validation during training and the peer
benchmark, so a PSNR a run logs is the PSNR ``make evaluate`` reports for the same weights.

- HR is cropped to a multiple of the scale; the clean LR is Pillow BICUBIC downscaling
  (antialiased), saved as 8-bit.
- ``jpeg75`` / ``jpeg50``: the LR saved as JPEG quality 75 / 50 (Pillow defaults) and decoded.
- ``noise5``: Gaussian noise, sigma 5 on the 0-255 scale, per channel, rounded and clipped.
- ``blur+noise3+jpeg70``: GaussianBlur(0.8), then noise sigma 3, then JPEG quality 70.
- The baseline is Pillow BICUBIC upscaling of the same (degraded) LR.
Noise is seeded by the image's file name, so every run sees the same noisy LR.

Each LR is first the file a user would upload (``lr_file``): the JPEG rows are the JPEG bytes
themselves (their quantization tables tell restore=auto the quality), the others lossless PNG. The
LR tensor is that file decoded, so in-process and served evaluation see the same pixels.
"""

from __future__ import annotations

import io
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageFilter, ImageOps

from dronesr.image.codecs import encode_image, rgb_to_tensor

CLEAN = "clean"


def _jpeg(image: Image.Image, quality: int) -> bytes:
    return encode_image(np.asarray(image), None, "jpeg", quality)[0]


def _png(image: Image.Image) -> bytes:
    return encode_image(np.asarray(image), None, "png")[0]


def _noise(image: Image.Image, sigma: float, rng: np.random.Generator) -> Image.Image:
    array = np.asarray(image, dtype=np.float64)
    noisy = np.clip(np.round(array + rng.normal(0.0, sigma, array.shape)), 0, 255)
    return Image.fromarray(noisy.astype(np.uint8), "RGB")


# name -> (clean LR, rng) -> the LR file a user would upload (JPEG bytes for the JPEG rows, else PNG)
DEGRADATIONS: dict[str, Callable[[Image.Image, np.random.Generator], bytes]] = {
    CLEAN: lambda im, rng: _png(im),
    "jpeg75": lambda im, rng: _jpeg(im, 75),
    "jpeg50": lambda im, rng: _jpeg(im, 50),
    "noise5": lambda im, rng: _png(_noise(im, 5.0, rng)),
    "blur+noise3+jpeg70": lambda im, rng: _jpeg(_noise(im.filter(ImageFilter.GaussianBlur(0.8)), 3.0, rng), 70),
}


def check_degradations(names: list[str]) -> list[str]:
    unknown = [n for n in names if n not in DEGRADATIONS]
    if unknown:
        raise ValueError(f"unknown degradation(s) {unknown}; known: {', '.join(DEGRADATIONS)}")
    return names


def load_hr(path: Path, scale: int) -> Image.Image:
    """The HR image (EXIF orientation applied, RGB) cropped to a multiple of ``scale``."""
    with Image.open(path) as im:
        image = ImageOps.exif_transpose(im).convert("RGB")
    w, h = (image.width // scale) * scale, (image.height // scale) * scale
    return image.crop((0, 0, w, h))


def lr_file(hr: Image.Image, scale: int, degradation: str, seed_name: str) -> bytes:
    """The protocol's LR of ``hr`` as the uploaded file: Pillow BICUBIC downscale, then the named degradation."""
    lr = hr.resize((hr.width // scale, hr.height // scale), Image.BICUBIC)
    rng = np.random.default_rng(zlib.crc32(f"{seed_name}:{degradation}".encode()))
    return DEGRADATIONS[degradation](lr, rng)


def decode_file(data: bytes) -> Image.Image:
    with Image.open(io.BytesIO(data)) as image:
        return image.convert("RGB")


def degraded_lr(hr: Image.Image, scale: int, degradation: str, seed_name: str) -> Image.Image:
    """The protocol's LR of ``hr``: ``lr_file`` decoded."""
    return decode_file(lr_file(hr, scale, degradation, seed_name))


def bicubic_baseline(lr: Image.Image, scale: int) -> Image.Image:
    return lr.resize((lr.width * scale, lr.height * scale), Image.BICUBIC)


def to_tensor(image: Image.Image) -> torch.Tensor:
    """PIL RGB -> 1x3xHxW float in [0, 1] (imaging.rgb_to_tensor, the models' pixel contract)."""
    return rgb_to_tensor(np.asarray(image))


def hr_lr_upload(path: Path, scale: int, degradation: str = CLEAN) -> tuple[torch.Tensor, bytes, torch.Tensor, torch.Tensor]:
    """(HR tensor, LR file bytes, LR tensor, bicubic baseline tensor), tensors 1x3xHxW in [0, 1]."""
    hr = load_hr(path, scale)
    data = lr_file(hr, scale, degradation, Path(path).name)
    lr = decode_file(data)
    return to_tensor(hr), data, to_tensor(lr), to_tensor(bicubic_baseline(lr, scale))


def hr_lr_pair(path: Path, scale: int, degradation: str = CLEAN) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(HR, LR, bicubic baseline) tensors, 1x3xHxW in [0, 1], for one test image."""
    hr, _, lr, bicubic = hr_lr_upload(path, scale, degradation)
    return hr, lr, bicubic
