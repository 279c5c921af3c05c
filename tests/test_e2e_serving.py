"""End to end: build the archives with `make archive`, start TorchServe on free loopback ports,
send real images and bad input through HTTP."""

from __future__ import annotations

import io
import subprocess

import pytest
import requests
from PIL import Image

from tests import e2e_server
from tests.conftest import ROOT, drone_photo, encode, synthetic_photo

pytestmark = pytest.mark.e2e
MODELS = ["srgan", "srresnet"]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with e2e_server.serving(tmp_path_factory.mktemp("torchserve"), MODELS) as srv:
        yield srv


def assert_json_error(response, status, words):
    assert response.status_code == status, response.text
    body = response.json()
    assert words in body["message"]


@pytest.mark.parametrize("model", MODELS)
def test_raw_body_gives_png_four_times_larger(server, model):
    response = requests.post(f"{server.inference}/predictions/{model}", data=drone_photo(), timeout=120)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"] == "image/png"
    assert Image.open(io.BytesIO(response.content)).size == (400, 400)


def test_multipart_upload_and_jpeg_output(server):
    files = {"data": ("drone.jpg", drone_photo(), "image/jpeg")}
    response = requests.post(f"{server.gateway}/predictions/srgan?format=jpeg", files=files, timeout=120)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"] == "image/jpeg"
    assert Image.open(io.BytesIO(response.content)).format == "JPEG"


def test_large_frame_is_tiled(server):
    frame = encode(synthetic_photo(300, 170), "PNG")
    response = requests.post(f"{server.inference}/predictions/srresnet", data=frame, timeout=300)
    assert response.status_code == 200, response.text
    assert Image.open(io.BytesIO(response.content)).size == (1200, 680)
    assert int(response.headers["X-Tiles"]) > 1


@pytest.mark.parametrize(
    "body, query, status, words",
    [
        (b"this is not an image", "", 415, "not an image"),
        (b"", "", 400, "empty"),
        ("truncated", "", 400, "truncated"),
        ("photo", "?format=exe", 400, "png, jpeg, webp"),
        ("huge", "", 400, "max_input_pixels"),
    ],
)
def test_bad_input_gets_4xx_json_then_a_good_request_succeeds(server, body, query, status, words):
    jpeg = drone_photo()
    bodies = {"truncated": jpeg[: len(jpeg) // 2], "photo": jpeg, "huge": encode(synthetic_photo(2100, 2000), "PNG", compress_level=1)}
    response = requests.post(f"{server.gateway}/predictions/srgan{query}", data=bodies.get(body, body), timeout=120)
    assert_json_error(response, status, words)
    good = requests.post(f"{server.inference}/predictions/srgan", data=jpeg, timeout=120)
    assert good.status_code == 200


@pytest.mark.parametrize("address", ["inference", "gateway"])
def test_body_over_max_request_size_is_refused(server, address):
    base = getattr(server, address)
    too_big = b"\x00" * (33554432 + 1024)
    response = requests.post(f"{base}/predictions/srgan", data=too_big, timeout=120)
    assert response.status_code == 413
    assert requests.post(f"{base}/predictions/srgan", data=drone_photo(), timeout=120).status_code == 200


def test_form_field_format_reaches_torchserve_directly(server):
    files = {"data": ("drone.jpg", drone_photo(), "image/jpeg")}
    response = requests.post(f"{server.inference}/predictions/srresnet", files=files, data={"format": "webp"}, timeout=120)
    assert response.status_code == 200 and response.headers["Content-Type"] == "image/webp"


def test_gateway_forwards_only_predictions(server):
    assert requests.get(f"{server.gateway}/ping", timeout=10).status_code == 200
    response = requests.post(f"{server.gateway}/models/srgan", timeout=10)
    assert response.status_code == 404 and "predictions" in response.json()["message"]
    assert requests.get(f"{server.gateway}/../config.properties", timeout=10).status_code == 404


def test_handler_metrics_are_exposed_to_prometheus(server):
    assert requests.post(f"{server.inference}/predictions/srresnet", data=drone_photo(), timeout=120).status_code == 200
    text = requests.get(f"{server.metrics}/metrics", timeout=10).text
    for name in ("DronesrHandlerTime", "DronesrInputMegapixels", "DronesrTiles"):
        assert any(line.startswith(name) and 'ModelName="srresnet"' in line for line in text.splitlines()), name


def test_make_scale_sets_workers_through_the_management_api(server):
    result = subprocess.run(["make", "-s", "scale", "MODEL=srresnet", "WORKERS=2", f"MANAGEMENT={server.management}"],
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    workers = requests.get(f"{server.management}/models/srresnet", timeout=10).json()[0]["workers"]
    assert len(workers) == 2 and all(w["status"] == "READY" for w in workers)
    assert '"minWorkers": 2' in result.stdout
    subprocess.run(["make", "-s", "scale", "MODEL=srresnet", "WORKERS=1", f"MANAGEMENT={server.management}"], cwd=ROOT, capture_output=True, timeout=300)
    assert requests.post(f"{server.gateway}/predictions/srresnet", data=drone_photo(), timeout=120).status_code == 200


def test_kserve_v1_json_through_torchserve(server):
    import base64

    payload = {"instances": [{"b64": base64.b64encode(drone_photo()).decode()}]}
    response = requests.post(f"{server.inference}/predictions/srgan", json=payload, timeout=120)
    assert response.status_code == 200, response.text
    [prediction] = response.json()["predictions"]
    assert Image.open(io.BytesIO(base64.b64decode(prediction["b64"]))).size == (400, 400)


def test_curl_data_binary_content_type_is_treated_as_raw_bytes(server):
    # curl --data-binary sends application/x-www-form-urlencoded; TorchServe alone answers 500.
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    response = requests.post(f"{server.gateway}/predictions/srgan?format=jpeg", data=drone_photo(), headers=headers, timeout=120)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"] == "image/jpeg"
