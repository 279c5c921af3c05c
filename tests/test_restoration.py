"""restore=auto's decision (dronesr/restoration.py) on files of known quality and on clean and
noisy PNGs, and the parameter's parsing."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, ImageFilter

from dronesr.imaging import ImageError, decode_image
from dronesr.restoration import auto_restore, blockiness, jpeg_quality, noise_sigma, parse_restore


def smooth_photo(width: int = 160, height: int = 120, seed: int = 0) -> np.ndarray:
    """A clean, smooth picture with edges (a downscaled photo has no pixel noise): gradients,
    discs and bars, slightly blurred."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    image = np.stack([60 + 120 * x / width, 80 + 100 * y / height, 140 + 60 * np.sin(x / 17.0)], axis=2)
    for _ in range(6):
        cx, cy, r = rng.uniform(0, width), rng.uniform(0, height), rng.uniform(8, 25)
        image[(x - cx) ** 2 + (y - cy) ** 2 < r * r] = rng.uniform(20, 235, 3)
    image[:, (x[0] // 23 % 2 == 0)] *= 0.85
    blurred = Image.fromarray(np.clip(image, 0, 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(0.7))
    return np.asarray(blurred)


def upload(rgb: np.ndarray, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format=fmt, **options)
    return buffer.getvalue()


def decision(data: bytes):
    image = decode_image(data, 10**7)
    return auto_restore(image.rgb, jpeg_quality(image.quantization))


@pytest.mark.parametrize("quality", [10, 30, 50, 70, 75, 85, 90, 95, 100])
def test_jpeg_quality_is_read_back_from_the_files_tables(quality):
    image = decode_image(upload(smooth_photo(), "JPEG", quality=quality), 10**7)
    assert jpeg_quality(image.quantization) == quality


def test_no_tables_no_quality():
    assert jpeg_quality(None) is None and jpeg_quality({}) is None
    assert decode_image(upload(smooth_photo(), "PNG"), 10**7).quantization is None


def test_clean_png_is_left_alone_and_noise_is_restored():
    clean = smooth_photo()
    first = decision(upload(clean, "PNG"))
    assert first.restore <= 0.1 and first.reason == "clean" and first.noise_sigma < 1.0
    noisy = np.clip(clean + np.random.default_rng(1).normal(0, 6, clean.shape), 0, 255).astype(np.uint8)
    second = decision(upload(noisy, "PNG"))
    assert second.restore >= 0.8 and second.reason.startswith("noise sigma") and 2.5 < second.noise_sigma < 6.0  # luma: per-channel sigma 6 is ~4 in luma


@pytest.mark.parametrize("quality, low, high", [(50, 1.0, 1.0), (75, 1.0, 1.0), (85, 0.4, 0.6), (95, 0.0, 0.2)])
def test_jpeg_uploads_are_restored_by_their_quality(quality, low, high):
    result = decision(upload(smooth_photo(), "JPEG", quality=quality))
    assert low <= result.restore <= high and result.jpeg_quality == quality


def test_a_png_that_was_a_rough_jpeg_is_caught_by_its_blocks():
    was_jpeg = np.asarray(Image.open(io.BytesIO(upload(smooth_photo(), "JPEG", quality=30))).convert("RGB"))
    assert blockiness(was_jpeg) > 1.5 and blockiness(smooth_photo()) < 1.2
    result = decision(upload(was_jpeg, "PNG"))
    assert result.jpeg_quality is None and result.restore >= 0.7 and result.reason.startswith("blockiness")


def test_estimates_on_tiny_images_do_not_fail():
    for side in (1, 2, 7, 15):
        rgb = np.full((side, side, 3), 128, np.uint8)
        assert noise_sigma(rgb) == 0.0 and blockiness(rgb) == 1.0 and auto_restore(rgb, None).restore == 0.0


@pytest.mark.parametrize("text", [None, "", " ", "auto", " AUTO "])
def test_parse_restore_auto(text):
    assert parse_restore(text) is None


@pytest.mark.parametrize("text, value", [("0", 0.0), ("1", 1.0), ("0.5", 0.5), ("0.33", 0.35), (" 0.02 ", 0.0)])
def test_parse_restore_rounds_to_the_cache_step(text, value):
    assert parse_restore(text) == value


@pytest.mark.parametrize("text", ["-0.1", "2", "abc", "nan", "inf"])
def test_parse_restore_refuses_anything_else(text):
    with pytest.raises(ImageError, match="restore must be auto or a number from 0 to 1"):
        parse_restore(text)


def test_dithering_and_noise_beyond_the_trained_range_get_no_restoration():
    """The restoration network blew up on web-palette dithering and on sigma-40 noise (measured),
    so auto leaves both to the clean network."""
    gif = upload(np.asarray(Image.fromarray(smooth_photo()).convert("P").convert("RGB")), "PNG")
    palette_gif = io.BytesIO()
    Image.fromarray(smooth_photo()).convert("P").save(palette_gif, format="GIF")
    image = decode_image(palette_gif.getvalue(), 10**7)
    assert image.palette and auto_restore(image.rgb, None, image.palette).reason == "palette image"
    assert decode_image(gif, 10**7).palette is False  # the same pixels saved as RGB are judged as pixels
    wild = np.clip(smooth_photo() + np.random.default_rng(2).normal(0, 40, (120, 160, 3)), 0, 255).astype(np.uint8)
    result = decision(upload(wild, "PNG"))
    assert result.restore == 0.0 and "beyond the trained range" in result.reason
