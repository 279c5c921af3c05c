import math

import pytest
import torch

from dronesr.metrics import psnr_rgb, psnr_y, rgb_to_y, ssim_y
from dronesr.image.resample import bicubic_resize, downscale
from tests.helpers import needs_shared
from training.evaluate import evaluate, resolve_set


def test_rgb_to_y_matches_matlab_range():
    black, white = torch.zeros(1, 3, 1, 1), torch.ones(1, 3, 1, 1)
    assert rgb_to_y(black).item() == pytest.approx(16.0)
    assert rgb_to_y(white).item() == pytest.approx(235.0, abs=1e-3)


def test_psnr_of_known_error():
    # Two flat greys 10 levels apart on every RGB channel differ by 10 * 219/255 levels of Y.
    hr = torch.full((1, 3, 20, 20), 100 / 255)
    sr = torch.full((1, 3, 20, 20), 110 / 255)
    expected = 20 * math.log10(255 / (10 * 219 / 255))
    assert psnr_y(sr, hr, shave=2).item() == pytest.approx(expected, abs=1e-3)


def test_ssim_identity_and_degradation():
    torch.manual_seed(0)
    hr = torch.rand(1, 3, 40, 40)
    assert ssim_y(hr, hr, 4).item() == pytest.approx(1.0)
    noisy = (hr + 0.2 * torch.randn_like(hr)).clamp(0, 1)
    assert 0.0 < ssim_y(noisy, hr, 4).item() < 0.9


def test_psnr_rgb_identical_is_infinite():
    x = torch.rand(3, 4, 4)
    assert psnr_rgb(x, x) == math.inf
    assert psnr_rgb(x, x + 0.1) == pytest.approx(20.0, abs=1e-4)


def test_downscale_requires_multiple_of_scale():
    with pytest.raises(ValueError, match="multiple"):
        downscale(torch.rand(1, 3, 10, 10), 4)


def test_bicubic_roundtrip_of_constant_is_exact():
    x = torch.full((1, 3, 16, 16), 0.25)
    assert torch.allclose(bicubic_resize(downscale(x, 4), tuple(x.shape[-2:])), x, atol=1e-6)


def test_bicubic_x4_reproduces_published_set5():
    """The protocol check: bicubic x4 on Set5 is published as 28.42 dB / 0.8104."""
    _, paths = resolve_set(str(needs_shared("benchmarks", "Set5")))
    psnr, ssim = evaluate({"bicubic": None}, paths, 4)["bicubic"][:2]
    assert psnr == pytest.approx(28.42, abs=0.1)
    assert ssim == pytest.approx(0.8104, abs=0.005)
