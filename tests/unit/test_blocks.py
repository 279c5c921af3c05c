"""The grid-step ratio of x4 results (training/blocks.py) on synthetic images with a grid at a known
phase, the block-damaged crop set it is measured on, and the table of measure() on stand-in models.
No ../shared: the photos are synthesised."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image, ImageFilter

from dronesr.image.codecs import rgb_to_tensor
from dronesr.sr.restoration import block_evidence, _luma
from training.blocks import block_crops, grid_step_ratio, measure


def smooth(width: int, height: int, seed: int = 0) -> np.ndarray:
    """Blurred random noise and a gradient, uint8 H x W x 3: no grid at any period."""
    rng = np.random.default_rng(seed)
    noise = Image.fromarray(rng.uniform(0, 255, (height, width)).astype(np.uint8))
    relief = np.asarray(noise.filter(ImageFilter.GaussianBlur(4)), np.float32) - 128
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    image = 60 + 100 * x / width + 4 * relief
    return np.clip(np.stack([image, image * 0.9 + 10, 200 - image * 0.5], axis=2), 0, 255).astype(np.uint8)


def blocky_lr(width: int, height: int, phase: tuple[int, int], seed: int = 0) -> np.ndarray:
    """``smooth`` plus a flat offset per 8x8 block, the blocks starting at rows dy + 8i and columns dx + 8j."""
    rng = np.random.default_rng(seed)
    dy, dx = phase
    rows, cols = (np.arange(height) - dy) // 8, (np.arange(width) - dx) // 8
    offsets = rng.uniform(-12, 12, (rows.max() - rows.min() + 1, cols.max() - cols.min() + 1))
    step = offsets[(rows - rows.min())[:, None], (cols - cols.min())[None, :]]
    return np.clip(smooth(width, height, seed).astype(np.float32) + step[..., None], 0, 255).astype(np.uint8)


def enlarged(rgb: np.ndarray, how=Image.NEAREST) -> np.ndarray:
    return np.asarray(Image.fromarray(rgb).resize((rgb.shape[1] * 4, rgb.shape[0] * 4), how))


def test_a_blocky_result_at_its_phase_scores_well_above_one_and_a_smooth_one_about_one():
    lr = blocky_lr(96, 80, (3, 5))
    blocky = enlarged(lr)  # the blocks drawn as hard edges every 32 px of the x4 result
    assert grid_step_ratio(blocky, (3, 5)) > 3.0
    assert grid_step_ratio(lr, (3, 5), scale=1) > 1.5  # the input's own, at its own scale
    for phase in ((0, 0), (5, 3), (3, 1)):
        assert 0.9 < grid_step_ratio(enlarged(smooth(96, 80), Image.BICUBIC), phase) < 1.1
    assert 0.9 < grid_step_ratio(smooth(384, 320), (0, 0)) < 1.1


def test_the_phase_is_where_the_blocks_start():
    """Blocks starting at LR rows 3 + 8i and columns 5 + 8j: their edges are across x4 rows and
    columns 12 + 32i and 20 + 32j. A phase with neither (the axes swapped included) sees no grid,
    one with the lines of one axis half of it, and cropping the result by 4k px moves the phase by k."""
    blocky = enlarged(blocky_lr(96, 80, (3, 5)))
    right = grid_step_ratio(blocky, (3, 5))
    for wrong in ((5, 3), (0, 0), (7, 1)):
        assert 0.5 < grid_step_ratio(blocky, wrong) < 1.0, wrong  # the true lines are among the other edges
    for half_right in ((3, 6), (4, 5)):  # one axis's lines on the grid: the pooled ratio in between
        assert 1.25 < grid_step_ratio(blocky, half_right) < right * 0.75, half_right
    assert grid_step_ratio(blocky[8:, 4 * 7 :], (1, 6)) == pytest.approx(grid_step_ratio(blocky, (3, 5)), rel=0.1)
    tensor = rgb_to_tensor(blocky)  # a model's 1 x 3 x H x W output in [0, 1] reads the same
    assert grid_step_ratio(tensor, (3, 5)) == pytest.approx(right, rel=1e-3)


def test_one_axis_of_blocks_counts_half():
    """Steps only across columns (vertical lines): the ratio pools both axes."""
    lr = smooth(96, 80).astype(np.float32)
    lr[:, (np.arange(96) - 5) // 8 % 2 == 1] += 10
    one_axis = grid_step_ratio(enlarged(np.clip(lr, 0, 255).astype(np.uint8)), (0, 5))
    both = grid_step_ratio(enlarged(blocky_lr(96, 80, (0, 5))), (0, 5))
    assert 1.5 < one_axis < both


def test_too_small_for_a_grid_line():
    assert np.isnan(grid_step_ratio(np.zeros((1, 1, 3), np.uint8), (0, 0)))


@pytest.fixture
def photos(tmp_path):
    """Two HR 'photos' (PNG) whose protocol LR is 104x88 and 176x128."""
    paths = []
    for index, (width, height) in enumerate(((416, 352), (704, 512))):
        path = tmp_path / f"photo{index}.png"
        Image.fromarray(smooth(width, height, index)).save(path)
        paths.append(path)
    return paths


def test_the_crop_set_names_the_phase_its_blocks_start_at(photos):
    pytest.importorskip("av")
    crops = block_crops(photos, 6, seed=3)
    assert len(crops) == 6 and [c.codec[:4] for c in crops] == ["h264", "jpeg"] * 3
    assert [c.data[:2] == b"\xff\xd8" for c in crops] == [True, True, False, False, True, True]  # q95 JPEG, PNG, ...
    for crop in crops:
        with Image.open(io.BytesIO(crop.data)) as image:
            rgb = np.asarray(image.convert("RGB"))
        assert 0 <= min(crop.phase) and max(crop.phase) < 8 and min(rgb.shape[:2]) >= 88 and max(rgb.shape[:2]) <= 160
        if crop.codec.startswith("jpeg"):  # a JPEG's blocks are where the set says they are
            assert block_evidence(_luma(rgb), own_grid=crop.data[:2] == b"\xff\xd8").quantized_phase == crop.phase
    assert [c.name for c in block_crops(photos, 6, seed=3)] == [c.name for c in crops]  # the seed fixes the set


def test_measure_puts_the_input_and_each_method_side_by_side(photos):
    pytest.importorskip("av")
    crops = block_crops(photos, 4, seed=1)

    def nearest(lr: torch.Tensor, data: bytes) -> torch.Tensor:
        return torch.nn.functional.interpolate(lr, scale_factor=4, mode="nearest")

    rows = measure({"bicubic": None, "nearest": nearest}, crops)
    assert list(rows) == ["input (LR)", "bicubic", "nearest"]
    # nearest neighbour puts each LR step on one LR pixel edge of the result: the LR's own ratio
    assert rows["nearest"].mean == pytest.approx(rows["input (LR)"].mean, rel=1e-6)
    assert rows["input (LR)"].mean > 1.2 and 0.5 < rows["bicubic"].mean < rows["input (LR)"].mean * 1.5
    assert rows["nearest"].worst >= rows["nearest"].mean and rows["nearest"].worst_crop in {c.name for c in crops}
