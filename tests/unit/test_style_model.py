"""The one style loader and runner (dronesr/style/model.py): the handler and the CLI give the same
bytes, the same as before it (issue #31), and the execution path is chosen as SR's is: PyTorch
float32, bfloat16 autocast and ONNX Runtime timed at start, a path too far from float32 refused.

The reference hashes were computed with the code before the runner (commit eacaf23: the handler's
and the CLI's own loading and stylize_rgb) at float32 on one thread, on synthetic inputs with the
shipped weights/style.pt; they are tied to those weights' SHA-256 and to the CPU's instruction set
(oneDNN's float32 kernels differ between CPUs in the last bits, so elsewhere only the two paths
are compared with each other)."""

from __future__ import annotations

import hashlib
import shutil

import numpy as np
import pytest
import torch

import dronesr.style.model as style_model
from dronesr.archs import StyleNet
from dronesr.checkpoint import save_model
from dronesr.cli.transforms import WEIGHTS_DIR, StyleTransform
from dronesr.image.codecs import DecodedImage, decode_image
from dronesr.style.plan import parse_style_mix
from dronesr.model_settings import ModelSettings
from dronesr.onnx_runtime import OnnxRunner
from dronesr.style.plan import StylePlan
from dronesr.precision import cpu_features
from dronesr.style.model import STYLE_MIN_PSNR_DB, StyleModel, choose_style_path, run_network, stylize
from handlers.style_handler import StyleTransferHandler
from tests.helpers import ROOT, encode, handler_reply, make_context, synthetic_photo, tiny_style_net

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SHIPPED = WEIGHTS_DIR / "style.pt"
REFERENCE_WEIGHTS = "33e706532455e634911e2beb19a895eab93d273e40b6358085ba85462c65b6a8"
REFERENCE_CPU = "avx512_bf16,avx512f,avx2"  # 2 cores of an AMD EPYC
# name: (input, parameters, sha256 of the float32 result's pixels before the runner, one thread)
CASES = {
    "mosaic 640x360 (guided upsample)": (
        synthetic_photo(640, 360, seed=3), {"style": "mosaic"}, "9a3ae7b46346f60479b7b208578dd2718e2b2a7d921c92edbb599773294d7db4",
    ),
    "udnie + starry_night, strength, colours 120x90": (
        synthetic_photo(120, 90, seed=4), {"style": "udnie", "blend": "starry_night:0.3", "strength": "0.6", "preserve_colour": "true"},
        "ac25e8ac9ce8df9b1d9d01ef7e1d5074084eca11d2eec63b274cf36317c48911",
    ),
}


def digest(rgb: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(rgb).tobytes()).hexdigest()


def test_handler_and_cli_give_the_same_bytes_as_before_the_runner(tmp_path):
    shutil.copy(SHIPPED, tmp_path / "style.pt")
    ctx = make_context(tmp_path, {"weights": "style.pt", "precision": "float32", "execution": "pytorch", "max_side": 1024})
    handler = StyleTransferHandler()
    handler.initialize(ctx)
    for name, (rgb, params, before) in CASES.items():
        code, body = handler_reply(handler, ctx, {"body": encode(rgb, "PNG"), "format": "png", "provenance": "false", **params})
        assert code == 200, body
        served = decode_image(body, 10**8).rgb
        cli = StyleTransform.load(
            "style", params["style"], params.get("blend", ""), float(params.get("strength", 1)), torch.device("cpu"), "float32", 10**8, 1024,
            params.get("preserve_colour") == "true",
        ).image(DecodedImage(rgb, None, "PNG")).rgb
        assert np.array_equal(served, cli), name
        if hashlib.sha256(SHIPPED.read_bytes()).hexdigest() != REFERENCE_WEIGHTS:
            pytest.fail("weights/style.pt changed since the reference: a new weights file is a deliberate change of outputs; update CASES")
        if cpu_features() == REFERENCE_CPU:
            assert digest(cli) == before, name


def test_the_handler_and_the_cli_record_the_same_provenance(tmp_path):
    shutil.copy(SHIPPED, tmp_path / "style.pt")
    ctx = make_context(tmp_path, {"weights": "style.pt", "precision": "float32"})
    ctx.model_name = "style"  # the endpoint's name, as the CLI names the shipped weights
    handler = StyleTransferHandler()
    handler.initialize(ctx)
    transform = StyleTransform.load("style", "udnie", "", 0.5, torch.device("cpu"), "float32", 10**8, 1024)
    served = stylize(handler.style, DecodedImage(synthetic_photo(40, 30), None, "PNG"), transform.plan).image.provenance
    fields = {k: v for k, v in served.fields().items() if k != "created"}
    assert fields == {k: v for k, v in transform.provenance.fields().items() if k != "created"}
    assert fields["precision"] == "float32" and fields["styles"] == "udnie:1" and fields["work_side"] == "512"


def test_the_shipped_config_chooses_by_measurement():
    import yaml

    settings = ModelSettings.from_section(yaml.safe_load((ROOT / "handlers" / "style-config.yaml").read_text())["handler"])
    assert settings.precision == "auto" and settings.execution == "auto"


# --- the execution path ---------------------------------------------------------------------------


@pytest.mark.parametrize("h, w", [(5, 7), (33, 20), (24, 24), (40, 70)])
def test_onnx_runtime_paints_as_pytorch_float32_at_any_size(h, w):
    """The graph is traced on one work-size frame; the runner pads as forward() does, so odd sizes,
    tiny ones and those over the work side (guided upsample) come out as PyTorch's."""
    net = tiny_style_net()
    weights = net.style_vector({"beta": 0.7, "gamma": 0.3})
    runner = OnnxRunner(net, torch.rand(1, 3, net.work_side, net.work_side), inputs={"style_weights": weights})
    photo = torch.rand(1, 3, h, w, generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        reference = run_network(net, photo, weights, "float32")
        ours = run_network(net, photo, weights, "onnxruntime", runner, strength=1.0)
    assert ours.shape == reference.shape == (1, 3, h, w)
    assert torch.allclose(ours, reference, atol=1e-4)


def test_auto_times_float32_bfloat16_and_onnx_runtime_and_keeps_the_fastest_accurate_one():
    choice, runner = choose_style_path(tiny_style_net(), torch.device("cpu"))
    assert {"float32", "bfloat16", "onnxruntime"} == set(choice.psnr_db) | {"float32"}
    assert choice.psnr_db["onnxruntime"] > 80
    accepted = {p for p, db in choice.psnr_db.items() if db >= STYLE_MIN_PSNR_DB} | {"float32"}
    assert set(choice.seconds) == accepted and choice.path == min(choice.seconds, key=choice.seconds.get)
    assert (runner is not None) == (choice.execution == "onnxruntime")
    assert f"{STYLE_MIN_PSNR_DB:g} dB" in choice.reason


def test_a_path_under_the_bar_is_refused(monkeypatch):
    monkeypatch.setattr(style_model, "STYLE_MIN_PSNR_DB", 1000.0)
    choice, runner = choose_style_path(tiny_style_net(), torch.device("cpu"))
    assert choice.path == "float32" and set(choice.seconds) == {"float32"} and runner is None


def test_explicit_paths(tmp_path):
    net = tiny_style_net()
    choice, runner = choose_style_path(net, torch.device("cpu"), "float32", "auto")
    assert choice.path == "float32" and not choice.seconds and runner is None
    choice, runner = choose_style_path(net, torch.device("cpu"), "bfloat16", "pytorch")
    assert choice.path == "bfloat16" and runner is None
    choice, runner = choose_style_path(net, torch.device("cpu"), "auto", "onnxruntime")
    assert choice.path == "onnxruntime" and runner is not None
    with pytest.raises(ValueError, match="onnxruntime runs float32 on the CPU"):
        choose_style_path(net, torch.device("cpu"), "bfloat16", "onnxruntime")
    with pytest.raises(ValueError, match="execution must be one of"):
        choose_style_path(net, torch.device("cpu"), "auto", "tensorrt")


def test_a_graph_onnx_runtime_refuses_drops_out(monkeypatch):
    def refuse(*args, **kwargs):
        raise RuntimeError("ONNX Runtime cannot run the exported network (test)")

    monkeypatch.setattr(style_model, "OnnxRunner", refuse)
    net = tiny_style_net()
    choice, runner = choose_style_path(net, torch.device("cpu"))
    assert "onnxruntime" not in choice.psnr_db and runner is None and "onnxruntime not a candidate" in choice.reason
    with pytest.raises(ValueError, match="execution onnxruntime asked for"):
        choose_style_path(net, torch.device("cpu"), "auto", "onnxruntime")


def test_open_loads_chooses_and_records(tmp_path):
    save_model(tiny_style_net(), tmp_path / "mine.pt")
    model = StyleModel.open(tmp_path / "mine.pt", "cpu", "float32", max_side=32)
    assert isinstance(model.network, StyleNet) and model.choice.path == "float32"
    assert model.provenance.model == "mine.pt" and model.provenance.parameters == {"work_side": "24", "precision": "float32", "device": "cpu"}
    photo = DecodedImage(synthetic_photo(64, 20), None, "PNG")
    plan = StylePlan(parse_style_mix(model.network, "beta", None), 0.5)
    result = stylize(model, photo, plan)
    assert result.resized_from == (64, 20) and result.image.rgb.shape == (10, 32, 3) and model.result_size(64, 20) == (32, 10)
    assert result.image.provenance.parameters["styles"] == "beta:1" and result.image.provenance.parameters["strength"] == "0.5"
    assert stylize(model, DecodedImage(synthetic_photo(30, 20), None, "PNG"), plan).resized_from is None
