"""Full-range YCbCr of ITU-R BT.601 (JPEG's): the space in which style transfer keeps a photo's
colours (luminance-only transfer, Gatys et al. 2016, "Preserving colour in neural artistic style
transfer"). Float NCHW tensors, RGB in [0, 1]; Cb and Cr centred on 0."""

from __future__ import annotations

import torch

_RGB_TO_YCBCR = torch.tensor([[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]])
_YCBCR_TO_RGB = torch.linalg.inv(_RGB_TO_YCBCR)


def rgb_to_ycbcr(images: torch.Tensor) -> torch.Tensor:
    return torch.einsum("ij,njhw->nihw", _RGB_TO_YCBCR.to(images), images)


def ycbcr_to_rgb(images: torch.Tensor) -> torch.Tensor:
    return torch.einsum("ij,njhw->nihw", _YCBCR_TO_RGB.to(images), images)


def luminance(images: torch.Tensor) -> torch.Tensor:
    """N1HW luma of NCHW RGB."""
    return rgb_to_ycbcr(images)[:, :1]


def with_chroma_of(luma_source: torch.Tensor, chroma_source: torch.Tensor) -> torch.Tensor:
    """RGB with the luminance of ``luma_source`` and the Cb/Cr of ``chroma_source`` (same size)."""
    return ycbcr_to_rgb(torch.cat([luminance(luma_source), rgb_to_ycbcr(chroma_source)[:, 1:]], dim=1))
