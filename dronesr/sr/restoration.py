"""``restore=auto``: how much JPEG/codec/noise/blur restoration an upload needs, read from the upload.

0 runs the faithful clean-input network, 1 the restoration network (the SR handler blends the two
by the value). Real-ESRGAN makes users pick a denoise strength by hand; here the upload says it.
Its label is not enough: people crop, screenshot and re-save, and frames grabbed from a drone
video are saved as quality-95 JPEGs that carry the video's blocks. So each piece of evidence votes
by a linear ramp between two thresholds, the strongest decides and is named in the reason (the
``X-Restore`` header, e.g. ``1 (auto: blocks 2.48 at phase (3,5))``):

- quality: a JPEG's quantization tables give its IJG quality (libjpeg's scaling of the standard
  luminance table, matched exactly for files Pillow, libjpeg and most cameras write), a lower
  bound on what the file went through;
- blocks, at every one of the 64 phases of an 8 px grid (a crop moves it; phase (dy, dx): blocks
  start at rows dy + 8i and columns dx + 8j), JPEG files included: the DCT deficit (the blocks at
  a phase emptied of mid and high frequencies, against the median phase: JPEG's signature; not
  counted at a JPEG file's own phase (0, 0)) and the step excess (luma steps across a phase's grid
  lines in flat surroundings against the median phase's, on the weaker axis, the 16 px macroblock
  fold included: any block codec's, H.264's too);
- noise: a blind estimate of the pixels (Immerkaer's fast estimator on the flattest pixels, so
  edges and texture do not count as noise);
- softness (a re-shared, re-enlarged or blurred upload): the width of its strongest edges.

Uploads over 2^18 pixels are measured on tiles spread over them (``ANALYSIS``, ``DCT_ANALYSIS``),
so the decision's time does not grow with the upload (docs/performance.md, "restore=auto").

Calibration: ``python -m training.blocks --calibrate --split val --photos 40``: 55 val photos (40
IFO, 100x100 LR; 15 aerial, 256x192 LR; never the test split), the protocol's LR
(training/protocol.py: x4 Pillow bicubic) as the file a user uploads. The crop rows: the LR coded
whole, cropped 16 px smaller at a random offset (a random grid phase), saved as a q95 JPEG file or
a PNG. Measures as min / median / 95th pct / max; restore: how many of the 55 at 0 and at >= 0.7:

  upload                        blocks (DCT)          block edges           edge width (px)     0 / >=0.7
  clean PNG                     1.01/1.07/1.14/1.26   1.01/1.09/1.43/1.68   1.22/1.56/1.77/1.80  53 / 1
  clean, q95 file               1.01/1.09/1.17/1.22   1.02/1.11/1.34/1.52   1.22/1.57/1.78/1.82  52 / 2
  clean, q90 file               1.03/1.13/1.28/1.35   1.04/1.25/1.43/1.52   1.21/1.56/1.80/1.84   0 / 2
  noise5 PNG (sigma 4.70/5.04/6.12/8.03)                                                         0 / 55
  jpeg75, jpeg50, blur+noise3+jpeg70 files (by their tables)                                     0 / 55
  shrunk x0.5, re-enlarged      1.07/1.14/1.21/1.23   1.11/1.37/1.60/2.20   1.84/2.11/2.29/2.87   7 / 9
  shrunk x0.7, re-enlarged      1.01/1.08/1.12/1.14   1.01/1.08/1.24/1.48   1.66/1.99/2.18/2.58  31 / 2
  blur 0.7 PNG                  1.01/1.07/1.12/1.13   1.00/1.07/1.28/1.56   1.64/1.94/2.11/2.28  40 / 1
  blur 1.0 PNG                  1.01/1.06/1.12/1.14   1.00/1.06/1.26/1.60   2.01/2.31/2.43/2.51   3 / 47
  q30-50 crop, q95 file         1.17/1.59/2.23/2.80   1.12/1.66/2.26/2.64   1.19/1.75/1.99/2.22   1 / 42
  q30-50 crop, PNG              1.48/2.48/4.04/6.84   1.41/2.27/3.32/11.6   1.18/1.74/2.03/2.21   0 / 55
  q75 crop, q95 file            1.13/1.28/1.57/1.83   1.06/1.21/1.45/2.05   1.20/1.59/1.83/1.92  27 / 7
  q75 crop, PNG                 1.24/1.68/2.13/2.82   1.23/1.55/2.02/4.12   1.21/1.60/1.83/1.92   3 / 46
  H.264 CRF 30-35 crop, q95     1.03/1.18/1.43/1.62   1.04/1.59/2.64/3.57   1.21/1.62/1.92/2.11  22 / 17
  H.264 CRF 30-35 crop, PNG     1.04/1.28/1.59/1.78   1.30/2.54/5.52/6.48   1.20/1.61/1.89/2.17   8 / 33

(H.264 crops at 0: mostly the mildest coding, CRF 30-32: 7 of the 8 PNGs, 16 of the 22 q95 files.)
The previous restore=auto (tables alone for JPEG files, blocks only at phase (0, 0), no softness)
on the same uploads: q30-50 crops 0 (q95 file) and 4 (PNG) of 55 at >= 0.7, q75 crops 2 and 2,
H.264 crops 1 and 0, the shrunk and blurred ones none above 0. Every clean upload above 0 is the
noise estimate's, as before (its thresholds are unchanged, from the earlier calibration on all 95
val photos: clean PNG noise 95th pct 1.5, sigma-5 min 4.7): pixel-level texture (a NIR field from
the air at 5.5, a dense city view below a drone at 2.9), which no blind estimate tells from noise.
A check on 80 train photos (``--split train --photos 40``: IFO every 16th, aerial every 2nd): clean
PNG 78 and q95 file 76 at 0 (again all others the noise estimate's); clean maxima 1.18 (DCT), 1.76
(block edges), 1.88 px (edges, a q90 file); q30-50 crops at >= 0.7 66 (q95 file) and 79 (PNG) of
80, q75 crops 15 and 70, H.264 crops 12 and 35, blur 1.0 75.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from dronesr.errors import ClientError, echo
from dronesr.params import is_auto, parse_fraction

RESTORE_STEP = 0.05  # values are rounded to this, so blends are reused from the cache

# Ramps (value 0 at the first threshold, 1 at the second), from the calibration above.
# - JPEG quality: the restoration network gains over the clean one from quality ~90 down.
JPEG_QUALITY_RAMP = (95.0, 75.0)
# - noise sigma (per channel): above all but 2 clean photos (95th pct 1.5), below every sigma-5
#   one (min 4.7; 4.6 on the train check). Sigma 3 gets ~0.4: an earlier measurement with the SPAN
#   restoration fine-tune had noisy photos gain from it from about sigma 3 up (its luma estimate
#   2), clean ones lose 0.2-4.8 dB to it whatever their estimate.
NOISE_SIGMA_RAMP = (2.5, 4.0)
# Beyond this the "noise" is nothing the restoration network was trained on (Gaussian/Poisson up
# to sigma 10 per channel): its output blew up on sigma-40 noise and on web-palette dithering while
# the clean network's stayed sane (measured), so such uploads get restore 0. Between the largest
# estimate of sigma-10 noise (val 12.8, train 14.2) and the smallest of sigma-40 noise (29.6, 19.9).
NOISE_SIGMA_UNSEEN = 17.0
NOISE_FLAT_FRACTION = 0.1  # the share of (unclipped) pixels, lowest gradient first, noise is measured on
# - blocks (every upload, JPEG files too; block_evidence), the stronger of two measures:
#   the DCT deficit, JPEG's signature: above every clean PNG and q95 file (val max 1.26, train
#   1.18), 1 below the median q30-50 crop saved as a q95 file (1.59);
QUANTIZED_RAMP = (1.28, 1.55)
#   the step excess, any block codec's (H.264's too): above every clean PNG and q95 file (val max
#   1.68, train 1.76), 1 about the median H.264 crop saved as a PNG (2.54).
BLOCK_EDGES_RAMP = (1.8, 2.5)
# - smoothing the grid before the network (dronesr/sr/deblock.py) pays where the blocks are plain
#   and costs a little PSNR where they are mild (JPEG q70-75, which the restoration network handles):
#   from this vote up; on the val block crops (q30-50, H.264 CRF 30-35) all but one vote at least
#   this, on the protocol's jpeg75 uploads 4 in 40.
GRID_SMOOTHING_VOTE = 0.5
# - soft edges (shrunk and re-enlarged, blurred): the width in px of the strongest edges; above
#   every clean upload (val max 1.84, train 1.88, both q90 files), 1 below the median blur-1.0 one.
EDGE_WIDTH_RAMP = (2.0, 2.3)

# The block measures: JPEG's 8 px grid at any phase (a crop moves it) and the 16 px macroblocks of
# video codecs (H.264, WebP).
GRID = 8
MACROBLOCK = 16
BLOCK_FREQUENCIES = (2, 3, 4, 5, 6, 7)  # per axis: the 36 DCT coefficients (u, v) both >= 2, which quantization empties
FLAT_STEP = 6.0  # luma levels: a step counts only where both steps beside it are smaller (blocks show in flat areas)
MACROBLOCK_WEIGHT = 0.8  # the 16 px fold's excess is noisier (half the samples per phase)
# Large uploads are measured on tiles spread over them, each starting on the 16 px grid (so a grid's
# phase is the same in every tile as in the upload): (pixels, tile side) for the noise estimate, the
# steps and the edges, and fewer for the DCT deficit, the costliest (still far more blocks per phase
# than the small uploads it was calibrated on). Uploads up to the pixels are measured whole.
ANALYSIS = (1 << 18, 128)
DCT_ANALYSIS = (1 << 16, 64)
# The edge-width measure: windows of EDGE_WINDOW px with at least EDGE_CONTRAST levels of luma
# between their darkest and brightest pixel; the EDGE_TOP share of highest contrast; too few: no vote.
EDGE_WINDOW = 4
EDGE_CONTRAST = 40.0
EDGE_TOP = 0.1
EDGE_MIN_WINDOWS = 64

# IJG's standard luminance quantization table (JPEG Annex K), in natural (row-major) order.
STANDARD_LUMINANCE = np.array([
    16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55,
    14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29, 51, 87, 80, 62,
    18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
    49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99,
], dtype=np.int64)  # fmt: skip


def _scaled_tables() -> np.ndarray:
    """[100, 64]: libjpeg's table for each quality 1..100 (jpeg_quality_scaling, clamped 1..255)."""
    qualities = np.arange(1, 101)
    scale = np.where(qualities < 50, 5000 // qualities, 200 - 2 * qualities)
    return np.clip((STANDARD_LUMINANCE[None, :] * scale[:, None] + 50) // 100, 1, 255)


SCALED_TABLES = _scaled_tables()


LUMA = np.array([0.299, 0.587, 0.114], np.float32)  # JPEG's (BT.601) Y


def parse_restore(text: str | None) -> float | None:
    """The ``restore`` parameter: None when absent, empty or ``auto``; else a number in 0..1
    rounded to ``RESTORE_STEP``; ClientError (400) otherwise."""
    if is_auto(text):
        return None
    try:
        value = parse_fraction("restore", text)
    except ClientError:
        raise ClientError(f"restore must be auto or a number from 0 to 1, got {echo(text)}.", "bad_parameter") from None
    return _step(value)


def jpeg_quality(quantization: dict[int, list[int]] | None) -> int | None:
    """The IJG quality (1..100) whose luminance table is nearest table 0 of a JPEG's
    ``quantization`` (Pillow gives tables in natural order); None without tables."""
    if not quantization or 0 not in quantization or len(quantization[0]) != 64:
        return None
    table = np.asarray(quantization[0], dtype=np.int64)
    errors = np.abs(SCALED_TABLES - table[None, :]).sum(axis=1)
    return int(np.argmin(errors)) + 1


def _luma(rgb: np.ndarray) -> np.ndarray:
    """JPEG's (BT.601) Y of uint8 RGB, float32."""
    return rgb[..., :3].astype(np.float32) @ LUMA


def _noise_maps(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each pixel of ``rgb`` off its outermost 2 px ring: the absolute response of Immerkaer's
    mask (per channel), the largest luma Sobel gradient in its 3x3 neighbourhood, and whether its
    window is clear of clipped (0 or 255) values."""
    x = rgb.astype(np.int16)  # the mask's responses fit in int16, at half float32's memory traffic
    across = x[:, :-2] - 2 * x[:, 1:-1] + x[:, 2:]
    laplacian = np.abs(across[:-2] - 2 * across[1:-1] + across[2:])  # the mask is separable
    y = _luma(rgb)
    down, side = y[:-2] + 2 * y[1:-1] + y[2:], y[:, :-2] + 2 * y[:, 1:-1] + y[:, 2:]
    gradient = np.abs(down[:, 2:] - down[:, :-2]) + np.abs(side[2:] - side[:-2])
    # a 1 px line (a wire, a road marking) has no gradient on itself, only beside it: the largest
    # in each 3x3 (the outermost ring of windows goes)
    gradient = np.maximum(np.maximum(gradient[:, :-2], gradient[:, 1:-1]), gradient[:, 2:])
    gradient = np.maximum(np.maximum(gradient[:-2], gradient[1:-1]), gradient[2:])
    shifted = rgb[1:-1, 1:-1] - np.uint8(1)  # 0 wraps to 255 and 255 becomes 254: clipped are the top two
    inside = np.maximum(np.maximum(shifted[..., 0], shifted[..., 1]), shifted[..., 2]) < 254
    inside = inside[:, :-2] & inside[:, 1:-1] & inside[:, 2:]
    inside = inside[:-2] & inside[1:-1] & inside[2:]
    return laplacian[1:-1, 1:-1], gradient, inside


def noise_sigma(rgb: np.ndarray) -> float:
    """Blind estimate of additive noise (sigma per channel, 0-255 scale) of an H x W x 3 uint8
    image: Immerkaer's (1996) estimator, the mean absolute response to his 3x3 Laplacian-difference
    mask times sqrt(pi/2)/6, over the ``NOISE_FLAT_FRACTION`` of pixels with the smallest luma
    Sobel gradient in their 3x3 neighbourhood. Windows touching 0 or 255 are left out: clipping
    flattens noise (a blown-out sky reads as noise-free). A large upload is measured on tiles
    (``ANALYSIS``)."""
    h, w = rgb.shape[:2]
    if h < 5 or w < 5:
        return 0.0
    maps = [_noise_maps(tile) for tile in analysis_tiles(rgb[..., :3], *ANALYSIS)]
    laplacian = np.concatenate([m[0][m[2]] for m in maps])
    candidates = np.concatenate([m[1][m[2]] for m in maps])
    if not candidates.size:
        return 0.0
    sample = candidates[:: max(1, candidates.size // 65536)]  # the threshold needs no more
    flat = candidates <= np.quantile(sample, NOISE_FLAT_FRACTION)
    return float(laplacian[flat].mean() * math.sqrt(math.pi / 2) / 6)


def _dct_basis() -> np.ndarray:
    """[8, 8]: the orthonormal DCT-II (JPEG's transform), row k the frequency-k basis vector."""
    k = np.arange(8)
    dct = np.sqrt(2 / 8) * np.cos(np.pi * (2 * k[None, :] + 1) * k[:, None] / 16)
    dct[0] /= np.sqrt(2)
    return dct.astype(np.float32)


DCT = _dct_basis()


def analysis_tiles(image: np.ndarray, pixels: int, side: int) -> np.ndarray:
    """[n, h, w, ...]: the whole ``image`` (H x W, or H x W x C) when it has at most ``pixels``
    (or a side shorter than ``side``), else a grid of about ``pixels`` / ``side``^2 tiles of
    ``side`` px spread over it, each starting on the 16 px grid."""
    h, w = image.shape[:2]
    if h * w <= pixels or min(h, w) < side:
        return image[None]
    count = pixels // (side * side)
    rows = min(h // side, max(1, round(math.sqrt(count * h / w))))
    cols = min(w // side, max(1, count // rows))
    tops = (np.linspace(0, h - side, rows) // MACROBLOCK * MACROBLOCK).astype(int)
    lefts = (np.linspace(0, w - side, cols) // MACROBLOCK * MACROBLOCK).astype(int)
    return np.stack([image[top : top + side, left : left + side] for top in tops for left in lefts])


def _fold(values: np.ndarray, first: int, period: int) -> np.ndarray:
    """[period]: sums of ``values`` (one per position along an axis, the first at ``first``) by
    position modulo ``period``."""
    return np.bincount((np.arange(values.size) + first) % period, values, minlength=period)


def _step_excess(tiles: np.ndarray) -> np.ndarray:
    """[8]: per phase k of the last axis, how much larger the luma steps across the boundary
    before position k (mod 8) are than the median phase's, in flat surroundings: a step counts
    where both steps beside it are under ``FLAT_STEP``. The 16 px fold (``MACROBLOCK_WEIGHT``) is
    folded onto the 8 px phases, so a macroblock grid counts too."""
    steps = np.abs(np.diff(tiles, axis=-1))
    flat = np.maximum(steps[..., :-2], steps[..., 2:]) < FLAT_STEP
    step = steps[..., 1:-1]
    sums = np.where(flat, step, 0).sum(axis=(0, 1), dtype=np.float64)
    counts = flat.sum(axis=(0, 1), dtype=np.float64)
    excess = []
    for period in (GRID, MACROBLOCK):
        # the step between positions j + 1 and j + 2 (index j) is the boundary before position j + 2
        mean = _fold(sums, 2, period) / np.maximum(_fold(counts, 2, period), 1)
        excess.append((mean + 0.01) / (np.median(mean) + 0.01))
    grid, macroblock = excess
    return np.maximum(grid, MACROBLOCK_WEIGHT * np.maximum(macroblock[:GRID], macroblock[GRID:]))


def _dct_deficit(tiles: np.ndarray) -> np.ndarray:
    """[8, 8]: per phase (dy, dx), the median phase's mean absolute DCT coefficient at
    ``BLOCK_FREQUENCIES`` on both axes, over that of the 8x8 blocks starting at (dy, dx) mod 8.
    JPEG quantization empties its blocks of these frequencies, and its block edges put them into
    the blocks at every other phase; about 1 everywhere for an unblocked image."""
    _, h, w = tiles.shape
    rows, cols = h - GRID + 1, w - GRID + 1
    # separable: the 1-D DCT along x of every 8 px window, then along y of those
    across = np.stack([sum(DCT[v, t] * tiles[..., t : t + cols] for t in range(GRID)) for v in BLOCK_FREQUENCIES])
    energy = np.zeros((tiles.shape[0], rows, cols), np.float32)
    for u in BLOCK_FREQUENCIES:
        energy += np.abs(sum(DCT[u, t] * across[..., t : t + rows, :] for t in range(GRID))).sum(axis=0)
    by_row = energy.sum(axis=0)
    total = np.stack([by_row[dy::GRID].sum(axis=0) for dy in range(GRID)])
    total = np.stack([total[:, dx::GRID].sum(axis=1) for dx in range(GRID)], axis=1)
    blocks = np.outer(np.bincount(np.arange(rows) % GRID, minlength=GRID), np.bincount(np.arange(cols) % GRID, minlength=GRID))
    mean = total / np.maximum(blocks, 1)
    return (np.median(mean) + 0.01) / (mean + 0.01)


@dataclass(frozen=True)
class BlockEvidence:
    """Two measures of a block grid, each at the phase (dy, dx) where it is strongest: blocks
    starting at rows dy + 8i and columns dx + 8j. About 1 each for an unblocked image (the
    largest of several noisy ratios: a little more)."""

    quantized: float  # _dct_deficit: JPEG's blocks, emptied of mid and high frequencies
    quantized_phase: tuple[int, int]
    edges: float  # _step_excess, the weaker axis: steps along any block codec's grid lines
    edges_phase: tuple[int, int]


NO_BLOCKS = BlockEvidence(1.0, (0, 0), 1.0, (0, 0))


def block_evidence(luma: np.ndarray, own_grid: bool = False) -> BlockEvidence:
    """Block grids in ``luma`` (float32 H x W) at every one of the 64 phases, so that a crop, a
    screenshot or a re-save moves them and does not hide them. ``own_grid``: a JPEG file, whose
    own quantization at phase (0, 0) its tables already tell: the DCT deficit is not counted
    there (the step excess still is: a frame grabbed from a video keeps its blocks there)."""
    h, w = luma.shape
    if h < 3 * GRID or w < 3 * GRID:
        return NO_BLOCKS
    deficit = _dct_deficit(analysis_tiles(luma, *DCT_ANALYSIS))
    if own_grid:
        deficit[0, 0] = 1.0
    dy, dx = np.unravel_index(int(np.argmax(deficit)), deficit.shape)
    tiles = analysis_tiles(luma, *ANALYSIS)
    down, across = _step_excess(tiles.transpose(0, 2, 1)), _step_excess(tiles)
    ey, ex = int(np.argmax(down)), int(np.argmax(across))
    return BlockEvidence(float(deficit[dy, dx]), (int(dy), int(dx)), float(min(down[ey], across[ex])), (ey, ex))


def blockiness(rgb: np.ndarray, own_grid: bool = False) -> float:
    """``block_evidence(...).quantized`` (JPEG's blocks at their strongest phase) for an H x W x 3
    uint8 image."""
    return block_evidence(_luma(rgb), own_grid).quantized


def edge_width(luma: np.ndarray) -> float | None:
    """How wide, in px, the upload's strongest edges are: over windows of ``EDGE_WINDOW`` px along
    rows and columns with at least ``EDGE_CONTRAST`` levels between their extremes, the highest
    ``EDGE_TOP`` of them by contrast, the median of contrast / steepest step (1 for a step edge;
    about 1.6 for the protocol's clean LR, more once shrunk and re-enlarged or blurred; at most
    ``EDGE_WINDOW`` - 1). None with fewer than ``EDGE_MIN_WINDOWS`` such windows (no edges to judge)."""
    tiles = analysis_tiles(luma, *ANALYSIS)
    ratios, contrasts = [], []
    for along in (tiles, tiles.transpose(0, 2, 1)):
        n = along.shape[-1] - EDGE_WINDOW + 1
        if n < 1:
            return None
        windows = [along[..., t : t + n] for t in range(EDGE_WINDOW)]
        contrast = np.maximum.reduce(windows) - np.minimum.reduce(windows)
        steps = np.abs(np.diff(along, axis=-1))
        steepest = np.maximum.reduce([steps[..., t : t + n] for t in range(EDGE_WINDOW - 1)])
        edges = contrast >= EDGE_CONTRAST
        ratios.append(steepest[edges] / contrast[edges])
        contrasts.append(contrast[edges])
    ratio, contrast = np.concatenate(ratios), np.concatenate(contrasts)
    if ratio.size < EDGE_MIN_WINDOWS:
        return None
    strongest = ratio[contrast >= np.quantile(contrast, 1 - EDGE_TOP)]
    return float(1.0 / max(np.median(strongest), 1e-6))


def _ramp(value: float, start: float, end: float) -> float:
    return min(1.0, max(0.0, (value - start) / (end - start)))


def _step(value: float) -> float:
    return round(round(value / RESTORE_STEP) * RESTORE_STEP, 4)


@dataclass(frozen=True)
class RestoreDecision:
    restore: float  # 0..1, rounded to RESTORE_STEP
    reason: str  # what decided it, for the X-Restore header and logs
    jpeg_quality: int | None
    noise_sigma: float
    blockiness: float  # BlockEvidence.quantized (about 1: no JPEG grid)
    block_edges: float = 1.0  # BlockEvidence.edges (about 1: no block codec's grid)
    block_phase: tuple[int, int] = (0, 0)  # (dy, dx) of the block measure that voted
    edge_width: float | None = None  # px; None: too few edges to judge
    blocks_vote: float = 0.0  # the blocks' own vote (0: no grid above what clean photos show)

    @property
    def block_grid(self) -> tuple[int, int] | None:
        """(dy, dx) of the block grid the pixels show, whichever evidence decided restore; None
        when the blocks' vote is under GRID_SMOOTHING_VOTE (dronesr/sr/deblock.py smooths this grid)."""
        return self.block_phase if self.blocks_vote >= GRID_SMOOTHING_VOTE else None


def auto_restore(rgb: np.ndarray, quality: int | None, palette: bool = False) -> RestoreDecision:
    """restore=auto for an upload: its pixels and, for a JPEG, its quality. ``palette``: decoded
    from a palette image (GIF, palette PNG), whose dithering is not noise. Each piece of evidence
    votes by its ramp and the strongest decides; the quality a JPEG's tables give is one vote, a
    lower bound on the damage (a frame grabbed from a video and saved at quality 95 carries the
    video's blocks)."""
    luma = _luma(rgb)
    sigma = noise_sigma(rgb)
    blocks = block_evidence(luma, own_grid=quality is not None)
    width = edge_width(luma)
    votes = {}  # on a tie the first names the reason: the file's own quality is the surest
    if quality is not None:
        votes[f"jpeg quality {quality}"] = _ramp(quality, *JPEG_QUALITY_RAMP)
    # one vote for blocks, the stronger of the two measures; on a tie the step excess, measured
    # per axis and blind to a JPEG file's own grid, names the phase
    quantized, edges = _ramp(blocks.quantized, *QUANTIZED_RAMP), _ramp(blocks.edges, *BLOCK_EDGES_RAMP)
    if quantized > edges:
        (dy, dx), evidence = blocks.quantized_phase, f"blocks {blocks.quantized:.2f}"
    else:
        (dy, dx), evidence = blocks.edges_phase, f"block edges {blocks.edges:.1f}"
    blocks_vote = max(quantized, edges)
    votes[f"{evidence} at phase ({dy},{dx})"] = blocks_vote
    if not palette and sigma <= NOISE_SIGMA_UNSEEN:
        votes[f"noise sigma {sigma:.1f}"] = _ramp(sigma, *NOISE_SIGMA_RAMP)
    if width is not None:
        votes[f"soft edges {width:.1f} px"] = _ramp(width, *EDGE_WIDTH_RAMP)
    reason, value = max(votes.items(), key=lambda item: item[1])
    if value == 0.0 and palette:
        reason = "palette image"
    elif value == 0.0 and sigma > NOISE_SIGMA_UNSEEN:
        reason = f"noise sigma {sigma:.1f} beyond the trained range"
    elif value == 0.0 and quality is None:
        reason = "clean"
    return RestoreDecision(_step(value), reason, quality, sigma, blocks.quantized, blocks.edges, (dy, dx), width, blocks_vote)
