"""SRGAN discriminators: the strided one of Ledig et al. 2017, slimmed for CPU training, and a
U-Net with spectral normalisation after Real-ESRGAN (train_sr --d-arch).

The strided one: conv blocks halve the resolution while widening the channels; global average pooling
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


def _sn_conv(in_ch: int, out_ch: int, kernel: int, stride: int = 1) -> nn.Module:
    # padding 1 keeps the size at 3x3 stride 1 and halves it exactly at 4x4 stride 2
    return nn.utils.parametrizations.spectral_norm(nn.Conv2d(in_ch, out_ch, kernel, stride, padding=1, bias=False))


class UNetDiscriminator(nn.Module):
    """A U-Net discriminator with spectral normalisation, after Real-ESRGAN (Wang et al. 2021).

    One logit per pixel instead of per image: it says where an SR image looks fake, so the
    generator is pushed locally (a blocky patch) rather than by one global score; spectral
    normalisation keeps its training stable without batch statistics.
    """

    def __init__(self, channels: int = 32, num_stages: int = 3):
        super().__init__()
        self.arch_kwargs = {"channels": channels, "num_stages": num_stages}  # what save_model records
        widths = [channels * 2**i for i in range(num_stages + 1)]
        self.stem = nn.Conv2d(3, channels, 3, padding=1)
        self.down = nn.ModuleList(_sn_conv(widths[i], widths[i + 1], 4, stride=2) for i in range(num_stages))
        self.up = nn.ModuleList(_sn_conv(widths[i + 1], widths[i], 3) for i in reversed(range(num_stages)))
        self.head = nn.Sequential(_sn_conv(channels, channels, 3), nn.LeakyReLU(0.2, inplace=True),
                                  _sn_conv(channels, channels, 3), nn.LeakyReLU(0.2, inplace=True),
                                  nn.Conv2d(channels, 1, 3, padding=1))
        self.act = nn.LeakyReLU(0.2, inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = [self.act(self.stem(x))]
        for conv in self.down:
            skips.append(self.act(conv(skips[-1])))
        y = skips.pop()
        for conv in self.up:
            skip = skips.pop()
            y = nn.functional.interpolate(y, size=skip.shape[-2:], mode="bilinear", align_corners=False)
            y = self.act(conv(y)) + skip
        return self.head(y).squeeze(1)
