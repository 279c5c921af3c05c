"""Speed of SR weight files side by side, in process on the serving path (Upscaler: tiles of the
served size, precision measured as a worker does): ours, and any network spandrel knows.

    python -m bench.weights_bench --weights weights/span_gan.pt path/to/DAT_light_x4.pth --size 256

Prints, per file: family, scale, parameters, the precision chosen, and the median seconds for one
SIZE x SIZE input (a synthetic image of gradients and edges).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from bench.timing import median_seconds
from dronesr.sr.resolver import SuperResolver
from dronesr.precision import cpu_features
from dronesr.tiling import DEFAULT_TILE


def test_image(size: int) -> np.ndarray:
    y, x = np.mgrid[0:size, 0:size] / size
    rgb = np.stack([x, y, (x * 7 + y * 3) % 1.0], axis=-1)
    rgb[(np.floor(x * 16) + np.floor(y * 16)) % 2 == 0] *= 0.6  # edges, as real frames have
    return (rgb * 255).astype(np.uint8)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--weights", type=Path, nargs="+", required=True, help="weight files to time")
    p.add_argument("--size", type=int, default=256, help="input side in pixels (default: %(default)s)")
    p.add_argument("--repeats", type=int, default=3, help="timed runs per file, after one warm-up (default: %(default)s)")
    p.add_argument("--threads", type=int, default=2, help="torch threads (default: %(default)s)")
    p.add_argument("--precision", default="auto", help="auto (measured, as served), float32 or bfloat16 (default: %(default)s)")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    image = test_image(args.size)
    print(f"CPU: {cpu_features()}; {args.threads} threads; torch {torch.__version__}; input {args.size}x{args.size}, tiles {DEFAULT_TILE} px")
    print("| weights | family | scale | parameters | precision | seconds (median) |")
    print("| --- | --- | --- | --- | --- | --- |")
    for path in args.weights:
        sr = SuperResolver.open(path, tile=DEFAULT_TILE, precision=args.precision)
        info, choice, upscaler = sr.info, sr.choice, sr.upscaler
        upscaler.upscale(image)  # warm-up
        median = median_seconds(lambda: upscaler.upscale(image), args.repeats)
        print(f"| {path.name} | {info.family} | x{info.scale} | {info.parameters:,} | {choice.precision} | {median:.2f} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
