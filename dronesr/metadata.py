"""The camera's metadata, carried from an input image to its result: EXIF (camera, date, GPS), the
ICC colour profile and XMP.

Pixels are decoded upright (EXIF orientation applied), so the copy written out says
Orientation 1, and its pixel-size tags give the result's size. JPEG, PNG and WebP each hold all
three kinds; a JPEG marker holds at most 65,533 bytes, so an EXIF or XMP block over that is dropped
from a JPEG result (the ICC profile is split over markers by the encoder and always fits).
Used by the CLI and the handlers alike (``strip_metadata`` drops all of it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from PIL import Image, PngImagePlugin

IMAGE_WIDTH, IMAGE_LENGTH = 0x0100, 0x0101  # TIFF-style size tags some cameras also write into IFD0
ORIENTATION = 0x0112
EXIF_IFD = 0x8769
PIXEL_X_DIMENSION = 0xA002
PIXEL_Y_DIMENSION = 0xA003
JPEG_MARKER_BYTES = 65533 - len(b"http://ns.adobe.com/xap/1.0/\x00")  # Pillow's bound for EXIF/XMP in one APP1
_XMP_ORIENTATION = re.compile(rb'(tiff:Orientation\s*=\s*["\']|<tiff:Orientation>)\s*\d')


@dataclass(frozen=True)
class ImageMetadata:
    exif: Image.Exif | None = None
    icc_profile: bytes | None = None
    xmp: bytes | None = None

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
    return ImageMetadata(exif=exif if len(exif) else None, icc_profile=icc, xmp=xmp or None)


def exif_bytes_for(exif: Image.Exif, size: tuple[int, int]) -> bytes:
    """EXIF bytes for an upright result of ``size`` = (width, height): Orientation 1, the
    pixel-size tags of the Exif IFD (when present) set to ``size``; every other tag kept."""
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
    return copy.tobytes()


def upright_xmp(xmp: bytes) -> bytes:
    """XMP with any tiff:Orientation set to 1 (the pixels are stored upright)."""
    return _XMP_ORIENTATION.sub(lambda m: m.group(1) + b"1", xmp)


def save_options(metadata: ImageMetadata | None, pil_format: str, size: tuple[int, int]) -> dict:
    """Pillow ``save`` keyword arguments that write ``metadata`` into a ``pil_format`` result."""
    if metadata is None or metadata.empty:
        return {}
    options: dict = {}
    exif = exif_bytes_for(metadata.exif, size) if metadata.exif else None
    xmp = upright_xmp(metadata.xmp) if metadata.xmp else None
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

