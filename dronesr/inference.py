"""Inference-time wrappers around the architectures: the one path from uint8 pixels to uint8
pixels that the handlers, the benchmark, the evaluation and the tests all use."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from dronesr.checkpoint import load_model
from dronesr.imaging import rgb_to_tensor, tensor_to_rgb
from dronesr.tiling import DEFAULT_OVERLAP, DEFAULT_TILE, DEFAULT_TILE_BATCH, upscale_tiled


def prepare_for_inference(model: nn.Module) -> nn.Module:
    """eval mode, frozen weights, and the model's ``inference_memory_format`` (default
    channels_last: oneDNN's fast layout for convolutions, measured faster for the SR networks)."""
    model = model.eval().to(memory_format=getattr(model, "inference_memory_format", torch.channels_last))
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    return model


@dataclass
class Upscaler:
    """A super-resolution model with its tiling settings."""

    model: nn.Module
    tile: int = DEFAULT_TILE
    overlap: int = DEFAULT_OVERLAP
    tile_batch: int = DEFAULT_TILE_BATCH

    @classmethod
    def from_weights(cls, path: str | Path, **tiling: int) -> Upscaler:
        return cls(prepare_for_inference(load_model(path)), **tiling)

    @property
    def scale(self) -> int:
        return self.model.scale

    def _forward(self, batch: torch.Tensor) -> torch.Tensor:
        return self.model(batch.contiguous(memory_format=torch.channels_last))

    @torch.inference_mode()
    def upscale_tensor(self, image: torch.Tensor, tiled: bool = True) -> torch.Tensor:
        """1x3xHxW float [0,1] -> 1x3x(sH)x(sW) float (unclamped)."""
        if not tiled:
            return self._forward(image)
        return upscale_tiled(self._forward, image, self.scale, self.tile, self.overlap, self.tile_batch)

    def upscale(self, rgb: np.ndarray, tiled: bool = True) -> np.ndarray:
        """H x W x 3 uint8 -> sH x sW x 3 uint8."""
        return tensor_to_rgb(self.upscale_tensor(rgb_to_tensor(rgb), tiled))
