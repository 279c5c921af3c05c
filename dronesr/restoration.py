"""``restore=auto``: how much JPEG/noise/blur restoration an upload needs, read from the upload.

0 runs the faithful clean-input network, 1 the restoration network (the SR handler blends the two
by the value). Real-ESRGAN makes users pick a denoise strength by hand; here the file says it:

- a JPEG's own quantization tables give its IJG quality (libjpeg's scaling of the standard
  luminance table, matched exactly for files Pillow, libjpeg and most cameras write);
- for any upload, a blind noise estimate of the pixels (Immerkaer's fast estimator on the flattest
  pixels, so edges and texture do not count as noise) and a blocking measure (high-frequency DCT
  energy of 8x8 blocks off the JPEG grid against on it: a PNG saved from a JPEG keeps its blocks).

Each gives a value by a linear ramp between two thresholds; the decision is the largest.

Calibration, measured with this module on the protocol's LR (training/protocol.py: x4 Pillow
bicubic, each row as the file a user uploads) of the 95 val photos (80 IFO, 100x100 LR; 15 aerial,
256 px LR; never the test split); noise_sigma and blockiness as min / median / 95th pct / max:

  upload                          noise_sigma              blockiness               restore
  clean PNG                       0.00 / 0.38 / 1.5 / 5.5  0.91 / 1.00 / 1.1 / 2.0  <= 0.1: 93 of 95
  noise5 PNG                      4.70 / 5.01 / 5.9 / 8.0  0.95 / 1.01 / 1.0 / 1.2  1: all
  jpeg75/jpeg50/blur+n3+jpeg70    (quality 75 / 50 / 70 from the tables)            1: all
  jpeg75 decoded, saved as PNG    0.00 / 0.33 / 1.8 / 4.5  2.00 / 4.09 / 6.0 / 7.2  >= 0.7: 92 of 95
  blur+n3+jpeg70 saved as PNG     0.00 / 0.33 / 0.6 / 1.2  1.95 / 3.22 / 4.7 / 6.4  >= 0.7: 83 of 95
  JPEG q95 (file; as PNG)         0.00 / 0.50 / 2.1 / 5.7  1.05 / 1.37 / 2.2 / 3.2  <= 0.2: 92; 87 of 95
  sigma-10 / sigma-40 noise PNG   8.5-12.8 / 30-50

The two clean photos above 2.5 (5.5, 2.9) are pixel-level texture (a field from the air,
foliage), which no blind estimate tells from noise. A check on 110 train photos (IFO every 8th,
aerial every 4th): clean <= 0.1 109, noise5 1 all, jpeg75-as-PNG >= 0.7 108, JPEG q95 file <= 0.2 108.
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
# - blockiness (PNG/WebP/... only): above every clean photo (max 2.03) and 9 in 10 PNGs from a
#   q95 JPEG (90th pct 2.04), below 19 in 20 from a q75 JPEG (5th pct 2.48).
BLOCKINESS_RAMP = (2.1, 2.6)
BLOCK_HIGH_FREQUENCY = 10  # DCT frequencies u + v >= this (15 of 64): JPEG zeroes them first

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


def _high_frequency_dct() -> np.ndarray:
    """[64, n]: a flattened 8x8 block -> its orthonormal 2-D DCT-II (JPEG's transform)
    coefficients at frequencies u + v >= ``BLOCK_HIGH_FREQUENCY``."""
    k = np.arange(8)
    dct = np.sqrt(2 / 8) * np.cos(np.pi * (2 * k[None, :] + 1) * k[:, None] / 16)
    dct[0] /= np.sqrt(2)
    high = (np.add.outer(k, k) >= BLOCK_HIGH_FREQUENCY).ravel()
    return np.kron(dct, dct)[high].T.astype(np.float32)  # row u*8+v: dct[u, i] * dct[v, j]


HIGH_DCT = _high_frequency_dct()
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


def noise_sigma(rgb: np.ndarray) -> float:
    """Blind estimate of additive noise (sigma per channel, 0-255 scale) of an H x W x 3 uint8
    image: Immerkaer's (1996) estimator, the mean absolute response to his 3x3 Laplacian-difference
    mask times sqrt(pi/2)/6, over the ``NOISE_FLAT_FRACTION`` of pixels with the smallest luma
    Sobel gradient in their 3x3 neighbourhood. Windows touching 0 or 255 are left out: clipping
    flattens noise (a blown-out sky reads as noise-free)."""
    h, w = rgb.shape[:2]
    if h < 5 or w < 5:
        return 0.0
    rgb = rgb[..., :3]
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
    laplacian = laplacian[1:-1, 1:-1]
    shifted = rgb[1:-1, 1:-1] - np.uint8(1)  # 0 wraps to 255 and 255 becomes 254: clipped are the top two
    inside = np.maximum(np.maximum(shifted[..., 0], shifted[..., 1]), shifted[..., 2]) < 254
    inside = inside[:, :-2] & inside[:, 1:-1] & inside[:, 2:]
    inside = inside[:-2] & inside[1:-1] & inside[2:]
    candidates = gradient[inside]
    if not candidates.size:
        return 0.0
    sample = candidates[:: max(1, candidates.size // 65536)]  # the threshold needs no more
    flat = inside & (gradient <= np.quantile(sample, NOISE_FLAT_FRACTION))
    return float(laplacian[flat].mean() * math.sqrt(math.pi / 2) / 6)


def _high_frequency_energy(luma: np.ndarray) -> float:
    """Mean absolute high-frequency DCT coefficient of the 8x8 blocks tiling ``luma`` from its corner."""
    h, w = luma.shape[0] // 8 * 8, luma.shape[1] // 8 * 8
    blocks = luma[:h, :w].reshape(h // 8, 8, w // 8, 8).transpose(0, 2, 1, 3).reshape(-1, 64)
    # einsum, not a matrix product: OpenBLAS threads made this 5x slower on a busy machine (measured)
    return float(np.abs(np.einsum("bk,kf->bf", blocks, HIGH_DCT)).mean())


def blockiness(rgb: np.ndarray) -> float:
    """JPEG 8x8 blocking of an H x W x 3 uint8 image: the high-frequency DCT energy of luma in
    blocks offset by 4 px over that in blocks on the grid from the top-left corner (where a
    JPEG's blocks are, unless cropped since). JPEG quantization removes high frequencies inside its
    blocks, the steps at their edges put them into the offset ones; about 1 for an unblocked image."""
    h, w = rgb.shape[:2]
    if h < 12 or w < 12:
        return 1.0
    luma = _luma(rgb)
    tiny = 0.01  # a flat image: 1, not 0/0
    return (_high_frequency_energy(luma[4:, 4:]) + tiny) / (_high_frequency_energy(luma) + tiny)


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
    blockiness: float


def auto_restore(rgb: np.ndarray, quality: int | None, palette: bool = False) -> RestoreDecision:
    """restore=auto for an upload: its pixels and, for a JPEG, its quality. ``palette``: decoded
    from a palette image (GIF, palette PNG), whose dithering is not noise. A JPEG is judged by its
    quality, not its blocks: the blocking measure sees a file's own quantization (q95's too)."""
    sigma, blocks = noise_sigma(rgb), blockiness(rgb)
    votes = {}  # on a tie the first names the reason: the file's own quality is the surest
    if quality is not None:
        votes[f"jpeg quality {quality}"] = _ramp(quality, *JPEG_QUALITY_RAMP)
    else:
        votes[f"blockiness {blocks:.2f}"] = _ramp(blocks, *BLOCKINESS_RAMP)
    if not palette and sigma <= NOISE_SIGMA_UNSEEN:
        votes[f"noise sigma {sigma:.1f}"] = _ramp(sigma, *NOISE_SIGMA_RAMP)
    reason, value = max(votes.items(), key=lambda item: item[1])
    if value == 0.0 and palette:
        reason = "palette image"
    elif value == 0.0 and sigma > NOISE_SIGMA_UNSEEN:
        reason = f"noise sigma {sigma:.1f} beyond the trained range"
    elif value == 0.0 and quality is None:
        reason = "clean"
    return RestoreDecision(_step(value), reason, quality, sigma, blocks)
