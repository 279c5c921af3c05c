"""The video path's pipeline (dronesr/cli/video.py): decode, model and encode on three threads."""

from __future__ import annotations

import threading
from dataclasses import dataclass

import av
import numpy as np
import pytest

from bench import video_bench
from dronesr.cli.transforms import Transform
from dronesr.cli.video import VideoOptions, process_video

SIZE, FPS, FRAMES = (160, 96), 10, 24


@dataclass
class Doubling(Transform):
    """x2 by pixel repetition: the output shows exactly which input frame it came from."""

    fail_at: int = -1
    calls: int = 0

    def result_size(self, width: int, height: int) -> tuple[int, int]:
        return 2 * width, 2 * height

    def frame(self, rgb: np.ndarray) -> np.ndarray:
        self.calls += 1
        if self.calls == self.fail_at:
            raise RuntimeError("the model failed on this frame")
        return rgb.repeat(2, axis=0).repeat(2, axis=1)


def bar_positions(path, scale: int = 1) -> list[int]:
    """The column of the moving bright bar (video_bench.make_clip) in every frame."""
    with av.open(str(path)) as container:
        return [int(np.argmax(f.to_ndarray(format="rgb24")[:, :, 0].mean(axis=0) > 215)) // scale for f in container.decode(video=0)]


def test_frames_come_out_in_order_with_the_audio(tmp_path):
    source, target = tmp_path / "in.mp4", tmp_path / "out.mp4"
    video_bench.make_clip(source, SIZE, FPS, FRAMES)
    progress: list[tuple[int, int]] = []
    result = process_video(source, target, Doubling(10**9, "x2"), VideoOptions(preset="ultrafast"), lambda done, total: progress.append((done, total)))
    assert result.frames == FRAMES and result.size == (2 * SIZE[0], 2 * SIZE[1])
    assert [p[0] for p in progress] == list(range(1, FRAMES + 1))
    expected = bar_positions(source)
    assert len(set(expected)) > 3  # the bar moves, so order is visible
    assert [abs(a - b) <= 1 for a, b in zip(bar_positions(target, 2), expected)] == [True] * FRAMES
    with av.open(str(target)) as out, av.open(str(source)) as src:
        seconds = [float(c.streams.audio[0].duration * c.streams.audio[0].time_base) for c in (out, src)]
    assert abs(seconds[0] - seconds[1]) < 0.05


def test_a_model_error_mid_clip_is_raised_and_no_thread_is_left(tmp_path):
    source = tmp_path / "in.mp4"
    video_bench.make_clip(source, SIZE, FPS, FRAMES)
    before = threading.active_count()
    with pytest.raises(RuntimeError, match="failed on this frame"):
        process_video(source, tmp_path / "out.mp4", Doubling(10**9, "x2", fail_at=7), VideoOptions(preset="ultrafast"))
    assert threading.active_count() == before
