"""Shared fixtures: tiny networks, synthetic images, and the optional ../shared data."""

from __future__ import annotations

import functools
import io
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from dronesr.archs import SRResNet
from dronesr.checkpoint import save_model

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"


def pytest_configure(config):
    torch.set_num_threads(2)


def needs_shared(*parts: str) -> Path:
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} not present (../shared is optional)")
    return path


def synthetic_photo(width: int = 96, height: int = 64, seed: int = 0) -> np.ndarray:
    """A smooth image with edges and texture (uint8 HxWx3): gradients, a disc and some noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    r = 128 + 100 * np.sin(x / 9.0) * np.cos(y / 13.0)
    g = 255 * x / max(width - 1, 1)
    b = np.where((x - width / 2) ** 2 + (y - height / 2) ** 2 < (min(width, height) / 3) ** 2, 220.0, 40.0)
    image = np.stack([r, g, b], axis=2) + rng.normal(0, 6, (height, width, 3))
    return np.clip(image, 0, 255).astype(np.uint8)


def encode(array: np.ndarray, fmt: str = "PNG", mode: str | None = None, **options) -> bytes:
    image = Image.fromarray(array)
    if mode:
        image = image.convert(mode)
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


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


@pytest.fixture
def one_torch_thread():
    """Small networks run faster on one thread than on two that wait for each other."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def tiny_weights(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.pt"
    save_model(tiny_srresnet(), path)
    return path


@pytest.fixture
def photo() -> np.ndarray:
    return synthetic_photo()


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
    image = Image.open(io.BytesIO(data))
    assert len(image.getexif()) == 0
    assert "icc_profile" not in image.info and "xmp" not in image.info
