"""restore=auto's decision (dronesr/restoration.py) on files of known quality, on clean, noisy and
once-JPEG PNGs, and the parameter's parsing. The pictures are synthesised: a textured scene
downscaled x4 the way the evaluation protocol makes its LR, so it has a photo's fine detail and no
pixel noise."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from dronesr.imaging import decode_image
from dronesr.errors import ClientError
from dronesr.restoration import auto_restore, blockiness, jpeg_quality, noise_sigma, parse_restore


def photo(width: int = 160, height: int = 120, seed: int = 0) -> np.ndarray:
    """Gradients, discs and a fractal texture at 4x the size, Pillow-bicubic downscaled x4."""
    rng = np.random.default_rng(seed)
    big_w, big_h = width * 4, height * 4
    y, x = np.mgrid[0:big_h, 0:big_w].astype(np.float32)
    image = np.stack([60 + 120 * x / big_w, 80 + 100 * y / big_h, 140 + 60 * np.sin(x / 70.0)], axis=2)
    for _ in range(6):
        cx, cy, r = rng.uniform(0, big_w), rng.uniform(0, big_h), rng.uniform(30, 100)
        image[(x - cx) ** 2 + (y - cy) ** 2 < r * r] = rng.uniform(20, 235, 3)
    for cell in (4, 8, 16, 32):  # octaves of smooth random relief: detail at every scale, like a photo
        field = rng.normal(0, 1, (big_h // cell + 1, big_w // cell + 1)).astype(np.float32)
        relief = np.asarray(Image.fromarray(field, "F").resize((big_w + cell, big_h + cell), Image.BICUBIC))[:big_h, :big_w]
        image += cell / 2 * relief[..., None]
    hr = Image.fromarray(np.clip(image, 0, 255).astype(np.uint8))
    return np.asarray(hr.resize((width, height), Image.BICUBIC))


def with_noise(rgb: np.ndarray, sigma: float, seed: int = 1) -> np.ndarray:
    noisy = rgb + np.random.default_rng(seed).normal(0, sigma, rgb.shape)
    return np.clip(np.round(noisy), 0, 255).astype(np.uint8)


def upload(rgb: np.ndarray, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format=fmt, **options)
    return buffer.getvalue()


def decoded(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image.convert("RGB"))


def decision(data: bytes):
    image = decode_image(data, 10**7)
    return auto_restore(image.rgb, jpeg_quality(image.quantization))


def test_jpeg_quality_is_read_back_from_the_files_tables():
    rgb = photo(64, 48)
    misread = {}
    for quality in range(1, 101):
        with Image.open(io.BytesIO(upload(rgb, "JPEG", quality=quality))) as image:
            found = jpeg_quality(image.quantization)
        if found != quality:
            misread[quality] = found
    assert misread == {}
    assert jpeg_quality(decode_image(upload(rgb, "JPEG", quality=83), 10**7).quantization) == 83  # the server's decode keeps the tables


def test_no_tables_no_quality():
    assert jpeg_quality(None) is None and jpeg_quality({}) is None
    assert decode_image(upload(photo(), "PNG"), 10**7).quantization is None


def test_clean_png_is_left_alone_and_noise_is_restored():
    clean = photo()
    first = decision(upload(clean, "PNG"))
    assert first.restore <= 0.1 and first.reason == "clean" and first.noise_sigma < 2.0
    second = decision(upload(with_noise(clean, 6.0), "PNG"))
    assert second.restore >= 0.8 and second.reason.startswith("noise sigma") and 5.0 < second.noise_sigma < 7.5


def test_thin_lines_are_not_noise():
    """Wires and road markings 1 px wide: no Sobel gradient on the line itself, a large Laplacian."""
    wires = photo().copy()
    wires[::12], wires[:, ::12] = 20, 235
    result = decision(upload(wires, "PNG"))
    assert result.noise_sigma < 2.0 and result.restore == 0.0


def test_clipped_highlights_do_not_hide_the_noise():
    """A blown-out sky is the flattest part of a noisy photo, but its noise was clipped away."""
    rgb = photo().astype(np.float64)
    rgb[:60] += 300  # the top half over-exposed: 255 after clipping, noise or not
    noisy = with_noise(rgb, 5.0)
    assert 4.0 < noise_sigma(noisy) < 6.5
    assert noise_sigma(np.full((40, 40, 3), 255, np.uint8)) == 0.0


@pytest.mark.parametrize("quality, low, high", [(50, 1.0, 1.0), (75, 1.0, 1.0), (85, 0.4, 0.6), (95, 0.0, 0.2)])
def test_jpeg_uploads_are_restored_by_their_quality(quality, low, high):
    result = decision(upload(photo(), "JPEG", quality=quality))
    assert low <= result.restore <= high and result.jpeg_quality == quality and result.reason == f"jpeg quality {quality}"


def test_a_png_that_was_a_rough_jpeg_is_caught_by_its_blocks():
    was_jpeg = decoded(upload(photo(), "JPEG", quality=40))
    assert blockiness(was_jpeg) > 2.5 and blockiness(photo()) < 1.3
    result = decision(upload(was_jpeg, "PNG"))
    assert result.jpeg_quality is None and result.restore >= 0.7 and result.reason.startswith("blockiness")


def test_blocks_off_the_grid_are_not_jpeg_blocks():
    """The measure looks for JPEG's grid from the top-left corner: a JPEG shifted by 4 px has its
    quantized blocks where the measure's offset ones are."""
    was_jpeg = decoded(upload(photo(168, 128), "JPEG", quality=40))
    assert blockiness(was_jpeg[4:, 4:]) < 1.0 < blockiness(was_jpeg)


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
    with pytest.raises(ClientError, match="restore must be auto or a number from 0 to 1"):
        parse_restore(text)


def test_dithering_and_noise_beyond_the_trained_range_get_no_restoration():
    """The restoration network blew up on web-palette dithering and on sigma-40 noise (measured),
    so auto leaves both to the clean network."""
    palette_gif = io.BytesIO()
    Image.fromarray(photo()).convert("P").save(palette_gif, format="GIF")
    image = decode_image(palette_gif.getvalue(), 10**7)
    assert image.palette and auto_restore(image.rgb, None, image.palette).reason == "palette image"
    same_pixels_as_rgb = upload(np.asarray(Image.fromarray(photo()).convert("P").convert("RGB")), "PNG")
    assert decode_image(same_pixels_as_rgb, 10**7).palette is False  # judged as pixels
    result = decision(upload(with_noise(photo(), 40.0), "PNG"))
    assert result.restore == 0.0 and "beyond the trained range" in result.reason
