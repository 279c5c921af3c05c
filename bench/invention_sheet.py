"""What the invention map shows, on real inputs as they are: IFO test photos at their native size
and a crop of an aerial test photo, enlarged by bicubic, by srgan as served (default fidelity,
restore=auto from each file), the map of that result (``output=map``) and the map at fidelity 0
(the GAN itself), at 1:1 output pixels.

    python -m bench.invention_sheet --out docs/invention_map.jpg     # after make dataset
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from dronesr.imaging import decode_image
from dronesr.sr_model import BlendedUpscaler
from harness import ROOT
from training.dataset import manifest_paths
from training.evaluate import UPLOAD_LIMIT, Method, as_served, real_input_sheet, real_inputs, spread


def invention(sr: BlendedUpscaler, fidelity: float | None = None) -> Method:
    """The map ``output=map`` answers for the upload (dronesr/invention.py), as a tensor."""

    def call(lr: torch.Tensor, data: bytes) -> torch.Tensor:
        mapped, _ = sr.invention_map(decode_image(data, UPLOAD_LIMIT), fidelity)
        return torch.from_numpy(mapped).permute(2, 0, 1)[None].float() / 255

    return call


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ifo", type=Path, default=ROOT / "data/ifo_manifest.json", help="IFO manifest (test split)")
    p.add_argument("--aerial", type=Path, default=ROOT / "data/aerial_manifest.json", help="aerial manifest (test split)")
    p.add_argument("--count", type=int, nargs=2, default=[2, 1], metavar=("IFO", "AERIAL"), help="photos of each (default: 2 1)")
    p.add_argument("--crop", type=int, default=160, help="aerial crop side, input px (default: 160)")
    p.add_argument("--view", type=int, default=320, help="output window per cell, 1:1 px (default: 320)")
    p.add_argument("--out", type=Path, default=ROOT / "docs/invention_map.jpg")
    args = p.parse_args(argv)
    torch.set_num_threads(2)
    sr = BlendedUpscaler.shipped("srgan")
    methods = {
        "bicubic": None,
        f"srgan (fidelity {sr.default_fidelity:g})": as_served(sr),
        f"its map (fidelity {sr.default_fidelity:g})": invention(sr),
        "map at fidelity 0 (the GAN)": invention(sr, 0.0),
    }
    ifo, aerial = (spread(manifest_paths(m, "test"), n) for m, n in ((args.ifo, args.count[0]), (args.aerial, args.count[1])))
    inputs = real_inputs(ifo, aerial, args.crop)
    real_input_sheet(methods, inputs, sr.upscaler.scale, args.out, args.view)
    print(f"wrote {args.out}: {', '.join(name for name, _ in inputs)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
