"""Losses for SR training, each a small function with its weight named in the config."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def charbonnier(pred: torch.Tensor, target: torch.Tensor, eps: float = 1e-3) -> torch.Tensor:
    """A differentiable L1 (Lai et al. 2017): smooth near zero, robust to outliers."""
    return torch.sqrt((pred - target) ** 2 + eps**2).mean()


PIXEL_LOSSES = {"l1": F.l1_loss, "mse": F.mse_loss, "charbonnier": charbonnier}


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
