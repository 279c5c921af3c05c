"""Learning-rate schedule shared by the trainers."""

from __future__ import annotations

import math


def cosine_lr(base: float, floor: float, progress: float) -> float:
    """Cosine annealing from ``base`` to ``floor`` as ``progress`` goes from 0 to 1 (clamped)."""
    return floor + (base - floor) * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))
