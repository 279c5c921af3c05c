"""End to end: build the archives with `make archive`, start TorchServe on free loopback ports,
send real images and bad input through HTTP."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import subprocess

import numpy as np
import pytest
import requests
import yaml
from PIL import Image

from dronesr.image.provenance import read_record
from harness import ts_setting
from tests.helpers import ROOT, assert_camera_metadata_kept, assert_json_error, assert_no_metadata, camera_jpeg, drone_photo, encode, real_photo, rgb_pixels, synthetic_photo

MODELS = ["srgan", "srresnet"]


@pytest.mark.parametrize("model", MODELS)
def test_raw_body_gives_png_four_times_larger(server, model):
    response = requests.post(f"{server.inference}/predictions/{model}", data=drone_photo(), timeout=120)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"] == "image/png"
    assert Image.open(io.BytesIO(response.content)).size == (400, 400)


def test_multipart_upload_and_jpeg_output(server):
    files = {"data": ("drone.jpg", drone_photo(), "image/jpeg")}
    response = requests.post(f"{server.inference}/predictions/srgan", files=files, data={"format": "jpeg"}, timeout=120)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"] == "image/jpeg"
    assert Image.open(io.BytesIO(response.content)).format == "JPEG"


def test_camera_metadata_is_kept_and_strip_metadata_drops_it(server):
    files = {"data": ("dji.jpg", camera_jpeg(), "image/jpeg")}
    kept = requests.post(f"{server.inference}/predictions/srgan", files=files, data={"format": "jpeg"}, timeout=120)
    assert kept.status_code == 200, kept.text
    assert_camera_metadata_kept(kept.content, 4)
    stripped = requests.post(f"{server.inference}/predictions/srgan", files=files, data={"format": "jpeg", "strip_metadata": "true"}, timeout=120)
    assert stripped.status_code == 200, stripped.text
    assert_no_metadata(stripped.content)
    # the provenance record outlives strip_metadata: XMP and header name the model and its weights
    record = read_record(Image.open(io.BytesIO(stripped.content)).info["xmp"])
    served_gan = yaml.safe_load((ROOT / "handlers" / "srgan-config.yaml").read_text())["handler"]["weights"]
    digest = hashlib.sha256((ROOT / "weights" / served_gan).read_bytes()).hexdigest()
    assert record["Model"] == "srgan" and record["WeightsSha256"] == digest
    assert f"weights_sha256={digest}" in stripped.headers["X-Provenance"]
    headers = {"Content-Type": "image/jpeg", "X-Dronesr-Strip-Metadata": "yes"}
    raw = requests.post(f"{server.inference}/predictions/srresnet", data=camera_jpeg(), headers=headers, timeout=120)
    assert raw.status_code == 200 and raw.headers["Content-Type"] == "image/png"
    assert_no_metadata(raw.content)
    bad = requests.post(f"{server.inference}/predictions/srgan", files=files, data={"strip_metadata": "maybe"}, timeout=120)
    assert_json_error(bad, 400, "strip_metadata must be true or false", "bad_parameter")


@pytest.mark.parametrize("accept, content_type", [("image/webp", "image/webp"), ("image/jpeg;q=0.9, image/png;q=0.5", "image/jpeg"), ("*/*", "image/png")])
def test_raw_body_format_from_the_accept_header(server, accept, content_type):
    headers = {"Content-Type": "image/jpeg", "Accept": accept}
    response = requests.post(f"{server.inference}/predictions/srresnet", data=drone_photo(), headers=headers, timeout=120)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"] == content_type


def test_parameter_header_beats_accept_and_unacceptable_accept_is_406(server):
    headers = {"Content-Type": "image/jpeg", "Accept": "image/png", "X-Dronesr-Format": "webp"}
    response = requests.post(f"{server.inference}/predictions/srresnet", data=drone_photo(), headers=headers, timeout=120)
    assert response.status_code == 200 and response.headers["Content-Type"] == "image/webp"
    response = requests.post(f"{server.inference}/predictions/srresnet", data=drone_photo(), headers={"Accept": "image/gif"}, timeout=120)
    assert_json_error(response, 406, "image/png", "not_acceptable")


def test_curl_upload_file_put_works(server):
    """`curl -T photo.jpg URL` (the README's line) sends a PUT with no Content-Type."""
    result = subprocess.run(["curl", "-sS", "-o", "-", "-w", "%{http_code}", "-T", "-", f"{server.inference}/predictions/srgan"],
                            input=drone_photo(), capture_output=True, timeout=120)
    assert result.stdout.endswith(b"200"), result.stdout[-300:]
    assert Image.open(io.BytesIO(result.stdout[:-3])).size == (400, 400)


def test_cors_allows_the_page_origin_only(server):
    """TorchServe names the page's origin in Access-Control-Allow-Origin, on inference and on
    management: a page from any other origin gets no permission to read a reply."""
    evil = {"Origin": "http://evil.example"}
    for url in (f"{server.inference}/ping", f"{server.management}/models"):
        allowed = requests.get(url, headers=evil, timeout=10).headers.get("Access-Control-Allow-Origin")
        assert allowed == server.page, url
    response = requests.post(f"{server.inference}/predictions/srresnet", files={"data": drone_photo()}, headers={"Origin": server.page}, timeout=120)
    assert response.headers["Access-Control-Allow-Origin"] == server.page
    assert "X-Output-Size" in response.headers["Access-Control-Expose-Headers"]


def test_describe_reports_the_measured_precision(server):
    [model] = requests.get(f"{server.management}/models/srresnet?customized=true", timeout=30).json()
    metadata = model["customizedMetadata"]
    precision = (json.loads(metadata) if isinstance(metadata, str) else metadata)["precision"]
    assert precision["precision"] in ("float32", "bfloat16") and "float32" in precision["seconds"]
    assert precision["device"].startswith("cpu") or precision["device"].startswith("cuda")
    text = requests.get(f"{server.metrics}/metrics", timeout=10).text
    assert any(line.startswith("DronesrPrecisionTileMs") for line in text.splitlines())


def test_page_server_serves_the_page_only(server):
    page = requests.get(f"{server.page}/", timeout=10)
    assert page.status_code == 200 and "<html" in page.text.lower()
    assert "Python" not in page.headers.get("Server", "") and "/" not in page.headers.get("Server", "")
    assert requests.get(f"{server.page}/config.json", timeout=10).json() == {"api": server.inference, "max_upload_bytes": int(ts_setting("max_request_size"))}
    for path in ("/../config.properties", "/server.py", "/%2e%2e/config.properties", "/" + "a" * 300):
        response = requests.get(f"{server.page}{path}", timeout=10)
        assert response.status_code in (404, 414) and "message" in response.json(), path
    response = requests.post(f"{server.page}/predictions/srgan", data=b"x", timeout=10)
    assert response.status_code == 405 and response.json()["code"] == "method_not_allowed" and response.json()["status"] == 405


def test_large_frame_is_tiled(server):
    frame = encode(synthetic_photo(300, 170), "PNG")
    response = requests.post(f"{server.inference}/predictions/srresnet", data=frame, timeout=300)
    assert response.status_code == 200, response.text
    assert Image.open(io.BytesIO(response.content)).size == (1200, 680)
    assert int(response.headers["X-Tiles"]) > 1


@pytest.mark.parametrize(
    "body, fmt, status, words",
    [
        (b"this is not an image", "", 415, "not an image"),
        (b"", "", 400, "empty"),
        ("truncated", "", 400, "truncated"),
        ("photo", "exe", 400, "png, jpeg, webp"),
        ("huge", "", 400, "max_input_pixels"),
    ],
)
def test_bad_input_gets_4xx_json_then_a_good_request_succeeds(server, body, fmt, status, words):
    jpeg = drone_photo()
    bodies = {"truncated": jpeg[: len(jpeg) // 2], "photo": jpeg, "huge": encode(synthetic_photo(2100, 2000), "PNG", compress_level=1)}
    headers = {"X-Dronesr-Format": fmt} if fmt else {}
    response = requests.post(f"{server.inference}/predictions/srgan", data=bodies.get(body, body), headers=headers, timeout=120)
    assert_json_error(response, status, words)
    good = requests.post(f"{server.inference}/predictions/srgan", data=jpeg, timeout=120)
    assert good.status_code == 200


def test_body_over_max_request_size_is_refused(server):
    base = server.inference
    too_big = b"\x00" * (int(ts_setting("max_request_size")) + 1024)
    response = requests.post(f"{base}/predictions/srgan", data=too_big, timeout=120)
    assert response.status_code == 413 and "dronesr upscale PHOTO -o OUT --server URL" in response.json()["message"]
    assert requests.post(f"{base}/predictions/srgan", data=drone_photo(), timeout=120).status_code == 200


def test_form_field_format_reaches_torchserve_directly(server):
    files = {"data": ("drone.jpg", drone_photo(), "image/jpeg")}
    response = requests.post(f"{server.inference}/predictions/srresnet", files=files, data={"format": "webp"}, timeout=120)
    assert response.status_code == 200 and response.headers["Content-Type"] == "image/webp"


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
    assert requests.post(f"{server.inference}/predictions/srresnet", data=drone_photo(), timeout=120).status_code == 200


def test_kserve_v1_json_through_torchserve(server):
    payload = {"instances": [{"b64": base64.b64encode(drone_photo()).decode()}]}
    response = requests.post(f"{server.inference}/predictions/srgan", json=payload, timeout=120)
    assert response.status_code == 200, response.text
    [prediction] = response.json()["predictions"]
    assert Image.open(io.BytesIO(base64.b64decode(prediction["b64"]))).size == (400, 400)


def test_evaluation_through_the_served_api_matches_in_process(server, tmp_path, capsys):
    """make evaluate SERVED=...: the served model's PSNR equals the in-process one's run as served
    (restore=auto from the JPEG file, within the low-precision drift the worker accepted)."""
    from dronesr.sr.resolver import SuperResolver
    from training import evaluate

    folder = tmp_path / "hr"
    folder.mkdir()
    for i in range(2):
        Image.fromarray(synthetic_photo(96, 64, seed=i)).save(folder / f"photo_{i}.png")
    paths = sorted(folder.iterdir())
    served = evaluate.evaluate({"s": evaluate.served(f"{server.inference}/predictions/srresnet")}, paths, 4, "jpeg75")["s"][0]
    local = evaluate.evaluate({"l": evaluate.as_served(SuperResolver.open("srresnet", precision="float32", execution="pytorch"))}, paths, 4, "jpeg75")["l"][0]
    assert served == pytest.approx(local, abs=0.05)
    assert evaluate.main(["--served", server.inference, "--models", "srresnet", "--sets", str(folder), "--degradations", "clean,noise5"]) == 0
    out = capsys.readouterr().out
    assert "srresnet (served)" in out and "noise5" in out


def served_pixels(server, model: str, photo: bytes, **form: str) -> np.ndarray:
    response = requests.post(f"{server.inference}/predictions/{model}", files={"data": ("p.png", photo, "image/png")}, data=form, timeout=180)
    assert response.status_code == 200, response.text
    return rgb_pixels(response.content)


def test_fidelity_runs_from_the_gan_to_the_faithful_twin(server):
    """fidelity spans the whole way: 0 is the GAN itself, 1 its faithful twin (srgan's own
    clean-input and restoration networks since issue #29), the default (srgan-config.yaml's
    default_fidelity) between; the faithful end is nearer srresnet's result than the GAN is."""
    photo = drone_photo()
    default = served_pixels(server, "srgan", photo)
    middle = yaml.safe_load((ROOT / "handlers" / "srgan-config.yaml").read_text())["handler"]["default_fidelity"]
    assert 0 < middle < 1
    zero, half, one = (served_pixels(server, "srgan", photo, fidelity=value).astype(np.int16) for value in ("0", f"{middle:g}", "1"))
    srresnet = served_pixels(server, "srresnet", photo, ensemble="false").astype(np.int16)
    assert np.array_equal(half, default)
    assert np.abs(zero - half).max() > 2 and np.abs(half - one).max() > 2
    assert np.abs(one - srresnet).mean() < np.abs(zero - srresnet).mean()
    response = requests.post(f"{server.inference}/predictions/srresnet", files={"data": photo}, data={"fidelity": "0.5"}, timeout=60)
    assert_json_error(response, 400, "Unknown parameter", "unknown_parameter")


def test_srresnet_averages_eight_passes_on_small_uploads_and_says_so(server):
    """ensemble=auto: srresnet's ensemble_auto_pixels (240x240) take in a 100x100 photo, srgan's
    (0) nothing; ensemble=true over max_ensemble_pixels is refused before any work."""
    url = f"{server.inference}/predictions"
    small = requests.post(f"{url}/srresnet", data=drone_photo(), timeout=120)
    assert small.status_code == 200 and small.headers["X-Ensemble"].startswith("8 (auto: 100x100 input")
    assert "X-Ensemble" in small.headers.get("Access-Control-Expose-Headers", "X-Ensemble")
    gan = requests.post(f"{url}/srgan", data=drone_photo(), timeout=120)
    assert gan.status_code == 200 and gan.headers["X-Ensemble"] == "1 (auto: not for this model)"
    large = requests.post(f"{url}/srresnet", files={"data": encode(synthetic_photo(1001, 1000), "PNG")}, data={"ensemble": "true"}, timeout=120)
    assert_json_error(large, 400, "max_ensemble_pixels", "too_large")


@pytest.mark.parametrize("model", MODELS)
def test_outscale_gives_exactly_the_asked_size_and_refuses_outside_one_to_four(server, model):
    photo = encode(synthetic_photo(50, 30), "PNG")
    response = requests.post(f"{server.inference}/predictions/{model}", data=photo, headers={"X-Dronesr-Outscale": "2"}, timeout=120)
    assert response.status_code == 200, response.text
    assert Image.open(io.BytesIO(response.content)).size == (100, 60) and response.headers["X-Output-Size"] == "100x60"
    for value in ("5", "1"):
        response = requests.post(f"{server.inference}/predictions/{model}", files={"data": photo}, data={"outscale": value}, timeout=60)
        assert_json_error(response, 400, "outscale must be above 1 and at most 4")


def test_a_region_through_torchserve_is_that_window_of_the_whole_reply(server):
    """The issue's check: form fields data and region=150,100,60,45 on a 400x300 PNG answer
    240x180 within 1.5 grey levels (mean) of the same window of the whole frame's reply."""
    photo = encode(real_photo(400, 300))
    whole = served_pixels(server, "srresnet", photo)
    part = served_pixels(server, "srresnet", photo, region="150,100,60,45")
    assert part.shape == (180, 240, 3)
    assert np.abs(part - whole[400:580, 600:840]).mean() <= 1.5
    outside = requests.post(f"{server.inference}/predictions/srresnet", files={"data": ("p.png", photo, "image/png")}, data={"region": "390,0,20,20"}, timeout=120)
    assert_json_error(outside, 400, "the frame is 400x300", "bad_parameter")


def test_srgan_answers_its_invention_map(server):
    photo = encode(real_photo(120, 90))
    mapped = served_pixels(server, "srgan", photo, output="map")
    assert mapped.shape == (360, 480, 3) and mapped.max() > 100  # some departure shows, on the ramp
    refused = requests.post(f"{server.inference}/predictions/srresnet", files={"data": ("p.png", photo, "image/png")}, data={"output": "map"}, timeout=120)
    assert_json_error(refused, 400, "Unknown parameter")


def test_query_string_parameters_are_honoured_or_refused_never_dropped(server):
    """TorchServe 0.12 drops the query string of /predictions: the guard hands each parameter to
    the handler as its X-Dronesr-<Name> header, or refuses the request with a 400 JSON."""
    photo = encode(synthetic_photo(40, 30))
    url = f"{server.inference}/predictions/srresnet"
    webp = requests.post(f"{url}?format=webp&outscale=2&strip_metadata=yes", data=photo, timeout=120)
    assert webp.status_code == 200 and webp.headers["Content-Type"] == "image/webp"
    assert webp.content[8:12] == b"WEBP" and webp.headers["X-Output-Size"] == "80x60"
    form = requests.post(f"{url}?format=jpeg", files={"data": ("p.png", photo, "image/png")}, timeout=120)
    assert form.status_code == 200 and form.headers["Content-Type"] == "image/jpeg"
    kserve = requests.post(
        f"{server.inference}/v1/models/srresnet:predict?format=jpeg",
        json={"instances": [{"b64": base64.b64encode(photo).decode()}]}, timeout=120,
    )
    assert kserve.status_code == 200 and kserve.json()["predictions"][0]["content_type"] == "image/jpeg"
    refused = {
        "?bogus=1": "bogus",  # the handler: unknown parameter, naming the ones it accepts
        "?format=gif": "format",  # the handler: a bad value
        "?Format=webp": "names are lower-case",  # the guard, below: never echoing a bad name
        "?format=webp&format=png": "more than once",
        "?format=%0d%0aX-Evil:%201": "control characters",
        "?format=%zz": "output format",  # Netty keeps a bad %-escape as text: the handler refuses the value
    }
    for query, words in refused.items():
        reply = requests.post(url + query, data=photo, timeout=120)
        assert reply.status_code == 400 and reply.headers["Content-Type"].startswith("application/json"), query
        assert words in reply.text and "X-Evil" not in reply.headers, query
        assert reply.json()["code"] == ("unknown_parameter" if query == "?bogus=1" else "bad_parameter" if query in ("?format=gif", "?format=%zz") else "bad_request"), query
    both = requests.post(f"{url}?format=webp", data=photo, headers={"X-Dronesr-Format": "png"}, timeout=120)
    assert both.status_code == 400 and "more than once" in both.text
    # the management API keeps its own query parameters
    assert requests.get(f"{server.management}/models?limit=5", timeout=30).status_code == 200

