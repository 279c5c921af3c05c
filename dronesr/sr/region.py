"""A region of interest: enlarge a window of a large frame (a small drone in a 4K frame) instead of
the whole frame, with the same pixels as that window of the whole frame's result.

The network sees the region plus ``margin`` pixels of the frame around it (its receptive field:
the tile overlap of its architecture), clipped at the frame's edges, so pixels near the region's
border are computed from the same neighbours as in the whole frame; the result is then cut to the
region. Limits apply to the region's result, so a region of a frame too large to enlarge whole is
allowed (the frame itself is bounded by ``max_region_frame_pixels``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from dronesr.errors import ClientError, echo

_SYNTAX = re.compile(r"\s*(\d{1,6})\s*,\s*(\d{1,6})\s*,\s*(\d{1,6})\s*,\s*(\d{1,6})\s*")


@dataclass(frozen=True)
class Region:
    """x, y (top left) and width, height, in pixels of the upright input."""

    x: int
    y: int
    width: int
    height: int

    def __str__(self) -> str:
        return f"{self.x},{self.y},{self.width},{self.height}"

    def check_inside(self, frame_width: int, frame_height: int) -> None:
        """ClientError (400) naming the frame's size unless the region lies inside the frame."""
        if self.x + self.width > frame_width or self.y + self.height > frame_height:
            raise ClientError(f"region {self} reaches outside the frame (the frame is {frame_width}x{frame_height}).", "bad_parameter")

    def with_context(self, margin: int, frame_width: int, frame_height: int) -> tuple[Region, Region]:
        """(the window the network sees: this region grown by ``margin`` on every side, clipped to
        the frame; this region in that window's coordinates)."""
        left, top = max(0, self.x - margin), max(0, self.y - margin)
        right, bottom = min(frame_width, self.x + self.width + margin), min(frame_height, self.y + self.height + margin)
        window = Region(left, top, right - left, bottom - top)
        return window, Region(self.x - left, self.y - top, self.width, self.height)

    def crop(self, pixels: np.ndarray, scale: int = 1) -> np.ndarray:
        """This region of an H x W (x C) array whose pixels are ``scale`` times the region's."""
        return pixels[self.y * scale : (self.y + self.height) * scale, self.x * scale : (self.x + self.width) * scale]


def parse_region(text: str | None, frame_width: int | None = None, frame_height: int | None = None) -> Region | None:
    """The ``region`` parameter ``x,y,w,h``: None when absent or empty; ClientError (400) when
    malformed, empty or (given the frame's size) not inside the frame, naming the frame's size."""
    if text is None or not str(text).strip():
        return None
    frame = f"; the frame is {frame_width}x{frame_height}" if frame_width is not None else ""
    match = _SYNTAX.fullmatch(str(text))
    if not match:
        raise ClientError(f"region must be x,y,w,h in whole input pixels (top left, width, height), got {echo(text)}{frame}.", "bad_parameter")
    region = Region(*(int(v) for v in match.groups()))
    if region.width < 1 or region.height < 1:
        raise ClientError(f"region {region} is empty: width and height must be at least 1{frame}.", "bad_parameter")
    if frame_width is not None:
        region.check_inside(frame_width, frame_height)
    return region
