"""The invention map: where an SR result departs from what its input supports.

A GAN's texture is plausible, not measured. Two departures are shown, per output pixel, in grey
levels of luminance (BT.601, 0-255), whichever is larger:

- **invented**: the result against the faithful (PSNR) network's result for the same upload and
  the same restoration: the detail the GAN added beyond the most likely image;
- **inconsistent**: the result shrunk back to the input's size (antialiased bicubic, the
  evaluation's degradation) against the input itself, spread over the output pixels it came
  from: where the result does not even reproduce its input.

Colours run from black (no departure) through purple and red to yellow at ``FULL_SCALE`` grey
levels and above (docs/serving.md "The invention map": how to read it).
"""

from __future__ import annotations

import numpy as np
import torch

from dronesr.image.resample import bicubic_resize

FULL_SCALE = 24.0  # grey levels of departure shown as the brightest colour
LUMA = np.array([0.299, 0.587, 0.114], np.float32)
# An "inferno"-like ramp: dark for what the input supports, bright for what the model made up.
_ANCHORS = np.array([[0, 0, 4], [87, 16, 110], [188, 55, 84], [249, 142, 9], [252, 255, 164]], np.float32)


def _luma(rgb: np.ndarray) -> np.ndarray:
    return rgb.astype(np.float32) @ LUMA


def departures(result: np.ndarray, faithful: np.ndarray, source: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(invented, inconsistent) grey levels per output pixel (H x W float32) for H x W x 3 uint8
    ``result`` and ``faithful`` (same size) and the ``source`` they were enlarged from."""
    invented = np.abs(_luma(result) - _luma(faithful))
    height, width = source.shape[:2]
    shrunk = bicubic_resize(torch.from_numpy(result).permute(2, 0, 1)[None].float(), (height, width))[0].permute(1, 2, 0).numpy()
    error = np.abs(shrunk @ LUMA - _luma(source))
    rows = np.minimum((np.arange(result.shape[0]) * height) // result.shape[0], height - 1)
    cols = np.minimum((np.arange(result.shape[1]) * width) // result.shape[1], width - 1)
    return invented, error[rows][:, cols]


def colourise(levels: np.ndarray, full_scale: float = FULL_SCALE) -> np.ndarray:
    """H x W grey levels -> H x W x 3 uint8 on the ramp (0 black, ``full_scale`` and above yellow)."""
    position = np.clip(levels / full_scale, 0.0, 1.0) * (len(_ANCHORS) - 1)
    low = np.minimum(position.astype(np.int64), len(_ANCHORS) - 2)
    share = (position - low)[..., None]
    return (_ANCHORS[low] * (1 - share) + _ANCHORS[low + 1] * share + 0.5).astype(np.uint8)


def invention_map(result: np.ndarray, faithful: np.ndarray, source: np.ndarray) -> np.ndarray:
    """The colour-mapped departure of ``result`` from what ``source`` supports (module doc)."""
    invented, inconsistent = departures(result, faithful, source)
    return colourise(np.maximum(invented, inconsistent))
