"""Test images shared by the tests and the benchmarks: a synthetic photo with edges and texture,
for when ../shared's real photos are not there."""

from __future__ import annotations

import numpy as np


def synthetic_photo(width: int = 96, height: int = 64, seed: int = 0) -> np.ndarray:
    """A smooth image with edges and texture (uint8 HxWx3): gradients, a disc and some noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    r = 128 + 100 * np.sin(x / 9.0) * np.cos(y / 13.0)
    g = 255 * x / max(width - 1, 1)
    b = np.where((x - width / 2) ** 2 + (y - height / 2) ** 2 < (min(width, height) / 3) ** 2, 220.0, 40.0)
    image = np.stack([r, g, b], axis=2) + rng.normal(0, 6, (height, width, 3))
    return np.clip(image, 0, 255).astype(np.uint8)
