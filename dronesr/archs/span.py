"""SPAN (Wan et al., "Swift Parameter-free Attention Network", NTIRE 2024 efficient SR) in its
merged, inference form: the network behind /predictions/srresnet and /predictions/srgan.

Upstream trains each 3x3 convolution as a re-parameterised block (1x1 -> 3x3 -> 1x1 plus a 1x1
skip) and merges it into one 3x3 convolution for inference; the pretrained weights this project
starts from (``make pretrained``) exist only merged. Rebuilt from merged weights, the expansion
branches would be zero and get no gradient, so this definition has only the merged convolutions
and training fine-tunes them directly: one definition for training and serving.

Pixel range is part of the contract, as for every SR network here: RGB in [0, 1] in and out
(upstream subtracts a per-channel mean and multiplies by 255 on the way in; the output is already
in [0, 1]). Not clamped; callers clamp when they quantize.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

# Upstream's input normalisation: x -> (x - mean) * 255 (DIV2K's RGB mean).
IMAGE_RANGE = 255.0
DIV2K_MEAN = (0.4488, 0.4371, 0.4040)


def conv3x3(c_in: int, c_out: int) -> nn.Conv2d:
    return nn.Conv2d(c_in, c_out, 3, padding=1)


class SPAB(nn.Module):
    """Swift parameter-free attention block: three 3x3 convolutions; the third's output, centred
    by sigmoid - 0.5, gates the block's residual sum."""

    def __init__(self, channels: int):
        super().__init__()
        self.c1_r = conv3x3(channels, channels)
        self.c2_r = conv3x3(channels, channels)
        self.c3_r = conv3x3(channels, channels)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out1 = F.silu(self.c1_r(x))
        out3 = self.c3_r(F.silu(self.c2_r(out1)))
        attention = torch.sigmoid(out3) - 0.5
        return (out3 + x) * attention, out1


class SPAN(nn.Module):
    """SPAN x``scale`` with ``channels`` features and six SPABs (upstream's only depth)."""

    NUM_BLOCKS = 6

    def __init__(self, scale: int = 4, channels: int = 48):
        super().__init__()
        self.arch_kwargs = {"scale": scale, "channels": channels}  # what save_model records
        if scale not in (2, 3, 4):
            raise ValueError(f"scale must be 2, 3 or 4, got {scale}")
        self.scale = scale
        self.register_buffer("mean", torch.tensor(DIV2K_MEAN).view(1, 3, 1, 1))
        self.conv_1 = conv3x3(3, channels)
        self.blocks = nn.ModuleList(SPAB(channels) for _ in range(self.NUM_BLOCKS))
        self.conv_2 = conv3x3(channels, channels)
        self.conv_cat = nn.Conv2d(channels * 4, channels, 1)
        self.upsampler = conv3x3(channels, 3 * scale * scale)
        self.shuffle = nn.PixelShuffle(scale)

    # LR pixels neighbouring tiles share. 21 3x3 convolutions in a row see 21 px; measured tiled
    # against untiled (python -m training.tile_overlap, 96 px tiles, pretrained weights): overlap 12
    # differs by up to 3.3 grey levels, 16 by 1.1, 24 by 0.7 (99 dB).
    TILE_OVERLAP = 24
    # What a spandrel descriptor says of a foreign network (dronesr/sr/weights.py), for this one:
    # it tiles, and runs in float16/bfloat16 within the precision probe's bound (measured 55 dB).
    tiling = "supported"
    precisions = ("float32", "bfloat16", "float16")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.conv_1((x - self.mean) * IMAGE_RANGE)
        out, first_block = features, None
        for block in self.blocks:
            out, out1 = block(out)
            first_block = out if first_block is None else first_block
        # upstream concatenates the head, the tail, block 1's output and block 6's first activation
        tail = self.conv_2(out)
        merged = self.conv_cat(torch.cat([features, tail, first_block, out1], dim=1))
        return self.shuffle(self.upsampler(merged))
