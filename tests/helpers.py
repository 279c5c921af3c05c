"""Helpers the tests share (test modules import these, never each other): synthetic and camera
images, tiny networks, a mock TorchServe context, and checks on replies. Fixtures live in
conftest.py."""

from __future__ import annotations

import functools
import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from ts.context import Context, RequestProcessor

from dronesr.archs import SRResNet, StyleNet
from dronesr.archs.style_net import ConditionalInstanceNorm
from dronesr.image.colour import rgb_to_ycbcr
from dronesr.errors import CODES
from dronesr.image.codecs import rgb_to_tensor
from harness import ROOT
from harness.images import synthetic_photo  # noqa: F401 - the tests import it from here

SHARED_DATA = ROOT.parent / "shared" / "data"
SHIPPED_MODELS = ["srgan", "srresnet", "style"]  # the archives `make archive` builds


def needs_shared(*parts: str) -> Path:
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} not present (../shared is optional)")
    return path


def encode(array: np.ndarray, fmt: str = "PNG", mode: str | None = None, **options) -> bytes:
    image = Image.fromarray(array)
    if mode:
        image = image.convert(mode)
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def real_photo(width: int, height: int) -> np.ndarray:
    """An IFO photo of a drone at this size (H x W x 3 uint8) when ../shared is there, else a synthetic one."""
    sample = SHARED_DATA / "ifo" / "Large_QuadCopters"
    if sample.exists():
        return np.asarray(Image.open(sorted(sample.iterdir())[1]).convert("RGB").resize((width, height), Image.BICUBIC))
    return synthetic_photo(width, height)


def drone_photo() -> bytes:
    """A 100x100 JPEG of a real drone when ../shared is there, else a synthetic photo."""
    sample = SHARED_DATA / "ifo" / "Small_QuadCopters"
    if sample.exists():
        image = Image.open(sorted(sample.iterdir())[0]).convert("RGB").resize((100, 100), Image.BICUBIC)
        return encode(np.asarray(image), "JPEG", quality=90)
    return encode(synthetic_photo(100, 100), "JPEG", quality=90)


def tiny_srresnet(scale: int = 4, seed: int = 0) -> SRResNet:
    """A small generator whose residual branch is not zero (so it differs from bicubic)."""
    torch.manual_seed(seed)
    model = SRResNet(scale=scale, channels=8, num_blocks=2)
    torch.nn.init.normal_(model.tail.weight, std=0.01)
    return model.eval()


class RecordingMetrics:
    def __init__(self):
        self.times = []

    def add_metric(self, name, value, unit, idx=None, dimensions=None, metric_type=None):
        self.times.append((name, value))


def make_context(model_dir, handler_settings=None, batch=1):
    ctx = Context("srgan", str(model_dir), {}, batch, None, "0.12.0", metrics=RecordingMetrics(),
                  model_yaml_config={"handler": {"weights": "model.pt", "tile": 32, "overlap": 8, **(handler_settings or {})}})
    ctx.request_processor = [RequestProcessor({}) for _ in range(batch)]
    return ctx


def status(ctx, idx=0):
    return ctx.get_response_status(idx)[0]


def handler_reply(handler, ctx, request: dict) -> tuple[int, bytes]:
    """One request through a handler with a fresh mock request: (status, body)."""
    ctx.request_processor = [RequestProcessor({})]
    [body] = handler.handle([request], ctx)
    return status(ctx), body


def rgb_pixels(body: bytes) -> np.ndarray:
    """An encoded image -> H x W x 3 int array (RGB), for differences in grey levels."""
    return np.asarray(Image.open(io.BytesIO(body)).convert("RGB")).astype(int)


def mean_chroma(rgb: np.ndarray) -> np.ndarray:
    """Mean (Cb, Cr) on the 0-255 scale (JPEG's full-range BT.601)."""
    return rgb_to_ycbcr(rgb_to_tensor(rgb))[0, 1:].mean(dim=(1, 2)).numpy() * 255


def assert_json_error(response, status, words, code=None):
    """A JSON error reply: this project's (``code`` a stable word of dronesr.errors.CODES, and the
    status), or TorchServe's own (``code`` the status)."""
    assert response.status_code == status, response.text
    body = response.json()
    assert words in body["message"]
    if code is not None:
        assert body["code"] == code, body
    else:
        assert body["code"] == status or (body["code"] in CODES and body["status"] == status), body


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_header_only(width: int, height: int) -> bytes:
    """A tiny PNG that declares a huge size (a decompression bomb's header)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", zlib.compress(b"\x00" * 16)) + _png_chunk(b"IEND", b"")


def png_16bit_rgb(width: int, height: int) -> bytes:
    """A 48-bit RGB PNG (Pillow cannot write one) with a horizontal ramp 0..65535."""
    ramp = (np.linspace(0, 65535, width)[None, :, None] * np.ones((height, 1, 3))).astype(">u2")
    raw = b"".join(b"\x00" + ramp[y].tobytes() for y in range(height))
    ihdr = struct.pack(">IIBBBBB", width, height, 16, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", zlib.compress(raw)) + _png_chunk(b"IEND", b"")


NAMES = ["alpha", "beta", "gamma"]
TINY = {"channels": [4, 8, 8], "num_blocks": 1, "edge_kernel": 3, "work_side": 24}
def tiny_style_net(seed: int = 0) -> StyleNet:
    """Three styles whose norm parameters differ (a fresh network has identical rows)."""
    torch.manual_seed(seed)
    net = StyleNet(NAMES, **TINY)
    with torch.no_grad():
        for module in net.modules():
            if isinstance(module, ConditionalInstanceNorm):
                module.gamma.normal_(1.0, 0.5)
                module.beta.normal_(0.0, 0.5)
    return net.eval()


# A camera's JPEG: GPS EXIF, an sRGB ICC profile, XMP and Orientation 6 (stored sideways: the
# upright picture is 48 wide and 64 high, with a bright band at its top).
GPS = {1: "N", 2: (52.0, 30.0, 12.5), 3: "E", 4: (13.0, 24.0, 1.0)}
EXIF_ORIENTATION, EXIF_GPS_IFD, EXIF_IFD, EXIF_MAKE = 0x0112, 0x8825, 0x8769, 0x010F


@functools.lru_cache(maxsize=1)
def srgb_icc() -> bytes:
    """An sRGB profile (made once: its header carries the time it was made)."""
    from PIL import ImageCms

    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def camera_jpeg(width: int = 64, height: int = 48) -> bytes:
    stored = synthetic_photo(width, height, seed=3)
    stored[:, :8] = 250  # left edge of the stored pixels = top of the upright picture (rotated 90 CW)
    exif = Image.Exif()
    exif[EXIF_ORIENTATION] = 6
    exif[EXIF_MAKE] = "DJI"
    exif[EXIF_GPS_IFD] = GPS
    exif.get_ifd(EXIF_IFD)[0xA002] = width
    exif.get_ifd(EXIF_IFD)[0xA003] = height
    xmp = (
        b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        b'<rdf:Description xmlns:tiff="http://ns.adobe.com/tiff/1.0/" tiff:Orientation="6"/></rdf:RDF></x:xmpmeta>'
    )
    return encode(stored, "JPEG", quality=95, exif=exif.tobytes(), icc_profile=srgb_icc(), xmp=xmp)


def assert_camera_metadata_kept(data: bytes, scale: int) -> None:
    """``data`` is a result of camera_jpeg(): upright, Orientation 1, same GPS and ICC, sizes updated."""
    image = Image.open(io.BytesIO(data))
    assert image.size == (48 * scale, 64 * scale)  # upright: portrait
    top, bottom = np.asarray(image.convert("L"))[: 4 * scale].mean(), np.asarray(image.convert("L"))[-4 * scale :].mean()
    assert top > bottom + 40  # the bright band is at the top
    exif = image.getexif()
    assert exif.get(EXIF_ORIENTATION, 1) == 1
    assert exif[EXIF_MAKE] == "DJI"
    assert dict(exif.get_ifd(EXIF_GPS_IFD)) == GPS
    assert (exif.get_ifd(EXIF_IFD)[0xA002], exif.get_ifd(EXIF_IFD)[0xA003]) == image.size
    assert image.info.get("icc_profile") == srgb_icc()


def assert_no_metadata(data: bytes) -> None:
    """None of the camera's metadata: no EXIF, no ICC profile, and no XMP but the provenance
    record (which strip_metadata keeps: dronesr/image/provenance.py)."""
    image = Image.open(io.BytesIO(data))
    assert len(image.getexif()) == 0
    assert "icc_profile" not in image.info
    xmp = image.info.get("xmp") or image.info.get("XML:com.adobe.xmp") or b""
    xmp = xmp if isinstance(xmp, bytes) else xmp.encode()
    assert xmp.count(b"<rdf:Description") <= 1 and b"tiff:" not in xmp and b"drone-dji" not in xmp
