"""Evaluate SR models beside bicubic under the project's protocol (training/protocol.py): PSNR/SSIM
on Y with the border shaved, on clean LR and on LR degraded the way real uploads are.

    python -m training.evaluate --weights weights/srresnet.pt weights/srgan.pt \\
        --sets ifo-test:data/ifo_manifest.json aerial-test:data/aerial_manifest.json \\
        --degradations clean,jpeg75,jpeg50,noise5,blur+noise3+jpeg70 \\
        --clean-sets ../shared/data/benchmarks/Set5 ../shared/data/benchmarks/Set14

    # the same, through the served API (make serve): each LR is POSTed as PNG to /predictions/NAME
    python -m training.evaluate --served http://127.0.0.1:8080 --models srresnet srgan --sets ...

A set is a folder of HR images, or ``NAME:MANIFEST`` for the test split of a manifest written by
``training.dataset``. Each row is one degradation of the LR; each cell is the mean PSNR and, in
brackets, its gain over bicubic of the same LR. ``--sheet`` writes a comparison picture (LR |
bicubic | each model | HR) of the first set, clean LR.
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from dronesr.inference import Upscaler
from dronesr.metrics import psnr_y, ssim_y
from training.dataset import IMAGE_SUFFIXES, manifest_paths
from training.options import ConfigError, exits_on_config_error
from training.protocol import CLEAN, DEGRADATIONS, bicubic_baseline, check_degradations, hr_lr_pair, to_tensor
from training.report import save_image_grid

# A method maps a 1x3xhxw float LR to a 1x3x(sh)x(sw) float SR; None is the bicubic baseline.
Method = Callable[[torch.Tensor], torch.Tensor] | None


def resolve_set(spec: str) -> tuple[str, list[Path]]:
    if ":" in spec and not Path(spec).exists():
        name, manifest = spec.split(":", 1)
        if not Path(manifest).exists():
            raise ConfigError(f"--sets {spec}: {manifest} not found (make dataset builds it)")
        return name, manifest_paths(Path(manifest), "test")
    folder = Path(spec)
    if not folder.is_dir():
        raise ConfigError(f"--sets {spec}: not a folder nor NAME:MANIFEST")
    paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not paths:
        raise ConfigError(f"--sets {spec}: no images")
    return folder.name, paths


def in_process(upscaler: Upscaler) -> Method:
    return lambda lr: upscaler.upscale_tensor(lr, tiled=False)


def served(url: str, timeout: float = 300.0) -> Method:
    """POST the LR as PNG to a served model (``http://host:port/predictions/NAME``); PNG back."""
    import requests

    def call(lr: torch.Tensor) -> torch.Tensor:
        array = lr[0].clamp(0, 1).mul(255).round().byte().permute(1, 2, 0).numpy()
        buffer = io.BytesIO()
        Image.fromarray(array).save(buffer, format="PNG", compress_level=1)
        reply = requests.post(url, data=buffer.getvalue(), headers={"Content-Type": "image/png", "Accept": "image/png"}, timeout=timeout)
        if reply.status_code != 200:
            raise ConfigError(f"{url}: HTTP {reply.status_code} {reply.text[:200]}")
        with Image.open(io.BytesIO(reply.content)) as image:
            return to_tensor(image.convert("RGB"))

    return call


def evaluate(methods: dict[str, Method], paths: list[Path], scale: int, degradation: str = CLEAN) -> dict[str, tuple[float, float, float]]:
    """Mean (PSNR, SSIM, seconds per image) per method for one degradation of the LR."""
    sums = {name: [0.0, 0.0, 0.0] for name in methods}
    for path in paths:
        hr, lr, bicubic = hr_lr_pair(path, scale, degradation)
        for name, method in methods.items():
            started = time.perf_counter()
            sr = bicubic if method is None else method(lr)
            elapsed = time.perf_counter() - started
            sums[name][0] += float(psnr_y(sr, hr, scale))
            sums[name][1] += float(ssim_y(sr, hr, scale))
            sums[name][2] += elapsed
    return {name: (p / len(paths), s / len(paths), t / len(paths)) for name, (p, s, t) in sums.items()}


def comparison_sheet(methods: dict[str, Method], paths: list[Path], scale: int, out: Path, crop: int) -> None:
    """Centre crops of each image (clean LR): LR (nearest) | bicubic | models | HR."""
    rows = []
    for path in paths:
        hr, lr, bicubic = hr_lr_pair(path, scale)
        outputs = [torch.nn.functional.interpolate(lr, scale_factor=scale, mode="nearest")]
        outputs += [bicubic if m is None else m(lr) for m in methods.values()]
        outputs.append(hr)
        h, w = hr.shape[2:]
        c = min(crop, h, w)
        top, left = (h - c) // 2, (w - c) // 2
        rows.append([o[0, :, top : top + c, left : left + c] for o in outputs])
    save_image_grid(rows, ["LR", *methods, "HR"], out, cell=256)


def real_input_sheet(methods: dict[str, Method], inputs: list[tuple[str, Image.Image]], scale: int, out: Path, view: int) -> None:
    """Real inputs as they are (no downscaling, whatever JPEG and noise they carry): the input
    enlarged by nearest neighbour, bicubic and each model, at 1:1 output pixels, a ``view`` px
    window from the middle of each result."""
    rows = []
    for _, image in inputs:
        lr = to_tensor(image)
        outputs = [torch.nn.functional.interpolate(lr, scale_factor=scale, mode="nearest")]
        outputs += [to_tensor(bicubic_baseline(image, scale)) if m is None else m(lr) for m in methods.values()]
        h, w = outputs[0].shape[2:]
        c = min(view, h, w)
        top, left = (h - c) // 2, (w - c) // 2
        rows.append([o[0, :, top : top + c, left : left + c] for o in outputs])
    save_image_grid(rows, ["input (nearest)", *methods], out, cell=view)


def spread(paths: list[Path], count: int) -> list[Path]:
    """``count`` of ``paths`` spread evenly over them (one per class on the IFO split, ordered by class)."""
    count = min(count, len(paths))
    return [paths[i * len(paths) // count] for i in range(count)]


def real_inputs(ifo: list[Path], aerial: list[Path], crop: int) -> list[tuple[str, Image.Image]]:
    """IFO test photos at their native size and ``crop`` px centre crops of aerial test photos."""
    found = []
    for path in ifo:
        with Image.open(path) as im:
            found.append((path.name, im.convert("RGB")))
    for path in aerial:
        with Image.open(path) as im:
            image = im.convert("RGB")
        left, top = (image.width - crop) // 2, (image.height - crop) // 2
        found.append((path.name, image.crop((left, top, left + crop, top + crop))))
    return found


def print_table(name: str, count: int, results: dict[str, dict[str, tuple[float, float, float]]]) -> None:
    """One row per degradation: PSNR (gain over bicubic) per method, then SSIM per method."""
    methods = list(next(iter(results.values())))
    print(f"\n{name} ({count} images): PSNR dB (gain over bicubic of the same LR) | SSIM")
    print(f"{'LR':<20} " + " ".join(f"{m:>17}" for m in methods) + "   " + " ".join(f"{m:>8}" for m in methods))
    for degradation, row in results.items():
        base = row["bicubic"][0]
        cells = " ".join(f"{psnr:>8.2f} ({psnr - base:+6.2f})" if m != "bicubic" else f"{psnr:>17.2f}" for m, (psnr, _, _) in row.items())
        ssims = " ".join(f"{ssim:>8.4f}" for _, ssim, _ in row.values())
        print(f"{degradation:<20} {cells}   {ssims}", flush=True)
    seconds = {m: np.mean([row[m][2] for row in results.values()]) for m in methods}
    print(f"{'s/image':<20} " + " ".join(f"{s:>17.3f}" for s in seconds.values()))


@exits_on_config_error
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", nargs="*", type=Path, default=[], help="SR weight files run in process (default: none)")
    parser.add_argument("--served", help="base URL of a running TorchServe (e.g. http://127.0.0.1:8080): run --models through its API")
    parser.add_argument("--models", nargs="*", default=[], help="served model names with --served (default: none)")
    parser.add_argument("--sets", nargs="+", required=True, help="HR folders or NAME:MANIFEST (test split), evaluated on every --degradations")
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
    parser.add_argument("--real-crop", type=int, default=300, help="aerial crop side for --real-sheet (default: 300)")
    parser.add_argument("--real-view", type=int, default=320, help="output window per cell in --real-sheet, 1:1 pixels (default: 320)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    try:
        degradations = check_degradations([d.strip() for d in args.degradations.split(",") if d.strip()])
    except ValueError as exc:
        raise ConfigError(f"--degradations: {exc}") from None
    if args.models and not args.served:
        raise ConfigError("--models needs --served URL")

    methods: dict[str, Method] = {"bicubic": None}
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
        methods[path.stem] = in_process(upscaler)
    for name in args.models:
        methods[f"{name} (served)"] = served(f"{args.served.rstrip('/')}/predictions/{name}")

    print(f"x{args.scale}, Y channel (BT.601), {args.scale} px border shaved, SSIM 11x11 Gaussian sigma 1.5; LR: Pillow BICUBIC, then the degradation")
    for spec in args.sets:
        name, paths = resolve_set(spec)
        print_table(name, len(paths), {d: evaluate(methods, paths, args.scale, d) for d in degradations})
        if args.sheet and spec == args.sets[0]:
            comparison_sheet(methods, spread(paths, args.sheet_images), args.scale, args.sheet, args.sheet_crop)
            print(f"wrote {args.sheet}")
    if args.real_sheet:
        picked = []
        for spec in (args.real_ifo, args.real_aerial):
            if not spec:
                picked.append([])
                continue
            manifest, _, count = spec.rpartition(":")
            picked.append(spread(manifest_paths(Path(manifest), "test"), int(count)))
        real_input_sheet(methods, real_inputs(picked[0], picked[1], args.real_crop), args.scale, args.real_sheet, args.real_view)
        print(f"wrote {args.real_sheet}")
    for spec in args.clean_sets:
        name, paths = resolve_set(spec)
        print_table(name, len(paths), {CLEAN: evaluate(methods, paths, args.scale, CLEAN)})
    return 0


if __name__ == "__main__":
    sys.exit(main())
