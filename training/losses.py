"""Losses for SR training, each a small function with its weight named in the config."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torchvision.transforms.functional import gaussian_blur as torchvision_blur


def charbonnier(pred: torch.Tensor, target: torch.Tensor, eps: float = 1e-3) -> torch.Tensor:
    """A differentiable L1 (Lai et al. 2017): smooth near zero, robust to outliers."""
    return torch.sqrt((pred - target) ** 2 + eps**2).mean()


PIXEL_LOSSES = {"l1": F.l1_loss, "mse": F.mse_loss, "charbonnier": charbonnier}


def gaussian_blur(images: torch.Tensor, sigma: float) -> torch.Tensor:
    """Gaussian blur of an NCHW batch, the kernel three sigmas each side, edges reflected."""
    radius = max(1, math.ceil(3 * sigma))
    return torchvision_blur(images, [2 * radius + 1] * 2, [sigma] * 2)


def unsharp_mask(images: torch.Tensor, amount: float, sigma: float, threshold: float = 10 / 255) -> torch.Tensor:
    """The HR with its local contrast raised, as a crisper pixel-loss target (Real-ESRGAN trains
    its GAN towards such targets). Only where the detail (image minus its blur) exceeds
    ``threshold`` is it sharpened, through a softened mask, so flat sky and its noise stay as they
    are."""
    detail = images - gaussian_blur(images, sigma)
    mask = gaussian_blur((detail.abs().amax(1, keepdim=True) > threshold).float(), sigma)
    return (images + amount * detail * mask).clamp(0, 1)


def edge_detail(teacher_detail: torch.Tensor, hr_detail: torch.Tensor, threshold: float) -> torch.Tensor:
    """A detail target: the teacher's where its detail is strong (its edges: fully from twice
    ``threshold``, by the channel-mean magnitude smoothed over about a pixel), the HR's elsewhere."""
    strength = gaussian_blur(teacher_detail.abs().mean(dim=1, keepdim=True), 1.0)
    edges = ((strength - threshold) / threshold).clamp(0, 1)
    return edges * teacher_detail + (1 - edges) * hr_detail


def gram_matrix(features: torch.Tensor) -> torch.Tensor:
    n, c, h, w = features.shape
    flat = features.reshape(n, c, h * w)
    return flat @ flat.transpose(1, 2) / (c * h * w)


def content_loss(sr_features: list[torch.Tensor], hr_features: list[torch.Tensor]) -> torch.Tensor:
    return sum(F.l1_loss(s, h) for s, h in zip(sr_features, hr_features)) / len(sr_features)


def texture_loss(sr_features: list[torch.Tensor], hr_features: list[torch.Tensor]) -> torch.Tensor:
    """Gram-matrix (texture) distance, as in EnhanceNet / Gatys et al."""
    return sum(F.l1_loss(gram_matrix(s), gram_matrix(h)) for s, h in zip(sr_features, hr_features)) / len(sr_features)


def relativistic_losses(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Relativistic average GAN losses (ESRGAN): (discriminator loss, generator loss).

    The caller passes ``fake_logits`` computed with or without gradient to the generator as needed.
    """
    real_rel = real_logits - fake_logits.mean()
    fake_rel = fake_logits - real_logits.mean()
    ones, zeros = torch.ones_like(real_rel), torch.zeros_like(real_rel)
    d_loss = (F.binary_cross_entropy_with_logits(real_rel, ones) + F.binary_cross_entropy_with_logits(fake_rel, zeros)) / 2
    g_loss = (F.binary_cross_entropy_with_logits(real_rel, zeros) + F.binary_cross_entropy_with_logits(fake_rel, ones)) / 2
    return d_loss, g_loss
