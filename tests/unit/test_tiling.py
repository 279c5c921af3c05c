import numpy as np
import pytest
import torch

from dronesr.sr.upscaler import Upscaler, prepare_for_inference
from dronesr.metrics import psnr_rgb
from dronesr.tiling import count_tiles, iter_tiles, tile_side, tile_starts, upscale_tiled
from tests.helpers import ROOT, SHARED_DATA, synthetic_photo, tiny_srresnet
from training.sr_data import load_rgb


@pytest.mark.parametrize("length, tile, overlap", [(100, 32, 8), (33, 32, 8), (32, 32, 8), (10, 32, 8), (257, 64, 16)])
def test_tile_starts_cover_with_overlap(length, tile, overlap):
    tile = min(tile, length)
    starts = tile_starts(length, tile, overlap)
    covered = np.zeros(length, bool)
    for s in starts:
        covered[s : s + tile] = True
    assert covered.all() and starts[0] == 0 and starts[-1] + tile == length
    assert all(b - a <= tile - overlap for a, b in zip(starts, starts[1:]))


def test_count_tiles_matches_iteration():
    assert count_tiles(300, 200, 64, 16) == len(list(iter_tiles(300, 200, 64, 16)))


@pytest.mark.parametrize("length, tile, overlap", [(540, 352, 40), (960, 352, 40), (1000, 192, 12), (353, 352, 40), (352, 352, 40), (100, 32, 8), (20, 32, 8)])
def test_tiles_are_sized_to_the_frame(length, tile, overlap):
    """As many tiles as sides of ``tile`` need, none longer, overlapping by at least ``overlap``
    and by less than a square tile's last one did (540 rows: two of 290, not two of 352)."""
    side = tile_side(length, tile, overlap)
    starts = tile_starts(length, side, overlap)
    assert side <= min(tile, length) and len(starts) == len(tile_starts(length, min(tile, length), overlap))
    assert starts[-1] + side == length and all(b - a <= side - overlap for a, b in zip(starts, starts[1:]))
    assert side == length or side < tile or len(starts) * tile - (len(starts) - 1) * overlap == length
    if (length, tile) == (540, 352):
        assert (side, starts) == (290, [0, 250])


def test_a_window_tiled_with_the_pictures_sides_matches_the_picture():
    """The streamed path's promise: a window of whole tiles, enlarged with the picture's tile
    sides, equals that window of the whole picture's tiled result."""
    torch.manual_seed(0)
    convs = torch.nn.Sequential(*[torch.nn.Conv2d(3, 3, 5, padding=2) for _ in range(3)])  # sees 6 px: past the 2 px margin
    model = lambda x: torch.nn.functional.interpolate(convs(x), scale_factor=2, mode="nearest")  # noqa: E731
    image = torch.rand(1, 3, 70, 150)
    whole = upscale_tiled(model, image, 2, tile=64, overlap=8)
    side = tile_side(150, 64, 8)  # 56: three tiles at 0, 48, 94
    starts = tile_starts(150, side, 8)
    window = image[..., starts[1] : starts[2] + side]
    alone = upscale_tiled(model, window, 2, tile=64, overlap=8, sides=(tile_side(70, 64, 8), side))
    inner = slice((starts[1] + 8) * 2, (starts[2] + side - 8) * 2)  # away from the window's own edges
    assert torch.allclose(alone[..., inner.start - starts[1] * 2 : inner.stop - starts[1] * 2], whole[..., inner], atol=1e-5)
    resized = upscale_tiled(model, window, 2, tile=64, overlap=8)  # sized to the window: other tiles
    assert not torch.allclose(resized[..., inner.start - starts[1] * 2 : inner.stop - starts[1] * 2], whole[..., inner], atol=1e-5)


def test_tile_must_exceed_overlap():
    with pytest.raises(ValueError):
        tile_starts(100, 8, 8)


def test_tiling_is_exact_for_a_pointwise_model():
    # A 1x1 "model" has no receptive field, so tiled and untiled must agree to rounding.
    image = torch.rand(1, 3, 70, 90)
    model = lambda x: torch.nn.functional.interpolate(x * 0.5 + 0.1, scale_factor=2, mode="nearest")  # noqa: E731
    assert torch.allclose(upscale_tiled(model, image, 2, tile=32, overlap=8, batch_size=3), model(image), atol=1e-6)


def _real_image_and_model():
    weights = ROOT / "weights" / "span_clean.pt"
    sample = SHARED_DATA / "ifo" / "Large_QuadCopters"
    if weights.exists() and sample.exists():
        path = sorted(sample.iterdir())[0]
        image = load_rgb(path).permute(1, 2, 0).numpy()[:200, :180]
        return image, Upscaler.from_weights(weights, tile=64, overlap=24, tile_batch=4)  # SPAN's overlap (dronesr/archs/span.py)
    return synthetic_photo(180, 200), Upscaler(prepare_for_inference(tiny_srresnet()), tile=64, overlap=16)


def test_tiled_matches_untiled_on_a_real_image():
    """>= 50 dB between tiled and untiled output, and no extra error along the tile borders."""
    image, upscaler = _real_image_and_model()
    x = torch.from_numpy(image).permute(2, 0, 1).unsqueeze(0).float() / 255
    full = upscaler.enlarge(x, tiled=False)
    tiled = upscaler.enlarge(x, tiled=True)
    assert psnr_rgb(tiled.clamp(0, 1), full.clamp(0, 1)) >= 50

    # Error per output column: columns where tiles meet vs all the others.
    s = upscaler.scale
    error = (tiled - full).abs().mean(dim=(0, 1, 2))
    seams = set()
    for start in tile_starts(x.shape[3], tile_side(x.shape[3], upscaler.tile, upscaler.overlap), upscaler.overlap)[1:]:
        seams.update(range(start * s, (start + upscaler.overlap) * s))
    seams = sorted(seams)
    assert error[seams].max() <= 1.0 / 255, "stitching error must stay below one grey level"

    # Against the ground truth, the tiled result is no worse along the seams than untiled.
    hr = torch.nn.functional.interpolate(x, scale_factor=s, mode="bicubic", align_corners=False).clamp(0, 1)
    tiled_err = (tiled.clamp(0, 1) - hr).abs().mean(dim=(0, 1, 2))[seams].mean()
    full_err = (full.clamp(0, 1) - hr).abs().mean(dim=(0, 1, 2))[seams].mean()
    assert tiled_err <= full_err * 1.01 + 1e-6


def test_upscaler_uint8_roundtrip_shapes(tiny_weights):
    upscaler = Upscaler.from_weights(tiny_weights, tile=32, overlap=8)
    out = upscaler.upscale(synthetic_photo(50, 40))
    assert out.shape == (160, 200, 3) and out.dtype == np.uint8


def _on_meta(model: torch.nn.Module) -> Upscaler:
    """An Upscaler whose model lives on PyTorch's ``meta`` device: a non-CPU device on every
    machine, so a tensor the tiled path creates on the CPU fails here as it would on CUDA."""
    return Upscaler(prepare_for_inference(model, "meta"), tile=48, overlap=8, tile_batch=3, device=torch.device("meta"))


@pytest.mark.parametrize("size", [None, (260, 150)])  # the network's own size, and outscale's resize
def test_tiled_path_keeps_every_tensor_on_the_models_device(size):
    upscaler = _on_meta(tiny_srresnet())
    image = torch.rand(1, 3, 100, 130)  # 3x3 tiles of 48: masks on every shared edge
    result = upscaler.enlarge(image, size=size)
    assert result.device.type == "meta" and result.dtype == torch.float32
    assert tuple(result.shape[-2:]) == ((400, 520) if size is None else (150, 260))


def test_shipped_span_tiles_on_a_non_cpu_device():
    from dronesr.archs import SPAN

    upscaler = _on_meta(SPAN(scale=4, channels=8))
    assert upscaler.enlarge(torch.rand(1, 3, 70, 90)).shape == (1, 3, 280, 360)


def test_tile_count_is_what_the_network_runs_on(tiny_weights):
    """X-Tiles: the tiles of the frame (or of a region with its context), and 1 for a network
    that tiles internally (it is given the whole frame: dronesr/sr/upscaler.py)."""
    from dronesr.sr.region import Region
    from dronesr.sr.resolver import SuperResolver
    from dronesr.tiling import count_tiles

    sr = SuperResolver.open(tiny_weights, tile=32, precision="float32", execution="pytorch")
    assert sr.upscaler.tile == 32 and sr.tile_count(100, 70) == count_tiles(70, 100, 32, sr.upscaler.overlap) > 1
    region = Region(40, 30, 10, 10)
    window = region.with_context(sr.upscaler.overlap, 100, 70)[0]
    assert sr.tile_count(100, 70, region) == count_tiles(window.height, window.width, 32, sr.upscaler.overlap)
    sr.upscaler.model.tiling = "internal"
    assert sr.tile_count(100, 70) == 1
