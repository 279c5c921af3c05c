"""SRGAN discriminator (Ledig et al. 2017), slimmed for CPU training.

Strided conv blocks halve the resolution while widening the channels; global average pooling
instead of the paper's fixed-size dense layer lets it judge crops of any size.
"""

from __future__ import annotations

import torch
from torch import nn


def _block(in_ch: int, out_ch: int, stride: int) -> list[nn.Module]:
    return [nn.Conv2d(in_ch, out_ch, 3, stride=stride, padding=1), nn.LeakyReLU(0.2, inplace=True)]


class Discriminator(nn.Module):
    """Outputs one real/fake logit per image."""

    def __init__(self, channels: int = 32, num_stages: int = 4):
        super().__init__()
        self.arch_kwargs = {"channels": channels, "num_stages": num_stages}  # what save_model records
        layers = _block(3, channels, 1) + _block(channels, channels, 2)
        ch = channels
        for _ in range(num_stages - 1):
            layers += _block(ch, ch * 2, 1) + _block(ch * 2, ch * 2, 2)
            ch *= 2
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(ch, ch), nn.LeakyReLU(0.2, inplace=True), nn.Linear(ch, 1)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x)).squeeze(1)
