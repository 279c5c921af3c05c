"""The block grid smoothed before the network (dronesr/sr/deblock.py) where restore=auto finds one."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("av")

from dronesr.sr.deblock import DeblockedSource, deblock
from dronesr.streamed import ArraySource
from training.blocks import grid_step_ratio
from tests.unit.test_restoration import decision, decoded, photo, upload


def q30_frame(top: int = 0, left: int = 0) -> np.ndarray:
    """A q30 JPEG of a photo-like picture, cropped so its grid starts at (-top % 8, -left % 8)."""
    frame = decoded(upload(photo(184, 136), "JPEG", quality=30))
    return np.ascontiguousarray(frame[top : top + 120, left : left + 160])


@pytest.mark.parametrize("top,left", [(0, 0), (3, 5), (7, 2)])
def test_the_grid_is_smoothed_at_its_phase_and_only_there(top, left):
    blocky = q30_frame(top, left)
    phase = (-top % 8, -left % 8)
    smoothed = deblock(blocky, phase)
    assert smoothed.shape == blocky.shape and smoothed.dtype == np.uint8
    before, after = grid_step_ratio(blocky, phase, scale=1), grid_step_ratio(smoothed, phase, scale=1)
    assert before > 1.5 and after < 1.2, (before, after)
    # pixels away from the grid lines (3-4 px inside each block) are left as they were
    rows = (np.arange(blocky.shape[0]) - phase[0]) % 8
    cols = (np.arange(blocky.shape[1]) - phase[1]) % 8
    inside = np.isin(rows, (3, 4))[:, None] & np.isin(cols, (3, 4))[None, :]
    assert np.array_equal(smoothed[inside], blocky[inside])
    # at the wrong phase it would smooth other lines: the filter is told where the grid is
    assert grid_step_ratio(deblock(blocky, (phase[0] ^ 4, phase[1] ^ 4)), phase, scale=1) > after + 0.2


def test_windows_read_with_the_grid_smoothed_match_the_whole_picture():
    """The command line's large pictures are enlarged window by window: each window's smoothing
    (read with a margin, at the grid's phase in that window) gives the whole picture's pixels."""
    blocky = q30_frame(3, 5)
    whole = deblock(blocky, (5, 3))
    source = DeblockedSource(ArraySource(blocky), (5, 3))
    for x, y, w, h in ((0, 0, 50, 40), (37, 29, 61, 45), (101, 77, 59, 43), (0, 0, 160, 120)):
        assert np.array_equal(source.rgb(x, y, w, h), whole[y : y + h, x : x + w]), (x, y, w, h)


def test_restore_auto_names_the_grid_it_smooths_and_clean_uploads_get_none():
    blocky = decision(upload(q30_frame(3, 5), "PNG"))
    assert blocky.restore == 1.0 and blocky.block_grid == (5, 3)
    for fmt, options in (("PNG", {}), ("JPEG", {"quality": 95})):
        assert decision(upload(photo(), fmt, **options)).block_grid is None


def test_restore_auto_smooths_the_grid_it_finds_and_a_requested_restore_does_not():
    """srresnet's choice for a blocky upload names the grid (and X-Restore says so); a restore
    sent as a number is the blend alone (the command line smooths the windows it sends a server
    itself), and a clean upload gets no smoothing."""
    import dataclasses

    from dronesr.sr.resolver import SuperResolver

    sr = SuperResolver.open("srresnet", precision="float32", execution="pytorch")
    blocky = q30_frame(3, 5)
    auto = sr.choose(blocky, None, None, None)
    assert auto.deblock == (5, 3) and auto.restore == 1.0
    assert auto.restore_header.endswith("; grid at (5,3) smoothed)")
    assert sr.choose(blocky, None, None, 0.0).deblock is None
    assert sr.choose(blocky, None, None, 1.0).deblock is None
    assert sr.choose(photo(), None, None, None).deblock is None
    smoothed = sr.upscale(blocky, auto)
    unsmoothed = sr.upscale(blocky, dataclasses.replace(auto, deblock=None))
    assert smoothed.shape == unsmoothed.shape == (480, 640, 3)
    assert grid_step_ratio(smoothed, (5, 3)) < grid_step_ratio(unsmoothed, (5, 3)) - 0.1  # measured on the x4 result at the LR phase


def test_without_pyav_restoration_runs_without_the_smoothing(monkeypatch):
    """KServe's TorchServe image has no PyAV: the choice names no grid, and the upload is served."""
    from dronesr.sr import deblock as module
    from dronesr.sr.resolver import SuperResolver

    monkeypatch.setattr(module.importlib.util, "find_spec", lambda name: None)
    module.available.cache_clear()
    try:
        sr = SuperResolver.open("srresnet", precision="float32", execution="pytorch")
        choice = sr.choose(q30_frame(3, 5), None, None, None)
        assert choice.restore == 1.0 and choice.deblock is None and "smoothed" not in choice.restore_header
        assert sr.upscale(q30_frame(3, 5), choice).shape == (480, 640, 3)
    finally:
        module.available.cache_clear()


def test_a_training_batchs_blocky_lr_is_smoothed_for_the_detail_teacher_and_a_clean_one_is_not():
    """train_sr --detail-teacher-input deblocked: the teacher answers each LR as serving would
    give it to the network, its grid smoothed where restore=auto finds one."""
    import torch

    from dronesr.image.codecs import rgb_to_tensor, tensor_to_rgb
    from training.train_sr import deblocked

    blocky, clean = q30_frame(3, 5), photo(160, 120)
    batch = torch.cat([rgb_to_tensor(blocky), rgb_to_tensor(clean)])
    teacher_lr = deblocked(batch)
    assert teacher_lr.shape == batch.shape and teacher_lr.dtype == batch.dtype
    assert np.array_equal(tensor_to_rgb(teacher_lr[:1]), deblock(blocky, (5, 3)))  # the grid restore=auto finds, smoothed
    assert torch.equal(teacher_lr[1], batch[1])  # nothing to smooth
