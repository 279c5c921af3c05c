"""Evaluate SR models beside bicubic under the project's protocol (training/protocol.py): PSNR/SSIM
on Y with the border shaved, on clean LR and on LR degraded the way real uploads are.

    python -m training.evaluate --weights weights/span_clean.pt weights/span_restore.pt \\
        --sets ifo-test:data/ifo_manifest.json aerial-test:data/aerial_manifest.json \\
        --degradations clean,jpeg75,jpeg50,noise5,blur+noise3+jpeg70 \\
        --clean-sets ../shared/data/benchmarks/Set5 ../shared/data/benchmarks/Set14

    # the shipped models in process, as served (restore=auto reads each LR file, default fidelity)
    python -m training.evaluate --shipped srresnet srgan --sets ...

    # the same, through the served API (make serve): each LR file is POSTed to /predictions/NAME
    python -m training.evaluate --served http://127.0.0.1:8080 --models srresnet srgan --sets ...

A set is a folder of HR images, or ``NAME:MANIFEST`` for the test split of a manifest written by
``training.dataset``. Each row is one degradation of the LR, given to the model as the file a user
would upload (JPEG rows as the JPEG bytes, the others as PNG: training/protocol.py); each cell is
the mean PSNR, in brackets its gain over bicubic of the same LR, and the gain of the worst photo.
``--sheet`` writes a comparison picture (LR | bicubic | each model | HR) of the first set, clean LR.
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from typing import NamedTuple
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from dronesr.image.codecs import decode_image, rgb_to_tensor
from dronesr.sr.upscaler import Upscaler
from dronesr.metrics import psnr_y, ssim_y
from dronesr.sr.resolver import SHIPPED_SR, SuperResolver
from training.dataset import IMAGE_SUFFIXES, manifest_paths
from training.options import ConfigError, exits_on_config_error
from training.protocol import CLEAN, DEGRADATIONS, bicubic_baseline, check_degradations, hr_lr_upload, to_tensor
from training.report import save_image_grid

# A method maps (1x3xhxw float LR, the LR file a user would upload) to a 1x3x(sh)x(sw) float SR;
# None is the bicubic baseline.
Method = Callable[[torch.Tensor, bytes], torch.Tensor] | None
UPLOAD_LIMIT = 10**9  # pixels: evaluation inputs are ours, the served limits are not the question here


def resolve_set(spec: str, split: str = "test") -> tuple[str, list[Path]]:
    if ":" in spec and not Path(spec).exists():
        name, manifest = spec.split(":", 1)
        if not Path(manifest).exists():
            raise ConfigError(f"--sets {spec}: {manifest} not found (make dataset builds it)")
        return name, manifest_paths(Path(manifest), split)
    folder = Path(spec)
    if not folder.is_dir():
        raise ConfigError(f"--sets {spec}: not a folder nor NAME:MANIFEST")
    paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not paths:
        raise ConfigError(f"--sets {spec}: no images")
    return folder.name, paths


def in_process(upscaler: Upscaler, ensemble: bool = False) -> Method:
    """One weights file: the pixels only (no per-upload choice); ``ensemble``: 8 passes averaged."""
    return lambda lr, data: upscaler.enlarge(lr, tiled=False, ensemble=ensemble).cpu()


def on_centre(method: Method, side: int) -> Method:
    """``method`` on the LR's centre ``side`` px only (same parity as the LR, so the centre of its
    result is the centre of the whole result): the real-input sheet shows only a centre window, and
    a slow peer need not enlarge the rest."""

    def call(lr: torch.Tensor, data: bytes) -> torch.Tensor:
        h, w = lr.shape[-2:]
        ch, cw = min(h, side + (h - side) % 2), min(w, side + (w - side) % 2)
        top, left = (h - ch) // 2, (w - cw) // 2
        return method(lr[..., top : top + ch, left : left + cw], data)

    return call


def as_served(sr: SuperResolver, fidelity: float | None = None) -> Method:
    """A shipped model as its handler runs it: the upload decoded, restore=auto and (unless
    given) the default fidelity chosen from it (with the block grid it smooths), ensemble=auto
    from its size, tiled, delivered as 8-bit pixels."""

    def call(lr: torch.Tensor, data: bytes) -> torch.Tensor:
        image = decode_image(data, UPLOAD_LIMIT)
        choice = sr.choose(image.rgb, image.quantization, fidelity, None, image.palette)
        return rgb_to_tensor(sr.upscale(image.rgb, choice))

    return call


def served(url: str, timeout: float = 300.0) -> Method:
    """POST the LR file to a served model (``http://host:port/predictions/NAME``); PNG back."""
    import requests

    def call(lr: torch.Tensor, data: bytes) -> torch.Tensor:
        content_type = "image/jpeg" if data[:2] == b"\xff\xd8" else "image/png"
        reply = requests.post(url, data=data, headers={"Content-Type": content_type, "Accept": "image/png"}, timeout=timeout)
        if reply.status_code != 200:
            raise ConfigError(f"{url}: HTTP {reply.status_code} {reply.text[:200]}")
        with Image.open(io.BytesIO(reply.content)) as image:
            return to_tensor(image.convert("RGB"))

    return call


class Score(NamedTuple):
    """One method on one degradation of a set: means, and the photo it did worst on (by its gain
    over bicubic of the same LR: a mean can hide a photo made worse than bicubic)."""

    psnr: float
    ssim: float
    seconds: float
    worst_gain: float
    worst_photo: str


def evaluate(methods: dict[str, Method], paths: list[Path], scale: int, degradation: str = CLEAN) -> dict[str, Score]:
    """Per method: mean PSNR, SSIM, seconds per image, and the worst photo's gain, for one degradation."""
    rows: dict[str, list[tuple[float, float, float, float, str]]] = {name: [] for name in methods}
    for path in paths:
        hr, data, lr, bicubic = hr_lr_upload(path, scale, degradation)
        base = float(psnr_y(bicubic, hr, scale))
        for name, method in methods.items():
            started = time.perf_counter()
            sr = bicubic if method is None else method(lr, data)
            elapsed = time.perf_counter() - started
            psnr = float(psnr_y(sr, hr, scale))
            rows[name].append((psnr, float(ssim_y(sr, hr, scale)), elapsed, psnr - base, Path(path).name))
    scores = {}
    for name, values in rows.items():
        worst = min(values, key=lambda v: v[3])
        scores[name] = Score(*(float(np.mean([v[i] for v in values])) for i in range(3)), worst[3], worst[4])
    return scores


def comparison_sheet(methods: dict[str, Method], paths: list[Path], scale: int, out: Path, crop: int) -> None:
    """Centre crops of each image (clean LR): LR (nearest) | bicubic | models | HR."""
    rows = []
    for path in paths:
        hr, data, lr, bicubic = hr_lr_upload(path, scale)
        outputs = [torch.nn.functional.interpolate(lr, scale_factor=scale, mode="nearest")]
        outputs += [bicubic if m is None else m(lr, data) for m in methods.values()]
        outputs.append(hr)
        h, w = hr.shape[2:]
        c = min(crop, h, w)
        top, left = (h - c) // 2, (w - c) // 2
        rows.append([o[0, :, top : top + c, left : left + c] for o in outputs])
    save_image_grid(rows, ["LR", *methods, "HR"], out, cell=256)


def real_input_sheet(methods: dict[str, Method], inputs: list[tuple[str, bytes]], scale: int, out: Path, view: int) -> None:
    """Real inputs as they are (no downscaling, whatever JPEG and noise they carry): the input
    enlarged by nearest neighbour, bicubic and each model, at 1:1 output pixels, a ``view`` px
    window from the middle of each result."""
    rows = []
    for _, data in inputs:
        with Image.open(io.BytesIO(data)) as decoded:
            image = decoded.convert("RGB")
        lr = to_tensor(image)
        outputs = [torch.nn.functional.interpolate(lr, scale_factor=scale, mode="nearest")]
        outputs += [to_tensor(bicubic_baseline(image, scale)) if m is None else m(lr, data) for m in methods.values()]
        c = min(view, *outputs[0].shape[2:])
        rows.append([o[0, :, (o.shape[2] - c) // 2 : (o.shape[2] - c) // 2 + c, (o.shape[3] - c) // 2 : (o.shape[3] - c) // 2 + c] for o in outputs])
    save_image_grid(rows, ["input (nearest)", *methods], out, cell=view)


def softest(paths: list[Path], scale: int) -> Path:
    """The photo whose clean LR bicubic already enlarges best: the softest, where a model that
    sharpens past the truth loses most."""
    def bicubic_psnr(path: Path) -> float:
        hr, _, _, bicubic = hr_lr_upload(path, scale)
        return float(psnr_y(bicubic, hr, scale))

    return max(paths, key=bicubic_psnr)


def spread(paths: list[Path], count: int) -> list[Path]:
    """``count`` of ``paths`` spread evenly over them (one per class on the IFO split, ordered by class)."""
    count = min(count, len(paths))
    return [paths[i * len(paths) // count] for i in range(count)]


FRAME_CRF = 33  # the video frames' H.264 quality: as drone footage shared online (docs/evaluation.md)
FRAME_SHIFT = (5, 3)  # px cut from the frame's top and left: its codec grid off the file's own


def video_frame_file(path: Path) -> bytes:
    """A photo as a frame grabbed from a drone video: the whole photo through H.264 at
    ``FRAME_CRF`` (no deblocking: the blockiest), cut by ``FRAME_SHIFT`` (a crop moves the grid)
    and saved as a quality-95 JPEG, whose tables then claim a clean file."""
    from training.degradations import h264_frame

    with Image.open(path) as im:
        frame = h264_frame(np.asarray(im.convert("RGB")), FRAME_CRF, deblock=False)[FRAME_SHIFT[0] :, FRAME_SHIFT[1] :]
    buffer = io.BytesIO()
    Image.fromarray(frame).save(buffer, format="JPEG", quality=95)
    return buffer.getvalue()


def real_inputs(ifo: list[Path], aerial: list[Path], crop: int, frames: list[Path] = ()) -> list[tuple[str, bytes]]:
    """IFO test photos at their native size, as their JPEG files, ``crop`` px centre crops of
    aerial test photos (as PNG: a crop is a new file), and ``frames``: photos as frames grabbed
    from a drone video (:func:`video_frame_file`; drones against the sky)."""
    found = [(path.name, path.read_bytes()) for path in ifo]
    found += [(f"{path.name} as an H.264 frame", video_frame_file(path)) for path in frames]
    for path in aerial:
        with Image.open(path) as im:
            image = im.convert("RGB")
        left, top = (image.width - crop) // 2, (image.height - crop) // 2
        buffer = io.BytesIO()
        image.crop((left, top, left + crop, top + crop)).save(buffer, format="PNG")
        found.append((path.name, buffer.getvalue()))
    return found


def print_table(name: str, count: int, results: dict[str, dict[str, Score]]) -> None:
    """One row per degradation: PSNR (gain over bicubic, worst photo's gain) per method, then SSIM
    per method; the worst photos are named below the table."""
    methods = list(next(iter(results.values())))
    print(f"\n{name} ({count} images): PSNR dB (gain over bicubic of the same LR, worst photo's gain) | SSIM")
    print(f"{'LR':<20} " + " ".join(f"{m:>26}" for m in methods) + "   " + " ".join(f"{m:>8}" for m in methods))
    for degradation, row in results.items():
        base = row["bicubic"].psnr
        cells = " ".join(f"{s.psnr:>8.2f} ({s.psnr - base:+6.2f}, {s.worst_gain:+6.2f})" if m != "bicubic" else f"{s.psnr:>26.2f}" for m, s in row.items())
        ssims = " ".join(f"{s.ssim:>8.4f}" for s in row.values())
        print(f"{degradation:<20} {cells}   {ssims}", flush=True)
    seconds = {m: np.mean([row[m].seconds for row in results.values()]) for m in methods}
    print(f"{'s/image':<20} " + " ".join(f"{s:>26.3f}" for s in seconds.values()))
    for degradation, row in results.items():
        worst = ", ".join(f"{m} {s.worst_photo} ({s.worst_gain:+.2f})" for m, s in row.items() if m != "bicubic")
        print(f"  worst on {degradation}: {worst}")


def add_fidelities_argument(parser: argparse.ArgumentParser) -> None:
    """--fidelities, for every command whose methods come from :func:`methods_from_args`."""
    parser.add_argument("--fidelities", nargs="*", type=float, default=[],
                        help="run each --shipped model that has fidelity at these values instead of its default (NAME f=F; choosing default_fidelity on --split val)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", nargs="*", type=Path, default=[], help="SR weight files run in process (default: none)")
    parser.add_argument("--ensemble", action="store_true", help="run --weights with 8 passes averaged (ensemble=true; columns named NAME x8)")
    parser.add_argument("--shipped", nargs="*", default=[], choices=SHIPPED_SR, help="shipped models run in process as served: restore=auto per LR file, default fidelity (default: none)")
    add_fidelities_argument(parser)
    parser.add_argument("--served", help="base URL of a running TorchServe (e.g. http://127.0.0.1:8080): run --models through its API")
    parser.add_argument("--models", nargs="*", default=[], help="served model names with --served (default: none)")
    parser.add_argument("--sets", nargs="+", required=True, help="HR folders or NAME:MANIFEST (its --split), evaluated on every --degradations")
    parser.add_argument("--split", default="test", choices=("test", "val"), help="split of the NAME:MANIFEST sets: test (the reported figures) or val (choosing between weights)")
    parser.add_argument("--every", type=int, default=1, help="every Nth photo of each --sets set, for a quicker sweep (default: 1, all)")
    parser.add_argument("--clean-sets", nargs="*", default=[], help="further sets evaluated on clean LR only (Set5, Set14)")
    parser.add_argument("--degradations", default=",".join(DEGRADATIONS), help=f"comma-separated LR degradations (default: {','.join(DEGRADATIONS)})")
    parser.add_argument("--scale", type=int, default=4, help="scale factor (default: 4; must match the weights)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default: 2)")
    parser.add_argument("--precision", default="float32", help="in-process precision: float32 (default), or auto to measure and pick as a served worker does")
    parser.add_argument("--sheet", type=Path, help="write a comparison sheet PNG of the first set (clean LR)")
    parser.add_argument("--sheet-images", type=int, default=4, help="images in the sheet, spread evenly over the set (default: 4)")
    parser.add_argument("--sheet-crop", type=int, default=192, help="HR crop side in the sheet (default: 192)")
    parser.add_argument("--real-sheet", type=Path, help="write a sheet of real inputs as they are (IFO test photos at native size, aerial crops)")
    parser.add_argument("--real-ifo", default="", help="MANIFEST:N for --real-sheet: N IFO test photos spread over the split")
    parser.add_argument("--real-aerial", default="", help="MANIFEST:N for --real-sheet: N aerial test photos, centre-cropped")
    parser.add_argument("--real-frames", default="", help="MANIFEST:N for --real-sheet: N test photos as frames grabbed from a drone video (H.264, then a q95 JPEG)")
    parser.add_argument("--real-fidelity-ends", action="store_true", help="add to --real-sheet srgan at fidelity 0 and 1 (both ends of the slider)")
    parser.add_argument("--real-soft", action="store_true", help="add to --real-sheet the softest IFO test photo (highest bicubic PSNR of its clean LR: where sharpening past the truth shows)")
    parser.add_argument("--real-extra", nargs="*", type=Path, default=[], help="further SR weights shown only in --real-sheet (a slow peer such as Real-ESRGAN x4plus: make realesrgan)")
    parser.add_argument("--real-crop", type=int, default=300, help="aerial crop side for --real-sheet (default: 300)")
    parser.add_argument("--real-view", type=int, default=320, help="output window per cell in --real-sheet, 1:1 pixels (default: 320)")
    return parser


def methods_from_args(args: argparse.Namespace) -> dict[str, Method]:
    """Bicubic, then each --weights file, --shipped model and --served model, by column name."""
    if any(not 0 <= f <= 1 for f in args.fidelities):
        raise ConfigError("--fidelities: values from 0 to 1")
    methods: dict[str, Method] = {"bicubic": None}
    stems = [path.stem for path in args.weights]
    for path in args.weights:
        if not path.exists():
            raise ConfigError(f"--weights {path}: not found")
        upscaler = Upscaler.from_weights(path)
        try:
            print(f"{path.stem}: {upscaler.select_precision(args.precision).summary()}")
        except ValueError as exc:
            raise ConfigError(f"--precision: {exc}") from None
        if upscaler.scale != args.scale:
            raise ConfigError(f"{path} is a x{upscaler.scale} model; pass --scale {upscaler.scale}")
        label = path.stem if stems.count(path.stem) == 1 else f"{path.parent.name}/{path.stem}"  # runs/*/export.pt
        methods[label + (" x8" if args.ensemble else "")] = in_process(upscaler, args.ensemble)
    for name in args.shipped:
        try:
            sr = SuperResolver.open(name, precision=args.precision)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        print(f"{name}: {sr.choice.summary()}")
        if args.fidelities and sr.has_fidelity:
            for fidelity in args.fidelities:
                methods[f"{name} f={fidelity:g}"] = as_served(sr, fidelity)
        else:
            methods[name] = as_served(sr)
    for name in args.models:
        methods[f"{name} (served)"] = served(f"{args.served.rstrip('/')}/predictions/{name}")
    return methods


def write_real_sheet(args: argparse.Namespace, methods: dict[str, Method]) -> None:
    """--real-sheet: the IFO and aerial test photos picked by --real-ifo/--real-aerial (and the
    softest one) through every method and the --real-extra peers, at 1:1."""
    picked = []
    for spec in (args.real_ifo, args.real_aerial, args.real_frames):
        if not spec:
            picked.append([])
            continue
        manifest, _, count = spec.rpartition(":")
        picked.append(spread(manifest_paths(Path(manifest), "test"), int(count)))
    if args.real_soft and args.real_ifo:
        picked[0].append(softest(manifest_paths(Path(args.real_ifo.rpartition(":")[0]), "test"), args.scale))
    sheet_methods = dict(methods)
    if args.real_fidelity_ends:
        srgan = SuperResolver.open("srgan", precision=args.precision)
        sheet_methods.update({f"srgan fidelity {f:g}": as_served(srgan, f) for f in (0.0, 1.0)})
    for path in args.real_extra:
        if not path.exists():
            raise ConfigError(f"--real-extra {path}: not found")
        upscaler = Upscaler.from_weights(path)
        upscaler.select_precision(args.precision)
        context = 2 * 32  # LR px around the shown window: beyond any of our peers' receptive fields' reach
        sheet_methods[path.stem] = on_centre(in_process(upscaler), args.real_view // args.scale + context)
    real_input_sheet(sheet_methods, real_inputs(picked[0], picked[1], args.real_crop, picked[2]), args.scale, args.real_sheet, args.real_view)
    print(f"wrote {args.real_sheet}")


@exits_on_config_error
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    torch.set_num_threads(args.threads)
    try:
        degradations = check_degradations([d.strip() for d in args.degradations.split(",") if d.strip()])
    except ValueError as exc:
        raise ConfigError(f"--degradations: {exc}") from None
    if args.models and not args.served:
        raise ConfigError("--models needs --served URL")
    if args.every < 1:
        raise ConfigError("--every must be at least 1")
    methods = methods_from_args(args)
    print(f"x{args.scale}, Y channel (BT.601), {args.scale} px border shaved, SSIM 11x11 Gaussian sigma 1.5; LR: Pillow BICUBIC, then the degradation")
    for spec in args.sets:
        name, paths = resolve_set(spec, args.split)
        paths = paths[:: args.every]
        print_table(name, len(paths), {d: evaluate(methods, paths, args.scale, d) for d in degradations})
        if args.sheet and spec == args.sets[0]:
            comparison_sheet(methods, spread(paths, args.sheet_images), args.scale, args.sheet, args.sheet_crop)
            print(f"wrote {args.sheet}")
    if args.real_sheet:
        write_real_sheet(args, methods)
    for spec in args.clean_sets:
        name, paths = resolve_set(spec)
        print_table(name, len(paths), {CLEAN: evaluate(methods, paths, args.scale, CLEAN)})
    return 0


if __name__ == "__main__":
    sys.exit(main())
