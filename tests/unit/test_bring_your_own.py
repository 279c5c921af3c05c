"""Bring your own weights in process: SR networks of families spandrel knows, as state dicts and as
safetensors, loaded safely (dronesr/sr/weights.py), in the CLI, and the archive settings made for
them (served end to end: tests/e2e/test_served_foreign_weights.py)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from dronesr import limits
from dronesr.cli.main import main as cli_main
from dronesr.sr.upscaler import Upscaler
from dronesr.sr.weights import WeightsError, load_sr_model, network_info
from tests.foreign_weights import FAMILIES, RunsCode, save_weights
from tests.helpers import ROOT, encode, synthetic_photo

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.mark.parametrize("fmt", ["pth", "safetensors"])
@pytest.mark.parametrize("family", FAMILIES)
def test_foreign_weights_load_with_their_family_and_scale(tmp_path, family, fmt):
    model = load_sr_model(save_weights(family, tmp_path, fmt))
    info = network_info(model)
    assert (info.family, info.scale) == FAMILIES[family][1:]
    upscaler = Upscaler(model, tile=80, overlap=info.overlap)
    rgb = synthetic_photo(150, 29)  # wider than one tile
    assert upscaler.upscale(rgb).shape == (29 * info.scale, 150 * info.scale, 3)


def test_wrapped_state_dicts_are_unwrapped(tmp_path):
    torch.manual_seed(0)
    torch.save({"params_ema": FAMILIES["compact"][0]().state_dict()}, tmp_path / "realesrgan.pth")  # BasicSR's layout
    assert network_info(load_sr_model(tmp_path / "realesrgan.pth")).scale == 2


def test_a_pickle_that_runs_code_is_refused(tmp_path):
    torch.save({"weight": torch.zeros(1), "payload": RunsCode()}, tmp_path / "evil.pth")
    with pytest.raises(WeightsError, match="refused: loading it would run code.*posix.system"):
        load_sr_model(tmp_path / "evil.pth")


@pytest.mark.parametrize(
    "content, words",
    [
        ({"conv.weight": torch.zeros(4, 3, 3, 3)}, "does not recognise"),
        ([1, 2, 3], "not a state dict"),
    ],
)
def test_unknown_or_odd_contents_are_refused_with_a_reason(tmp_path, content, words):
    torch.save(content, tmp_path / "odd.pt")
    with pytest.raises(WeightsError, match=words):
        load_sr_model(tmp_path / "odd.pt")


def test_non_weight_files_are_refused(tmp_path):
    (tmp_path / "notes.txt").write_text("hi")
    (tmp_path / "broken.safetensors").write_bytes(b"\x00" * 20)
    (tmp_path / "broken.pth").write_bytes(b"PK\x03\x04 not really")
    for name, words in (("notes.txt", "unknown weights file type"), ("broken.safetensors", "safetensors"), ("broken.pth", "not a readable PyTorch")):
        with pytest.raises(WeightsError, match=words):
            load_sr_model(tmp_path / name)


def test_cli_takes_foreign_weights(tmp_path):
    weights = save_weights("compact", tmp_path, "safetensors")
    photo = tmp_path / "p.png"
    photo.write_bytes(encode(synthetic_photo(30, 20), "PNG"))
    assert cli_main(["upscale", str(photo), "-o", str(tmp_path / "out"), "--model", str(weights)]) == 0
    assert Image.open(tmp_path / "out" / "p.png").size == (60, 40)


# --- end to end ---------------------------------------------------------------------------------



def test_archive_config_bounds_the_output_by_the_measured_tile_speed(tmp_path, monkeypatch):
    """A slow network gets a lower max_output_pixels, so a request at the limit ends well within
    TorchServe's response timeout (a timed-out request restarts the worker)."""
    import importlib.util

    from dronesr.precision import PrecisionChoice

    spec = importlib.util.spec_from_file_location("build_archive", ROOT / "scripts" / "build_archive.py")
    build_archive = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build_archive)
    weights = save_weights("compact", tmp_path, "pth")
    fast, note = build_archive.foreign_config(weights, None, None, None)
    assert fast["handler"]["max_output_pixels"] == limits.MAX_OUTPUT_PIXELS and note["scale"] == 2
    assert fast["handler"]["weights"] == "compact.pth" and fast["handler"]["overlap"] == 16
    monkeypatch.setattr(Upscaler, "select_precision", lambda self, requested="auto", execution="auto": PrecisionChoice("float32", "cpu", {"float32": 30.0}))
    slow, _ = build_archive.foreign_config(weights, None, None, None)
    assert slow["handler"]["max_output_pixels"] == (300 // 2 // 30) * (192 - 16) ** 2 * 2 * 2
    chosen, _ = build_archive.foreign_config(weights, 96, 8, 1_000_000)
    assert (chosen["handler"]["tile"], chosen["handler"]["overlap"], chosen["handler"]["max_output_pixels"]) == (96, 8, 1_000_000)


def test_spandrel_descriptors_decide_tiling_and_precisions(tmp_path):
    """A foreign network's tiling and precisions are its descriptor's; ours say the same things
    through the same attributes."""
    swinir = load_sr_model(save_weights("swinir", tmp_path, "pth"))
    descriptor = swinir.descriptor
    info = network_info(swinir)
    assert info.tiling == descriptor.tiling.name.lower() == "discouraged"  # spandrel's word for SwinIR
    assert info.overlap == 32  # the wide overlap of a network whose tiling is discouraged
    assert ("bfloat16" in info.precisions) == descriptor.supports_bfloat16 and ("float16" in info.precisions) == descriptor.supports_half
    esrgan = network_info(load_sr_model(save_weights("esrgan", tmp_path, "pth")))
    assert (esrgan.tiling, esrgan.overlap) == ("supported", 16)
    from dronesr.archs import SPAN as OwnSPAN

    own = network_info(OwnSPAN())
    assert (own.tiling, own.precisions, own.overlap) == ("supported", ("float32", "bfloat16", "float16"), OwnSPAN.TILE_OVERLAP)


def test_a_network_that_tiles_itself_runs_whole_and_precisions_it_lacks_are_never_tried(tmp_path):
    model = load_sr_model(save_weights("compact", tmp_path, "pth"))
    forwards = []
    model.register_forward_pre_hook(lambda module, args: forwards.append(args[0].shape))
    model.tiling, model.precisions = "internal", ("float32",)  # as a descriptor with INTERNAL tiling, no half/bfloat16 says
    upscaler = Upscaler(model, tile=32, overlap=16)
    assert upscaler.upscale(synthetic_photo(100, 70)).shape == (140, 200, 3)
    assert forwards == [(1, 3, 70, 100)]  # one forward of the whole frame, not 3x3 tiles
    choice = upscaler.select_precision("auto", repeats=1, execution="pytorch")
    assert set(choice.seconds) == {"float32"} and choice.precision == "float32"
    with pytest.raises(ValueError, match="runs only in float32"):
        upscaler.select_precision("bfloat16", execution="pytorch")
