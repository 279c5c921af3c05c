"""SRResNet generator (Ledig et al. 2017), used for both the PSNR model and the SRGAN generator.

Differences from the paper, each measured on this project's CPU budget:
- no batch norm (EDSR showed it hurts SR and it makes tiles depend on their batch),
- the network predicts a residual over the bicubic upsampling of its input, so an untrained
  network already starts at bicubic quality and training only has to learn the detail,
- sub-pixel (pixel-shuffle) upsampling, one x2 stage per factor of two: convolutions run at low
  resolution, which is what makes the model affordable on a CPU.

Pixel range is part of the contract: input and output are RGB in [0, 1] (output not clamped, so
training sees the true error; callers clamp when they quantize).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class ResidualBlock(nn.Module):
    """conv-PReLU-conv with an identity skip."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.act = nn.PReLU(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(self.act(self.conv1(x)))


class UpsampleX2(nn.Module):
    """conv to 4x channels, pixel shuffle x2, PReLU."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels * 4, 3, padding=1)
        self.shuffle = nn.PixelShuffle(2)
        self.act = nn.PReLU(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.shuffle(self.conv(x)))


class SRResNet(nn.Module):
    """Residual SR generator. ``scale`` must be 2 or 4 (a power of two, one x2 stage each)."""

    # as a spandrel descriptor would say it (dronesr/sr/weights.py): it tiles, and runs in every precision
    tiling = "supported"
    precisions = ("float32", "bfloat16", "float16")

    def __init__(self, scale: int = 4, channels: int = 48, num_blocks: int = 8):
        super().__init__()
        self.arch_kwargs = {"scale": scale, "channels": channels, "num_blocks": num_blocks}  # what save_model records
        if scale not in (2, 4):
            raise ValueError(f"scale must be 2 or 4, got {scale}")
        self.scale = scale
        self.head = nn.Sequential(nn.Conv2d(3, channels, 9, padding=4), nn.PReLU(channels))
        self.body = nn.Sequential(*[ResidualBlock(channels) for _ in range(num_blocks)])
        self.body_tail = nn.Conv2d(channels, channels, 3, padding=1)
        self.upsample = nn.Sequential(*[UpsampleX2(channels) for _ in range(int(math.log2(scale)))])
        self.tail = nn.Conv2d(channels, 3, 9, padding=4)
        # Start as an exact bicubic upsampler: the residual branch outputs zero at first.
        nn.init.zeros_(self.tail.weight)
        nn.init.zeros_(self.tail.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        base = F.interpolate(x, scale_factor=self.scale, mode="bicubic", align_corners=False)
        features = self.head(x)
        features = features + self.body_tail(self.body(features))
        return base + self.tail(self.upsample(features))
