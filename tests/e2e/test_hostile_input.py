"""Hostile and odd uploads to a real TorchServe's inference API: each gets either a correct
image or a 4xx JSON reply naming the problem, and the same worker process then serves a good request.

tests/e2e/test_serving.py covers the first bad-input cases (and the byte limit straight to TorchServe);
this module adds the odd-but-valid images (1x1, 16-bit, CMYK, palette, alpha, EXIF rotation,
animation), more hostile bodies, and checks the worker's PID after each (a crash that TorchServe
quietly restarts would otherwise pass)."""

from __future__ import annotations

import base64
import concurrent.futures
import io
import json
import re
import socket
import time
from collections.abc import Callable

import numpy as np
import pytest
import requests
from PIL import Image

from dronesr.errors import CODES
from harness import ts_setting
from tests.helpers import assert_json_error, encode, png_16bit_rgb, png_header_only, synthetic_photo

MODEL = "srgan"  # every hostile request goes to this model; its worker PID must not change
MAX_REQUEST_SIZE = int(ts_setting("max_request_size"))
RED = (230, 20, 20)


def worker_pid(server) -> int:
    [worker] = requests.get(f"{server.management}/models/{MODEL}", timeout=10).json()[0]["workers"]
    return worker["pid"]


def post(server, **kwargs) -> requests.Response:
    """POST to the model's inference API; kwargs go to requests (data=..., json=..., headers=...)."""
    return requests.post(f"{server.inference}/predictions/{MODEL}", timeout=120, **kwargs)


def assert_same_worker_serves(server, pid: int) -> None:
    """The next good request succeeds, on the worker that took the hostile one."""
    good = post(server, data=encode(synthetic_photo(24, 16), "PNG"))
    assert good.status_code == 200, good.text
    assert Image.open(io.BytesIO(good.content)).size == (96, 64)
    assert worker_pid(server) == pid, "the worker was replaced: the hostile request killed it"


# --- odd but valid images ---------------------------------------------------------------------
def save(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def rgba_png() -> bytes:
    """16x8, left half fully transparent, right half opaque."""
    alpha = np.zeros((8, 16), np.uint8)
    alpha[:, 8:] = 255
    return encode(np.dstack([synthetic_photo(16, 8), alpha]), "PNG")


def exif_rotated_jpeg() -> bytes:
    """Stored 40x20 with a red top-left corner and EXIF orientation 6 (display rotated 90 degrees
    clockwise): upright it is 20x40 with the red corner at the top right."""
    image = Image.new("RGB", (40, 20), (128, 128, 128))
    image.paste(RED, (0, 0, 10, 10))
    exif = Image.Exif()
    exif[0x0112] = 6
    return save(image, "JPEG", quality=95, exif=exif.tobytes())


def animated_gif() -> bytes:
    """Three 12x12 frames: red, green, blue. The first frame is the one to upscale."""
    frames = [Image.new("RGB", (12, 12), color).convert("P") for color in (RED, (20, 200, 20), (20, 20, 230))]
    return save(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)


def mean_color(image: Image.Image, box: tuple[int, int, int, int]) -> np.ndarray:
    return np.asarray(image.convert("RGB").crop(box), np.float64).reshape(-1, 3).mean(axis=0)


def is_red(color: np.ndarray) -> bool:
    return color[0] > 150 and color[1] < 90 and color[2] < 90


def check_alpha(image: Image.Image) -> None:
    assert image.mode == "RGBA", image.mode
    alpha = np.asarray(image)[..., 3]
    assert alpha[:, :24].max() < 30 and alpha[:, 40:].min() > 225  # away from the bicubic edge at x=32


def check_upright(image: Image.Image) -> None:
    assert is_red(mean_color(image, (60, 0, 80, 20))), "the red corner is not at the top right"
    for corner in ((0, 0, 20, 20), (0, 140, 20, 160), (60, 140, 80, 160)):
        assert not is_red(mean_color(image, corner)), corner


def check_first_frame(image: Image.Image) -> None:
    assert is_red(mean_color(image, (8, 8, 40, 40)))


def check_ramp(image: Image.Image) -> None:
    gray = np.asarray(image.convert("L"), np.float64)
    assert gray[:, :8].mean() < 40 and gray[:, -8:].mean() > 215  # the 16-bit range kept, not clipped


IMAGES: dict[str, tuple[Callable[[], bytes], tuple[int, int], Callable[[Image.Image], None] | None]] = {
    "1x1": (lambda: encode(np.full((1, 1, 3), 200, np.uint8), "PNG"), (4, 4), None),
    "16-bit-png": (lambda: png_16bit_rgb(16, 8), (64, 32), check_ramp),
    "cmyk-jpeg": (lambda: encode(synthetic_photo(16, 12), "JPEG", mode="CMYK", quality=95), (64, 48), None),
    "palette-png": (lambda: encode(synthetic_photo(16, 12), "PNG", mode="P"), (64, 48), None),
    "rgba-png": (rgba_png, (64, 32), check_alpha),
    "exif-rotated-jpeg": (exif_rotated_jpeg, (80, 160), check_upright),
    "animated-gif": (animated_gif, (48, 48), check_first_frame),
}


@pytest.mark.parametrize("name", IMAGES)
def test_odd_image_is_upscaled_upright_with_its_alpha(server, name):
    build, size, check = IMAGES[name]
    pid = worker_pid(server)
    response = post(server, data=build())
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"] == "image/png"
    image = Image.open(io.BytesIO(response.content))
    assert image.format == "PNG" and image.size == size
    assert response.headers["X-Output-Size"] == f"{size[0]}x{size[1]}"
    if check:
        check(image)
    assert_same_worker_serves(server, pid)


# --- requests that must be refused -------------------------------------------------------------
def truncated_jpeg(in_headers: bool) -> bytes:
    """A JPEG cut inside its headers (before the scan) or halfway through its compressed pixels:
    Pillow fails at open in the first case and at load in the second, two different code paths."""
    jpeg = encode(synthetic_photo(64, 48), "JPEG")
    scan = jpeg.index(b"\xff\xda")  # start of scan
    return jpeg[: scan // 2] if in_headers else jpeg[: scan + (len(jpeg) - scan) // 2]


def kserve(b64: str, **params: str) -> dict:
    return {"json": {"instances": [{"b64": b64, **params}]}}


def small_png() -> bytes:
    return encode(synthetic_photo(8, 8), "PNG")


def with_headers(**headers: str) -> Callable[[], dict]:
    return lambda: {"data": small_png(), "headers": {k.replace("_", "-"): v for k, v in headers.items()}}


REFUSALS: dict[str, tuple[Callable[[], dict], int, str]] = {
    # name: (requests.post keyword arguments, status, words in the message)
    "not-an-image": (lambda: {"data": b"%PDF-1.7\n1 0 obj << /Type /Catalog >>"}, 415, "not an image"),
    "jpeg-cut-in-headers": (lambda: {"data": truncated_jpeg(in_headers=True)}, 400, "could not be read"),
    "jpeg-cut-in-pixels": (lambda: {"data": truncated_jpeg(in_headers=False)}, 400, "truncated"),
    "empty-body": (lambda: {"data": b""}, 400, "empty"),
    "decompression-bomb": (lambda: {"data": png_header_only(100_000, 100_000)}, 400, "max_input_pixels"),
    "output-over-limit": (lambda: {"data": encode(np.full((1600, 1600, 3), 90, np.uint8), "PNG")}, 400, "max_output_pixels"),
    "format-exe": (with_headers(X_Dronesr_Format="exe"), 400, "png, jpeg, webp"),
    "unknown-parameter": (with_headers(X_Dronesr_Colour="red"), 400, "Unknown parameter(s) 'colour'"),
    "malformed-parameter": (with_headers(X_Dronesr_1x="2"), 400, "is not valid"),
    # These killed a worker once: client text echoed into the HTTP reason phrase.
    "latin1-format": (lambda: {"data": small_png(), "headers": {"X-Dronesr-Format": "\xe9".encode("latin-1")}}, 400, "png, jpeg, webp"),
    "latin1-unknown-style": (lambda: {"files": {"data": small_png()}, "data": {"style": "\xe9"}}, 400, "Unknown parameter(s) 'style'"),
    "kserve-key-newline": (lambda: kserve(base64.b64encode(small_png()).decode(), **{"x\ny": "1"}), 400, "is not valid"),
    "kserve-key-return": (lambda: kserve(base64.b64encode(small_png()).decode(), **{"x\ry": "1"}), 400, "is not valid"),
    "huge-form-field": (lambda: {"files": {"data": small_png()}, "data": {"format": "p" * 90_000}}, 400, "png, jpeg, webp"),
    # TorchServe's frontend (Netty) refuses this itself, before any handler; the connection guard
    # (tsguard/) gives its bodiless 413 the JSON body.
    "over-size-limit": (lambda: {"data": b"\x00" * (MAX_REQUEST_SIZE + 1)}, 413, f"limit of {MAX_REQUEST_SIZE} bytes"),
    # A text body labelled as a form that is not one: TorchServe answered 500 (the guard: 400).
    "urlencoded-bad-form": (lambda: {"data": b"format=%zz", "headers": {"Content-Type": "application/x-www-form-urlencoded"}}, 400, "not a valid form"),
    "json-not-kserve": (lambda: {"json": {"image": "x"}}, 400, "KServe v1"),
    "kserve-bad-base64": (lambda: kserve("not base64!"), 400, "not valid base64"),
    "kserve-not-an-image": (lambda: kserve(base64.b64encode(b"GIF89a and no more").decode()), 415, "not an image"),
}


@pytest.mark.parametrize("name", REFUSALS)
def test_hostile_request_gets_4xx_json_naming_the_problem(server, name):
    build, status, words = REFUSALS[name]
    pid = worker_pid(server)
    response = post(server, **build())
    assert response.headers.get("Content-Type", "").startswith("application/json"), response.headers
    assert_json_error(response, status, words)
    assert_same_worker_serves(server, pid)


def test_an_image_posted_as_curl_posts_it_by_default_is_upscaled(server):
    """curl --data-binary @photo.png labels it application/x-www-form-urlencoded; TorchServe
    answered 500. A form is text, an image is not: the guard passes it on as the raw body."""
    pid = worker_pid(server)
    response = post(server, data=encode(synthetic_photo(24, 16), "PNG"), headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code == 200, response.text
    assert Image.open(io.BytesIO(response.content)).size == (96, 64)
    assert_same_worker_serves(server, pid)


WORKER_KILLERS = ["latin1-format", "latin1-unknown-style", "kserve-key-newline", "kserve-key-return"]


def test_inputs_that_once_killed_a_worker_five_times_in_a_row(server):
    """Each of the hostile run's one-request denials of service, sent 5 times: 4xx JSON every
    time, and the worker that answered them is the one that answers next."""
    pid = worker_pid(server)
    for name in WORKER_KILLERS:
        build, status, words = REFUSALS[name]
        for _ in range(5):
            response = post(server, **build())
            assert_json_error(response, status, words)
    assert_same_worker_serves(server, pid)


def test_result_over_the_webp_side_limit_is_a_400_naming_what_works(server):
    pid = worker_pid(server)
    strip = encode(synthetic_photo(1, 4096), "PNG")  # x4: 4 x 16384, one over libwebp's 16383
    response = post(server, files={"data": strip}, data={"format": "webp"})
    assert_json_error(response, 400, "webp limit of 16383", "too_large")
    assert "png" in response.json()["message"]
    assert_same_worker_serves(server, pid)


# --- HTTP framing, methods, slow clients, concurrency (TorchServe's own frontend) ----------------
def raw_exchange(server, request: bytes, timeout: float = 30) -> tuple[int, bytes, int]:
    """Send raw bytes on one connection and read what comes back until the server closes it or
    stays quiet for a second after a complete response; returns (status, body of the first
    response, number of responses seen)."""
    host, port = server.inference.removeprefix("http://").split(":")
    data, deadline = b"", time.monotonic() + timeout
    with socket.create_connection((host, int(port)), timeout=timeout) as connection:
        connection.sendall(request)
        while time.monotonic() < deadline:
            head, _, body = data.partition(b"\r\n\r\n")
            length = re.search(rb"(?im)^content-length:\s*(\d+)", head)
            complete = bool(length) and len(body) >= int(length.group(1))
            connection.settimeout(1.0 if complete else max(0.1, deadline - time.monotonic()))
            try:
                chunk = connection.recv(65536)
            except TimeoutError:
                break
            except ConnectionResetError:  # Netty closes at once after refusing a malformed request
                break
            if not chunk:
                break
            data += chunk
    assert data, "no reply"
    head, _, body = data.partition(b"\r\n\r\n")
    length = re.search(rb"(?im)^content-length:\s*(\d+)", head)
    return int(head.split(b" ", 2)[1]), body[: int(length.group(1))] if length else body, data.count(b"HTTP/1.1 ")


def raw_post(*headers: bytes, body: bytes = b"") -> bytes:
    return b"\r\n".join([b"POST /predictions/" + MODEL.encode() + b" HTTP/1.1", b"Host: 127.0.0.1", *headers, b"", body])


FRAMINGS = {
    # name: (raw request, status)
    "duplicate-content-length": (lambda: raw_post(b"Content-Type: image/png", b"Content-Length: %d" % len(small_png()), b"Content-Length: 5", body=small_png()), 400),
    "garbage-request-line": (lambda: b"HELLO\r\n\r\n", 400),
    "20-kb-header": (lambda: b"GET /ping HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Pad: " + b"a" * 20_000 + b"\r\n\r\n", 400),
    "9-kb-url": (lambda: b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", 400),
    "utf8-parameter-header": (lambda: raw_post("X-Dronesr-Format: é".encode(), b"Content-Type: image/png", b"Content-Length: %d" % len(small_png()), body=small_png()), 400),
    "negative-content-length": (lambda: raw_post(b"Content-Type: image/png", b"Content-Length: -5"), 400),  # the guard; Netty waited for ever
    "rebound-host": (lambda: b"GET /ping HTTP/1.1\r\nHost: evil.example\r\n\r\n", 403),  # DNS rebinding: the guard
    "delete-method": (lambda: b"DELETE /predictions/" + MODEL.encode() + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", 400),
    "chunked-upload": (lambda: raw_post(b"Content-Type: image/png", b"Transfer-Encoding: chunked", body=b"%x\r\n" % len(small_png()) + small_png() + b"\r\n0\r\n\r\n"), 200),
}


@pytest.mark.parametrize("name", FRAMINGS)
def test_odd_http_framing_gets_one_answer(server, name):
    build, expected = FRAMINGS[name]
    pid = worker_pid(server)
    status, body, responses = raw_exchange(server, build())
    assert (status, responses) == (expected, 1), body[:200]
    if status >= 400:
        reply = json.loads(body)  # JSON, from TorchServe (code: the status) or this project (a word, and the status)
        assert reply["code"] == status or (reply["status"] == status and reply["code"] in CODES), reply
        assert b"Traceback" not in body and b".py" not in body
    assert_same_worker_serves(server, pid)


def test_a_slow_client_does_not_hold_up_the_others(server):
    """A client that sends half a request and stalls holds a socket, not a thread: TorchServe's
    event loop serves the next client at once (and the connection guard closes the stalled ones
    at its request timeout: tests/e2e/test_tsguard.py)."""
    host, port = server.inference.removeprefix("http://").split(":")
    stalled = [socket.create_connection((host, int(port)), timeout=10) for _ in range(20)]
    try:
        for connection in stalled:
            connection.sendall(raw_post(b"Content-Type: image/png", b"Content-Length: 100000", body=b"\x89PNG"))
        started = time.monotonic()
        response = post(server, data=small_png())
        assert response.status_code == 200 and time.monotonic() - started < 10
    finally:
        for connection in stalled:
            connection.close()


def test_concurrent_requests_are_all_answered_by_the_same_worker(server):
    pid = worker_pid(server)
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(lambda _: post(server, data=encode(synthetic_photo(32, 24), "PNG")).status_code, range(16)))
    assert set(statuses) <= {200, 503} and statuses.count(200) >= 8, statuses  # 503: TorchServe's queue full (job_queue_size)
    assert_same_worker_serves(server, pid)
