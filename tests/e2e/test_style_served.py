"""End to end for /predictions/style: a real TorchServe with the shipped style weights, as raw bodies
with X-Dronesr-* parameter headers and as multipart forms, straight to TorchServe."""

from __future__ import annotations

import io
import json

import numpy as np
import requests
from PIL import Image

from tests.helpers import drone_photo, encode, mean_chroma, synthetic_photo



def test_style_by_parameter_headers(server):
    headers = {"Content-Type": "image/jpeg", "X-Dronesr-Style": "udnie", "Accept": "image/jpeg"}
    response = requests.post(f"{server.inference}/predictions/style", data=drone_photo(), headers=headers, timeout=120)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"] == "image/jpeg"
    assert Image.open(io.BytesIO(response.content)).size == (100, 100)


def test_style_as_multipart_with_strength_and_blend(server):
    files = {"data": ("photo.jpg", drone_photo(), "image/jpeg")}
    form = {"style": "starry_night", "strength": "0.5", "blend": "mosaic:0.3"}
    response = requests.post(f"{server.inference}/predictions/style", files=files, data=form, timeout=120)
    assert response.status_code == 200, response.text
    assert Image.open(io.BytesIO(response.content)).size == (100, 100)


def test_unknown_style_lists_the_available_ones(server):
    response = requests.post(f"{server.inference}/predictions/style", files={"data": drone_photo()}, data={"style": "picasso"}, timeout=60)
    assert response.status_code == 400
    message = response.json()["message"]
    for name in ("starry_night", "the_scream", "shipwreck", "woman-with-hat-matisse", "udnie", "mosaic"):
        assert name in message


def test_management_api_describes_the_styles(server):
    # TorchServe calls the handler's describe for GET /models/<name>?customized=true
    response = requests.get(f"{server.management}/models/style?customized=true", timeout=60)
    assert response.status_code == 200, response.text
    metadata = response.json()[0]["customizedMetadata"]
    metadata = json.loads(metadata) if isinstance(metadata, str) else metadata
    assert metadata["styles"] == ["mosaic", "shipwreck", "starry_night", "the_scream", "udnie", "woman-with-hat-matisse"]
    assert metadata["default_style"] == "mosaic"
    # the execution path chosen at worker start, as SR's describe says it (precision: auto, execution: auto)
    precision = metadata["precision"]
    assert precision["execution"] in ("pytorch", "onnxruntime") and precision["device"].startswith("cpu")
    assert {"float32", "bfloat16", "onnxruntime"} <= set(precision["psnr_db_vs_float32"]) | {"float32"}
    assert f"{metadata['min_psnr_db']:g} dB" in precision["reason"]


def test_large_input_is_scaled_down_and_says_so(server):
    big = encode(synthetic_photo(1500, 300), "PNG")
    response = requests.post(f"{server.inference}/predictions/style", data=big, headers={"X-Dronesr-Style": "mosaic"}, timeout=120)
    assert response.status_code == 200, response.text
    assert response.headers.get("X-Resized-From") == "1500x300"
    assert Image.open(io.BytesIO(response.content)).size[0] == 1024


def test_preserve_colour_keeps_the_photos_mean_chroma(server):
    photo = synthetic_photo(96, 64)
    for preserve, close in (("true", True), ("false", False)):
        form = {"style": "starry_night", "preserve_colour": preserve, "format": "png"}
        response = requests.post(f"{server.inference}/predictions/style", files={"data": encode(photo, "PNG")}, data=form, timeout=120)
        assert response.status_code == 200, response.text
        result = np.asarray(Image.open(io.BytesIO(response.content)).convert("RGB"))
        shift = np.abs(mean_chroma(result) - mean_chroma(photo)).max()
        assert (shift <= 3) == close, (preserve, shift)
