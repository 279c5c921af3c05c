"""The multi-style network: shapes, conditional-norm mixing, strength, guided upsample and
checkpoints. Tiny networks, one thread."""

from __future__ import annotations

import copy
import json

import pytest
import torch

from dronesr.archs import ARCHITECTURES, StyleNet
from dronesr.archs.style_net import ConditionalInstanceNorm, guided_upsample, luma
from dronesr.checkpoint import load_model, save_model
from dronesr.sr.upscaler import prepare_for_inference
from tests.helpers import NAMES, TINY, tiny_style_net

pytestmark = pytest.mark.usefixtures("one_torch_thread")


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


@pytest.mark.parametrize("preserve_colour", [False, True])
def test_stylize_keeps_every_tensor_on_the_models_device(preserve_colour):
    """PyTorch's ``meta`` device stands in for a GPU on every machine: a tensor the style path
    creates on the CPU (the guided upsample's, the colour transfer's) fails here as on CUDA."""
    from dronesr.image.colour import luminance, with_chroma_of

    model = prepare_for_inference(tiny_style_net(), "meta")
    photo = torch.rand(1, 3, 90, 120).to("meta")
    source = luminance(photo).expand(-1, 3, -1, -1) if preserve_colour else photo
    result = model.stylize(source, model.style_vector(NAMES[0]), work_side=48, strength=0.7)  # guided upsample from 48 px
    if preserve_colour:
        result = with_chroma_of(result, photo)
    assert result.device.type == "meta" and result.shape == photo.shape


def test_the_onnx_form_of_the_conditional_norm_is_the_same_arithmetic(monkeypatch):
    """What the exporter sees (InstanceNormalization, then each sample's gamma and beta) equals the
    fused batch-norm form PyTorch runs (dronesr/style/model.py runs the former in ONNX Runtime)."""
    net = tiny_style_net()
    photo, weights = image(20, 28, batch=2), torch.tensor([[1.0, 0.0, 0.0], [0.2, 0.3, 0.5]])
    with torch.no_grad():
        fused = net(photo, weights)
        monkeypatch.setattr(torch.onnx, "is_in_onnx_export", lambda: True)
        exported_form = net(photo, weights)
    assert torch.allclose(fused, exported_form, atol=1e-5)


def test_stylize_runs_a_given_network_in_place_of_its_own():
    net = tiny_style_net()
    photo, weights = image(30, 50), net.style_vector("gamma")
    seen = []

    def network(x, style_weights):
        seen.append(tuple(x.shape))
        return net(x, style_weights)

    with torch.no_grad():
        assert torch.equal(net.stylize(photo, weights, network=network), net.stylize(photo, weights))
    assert seen == [(1, 3, 14, 24)]  # the work size (24 px long side), then the guided upsample
