"""Bring your own weights: SR networks of families spandrel knows, as state dicts and as
safetensors, loaded safely (dronesr/sr_weights.py), in the CLI, and end to end:
``make archive NAME=... WEIGHTS=...``, served by TorchServe, listed by the page's server."""

from __future__ import annotations

import io
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
import requests
import torch
from PIL import Image
from safetensors.torch import save_file
from spandrel.architectures.Compact import Compact
from spandrel.architectures.ESRGAN import ESRGAN
from spandrel.architectures.SPAN import SPAN
from spandrel.architectures.SwinIR import SwinIR

from dronesr import limits
from dronesr.cli.main import main as cli_main
from dronesr.inference import Upscaler
from dronesr.sr_weights import WeightsError, load_sr_model, network_info
from harness import torchserve
from tests.helpers import ROOT, encode, synthetic_photo

pytestmark = pytest.mark.usefixtures("one_torch_thread")

# Small random networks of four families (the shapes spandrel reads the architecture from).
FAMILIES = {
    "esrgan": (lambda: ESRGAN(num_filters=16, num_blocks=2, scale=4), "ESRGAN", 4),
    "compact": (lambda: Compact(num_feat=16, num_conv=4, upscale=2), "RealESRGAN Compact", 2),
    "span": (lambda: SPAN(num_in_ch=3, num_out_ch=3, feature_channels=16, upscale=4), "SPAN", 4),
    "swinir": (lambda: SwinIR(img_size=32, embed_dim=24, depths=[2], num_heads=[2], window_size=8, upscale=2, upsampler="pixelshuffledirect"), "SwinIR", 2),
}


class RunsCode:
    """Unpickling this calls os.system: the kind of file that must never be loaded."""

    def __reduce__(self):
        return (os.system, ("echo this-ran > /dev/null",))


def save_weights(family: str, folder: Path, fmt: str) -> Path:
    torch.manual_seed(0)
    state = FAMILIES[family][0]().state_dict()
    path = folder / f"{family}.{fmt}"
    if fmt == "safetensors":
        save_file({k: v.contiguous() for k, v in state.items()}, str(path))
    else:
        torch.save(state, path)
    return path


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

E2E_MODELS = [(family, fmt) for family in ("esrgan", "compact", "swinir") for fmt in ("pth", "safetensors")]


def make_archive(store: Path, name: str, weights: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["make", "--no-print-directory", "archive", f"NAME={name}", f"WEIGHTS={weights}", f"MODEL_STORE={store}"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )


@pytest.fixture(scope="module")
def byo_server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("byo")
    store = folder / "store"
    names = []
    for family, fmt in E2E_MODELS:
        name = f"{family}-{fmt}"
        done = make_archive(store, name, save_weights(family, folder, fmt))
        assert done.returncode == 0, done.stderr + done.stdout
        names.append(name)
    server = torchserve.start(folder / "ts", store, names)
    try:
        yield server, store, folder, names
    finally:
        server.stop()


@pytest.mark.e2e
def test_archived_foreign_models_answer_at_their_scale(byo_server):
    server, _, _, names = byo_server
    png = encode(synthetic_photo(32, 32), "PNG")
    for name in names:
        scale = FAMILIES[name.split("-")[0]][2]
        response = requests.post(f"{server.inference}/predictions/{name}", data=png, timeout=120)
        assert response.status_code == 200, (name, response.text)
        assert Image.open(io.BytesIO(response.content)).size == (32 * scale, 32 * scale), name
    # the SR handler's rules hold for them too: outscale, formats, 4xx JSON for a bad parameter
    response = requests.post(f"{server.inference}/predictions/esrgan-pth", files={"data": png}, data={"outscale": "3", "format": "jpeg"}, timeout=120)
    assert response.status_code == 200 and Image.open(io.BytesIO(response.content)).size == (96, 96)
    response = requests.post(f"{server.inference}/predictions/compact-pth", files={"data": png}, data={"outscale": "3"}, timeout=60)
    assert response.status_code == 400 and "at most 2" in response.json()["message"]


@pytest.mark.e2e
def test_a_foreign_model_is_tiled_without_seams(byo_server):
    server, _, folder, _ = byo_server
    photo = synthetic_photo(300, 220)  # more than one 192-px tile each way
    response = requests.post(f"{server.inference}/predictions/esrgan-pth", data=encode(photo, "PNG"), timeout=300)
    assert response.status_code == 200 and int(response.headers["X-Tiles"]) > 1
    whole = Upscaler(load_sr_model(folder / "esrgan.pth"), tile=1024).upscale(photo, tiled=False)
    served = np.asarray(Image.open(io.BytesIO(response.content))).astype(int)
    assert np.abs(served - whole.astype(int)).mean() < 1.0


@pytest.mark.e2e
def test_the_page_server_lists_every_served_sr_model(byo_server):
    server, _, _, names = byo_server
    listed = requests.get(f"{server.page}/models.json", timeout=10).json()
    assert listed["checked"] is True
    by_name = {m["name"]: m for m in listed["models"]}
    assert set(by_name) == set(names)
    assert by_name["compact-safetensors"]["scale"] == 2 and by_name["esrgan-pth"]["architecture"] == "ESRGAN"


@pytest.mark.e2e
def test_a_pickle_that_runs_code_is_refused_at_archive_time(tmp_path):
    torch.save({"weight": torch.zeros(1), "payload": RunsCode()}, tmp_path / "evil.pth")
    done = make_archive(tmp_path / "store", "evil", tmp_path / "evil.pth")
    assert done.returncode != 0
    assert "refused: loading it would run code" in done.stderr and "state_dict" in done.stderr
    assert not (tmp_path / "store" / "evil.mar").exists()


@pytest.mark.e2e
def test_archive_needs_a_name_and_keeps_the_shipped_names(tmp_path):
    weights = save_weights("compact", tmp_path, "pth")
    done = subprocess.run(["make", "--no-print-directory", "archive", f"WEIGHTS={weights}"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0 and "needs NAME=" in done.stderr
    done = make_archive(tmp_path / "store", "srgan", weights)
    assert done.returncode != 0 and "shipped model's name" in done.stderr


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
    monkeypatch.setattr(Upscaler, "select_precision", lambda self, requested="auto": PrecisionChoice("float32", "cpu", {"float32": 30.0}))
    slow, _ = build_archive.foreign_config(weights, None, None, None)
    assert slow["handler"]["max_output_pixels"] == (300 // 2 // 30) * (192 - 16) ** 2 * 2 * 2
    chosen, _ = build_archive.foreign_config(weights, 96, 8, 1_000_000)
    assert (chosen["handler"]["tile"], chosen["handler"]["overlap"], chosen["handler"]["max_output_pixels"]) == (96, 8, 1_000_000)
