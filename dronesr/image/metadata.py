"""The camera's metadata, carried from an input image to its result: EXIF (camera, date, GPS), the
ICC colour profile and XMP.

Pixels are decoded upright (EXIF orientation applied), so the copy written out says
Orientation 1, and its pixel-size tags give the result's size. Survey-safe: photogrammetry computes
the focal length in pixels from the focal-plane resolution (sensor pixels per unit), so that is
scaled with the pixels (per sensor axis); the XMP packet (a DJI drone's ``drone-dji:`` flight data:
altitude, gimbal angles) is kept byte for byte apart from ``tiff:Orientation``. JPEG, PNG and WebP each hold all
three kinds; a JPEG marker holds at most 65,533 bytes, so an EXIF or XMP block over that is dropped
from a JPEG result (the ICC profile is split over markers by the encoder and always fits).
Used by the CLI and the handlers alike (``strip_metadata`` drops all of it).
"""

from __future__ import annotations

import re
from fractions import Fraction
from dataclasses import dataclass

from PIL import Image, PngImagePlugin
from PIL.TiffImagePlugin import IFDRational

from dronesr.image.provenance import Provenance

IMAGE_WIDTH, IMAGE_LENGTH = 0x0100, 0x0101  # TIFF-style size tags some cameras also write into IFD0
ORIENTATION = 0x0112
EXIF_IFD = 0x8769
PIXEL_X_DIMENSION = 0xA002
PIXEL_Y_DIMENSION = 0xA003
FOCAL_PLANE_X_RESOLUTION, FOCAL_PLANE_Y_RESOLUTION = 0xA20E, 0xA20F  # sensor pixels per unit, along its X and Y
TRANSPOSING_ORIENTATIONS = (5, 6, 7, 8)
RATIONAL_DENOMINATOR = 10_000  # an EXIF RATIONAL is two uint32: 4 decimals keep any sensor's resolution  # the stored X axis is the upright picture's Y axis
JPEG_MARKER_BYTES = 65533 - len(b"http://ns.adobe.com/xap/1.0/\x00")  # Pillow's bound for EXIF/XMP in one APP1
_XMP_ORIENTATION = re.compile(rb'(tiff:Orientation\s*=\s*["\']|<tiff:Orientation>)\s*\d')


@dataclass(frozen=True)
class ImageMetadata:
    exif: Image.Exif | None = None
    icc_profile: bytes | None = None
    xmp: bytes | None = None
    source_size: tuple[int, int] | None = None  # the upright source's (width, height): the scale of a result
    transposed: bool = False  # the source's orientation swapped its axes (sensor X = upright Y)

    @property
    def empty(self) -> bool:
        return not (self.exif or self.icc_profile or self.xmp)


def read_metadata(image: Image.Image) -> ImageMetadata:
    """The metadata of an opened (not yet transposed) image."""
    exif = image.getexif()
    xmp = image.info.get("xmp") or image.info.get("XML:com.adobe.xmp")
    if isinstance(xmp, str):
        xmp = xmp.encode("utf-8")
    icc = image.info.get("icc_profile") or None
    if icc and icc[16:20] != b"RGB ":
        icc = None  # a CMYK or grey profile does not describe the RGB pixels the result holds
    transposed = exif.get(ORIENTATION, 1) in TRANSPOSING_ORIENTATIONS
    size = image.size[::-1] if transposed else image.size
    return ImageMetadata(exif=exif if len(exif) else None, icc_profile=icc, xmp=xmp or None, source_size=size, transposed=transposed)


def exif_bytes_for(exif: Image.Exif, size: tuple[int, int], source_size: tuple[int, int] | None = None, transposed: bool = False) -> bytes:
    """EXIF bytes for an upright result of ``size`` = (width, height): Orientation 1, the
    pixel-size tags of the Exif IFD (when present) set to ``size``, the focal-plane resolutions
    multiplied by the result's scale from the upright ``source_size`` along each sensor axis
    (``transposed``: the sensor's X is the upright Y); every other tag kept."""
    copy = Image.Exif()
    copy.load(exif.tobytes())
    if ORIENTATION in copy:
        copy[ORIENTATION] = 1
    for tag, value in ((IMAGE_WIDTH, size[0]), (IMAGE_LENGTH, size[1])):
        if tag in copy:
            copy[tag] = value
    ifd = copy.get_ifd(EXIF_IFD)
    if PIXEL_X_DIMENSION in ifd:
        ifd[PIXEL_X_DIMENSION] = size[0]
    if PIXEL_Y_DIMENSION in ifd:
        ifd[PIXEL_Y_DIMENSION] = size[1]
    if source_size:
        scale_x, scale_y = size[0] / source_size[0], size[1] / source_size[1]
        if transposed:
            scale_x, scale_y = scale_y, scale_x
        for tag, scale in ((FOCAL_PLANE_X_RESOLUTION, scale_x), (FOCAL_PLANE_Y_RESOLUTION, scale_y)):
            if tag in ifd and scale != 1:
                value = Fraction(float(ifd[tag]) * scale).limit_denominator(RATIONAL_DENOMINATOR)
                ifd[tag] = IFDRational(value.numerator, value.denominator)
    return copy.tobytes()


def upright_xmp(xmp: bytes) -> bytes:
    """XMP with any tiff:Orientation set to 1 (the pixels are stored upright)."""
    return _XMP_ORIENTATION.sub(lambda m: m.group(1) + b"1", xmp)


def save_options(metadata: ImageMetadata | None, pil_format: str, size: tuple[int, int], provenance: Provenance | None = None) -> dict:
    """Pillow ``save`` keyword arguments that write ``metadata`` (the camera's; None: stripped)
    and the ``provenance`` record (added to the XMP) into a ``pil_format`` result."""
    metadata = metadata or ImageMetadata()
    if metadata.empty and provenance is None:
        return {}
    options: dict = {}
    exif = exif_bytes_for(metadata.exif, size, metadata.source_size, metadata.transposed) if metadata.exif else None
    xmp = upright_xmp(metadata.xmp) if metadata.xmp else None
    if provenance is not None:
        combined = provenance.into_xmp(xmp)
        # a camera packet too large to share one JPEG marker with the record gives way to it
        xmp = combined if pil_format != "JPEG" or len(combined) <= JPEG_MARKER_BYTES else provenance.into_xmp(None)
    if pil_format == "JPEG":
        exif = exif if exif and len(exif) <= JPEG_MARKER_BYTES else None
        xmp = xmp if xmp and len(xmp) <= JPEG_MARKER_BYTES else None
    if exif:
        options["exif"] = exif
    if metadata.icc_profile:
        options["icc_profile"] = metadata.icc_profile
    if xmp:
        if pil_format == "PNG":
            info = PngImagePlugin.PngInfo()
            info.add_itxt("XML:com.adobe.xmp", xmp.decode("utf-8", errors="replace"))
            options["pnginfo"] = info
        else:
            options["xmp"] = xmp
    return options

