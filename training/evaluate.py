"""Evaluate SR weights beside bicubic under the standard protocol (PSNR/SSIM on Y, border shaved).

    python -m training.evaluate --weights weights/srresnet.pt weights/srgan.pt \\
        --sets ../shared/data/benchmarks/Set5 ifo-test:data/ifo_manifest.json

A set is a folder of HR images, or ``NAME:MANIFEST`` for the test split of a manifest written by
``training.dataset``. Each HR image is cropped to a multiple of the scale, downscaled with
antialiased bicubic (the LR), and restored by bicubic and by each model; the table prints the mean
PSNR/SSIM per set. ``--sheet`` writes a comparison picture (LR | bicubic | each model | HR).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

from dronesr.inference import Upscaler
from dronesr.metrics import psnr_y, ssim_y
from dronesr.resample import downscale, upscale_bicubic
from training.dataset import IMAGE_SUFFIXES, manifest_paths
from training.report import save_image_grid
from training.sr_data import load_rgb


def resolve_set(spec: str) -> tuple[str, list[Path]]:
    if ":" in spec and not Path(spec).exists():
        name, manifest = spec.split(":", 1)
        return name, manifest_paths(Path(manifest), "test")
    folder = Path(spec)
    if not folder.is_dir():
        raise SystemExit(f"--sets {spec}: not a folder nor NAME:MANIFEST")
    paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not paths:
        raise SystemExit(f"--sets {spec}: no images")
    return folder.name, paths


def hr_lr_pair(path: Path, scale: int) -> tuple[torch.Tensor, torch.Tensor]:
    hr = load_rgb(path).float().div(255).unsqueeze(0)
    h, w = (hr.shape[2] // scale) * scale, (hr.shape[3] // scale) * scale
    hr = hr[:, :, :h, :w]
    # The LR is quantised to 8 bits, as a saved LR image would be.
    lr = downscale(hr, scale).clamp(0, 1).mul(255).round().div(255)
    return hr, lr


def evaluate(methods: dict[str, Upscaler | None], paths: list[Path], scale: int) -> dict[str, tuple[float, float, float]]:
    """Mean (PSNR, SSIM, seconds per image) per method; ``None`` is bicubic."""
    sums = {name: [0.0, 0.0, 0.0] for name in methods}
    for path in paths:
        hr, lr = hr_lr_pair(path, scale)
        for name, upscaler in methods.items():
            started = time.perf_counter()
            sr = upscale_bicubic(lr, scale) if upscaler is None else upscaler.upscale_tensor(lr, tiled=False)
            elapsed = time.perf_counter() - started
            sums[name][0] += float(psnr_y(sr, hr, scale))
            sums[name][1] += float(ssim_y(sr, hr, scale))
            sums[name][2] += elapsed
    return {name: (p / len(paths), s / len(paths), t / len(paths)) for name, (p, s, t) in sums.items()}


def comparison_sheet(methods: dict[str, Upscaler | None], paths: list[Path], scale: int, out: Path, crop: int) -> None:
    """Centre crops of each image: LR (nearest) | bicubic | models | HR."""
    rows = []
    for path in paths:
        hr, lr = hr_lr_pair(path, scale)
        outputs = [torch.nn.functional.interpolate(lr, scale_factor=scale, mode="nearest")]
        outputs += [upscale_bicubic(lr, scale) if u is None else u.upscale_tensor(lr, tiled=False) for u in methods.values()]
        outputs.append(hr)
        h, w = hr.shape[2:]
        c = min(crop, h, w)
        top, left = (h - c) // 2, (w - c) // 2
        rows.append([o[0, :, top : top + c, left : left + c] for o in outputs])
    save_image_grid(rows, ["LR", *methods, "HR"], out, cell=256)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", nargs="*", type=Path, default=[], help="SR weight files to evaluate (default: none, bicubic only)")
    parser.add_argument("--sets", nargs="+", required=True, help="HR folders or NAME:MANIFEST (test split)")
    parser.add_argument("--scale", type=int, default=4, help="scale factor (default: 4; must match the weights)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default: 2)")
    parser.add_argument("--sheet", type=Path, help="write a comparison sheet PNG of the first set")
    parser.add_argument("--sheet-images", type=int, default=4, help="images in the sheet, spread evenly over the set (default: 4)")
    parser.add_argument("--sheet-crop", type=int, default=192, help="HR crop side in the sheet (default: 192)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    methods: dict[str, Upscaler | None] = {"bicubic": None}
    for path in args.weights:
        if not path.exists():
            raise SystemExit(f"--weights {path}: not found")
        upscaler = Upscaler.from_weights(path)
        if upscaler.scale != args.scale:
            raise SystemExit(f"{path} is a x{upscaler.scale} model; pass --scale {upscaler.scale}")
        methods[path.stem] = upscaler

    print(f"x{args.scale}, Y channel (BT.601), {args.scale} px border shaved, SSIM 11x11 Gaussian sigma 1.5")
    print(f"{'set':<12} {'images':>6}  {'method':<14} {'PSNR':>8} {'SSIM':>8} {'vs bicubic':>11} {'s/image':>8}")
    for spec in args.sets:
        name, paths = resolve_set(spec)
        results = evaluate(methods, paths, args.scale)
        base = results["bicubic"][0]
        for method, (psnr, ssim, seconds) in results.items():
            print(f"{name:<12} {len(paths):>6}  {method:<14} {psnr:>8.2f} {ssim:>8.4f} {psnr - base:>+11.2f} {seconds:>8.3f}")
        if args.sheet and spec == args.sets[0]:
            count = min(args.sheet_images, len(paths))
            spread = [paths[i * len(paths) // count] for i in range(count)]  # one per class on IFO
            comparison_sheet(methods, spread, args.scale, args.sheet, args.sheet_crop)
            print(f"wrote {args.sheet}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
