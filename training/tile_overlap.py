"""How much overlap do tiles need? Tiled vs untiled output of the same model on one photo, for
several overlaps, with small tiles so that the frame has many seams.

    python -m training.tile_overlap --weights weights/span_clean.pt --overlaps 4 8 12 16

The smallest overlap whose largest difference stays under one grey level is the one to ship
(handlers/*-config.yaml ``overlap``): beyond it the model never sees a tile edge.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from dronesr.sr.upscaler import Upscaler
from dronesr.metrics import psnr_rgb
from harness import ROOT
from training.sr_data import load_rgb

DEFAULT_IMAGE = ROOT.parent / "shared/data/ifo/Large_QuadCopters"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", type=Path, default=Path("weights/span_clean.pt"), help="(default: weights/span_clean.pt)")
    parser.add_argument("--image", type=Path, default=DEFAULT_IMAGE, help="an image, or a folder (its 4th file) (default: an IFO quadcopter)")
    parser.add_argument("--tile", type=int, default=96, help="tile side in input px (default: 96)")
    parser.add_argument("--overlaps", type=int, nargs="+", default=[4, 8, 12, 16], help="(default: 4 8 12 16)")
    parser.add_argument("--threads", type=int, default=2, help="(default: 2)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    path = sorted(args.image.iterdir())[3] if args.image.is_dir() else args.image
    image = load_rgb(path).float().div(255).unsqueeze(0)
    upscaler = Upscaler.from_weights(args.weights, tile=args.tile)
    untiled = upscaler.enlarge(image, tiled=False).clamp(0, 1)
    print(f"{path.name} {image.shape[3]}x{image.shape[2]}, tiles of {args.tile} px, {args.weights}")
    print(f"{'overlap':>8} {'PSNR vs untiled':>16} {'max diff (grey levels)':>23}")
    for overlap in args.overlaps:
        upscaler.overlap = overlap
        tiled = upscaler.enlarge(image).clamp(0, 1)
        print(f"{overlap:>8} {psnr_rgb(tiled, untiled):>13.1f} dB {float((tiled - untiled).abs().max()) * 255:>23.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
