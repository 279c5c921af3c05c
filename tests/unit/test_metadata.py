"""Camera metadata from an input to its result (dronesr/image/metadata.py through decode/encode)."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from dronesr.image.codecs import decode_image, encode_image
from dronesr.image.metadata import JPEG_MARKER_BYTES
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


DJI_XMP = (
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    b'<rdf:Description rdf:about="DJI Meta Data" xmlns:drone-dji="http://www.dji.com/drone-dji/1.0/"'
    b' drone-dji:AbsoluteAltitude="+126.43" drone-dji:RelativeAltitude="+80.10"'
    b' drone-dji:GimbalRollDegree="+0.00" drone-dji:GimbalYawDegree="-93.20" drone-dji:GimbalPitchDegree="-89.90"'
    b' drone-dji:FlightYawDegree="-92.70"/></rdf:RDF></x:xmpmeta>'
)


def survey_jpeg(orientation: int) -> bytes:
    """A JPEG as a survey drone writes it: focal length, focal-plane resolution (sensor pixels per
    cm, different along X and Y), pixel dimensions, GPS and DJI's flight data in XMP."""
    from fractions import Fraction

    from PIL.TiffImagePlugin import IFDRational

    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[EXIF_GPS_IFD] = GPS
    ifd = exif.get_ifd(0x8769)
    ifd[0x920A] = IFDRational(88, 10)  # FocalLength 8.8 mm
    ifd[0xA002], ifd[0xA003] = 60, 40
    ifd[0xA20E], ifd[0xA20F] = IFDRational(Fraction("4178.0513")), IFDRational(Fraction("4200.25"))
    ifd[0xA210] = 3  # FocalPlaneResolutionUnit: cm
    return encode(synthetic_photo(60, 40), "JPEG", quality=95, exif=exif.tobytes(), xmp=DJI_XMP)


@pytest.mark.parametrize("fmt", ["jpeg", "png", "webp"])
@pytest.mark.parametrize("orientation", [1, 6])
def test_survey_tags_follow_the_pixels_and_flight_data_is_kept_byte_for_byte(fmt, orientation):
    image = decode_image(survey_jpeg(orientation), 10**6)
    body, _ = encode_image(enlarge(image, 4), None, fmt, metadata=image.metadata)
    result = Image.open(io.BytesIO(body))
    exif = result.getexif().get_ifd(0x8769)
    assert (exif[0xA002], exif[0xA003]) == result.size == (image.width * 4, image.height * 4)
    # the sensor's axes do not turn with the picture: X stays X whatever the orientation
    assert float(exif[0xA20E]) == pytest.approx(4 * 4178.0513, abs=1e-3)
    assert float(exif[0xA20F]) == pytest.approx(4 * 4200.25, abs=1e-3)
    assert float(exif[0x920A]) == pytest.approx(8.8) and exif[0xA210] == 3
    assert dict(result.getexif().get_ifd(EXIF_GPS_IFD)) == GPS
    xmp = result.info.get("xmp") or result.info.get("XML:com.adobe.xmp")
    xmp = xmp if isinstance(xmp, bytes) else xmp.encode()
    flight = DJI_XMP[DJI_XMP.index(b"<rdf:Description") : DJI_XMP.index(b"</rdf:RDF>")]
    assert flight in xmp
