"""Training-side commands on tiny data: dataset split, SR training (psnr and gan), resume, evaluation."""

from __future__ import annotations

import json
from pathlib import Path
import subprocess
import sys

import pytest
import torch
import yaml
import torchvision
from PIL import Image

from dronesr.archs import SRResNet
from dronesr.checkpoint import load_model, save_model
from dronesr.sr.upscaler import Upscaler
from tests.helpers import ROOT, SHARED_DATA, synthetic_photo, tiny_srresnet
from training import dataset, evaluate, train_sr
from training.options import load_yaml


@pytest.fixture
def image_folder(tmp_path):
    root = tmp_path / "images"
    for group in ("birds", "drones"):
        (root / group).mkdir(parents=True)
        for i in range(12):
            Image.fromarray(synthetic_photo(64, 48, seed=i)).save(root / group / f"{group}_{i:04d}.png")
    Image.fromarray(synthetic_photo(20, 20)).save(root / "drones" / "drones_9999_tiny.png")
    return root


def test_dataset_split_is_deterministic_and_skips_small_images(image_folder, tmp_path, capsys):
    out = tmp_path / "manifest.json"
    assert dataset.main(["--images", str(image_folder), "--out", str(out), "--min-side", "32"]) == 0
    manifest = json.loads(out.read_text())
    assert manifest["test"] == ["birds/birds_0000.png", "birds/birds_0010.png", "drones/drones_0000.png", "drones/drones_0010.png"]
    assert manifest["val"] == ["birds/birds_0005.png", "drones/drones_0005.png"]
    assert len(manifest["train"]) == 2 * 12 - 6
    assert "drones_9999_tiny.png: 20x20 is smaller than the 32px training crop" in capsys.readouterr().err
    assert not set(manifest["train"]) & set(manifest["test"])


def tiny_args(manifest, out_dir, *extra):
    return ["--manifest", str(manifest), "--out-dir", str(out_dir), "--export", str(out_dir / "g.pt"),
            "--channels", "8", "--num-blocks", "1", "--hr-crop", "32", "--batch-size", "2",
            "--epoch-steps", "2", "--val-images", "2", "--threads", "1", "--device", "cpu", *extra]


@pytest.fixture
def manifest(image_folder, tmp_path):
    out = tmp_path / "manifest.json"
    dataset.main(["--images", str(image_folder), "--out", str(out), "--min-side", "32"])
    return out


def test_psnr_training_writes_outputs_and_resumes(manifest, tmp_path, capsys):
    run = tmp_path / "run"
    assert train_sr.main(tiny_args(manifest, run, "--steps", "3", "--pixel-loss", "charbonnier")) == 0
    for name in ("samples.png", "curves.png", "checkpoint.pt", "config.yaml", "g.pt"):
        assert (run / name).exists(), name
    state = torch.load(run / "checkpoint.pt", weights_only=True)
    assert state["step"] == 3 and json.loads(state["history"])[-1]["val_psnr"] > 10
    assert load_model(run / "g.pt")(torch.rand(1, 3, 8, 8)).shape == (1, 3, 32, 32)

    assert train_sr.main(tiny_args(manifest, run, "--steps", "5")) == 0
    assert "resumed from" in capsys.readouterr().out
    assert torch.load(run / "checkpoint.pt", weights_only=True)["step"] == 5


def test_gan_training_with_local_vgg19_weights(manifest, tmp_path, capsys):
    vgg = tmp_path / "vgg19.pth"
    torch.save(torchvision.models.vgg19(weights=None).state_dict(), vgg)
    init = tmp_path / "init"
    train_sr.main(tiny_args(manifest, init, "--steps", "2"))
    run = tmp_path / "gan"
    args = tiny_args(manifest, run, "--steps", "2", "--mode", "gan", "--init-weights", str(init / "g.pt"),
                     "--content-weight", "1", "--texture-weight", "10", "--adversarial-weight", "0.01",
                     "--loss-network", "vgg19", "--vgg19-weights", str(vgg), "--d-channels", "8",
                     "--degradations", str(ROOT / "training" / "configs" / "degradations.yaml"))
    assert train_sr.main(args) == 0
    out = capsys.readouterr().out
    assert "loss network: vgg19" in out.lower()
    assert "discriminator" in torch.load(run / "checkpoint.pt", weights_only=True)


def test_gan_training_with_the_unet_discriminator_resumes_it(manifest, tmp_path, capsys):
    init = tmp_path / "init"
    train_sr.main(tiny_args(manifest, init, "--steps", "2"))
    run = tmp_path / "gan"
    gan = ("--mode", "gan", "--init-weights", str(init / "g.pt"), "--adversarial-weight", "0.01",
           "--d-arch", "unet", "--d-channels", "8")
    assert train_sr.main(tiny_args(manifest, run, "--steps", "2", *gan)) == 0
    state = torch.load(run / "checkpoint.pt", weights_only=True)["discriminator"]
    assert any("parametrizations" in key for key in state)  # spectral norm's, saved with it
    assert train_sr.main(tiny_args(manifest, run, "--steps", "3", *gan)) == 0
    assert "resumed from" in capsys.readouterr().out
    with pytest.raises(SystemExit, match="d-arch"):
        train_sr.main(tiny_args(manifest, tmp_path / "bad", "--steps", "1", "--mode", "gan", "--d-arch", "patch"))


def test_bad_config_is_an_exit_message(tmp_path):
    with pytest.raises(SystemExit, match="pixel-loss"):
        train_sr.main(["--pixel-loss", "l7", "--manifest", str(tmp_path / "none.json")])
    bad_yaml = tmp_path / "bad.yaml"
    bad_yaml.write_text("learning_rate: 1\n")
    with pytest.raises(SystemExit, match="unknown option"):
        train_sr.main(["--config", str(bad_yaml)])


def test_help_shows_defaults():
    result = subprocess.run([sys.executable, "-m", "training.train_sr", "--help"], cwd=ROOT, capture_output=True, text=True,
                            env={"PYTHONPATH": str(ROOT), "PATH": ""})
    assert result.returncode == 0
    assert "(default: 0.0002)" in result.stdout and "--adversarial-weight" in result.stdout


def test_evaluate_prints_table_beside_bicubic(image_folder, tiny_weights, tmp_path, capsys):
    sheet = tmp_path / "sheet.png"
    assert evaluate.main(["--weights", str(tiny_weights), "--sets", str(image_folder / "birds"), "--sheet", str(sheet), "--sheet-images", "2"]) == 0
    out = capsys.readouterr().out
    assert "bicubic" in out and "tiny" in out and "clean" in out and "jpeg50" in out
    assert Image.open(sheet).size[0] == 256 * 4


def test_evaluate_runs_weights_with_the_ensemble_on_a_manifests_val_split(image_folder, tiny_weights, tmp_path, capsys):
    """What chose the served restoration end: --weights with --ensemble (8 passes) on --split val."""
    photos = sorted((image_folder / "birds").iterdir())
    manifest = tmp_path / "m.json"
    manifest.write_text(json.dumps({"root": str(photos[0].parent), "train": [], "val": [photos[0].name], "test": [p.name for p in photos[1:]]}))
    assert evaluate.main(["--weights", str(tiny_weights), "--ensemble", "--split", "val", "--sets", f"birds:{manifest}", "--degradations", "clean"]) == 0
    out = capsys.readouterr().out
    assert "birds (1 images)" in out and "tiny x8" in out


def test_evaluate_sweeps_a_shipped_models_fidelity_on_every_nth_photo(image_folder, capsys):
    """What chose srgan's default_fidelity: --shipped srgan --fidelities ... --every N (one column
    per value, every Nth photo of the set)."""
    photos = sorted((image_folder / "birds").iterdir())
    assert evaluate.main(["--shipped", "srgan", "--fidelities", "0", "1", "--every", "2", "--sets", str(image_folder / "birds"), "--degradations", "clean"]) == 0
    out = capsys.readouterr().out
    assert f"birds ({len(photos[::2])} images)" in out and "srgan f=0" in out and "srgan f=1" in out
    with pytest.raises(SystemExit):
        evaluate.main(["--shipped", "srgan", "--fidelities", "1.5", "--sets", str(image_folder / "birds")])


def test_video_files_are_sampled_to_frames(tmp_path):
    av = pytest.importorskip("av")
    import numpy as np

    root = tmp_path / "clips" / "flight"
    root.mkdir(parents=True)
    with av.open(str(root / "flight.mp4"), mode="w") as container:
        stream = container.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = 128, 96, "yuv420p"
        for i in range(30):  # 3 seconds
            frame = av.VideoFrame.from_ndarray(np.full((96, 128, 3), i * 8, np.uint8), format="rgb24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    out = tmp_path / "manifest.json"
    assert dataset.main(["--images", str(tmp_path / "clips"), "--out", str(out), "--min-side", "64",
                         "--frames-dir", str(tmp_path / "frames"), "--frame-every", "1.0"]) == 0
    frames = sorted((tmp_path / "frames" / "flight").glob("*.png"))
    assert len(frames) == 3 and Image.open(frames[0]).size == (128, 96)
    manifest = json.loads(out.read_text())
    assert len(manifest["test"] + manifest["val"] + manifest["train"]) == 3


def test_validation_psnr_is_the_evaluation_protocols(manifest, tmp_path):
    """A run's logged gain over bicubic equals what training.evaluate reports for its export."""
    run = tmp_path / "run"
    assert train_sr.main(tiny_args(manifest, run, "--steps", "2", "--precision", "float32", "--val-degradations", "clean,jpeg75")) == 0
    history = json.loads(torch.load(run / "checkpoint.pt", weights_only=True)["history"])[-1]
    val_paths = dataset.manifest_paths(manifest, "val")[:2]
    methods = {"bicubic": None, "g": evaluate.in_process(Upscaler.from_weights(run / "g.pt"))}
    for degradation in ("clean", "jpeg75"):
        result = evaluate.evaluate(methods, val_paths, 4, degradation)
        assert result["g"][0] - result["bicubic"][0] == pytest.approx(history[f"val_gain_{degradation}"], abs=1e-3)


def test_network_interpolation_blends_every_parameter(tmp_path):
    from training.interpolate import interpolate

    gan, psnr, out = tmp_path / "gan.pt", tmp_path / "psnr.pt", tmp_path / "mix.pt"
    save_model(tiny_srresnet(seed=1), gan)
    save_model(tiny_srresnet(seed=2), psnr)
    a, b = (load_model(p).state_dict() for p in (gan, psnr))
    for alpha in (0.0, 0.5, 1.0):
        interpolate(gan, psnr, alpha, out)
        mixed = load_model(out).state_dict()
        for name in a:
            torch.testing.assert_close(mixed[name], alpha * a[name] + (1 - alpha) * b[name])
    save_model(SRResNet(scale=4, channels=8, num_blocks=1), psnr)
    with pytest.raises(ValueError, match="not the same network"):
        interpolate(gan, psnr, 0.5, out)
    with pytest.raises(ValueError, match="alpha"):
        interpolate(gan, gan, 1.5, out)


def _train_configs(*names: str) -> dict:
    return {name: train_sr.SRTrainConfig(**load_yaml(ROOT / "training" / "configs" / f"{name}.yaml", train_sr.SRTrainConfig)) for name in names}


def test_shipped_sr_configs_load_and_chain_the_committed_weights():
    """make train-srresnet / train-srgan: every YAML loads and names files that exist (or that an
    earlier step writes). srresnet's SPAN chain: each restoration stage starts from the previous
    one's export, the clean fine-tune from the pretrained SPAN, the served restoration end is the
    blend of stages 3 and 4. srgan's Compact chain: the GAN (no loss-network terms), the
    restoration and the clean-input twins all from general-x4v3, each twin's second (deblocking,
    lightly coded) stage from its first, so the blends stay one lineage. The handler configs serve exactly what those steps write."""
    span = _train_configs("span_restore", "span_restore2", "span_restore3", "span_restore_mse", "span_clean", "span_gan", "span_gan_distill")
    compact = _train_configs("compact_gan_adv", "compact_restore", "compact_deblock", "compact_clean", "compact_clean_mild")
    for arch, configs in (("span", span), ("compact", compact)):
        for name, config in configs.items():
            assert config.arch == arch, name
            assert config.degradations is None or (ROOT / config.degradations).is_file(), name
    assert span["span_restore"].init_weights == span["span_clean"].init_weights == Path("weights/span_x4_pretrained.pt")
    assert (ROOT / "weights" / "span_x4_pretrained.pt").is_file()
    assert span["span_restore2"].init_weights == span["span_restore"].export
    assert span["span_restore3"].init_weights == span["span_gan"].init_weights == span["span_restore2"].export
    assert span["span_gan_distill"].init_weights == Path("weights/span_restore.pt")  # the served restoration end
    assert span["span_gan_distill"].teacher_set is not None and span["span_gan_distill"].teacher_weight > 0
    assert span["span_restore_mse"].init_weights == span["span_restore3"].export
    blend = f"--gan {span['span_restore_mse'].export} --psnr {span['span_restore3'].export} --alpha 0.5 --out weights/span_restore.pt"
    assert blend in (ROOT / "Makefile").read_text()  # make train-srresnet: the served restoration end is their mean
    assert len({config.export for config in span.values()}) == 7
    start = Path("weights/compact_x4_pretrained.pt")
    assert compact["compact_gan_adv"].init_weights == compact["compact_restore"].init_weights == compact["compact_clean"].init_weights == start
    assert compact["compact_deblock"].init_weights == compact["compact_restore"].export
    assert compact["compact_clean_mild"].init_weights == compact["compact_clean"].export
    assert compact["compact_gan_adv"].mode == "gan" and compact["compact_gan_adv"].content_weight == compact["compact_gan_adv"].texture_weight == 0
    assert len({config.export for config in compact.values()}) == 5
    experiments = _train_configs("compact_gan_usm", "compact_gan_usm_lowpass", "compact_gan_lowpass", "compact_gan_detail")
    for name, config in experiments.items():  # measured, not served: the GAN's run with crisper targets, never into weights/
        assert (config.arch, config.mode, config.init_weights) == ("compact", "gan", start), name
        assert config.export.parts[0] == "runs" and config.pixel_sharpen + config.pixel_blur > 0, name
    assert experiments["compact_gan_detail"].detail_teacher == start and experiments["compact_gan_detail"].pixel_blur > 0
    for name, config in _train_configs("compact_gan_twin03", "compact_gan_twin08", "compact_gan_twin_lowpass").items():  # measured, not served: GANs from the restoration twin
        assert (config.arch, config.mode, config.init_weights) == ("compact", "gan", compact["compact_deblock"].export), name
        assert config.export.parts[0] == "runs" and config.adversarial_weight > 0, name
    distilled = _train_configs("compact_distill_twin15", "compact_distill_twin_degraded", "compact_distill_edges", "compact_distill_restored")
    for name, config in distilled.items():  # measured, not served: general-x4v3's detail taught by regression to the restoration twin
        assert (config.arch, config.mode, config.init_weights, config.detail_teacher) == ("compact", "psnr", compact["compact_deblock"].export, start), name
        assert config.export.parts[0] == "runs" and config.adversarial_weight == 0 and config.pixel_blur > 0, name
    assert [distilled[name].detail_teacher_input for name in distilled] == ["clean", "degraded", "degraded", "restored"]
    assert distilled["compact_distill_edges"].detail_edges > 0
    continued = _train_configs("compact_distill_deblocked")["compact_distill_deblocked"]  # the degraded-LR run, its teacher's blocks smoothed
    assert (continued.init_weights, continued.detail_teacher_input, continued.adversarial_weight) == (distilled["compact_distill_twin_degraded"].export, "deblocked", 0)
    served = {}
    for model in ("srgan", "srresnet"):
        handler = yaml.safe_load((ROOT / "handlers" / f"{model}-config.yaml").read_text())["handler"]
        served[model] = {f"weights/{handler[key]}" for key in ("weights", "fidelity_weights", "restore_weights") if handler.get(key)}
    assert served["srresnet"] == {"weights/span_restore.pt", str(span["span_clean"].export)}
    assert served["srgan"] == {str(compact[name].export) for name in ("compact_gan_adv", "compact_deblock", "compact_clean_mild")}
    assert all((ROOT / path).is_file() for paths in served.values() for path in paths)


@pytest.mark.skipif(not SHARED_DATA.exists(), reason="needs ../shared/data")
def test_make_dataset_rebuilds_a_manifest_only_when_its_photos_or_the_split_rule_change():
    import os

    manifest = ROOT / "data" / "ifo_manifest.json"

    def make(*args: str) -> int:
        return subprocess.run(["make", *args], cwd=ROOT, capture_output=True, timeout=600).returncode

    assert make("dataset") == 0
    split = manifest.read_bytes()
    assert make("-q", "data/ifo_manifest.json", "data/aerial_manifest.json") == 0  # nothing to redo
    os.utime(manifest, (0, 0))  # now older than the split rule and every photo
    assert make("-q", "data/ifo_manifest.json") == 1
    assert make("dataset") == 0 and manifest.read_bytes() == split  # rebuilt, the same split


def test_a_teacher_set_is_built_once_and_the_gan_steps_on_it(manifest, tmp_path, capsys):
    """training.distill stores (HR, LR, teacher) crops; train_sr with teacher_set steps on them,
    with the teacher's L1 term in the losses; --compare measures closeness to the teacher."""
    from training import distill

    teacher = tmp_path / "teacher.pt"
    save_model(tiny_srresnet(), teacher)
    stored = tmp_path / "teacher_set.pt"
    assert distill.main(["--teacher", str(teacher), "--manifests", str(manifest), "--samples", "3", "--hr-crop", "32",
                         "--threads", "1", "--out", str(stored)]) == 0
    crops = torch.load(stored, weights_only=True)
    assert crops["hr"].shape == (3, 3, 32, 32) and crops["lr"].shape == (3, 3, 8, 8) and crops["teacher"].shape == (3, 3, 32, 32)
    assert crops["teacher"].dtype == torch.uint8
    init = tmp_path / "init"
    train_sr.main(tiny_args(manifest, init, "--steps", "2"))
    run = tmp_path / "gan"
    assert train_sr.main(tiny_args(manifest, run, "--steps", "2", "--mode", "gan", "--init-weights", str(init / "g.pt"),
                                   "--teacher-set", str(stored), "--teacher-weight", "0.5", "--d-channels", "8")) == 0
    out = capsys.readouterr().out
    assert "3 stored crops with the teacher's answers" in out
    history = json.loads(torch.load(run / "checkpoint.pt", weights_only=True)["history"])
    assert history and "teacher" in history[0], history[:1]
    assert distill.main(["--out", str(stored), "--compare", str(run / "g.pt")]) == 0
    assert "to the teacher" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        train_sr.main(tiny_args(manifest, tmp_path / "bad", "--steps", "1", "--teacher-weight", "1"))


def test_synthetic_distillation_crops_are_flat_shaded_photos_with_edges(manifest):
    """training.distill's synthetic crops (what the student blew up on without them): in range, the
    asked size, reproducible from the seed, mostly smooth (small neighbour differences) yet not all
    one colour, and --synthetic 1 stores nothing but them."""
    import numpy as np

    from training.distill import build_teacher_set, synthetic_crop

    crops = [synthetic_crop(64, np.random.default_rng(seed)) for seed in range(8)]
    assert all(c.shape == (1, 3, 64, 64) and 0 <= float(c.min()) and float(c.max()) <= 1 for c in crops)
    assert torch.equal(crops[0], synthetic_crop(64, np.random.default_rng(0)))
    for crop in crops:
        steps = (crop[..., 1:, :] - crop[..., :-1, :]).abs()
        assert float(steps.median()) < 0.02 and float(crop.std()) > 0.005
    assert len({round(float(c.mean()), 4) for c in crops}) == 8

    class NearestTeacher:  # nearest-neighbour x4 of its LR: no network needed
        def enlarge(self, lr, tiled=False):
            return torch.nn.functional.interpolate(lr, scale_factor=4, mode="nearest")

    from training.dataset import manifest_paths
    from training.degradations import DegradationConfig

    stored = build_teacher_set(NearestTeacher(), manifest_paths(manifest, "train"), DegradationConfig(), 3, 32, 0, synthetic=1.0)
    assert stored["hr"].shape == (3, 3, 32, 32) and stored["lr"].shape == (3, 3, 8, 8)
    rng = np.random.default_rng(0)
    rng.random()  # the draw that chose a synthetic crop (the degradations draw from the same rng after it)
    assert torch.equal(stored["hr"][:1], synthetic_crop(32, rng).mul(255).round().to(torch.uint8))
    steps = (stored["hr"][..., 1:, :].float() - stored["hr"][..., :-1, :].float()).abs()
    assert float(steps.median()) < 0.02 * 255  # all three are synthetic, none a photo crop


def test_unsharp_target_raises_edge_contrast_and_leaves_flat_areas():
    from training.losses import gaussian_blur, unsharp_mask

    flat = torch.full((1, 3, 48, 48), 0.4)
    assert torch.allclose(gaussian_blur(flat, 2.0), flat)
    flat += 0.005 * torch.randn(flat.shape, generator=torch.Generator().manual_seed(0))  # sensor noise under the threshold: the sky stays as it is
    assert torch.equal(unsharp_mask(flat, 0.5, 4.0), flat.clamp(0, 1))
    edge = torch.zeros(1, 3, 48, 48)
    edge[..., 24:] = 0.8
    sharp = unsharp_mask(edge, 0.5, 4.0)
    assert sharp[..., 26].mean() > 0.8 and sharp[..., 21].mean() == 0  # overshoot on the bright side, clamped at black
    assert (sharp[..., 0].mean(), sharp[..., -1].mean()) == (0, pytest.approx(0.8))  # far from the edge: unchanged
    assert gaussian_blur(edge, 1.0)[..., 23].mean() > 0  # the blur reaches across the edge


def test_gan_steps_towards_a_sharpened_low_passed_target_with_a_detail_teacher(manifest, tmp_path, capsys):
    init = tmp_path / "init"
    train_sr.main(tiny_args(manifest, init, "--steps", "2"))
    gan = ("--mode", "gan", "--init-weights", str(init / "g.pt"), "--adversarial-weight", "0.01", "--pixel-sharpen", "0.5",
           "--pixel-sharpen-sigma", "2", "--pixel-blur", "1", "--detail-teacher", str(init / "g.pt"), "--detail-weight", "1")
    assert train_sr.main(tiny_args(manifest, tmp_path / "gan", "--steps", "2", *gan)) == 0
    assert "finest detail taught by" in capsys.readouterr().out
    with pytest.raises(SystemExit, match="pixel-blur"):
        train_sr.main(tiny_args(manifest, tmp_path / "bad", "--steps", "1", "--pixel-blur", "-1"))
    with pytest.raises(SystemExit, match="detail-teacher"):  # the detail is what --pixel-blur removes: it needs one
        train_sr.main(tiny_args(manifest, tmp_path / "bad", "--steps", "1", "--detail-teacher", str(init / "g.pt"), "--detail-weight", "1"))


def test_a_detail_teacher_answers_the_generators_own_degraded_lr_when_asked(manifest, tmp_path, capsys):
    init = tmp_path / "init"
    train_sr.main(tiny_args(manifest, init, "--steps", "2"))
    distil = ("--init-weights", str(init / "g.pt"), "--pixel-blur", "1", "--detail-teacher", str(init / "g.pt"), "--detail-weight", "1")
    assert train_sr.main(tiny_args(manifest, tmp_path / "distil", "--steps", "2", *distil, "--detail-teacher-input", "degraded", "--detail-edges", "0.02")) == 0
    assert "on the degraded LR" in capsys.readouterr().out and (tmp_path / "distil" / "checkpoint.pt").exists()
    assert train_sr.main(tiny_args(manifest, tmp_path / "restored", "--steps", "2", *distil, "--detail-teacher-input", "restored")) == 0
    assert "on the restored LR" in capsys.readouterr().out
    assert train_sr.main(tiny_args(manifest, tmp_path / "deblocked", "--steps", "2", *distil, "--detail-teacher-input", "deblocked")) == 0
    assert "on the deblocked LR" in capsys.readouterr().out
    with pytest.raises(SystemExit, match="detail-teacher-input"):
        train_sr.main(tiny_args(manifest, tmp_path / "bad", "--steps", "1", *distil, "--detail-teacher-input", "noisy"))
    with pytest.raises(SystemExit, match="init-weights"):  # restored by the start: it needs one
        train_sr.main(tiny_args(manifest, tmp_path / "bad", "--steps", "1", *distil[2:], "--detail-teacher-input", "restored"))
    with pytest.raises(SystemExit, match="detail-edges"):  # along the teacher's edges: it needs a teacher
        train_sr.main(tiny_args(manifest, tmp_path / "bad", "--steps", "1", "--pixel-blur", "1", "--detail-edges", "0.02"))


def test_edge_detail_takes_the_teachers_detail_along_strong_edges_and_the_hrs_elsewhere():
    from training.losses import edge_detail
    teacher = torch.zeros(1, 3, 16, 32)
    teacher[..., :16] = 0.3  # a strong detail on the left half only
    hr = torch.full_like(teacher, 0.01)
    target = edge_detail(teacher, hr, threshold=0.02)
    assert torch.allclose(target[..., :, 2:10], teacher[..., :, 2:10])  # well inside the strong part: the teacher's
    assert torch.allclose(target[..., :, 22:], hr[..., :, 22:])  # far from it: the HR's
