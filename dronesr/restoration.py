"""``restore=auto``: how much JPEG/noise/blur restoration an upload needs, read from the upload.

0 runs the faithful clean-input network, 1 the restoration network (the SR handler blends the two
by the value). Real-ESRGAN makes users pick a denoise strength by hand; here the file says it:

- a JPEG's own quantisation tables give its IJG quality (libjpeg's scaling of the standard
  luminance table, matched exactly for files Pillow, libjpeg and most cameras write);
- for any upload, a blind noise estimate of the pixels (the finest wavelet detail of luma in its
  flattest blocks, so edges and texture do not count as noise) and a blocking measure (luma steps
  across 8 px block boundaries against steps elsewhere: a PNG saved from a JPEG keeps its blocks).

Each gives a value by a linear ramp between two thresholds; the decision is the largest.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from dronesr.imaging import ImageError, echo
from dronesr.params import parse_fraction

RESTORE_STEP = 0.05  # values are rounded to this, so blends are reused from the cache

# Ramps (value 0 at the first threshold, 1 at the second), measured on protocol LR of 55 val
# photos (IFO every 2nd, aerial all; x4 Pillow-bicubic downscales, never the test split):
# - JPEG quality: the restoration network gains over the clean one from quality ~90 down.
JPEG_QUALITY_RAMP = (95.0, 75.0)
# - noise sigma (0-255; noise_sigma): clean LR 0-1.6 on 9 in 10 photos (median 0.3; textured or
#   grainy photos up to 11), sigma-5 noise 1.7-3.9 (median 3.2: the flat blocks' own smoothing).
#   Measured with the SPAN restoration fine-tune, the clean photos lost 0.2-4.8 dB to it at every
#   estimate, the noisy ones gained from about 2 up.
NOISE_SIGMA_RAMP = (2.0, 3.0)
# Beyond this the "noise" is nothing the restoration network was trained on (Gaussian/Poisson up
# to sigma 10 per channel): measured, its output blew up to -62..83 on sigma-40 noise and on
# web-palette dithering (estimates 15-27) while the clean network stayed within -1.3..2.6, so
# such uploads get restore 0.
NOISE_SIGMA_UNSEEN = 12.0
NOISE_BLOCK = 16  # px side of the blocks the noise is measured in
NOISE_FLAT_PERCENTILE = 10
# - blockiness: clean LR 0.86-1.59 (median 1.01); JPEG q75 re-saved as PNG 0.97-2.63 (median 1.22).
BLOCKINESS_RAMP = (1.2, 1.5)

# IJG's standard luminance quantisation table (JPEG Annex K), in natural (row-major) order.
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


def parse_restore(text: str | None) -> float | None:
    """The ``restore`` parameter: None when absent, empty or ``auto``; else a number in 0..1
    rounded to ``RESTORE_STEP``; ImageError (400) otherwise."""
    if text is None or not text.strip() or text.strip().lower() == "auto":
        return None
    try:
        value = parse_fraction("restore", text)
    except ImageError:
        raise ImageError(f"restore must be auto or a number from 0 to 1, got {echo(text)}.") from None
    return round(round(value / RESTORE_STEP) * RESTORE_STEP, 4)


def jpeg_quality(quantization: dict[int, list[int]] | None) -> int | None:
    """The IJG quality (1..100) whose luminance table is nearest table 0 of a JPEG's
    ``quantization`` (Pillow gives tables in natural order); None without tables."""
    if not quantization or 0 not in quantization or len(quantization[0]) != 64:
        return None
    table = np.asarray(quantization[0], dtype=np.int64)
    errors = np.abs(SCALED_TABLES - table[None, :]).sum(axis=1)
    return int(np.argmin(errors)) + 1


def _luma(rgb: np.ndarray) -> np.ndarray:
    return rgb[..., :3].astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)


def noise_sigma(rgb: np.ndarray) -> float:
    """Blind estimate of additive luma noise (sigma, 0-255; independent per-channel noise of sigma
    s is about 0.67 s in luma) of an H x W x 3 uint8 image: the RMS of the
    finest Haar diagonal detail (HH) in 16x16 px blocks, at the 10th percentile of blocks. Noise
    is in every block; edges and texture are not, so the flattest blocks show the noise alone."""
    luma = _luma(rgb)
    h, w = luma.shape[0] // 2 * 2, luma.shape[1] // 2 * 2
    y = luma[:h, :w]
    detail = (y[0::2, 0::2] - y[0::2, 1::2] - y[1::2, 0::2] + y[1::2, 1::2]) / 2  # sigma-preserving for white noise
    side = NOISE_BLOCK // 2
    rows, cols = detail.shape[0] // side, detail.shape[1] // side
    if rows * cols == 0:
        return float(np.sqrt((detail**2).mean())) if detail.size else 0.0
    blocks = detail[: rows * side, : cols * side].reshape(rows, side, cols, side)
    rms = np.sqrt((blocks**2).mean(axis=(1, 3)))
    return float(np.percentile(rms, NOISE_FLAT_PERCENTILE))


def blockiness(rgb: np.ndarray) -> float:
    """JPEG 8x8 blocking: mean absolute luma step across block boundaries over the mean step
    elsewhere (about 1 for an unblocked image; above it when block edges stand out)."""
    luma = _luma(rgb)
    steps = [np.abs(np.diff(luma, axis=1)), np.abs(np.diff(luma, axis=0)).T]
    at_edge, inside = [], []
    for d in steps:
        if d.shape[1] < 16:
            continue
        columns = np.arange(d.shape[1])
        edge = (columns % 8) == 7  # between pixel 8k+7 and 8k+8
        at_edge.append(d[:, edge].mean())
        inside.append(d[:, ~edge].mean())
    if not at_edge:
        return 1.0
    return float(np.mean(at_edge) / max(np.mean(inside), 1e-3))


def _ramp(value: float, start: float, end: float) -> float:
    return min(1.0, max(0.0, (value - start) / (end - start)))


@dataclass(frozen=True)
class RestoreDecision:
    restore: float  # 0..1, rounded to RESTORE_STEP
    reason: str  # what decided it, for the X-Restore header and logs
    jpeg_quality: int | None
    noise_sigma: float
    blockiness: float


def auto_restore(rgb: np.ndarray, quality: int | None, palette: bool = False) -> RestoreDecision:
    """restore=auto for an upload: its pixels and, for a JPEG, its quality. ``palette``: decoded
    from a palette image (GIF, palette PNG), whose dithering is not noise."""
    sigma, blocks = noise_sigma(rgb), blockiness(rgb)
    votes = {}  # on a tie the first names the reason: the file's own quality is the surest
    if quality is not None:
        votes[f"jpeg quality {quality}"] = _ramp(quality, *JPEG_QUALITY_RAMP)
    if not palette and sigma <= NOISE_SIGMA_UNSEEN:
        votes[f"noise sigma {sigma:.1f}"] = _ramp(sigma, *NOISE_SIGMA_RAMP)
    votes[f"blockiness {blocks:.2f}"] = _ramp(blocks, *BLOCKINESS_RAMP)
    reason, value = max(votes.items(), key=lambda item: item[1])
    if value == 0.0:
        reason = "palette image" if palette else f"noise sigma {sigma:.1f} beyond the trained range" if sigma > NOISE_SIGMA_UNSEEN else "clean" if quality is None else f"jpeg quality {quality}"
    return RestoreDecision(round(round(value / RESTORE_STEP) * RESTORE_STEP, 4), reason, quality, sigma, blocks)
