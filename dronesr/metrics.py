"""PSNR and SSIM under the standard SR protocol (so numbers mean what papers mean).

Y channel of ITU-R BT.601 as MATLAB's ``rgb2ycbcr`` (range 16..235), ``shave`` pixels removed at
every border, SSIM with an 11x11 Gaussian window of sigma 1.5 (Wang et al. 2004), both computed on
images quantized to 8 bits as the published figures are.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F


def quantize(images: torch.Tensor) -> torch.Tensor:
    """[0,1] float -> values on the 8-bit grid (still float, still [0,1])."""
    return images.clamp(0, 1).mul(255).round().div(255)


def rgb_to_y(images: torch.Tensor) -> torch.Tensor:
    """NCHW RGB in [0,1] -> N1HW luma in [16,235] (MATLAB rgb2ycbcr, 8-bit scale)."""
    weights = images.new_tensor([65.481, 128.553, 24.966]).view(1, 3, 1, 1)
    return (images * weights).sum(1, keepdim=True) + 16.0


def _shave(images: torch.Tensor, border: int) -> torch.Tensor:
    return images[..., border:-border, border:-border] if border > 0 else images


def psnr_y(sr: torch.Tensor, hr: torch.Tensor, shave: int) -> torch.Tensor:
    """Per-image PSNR (dB) on Y. Inputs NCHW RGB in [0,1], same size."""
    sr_y = _shave(rgb_to_y(quantize(sr)), shave).double()
    hr_y = _shave(rgb_to_y(quantize(hr)), shave).double()
    mse = (sr_y - hr_y).pow(2).mean(dim=(1, 2, 3))
    return 10 * torch.log10(255.0**2 / mse.clamp_min(1e-12))


def _gaussian_1d(size: int = 11, sigma: float = 1.5) -> torch.Tensor:
    coords = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-(coords**2) / (2 * sigma**2))
    return g / g.sum()


def _gaussian_filter(planes: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """Valid-region 2-D Gaussian of N1HW planes as two 1-D passes (the window is separable:
    the same result as the 11x11 window, an order of magnitude faster in float64)."""
    return F.conv2d(F.conv2d(planes, g.view(1, 1, -1, 1)), g.view(1, 1, 1, -1))


def ssim_y(sr: torch.Tensor, hr: torch.Tensor, shave: int) -> torch.Tensor:
    """Per-image SSIM on Y (valid-region Gaussian filtering, as the reference MATLAB code)."""
    x = _shave(rgb_to_y(quantize(sr)), shave).double()
    y = _shave(rgb_to_y(quantize(hr)), shave).double()
    g = _gaussian_1d().to(x.device)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    n = x.shape[0]
    # The five filtered statistics in one batch: x, y, x*x, y*y, x*y.
    stats = _gaussian_filter(torch.cat([x, y, x * x, y * y, x * y]), g)
    mu_x, mu_y, exx, eyy, exy = stats.split(n)
    sxx, syy, sxy = exx - mu_x**2, eyy - mu_y**2, exy - mu_x * mu_y
    ssim_map = ((2 * mu_x * mu_y + c1) * (2 * sxy + c2)) / ((mu_x**2 + mu_y**2 + c1) * (sxx + syy + c2))
    return ssim_map.mean(dim=(1, 2, 3))


def psnr_from_mse(mse: float, peak: float = 1.0) -> float:
    return math.inf if mse == 0 else 10 * math.log10(peak**2 / mse)


def psnr_rgb(a: np.ndarray | torch.Tensor, b: np.ndarray | torch.Tensor, peak: float = 1.0) -> float:
    """Plain RGB PSNR between two arrays (used to compare two outputs, e.g. tiled vs untiled)."""
    a_t, b_t = torch.as_tensor(a, dtype=torch.float64), torch.as_tensor(b, dtype=torch.float64)
    return psnr_from_mse(float((a_t - b_t).pow(2).mean()), peak)
