"""Timing helpers of the SR benchmark: medians, the convolution peak of this machine, the work
of a model on a frame, and what machine it ran on (every figure says its CPU features)."""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch
from torch import nn

from dronesr.sr.upscaler import Upscaler
from dronesr.precision import cpu_features, cpu_model
from dronesr.tiling import count_tiles, tile_shape

PEAK_INPUT = (1, 64, 256, 256)  # the peak convolution: 3x3, 64 -> 64 channels on this input
PEAK_RUNS = 5


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- timing ------------------------------------------------------------------------------------


@dataclass
class Timing:
    """One configuration: median wall seconds of its runs, and the work one run does."""

    label: str
    seconds: float
    out_pixels: int
    flops: float  # 2 x multiply-accumulates of the convolutions one run executes

    @property
    def megapixels_per_s(self) -> float:
        return self.out_pixels / self.seconds / 1e6

    @property
    def gflops_per_s(self) -> float:
        return self.flops / self.seconds / 1e9

    def as_dict(self) -> dict:
        return {**dataclasses.asdict(self), "megapixels_per_s": self.megapixels_per_s, "gflops_per_s": self.gflops_per_s}


@dataclass
class Step:
    """An optimisation: the same frame timed without it and with it."""

    name: str
    without: Timing
    with_it: Timing

    @property
    def speedup(self) -> float:
        return self.without.seconds / self.with_it.seconds

    def as_dict(self) -> dict:
        return {"name": self.name, "without": self.without.as_dict(), "with": self.with_it.as_dict(), "speedup": self.speedup}


def seconds(run: Callable[[], object]) -> float:
    start = time.perf_counter()
    run()  # the result (a whole output frame) is dropped at once
    return time.perf_counter() - start


def median_seconds(run: Callable[[], object], repeats: int) -> float:
    return statistics.median(seconds(run) for _ in range(repeats))


@contextlib.contextmanager
def torch_threads(count: int) -> Iterator[None]:
    previous = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def conv_macs(model: nn.Module, input_shape: tuple[int, ...]) -> int:
    """Multiply-accumulates of every Conv2d that an input of this shape runs through.

    Counted with forward hooks on a copy on the meta device: shapes propagate, no arithmetic is done.
    """
    meta_model = copy.deepcopy(model).to("meta")
    macs = 0

    def count(conv: nn.Conv2d, inputs: tuple, output: torch.Tensor) -> None:
        nonlocal macs
        macs += output.numel() * (conv.in_channels // conv.groups) * conv.kernel_size[0] * conv.kernel_size[1]

    for module in meta_model.modules():
        if isinstance(module, nn.Conv2d):
            module.register_forward_hook(count)
    with torch.no_grad():
        meta_model(torch.empty(input_shape, device="meta"))
    return macs


def conv_peak_gflops() -> float:
    """Best GFLOP/s of a large 3x3 convolution (fp32, channels_last): what these cores can deliver."""
    conv = nn.Conv2d(PEAK_INPUT[1], 64, 3, padding=1).to(memory_format=torch.channels_last)
    x = torch.rand(PEAK_INPUT).contiguous(memory_format=torch.channels_last)
    flops = 2 * conv_macs(conv, PEAK_INPUT)
    with torch.inference_mode():
        conv(x)  # oneDNN builds its kernel for this shape on the first call
        best = min(seconds(lambda: conv(x)) for _ in range(PEAK_RUNS))
    return flops / best / 1e9


@dataclass
class FrameBench:
    """Times configurations on one frame; knows the output size and how to count a model's work."""

    image: torch.Tensor  # 1 x 3 x H x W float in [0, 1]
    scale: int
    repeats: int

    @property
    def out_pixels(self) -> int:
        return self.image.shape[-2] * self.image.shape[-1] * self.scale**2

    def untiled_flops(self, model: nn.Module) -> float:
        return 2 * conv_macs(model, tuple(self.image.shape))

    def tiles(self, upscaler: Upscaler) -> int:
        return count_tiles(self.image.shape[-2], self.image.shape[-1], upscaler.tile, upscaler.overlap)

    def tile_label(self, upscaler: Upscaler) -> str:
        """e.g. '6 tiles of 347x290': how upscale_tiled lays the frame out."""
        tile_h, tile_w = tile_shape(self.image.shape[-2], self.image.shape[-1], upscaler.tile, upscaler.overlap)
        return f"{self.tiles(upscaler)} tiles of {tile_w}x{tile_h}"

    def tiled_flops(self, upscaler: Upscaler) -> float:
        """The work of upscale_tiled: every tile runs whole, overlaps included."""
        height, width = self.image.shape[-2:]
        shape = (1, 3, *tile_shape(height, width, upscaler.tile, upscaler.overlap))
        return self.tiles(upscaler) * 2 * conv_macs(upscaler.model, shape)

    def time(self, label: str, run: Callable[[], object], flops: float) -> Timing:
        log(f"timing {label} ...")
        timing = Timing(label, median_seconds(run, self.repeats), self.out_pixels, flops)
        log(f"    {timing.seconds:.2f} s")
        return timing


def machine_info(threads: int) -> dict:
    model = cpu_model()
    return {
        "cpu": model if model != "unknown" else platform.processor() or "unknown CPU",
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "cpu_features": cpu_features(),
        "logical_cpus": os.cpu_count(),
        "torch": torch.__version__,
        "threads": threads,
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }
