"""Codec blocks in x4 results: the grid-step ratio, the set of block-damaged crops it is measured
on, and the calibration of ``restore=auto``'s evidence (dronesr/sr/restoration.py).

    # the shipped models in process, as served (restore=auto reads each crop), on val crops
    python -m training.blocks --shipped srgan srresnet --split val --crops 24

    # the same through a running TorchServe (make serve): each crop POSTed to /predictions/NAME
    python -m training.blocks --served http://127.0.0.1:8080 --models srgan srresnet

    # restore=auto's calibration table (the module docstring of dronesr/sr/restoration.py)
    python -m training.blocks --calibrate --split val

The crops: the protocol's LR (training/protocol.py: x4 Pillow-bicubic downscale of an HR photo)
of IFO and aerial photos, coded as a whole frame as H.264 (libx264, CRF 30-35, with or without
its deblocking) or as JPEG at quality 30-50, cropped 96-160 px (at most the frame: IFO's LR is
100 px) at a random offset (a fixed seed) and saved as a quality-95 JPEG or a PNG, as frames
grabbed from a drone video are. The codec's 8 px grid sits at a random phase (dy, dx) of the
crop: its blocks start at rows dy + 8i and columns dx + 8j.

The grid-step ratio of an x4 result: the mean absolute luma step across the source's grid lines
(every 32 px of the result, at the crop's phase) over the mean step at the other LR pixel edges
(every 4 px, at the same offset: an upscaler's own 4 px rhythm cancels), both axes together. 1.0:
no grid; a model that draws the blocks it was given as edges scores higher than bicubic does on
the same crops. Printed per model: the mean over the crops, the worst crop, and the input's own
ratio (the LR crop at its 8 px grid, which is also its nearest-neighbour enlargement's) and its
bicubic x4's.
"""

from __future__ import annotations

import argparse
import io
import sys
import time
import zlib
from dataclasses import dataclass
from itertools import zip_longest
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageFilter

from dronesr.image.codecs import decode_image, encode_image, rgb_to_tensor
from dronesr.sr.restoration import GRID, LUMA, auto_restore, jpeg_quality
from dronesr.sr.resolver import SHIPPED_SR
from training.dataset import manifest_paths
from training.degradations import h264_frame
from training.evaluate import add_fidelities_argument, methods_from_args
from training.options import ConfigError, exits_on_config_error
from training.protocol import CLEAN, DEGRADATIONS, bicubic_baseline, degraded_lr, load_hr, lr_file

SCALE = 4
CROP_SIDES = (96, 160)
H264_CRF = (30, 35)
JPEG_QUALITY = (30, 50)
SAVED_QUALITY = 95  # a grabbed frame saved as a JPEG
DEFAULT_SEED = 29
MANIFESTS = {"ifo": Path("data/ifo_manifest.json"), "aerial": Path("data/aerial_manifest.json")}


def _luma(image: np.ndarray | torch.Tensor) -> np.ndarray:
    """Float luma (BT.601, 0-255) of an H x W x 3 array (uint8 or 0-255 float) or a 1 x 3 x H x W
    tensor in [0, 1]."""
    if isinstance(image, torch.Tensor):
        image = image[0].detach().permute(1, 2, 0).float().cpu().numpy() * 255.0
    return np.asarray(image, dtype=np.float32)[..., :3] @ LUMA


def grid_step_ratio(image: np.ndarray | torch.Tensor, phase: tuple[int, int], scale: int = SCALE, grid: int = GRID) -> float:
    """The mean absolute luma step across the grid lines of the source (blocks of ``grid`` LR px
    starting at LR rows dy + grid*i and columns dx + grid*j, ``phase`` = (dy, dx)), that is every
    ``scale * grid`` px of ``image`` (an x``scale`` result, H x W x 3 or 1 x 3 x H x W), over the
    mean step at the other LR pixel edges (every ``scale`` px, at the same offset), both axes
    together. Comparing like with like cancels an upscaler's own ``scale`` px rhythm (bicubic's
    steps are largest midway between LR pixel centres: 1.3 against every other position on a
    smooth picture), so 1.0 means no grid; nearest-neighbour enlargement scores the LR's own ratio.
    nan for an image too small to hold a grid line and another edge."""
    luma = _luma(image)
    period = scale * grid
    on_sum = off_sum = 0.0
    on_count = off_count = 0
    for steps, offset in ((np.abs(np.diff(luma, axis=0)), phase[0]), (np.abs(np.diff(luma, axis=1)).T, phase[1])):
        # row i of steps is the step between positions i and i + 1: across an edge at position i + 1
        position = np.arange(1, steps.shape[0] + 1) - scale * offset
        line, edge = position % period == 0, position % scale == 0
        per_position = steps.sum(axis=1, dtype=np.float64)
        on_sum += per_position[line].sum()
        off_sum += per_position[edge & ~line].sum()
        on_count += int(line.sum()) * steps.shape[1]
        off_count += int((edge & ~line).sum()) * steps.shape[1]
    if not on_count or not off_count:
        return float("nan")
    return float((on_sum / on_count + 1e-6) / (off_sum / off_count + 1e-6))


@dataclass(frozen=True)
class Crop:
    """One upload of the set: the bytes a user sends, and where its source's grid is."""

    name: str  # photo, codec and format, e.g. caliterra_IMG_9359.jpg h264-crf33-deblock png
    data: bytes
    phase: tuple[int, int]  # (dy, dx): the source's blocks start at rows dy + 8i, columns dx + 8j
    codec: str


def _coded(lr: np.ndarray, rng: np.random.Generator, codec: str) -> tuple[np.ndarray, str]:
    if codec == "h264":
        crf, deblock = int(rng.integers(H264_CRF[0], H264_CRF[1] + 1)), bool(rng.random() < 0.5)
        return h264_frame(lr, crf, deblock), f"h264-crf{crf}{'-deblock' if deblock else ''}"
    quality = int(rng.integers(JPEG_QUALITY[0], JPEG_QUALITY[1] + 1))
    return _decode(encode_image(lr, None, "jpeg", quality)[0]), f"jpeg{quality}"


def _decode(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image.convert("RGB"))


def _saved(rgb: np.ndarray, fmt: str) -> bytes:
    return encode_image(np.ascontiguousarray(rgb), None, fmt, SAVED_QUALITY)[0]


def protocol_lr(path: Path) -> np.ndarray:
    """The protocol's clean LR of an HR photo (x4 Pillow bicubic), H x W x 3 uint8."""
    return np.asarray(degraded_lr(load_hr(path, SCALE), SCALE, CLEAN, Path(path).name))


def block_crops(paths: list[Path], count: int, seed: int = DEFAULT_SEED) -> list[Crop]:
    """``count`` crops (cycling through ``paths``; codecs H.264 and JPEG, formats q95 JPEG and PNG
    alternating), each from its photo's whole LR frame coded once, cropped 96-160 px (at most the
    frame) at a random offset: the evaluation set of the grid-step ratio."""
    rng = np.random.default_rng(seed)
    crops = []
    for index in range(count):
        path = paths[index % len(paths)]
        lr = protocol_lr(path)
        frame, codec = _coded(lr, rng, ("h264", "jpeg")[index % 2])
        height, width = frame.shape[:2]
        side = int(rng.integers(CROP_SIDES[0], CROP_SIDES[1] + 1))
        crop_h, crop_w = min(side, height), min(side, width)
        top, left = int(rng.integers(0, height - crop_h + 1)), int(rng.integers(0, width - crop_w + 1))
        fmt = ("jpeg", "png")[(index // 2) % 2]
        data = _saved(frame[top : top + crop_h, left : left + crop_w], fmt)
        phase = (-top % GRID, -left % GRID)
        crops.append(Crop(f"{Path(path).name} {codec} {'q95 jpeg' if fmt == 'jpeg' else 'png'} {crop_w}x{crop_h}", data, phase, codec))
    return crops


def split_paths(split: str, per_set: int) -> list[Path]:
    """Up to ``per_set`` photos of each manifest's ``split`` (spread evenly over it), interleaved:
    IFO, aerial, IFO, ... ConfigError when a manifest is missing (make dataset builds them)."""
    sets = []
    for manifest in MANIFESTS.values():
        if not manifest.exists():
            raise ConfigError(f"{manifest} not found (make dataset builds it)")
        paths = manifest_paths(manifest, split)
        sets.append(paths[:: max(1, len(paths) // max(1, per_set))][:per_set])
    return [path for group in zip_longest(*sets) for path in group if path is not None]


@dataclass(frozen=True)
class Row:
    mean: float
    by_codec: dict[str, float]  # the mean over the crops of each codec (h264, jpeg)
    worst: float
    worst_crop: str
    seconds: float


def _family(codec: str) -> str:
    return "h264" if codec.startswith("h264") else "jpeg"


def measure(methods: dict, crops: list[Crop]) -> dict[str, Row]:
    """Per method (training/evaluate.py's Method: (LR tensor, upload bytes) -> x4 tensor; None:
    bicubic), the grid-step ratio over ``crops``; first the input's own ("input (LR)")."""
    ratios: dict[str, list[tuple[float, Crop, float]]] = {"input (LR)": []}
    for crop in crops:
        rgb = _decode(crop.data)
        ratios["input (LR)"].append((grid_step_ratio(rgb, crop.phase, scale=1), crop, 0.0))
        lr = rgb_to_tensor(rgb)
        for name, method in methods.items():
            started = time.perf_counter()
            sr = rgb_to_tensor(np.asarray(bicubic_baseline(Image.fromarray(rgb), SCALE))) if method is None else method(lr, crop.data)
            elapsed = time.perf_counter() - started
            ratios.setdefault(name, []).append((grid_step_ratio(sr, crop.phase), crop, elapsed))
    rows = {}
    for name, values in ratios.items():
        worst = max(values, key=lambda v: v[0])
        codecs = sorted({_family(crop.codec) for _, crop, _ in values})
        by_codec = {c: float(np.mean([v for v, crop, _ in values if _family(crop.codec) == c])) for c in codecs}
        rows[name] = Row(float(np.mean([v[0] for v in values])), by_codec, worst[0], worst[1].name, float(np.mean([v[2] for v in values])))
    return rows


def print_rows(rows: dict[str, Row], crops: list[Crop]) -> None:
    decisions = [auto_decision(crop.data) for crop in crops]
    restores = np.array([d.restore for d in decisions])
    print(f"{len(crops)} crops; restore=auto on them: mean {restores.mean():.2f}, at 0: {int((restores == 0).sum())}, "
          f"at 1: {int((restores == 1).sum())}")
    codecs = list(next(iter(rows.values())).by_codec)
    print(f"{'':<16} {'mean ratio':>10} " + " ".join(f"{c:>6}" for c in codecs) + f" {'worst':>7} {'s/crop':>7}  worst crop")
    for name, row in rows.items():
        print(f"{name:<16} {row.mean:>10.3f} " + " ".join(f"{row.by_codec[c]:>6.3f}" for c in codecs)
              + f" {row.worst:>7.3f} {row.seconds:>7.2f}  {row.worst_crop}", flush=True)


def auto_decision(data: bytes):
    image = decode_image(data, 10**9)
    return auto_restore(image.rgb, jpeg_quality(image.quantization), image.palette)


# restore=auto's calibration: each photo's protocol LR as uploads of known damage.
def _reshared(lr: np.ndarray, factor: float) -> np.ndarray:
    image = Image.fromarray(lr)
    small = image.resize((round(image.width * factor), round(image.height * factor)), Image.BICUBIC)
    return np.asarray(small.resize(image.size, Image.BICUBIC))


def _blurred(lr: np.ndarray, sigma: float) -> np.ndarray:
    return np.asarray(Image.fromarray(lr).filter(ImageFilter.GaussianBlur(sigma)))


def calibration_uploads(path: Path, rng: np.random.Generator) -> list[tuple[str, bytes]]:
    """(kind, file) for one photo: the protocol's LR clean (PNG; JPEG q95 and q90 files), the
    protocol's degraded rows (training/protocol.py), shrunk and re-enlarged or blurred (PNG), and
    coded whole then cropped 16 px smaller at a random offset and saved as q95 JPEG and as PNG."""
    hr = load_hr(path, SCALE)
    lr = protocol_lr(path)
    uploads = [("clean png", _saved(lr, "png"))]
    uploads += [(f"clean q{quality} jpeg", encode_image(lr, None, "jpeg", quality)[0]) for quality in (95, 90)]
    uploads += [(f"{name} (protocol)", lr_file(hr, SCALE, name, Path(path).name)) for name in DEGRADATIONS if name != CLEAN]
    uploads += [(f"reshared x{factor} png", _saved(_reshared(lr, factor), "png")) for factor in (0.5, 0.7)]
    uploads += [(f"blur {sigma} png", _saved(_blurred(lr, sigma), "png")) for sigma in (0.7, 1.0)]
    height, width = lr.shape[:2]
    for codec, source in (("jpeg30-50", _coded(lr, rng, "jpeg")[0]), ("jpeg75", _decode(encode_image(lr, None, "jpeg", 75)[0])),
                          ("h264", _coded(lr, rng, "h264")[0])):
        top, left = int(rng.integers(16)), int(rng.integers(16))
        crop = source[top : height - 16 + top, left : width - 16 + left]
        uploads += [(f"{codec} crop -> {'q95 jpeg' if fmt == 'jpeg' else fmt}", _saved(crop, fmt)) for fmt in ("jpeg", "png")]
    return uploads


def calibrate(paths: list[Path], seed: int = DEFAULT_SEED) -> dict[str, list]:
    """restore=auto's decision (dronesr/sr/restoration.py) on every calibration upload of ``paths``, by kind."""
    decisions: dict[str, list] = {}
    for path in paths:
        rng = np.random.default_rng(zlib.crc32(f"{seed}:{Path(path).name}".encode()))
        for kind, data in calibration_uploads(path, rng):
            decisions.setdefault(kind, []).append(auto_decision(data))
    return decisions


def print_calibration(decisions: dict[str, list], count: int) -> None:
    def spread(values: list[float]) -> str:
        values = [v for v in values if v is not None]
        if not values:
            return "-"
        low, mid, high = np.percentile(values, [5, 50, 95])
        return f"{min(values):.2f}/{low:.2f}/{mid:.2f}/{high:.2f}/{max(values):.2f}"

    print(f"{count} photos; min / 5th pct / median / 95th pct / max; restore: how many at 0, <= 0.2, >= 0.7 (of {count})")
    print(f"{'upload':<30} {'noise sigma':>26} {'blocks (DCT)':>26} {'block edges':>26} {'edge width':>26}  restore 0 / <=.2 / >=.7")
    for kind, found in decisions.items():
        restore = np.array([d.restore for d in found])
        print(f"{kind:<30} {spread([d.noise_sigma for d in found]):>26} {spread([d.blockiness for d in found]):>26} "
              f"{spread([d.block_edges for d in found]):>26} {spread([d.edge_width for d in found]):>26}  "
              f"{int((restore == 0).sum())} / {int((restore <= 0.2).sum())} / {int((restore >= 0.7).sum())}", flush=True)


@exits_on_config_error
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shipped", nargs="*", default=[], choices=SHIPPED_SR, help="shipped models run in process as served: restore=auto per crop")
    parser.add_argument("--served", help="base URL of a running TorchServe (e.g. http://127.0.0.1:8080): run --models through its API")
    parser.add_argument("--models", nargs="*", default=[], help="served model names with --served")
    parser.add_argument("--weights", nargs="*", type=Path, default=[], help="SR weight files run in process, pixels only (no restore=auto)")
    parser.add_argument("--ensemble", action="store_true", help="run --weights with 8 passes averaged")
    add_fidelities_argument(parser)
    parser.add_argument("--split", default="test", choices=("train", "val", "test"),
                        help="photos of the IFO and aerial manifests: test (default) for reporting, val for choosing; train only with --calibrate")
    parser.add_argument("--crops", type=int, default=24, help="crops in the set (default: 24)")
    parser.add_argument("--photos", type=int, default=12, help="photos per manifest, spread over the split (default: 12)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"crop offsets and codec settings (default: {DEFAULT_SEED})")
    parser.add_argument("--precision", default="float32", help="in-process precision: float32 (default), or auto to measure and pick as a served worker does")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default: 2)")
    parser.add_argument("--calibrate", action="store_true", help="instead: restore=auto's evidence on calibration uploads of the split's photos (its docstring's table)")
    parser.set_defaults(scale=SCALE)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.calibrate and args.split == "test":
        raise ConfigError("--calibrate chooses thresholds: use --split val (or train), never test")
    if args.split == "train" and not args.calibrate:
        raise ConfigError("--split train is for --calibrate checks only")
    paths = split_paths(args.split, args.photos)
    if args.calibrate:
        print_calibration(calibrate(paths, args.seed), len(paths))
        return 0
    if args.models and not args.served:
        raise ConfigError("--models needs --served URL")
    methods = methods_from_args(args)  # training/evaluate.py's: bicubic, --weights, --shipped, --served
    crops = block_crops(paths, args.crops, args.seed)
    print(f"grid-step ratio, {args.split} split: {len(crops)} crops of frames coded as H.264 (CRF {H264_CRF[0]}-{H264_CRF[1]}) "
          f"or JPEG (q{JPEG_QUALITY[0]}-{JPEG_QUALITY[1]}), saved as q95 JPEG or PNG, seed {args.seed}")
    print_rows(measure(methods, crops), crops)
    return 0


if __name__ == "__main__":
    sys.exit(main())
