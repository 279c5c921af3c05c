"""The style handler with a mock TorchServe context: style, strength, blend, fitting to
max_side, limits, describe."""

from __future__ import annotations

import io
import json
import shutil

import numpy as np
import pytest
import torch
from PIL import Image
from ts.context import RequestProcessor

from dronesr.checkpoint import save_model
from dronesr.cli.transforms import StyleTransform
from dronesr.sr.weights import WeightsError
from dronesr.serving.requests import STYLE_PARAMETERS
from handlers.style_handler import PARAMETER_SYNTAX, StyleTransferHandler
from tests.helpers import NAMES, encode, handler_reply, make_context, synthetic_photo, tiny_style_net

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture
def style_handler(tmp_path):
    net = tiny_style_net()
    save_model(net, tmp_path / "model.pt")
    ctx = make_context(tmp_path, {"max_side": 48, "max_input_pixels": 20_000})
    handler = StyleTransferHandler()
    handler.initialize(ctx)
    return handler, ctx


def pixels(body: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(body)))


def test_multipart_style_field_picks_the_style(style_handler):
    handler, ctx = style_handler
    png = encode(synthetic_photo(40, 30), "PNG")
    code, alpha = handler_reply(handler, ctx, {"data": png, "style": b"alpha"})
    assert code == 200 and Image.open(io.BytesIO(alpha)).size == (40, 30)
    assert "X-Resized-From" not in ctx.get_response_headers(0)
    _, default = handler_reply(handler, ctx, {"data": png})
    _, beta = handler_reply(handler, ctx, {"data": png, "style": "beta"})
    assert np.array_equal(pixels(default), pixels(alpha))  # the first style is the default
    assert not np.array_equal(pixels(beta), pixels(alpha))
    _, blended = handler_reply(handler, ctx, {"data": png, "style": "alpha", "blend": "beta:1"})
    assert np.array_equal(pixels(blended), pixels(beta))


def test_strength_zero_returns_the_photo(style_handler):
    handler, ctx = style_handler
    photo = synthetic_photo(24, 20)
    code, body = handler_reply(handler, ctx, {"body": encode(photo, "PNG"), "style": "gamma", "strength": "0"})
    assert code == 200 and np.array_equal(pixels(body), photo)


def test_large_input_is_scaled_down_with_its_alpha_and_says_so(style_handler):
    handler, ctx = style_handler
    rgba = np.dstack([synthetic_photo(96, 40), np.full((40, 96), 100, np.uint8)])
    code, body = handler_reply(handler, ctx, {"body": encode(rgba, "PNG"), "style": "beta"})
    result = Image.open(io.BytesIO(body))
    assert code == 200 and result.size == (48, 20) and result.mode == "RGBA"
    assert ctx.get_response_headers(0)["X-Resized-From"] == "96x40"
    assert ctx.get_response_headers(0)["X-Output-Size"] == "48x20"
    assert abs(int(np.asarray(result)[..., 3].mean()) - 100) <= 1


@pytest.mark.parametrize(
    "params, words",
    [
        ({"style": "picasso"}, "available styles: alpha, beta, gamma"),
        ({"blend": "picasso:0.2"}, "available styles: alpha, beta, gamma"),
        ({"strength": "1.5"}, "strength must be between 0 and 1"),
        ({"strength": "lots"}, "strength must be a number"),
        ({"strength": "nan"}, "strength must be between 0 and 1"),
        ({"blend": "beta:x"}, "blend weight of beta must be a number"),
        ({"blend": "beta:-0.1"}, "blend weight of beta must be between 0 and 1"),
        ({"blend": "beta:0.7,gamma:0.6"}, "over 1"),
        ({"colour": "red"}, "Unknown parameter"),
    ],
)
def test_bad_parameters_are_400_with_a_useful_message(style_handler, params, words):
    handler, ctx = style_handler
    code, body = handler_reply(handler, ctx, {"body": encode(synthetic_photo(16, 16), "PNG"), **params})
    message = json.loads(body)
    assert code == 400 and message["status"] == 400 and message["code"] in ("bad_parameter", "unknown_parameter")
    assert words in message["message"]


def test_input_pixel_limit_is_obeyed(style_handler):
    handler, ctx = style_handler
    code, body = handler_reply(handler, ctx, {"body": encode(synthetic_photo(200, 150), "PNG")})
    assert code == 400 and "max_input_pixels" in json.loads(body)["message"]


def test_describe_lists_the_styles_and_the_execution_path(style_handler):
    handler, ctx = style_handler
    ctx.request_processor = [RequestProcessor({"describe": "True"})]
    [body] = handler.handle([{"body": b""}], ctx)
    info = json.loads(body)
    assert info["styles"] == NAMES and info["default_style"] == "alpha"
    assert set(info["parameters"]) == {"style", "strength", "blend", "preserve_colour"} and info["settings"]["max_side"] == 48
    # as SR's describe: the path chosen at worker start, what was timed and how far each path was from float32
    precision = info["precision"]
    assert precision["execution"] in ("pytorch", "onnxruntime") and precision["device"].startswith("cpu")
    assert {"float32", "onnxruntime"} <= set(precision["seconds"]) and "bfloat16" in precision["psnr_db_vs_float32"]
    assert "40 dB" in precision["reason"] and info["min_psnr_db"] == 40
    assert info["settings"]["precision"] == "auto" and info["settings"]["execution"] == "auto"


def test_configured_precision_and_execution_are_kept(tmp_path):
    save_model(tiny_style_net(), tmp_path / "model.pt")
    for settings, path in (({"precision": "float32", "execution": "pytorch"}, "float32"), ({"execution": "onnxruntime"}, "onnxruntime")):
        handler = StyleTransferHandler()
        handler.initialize(make_context(tmp_path, settings))
        assert handler.style.choice.path == path and handler.style.choice.reason == "set in the configuration"
        assert handler.style.provenance.parameters["precision"] == path


def test_handler_and_cli_refuse_weights_of_another_architecture_alike(tmp_path, tiny_weights):
    """One loader (dronesr/style/model.py), one error: WeightsError, a ValueError, as SR's loader raises."""
    shutil.copy(tiny_weights, tmp_path / "model.pt")
    with pytest.raises(WeightsError, match="model.pt: not StyleNet weights but SRResNet"):
        StyleTransferHandler().initialize(make_context(tmp_path))
    with pytest.raises(WeightsError, match="model.pt: not StyleNet weights but SRResNet"):
        StyleTransform.load(str(tmp_path / "model.pt"), "alpha", "", 1.0, torch.device("cpu"), "float32", 10_000, 48)


def test_every_style_parameter_is_described():
    assert set(PARAMETER_SYNTAX) == set(STYLE_PARAMETERS)
