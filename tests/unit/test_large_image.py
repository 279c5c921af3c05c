"""Photos of any size in bounded memory (dronesr/streamed.py, dronesr/cli/large_image.py,
dronesr/splice.py) and the command line against a server (dronesr/cli/remote.py, here a stand-in
server running a tiny network; tests/e2e/test_cli_server.py runs a real TorchServe). A tiny
random SRResNet with small tiles gives many windows on small pictures: the stitching is under test,
not the weights."""

from __future__ import annotations

import base64
import io
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from dronesr.checkpoint import save_model
from dronesr.cli import large_image, remote
from dronesr.cli.main import build_parser, main
from dronesr.errors import ClientError
from dronesr.image.codecs import decode_image
from dronesr.sr.upscaler import Upscaler, outscaled_size, prepare_for_inference
from dronesr.image.provenance import Provenance, read_record
from dronesr.image.resample import bicubic_resize
from dronesr.splice import Segments, splice
from dronesr.streamed import Grid, Resampling, enlarge_array, local_enlarger
from harness.torchserve import free_port
from tests.helpers import EXIF_GPS_IFD, EXIF_MAKE, EXIF_ORIENTATION, GPS, camera_jpeg, encode, srgb_icc, synthetic_photo, tiny_srresnet

TILE = 48  # tiny SRResNet: overlap 12 (its receptive field), so windows of 3 tiles are 120 px


@pytest.fixture(scope="module")
def network():
    return tiny_srresnet()


@pytest.fixture
def weights(tmp_path, network):
    path = tmp_path / "tiny.pt"
    save_model(network, path)
    return path


def whole_frame(network, rgb: np.ndarray, size: tuple[int, int] | None = None, tile: int = TILE) -> np.ndarray:
    """The in-process whole-frame result (tiling.upscale_tiled over the frame) in float32."""
    upscaler = Upscaler(prepare_for_inference(network), tile=tile, overlap=12)
    return upscaler.upscale(rgb, size=size)


def run(*args) -> int:
    return main([str(a) for a in args])


# --- stitching -----------------------------------------------------------------------------------

@pytest.mark.parametrize("out", [(30, 41), (114, 249), (57, 83)])
def test_block_resampling_weights_are_torchs_antialiased_bicubic(out):
    image = torch.rand(3, 57, 83, generator=torch.Generator().manual_seed(0))
    reference = bicubic_resize(image[None], out)[0]
    rows, cols = Resampling.build(57, out[0]), Resampling.build(83, out[1])
    whole = cols.apply(rows.apply(image, 1, 0, out[0], 0), 2, 0, out[1], 0)
    assert float((whole - reference).abs().max()) < 1e-4
    # a block of outputs from just the source rows it reads
    start, stop = out[0] // 3, out[0] // 2
    a, b = rows.source(start, stop)
    block = rows.apply(image[:, a:b], 1, start, stop, a)
    assert float((block - rows.apply(image, 1, 0, out[0], 0)[:, start:stop]).abs().max()) < 1e-6


@pytest.mark.parametrize("outscale", [4.0, 2.5, 2.0])
@pytest.mark.parametrize("window_tiles", [1, 2, 3])
def test_windows_match_the_whole_frame_result(network, outscale, window_tiles, one_torch_thread):
    """Feathered windows (and the outscale resize block by block) give the whole-frame tiled result."""
    rgb = synthetic_photo(150, 110)
    size = outscaled_size(150, 110, outscale)
    reference = whole_frame(network, rgb, size, tile=32)
    grid = Grid.build(150, 110, 4, 32, 12, size, window_tiles=window_tiles)
    assert grid.count > 1
    upscaler = Upscaler(prepare_for_inference(network), tile=32, overlap=12)
    result = enlarge_array(rgb, grid, local_enlarger(upscaler, grid))
    difference = np.abs(result.astype(int) - reference.astype(int))
    assert result.shape == reference.shape and difference.max() <= 1 and difference.mean() < 0.01


def test_a_mask_is_enlarged_with_the_picture(network, one_torch_thread):
    rgb, mask = synthetic_photo(100, 80), np.full((80, 100), 255, np.uint8)
    mask[:20, :30] = 0
    grid = Grid.build(100, 80, 4, 32, 12, (400, 320), window_tiles=1, mask_kind="nearest")
    upscaler = Upscaler(prepare_for_inference(network), tile=32, overlap=12)
    result = enlarge_array(rgb, grid, local_enlarger(upscaler, grid), mask=mask)
    assert result.shape == (320, 400, 4)
    assert np.array_equal(result[..., 3], mask.repeat(4, 0).repeat(4, 1))


# --- the command line, in process ----------------------------------------------------------------

def test_a_photo_over_one_window_is_streamed_and_matches_in_memory(tmp_path, weights, network, capsys, one_torch_thread):
    rgb = synthetic_photo(300, 200)
    photo = tmp_path / "p.png"
    photo.write_bytes(encode(rgb))
    assert run("upscale", photo, "-o", tmp_path / "out", "--model", weights, "--tile", TILE, "--precision", "float32") == 0
    err = capsys.readouterr().err
    assert "windows" in err and "tile" in err  # the streamed path, its progress counted in tiles
    result = np.asarray(Image.open(tmp_path / "out" / "p.png"))
    reference = whole_frame(network, rgb)
    assert result.shape == reference.shape and np.abs(result.astype(int) - reference.astype(int)).max() <= 1
    assert not any(p.name.endswith(".partial") for p in (tmp_path / "out").iterdir())


def test_outscale_is_applied_per_block_and_the_limit_counts_what_is_written(tmp_path, weights, network, capsys, one_torch_thread):
    rgb = synthetic_photo(300, 200)
    photo = tmp_path / "p.png"
    photo.write_bytes(encode(rgb))
    # x4 would be 960,000 pixels; x2 writes 240,000: under the limit
    assert run("upscale", photo, "-o", tmp_path / "x2", "--model", weights, "--tile", TILE, "--precision", "float32",
               "--outscale", 2, "--max-output-pixels", 250_000) == 0
    result = np.asarray(Image.open(tmp_path / "x2" / "p.png"))
    reference = whole_frame(network, rgb, (600, 400))
    assert result.shape == (400, 600, 3) and np.abs(result.astype(int) - reference.astype(int)).max() <= 1
    assert run("upscale", photo, "-o", tmp_path / "x3", "--model", weights, "--tile", TILE, "--outscale", 3, "--max-output-pixels", 250_000) == 1
    assert "--max-output-pixels" in capsys.readouterr().err and not (tmp_path / "x3" / "p.png").exists()


def test_jpeg_keeps_the_camera_metadata_and_the_provenance_record(tmp_path, weights, one_torch_thread):
    photo = tmp_path / "dji.jpg"
    photo.write_bytes(camera_jpeg(240, 160))  # stored sideways (Orientation 6): upright 160 wide, 240 high
    assert run("upscale", photo, "-o", tmp_path / "out", "--model", weights, "--tile", TILE, "--precision", "float32") == 0
    image = Image.open(tmp_path / "out" / "dji.jpg")
    assert image.format == "JPEG" and image.size == (640, 960)
    grey = np.asarray(image.convert("L"))
    assert grey[:16].mean() > grey[-16:].mean() + 40  # upright: the bright band on top
    exif = image.getexif()
    assert exif.get(EXIF_ORIENTATION, 1) == 1 and exif[EXIF_MAKE] == "DJI" and dict(exif.get_ifd(EXIF_GPS_IFD)) == GPS
    assert (exif.get_ifd(0x8769)[0xA002], exif.get_ifd(0x8769)[0xA003]) == (640, 960)
    assert image.info.get("icc_profile") == srgb_icc()
    xmp = image.info["xmp"]
    assert b'tiff:Orientation="1"' in xmp and read_record(xmp)["Model"] == "tiny.pt"
    assert run("upscale", photo, "-o", tmp_path / "bare", "--model", weights, "--tile", TILE, "--precision", "float32", "--strip-metadata") == 0
    bare = Image.open(tmp_path / "bare" / "dji.jpg")
    assert len(bare.getexif()) == 0 and "icc_profile" not in bare.info and read_record(bare.info["xmp"])["Model"] == "tiny.pt"


@pytest.mark.parametrize("fmt, pil_format", [("png", "PNG"), ("webp", "WEBP"), ("jpeg", "JPEG")])
def test_spliced_metadata_reads_back_as_pillows_own(tmp_path, fmt, pil_format):
    camera = Image.open(io.BytesIO(camera_jpeg()))
    from dronesr.image.metadata import read_metadata

    metadata = read_metadata(camera)
    record = Provenance("m", "SPAN", 4, {"weights": "ab"})
    pixels = tmp_path / f"plain.{fmt}"
    Image.fromarray(synthetic_photo(48, 64)).save(pixels, format=pil_format)
    target = tmp_path / f"spliced.{fmt}"
    splice(pixels, target, fmt, Segments.of(metadata, pil_format, (48, 64), record), (48, 64))
    image = Image.open(target)
    image.load()
    assert image.size == (48, 64) and image.info.get("icc_profile") == srgb_icc()
    assert dict(image.getexif().get_ifd(EXIF_GPS_IFD)) == GPS
    xmp = image.info.get("xmp") or image.info.get("XML:com.adobe.xmp")
    assert read_record(xmp if isinstance(xmp, bytes) else xmp.encode())["Model"] == "m"


def test_an_interrupted_photo_resumes_where_it_stopped(tmp_path, weights, network, monkeypatch, one_torch_thread):
    rgb = synthetic_photo(300, 200)
    photo, out = tmp_path / "p.png", tmp_path / "out"
    photo.write_bytes(encode(rgb))
    calls = []
    original = large_image.local_enlarger

    def counted(upscaler, grid, ensemble=False):
        enlarge = original(upscaler, grid, ensemble)

        def wrapped(window):
            calls.append(window.shape)
            if len(calls) == 4 and stop:
                raise KeyboardInterrupt
            return enlarge(window)

        return wrapped

    monkeypatch.setattr(large_image, "local_enlarger", counted)
    stop = True
    assert run("upscale", photo, "-o", out, "--model", weights, "--tile", TILE, "--precision", "float32") == 130
    partial = out / ".p.png.partial"
    assert not (out / "p.png").exists() and len(list(partial.glob("done_*"))) == 3
    windows = len(calls) - 1
    calls.clear()
    stop = False
    assert run("upscale", photo, "-o", out, "--model", weights, "--tile", TILE, "--precision", "float32") == 0
    total = Grid.build(300, 200, 4, TILE, 12, (1200, 800), large_image.WINDOW_TILES).count
    assert windows == 3 and len(calls) == total - 3 and not partial.exists()
    result = np.asarray(Image.open(out / "p.png"))
    assert np.abs(result.astype(int) - whole_frame(network, rgb).astype(int)).max() <= 1


def test_limits_default_to_what_the_machine_holds_and_name_the_way_out(tmp_path):
    args = build_parser().parse_args(["upscale", "x.jpg", "-o", str(tmp_path)])
    options = large_image.options_from(args, build_parser())
    assert options.max_input_pixels >= 48_000_000 * 20 and options.max_output_pixels >= 48_000_000 * 16 * 20
    with pytest.raises(ClientError, match="--format tiff"):
        large_image.check_output((70_000, 1000), "jpeg", options.max_output_pixels)
    with pytest.raises(ClientError, match="--format tiff or --format png"):
        large_image.check_output((17_000, 1000), "webp", options.max_output_pixels)
    large_image.check_output((70_000, 1000), "tiff", options.max_output_pixels)


def test_the_server_names_the_way_out_of_its_limit():
    with pytest.raises(ClientError, match="dronesr upscale PHOTO -o OUT --server URL") as info:
        decode_image(encode(synthetic_photo(20, 20)), 100)
    assert info.value.status == 400


# --- the command line against a (stand-in) server ------------------------------------------------

class StandIn(BaseHTTPRequestHandler):
    """TorchServe's /predictions/NAME (raw PNG body, X-Dronesr-* parameters, X-Provenance) and
    KServe v1 :predict, enlarging with the tiny network; ``fail`` answers 503 that many times."""

    upscaler: Upscaler
    requests: list
    fail = 0
    fail_after: int | None = None
    record = Provenance("tiny", "SRResNet", 4, {"weights": "00"}).with_parameters(tile=TILE, overlap=12, precision="float32", device="cpu")

    def log_message(self, *args):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if StandIn.fail > 0 or (StandIn.fail_after is not None and len(StandIn.requests) >= StandIn.fail_after):
            StandIn.fail = max(0, StandIn.fail - 1)
            return self._reply(503, b'{"message": "busy"}', "application/json")
        kserve = self.path.endswith(":predict")
        if kserve:
            instance = json.loads(body)["instances"][0]
            image, params = base64.b64decode(instance["b64"]), {k: v for k, v in instance.items() if k != "b64"}
        else:
            image, params = body, {k[len("X-Dronesr-"):].lower(): v for k, v in self.headers.items() if k.startswith("X-Dronesr-")}
        StandIn.requests.append(params)
        rgb = np.asarray(Image.open(io.BytesIO(image)).convert("RGB"))
        result = encode(self.upscaler.upscale(rgb))
        record = self.record.with_parameters(ensemble=params.get("ensemble"))
        if kserve:
            payload = {"predictions": [{"b64": base64.b64encode(result).decode(), "content_type": "image/png", "provenance": record.fields()}]}
            return self._reply(200, json.dumps(payload).encode(), "application/json")
        self._reply(200, result, "image/png", {"X-Provenance": record.header()})

    def _reply(self, status, body, content_type, headers=None):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def stand_in(network, monkeypatch):
    StandIn.upscaler = Upscaler(prepare_for_inference(network), tile=TILE, overlap=12)
    StandIn.requests, StandIn.fail, StandIn.fail_after = [], 0, None
    monkeypatch.setattr(remote, "WINDOW_SIDE", 130)  # windows of 3 tiles on small pictures
    server = ThreadingHTTPServer(("127.0.0.1", 0), StandIn)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("route", ["/predictions/tiny", "/v1/models/tiny:predict"])
def test_server_windows_match_the_in_process_result(tmp_path, stand_in, network, route, one_torch_thread):
    rgb = synthetic_photo(300, 200)
    photo = tmp_path / "p.png"
    photo.write_bytes(encode(rgb))
    assert run("upscale", photo, "-o", tmp_path / "out", "--server", stand_in + route, "--jobs", 3) == 0
    result = np.asarray(Image.open(tmp_path / "out" / "p.png"))
    difference = np.abs(result.astype(float) - whole_frame(network, rgb).astype(float))
    assert result.shape == (800, 1200, 3) and difference.mean() <= 0.5 and np.percentile(difference, 99.9) <= 3
    assert len(StandIn.requests) > 3 and all(p.get("ensemble") == "false" for p in StandIn.requests[1:])
    record = read_record(Image.open(tmp_path / "out" / "p.png").info["XML:com.adobe.xmp"].encode())
    assert record["Model"] == "tiny" and record["Server"].endswith(route)


def test_a_busy_server_is_retried_and_a_gone_one_stops_the_run(tmp_path, stand_in, monkeypatch, capsys, one_torch_thread):
    monkeypatch.setattr(remote.Endpoint, "backoff", 0.01)
    photo = tmp_path / "p.png"
    photo.write_bytes(encode(synthetic_photo(300, 200)))
    StandIn.fail = 2  # two 503s (the probe tries three times), then answers
    assert run("upscale", photo, "-o", tmp_path / "out", "--server", stand_in) == 0
    assert (tmp_path / "out" / "p.png").exists()
    # nothing listens: a message, exit status 1, nothing written
    assert run("upscale", photo, "-o", tmp_path / "gone", "--server", f"http://127.0.0.1:{free_port()}") == 1
    assert "did not answer" in capsys.readouterr().err and not (tmp_path / "gone").exists()
    # the server goes away after the probe and two windows: stopped, no output, the windows kept
    StandIn.requests, StandIn.fail_after = [], 3
    assert run("upscale", photo, "-o", tmp_path / "away", "--server", stand_in, "--jobs", 1) == 1
    assert "did not answer" in capsys.readouterr().err
    partial = tmp_path / "away" / ".p.png.partial"
    assert not (tmp_path / "away" / "p.png").exists() and len(list(partial.glob("done_*"))) == 2
    StandIn.requests, StandIn.fail_after = [], None  # back: the rerun sends the rest only
    assert run("upscale", photo, "-o", tmp_path / "away", "--server", stand_in) == 0
    total = Grid.build(300, 200, 4, TILE, 12, (1200, 800), 3).count
    assert len(StandIn.requests) == 1 + total - 2 and (tmp_path / "away" / "p.png").exists() and not partial.exists()
    first, resumed = (np.asarray(Image.open(tmp_path / name / "p.png")) for name in ("out", "away"))
    assert np.abs(first.astype(int) - resumed.astype(int)).max() <= 1


def test_video_frames_go_through_the_server_too(tmp_path, stand_in, one_torch_thread):
    import av

    from bench.video_bench import make_clip

    clip = tmp_path / "clip.mp4"
    make_clip(clip, (160, 96), 10, 5, audio=False)
    assert run("upscale", clip, "-o", tmp_path / "out", "--server", stand_in, "--preset", "ultrafast") == 0
    with av.open(str(tmp_path / "out" / "clip.mp4")) as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.width, stream.codec_context.height) == (640, 384) and len(list(container.decode(stream))) == 5
    assert len(StandIn.requests) == 1 + 5 * 2  # the probe, then two windows a frame
