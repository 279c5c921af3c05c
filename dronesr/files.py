"""Files: which suffixes are images and videos (for the CLI, datasets and evaluation), and files
written so that no half-written one is ever seen under its name (results of the CLI, checkpoints
and weights, the archives' notes): one helper for all of them."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

# Suffixes of the image files imaging.decode_image reads (GIF: its first frame), and of videos PyAV opens.
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif")
VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".avi", ".webm")


@contextlib.contextmanager
def atomic_output(target: str | os.PathLike) -> Iterator[Path]:
    """A temporary path to write ``target`` to, renamed to ``target`` when the block completes;
    on an error or Ctrl-C it is removed, so no half-written output exists under either name.
    Same folder (the rename is atomic), same suffix (PyAV picks the container by it), hidden."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.stem}.partial{target.suffix}")
    try:
        yield temporary
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)
