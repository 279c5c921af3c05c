"""restore=auto's decision (dronesr/sr/restoration.py) on files of known quality, on clean, noisy,
soft and once-JPEG or once-video uploads, cropped at every phase of the codec's grid, and the
parameter's parsing. The pictures are synthesised: a textured scene downscaled x4 the way the
evaluation protocol makes its LR, so it has a photo's fine detail and no pixel noise."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, ImageFilter

from dronesr.image.codecs import decode_image
from dronesr.errors import ClientError
from dronesr.sr.restoration import (
    ANALYSIS,
    BLOCK_EDGES_RAMP,
    DCT_ANALYSIS,
    EDGE_WIDTH_RAMP,
    QUANTIZED_RAMP,
    analysis_tiles,
    auto_restore,
    block_evidence,
    blockiness,
    edge_width,
    jpeg_quality,
    noise_sigma,
    parse_restore,
    _luma,
)


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
    assert blockiness(was_jpeg) > QUANTIZED_RAMP[1] and blockiness(photo()) < QUANTIZED_RAMP[0]
    result = decision(upload(was_jpeg, "PNG"))
    assert result.jpeg_quality is None and result.restore == 1.0 and result.reason.startswith("block")


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_blocks_are_found_at_every_phase_of_a_crop(fmt):
    """A q30 JPEG cropped 0..7 px from its top and left (as people crop, screenshot and re-save),
    then saved as a PNG or as a quality-95 JPEG (whose tables alone say nearly clean): the same
    decision at all 64 phases, and the phase it names is where the q30 blocks start."""
    frame = decoded(upload(photo(168, 128), "JPEG", quality=30))
    found = {}
    for top in range(8):
        for left in range(8):
            crop = np.ascontiguousarray(frame[top : top + 120, left : left + 160])
            result = decision(upload(crop, fmt, **({"quality": 95} if fmt == "JPEG" else {})))
            found[top, left] = (result.restore, result.reason.split(" at phase ")[-1])
            assert result.reason.startswith("block"), (top, left, result.reason)
    assert {restore for restore, _ in found.values()} == {1.0}
    assert all(phase == f"({-top % 8},{-left % 8})" for (top, left), (_, phase) in found.items())


def test_a_crop_moves_the_grid_and_the_measure_follows():
    """The old measure looked only from the top-left corner, so a JPEG shifted by 4 px read as
    unblocked; every phase is measured now."""
    was_jpeg = decoded(upload(photo(168, 128), "JPEG", quality=40))
    aligned, shifted = block_evidence(_luma(was_jpeg)), block_evidence(_luma(was_jpeg[4:, 3:]))
    assert aligned.quantized_phase == (0, 0) and shifted.quantized_phase == (4, 5)
    assert min(aligned.quantized, shifted.quantized) > QUANTIZED_RAMP[1]


def test_clean_photos_stay_at_zero_as_png_and_as_q95_jpeg():
    """Small (measured whole) and large (measured on tiles: DCT_ANALYSIS's pixels are fewer than
    the upload's) photo-like uploads with no damage."""
    for rgb in (photo(), photo(96, 80, seed=2), photo(512, 384, seed=1)):
        for fmt, options in (("PNG", {}), ("JPEG", {"quality": 95})):
            result = decision(upload(rgb, fmt, **options))
            assert result.restore == 0.0, (rgb.shape, fmt, result)
            assert result.blockiness < QUANTIZED_RAMP[0] and result.block_edges < BLOCK_EDGES_RAMP[0]
            assert result.edge_width is not None and result.edge_width < EDGE_WIDTH_RAMP[0]


def test_a_large_upload_is_measured_on_tiles_on_the_macroblock_grid():
    big = np.asarray(Image.fromarray(photo(256, 192)).resize((1032, 776), Image.BICUBIC))
    tiles = analysis_tiles(_luma(big), *DCT_ANALYSIS)
    target = DCT_ANALYSIS[0] // DCT_ANALYSIS[1] ** 2
    assert target * 3 // 4 <= tiles.shape[0] <= target and tiles.shape[1:] == (DCT_ANALYSIS[1],) * 2
    assert analysis_tiles(_luma(photo()), *ANALYSIS).shape == (1, 120, 160)  # small: whole
    was_jpeg = decoded(upload(big, "JPEG", quality=30))[5:, 2:]  # blocks start at rows 3 + 8i, columns 6 + 8j
    found = block_evidence(_luma(was_jpeg))
    assert found.quantized_phase == (3, 6) and found.quantized > QUANTIZED_RAMP[1] and found.edges_phase == (3, 6)


def test_a_video_frame_grabbed_as_a_q95_jpeg_is_restored_for_its_blocks():
    """The user's case: frames of a drone video (H.264 at a high CRF, no deblocking) saved as
    quality-95 JPEGs: the tables say 95, the pixels say blocks."""
    pytest.importorskip("av")
    from dronesr.image.codecs import rgb_to_tensor, tensor_to_rgb
    from training.degradations import h264

    frame = tensor_to_rgb(h264(rgb_to_tensor(photo(176, 128)), 35, deblock=False))
    for top, left in ((0, 0), (3, 5)):
        result = decision(upload(np.ascontiguousarray(frame[top : top + 120, left : left + 160]), "JPEG", quality=95))
        assert result.jpeg_quality == 95 and result.restore >= 0.7, result
        assert result.reason.startswith("block") and result.block_phase == (-top % 8, -left % 8)


def test_a_soft_upload_is_restored_for_its_edges():
    """Blurred or shrunk and re-enlarged (a re-shared photo): edges wider than the protocol's
    clean LR ever has."""
    clean = photo()
    blurred = np.asarray(Image.fromarray(clean).filter(ImageFilter.GaussianBlur(1.2)))
    result = decision(upload(blurred, "PNG"))
    assert result.restore == 1.0 and result.reason.startswith("soft edges") and result.edge_width > EDGE_WIDTH_RAMP[1]
    reshared = np.asarray(Image.fromarray(clean).resize((80, 60), Image.BICUBIC).resize((160, 120), Image.BICUBIC))
    assert decision(upload(reshared, "PNG")).restore >= 0.4
    assert edge_width(_luma(clean)) < EDGE_WIDTH_RAMP[0]
    assert edge_width(np.full((64, 64), 128, np.float32)) is None  # no edges: no vote


def test_estimates_on_tiny_images_do_not_fail():
    for side in (1, 2, 7, 15):
        rgb = np.full((side, side, 3), 128, np.uint8)
        assert noise_sigma(rgb) == 0.0 and blockiness(rgb) == 1.0 and auto_restore(rgb, None).restore == 0.0
        assert edge_width(_luma(rgb)) is None


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
