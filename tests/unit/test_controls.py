"""The user controls, in process: fidelity and restore (network interpolation), outscale, and the
style's preserve_colour; through the handlers with a mock context and through the CLI."""

from __future__ import annotations

import io
import shutil

import numpy as np
import pytest
import torch
from PIL import Image


from dronesr.checkpoint import save_model
from dronesr.cli.main import main as cli_main
from dronesr.errors import ClientError
from dronesr.sr.upscaler import outscaled_size, prepare_for_inference
from dronesr.style.model import StyleModel
from dronesr.style.plan import StylePlan
from dronesr.sr.plan import UpscalePlan
from dronesr.sr.blend import WeightsBlend, interpolate_states, parse_fidelity
from dronesr.sr.deblock import deblock
from dronesr.image.codecs import decode_image
from handlers.sr_handler import SuperResolutionHandler
from handlers.style_handler import StyleTransferHandler
from tests.helpers import encode, handler_reply, make_context, mean_chroma, rgb_pixels, synthetic_photo, tiny_srresnet, tiny_style_net

pytestmark = pytest.mark.usefixtures("one_torch_thread")


# --- outscale ---------------------------------------------------------------------------------


@pytest.mark.parametrize("text, expected", [(None, 4.0), ("", 4.0), ("2", 2.0), (" 2.5 ", 2.5), ("4", 4.0), ("1.01", 1.01)])
def test_outscale_parses_above_one_up_to_the_scale(text, expected):
    assert UpscalePlan.from_params({} if text is None else {"outscale": text}, 4).outscale == expected


@pytest.mark.parametrize("text", ["1", "0.5", "4.5", "5", "nan", "inf", "-2", "two"])
def test_outscale_outside_one_to_scale_is_refused(text):
    with pytest.raises(ClientError, match="outscale"):
        UpscalePlan.from_params({"outscale": text}, 4)


def test_outscaled_size_rounds_halves_up():
    assert outscaled_size(40, 30, 2) == (80, 60)
    assert outscaled_size(33, 21, 2.5) == (83, 53)  # 82.5 -> 83, 52.5 -> 53


@pytest.fixture
def sr_handler(tmp_path):
    """A tiny srgan-like archive: GAN weights, PSNR weights for fidelity, float32 (exact)."""
    gan, psnr = tiny_srresnet(seed=1), tiny_srresnet(seed=2)
    save_model(gan, tmp_path / "model.pt")
    save_model(psnr, tmp_path / "psnr.pt")
    ctx = make_context(tmp_path, {"fidelity_weights": "psnr.pt", "precision": "float32"})
    handler = SuperResolutionHandler()
    handler.initialize(ctx)
    return handler, ctx, tmp_path


def test_outscale_gives_the_rounded_size_alpha_included(sr_handler):
    handler, ctx, _ = sr_handler
    rgba = np.dstack([synthetic_photo(33, 21), np.full((21, 33), 200, np.uint8)])
    code, body = handler_reply(handler, ctx, {"body": encode(rgba, "PNG"), "outscale": "2.5"})
    assert code == 200
    result = Image.open(io.BytesIO(body))
    assert result.size == (83, 53) and result.mode == "RGBA"
    assert ctx.get_response_headers(0)["X-Output-Size"] == "83x53"
    code, body = handler_reply(handler, ctx, {"body": encode(synthetic_photo(40, 30), "PNG"), "outscale": "2"})
    assert code == 200 and Image.open(io.BytesIO(body)).size == (80, 60)


def test_outscale_2_is_the_x4_result_downscaled(sr_handler):
    handler, ctx, _ = sr_handler
    photo = encode(synthetic_photo(40, 32), "PNG")
    _, x4 = handler_reply(handler, ctx, {"body": photo})
    _, x2 = handler_reply(handler, ctx, {"body": photo, "outscale": "2"})
    reduced = np.asarray(Image.open(io.BytesIO(x4)).resize((80, 64), Image.LANCZOS)).astype(int)
    assert np.abs(rgb_pixels(x2) - reduced).mean() < 1.5  # the same picture, not a bicubic x2 of the input


@pytest.mark.parametrize("value", ["5", "1", "0", "abc"])
def test_bad_outscale_is_400(sr_handler, value):
    handler, ctx, _ = sr_handler
    code, body = handler_reply(handler, ctx, {"body": encode(synthetic_photo(20, 20), "PNG"), "outscale": value})
    assert code == 400 and b"outscale" in body


# --- fidelity ---------------------------------------------------------------------------------


def test_parse_fidelity_rounds_to_the_cache_step():
    assert parse_fidelity(None) is None and parse_fidelity(" ") is None
    assert parse_fidelity("0.53") == 0.55 and parse_fidelity("1") == 1.0 and parse_fidelity("0.02") == 0.0
    for bad in ("-0.1", "1.2", "nan", "high"):
        with pytest.raises(ClientError, match="fidelity"):
            parse_fidelity(bad)


def test_interpolation_is_parameter_by_parameter_and_checks_the_networks():
    a, b = tiny_srresnet(seed=1).state_dict(), tiny_srresnet(seed=2).state_dict()
    half = interpolate_states(a, b, 0.5)
    for name in a:
        assert torch.allclose(half[name], (a[name] + b[name]) / 2, atol=1e-6)
    other = tiny_srresnet(scale=2).state_dict()
    with pytest.raises(ValueError, match="not the same network"):
        interpolate_states(a, other, 0.5)


def test_weights_blend_sets_the_weights_and_bounds_its_cache():
    model = tiny_srresnet(seed=1)
    gan, psnr = model.state_dict(), tiny_srresnet(seed=2).state_dict()
    gan = {k: v.clone() for k, v in gan.items()}
    blend = WeightsBlend(model, gan, psnr, cache_size=3)
    for value, expected in ((1.0, psnr), (0.0, gan)):
        blend.apply(value)
        assert all(torch.equal(model.state_dict()[k], expected[k]) for k in gan)
    for value in (0.1, 0.2, 0.3, 0.4, 0.5):
        blend.apply(value)
    assert len(blend.cache) == 3 and list(blend.cache) == [(0.3, 0.0), (0.4, 0.0), (0.5, 0.0)]


def test_weights_blend_restore_moves_the_psnr_end_and_fidelity_spans_gan_to_it():
    gan, clean, restore = (tiny_srresnet(seed=s).state_dict() for s in (1, 2, 3))
    gan = {k: v.clone() for k, v in gan.items()}
    model = tiny_srresnet(seed=1)
    blend = WeightsBlend(model, gan, clean, restore)
    key = "tail.weight"
    cases = {(0.0, 0.7): gan[key], (1.0, 0.0): clean[key], (1.0, 1.0): restore[key],
             (1.0, 0.5): (clean[key] + restore[key]) / 2, (0.5, 1.0): (gan[key] + restore[key]) / 2}
    for (fidelity, amount), expected in cases.items():
        blend.apply(fidelity, amount)
        assert torch.allclose(model.state_dict()[key], expected, atol=1e-7), (fidelity, amount)
    # srresnet's archive: no GAN, the base is the clean network and restore blends it
    plain = tiny_srresnet(seed=2)
    only_restore = WeightsBlend(plain, clean, restore=restore)
    only_restore.apply(0.3, 1.0)  # fidelity is ignored without a PSNR network to blend towards
    assert torch.equal(plain.state_dict()[key], restore[key]) and not only_restore.has_fidelity and only_restore.has_restore
    with pytest.raises(ValueError, match="not the same network"):
        WeightsBlend(plain, clean, restore=tiny_srresnet(scale=2).state_dict())


@pytest.fixture
def restore_handler(tmp_path):
    """A tiny srresnet-like archive: clean weights, restoration weights, float32 (exact)."""
    save_model(tiny_srresnet(seed=2), tmp_path / "model.pt")
    save_model(tiny_srresnet(seed=3), tmp_path / "restore.pt")
    ctx = make_context(tmp_path, {"restore_weights": "restore.pt", "precision": "float32"})
    handler = SuperResolutionHandler()
    handler.initialize(ctx)
    return handler, ctx, tmp_path


def single_network_reply(model_dir, weights: str, body: bytes) -> np.ndarray:
    shutil.copy(model_dir / weights, model_dir / "only.pt")
    ctx = make_context(model_dir, {"weights": "only.pt", "precision": "float32"})
    handler = SuperResolutionHandler()
    handler.initialize(ctx)
    code, reply = handler_reply(handler, ctx, {"body": body})
    assert code == 200
    return rgb_pixels(reply)


def test_restore_ends_are_the_two_networks_and_auto_reads_the_file(restore_handler):
    handler, ctx, model_dir = restore_handler
    clean_png = encode(synthetic_photo(40, 32), "PNG")
    rough_jpeg = encode(synthetic_photo(40, 32), "JPEG", quality=40)
    _, zero = handler_reply(handler, ctx, {"body": clean_png, "restore": "0"})
    assert ctx.get_response_headers(0)["X-Restore"] == "0 (requested)"
    _, one = handler_reply(handler, ctx, {"body": clean_png, "restore": "1"})
    assert np.array_equal(rgb_pixels(zero), single_network_reply(model_dir, "model.pt", clean_png))
    assert np.array_equal(rgb_pixels(one), single_network_reply(model_dir, "restore.pt", clean_png))
    code, auto = handler_reply(handler, ctx, {"body": rough_jpeg})
    assert code == 200 and ctx.get_response_headers(0)["X-Restore"] == "1 (auto: jpeg quality 40; grid at (0,4) smoothed)"
    # the restoration network on the upload with its block grid smoothed (dronesr/sr/deblock.py)
    smoothed = encode(deblock(decode_image(rough_jpeg, 10**7).rgb, (0, 4)), "PNG")
    assert np.array_equal(rgb_pixels(auto), single_network_reply(model_dir, "restore.pt", smoothed))
    description = handler.describe()
    assert description["restore"] is True and "restore" in description["parameters"] and description["fidelity"] is False


@pytest.mark.parametrize("value", ["-0.1", "1.5", "strong", "nan"])
def test_bad_restore_is_400(restore_handler, value):
    handler, ctx, _ = restore_handler
    code, body = handler_reply(handler, ctx, {"body": encode(synthetic_photo(20, 20), "PNG"), "restore": value})
    assert code == 400 and b"restore" in body


def test_fidelity_one_is_the_psnr_network_and_zero_the_default(sr_handler):
    handler, ctx, model_dir = sr_handler
    photo = encode(synthetic_photo(36, 28), "PNG")
    _, default = handler_reply(handler, ctx, {"body": photo})
    _, zero = handler_reply(handler, ctx, {"body": photo, "fidelity": "0"})
    _, one = handler_reply(handler, ctx, {"body": photo, "fidelity": "1"})
    _, half = handler_reply(handler, ctx, {"body": photo, "fidelity": "0.5"})
    _, default_again = handler_reply(handler, ctx, {"body": photo})  # the blend is put back, not left at 0.5
    shutil.copy(model_dir / "psnr.pt", model_dir / "model.pt")
    psnr_ctx = make_context(model_dir, {"precision": "float32"})
    psnr_handler = SuperResolutionHandler()
    psnr_handler.initialize(psnr_ctx)
    _, psnr = handler_reply(psnr_handler, psnr_ctx, {"body": photo})
    assert np.array_equal(rgb_pixels(zero), rgb_pixels(default)) and np.array_equal(rgb_pixels(default_again), rgb_pixels(default))
    assert np.abs(rgb_pixels(one) - rgb_pixels(psnr)).max() <= 1
    assert np.abs(rgb_pixels(half) - rgb_pixels(default)).max() > 0 and np.abs(rgb_pixels(half) - rgb_pixels(one)).max() > 0
    assert handler.describe()["fidelity"] is True and "fidelity" in handler.describe()["parameters"]


@pytest.mark.parametrize("name, value", [("fidelity", "0.5"), ("restore", "auto")])
def test_blend_parameters_on_a_model_without_them_are_unknown(tmp_path, tiny_weights, name, value):
    shutil.copy(tiny_weights, tmp_path / "model.pt")
    ctx = make_context(tmp_path)
    handler = SuperResolutionHandler()
    handler.initialize(ctx)
    code, body = handler_reply(handler, ctx, {"body": encode(synthetic_photo(16, 16), "PNG"), name: value})
    assert code == 400 and b"Unknown parameter" in body and b"outscale" in body


# --- preserve_colour --------------------------------------------------------------------------


def test_preserve_colour_keeps_the_photos_chroma_and_takes_the_styles_light():
    net = tiny_style_net()
    photo = synthetic_photo(40, 32)
    weights = net.style_vector({"alpha": 1.0})
    model = StyleModel(prepare_for_inference(net), torch.device("cpu"), "tiny", {})
    painted = model.paint(photo, StylePlan(weights, 1.0))
    kept = model.paint(photo, StylePlan(weights, 1.0, preserve_colour=True))
    assert np.abs(mean_chroma(kept) - mean_chroma(photo)).max() <= 3
    assert np.abs(mean_chroma(painted) - mean_chroma(photo)).max() > 3  # the tiny style does shift colour
    assert np.abs(kept.astype(int) - photo.astype(int)).mean() > 3  # and the luminance is the style's


def test_style_handler_preserve_colour_parameter(tmp_path):
    net = tiny_style_net()
    save_model(net, tmp_path / "model.pt")
    ctx = make_context(tmp_path, {"max_side": 64, "precision": "float32"})
    handler = StyleTransferHandler()
    handler.initialize(ctx)
    photo = synthetic_photo(40, 32)
    code, body = handler_reply(handler, ctx, {"body": encode(photo, "PNG"), "preserve_colour": "true", "format": "png"})
    assert code == 200 and np.abs(mean_chroma(rgb_pixels(body).astype(np.uint8)) - mean_chroma(photo)).max() <= 3
    code, body = handler_reply(handler, ctx, {"body": encode(photo, "PNG"), "preserve_colour": "maybe"})
    assert code == 400 and b"preserve_colour" in body


# --- the CLI ----------------------------------------------------------------------------------


def test_cli_outscale_and_fidelity_rules(tmp_path, tiny_weights, capsys):
    photo = tmp_path / "in" / "p.png"
    photo.parent.mkdir()
    photo.write_bytes(encode(synthetic_photo(30, 20), "PNG"))
    assert cli_main(["upscale", str(photo), "-o", str(tmp_path / "out"), "--model", str(tiny_weights), "--outscale", "3"]) == 0
    assert Image.open(tmp_path / "out" / "p.png").size == (90, 60)
    with pytest.raises(SystemExit) as exit_info:
        cli_main(["upscale", str(photo), "-o", str(tmp_path / "o2"), "--model", str(tiny_weights), "--fidelity", "0.5"])
    assert exit_info.value.code == 2 and "--model srgan" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        cli_main(["upscale", str(photo), "-o", str(tmp_path / "o3"), "--model", str(tiny_weights), "--outscale", "6"])
    assert exit_info.value.code == 2 and "outscale must be above 1 and at most 4" in capsys.readouterr().err


@pytest.mark.parametrize("fidelity, restore, role", [("0", "0", "weights"), ("1", "0", "fidelity_weights"), ("1", "1", "restore_weights")])
def test_cli_srgans_ends_are_its_three_networks(tmp_path, fidelity, restore, role):
    """srgan's fidelity 0 is its GAN, fidelity 1 its faithful twins (restore 0: the clean-input
    one, 1: the restoration one): each end gives what that weights file gives run alone."""
    from dronesr.sr.resolver import CHECKOUT, shipped_settings

    photo = tmp_path / "p.png"
    photo.write_bytes(encode(synthetic_photo(24, 20), "PNG"))
    weights = CHECKOUT / "weights" / shipped_settings("srgan").weights_files()[role]
    common = ["--precision", "float32", "--ensemble", "false"]
    assert cli_main(["upscale", str(photo), "-o", str(tmp_path / "end"), "--model", "srgan", "--fidelity", fidelity, "--restore", restore, *common]) == 0
    assert cli_main(["upscale", str(photo), "-o", str(tmp_path / "alone"), "--model", str(weights), *common]) == 0
    end, alone = (rgb_pixels((tmp_path / folder / "p.png").read_bytes()) for folder in ("end", "alone"))
    assert np.abs(end - alone).max() <= 1
    if role != "weights":  # and the GAN is not its twin
        assert cli_main(["upscale", str(photo), "-o", str(tmp_path / "gan"), "--model", "srgan", "--fidelity", "0", "--restore", restore, *common]) == 0
        assert np.abs(rgb_pixels((tmp_path / "gan" / "p.png").read_bytes()) - end).max() > 2


def test_srresnet_ensemble_auto_averages_small_photos(tmp_path):
    """ensemble=auto: a 24x20 photo is within srresnet's ensemble_auto_pixels, so its 8 passes are averaged."""
    photo = tmp_path / "p.png"
    photo.write_bytes(encode(synthetic_photo(24, 20), "PNG"))
    outputs = {}
    for name, extra in (("once", ["--ensemble", "false"]), ("auto", []), ("eight", ["--ensemble", "true"])):
        assert cli_main(["upscale", str(photo), "-o", str(tmp_path / name), "--model", "srresnet", "--precision", "float32", *extra]) == 0
        outputs[name] = rgb_pixels((tmp_path / name / "p.png").read_bytes())
    assert np.array_equal(outputs["auto"], outputs["eight"])
    assert np.abs(outputs["eight"].astype(int) - outputs["once"]).max() > 0


def test_weights_blend_mixes_on_the_models_device():
    """The GAN lives with the network on its device, the PSNR and restoration files are read on
    the CPU: every blend must still be computed on one device (``meta`` stands in for a GPU)."""
    clean, restore = (tiny_srresnet(seed=s).state_dict() for s in (2, 3))
    model = tiny_srresnet(seed=1).to("meta")
    blend = WeightsBlend(model, model.state_dict(), clean, restore)
    for fidelity, amount in ((0.5, 0.5), (0.25, 1.0), (1.0, 0.3)):
        blend.apply(fidelity, amount)
        assert all(v.device.type == "meta" for v in blend.state(fidelity, amount).values())
