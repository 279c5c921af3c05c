"""Metadata put into an encoded JPEG, PNG or WebP file as it is copied, without decoding a pixel.

The streamed enlargement (dronesr/cli/large_image.py) has libvips encode pictures too large for
memory, and writes the camera's metadata itself, byte for byte what Pillow writes for the
in-memory path (``metadata.save_options``: EXIF with the scaled fields, ICC, XMP with the
provenance record): libvips rewrites EXIF on saving (resolution and other fields), so it is told
to keep none and the segments are spliced in here. Memory: one copy buffer.
"""

from __future__ import annotations

import shutil
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

from dronesr.image.metadata import ImageMetadata, save_options
from dronesr.image.provenance import Provenance

EXIF_PREFIX = b"Exif\x00\x00"
XMP_JPEG_PREFIX = b"http://ns.adobe.com/xap/1.0/\x00"
ICC_JPEG_PREFIX = b"ICC_PROFILE\x00"
ICC_JPEG_CHUNK = 65519  # 65535 - 2 (length) - 14 (prefix and sequence numbers)
COPY_BUFFER = 1 << 20


@dataclass(frozen=True)
class Segments:
    """What goes into the file: EXIF (with the ``Exif\\0\\0`` prefix), ICC, XMP; and for PNG the
    text chunks Pillow would write (the XMP's iTXt)."""

    exif: bytes | None = None
    icc: bytes | None = None
    xmp: bytes | None = None
    png_chunks: tuple[tuple[bytes, bytes], ...] = ()

    @classmethod
    def of(cls, metadata: ImageMetadata | None, pil_format: str, size: tuple[int, int], provenance: Provenance | None) -> Segments:
        """The segments Pillow's encoder would get for this result (same rules: JPEG marker limits,
        the provenance record in the XMP)."""
        options = save_options(metadata, pil_format, size, provenance)
        exif, xmp = options.get("exif"), options.get("xmp")
        chunks = tuple((bytes(c[0]), bytes(c[1])) for c in options["pnginfo"].chunks) if "pnginfo" in options else ()
        return cls(exif, options.get("icc_profile"), xmp, chunks)

    @property
    def empty(self) -> bool:
        return not (self.exif or self.icc or self.xmp or self.png_chunks)


def splice(source: Path, target: Path, fmt: str, segments: Segments, size: tuple[int, int]) -> None:
    """Copy the encoded ``source`` (``fmt``: jpeg, png or webp) to ``target`` with ``segments`` in it."""
    with open(source, "rb") as src, open(target, "wb") as dst:
        if fmt == "jpeg":
            _jpeg(src, dst, segments)
        elif fmt == "png":
            _png(src, dst, segments)
        elif fmt == "webp":
            _webp(src, dst, segments, size)
        else:
            raise ValueError(f"no metadata splicing for {fmt}")
        shutil.copyfileobj(src, dst, COPY_BUFFER)
        if fmt == "webp":
            _webp_finish(dst, segments)


def _jpeg_segment(marker: int, payload: bytes) -> bytes:
    return struct.pack(">BBH", 0xFF, marker, len(payload) + 2) + payload


def _jpeg(src, dst, segments: Segments) -> None:
    head = src.read(2)
    if head != b"\xff\xd8":
        raise ValueError("not a JPEG file")
    dst.write(head)
    marker = src.read(4)
    if marker[:2] == b"\xff\xe0":  # JFIF APP0 stays first
        length = struct.unpack(">H", marker[2:])[0]
        dst.write(marker + src.read(length - 2))
    else:
        src.seek(2)
    if segments.exif:
        dst.write(_jpeg_segment(0xE1, segments.exif))
    if segments.icc:
        chunks = [segments.icc[i : i + ICC_JPEG_CHUNK] for i in range(0, len(segments.icc), ICC_JPEG_CHUNK)]
        for number, chunk in enumerate(chunks, 1):
            dst.write(_jpeg_segment(0xE2, ICC_JPEG_PREFIX + bytes([number, len(chunks)]) + chunk))
    if segments.xmp:
        dst.write(_jpeg_segment(0xE1, XMP_JPEG_PREFIX + segments.xmp))


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def _png(src, dst, segments: Segments) -> None:
    signature = src.read(8)
    if signature != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG file")
    length = struct.unpack(">I", src.read(4))[0]
    ihdr = src.read(4 + length + 4)
    dst.write(signature + struct.pack(">I", length) + ihdr)
    if segments.icc:
        dst.write(_png_chunk(b"iCCP", b"ICC Profile\x00\x00" + zlib.compress(segments.icc)))
    if segments.exif:
        exif = segments.exif[len(EXIF_PREFIX):] if segments.exif.startswith(EXIF_PREFIX) else segments.exif
        dst.write(_png_chunk(b"eXIf", exif))
    for kind, data in segments.png_chunks:
        dst.write(_png_chunk(kind, data))


def _riff_chunk(kind: bytes, data: bytes) -> bytes:
    return kind + struct.pack("<I", len(data)) + data + (b"\x00" if len(data) % 2 else b"")


VP8X_ICC, VP8X_ALPHA, VP8X_EXIF, VP8X_XMP = 0x20, 0x10, 0x08, 0x04


def _webp(src, dst, segments: Segments, size: tuple[int, int]) -> None:
    header = src.read(12)
    if header[:4] != b"RIFF" or header[8:] != b"WEBP":
        raise ValueError("not a WebP file")
    dst.write(header)  # the RIFF size is set at the end
    kind, length = src.read(4), None
    flags = (VP8X_ICC if segments.icc else 0) | (VP8X_EXIF if segments.exif else 0) | (VP8X_XMP if segments.xmp else 0)
    if kind == b"VP8X":
        length = struct.unpack("<I", src.read(4))[0]
        vp8x = bytearray(src.read(length))
        vp8x[0] |= flags
        dst.write(_riff_chunk(b"VP8X", bytes(vp8x)))
    else:
        src.seek(12)
        canvas = struct.pack("<I", size[0] - 1)[:3] + struct.pack("<I", size[1] - 1)[:3]
        dst.write(_riff_chunk(b"VP8X", bytes([flags, 0, 0, 0]) + canvas))
    if segments.icc:
        dst.write(_riff_chunk(b"ICCP", segments.icc))


def _webp_finish(dst, segments: Segments) -> None:
    if segments.exif:
        exif = segments.exif[len(EXIF_PREFIX):] if segments.exif.startswith(EXIF_PREFIX) else segments.exif
        dst.write(_riff_chunk(b"EXIF", exif))
    if segments.xmp:
        dst.write(_riff_chunk(b"XMP ", segments.xmp))
    end = dst.tell()
    dst.seek(4)
    dst.write(struct.pack("<I", end - 8))
    dst.seek(end)
