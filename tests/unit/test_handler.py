"""The SR handler with a mock TorchServe context (no server): the request loop, settings, errors."""

from __future__ import annotations

import io
import json
import shutil

import numpy as np
import pytest
from PIL import Image
from ts.context import RequestProcessor

from dronesr.model_settings import ModelSettings
from dronesr.serving.delivery import settings_from_context
from handlers.sr_handler import SuperResolutionHandler
from tests.helpers import encode, make_context, status, synthetic_photo


@pytest.fixture
def handler_and_context(tmp_path, tiny_weights):
    shutil.copy(tiny_weights, tmp_path / "model.pt")
    ctx = make_context(tmp_path, {"max_input_pixels": 50_000, "max_output_pixels": 400_000})
    handler = SuperResolutionHandler()
    handler.initialize(ctx)
    return handler, ctx


def test_raw_body_png_is_upscaled_x4(handler_and_context):
    handler, ctx = handler_and_context
    [body] = handler.handle([{"body": encode(synthetic_photo(40, 30), "PNG")}], ctx)
    assert status(ctx) == 200
    assert ctx.get_response_content_type(0) == "image/png"
    assert Image.open(io.BytesIO(body)).size == (160, 120)
    assert ctx.get_response_headers(0)["X-Output-Size"] == "160x120"
    recorded = dict(ctx.metrics.times)
    assert recorded["DronesrInputMegapixels"] == pytest.approx(40 * 30 / 1e6)
    assert recorded["DronesrTiles"] == 2 and recorded["DronesrHandlerTime"] > 0


@pytest.mark.parametrize("fmt, ctype, pil_format", [(b"jpeg", "image/jpeg", "JPEG"), ("webp", "image/webp", "WEBP")])
def test_format_parameter_from_query_or_form(handler_and_context, fmt, ctype, pil_format):
    handler, ctx = handler_and_context
    [body] = handler.handle([{"data": bytearray(encode(synthetic_photo(20, 20), "JPEG")), "format": fmt}], ctx)
    assert ctx.get_response_content_type(0) == ctype
    assert Image.open(io.BytesIO(body)).format == pil_format


def test_rgba_alpha_is_upscaled_separately(handler_and_context):
    handler, ctx = handler_and_context
    rgba = np.dstack([synthetic_photo(16, 16), np.full((16, 16), 128, np.uint8)])
    [body] = handler.handle([{"body": encode(rgba, "PNG")}], ctx)
    result = Image.open(io.BytesIO(body))
    assert result.mode == "RGBA" and result.size == (64, 64)
    assert abs(int(np.asarray(result)[..., 3].mean()) - 128) <= 1


@pytest.mark.parametrize(
    "request_dict, code, error_code, words",
    [
        ({"body": b"definitely not an image"}, 415, "unsupported_format", "not an image"),
        ({"body": b""}, 400, "no_image", "empty"),
        ({"format": b"png"}, 400, "no_image", "No image"),
        ({"body": "PNG", "format": b"exe"}, 400, "bad_parameter", "png, jpeg, webp"),
        ({"body": "PNG", "colour": b"red"}, 400, "unknown_parameter", "Unknown parameter"),
        ({"body": "BIG_IN"}, 400, "too_large", "max_input_pixels). For whole photos and maps of any size: `dronesr upscale PHOTO -o OUT --server URL`"),
        ({"body": "BIG_OUT"}, 400, "too_large", "max_output_pixels). For whole photos and maps of any size: `dronesr upscale PHOTO -o OUT --server URL`"),
        ({"body": {"instances": []}}, 400, "bad_request", "KServe v1"),
        ({"body": {"instances": [{"b64": "@@@"}]}}, 400, "bad_request", "not valid base64"),
        ({"body": {"instances": [{"b64": "AAAA"}] * 5}}, 400, "too_large", "over the limit of 4"),
        ({"body": "TRUNCATED"}, 400, "bad_image", "truncated or corrupt"),
    ],
)
def test_bad_requests_get_4xx_json_and_the_next_succeeds(handler_and_context, request_dict, code, error_code, words):
    handler, ctx = handler_and_context
    images = {"PNG": encode(synthetic_photo(10, 10), "PNG"), "BIG_IN": encode(synthetic_photo(300, 200), "PNG"),
              "BIG_OUT": encode(synthetic_photo(200, 160), "PNG"), "TRUNCATED": encode(synthetic_photo(30, 30), "PNG")[:-200]}
    request_dict = {k: images.get(v, v) if isinstance(v, str) else v for k, v in request_dict.items()}
    [body] = handler.handle([request_dict], ctx)
    message = json.loads(body)
    assert status(ctx) == code and message["status"] == code and message["code"] == error_code, message
    assert words in message["message"]
    assert ctx.get_response_content_type(0) == "application/json"

    ctx.request_processor = [RequestProcessor({})]
    [good] = handler.handle([{"body": images["PNG"]}], ctx)
    assert status(ctx) == 200 and Image.open(io.BytesIO(good)).size == (40, 40)


def test_a_bad_image_in_a_batch_does_not_fail_its_neighbours(tmp_path, tiny_weights):
    shutil.copy(tiny_weights, tmp_path / "model.pt")
    ctx = make_context(tmp_path, batch=2)
    handler = SuperResolutionHandler()
    handler.initialize(ctx)
    out = handler.handle([{"body": b"junk"}, {"body": encode(synthetic_photo(8, 8), "PNG")}], ctx)
    assert status(ctx, 0) == 415 and status(ctx, 1) == 200
    assert Image.open(io.BytesIO(out[1])).size == (32, 32)


def test_describe_returns_scale_and_limits(handler_and_context):
    handler, ctx = handler_and_context
    ctx.request_processor = [RequestProcessor({"describe": "True"})]
    [body] = handler.handle([{"body": b""}], ctx)
    info = json.loads(body)
    assert info["scale"] == 4 and info["settings"]["max_input_pixels"] == 50_000


def test_unknown_setting_in_model_config_is_refused():
    ctx = make_context(".", {"tilesize": 3})
    with pytest.raises(ValueError, match="tilesize"):
        settings_from_context(ctx)


def test_kserve_v1_json_gets_base64_images(handler_and_context):
    import base64

    handler, ctx = handler_and_context
    png = base64.b64encode(encode(synthetic_photo(12, 10), "PNG")).decode()
    request = {"body": {"instances": [{"b64": png}, {"data": {"b64": png}, "format": "jpeg"}]}}
    [body] = handler.handle([request], ctx)
    assert status(ctx) == 200 and ctx.get_response_content_type(0) == "application/json"
    predictions = json.loads(body)["predictions"]
    assert [p["content_type"] for p in predictions] == ["image/png", "image/jpeg"]
    first = Image.open(io.BytesIO(base64.b64decode(predictions[0]["b64"])))
    assert first.size == (48, 40) and predictions[0]["size"] == "48x40"


@pytest.mark.parametrize("accept, expected", [
    (None, None), ("*/*", None), ("image/*", None), ("image/webp", "webp"), ("image/png;q=0.2, image/jpeg;q=0.8", "jpeg"),
    ("text/html, image/webp;q=0.9, */*;q=0.1", "webp"), ("image/jpeg;q=0, image/png", "png"),
])
def test_accept_header_picks_the_format(accept, expected):
    from dronesr.serving.requests import format_from_accept

    assert format_from_accept(accept) == expected


def test_accept_with_no_supported_type_is_406_and_echoes_safely():
    from dronesr.errors import ClientError
    from dronesr.serving.requests import format_from_accept

    with pytest.raises(ClientError) as caught:
        format_from_accept("image/gif\r\nX-Evil: 1" + "x" * 500)
    assert caught.value.status == 406
    assert "\r" not in caught.value.message and len(caught.value.message) < 300


def test_parameter_headers_and_fixed_reason_phrase(handler_and_context):
    handler, ctx = handler_and_context
    ctx.request_processor[0] = RequestProcessor({"X-Dronesr-Format": "webp"})
    [body] = handler.handle([{"body": encode(synthetic_photo(16, 16), "PNG")}], ctx)
    assert ctx.get_response_content_type(0) == "image/webp"
    ctx.request_processor[0] = RequestProcessor({"X-Dronesr-Format": "\u00e9\n" * 100})
    handler.handle([{"body": encode(synthetic_photo(16, 16), "PNG")}], ctx)
    code, phrase = ctx.get_response_status(0)
    assert code == 400 and phrase == "Bad Request"


def test_encoder_side_limit_is_a_400_naming_the_formats_that_work(handler_and_context):
    handler, ctx = handler_and_context
    strip = encode(synthetic_photo(1, 4096), "PNG")
    [body] = handler.handle([{"body": strip, "format": "webp"}], ctx)
    assert status(ctx) == 400
    message = json.loads(body)["message"]
    assert "webp limit of 16383" in message and "png" in message


def test_kserve_instances_share_one_pixel_budget(handler_and_context):
    import base64

    handler, ctx = handler_and_context  # max_input_pixels 50_000
    image = base64.b64encode(encode(synthetic_photo(120, 120), "PNG")).decode()  # 14_400 px each
    [body] = handler.handle([{"body": {"instances": [{"b64": image}] * 4}}], ctx)
    assert status(ctx) == 400 and "max_input_pixels" in json.loads(body)["message"]
    ctx.request_processor = [RequestProcessor({})]  # TorchServe gives every request a fresh one
    [body] = handler.handle([{"body": {"instances": [{"b64": image}]}}], ctx)
    assert status(ctx) == 200 and len(json.loads(body)["predictions"]) == 1


def test_reply_over_max_response_size_is_refused_before_torchserve_sees_it(tmp_path, tiny_weights):
    shutil.copy(tiny_weights, tmp_path / "model.pt")
    ctx = make_context(tmp_path, {"max_response_bytes": 2000})
    handler = SuperResolutionHandler()
    handler.initialize(ctx)
    [body] = handler.handle([{"body": encode(synthetic_photo(40, 30), "PNG")}], ctx)
    assert status(ctx) == 400 and "max_response_size" in json.loads(body)["message"]


def test_max_response_bytes_default_is_config_properties_max_response_size():
    from harness import ts_setting

    assert ModelSettings().max_response_bytes == int(ts_setting("max_response_size"))
