"""Self-ensemble: 8 passes (rotations and mirror images) averaged, its ``ensemble`` parameter and
ensemble=auto's decision by size, on the handler and in the core."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from dronesr.checkpoint import save_model
from dronesr.errors import ClientError
from dronesr.sr.upscaler import Upscaler, prepare_for_inference, self_ensemble
from dronesr.parameters import parse_ensemble
from dronesr.sr.plan import UpscalePlan
from dronesr.sr.resolver import SuperResolver
from handlers.sr_handler import SuperResolutionHandler
from tests.helpers import encode, handler_reply, make_context, rgb_pixels, synthetic_photo, tiny_srresnet

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def turned(batch: torch.Tensor, turns: int, mirrored: bool) -> torch.Tensor:
    x = torch.rot90(batch, turns, (-2, -1))
    return x.flip(-1) if mirrored else x


def test_an_equivariant_network_is_unchanged_and_a_network_gets_the_mean_of_its_eight_passes():
    image = torch.rand(1, 3, 10, 14, generator=torch.Generator().manual_seed(0))
    nearest = torch.nn.Upsample(scale_factor=4, mode="nearest")  # commutes with every rotation and mirror
    assert torch.allclose(self_ensemble(nearest, image), nearest(image), atol=1e-6)
    model = tiny_srresnet(seed=1)
    with torch.no_grad():
        expected = torch.stack([
            torch.rot90(turned(model(turned(image, k, m)), 0, m), -k, (-2, -1)) for k in range(4) for m in (False, True)
        ]).mean(0)
        plain, averaged = model(image), self_ensemble(model, image)
    assert averaged.shape == plain.shape == (1, 3, 40, 56)  # a non-square input comes back the right way up
    assert torch.allclose(averaged, expected, atol=1e-6)
    assert (averaged - plain).abs().max() > 1e-4


def test_tiled_ensemble_matches_the_whole_frame():
    upscaler = Upscaler(prepare_for_inference(tiny_srresnet(seed=1)), tile=16, overlap=8)
    rgb = synthetic_photo(40, 30)
    whole = upscaler.upscale(rgb, tiled=False, ensemble=True)
    assert np.abs(upscaler.upscale(rgb, ensemble=True).astype(int) - whole).max() <= 1
    assert np.abs(upscaler.upscale(rgb, tiled=False).astype(int) - whole).max() > 0


@pytest.mark.parametrize(("text", "value"), [(None, None), ("", None), ("auto", None), (" AUTO ", None), ("true", True), ("on", True), ("0", False), ("false", False)])
def test_parse_ensemble(text, value):
    assert parse_ensemble(text) is value


def test_a_bad_ensemble_is_a_bad_parameter():
    with pytest.raises(ClientError) as error:
        parse_ensemble("8")
    assert error.value.code == "bad_parameter" and "ensemble" in str(error.value)


def test_auto_decides_by_the_size_of_the_upload():
    sr = SuperResolver(Upscaler(prepare_for_inference(tiny_srresnet())), None, ensemble_auto_pixels=100)
    small, large = synthetic_photo(10, 10), synthetic_photo(11, 10)
    assert sr.choose(small, None, None, None).ensemble and sr.choose(small, None, None, None).ensemble_header == "8 (auto: 10x10 input, at most 100 pixels)"
    assert not sr.choose(large, None, None, None).ensemble and "over 100 pixels" in sr.choose(large, None, None, None).ensemble_reason
    assert sr.choose(small, None, None, None, ensemble=False).ensemble_header == "1 (requested)"
    assert sr.choose(large, None, None, None, ensemble=True).ensemble
    never = SuperResolver(sr.upscaler, None).choose(small, None, None, None)  # the default: never
    assert not never.ensemble and never.ensemble_header == "1 (auto: not for this model)"


def test_ensemble_on_over_the_limit_is_too_large():
    plan = UpscalePlan(4, 4.0, ensemble=True)
    plan.check_ensemble(100, 100, 10_000, "max_ensemble_pixels")
    with pytest.raises(ClientError) as error:
        plan.check_ensemble(101, 100, 10_000, "max_ensemble_pixels")
    assert error.value.code == "too_large" and "max_ensemble_pixels" in str(error.value)
    UpscalePlan(4, 4.0, ensemble=None).check_ensemble(1000, 1000, 10_000, "max_ensemble_pixels")  # auto never refuses


@pytest.fixture
def ensemble_handler(tmp_path):
    save_model(tiny_srresnet(seed=2), tmp_path / "model.pt")
    ctx = make_context(tmp_path, {"precision": "float32", "ensemble_auto_pixels": 900, "max_ensemble_pixels": 1600})
    handler = SuperResolutionHandler()
    handler.initialize(ctx)
    return handler, ctx


def test_handler_sends_the_passes_it_used_and_refuses_ensemble_over_its_limit(ensemble_handler):
    handler, ctx = ensemble_handler
    small = encode(synthetic_photo(30, 30), "PNG")
    code, auto = handler_reply(handler, ctx, {"body": small})
    assert code == 200 and ctx.get_response_headers(0)["X-Ensemble"] == "8 (auto: 30x30 input, at most 900 pixels)"
    _, single = handler_reply(handler, ctx, {"body": small, "ensemble": "false"})
    assert ctx.get_response_headers(0)["X-Ensemble"] == "1 (requested)"
    assert np.abs(rgb_pixels(auto) - rgb_pixels(single)).max() > 0
    code, _ = handler_reply(handler, ctx, {"body": encode(synthetic_photo(40, 30), "PNG")})
    assert code == 200 and ctx.get_response_headers(0)["X-Ensemble"].startswith("1 (auto: 40x30 input, over 900")
    code, _ = handler_reply(handler, ctx, {"body": encode(synthetic_photo(40, 40), "PNG"), "ensemble": "true"})
    assert code == 200 and ctx.get_response_headers(0)["X-Ensemble"] == "8 (requested)"
    code, body = handler_reply(handler, ctx, {"body": encode(synthetic_photo(41, 40), "PNG"), "ensemble": "true"})
    assert code == 400 and json.loads(body)["code"] == "too_large"
    code, body = handler_reply(handler, ctx, {"body": small, "ensemble": "sometimes"})
    assert code == 400 and json.loads(body)["code"] == "bad_parameter"
    description = handler.describe()
    # a region is decided by its frame's size, so it stays that window of the whole frame's result
    frame = encode(synthetic_photo(40, 30), "PNG")
    _, whole = handler_reply(handler, ctx, {"body": frame})
    _, part = handler_reply(handler, ctx, {"body": frame, "region": "10,10,20,10"})
    assert ctx.get_response_headers(0)["X-Ensemble"].startswith("1 (auto: 40x30 input")
    assert np.abs(rgb_pixels(part) - rgb_pixels(whole)[40:80, 40:120]).max() <= 1
    assert "ensemble" in description["parameters"] and description["ensemble_auto_pixels"] == 900 and description["max_ensemble_pixels"] == 1600
