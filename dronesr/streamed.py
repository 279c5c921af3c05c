"""Enlarge a picture of any size in bounded memory: windows of whole tiles, stitched with the
tiling module's feathering, resized to ``outscale`` block by block, written as they are done.

The whole-frame path (``tiling.upscale_tiled``) lays a grid of tiles over the frame and blends
each tile's output with its neighbours' (``tiling.feather_ramp``). Here the same global grid is
cut into *windows* of ``window_tiles`` x ``window_tiles`` tiles; a window is enlarged whole (in
process by ``Upscaler.enlarge``, or by a server: dronesr/cli/remote.py), and since its tiles are
the global grid's, its own stitching equals the global one inside it. Neighbouring windows share
one tile overlap, and weighting each window's result with the feather ramp of its edges gives the
global blend exactly: the ramps are separable and every tile ramp at a window's edge is that
window's edge ramp. So the result equals the whole-frame result up to float rounding, with no tile
computed twice.

Windows are done row by row. What a window adds beyond its own area (the overlap with the window
to its right and the one below) is kept as a *spill* until that neighbour adds it; a window's own
area is then final. ``outscale`` below the network's scale resizes the final network-space pixels
(antialiased bicubic, the weights ``resample.bicubic_resize`` uses) into output blocks; an output
block needs a few rows and columns of its upper and left neighbours (*halo strips*). Spills,
strips and done-markers live in a scratch store (a folder beside the output: an interrupted run
resumes from the windows already done), the output pixels in a sink (an uncompressed TIFF written
in place, or an array for video frames).

Memory holds one window's network output and accumulator (K=3 tiles of 192 px at x4: about 150 MB
in float32) plus the spills: it does not grow with the picture.
"""

from __future__ import annotations

import json
import math
import os
import shutil
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import torch

from dronesr.image.codecs import rgb_to_tensor
from dronesr.tiling import feather_ramp, tile_side, tile_starts

WINDOW_TILES = 3  # tiles per window side, in process: 528 px windows for SPAN's 192/24 tiles


# --- antialiased bicubic weights, one output range at a time -------------------------------------

def _cubic(x: np.ndarray, a: float = -0.5) -> np.ndarray:
    x = np.abs(x)
    return np.where(x < 1, ((a + 2) * x - (a + 3)) * x * x + 1, np.where(x < 2, (((x - 5) * x + 8) * x - 4) * a, 0.0))


@dataclass(frozen=True)
class Resampling:
    """Separable resize weights from ``in_size`` to ``out_size`` samples: for output ``i``, the
    source samples ``first[i] .. first[i] + taps`` weighted by ``weights[i]`` (zero-padded).
    ``kind`` bicubic: the antialiased Keys kernel (a = -0.5) that ``F.interpolate(mode="bicubic",
    antialias=True)`` and Pillow's BICUBIC use, support widened by the factor when shrinking;
    nearest: the source sample under the output sample's centre."""

    in_size: int
    out_size: int
    first: np.ndarray  # (out_size,) int64
    weights: np.ndarray  # (out_size, taps) float64

    @classmethod
    def build(cls, in_size: int, out_size: int, kind: str = "bicubic") -> Resampling:
        scale = in_size / out_size
        centre = scale * (np.arange(out_size) + 0.5)
        if kind == "nearest":
            first = np.minimum(np.floor(centre).astype(np.int64), in_size - 1)
            return cls(in_size, out_size, first, np.ones((out_size, 1)))
        support = 2.0 * scale if scale >= 1.0 else 2.0
        inv = 1.0 / scale if scale >= 1.0 else 1.0
        first = np.maximum((centre - support + 0.5).astype(np.int64), 0)  # truncation, as ATen and Pillow do
        stop = np.minimum((centre + support + 0.5).astype(np.int64), in_size)
        taps = int((stop - first).max())
        j = np.arange(taps)[None, :]
        weights = _cubic((j + first[:, None] - centre[:, None] + 0.5) * inv)
        weights = np.where(j < (stop - first)[:, None], weights, 0.0)
        weights /= weights.sum(axis=1, keepdims=True)
        return cls(in_size, out_size, first, weights)

    def source(self, start: int, stop: int) -> tuple[int, int]:
        """The source samples ``[a, b)`` that outputs ``start .. stop`` read."""
        taps = self.weights.shape[1]
        used = self.weights[start:stop] != 0
        last = self.first[start:stop] + np.where(used.any(axis=1), taps - 1 - np.argmax(used[:, ::-1], axis=1), 0)
        return int(self.first[start:stop].min()), int(last.max()) + 1

    def last_output_within(self, stop: int) -> int:
        """How many leading outputs read only source samples below ``stop``."""
        taps = self.weights.shape[1]
        used = self.weights != 0
        last = self.first + np.where(used.any(axis=1), taps - 1 - np.argmax(used[:, ::-1], axis=1), 0)
        return int(np.searchsorted(np.maximum.accumulate(last), stop, side="left"))

    def apply(self, pixels: torch.Tensor, dim: int, start: int, stop: int, offset: int) -> torch.Tensor:
        """Outputs ``start .. stop`` along ``dim`` of ``pixels``, whose index 0 is source sample ``offset``."""
        first = torch.from_numpy(self.first[start:stop] - offset)
        weights = torch.from_numpy(self.weights[start:stop]).to(pixels.dtype)
        moved = pixels.movedim(dim, 0)
        out = None
        for k in range(weights.shape[1]):
            index = (first + k).clamp_(0, moved.shape[0] - 1)
            w = weights[:, k].reshape(-1, *([1] * (moved.dim() - 1)))
            term = moved.index_select(0, index) * w
            out = term if out is None else out.add_(term)
        return out.movedim(0, dim)


# --- the grid ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Axis:
    """One axis of the grid (rows or columns), in three spaces: the input (LR), the network's
    output (``net`` = LR x scale) and the written output (``out``, after outscale). Group ``g``
    is a run of whole tiles: ``window[g]`` the LR pixels the network sees, ``own[g]`` the net
    pixels it finalises, ``out[g]`` the output pixels written with it."""

    length: int
    scale: int
    out_length: int
    side: int  # of every tile along the axis (tiling.tile_side of the whole picture's length)
    tiles: tuple[int, ...]  # tiles per group
    window: tuple[tuple[int, int], ...]  # LR [start, stop) per group
    own: tuple[tuple[int, int], ...]  # net [start, stop) per group
    out: tuple[tuple[int, int], ...]  # output [start, stop) per group
    halo: int  # net samples before own[g] that out[g]'s resize reads (0 without outscale)
    resize: Resampling | None  # net -> out (None: out is net)
    mask_resize: Resampling  # LR -> out, for the alpha / validity mask

    @classmethod
    def build(cls, length: int, tile: int, overlap: int, scale: int, out_length: int, window_tiles: int, mask_kind: str = "bicubic") -> Axis:
        side = tile_side(length, tile, overlap)
        starts = tile_starts(length, side, overlap)
        groups = [list(range(i, min(i + window_tiles, len(starts)))) for i in range(0, len(starts), window_tiles)]
        if len(groups) > 1 and len(groups[-1]) == 1:
            last = groups.pop()
            groups[-1] = groups[-1] + last  # a lone last tile is flush with the edge: its overlap may be anything
        window = tuple((starts[g[0]], starts[g[-1]] + side) for g in groups)
        own_lr = [(starts[g[0]], starts[groups[n + 1][0]] if n + 1 < len(groups) else length) for n, g in enumerate(groups)]
        for n in range(len(groups) - 1):  # a spill reaches the next group only
            if window[n][1] > own_lr[n + 1][1]:
                raise ValueError(f"window_tiles {window_tiles} too small for tile {tile} and overlap {overlap}")
        own = tuple((a * scale, b * scale) for a, b in own_lr)
        net = length * scale
        resize = None if out_length == net else Resampling.build(net, out_length)
        if resize is None:
            out, halo = own, 0
        else:
            bounds = [0] + [resize.last_output_within(stop) for _, stop in own[:-1]] + [out_length]
            out = tuple(zip(bounds[:-1], bounds[1:]))
            halo = 0
            for (start, stop), (own_start, _) in zip(out, own):
                if stop > start:
                    halo = max(halo, own_start - resize.source(start, stop)[0])
            if len(own) > 1 and halo > min(b - a for a, b in own):
                raise ValueError("outscale's resize reads further than one window back")
        return cls(length, scale, out_length, side, tuple(len(g) for g in groups), window, own, out, halo, resize,
                   Resampling.build(length, out_length, mask_kind))

    @property
    def groups(self) -> int:
        return len(self.window)

    def spill(self, g: int) -> int:
        """Net samples of group ``g``'s window beyond its own area (shared with group g+1)."""
        return self.window[g][1] * self.scale - self.own[g][1]


@dataclass(frozen=True)
class Grid:
    """The windows of a ``width`` x ``height`` picture enlarged ``scale`` times by a network tiled
    ``tile``/``overlap``, written at ``out_size``."""

    rows: Axis
    cols: Axis
    scale: int
    overlap: int

    @classmethod
    def build(cls, width: int, height: int, scale: int, tile: int, overlap: int, out_size: tuple[int, int],
              window_tiles: int = WINDOW_TILES, mask_kind: str = "bicubic") -> Grid:
        return cls(
            Axis.build(height, tile, overlap, scale, out_size[1], window_tiles, mask_kind),
            Axis.build(width, tile, overlap, scale, out_size[0], window_tiles, mask_kind), scale, overlap,
        )

    @property
    def out_size(self) -> tuple[int, int]:
        return self.cols.out_length, self.rows.out_length

    @property
    def tile_sides(self) -> tuple[int, int]:
        """(tile_h, tile_w) of the whole picture's tiles: every window is enlarged with them."""
        return self.rows.side, self.cols.side

    def blocks(self) -> Iterator[tuple[int, int]]:
        for gi in range(self.rows.groups):
            for gj in range(self.cols.groups):
                yield gi, gj

    @property
    def count(self) -> int:
        return self.rows.groups * self.cols.groups

    def tiles(self, gi: int, gj: int) -> int:
        return self.rows.tiles[gi] * self.cols.tiles[gj]

    @property
    def total_tiles(self) -> int:
        return sum(self.rows.tiles) * sum(self.cols.tiles)

    def window(self, gi: int, gj: int) -> tuple[int, int, int, int]:
        """(x, y, width, height) of a window in input pixels."""
        (y0, y1), (x0, x1) = self.rows.window[gi], self.cols.window[gj]
        return x0, y0, x1 - x0, y1 - y0

    def describe(self) -> dict:
        return {
            "size": [self.cols.length, self.rows.length], "out": list(self.out_size), "scale": self.scale, "overlap": self.overlap,
            "windows": [list(self.cols.window), list(self.rows.window)],
        }


# --- where the pieces go -------------------------------------------------------------------------

class Source(Protocol):
    """A picture read in windows: upright 8-bit RGB, and an optional mask (alpha, or 255 where a
    map has data and 0 where it has none)."""

    width: int
    height: int
    has_mask: bool

    def rgb(self, x: int, y: int, width: int, height: int) -> np.ndarray: ...

    def mask(self, x: int, y: int, width: int, height: int) -> np.ndarray: ...


class Sink(Protocol):
    """Where output blocks go: ``write`` (H x W x C uint8 at x, y); ``flush`` before a block is marked done."""

    def write(self, x: int, y: int, block: np.ndarray) -> None: ...

    def flush(self) -> None: ...


class ArraySource:
    """A picture held in memory (a video frame, a small photo, tests)."""

    def __init__(self, rgb: np.ndarray, mask: np.ndarray | None = None):
        self.pixels, self.alpha = rgb, mask
        self.height, self.width = rgb.shape[:2]
        self.has_mask = mask is not None

    def rgb(self, x: int, y: int, width: int, height: int) -> np.ndarray:
        return self.pixels[y : y + height, x : x + width]

    def mask(self, x: int, y: int, width: int, height: int) -> np.ndarray:
        return self.alpha[y : y + height, x : x + width]


class ArraySink:
    def __init__(self, width: int, height: int, channels: int = 3):
        self.pixels = np.zeros((height, width, channels), np.uint8)

    def write(self, x: int, y: int, block: np.ndarray) -> None:
        self.pixels[y : y + block.shape[0], x : x + block.shape[1]] = block

    def flush(self) -> None:
        pass


class Scratch:
    """Spills, strips and done-markers of one job, in memory (``folder`` None) or in a folder,
    each file written under a temporary name and renamed, so a killed run leaves whole files only.
    ``key`` describes the job: a folder left by a different job (other input, model, settings)
    is emptied first."""

    def __init__(self, folder: Path | None = None, key: dict | None = None):
        self.folder, self.memory = folder, {}
        self.resumed = 0
        if folder is None:
            return
        manifest = folder / "job.json"
        if folder.is_dir():
            try:
                same = json.loads(manifest.read_text()) == key
            except (OSError, ValueError):
                same = False
            if not same:
                shutil.rmtree(folder)
        folder.mkdir(parents=True, exist_ok=True)
        if not manifest.exists():
            temporary = folder / "job.json.tmp"
            temporary.write_text(json.dumps(key, indent=1, sort_keys=True))
            os.replace(temporary, manifest)

    def put(self, name: str, array: np.ndarray | None) -> None:
        if array is None:
            return
        if self.folder is None:
            self.memory[name] = array
            return
        temporary = self.folder / f"{name}.tmp.npy"
        np.save(temporary, array)
        os.replace(temporary, self.folder / f"{name}.npy")

    def get(self, name: str) -> np.ndarray | None:
        if self.folder is None:
            return self.memory.get(name)
        path = self.folder / f"{name}.npy"
        return np.load(path) if path.exists() else None

    def drop(self, name: str) -> None:
        if self.folder is None:
            self.memory.pop(name, None)
        else:
            (self.folder / f"{name}.npy").unlink(missing_ok=True)

    def mark_done(self, gi: int, gj: int) -> None:
        if self.folder is None:
            self.memory[f"done_{gi}_{gj}"] = True
        else:
            (self.folder / f"done_{gi}_{gj}").touch()

    def is_done(self, gi: int, gj: int) -> bool:
        if self.folder is None:
            return f"done_{gi}_{gj}" in self.memory
        return (self.folder / f"done_{gi}_{gj}").exists()

    def remove(self) -> None:
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)


# --- the work ------------------------------------------------------------------------------------

# An enlarger: a window's RGB pixels (H x W x 3 uint8) -> a future of its network-space result
# (3 x sH x sW: float, unclamped, 0..1; or uint8, a server's reply, a quarter of the memory while it
# waits its turn). ``in_flight``: how many windows to hand it ahead.
Enlarge = Callable[[np.ndarray], "Future[torch.Tensor]"]


def done_future(value: object) -> Future:
    future: Future = Future()
    future.set_result(value)
    return future


def return_freed_memory() -> None:
    """Have glibc serve every allocation over 1 MiB with its own mapping, returned to the system when
    freed. Its default moves that threshold up to 32 MiB as big blocks are freed, after which the
    per-window tensors of the same few sizes come from the heap and fragment it: measured, x2 output
    (whose resize makes tensors of other sizes than x4's) peaked 280 MB higher without this."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").mallopt(-3, 1 << 20)  # M_MMAP_THRESHOLD
    except (OSError, AttributeError):
        pass  # not glibc


def enlarge_streamed(source: Source, grid: Grid, enlarge: Enlarge, scratch: Scratch, sink: Sink, in_flight: int = 1,
                     progress: Callable[[int], None] | None = None) -> None:
    """Enlarge ``source`` window by window into ``sink``, skipping windows ``scratch`` has done
    (``progress`` is told how many tiles each window held). Windows are handed to ``enlarge``
    ``in_flight`` ahead of the one being stitched."""
    return_freed_memory()
    todo = [(gi, gj) for gi, gj in grid.blocks() if not scratch.is_done(gi, gj)]
    done_tiles = grid.total_tiles - sum(grid.tiles(gi, gj) for gi, gj in todo)
    if progress and done_tiles:
        progress(done_tiles)
    pending: deque[tuple[tuple[int, int], Future]] = deque()
    queue = iter(todo)
    try:
        while True:
            while len(pending) < max(1, in_flight):
                block = next(queue, None)
                if block is None:
                    break
                x, y, w, h = grid.window(*block)
                pending.append((block, enlarge(np.ascontiguousarray(source.rgb(x, y, w, h)))))
            if not pending:
                break
            block, future = pending.popleft()
            _stitch(source, grid, block, future.result(), scratch, sink)
            if progress:
                progress(grid.tiles(*block))
    finally:
        for _, future in pending:
            future.cancel()


def _stitch(source: Source, grid: Grid, block: tuple[int, int], result: torch.Tensor, scratch: Scratch, sink: Sink) -> None:
    gi, gj = block
    rows, cols, s = grid.rows, grid.cols, grid.scale
    (oy0, oy1), (ox0, ox1) = rows.own[gi], cols.own[gj]
    own_h, own_w = oy1 - oy0, ox1 - ox0
    result = result.float().div_(255) if result.dtype == torch.uint8 else result.float()  # a server's window: 8-bit pixels
    wy = feather_ramp(result.shape[-2], s, grid.overlap, gi > 0, gi < rows.groups - 1)
    wx = feather_ramp(result.shape[-1], s, grid.overlap, gj > 0, gj < cols.groups - 1)
    acc = torch.empty(4, *result.shape[-2:])  # 3 colour sums + the weight sum, made in place: no H x W temporaries
    torch.mul(wy[:, None], wx[None, :], out=acc[3])
    torch.mul(result, acc[3], out=acc[:3])
    if gj > 0:  # what the window to the left added to this one's columns (all its rows)
        incoming = torch.from_numpy(scratch.get(f"right_{gi}_{gj - 1}"))
        acc[:, :, : incoming.shape[-1]] += incoming
    if gi > 0:  # what the row above added to this one's rows (own columns, corner included)
        incoming = torch.from_numpy(scratch.get(f"down_{gi - 1}_{gj}"))
        acc[:, : incoming.shape[-2], : incoming.shape[-1]] += incoming
    scratch.put(f"right_{gi}_{gj}", acc[:, :, own_w:].numpy().copy() if gj < cols.groups - 1 else None)
    scratch.put(f"down_{gi}_{gj}", acc[:, own_h:, :own_w].numpy().copy() if gi < rows.groups - 1 else None)
    final = acc[:3, :own_h, :own_w].div_(acc[3:, :own_h, :own_w].clamp_min_(1e-8))

    (y0, y1), (x0, x1) = rows.out[gi], cols.out[gj]
    if rows.resize is None and cols.resize is None:
        pixels = final
    else:
        pixels = _resized_block(grid, block, final, scratch)
    out = _to_pixels(pixels) if y1 > y0 and x1 > x0 else np.zeros((y1 - y0, x1 - x0, 3), np.uint8)
    if source.has_mask and out.size:
        out = np.concatenate([out, _mask_block(source, grid, block)[..., None]], axis=2)
    if out.size:
        sink.write(x0, y0, out)
    sink.flush()
    scratch.mark_done(gi, gj)
    for name in (f"right_{gi}_{gj - 1}", f"down_{gi - 1}_{gj}", f"bottom_{gi - 1}_{gj - 1}", f"side_{gi}_{gj - 1}"):
        scratch.drop(name)  # read by no later window
    if gj == cols.groups - 1:
        scratch.drop(f"bottom_{gi - 1}_{gj}")


def _to_pixels(pixels: torch.Tensor) -> np.ndarray:
    """3 x H x W float -> H x W x 3 uint8, rounded and clamped in place: ``codecs.tensor_to_rgb``'s
    steps without its float copy (the block is not needed after)."""
    pixels.mul_(255).round_().clamp_(0, 255)
    return pixels.permute(1, 2, 0).to(torch.uint8, memory_format=torch.contiguous_format).numpy()


def _resized_block(grid: Grid, block: tuple[int, int], final: torch.Tensor, scratch: Scratch) -> torch.Tensor:
    """The output block of ``block``: its final net pixels with the halo strips of the windows
    above, left and above-left, resized to the output's size; its own strips kept for those after."""
    gi, gj = block
    rows, cols = grid.rows, grid.cols
    hy, hx = rows.halo, cols.halo
    if gi < rows.groups - 1 and hy:
        scratch.put(f"bottom_{gi}_{gj}", final[:, -hy:, :].numpy().copy())
    if gj < cols.groups - 1 and hx:
        scratch.put(f"side_{gi}_{gj}", final[:, :, -hx:].numpy().copy())
    top = hy if gi > 0 else 0
    left = hx if gj > 0 else 0
    canvas = final.new_zeros(3, top + final.shape[1], left + final.shape[2])
    canvas[:, top:, left:] = final
    if top:
        canvas[:, :top, left:] = torch.from_numpy(scratch.get(f"bottom_{gi - 1}_{gj}"))
    if left:
        canvas[:, top:, :left] = torch.from_numpy(scratch.get(f"side_{gi}_{gj - 1}"))
    if top and left:
        canvas[:, :top, :left] = torch.from_numpy(scratch.get(f"bottom_{gi - 1}_{gj - 1}")[:, :, -hx:])
    (oy0, _), (ox0, _) = rows.own[gi], cols.own[gj]
    (y0, y1), (x0, x1) = rows.out[gi], cols.out[gj]
    if rows.resize is not None:
        canvas = rows.resize.apply(canvas, 1, y0, y1, oy0 - top)
    if cols.resize is not None:
        canvas = cols.resize.apply(canvas, 2, x0, x1, ox0 - left)
    return canvas


def _mask_block(source: Source, grid: Grid, block: tuple[int, int]) -> np.ndarray:
    """The block's mask at the output's size, resized from the input's (bicubic for alpha, nearest
    for a map's nodata: it stays exactly where it was)."""
    gi, gj = block
    (y0, y1), (x0, x1) = grid.rows.out[gi], grid.cols.out[gj]
    ry, rx = grid.rows.mask_resize, grid.cols.mask_resize
    sy0, sy1 = ry.source(y0, y1)
    sx0, sx1 = rx.source(x0, x1)
    plane = torch.from_numpy(np.ascontiguousarray(source.mask(sx0, sy0, sx1 - sx0, sy1 - sy0), dtype=np.float32))
    plane = rx.apply(ry.apply(plane, 0, y0, y1, sy0), 1, x0, x1, sx0)
    return plane.round_().clamp_(0, 255).to(torch.uint8).numpy()


def sample_for_auto(source: Source, max_pixels: int = 2_000_000) -> np.ndarray:
    """The pixels restore=auto judges: the whole picture up to ``max_pixels``, else its central
    window of that size (aligned to JPEG's 8 px grid, so blocking is measured in phase)."""
    if source.width * source.height <= max_pixels:
        return np.asarray(source.rgb(0, 0, source.width, source.height))
    side = int(math.sqrt(max_pixels)) // 8 * 8
    w, h = min(side, source.width), min(side, source.height)
    x, y = (source.width - w) // 2 // 8 * 8, (source.height - h) // 2 // 8 * 8
    return np.asarray(source.rgb(x, y, w, h))


def local_enlarger(upscaler, grid: Grid, ensemble: bool = False) -> Enlarge:
    """Windows of ``grid`` enlarged in process by an ``inference.Upscaler`` (its precision and
    device), tiled with the whole picture's tile sides so that the result is the whole picture's."""

    def enlarge(window: np.ndarray) -> Future:
        return done_future(upscaler.enlarge(rgb_to_tensor(window), tiled=True, ensemble=ensemble, sides=grid.tile_sides)[0].float().cpu())

    return enlarge


def enlarge_array(rgb: np.ndarray, grid: Grid, enlarge: Enlarge, in_flight: int = 1, mask: np.ndarray | None = None) -> np.ndarray:
    """A picture held in memory enlarged window by window (a video frame sent to a server)."""
    source = ArraySource(rgb, mask)
    sink = ArraySink(*grid.out_size, 4 if mask is not None else 3)
    enlarge_streamed(source, grid, enlarge, Scratch(), sink, in_flight)
    return sink.pixels


