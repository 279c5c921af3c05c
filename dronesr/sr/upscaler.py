"""Inference-time wrappers around the architectures: the one path from uint8 pixels to uint8
pixels that the handlers, the benchmark, the evaluation and the tests all use."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from dronesr.errors import ClientError
from dronesr.image.codecs import rgb_to_tensor, tensor_to_rgb
from dronesr.onnx_runtime import OnnxRunner, onnx_candidate
from dronesr.precision import EXECUTIONS, PrecisionChoice, autocast, check_choice, choose_precision
from dronesr.sr.region import Region
from dronesr.image.resample import bicubic_resize
from dronesr.sr.weights import load_sr_model, network_info
from dronesr.tiling import DEFAULT_OVERLAP, DEFAULT_TILE, DEFAULT_TILE_BATCH, upscale_tiled


MAX_GPU_TILE_BATCH = 16  # tiles per forward on a GPU at most: past it launches are already full
ENSEMBLE_PASSES = 8  # self_ensemble's passes: 4 rotations, each also mirrored


def prepare_for_inference(model: nn.Module, device: torch.device | str = "cpu") -> nn.Module:
    """eval mode on ``device``, frozen weights, and the model's ``inference_memory_format`` (default
    channels_last: oneDNN's fast layout for convolutions, measured faster for the SR networks)."""
    model = model.eval().to(device, memory_format=getattr(model, "inference_memory_format", torch.channels_last))
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    return model


def self_ensemble(forward: Callable[[torch.Tensor], torch.Tensor], batch: torch.Tensor) -> torch.Tensor:
    """``forward`` on the 8 rotations and mirror images of ``batch``, each result turned back, the
    eight averaged in float32: geometric self-ensemble (Lim et al. 2017, EDSR+). A network is not
    exactly equivariant to them, so their mean cancels part of its error (measured in
    docs/evaluation.md: +0.03 to +0.14 dB on degraded IFO LR), at 8 times the compute."""
    total = None
    for turns in range(4):
        for mirrored in (False, True):
            turned = torch.rot90(batch, turns, (-2, -1))
            result = forward(turned.flip(-1) if mirrored else turned).float()
            result = torch.rot90(result.flip(-1) if mirrored else result, -turns, (-2, -1))
            total = result if total is None else total.add_(result)
    return total.div_(ENSEMBLE_PASSES)


def photo_like_tile(side: int) -> torch.Tensor:
    """A deterministic 1x3xSxS tile with what photos have (smooth shading, edges, a little noise)
    for the precision probe. Uniform noise is no photo: a network's features grow far larger on it
    than on photos, and a low precision judged on noise is judged wrongly (docs/performance.md,
    "The precision probe")."""
    y, x = torch.meshgrid(torch.linspace(0, 1, side), torch.linspace(0, 1, side), indexing="ij")
    disc = ((x - 0.5) ** 2 + (y - 0.5) ** 2 < 0.09).float()
    tile = torch.stack([0.5 + 0.4 * torch.sin(x * 7) * torch.cos(y * 5), x, 0.15 + 0.7 * disc])
    noise = torch.randn(tile.shape, generator=torch.Generator().manual_seed(0)) * (2 / 255)
    return (tile + noise).clamp(0, 1).unsqueeze(0)


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
    execution: str = "pytorch"  # or "onnxruntime" (float32, CPU): dronesr/onnx_runtime.py
    runner: OnnxRunner | None = field(default=None, repr=False)

    @classmethod
    def from_weights(cls, path: str | Path, device: torch.device | str = "cpu", **settings) -> Upscaler:
        """Any SR weights file (dronesr.sr.weights: ours or a spandrel-known foreign network)."""
        device = torch.device(device)
        return cls(prepare_for_inference(load_sr_model(path), device), device=device, **settings)

    @property
    def scale(self) -> int:
        return self.model.scale

    def _forward(self, batch: torch.Tensor, precision: str | None = None) -> torch.Tensor:
        """The network on a batch: ``precision`` (default: the chosen one) names a PyTorch
        precision, or ``onnxruntime`` for that path."""
        precision = precision or (self.execution if self.execution != "pytorch" else self.precision)
        if precision == "onnxruntime":
            return self.runner(batch).to(self.device)
        with autocast(self.device, precision):
            return self.model(batch.contiguous(memory_format=getattr(self.model, "inference_memory_format", torch.channels_last))).float()

    def select_precision(self, requested: str = "auto", repeats: int = 2, execution: str = "auto") -> PrecisionChoice:
        """Set ``precision`` and ``execution``: as requested, or (``auto``) the fastest measured on
        one tile whose output stays within ``MIN_PSNR_DB`` of PyTorch's float32
        (dronesr/precision.py). ONNX Runtime is a candidate on the CPU when the network exports."""
        check_choice("execution", execution, EXECUTIONS)
        tile = photo_like_tile(self.tile).to(self.device)
        self.runner, runtimes, note = onnx_candidate(lambda: OnnxRunner(self.model, tile), self.device, requested, execution)

        def run(precision: str) -> torch.Tensor:
            with torch.inference_mode():
                return self._forward(tile, precision)

        if execution == "onnxruntime":
            choice = PrecisionChoice("float32", self.device.type, reason="set in the configuration", execution="onnxruntime")
        else:
            choice = choose_precision(run, self.device, requested, repeats=repeats, runtimes=runtimes, supported=network_info(self.model).precisions)
        choice.reason += note
        self.precision, self.execution = choice.precision, choice.execution
        if self.execution == "pytorch":
            self.runner = None  # not kept: its graph and session hold a copy of the weights
        return choice

    @torch.inference_mode()
    def enlarge(self, image: torch.Tensor, tiled: bool = True, size: tuple[int, int] | None = None, ensemble: bool = False,
                sides: tuple[int, int] | None = None) -> torch.Tensor:
        """1x3xHxW float [0,1] -> 1x3x(sH)x(sW) float32 (unclamped) on the model's device; with
        ``size`` (width, height), the network's result resized to it there (antialiased bicubic,
        before quantization: the ``outscale`` path); ``ensemble``: each tile through
        :func:`self_ensemble` (8 passes); ``sides``: the tiles' (height, width) when ``image`` is a
        window of a larger picture (dronesr/streamed.py), else sized to the frame."""
        image = self.to_device(image)
        forward = functools.partial(self_ensemble, self._forward) if ensemble else self._forward
        if not tiled or getattr(self.model, "tiling", "supported") == "internal":  # it must see the whole frame (sr_weights.TILINGS)
            return _resized(forward(image), size)
        return _resized(upscale_tiled(forward, image, self.scale, self.tile, self.overlap, self.tile_batch, sides), size)

    def fit_tile_batch(self, limit: int = MAX_GPU_TILE_BATCH, share: float = 0.5) -> int:
        """On CUDA, set ``tile_batch`` to as many tiles per forward as ``share`` of the free GPU
        memory holds (one tile's peak measured at the chosen precision), at most ``limit``; on
        other devices keep it. Returns it."""
        if self.device.type != "cuda":
            return self.tile_batch
        torch.cuda.synchronize(self.device)
        torch.cuda.reset_peak_memory_stats(self.device)
        before = torch.cuda.memory_allocated(self.device)
        self.enlarge(photo_like_tile(self.tile), tiled=False)
        per_tile = max(1, torch.cuda.max_memory_allocated(self.device) - before)
        free, _ = torch.cuda.mem_get_info(self.device)
        self.tile_batch = max(1, min(limit, int(free * share // per_tile)))
        return self.tile_batch

    def to_device(self, image: torch.Tensor) -> torch.Tensor:
        """The input on the model's device; from pinned host memory without blocking on CUDA."""
        if self.device.type == "cuda" and image.device.type == "cpu":
            return image.pin_memory().to(self.device, non_blocking=True)
        return image.to(self.device)

    def upscale(self, rgb: np.ndarray, tiled: bool = True, size: tuple[int, int] | None = None, region: Region | None = None,
                ensemble: bool = False) -> np.ndarray:
        """H x W x 3 uint8 -> sH x sW x 3 uint8 (or ``size`` = (width, height)). With ``region``,
        only that window is enlarged: the network sees it with ``overlap`` pixels of the frame
        around it (its receptive field), so the result equals that window of the whole frame's.
        ``ensemble``: 8 passes averaged (:func:`self_ensemble`)."""
        if region is None:
            return tensor_to_rgb(self.enlarge(rgb_to_tensor(rgb), tiled, size, ensemble).cpu())
        height, width = rgb.shape[:2]
        window, inner = region.with_context(self.overlap, width, height)
        result = self.enlarge(rgb_to_tensor(window.crop(rgb)), tiled, ensemble=ensemble)
        s = self.scale
        result = result[..., inner.y * s : (inner.y + inner.height) * s, inner.x * s : (inner.x + inner.width) * s]
        return tensor_to_rgb(_resized(result, size).cpu())


def _resized(result: torch.Tensor, size: tuple[int, int] | None) -> torch.Tensor:
    """``result`` (NCHW) resized to ``size`` = (width, height) when that differs (antialiased
    bicubic, before quantization: the ``outscale`` path); as it is otherwise."""
    if size is None or (size[1], size[0]) == tuple(result.shape[-2:]):
        return result
    return bicubic_resize(result, (size[1], size[0]))


def check_outscale(value: float, scale: int) -> float:
    """``value`` when ``1 < value <= scale``; ClientError (400) otherwise."""
    if not math.isfinite(value) or not 1.0 < value <= scale:
        raise ClientError(f"outscale must be above 1 and at most {scale} (this model's scale), got {value:g}.", "bad_parameter")
    return value


def outscaled_size(width: int, height: int, outscale: float) -> tuple[int, int]:
    """(round(outscale * width), round(outscale * height)), halves rounded up."""
    return int(width * outscale + 0.5), int(height * outscale + 0.5)
