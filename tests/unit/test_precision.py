"""Precision and device chosen by measurement (dronesr/precision.py), in the SR handler and the
Upscaler; CUDA paths run only where CUDA is present."""

from __future__ import annotations

import dataclasses
import shutil

import numpy as np
import pytest
import torch

from dronesr import precision as prec
from dronesr.sr.upscaler import Upscaler, prepare_for_inference
from handlers.sr_handler import SuperResolutionHandler
from tests.helpers import ROOT, encode, handler_reply, make_context, rgb_pixels, synthetic_photo, tiny_srresnet

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


def test_explicit_precision_is_kept_without_timing():
    calls = []
    choice = prec.choose_precision(lambda p: calls.append(p) or torch.zeros(1), torch.device("cpu"), "float32")
    assert choice.precision == "float32" and calls == [] and choice.seconds == {}


def test_auto_refuses_a_low_precision_that_drifts_from_float32():
    def run(precision: str) -> torch.Tensor:
        return torch.full((1, 3, 8, 8), 0.5 if precision == "float32" else 0.6)  # 20 dB off

    choice = prec.choose_precision(run, torch.device("cpu"), "auto", repeats=1)
    assert choice.precision == "float32"
    assert choice.psnr_db["bfloat16"] == pytest.approx(20.0, abs=0.1)
    assert "bfloat16" not in choice.seconds


def test_auto_keeps_the_faster_accurate_precision():
    import time

    def run(precision: str) -> torch.Tensor:
        time.sleep(0.02 if precision == "float32" else 0.001)
        return torch.full((1, 3, 8, 8), 0.5)

    choice = prec.choose_precision(run, torch.device("cpu"), "auto", repeats=1)
    assert choice.precision == "bfloat16" and choice.seconds["bfloat16"] < choice.seconds["float32"]
    assert "bfloat16" in choice.summary() and choice.as_dict()["precision"] == "bfloat16"


def test_bad_names_are_refused():
    with pytest.raises(ValueError, match="precision"):
        prec.choose_precision(lambda p: torch.zeros(1), torch.device("cpu"), "int4")
    with pytest.raises(ValueError, match="device"):
        prec.resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            prec.resolve_device("cuda")
        assert prec.resolve_device("auto", gpu_id=0).type == "cpu"


def test_upscaler_bfloat16_stays_within_the_bar_of_float32(one_torch_thread):
    upscaler = Upscaler(prepare_for_inference(tiny_srresnet()), tile=32, overlap=8)
    rgb = synthetic_photo(40, 30)
    reference = upscaler.upscale(rgb).astype(float)
    upscaler.precision = "bfloat16"
    low = upscaler.upscale(rgb).astype(float)
    mse = np.mean((low - reference) ** 2)
    assert mse == 0 or 10 * np.log10(255**2 / mse) > 40
    choice = upscaler.select_precision("auto", repeats=1)
    assert choice.precision in ("float32", "bfloat16") and upscaler.precision == choice.precision


def test_handler_reports_its_choice_in_describe_and_metrics(tmp_path, tiny_weights):
    shutil.copy(tiny_weights, tmp_path / "model.pt")
    ctx = make_context(tmp_path, {"precision": "auto"})
    handler = SuperResolutionHandler()
    handler.initialize(ctx)
    described = handler.describe()
    assert described["device"] == ("cuda:0" if torch.cuda.is_available() else "cpu")
    assert described["precision"]["precision"] in ("float32", "bfloat16", "float16")
    assert "float32" in described["precision"]["seconds"]
    assert any(name == "DronesrPrecisionTileMs" for name, _ in ctx.metrics.times)
    on_gpu = torch.cuda.is_available()
    settings = handler.settings
    assert described["tiling"]["tile"] == (settings.gpu_tile if on_gpu else settings.tile)
    assert (described["tiling"]["tile_batch"] >= 1) if on_gpu else (described["tiling"]["tile_batch"] == settings.tile_batch)


def test_handler_refuses_an_unknown_precision_setting(tmp_path, tiny_weights):
    shutil.copy(tiny_weights, tmp_path / "model.pt")
    with pytest.raises(ValueError, match="precision"):
        SuperResolutionHandler().initialize(make_context(tmp_path, {"precision": "fp8"}))


@cuda
def test_cuda_upscale_matches_the_cpu(tmp_path, tiny_weights):
    rgb = synthetic_photo(300, 200)
    cpu = Upscaler.from_weights(tiny_weights, tile=64, overlap=8).upscale(rgb).astype(int)
    gpu = Upscaler.from_weights(tiny_weights, "cuda", tile=64, overlap=8)
    assert np.abs(gpu.upscale(rgb).astype(int) - cpu).max() <= 2
    assert gpu.select_precision("auto").precision in ("float32", "float16", "bfloat16")


@cuda
def test_cuda_handler_uses_the_assigned_gpu_and_its_tile(tmp_path, tiny_weights):
    shutil.copy(tiny_weights, tmp_path / "model.pt")
    ctx = make_context(tmp_path)
    ctx.system_properties["gpu_id"] = 0
    handler = SuperResolutionHandler()
    handler.initialize(ctx)
    assert handler.device.type == "cuda" and handler.upscaler.tile == handler.settings.gpu_tile
    # the tile batch fitted to free memory, and a frame of several GPU tiles through the handler
    assert 1 <= handler.upscaler.tile_batch <= 16
    status, body = handler_reply(handler, ctx, {"body": encode(synthetic_photo(700, 300))})
    assert status == 200 and rgb_pixels(body).shape == (1200, 2800, 3)


def test_onnxruntime_is_timed_as_a_path_and_matches_pytorch(tmp_path, tiny_weights):
    """The worker's ``auto`` times ONNX Runtime beside PyTorch's precisions; when it runs, its
    output is PyTorch's float32 one, also after a fidelity/restore blend loads new weights."""
    upscaler = Upscaler.from_weights(ROOT / "weights" / "span_clean.pt", tile=64, overlap=24)
    choice = upscaler.select_precision("auto", repeats=1)
    assert "onnxruntime" in choice.seconds and choice.psnr_db["onnxruntime"] > 100
    assert choice.execution in ("pytorch", "onnxruntime") and choice.path in choice.seconds
    upscaler.select_precision("auto", execution="onnxruntime")
    assert upscaler.execution == "onnxruntime" and upscaler.runner is not None
    photo = torch.from_numpy(synthetic_photo(100, 80)).permute(2, 0, 1)[None].float() / 255
    pytorch = dataclasses.replace(upscaler, execution="pytorch", precision="float32")
    assert (upscaler.enlarge(photo) - pytorch.enlarge(photo)).abs().max() < 1e-3
    # new weights loaded in place (as WeightsBlend does) reach the ONNX Runtime session
    restore = torch.load(ROOT / "weights" / "span_restore.pt", weights_only=True)["state_dict"]
    upscaler.model.load_state_dict(restore)
    assert (upscaler.enlarge(photo) - pytorch.enlarge(photo)).abs().max() < 1e-3
    with pytest.raises(ValueError, match="execution"):
        upscaler.select_precision("auto", execution="tensorrt")


def test_candidates_are_timed_in_turn_and_a_burst_of_load_does_not_decide():
    """Each round runs every candidate once; the fastest round counts. A candidate slowed by a
    burst of other load in one round (as when TorchServe starts all workers at once) still wins
    when it is the faster one."""
    import time

    from dronesr.precision import time_interleaved

    order, calls = [], {"fast": 0}

    def fast():
        order.append("fast")
        calls["fast"] += 1
        time.sleep(0.12 if calls["fast"] == 1 else 0.01)  # the burst: its first round only

    def slow():
        order.append("slow")
        time.sleep(0.03)

    seconds = time_interleaved({"fast": fast, "slow": slow}, torch.device("cpu"), rounds=3)
    assert order == ["fast", "slow"] * 3
    assert seconds["fast"] < 0.025 < seconds["slow"]
