"""A reader for ncnn model files (``.param`` text + ``.bin`` weights), enough for the pretrained SR
networks this project converts (``training/pretrained.py``): convolutions, PReLU and MemoryData.

``.param``: the magic 7767517, then ``layer_count blob_count``, then one line per layer:
``Type name n_inputs n_outputs inputs... outputs... key=value...``. ``.bin`` holds each weighted
layer's data in layer order: a Convolution's weights behind a 4-byte tag (0x01306B47: float16
follows, 0: float32), stored as PyTorch's [out, in, kh, kw], padded to 4 bytes, then its float32
biases; PReLU slopes and MemoryData are raw float32. The reader asserts it consumed the whole file,
so a layer it misreads cannot pass unnoticed.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

PARAM_MAGIC = 7767517
TAG_FLOAT16 = 0x01306B47
TAG_FLOAT32 = 0
# Layer types that carry data in .bin and that this reader understands; any other weighted type
# (InnerProduct, Deconvolution, ...) is refused by name instead of misreading the rest.
WEIGHTED_TYPES = ("Convolution", "PReLU", "MemoryData")
UNSUPPORTED_WEIGHTED = ("ConvolutionDepthWise", "Deconvolution", "DeconvolutionDepthWise", "InnerProduct", "BatchNorm", "Scale", "Embed", "LayerNorm", "GroupNorm")


class NcnnError(ValueError):
    """A .param/.bin pair this reader cannot read; the message says where and why."""


@dataclass
class NcnnLayer:
    type: str
    name: str
    inputs: list[str]
    outputs: list[str]
    params: dict[int, str]
    blobs: dict[str, np.ndarray] = field(default_factory=dict)  # "weight", "bias", "data", "slope"

    def int_param(self, key: int, default: int = 0) -> int:
        return int(self.params.get(key, default))


def parse_param(text: str) -> list[NcnnLayer]:
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines or lines[0].strip() != str(PARAM_MAGIC):
        raise NcnnError(f"not an ncnn .param file (first line must be {PARAM_MAGIC})")
    try:
        layer_count = int(lines[1].split()[0])
    except (IndexError, ValueError):
        raise NcnnError("line 2 must be 'layer_count blob_count'") from None
    layers = []
    for number, line in enumerate(lines[2:], start=3):
        parts = line.split()
        try:
            kind, name, n_in, n_out = parts[0], parts[1], int(parts[2]), int(parts[3])
        except (IndexError, ValueError):
            raise NcnnError(f"line {number}: not 'Type name n_in n_out ...'") from None
        blobs = parts[4 : 4 + n_in + n_out]
        params = {}
        for item in parts[4 + n_in + n_out :]:
            key, _, value = item.partition("=")
            params[int(key)] = value
        layers.append(NcnnLayer(kind, name, blobs[:n_in], blobs[n_in:], params))
    if len(layers) != layer_count:
        raise NcnnError(f"the header says {layer_count} layers, the file has {len(layers)}")
    return layers


class _Blob:
    def __init__(self, data: bytes):
        self.data, self.offset = data, 0

    def take(self, size: int, what: str) -> bytes:
        if self.offset + size > len(self.data):
            raise NcnnError(f"{what}: .bin ends at byte {len(self.data)}, needs {self.offset + size}")
        chunk = self.data[self.offset : self.offset + size]
        self.offset += size
        return chunk

    def float32(self, count: int, what: str) -> np.ndarray:
        return np.frombuffer(self.take(4 * count, what), dtype="<f4").copy()

    def tagged(self, count: int, what: str) -> np.ndarray:
        (tag,) = struct.unpack("<I", self.take(4, what))
        if tag == TAG_FLOAT16:
            values = np.frombuffer(self.take(2 * count, what), dtype="<f2").astype(np.float32)
            self.take((-2 * count) % 4, what)  # padding to 4 bytes
            return values
        if tag == TAG_FLOAT32:
            return self.float32(count, what)
        raise NcnnError(f"{what}: weight tag {tag:#010x} is not float16 ({TAG_FLOAT16:#010x}) or float32 (0); quantized models are not read")


def read_ncnn(param_path: str | Path, bin_path: str | Path) -> list[NcnnLayer]:
    """The layers of an ncnn model with their data as float32 arrays (weights [out, in, kh, kw])."""
    layers = parse_param(Path(param_path).read_text())
    blob = _Blob(Path(bin_path).read_bytes())
    for layer in layers:
        what = f"{layer.type} {layer.name}"
        if layer.type in UNSUPPORTED_WEIGHTED:
            raise NcnnError(f"{what}: layer type not supported by this reader")
        if layer.type == "Convolution":
            out_channels, kernel, count = layer.int_param(0), layer.int_param(1), layer.int_param(6)
            kernel_h = layer.int_param(11, kernel)
            if layer.int_param(7, 1) != 1:
                raise NcnnError(f"{what}: grouped convolutions are not supported")
            in_channels = count // (out_channels * kernel * kernel_h)
            if in_channels * out_channels * kernel * kernel_h != count:
                raise NcnnError(f"{what}: weight count {count} is not out x in x {kernel_h} x {kernel}")
            layer.blobs["weight"] = blob.tagged(count, what).reshape(out_channels, in_channels, kernel_h, kernel)
            if layer.int_param(5):
                layer.blobs["bias"] = blob.float32(out_channels, what)
        elif layer.type == "PReLU":
            layer.blobs["slope"] = blob.float32(layer.int_param(0), what)
        elif layer.type == "MemoryData":
            dims = [d for d in (layer.int_param(2), layer.int_param(1), layer.int_param(0)) if d]  # c, h, w
            layer.blobs["data"] = blob.float32(int(np.prod(dims)), what).reshape(dims)
    if blob.offset != len(blob.data):
        raise NcnnError(f"{bin_path}: {len(blob.data) - blob.offset} bytes left after the last layer: the .param does not describe this .bin")
    return layers


def write_ncnn(layers: list[NcnnLayer], param_path: str | Path, bin_path: str | Path, float16: bool = True) -> None:
    """Write ``layers`` as an ncnn pair (used by the tests to make a model the reader must read back)."""
    blob_names = {b for layer in layers for b in layer.inputs + layer.outputs}
    lines = [str(PARAM_MAGIC), f"{len(layers)} {len(blob_names)}"]
    data = bytearray()
    for layer in layers:
        params = " ".join(f"{k}={v}" for k, v in layer.params.items())
        lines.append(f"{layer.type} {layer.name} {len(layer.inputs)} {len(layer.outputs)} {' '.join(layer.inputs + layer.outputs)} {params}".rstrip())
        if layer.type == "Convolution":
            weight = layer.blobs["weight"].astype(np.float32).ravel()
            if float16:
                data += struct.pack("<I", TAG_FLOAT16) + weight.astype("<f2").tobytes()
                data += b"\0" * ((-2 * weight.size) % 4)
            else:
                data += struct.pack("<I", TAG_FLOAT32) + weight.astype("<f4").tobytes()
            if "bias" in layer.blobs:
                data += layer.blobs["bias"].astype("<f4").tobytes()
        else:
            for key in ("slope", "data"):
                if key in layer.blobs:
                    data += layer.blobs[key].astype("<f4").tobytes()
    Path(param_path).write_text("\n".join(lines) + "\n")
    Path(bin_path).write_bytes(bytes(data))
