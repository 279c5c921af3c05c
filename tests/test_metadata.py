"""Camera metadata from an input to its result (dronesr/metadata.py through decode/encode)."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from dronesr.imaging import decode_image, encode_image
from dronesr.metadata import JPEG_MARKER_BYTES
from tests.helpers import EXIF_GPS_IFD, GPS, assert_camera_metadata_kept, assert_no_metadata, camera_jpeg, encode, synthetic_photo


def enlarge(image, scale: int = 2) -> np.ndarray:
    return np.asarray(Image.fromarray(image.rgb).resize((image.width * scale, image.height * scale)))


@pytest.mark.parametrize("fmt", ["jpeg", "png", "webp"])
def test_gps_icc_kept_pixels_upright_orientation_reset(fmt):
    image = decode_image(camera_jpeg(), 10**6)
    assert (image.width, image.height) == (48, 64)
    body, _ = encode_image(enlarge(image), None, fmt, metadata=image.metadata)
    assert_camera_metadata_kept(body, 2)
    xmp = Image.open(io.BytesIO(body)).info.get("xmp") or Image.open(io.BytesIO(body)).info.get("XML:com.adobe.xmp")
    assert b'tiff:Orientation="1"' in (xmp if isinstance(xmp, bytes) else xmp.encode())


def test_no_metadata_when_none_is_passed():
    image = decode_image(camera_jpeg(), 10**6)
    body, _ = encode_image(enlarge(image), None, "jpeg", metadata=None)
    assert_no_metadata(body)


def test_a_cmyk_profile_is_not_copied_onto_rgb_pixels():
    cmyk = Image.fromarray(synthetic_photo(32, 32)).convert("CMYK")
    fake_icc = bytearray(128)
    fake_icc[16:20] = b"CMYK"
    buffer = io.BytesIO()
    cmyk.save(buffer, "JPEG", icc_profile=bytes(fake_icc))
    image = decode_image(buffer.getvalue(), 10**6)
    assert image.metadata.icc_profile is None


def test_exif_too_long_for_a_jpeg_marker_is_dropped_not_fatal():
    exif = Image.Exif()
    exif[EXIF_GPS_IFD] = GPS
    exif[0x010E] = "x" * (JPEG_MARKER_BYTES + 10)  # ImageDescription
    png = encode(synthetic_photo(16, 16), "PNG", exif=exif.tobytes())
    image = decode_image(png, 10**6)
    body, _ = encode_image(image.rgb, None, "jpeg", metadata=image.metadata)
    assert len(Image.open(io.BytesIO(body)).getexif()) == 0
    body, _ = encode_image(image.rgb, None, "png", metadata=image.metadata)  # PNG holds it
    assert dict(Image.open(io.BytesIO(body)).getexif().get_ifd(EXIF_GPS_IFD)) == GPS
