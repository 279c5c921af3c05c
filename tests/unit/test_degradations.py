"""The training degradation pipeline (training/degradations.py) and the evaluation protocol's
degraded LR (training/protocol.py): shapes, ranges, determinism, and the YAML as the one source."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
import yaml
from PIL import Image

from dronesr.image.resample import downscale
from tests.helpers import ROOT, synthetic_photo
from training import degradations as deg
from training import protocol

CONFIG = ROOT / "training" / "configs" / "degradations.yaml"


@pytest.fixture
def hr_batch() -> torch.Tensor:
    images = [torch.from_numpy(synthetic_photo(64, 64, seed=i)).permute(2, 0, 1).float() / 255 for i in range(6)]
    return torch.stack(images)


@pytest.mark.parametrize("kind", deg.KERNEL_TYPES)
def test_blur_kernels_are_normalised_and_centred(kind):
    k = deg.blur_kernel(kind, 15, 2.0, 0.8, 0.6, 1.5)
    assert k.shape == (15, 15) and k.min() >= 0
    assert k.sum() == pytest.approx(1.0)
    assert k[7, 7] == k.max()
    assert np.allclose(k, k[::-1, ::-1])  # point-symmetric
    if "aniso" not in kind:
        assert np.allclose(k, k.T)


def test_sinc_kernel_rings():
    k = deg.sinc_kernel(21, np.pi / 4)
    assert k.sum() == pytest.approx(1.0) and k[10, 10] == k.max()
    assert k.min() < 0  # the side lobes that make ringing


def test_degraded_batch_shape_range_and_8bit_values(hr_batch):
    config = deg.DegradationConfig.from_yaml(CONFIG)
    lr = deg.degrade_batch(hr_batch, config, np.random.default_rng(0))
    assert lr.shape == (6, 3, 16, 16)
    assert lr.min() >= 0 and lr.max() <= 1
    assert torch.equal(lr, lr.mul(255).round().div(255))


def test_same_seed_same_samples_other_seed_others(hr_batch):
    config = deg.DegradationConfig.from_yaml(CONFIG)
    a = deg.degrade_batch(hr_batch, config, np.random.default_rng(7))
    b = deg.degrade_batch(hr_batch, config, np.random.default_rng(7))
    c = deg.degrade_batch(hr_batch, config, np.random.default_rng(8))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_clean_share_is_the_clean_protocol(hr_batch):
    config = deg.DegradationConfig.from_dict({"clean_prob": 1.0})
    lr = deg.degrade_batch(hr_batch, config, np.random.default_rng(0))
    assert torch.equal(lr, deg.quantize(downscale(hr_batch, 4)))


def test_degraded_samples_differ_from_clean(hr_batch):
    config = deg.DegradationConfig.from_dict({"clean_prob": 0.0})
    lr = deg.degrade_batch(hr_batch, config, np.random.default_rng(0))
    clean = deg.quantize(downscale(hr_batch, 4))
    per_sample = (lr - clean).abs().flatten(1).mean(1)
    assert (per_sample > 1 / 255).all()


def test_noise_and_jpeg_steps():
    flat = torch.full((1, 3, 32, 32), 0.5)
    stage = deg.StageConfig(gaussian_noise_prob=1.0, noise_sigma=(8.0, 8.0), gray_noise_prob=0.0)
    noisy = deg.add_noise(flat, stage, np.random.default_rng(0))
    assert (noisy - flat).std().item() * 255 == pytest.approx(8.0, rel=0.15)
    gray = deg.add_noise(flat, dataclasses.replace(stage, gray_noise_prob=1.0), np.random.default_rng(0))
    assert torch.equal(gray[:, 0], gray[:, 1])
    poisson = deg.add_noise(flat, dataclasses.replace(stage, gaussian_noise_prob=0.0, poisson_scale=(1.0, 1.0)), np.random.default_rng(0))
    assert 0.5 < (poisson - flat).std().item() * 255 < 20
    assert deg.jpeg(torch.rand(1, 3, 32, 32), 30).shape == (1, 3, 32, 32)


def test_yaml_names_every_option_and_rejects_unknown_ones():
    data = yaml.safe_load(CONFIG.read_text())
    top = {f.name for f in dataclasses.fields(deg.DegradationConfig)}
    stage = {f.name for f in dataclasses.fields(deg.StageConfig)}
    assert set(data) == top
    assert set(data["first"]) == stage and set(data["second"]) == stage
    with pytest.raises(ValueError, match="unknown degradation option"):
        deg.DegradationConfig.from_dict({"blur": 1})
    with pytest.raises(ValueError, match="second"):
        deg.DegradationConfig.from_dict({"second": {"sigma": 1}})
    with pytest.raises(ValueError, match="probability"):
        deg.DegradationConfig.from_dict({"clean_prob": 1.5})


def test_protocol_degradations_are_exact_and_repeatable(tmp_path):
    path = tmp_path / "photo.png"
    Image.fromarray(synthetic_photo(130, 98)).save(path)
    hr, lr, bicubic = protocol.hr_lr_pair(path, 4, "clean")
    assert hr.shape == (1, 3, 96, 128) and lr.shape == (1, 3, 24, 32) and bicubic.shape == hr.shape
    clean_pil = protocol.load_hr(path, 4).resize((32, 24), Image.BICUBIC)
    assert torch.equal(lr, protocol.to_tensor(clean_pil))
    _, noisy, _ = protocol.hr_lr_pair(path, 4, "noise5")
    assert 3.5 < (noisy - lr).mul(255).std().item() < 6.5
    assert torch.equal(noisy, protocol.hr_lr_pair(path, 4, "noise5")[1])
    for name in ("jpeg75", "jpeg50", "blur+noise3+jpeg70"):
        assert not torch.equal(protocol.hr_lr_pair(path, 4, name)[1], lr), name
    with pytest.raises(ValueError, match="unknown degradation"):
        protocol.check_degradations(["jpeg10"])


def test_yaml_values_are_the_dataclass_defaults():
    """The YAML is the documented default: the dataclass must not say otherwise."""
    assert deg.DegradationConfig.from_yaml(CONFIG) == deg.DegradationConfig()


def test_web_jpeg_share_is_the_clean_lr_saved_once_as_jpeg(hr_batch):
    """The commonest upload: a resized photo saved as JPEG; exactly clean LR + one round trip."""
    web = deg.DegradationConfig.from_dict({"clean_prob": 0.0, "web_jpeg_prob": 1.0, "web_jpeg_quality": [75, 75]})
    clean = deg.degrade_batch(hr_batch, deg.DegradationConfig.from_dict({"clean_prob": 1.0}), np.random.default_rng(0))
    lr = deg.degrade_batch(hr_batch, web, np.random.default_rng(0))
    expected = torch.cat([deg.jpeg(image, 75) for image in clean.split(1)])
    assert torch.equal(lr, expected) and not torch.equal(lr, clean)
    with pytest.raises(ValueError, match="probability"):
        deg.DegradationConfig.from_dict({"web_jpeg_prob": -0.1})


def test_restoration_mixes_change_only_what_their_comments_say():
    """SPAN's restoration stages: stage 1 (degradations-restore.yaml) is the base pipeline with few
    clean samples and a web-JPEG share; stage 2 (degradations-restore2.yaml) lowers the JPEG
    qualities and blurs more at the LR size, and changes nothing else."""
    base = deg.DegradationConfig.from_yaml(CONFIG)
    stage1 = deg.DegradationConfig.from_yaml(CONFIG.with_name("degradations-restore.yaml"))
    stage2 = deg.DegradationConfig.from_yaml(CONFIG.with_name("degradations-restore2.yaml"))
    assert stage1.clean_prob < base.clean_prob and stage1.web_jpeg_prob > 0
    assert dataclasses.replace(stage1, clean_prob=base.clean_prob, web_jpeg_prob=0.0, web_jpeg_quality=base.web_jpeg_quality) == base
    assert stage2.web_jpeg_quality[1] < stage1.web_jpeg_quality[1] and stage2.final_jpeg_quality[1] < stage1.final_jpeg_quality[1]
    assert stage2.second.blur_prob > stage1.second.blur_prob
    second = dataclasses.replace(stage2.second, blur_prob=stage1.second.blur_prob, blur_sigma=stage1.second.blur_sigma)
    assert dataclasses.replace(stage2, web_jpeg_quality=stage1.web_jpeg_quality, final_jpeg_quality=stage1.final_jpeg_quality, second=second) == stage1


def test_codec_blocks_land_at_every_phase_and_keep_the_lr_size():
    from training.degradations import at_random_phase, h264, reshared, video_frame

    image = torch.rand(1, 3, 40, 44)
    image[..., 1, 1] = 2.0  # a marker inside the image: where it lands is the grid's offset
    rng = np.random.default_rng(0)
    assert torch.equal(at_random_phase(image, lambda x: x, rng), image)  # the padding is cut back exactly
    offsets = set()

    def record(x):
        row, column = divmod(int(x[0, 0].argmax()), x.shape[-1])
        offsets.add((row - 1, column - 1))
        assert x.shape[-2] % 16 == 0 and x.shape[-1] % 16 == 0  # whole macroblocks for the codec
        return x

    for _ in range(40):
        at_random_phase(image, record, rng)
    assert len(offsets) > 10  # the grid moves
    smooth = torch.linspace(0, 1, 48).view(1, 1, 1, 48).expand(1, 3, 48, 48).contiguous()
    coded = h264(smooth, 40, deblock=False)
    assert coded.shape == smooth.shape and (coded - smooth).abs().mean() < 0.1
    config = deg.DegradationConfig(codec_prob=1.0, reshare_prob=1.0)
    lr = reshared(torch.rand(1, 3, 64, 64), config, rng)
    assert lr.shape == (1, 3, 16, 16)
    frame = video_frame(torch.rand(1, 3, 16, 16), config, rng)
    assert frame.shape == (1, 3, 16, 16) and torch.equal(frame, (frame * 255).round() / 255)
