"""The block grid of a JPEG or a video frame smoothed before the network, as part of restoration.

Networks trained on degraded inputs still sharpen most of the 8 px steps a block codec leaves
(issue #29: the grid-step ratio of training/blocks.py), and those steps are what a person sees
first in an enlarged sky. restore=auto already finds the grid and its phase in the pixels
(dronesr/sr/restoration.py, at all 64 phases, so crops and re-saves do not hide it); where it does,
FFmpeg's deblock filter (libavfilter's vf_deblock, through PyAV) smooths the steps across those
grid lines, the way a video player's post-processing does, and leaves edges that cross them
stronger than its thresholds alone. It runs on planar RGB (no colour conversion), in about 10 ms
per megapixel on a CPU, so it adds nothing measurable to an upload's time.
"""

from __future__ import annotations

import importlib.util
import logging
from functools import cache

import numpy as np

from dronesr.sr.restoration import GRID

# "weak" filters fewer pixels either side of a grid line than "strong"; on the val block crops
# both took the enlarged grid-step ratio to ~1.05, weak with the smaller change to the pixels.
FILTER = f"filter=weak:block={GRID}"


@cache
def available() -> bool:
    """Whether PyAV is installed. It is in this project's environment; a runtime image that brings
    only torch, numpy and Pillow (KServe's TorchServe image) restores without the smoothing, and
    says so once in its log."""
    found = importlib.util.find_spec("av") is not None
    if not found:
        logging.getLogger(__name__).warning("PyAV is not installed: block grids are not smoothed before restoration (pip install av)")
    return found


def auto_grid(decision) -> tuple[int, int] | None:
    """The grid restore=auto smooths for an upload it decided to restore (``decision``: its
    RestoreDecision), or None. Only restore=auto smooths: a restore value sent as a number is a
    blend and nothing else, which lets the command line decide once for a whole photo, smooth its
    windows itself and send them to a server (dronesr/cli/remote.py) without a second smoothing."""
    return decision.block_grid if decision.restore > 0 and available() else None


def deblock(rgb: np.ndarray, phase: tuple[int, int]) -> np.ndarray:
    """``rgb`` (H x W x 3 uint8) with the steps across the grid of ``GRID`` px blocks that starts
    at row ``phase[0]`` and column ``phase[1]`` smoothed. The picture is padded (edge values) so
    that the grid starts at its corner, as the filter expects, and cut back."""
    import av  # PyAV: already the project's video library; imported here, only uploads with blocks pay for it

    dy, dx = (int(p) % GRID for p in phase)
    top, left = (GRID - dy) % GRID, (GRID - dx) % GRID
    height, width = rgb.shape[:2]
    bottom, right = -(height + top) % GRID, -(width + left) % GRID
    padded = np.pad(rgb, ((top, bottom), (left, right), (0, 0)), mode="edge")
    graph = av.filter.Graph()
    source = graph.add_buffer(width=padded.shape[1], height=padded.shape[0], format="gbrp", time_base="1/25")
    smoothing = graph.add("deblock", FILTER)
    sink = graph.add("buffersink")
    source.link_to(smoothing)
    smoothing.link_to(sink)
    graph.configure()
    graph.push(av.VideoFrame.from_ndarray(np.ascontiguousarray(padded), format="rgb24").reformat(format="gbrp"))
    smoothed = graph.pull().to_ndarray(format="rgb24")
    return np.ascontiguousarray(smoothed[top:top + height, left:left + width])


class DeblockedSource:
    """A picture read in windows (dronesr/streamed.py's Source) with its block grid smoothed, for
    pictures enlarged window by window: each window is read with a margin, smoothed at the grid's
    phase in that window and cut back, which gives the pixels ``deblock`` gives the whole picture
    (the filter reads a few pixels either side of a grid line; the margin is two blocks)."""

    MARGIN = 2 * GRID

    def __init__(self, source, phase: tuple[int, int]):
        self.source, self.phase = source, phase
        self.width, self.height, self.has_mask = source.width, source.height, source.has_mask

    def rgb(self, x: int, y: int, width: int, height: int) -> np.ndarray:
        x0, y0 = max(0, x - self.MARGIN), max(0, y - self.MARGIN)
        x1, y1 = min(self.width, x + width + self.MARGIN), min(self.height, y + height + self.MARGIN)
        wide = np.asarray(self.source.rgb(x0, y0, x1 - x0, y1 - y0))
        smoothed = deblock(wide, (self.phase[0] - y0, self.phase[1] - x0))
        return smoothed[y - y0 : y - y0 + height, x - x0 : x - x0 + width]

    def mask(self, x: int, y: int, width: int, height: int) -> np.ndarray:
        return self.source.mask(x, y, width, height)
