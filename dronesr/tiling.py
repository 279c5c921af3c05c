"""Run an image-to-image model over a large frame in overlapping tiles, stitched without seams.

Why tiles: activations of a whole 4K frame do not fit a worker's memory budget, and small batches
of equal-sized tiles keep every core busy. Why overlap and feathering: near a tile's edge the model
sees zero padding instead of the neighbouring pixels, so its output there is wrong within the
receptive field. Each tile therefore gets a weight mask that is zero in a ``margin`` next to every
edge it shares with a neighbour (the contaminated band is never used) and ramps linearly to one
across the middle of the overlap, where its neighbour's ramps down; outputs are accumulated as ``sum(out * mask) / sum(mask)``. The
result matches the untiled output to well above 50 dB and shows no seams (Real-ESRGAN's hard
pad-crop-paste leaves visible ones).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import torch

# Defaults for the handlers' settings and the in-process Upscaler. An overlap of 12 input pixels
# keeps the tiled result within one grey level of the untiled one (measured on the shipped model;
# docs/serving.md "Tiling"); 192 px tiles recompute only (192/180)^2 - 1 = 14 % of the frame.
DEFAULT_TILE = 192
DEFAULT_OVERLAP = 12
DEFAULT_TILE_BATCH = 1


def tile_starts(length: int, tile: int, overlap: int) -> list[int]:
    """Start offsets covering ``length`` with tiles of ``tile`` that overlap by at least ``overlap``."""
    if tile >= length:
        return [0]
    stride = tile - overlap
    if stride <= 0:
        raise ValueError(f"tile ({tile}) must be larger than overlap ({overlap})")
    starts = list(range(0, length - tile, stride))
    starts.append(length - tile)  # the last tile is flush with the far edge
    return starts


def tile_side(length: int, tile: int, overlap: int) -> int:
    """The side of the tiles along an axis ``length`` long: as few tiles as sides of ``tile`` need,
    each as short as that count allows. A 540-row frame at tile 352 / overlap 40 runs two rows of
    290 overlapping by 40, not two of 352 overlapping by 164 (srgan's 960x540 frame: ~19 % fewer
    pixels through the network; docs/performance.md)."""
    if tile >= length:
        return length
    count = len(tile_starts(length, tile, overlap))
    return min(tile, -(-(length + (count - 1) * overlap) // count))


def _ramp(length: int, margin: int, ramp: int, at_start: bool, at_end: bool, device: torch.device | None = None) -> torch.Tensor:
    """1-D weights on ``device``: 0 in ``margin`` and a linear ramp over ``ramp`` at each shared
    edge, 1 elsewhere."""
    weights = torch.ones(length, device=device)
    if ramp > 0 or margin > 0:
        profile = torch.cat([torch.zeros(margin, device=device), torch.linspace(0, 1, ramp + 2, device=device)[1:-1]])
    else:
        profile = torch.ones(0, device=device)
    n = min(len(profile), length)
    if at_start:
        weights[:n] = torch.minimum(weights[:n], profile[:n])
    if at_end:
        weights[length - n :] = torch.minimum(weights[length - n :], profile[:n].flip(0))
    return weights


def feather_ramp(length: int, scale: int, overlap: int, at_start: bool, at_end: bool, device: torch.device | None = None) -> torch.Tensor:
    """1-D stitching weights of a tile (or of a window of whole tiles) ``length`` output pixels
    long, enlarged ``scale`` times, whose neighbours share ``overlap`` input pixels with it: zero in
    the margin (a quarter of the overlap) next to a shared edge, a linear ramp across the middle
    half; ``at_start``/``at_end``: whether that edge is shared. ``upscale_tiled`` weights every
    tile with these; the streamed enlargement (dronesr/streamed.py) weights its windows with them."""
    margin = overlap * scale // 4
    return _ramp(length, margin, overlap * scale - 2 * margin, at_start, at_end, device)


def iter_tiles(height: int, width: int, tile: int, overlap: int, sides: tuple[int, int] | None = None) -> Iterator[tuple[int, int, int, int]]:
    """(top, left, tile_h, tile_w) of every tile, row by row: sides from :func:`tile_side`, or
    ``sides`` (tile_h, tile_w) exactly (a window of a larger picture tiles as the picture does)."""
    tile_h, tile_w = (min(sides[0], height), min(sides[1], width)) if sides else tile_shape(height, width, tile, overlap)
    for top in tile_starts(height, tile_h, overlap):
        for left in tile_starts(width, tile_w, overlap):
            yield top, left, tile_h, tile_w


def count_tiles(height: int, width: int, tile: int, overlap: int) -> int:
    return len(tile_starts(height, min(tile, height), overlap)) * len(tile_starts(width, min(tile, width), overlap))


def tile_shape(height: int, width: int, tile: int, overlap: int) -> tuple[int, int]:
    """(tile_h, tile_w) of the tiles :func:`iter_tiles` lays over a ``width`` x ``height`` frame."""
    return tile_side(height, tile, overlap), tile_side(width, tile, overlap)


@torch.no_grad()
def upscale_tiled(
    model: Callable[[torch.Tensor], torch.Tensor],
    image: torch.Tensor,
    scale: int,
    tile: int = DEFAULT_TILE,
    overlap: int = DEFAULT_OVERLAP,
    batch_size: int = DEFAULT_TILE_BATCH,
    sides: tuple[int, int] | None = None,
) -> torch.Tensor:
    """Apply ``model`` (1x3xHxW -> 1x3x(sH)x(sW)) to ``image`` tile by tile; returns the stitched output.

    ``overlap`` is in input pixels: a quarter of it next to each tile's edge is discarded (margin) and
    the middle half is cross-faded between the two tiles. Tiles are sized to the frame per axis
    (:func:`tile_side`) unless ``sides`` (tile_h, tile_w) is given: the streamed path enlarges a
    window of a larger picture with the picture's sides, so that both lay the same tiles.
    Memory holds the output accumulator plus ``batch_size`` tiles of activations, never the whole
    frame's activations. Everything the stitching creates lives on the device of the model's output
    (a mask left on the CPU breaks CUDA; tests run this on PyTorch's ``meta`` device) and
    accumulates in float32 whatever the model's precision.
    """
    if image.dim() != 4 or image.shape[0] != 1:
        raise ValueError("upscale_tiled expects a single image batch of shape 1xCxHxW")
    height, width = image.shape[-2:]
    if height <= tile and width <= tile and sides is None:
        return model(image)

    # overlap (output px) = margin | blend | margin: each tile keeps a margin's distance from its edge.
    output = weight_sum = None
    tiles = list(iter_tiles(height, width, tile, overlap, sides))
    row_starts = sorted({t[0] for t in tiles})
    col_starts = sorted({t[1] for t in tiles})
    for first in range(0, len(tiles), batch_size):
        group = tiles[first : first + batch_size]
        batch = torch.cat([image[:, :, t : t + h, l : l + w] for t, l, h, w in group])
        result = model(batch)
        if output is None:
            out_channels = result.shape[1]
            output = result.new_zeros(1, out_channels, height * scale, width * scale, dtype=torch.float32)
            weight_sum = result.new_zeros(1, 1, height * scale, width * scale, dtype=torch.float32)
        for (top, left, h, w), out_tile in zip(group, result.float()):
            mask_y = feather_ramp(h * scale, scale, overlap, top != row_starts[0], top != row_starts[-1], out_tile.device)
            mask_x = feather_ramp(w * scale, scale, overlap, left != col_starts[0], left != col_starts[-1], out_tile.device)
            mask = mask_y[:, None] * mask_x[None, :]
            ys, xs = slice(top * scale, (top + h) * scale), slice(left * scale, (left + w) * scale)
            output[0, :, ys, xs] += out_tile * mask
            weight_sum[0, :, ys, xs] += mask
    return output / weight_sum.clamp_min(1e-8)
