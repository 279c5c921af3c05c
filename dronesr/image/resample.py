"""Resampling shared by training, evaluation and benchmarks.

The degradation model of the evaluation protocol is antialiased bicubic downsampling (MATLAB
``imresize``); ``torch.nn.functional.interpolate(..., antialias=True)`` uses the same Keys kernel
(a = -0.5) widened by the scale factor, which is what reproduces the published bicubic figures.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def bicubic_resize(images: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Resize a float NCHW batch with antialiased bicubic interpolation; no clamping."""
    return F.interpolate(images, size=size, mode="bicubic", align_corners=False, antialias=True)


def downscale(images: torch.Tensor, scale: int) -> torch.Tensor:
    """Antialiased bicubic downsampling by an integer factor (H and W must be multiples of it)."""
    h, w = images.shape[-2:]
    if h % scale or w % scale:
        raise ValueError(f"size {w}x{h} is not a multiple of scale {scale}")
    return bicubic_resize(images, (h // scale, w // scale))
