"""Inference-time wrappers around the architectures: the one path from uint8 pixels to uint8
pixels that the handlers, the benchmark, the evaluation and the tests all use."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from dronesr.checkpoint import load_model
from dronesr.imaging import rgb_to_tensor, tensor_to_rgb
from dronesr.precision import PrecisionChoice, autocast, choose_precision
from dronesr.tiling import DEFAULT_OVERLAP, DEFAULT_TILE, DEFAULT_TILE_BATCH, upscale_tiled


def prepare_for_inference(model: nn.Module, device: torch.device | str = "cpu") -> nn.Module:
    """eval mode on ``device``, frozen weights, and the model's ``inference_memory_format`` (default
    channels_last: oneDNN's fast layout for convolutions, measured faster for the SR networks)."""
    model = model.eval().to(device, memory_format=getattr(model, "inference_memory_format", torch.channels_last))
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    return model


@dataclass
class Upscaler:
    """A super-resolution model with its tiling settings, device and precision (autocast; the
    weights stay float32)."""

    model: nn.Module
    tile: int = DEFAULT_TILE
    overlap: int = DEFAULT_OVERLAP
    tile_batch: int = DEFAULT_TILE_BATCH
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    precision: str = "float32"

    @classmethod
    def from_weights(cls, path: str | Path, device: torch.device | str = "cpu", **settings) -> Upscaler:
        device = torch.device(device)
        return cls(prepare_for_inference(load_model(path), device), device=device, **settings)

    @property
    def scale(self) -> int:
        return self.model.scale

    def _forward(self, batch: torch.Tensor, precision: str | None = None) -> torch.Tensor:
        with autocast(self.device, precision or self.precision):
            return self.model(batch.contiguous(memory_format=torch.channels_last)).float()

    def select_precision(self, requested: str = "auto", repeats: int = 2) -> PrecisionChoice:
        """Set ``precision``: as requested, or (``auto``) the fastest one measured on one tile
        whose output stays within ``MIN_PSNR_DB`` of float32 (dronesr/precision.py)."""
        generator = torch.Generator().manual_seed(0)
        tile = torch.rand(1, 3, self.tile, self.tile, generator=generator).to(self.device)

        def run(precision: str) -> torch.Tensor:
            with torch.inference_mode():
                return self._forward(tile, precision)

        choice = choose_precision(run, self.device, requested, repeats=repeats)
        self.precision = choice.precision
        return choice

    @torch.inference_mode()
    def upscale_tensor(self, image: torch.Tensor, tiled: bool = True) -> torch.Tensor:
        """1x3xHxW float [0,1] -> 1x3x(sH)x(sW) float (unclamped), on the CPU."""
        image = image.to(self.device)
        if not tiled:
            return self._forward(image).cpu()
        return upscale_tiled(self._forward, image, self.scale, self.tile, self.overlap, self.tile_batch).cpu()

    def upscale(self, rgb: np.ndarray, tiled: bool = True) -> np.ndarray:
        """H x W x 3 uint8 -> sH x sW x 3 uint8."""
        return tensor_to_rgb(self.upscale_tensor(rgb_to_tensor(rgb), tiled))
