"""Your own SR weights through TorchServe: `make archive NAME=... WEIGHTS=...` of foreign networks,
served, tiled, listed by the page's server; archives that must be refused are."""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

import numpy as np
import pytest
import requests
import torch
from PIL import Image

from dronesr.sr.upscaler import Upscaler
from dronesr.sr.weights import load_sr_model
from harness import torchserve
from tests.foreign_weights import FAMILIES, RunsCode, save_weights
from tests.helpers import ROOT, encode, synthetic_photo

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


def test_a_foreign_model_is_tiled_without_seams(byo_server):
    server, _, folder, _ = byo_server
    photo = synthetic_photo(300, 220)  # more than one 192-px tile each way
    response = requests.post(f"{server.inference}/predictions/esrgan-pth", data=encode(photo, "PNG"), timeout=300)
    assert response.status_code == 200 and int(response.headers["X-Tiles"]) > 1
    whole = Upscaler(load_sr_model(folder / "esrgan.pth"), tile=1024).upscale(photo, tiled=False)
    served = np.asarray(Image.open(io.BytesIO(response.content))).astype(int)
    assert np.abs(served - whole.astype(int)).mean() < 1.0


def test_the_page_server_lists_every_served_sr_model(byo_server):
    server, _, _, names = byo_server
    listed = requests.get(f"{server.page}/models.json", timeout=10).json()
    assert listed["checked"] is True
    by_name = {m["name"]: m for m in listed["models"]}
    assert set(by_name) == set(names)
    assert by_name["compact-safetensors"]["scale"] == 2 and by_name["esrgan-pth"]["architecture"] == "ESRGAN"


def test_a_pickle_that_runs_code_is_refused_at_archive_time(tmp_path):
    torch.save({"weight": torch.zeros(1), "payload": RunsCode()}, tmp_path / "evil.pth")
    done = make_archive(tmp_path / "store", "evil", tmp_path / "evil.pth")
    assert done.returncode != 0
    assert "refused: loading it would run code" in done.stderr and "state_dict" in done.stderr
    assert not (tmp_path / "store" / "evil.mar").exists()


def test_archive_needs_a_name_and_keeps_the_shipped_names(tmp_path):
    weights = save_weights("compact", tmp_path, "pth")
    done = subprocess.run(["make", "--no-print-directory", "archive", f"WEIGHTS={weights}"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0 and "needs NAME=" in done.stderr
    done = make_archive(tmp_path / "store", "srgan", weights)
    assert done.returncode != 0 and "shipped model's name" in done.stderr


