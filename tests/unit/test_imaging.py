import io

import numpy as np
import pytest
from PIL import Image

from dronesr.image.codecs import decode_image, encode_image, parse_output_format
from dronesr.errors import ClientError
from tests.helpers import encode, png_16bit_rgb, png_header_only, synthetic_photo

LIMIT = 1_000_000


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP", "BMP", "TIFF"])
def test_decodes_each_accepted_format(fmt):
    photo = synthetic_photo(40, 30)
    decoded = decode_image(encode(photo, fmt), LIMIT)
    assert decoded.rgb.shape == (30, 40, 3) and decoded.rgb.dtype == np.uint8
    assert decoded.alpha is None
    if fmt in ("PNG", "BMP", "TIFF"):
        assert np.array_equal(decoded.rgb, photo)


def test_grayscale_and_palette_become_rgb():
    photo = synthetic_photo(20, 10)
    gray = decode_image(encode(photo, "PNG", mode="L"), LIMIT)
    assert gray.rgb.shape == (10, 20, 3) and np.array_equal(gray.rgb[..., 0], gray.rgb[..., 2])
    palette = decode_image(encode(photo, "PNG", mode="P"), LIMIT)
    assert palette.rgb.shape == (10, 20, 3)


def test_16bit_grayscale_is_scaled_not_clipped():
    ramp = (np.linspace(0, 65535, 64).reshape(1, 64).repeat(4, axis=0)).astype(np.uint16)
    buffer = io.BytesIO()
    Image.fromarray(ramp).save(buffer, format="PNG")
    decoded = decode_image(buffer.getvalue(), LIMIT)
    assert decoded.rgb[0, 0, 0] == 0 and decoded.rgb[0, -1, 0] == 255
    assert 120 <= decoded.rgb[0, 32, 0] <= 135  # mid-range stays mid-grey


def test_cmyk_jpeg_is_converted():
    photo = synthetic_photo(32, 16)
    decoded = decode_image(encode(photo, "JPEG", mode="CMYK", quality=95), LIMIT)
    assert decoded.rgb.shape == (16, 32, 3)
    assert np.abs(decoded.rgb.astype(int) - photo.astype(int)).mean() < 12


def test_rgba_keeps_alpha_separately():
    rgba = np.dstack([synthetic_photo(16, 8), np.tile(np.arange(0, 256, 16, dtype=np.uint8), (8, 1))])
    decoded = decode_image(encode(rgba, "PNG"), LIMIT)
    assert decoded.alpha is not None and decoded.alpha.shape == (8, 16)
    assert decoded.alpha[0, 0] == 0 and decoded.alpha[0, -1] == 240


def test_exif_orientation_is_applied():
    photo = synthetic_photo(40, 20)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    data = encode(photo, "JPEG", exif=exif.tobytes())
    decoded = decode_image(data, LIMIT)
    assert decoded.rgb.shape == (40, 20, 3)


def test_animated_gif_uses_first_frame():
    frames = [Image.fromarray(synthetic_photo(12, 12, seed=i)).convert("P") for i in range(3)]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:])
    assert decode_image(buffer.getvalue(), LIMIT).rgb.shape == (12, 12, 3)


@pytest.mark.parametrize(
    "data, status, words",
    [
        (b"", 400, "empty"),
        (b"hello, not an image", 415, "not an image"),
        (b"%PDF-1.4 something", 415, "not an image"),
    ],
)
def test_bad_bodies_are_client_errors(data, status, words):
    with pytest.raises(ClientError, match=words) as info:
        decode_image(data, LIMIT)
    assert info.value.status == status


def test_truncated_jpeg_is_a_client_error():
    data = encode(synthetic_photo(64, 64), "JPEG")
    with pytest.raises(ClientError, match="truncated|corrupt|read") as info:
        decode_image(data[: len(data) // 2], LIMIT)
    assert info.value.status == 400


def test_decompression_bomb_refused_before_decoding():
    with pytest.raises(ClientError, match="max_input_pixels") as info:
        decode_image(png_header_only(100_000, 100_000), LIMIT)
    assert info.value.status == 400


def test_pixel_limit_names_the_limit():
    with pytest.raises(ClientError, match="over the limit of 100 \\(max_input_pixels\\)"):
        decode_image(encode(synthetic_photo(20, 20), "PNG"), 100)


@pytest.mark.parametrize("fmt, content_type, magic", [("png", "image/png", b"\x89PNG"), ("jpeg", "image/jpeg", b"\xff\xd8"), ("webp", "image/webp", b"RIFF")])
def test_encode_formats(fmt, content_type, magic):
    data, ctype = encode_image(synthetic_photo(10, 10), None, fmt)
    assert ctype == content_type and data.startswith(magic)


def test_jpeg_output_composites_alpha_over_white():
    rgb = np.zeros((4, 4, 3), np.uint8)
    alpha = np.zeros((4, 4), np.uint8)
    data, _ = encode_image(rgb, alpha, "jpeg")
    assert np.asarray(Image.open(io.BytesIO(data))).min() > 240


def test_png_output_keeps_alpha():
    data, _ = encode_image(synthetic_photo(4, 4), np.full((4, 4), 7, np.uint8), "png")
    assert Image.open(io.BytesIO(data)).mode == "RGBA"


def test_output_format_validation():
    assert parse_output_format(None) == "png"
    assert parse_output_format("JPG") == "jpeg"
    with pytest.raises(ClientError, match="png, jpeg, webp"):
        parse_output_format("exe")


def test_16bit_rgb_png_keeps_its_full_range():
    decoded = decode_image(png_16bit_rgb(8, 4), LIMIT)
    assert decoded.rgb.shape == (4, 8, 3)
    assert list(decoded.rgb[0, :, 0]) == [0, 36, 73, 109, 146, 182, 219, 255]
