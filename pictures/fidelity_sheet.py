"""What the ``fidelity`` control does, on real inputs as they are: IFO test photos at their native
size and crops of aerial test photos, enlarged by bicubic and by srgan at several fidelities (the
network interpolation the srgan endpoint runs, with restore=auto read from each file as served),
at 1:1 output pixels.

    python -m pictures.fidelity_sheet --out docs/fidelity_sheet.jpg     # after make dataset
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from dronesr.sr.resolver import SuperResolver
from harness import ROOT
from training.dataset import manifest_paths
from training.evaluate import Method, as_served, real_input_sheet, real_inputs, spread


def sheet_parser(description: str, out: Path) -> argparse.ArgumentParser:
    """The options every real-input sheet of srgan takes (this one and pictures/invention_sheet.py)."""
    p = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ifo", type=Path, default=ROOT / "data/ifo_manifest.json", help="IFO manifest (test split)")
    p.add_argument("--aerial", type=Path, default=ROOT / "data/aerial_manifest.json", help="aerial manifest (test split)")
    p.add_argument("--count", type=int, nargs=2, default=[2, 1], metavar=("IFO", "AERIAL"), help="photos of each (default: 2 1)")
    p.add_argument("--crop", type=int, default=160, help="aerial crop side, input px (default: 160)")
    p.add_argument("--view", type=int, default=320, help="output window per cell, 1:1 px (default: 320)")
    p.add_argument("--out", type=Path, default=out, help=f"(default: {out.relative_to(ROOT)})")
    return p


def draw_sheet(args: argparse.Namespace, methods: dict[str, Method], scale: int) -> None:
    """The sheet of ``methods`` on the test photos ``args`` choose, written to ``args.out``."""
    ifo, aerial = (spread(manifest_paths(m, "test"), n) for m, n in ((args.ifo, args.count[0]), (args.aerial, args.count[1])))
    inputs = real_inputs(ifo, aerial, args.crop)
    real_input_sheet(methods, inputs, scale, args.out, args.view)
    print(f"wrote {args.out}: {', '.join(name for name, _ in inputs)}")


def main(argv: list[str] | None = None) -> int:
    p = sheet_parser(__doc__, ROOT / "docs/fidelity_sheet.jpg")
    p.add_argument("--fidelities", type=float, nargs="+", help="(default: 0, srgan's default_fidelity, 1)")
    args = p.parse_args(argv)
    torch.set_num_threads(2)
    sr = SuperResolver.open("srgan", precision="float32", execution="pytorch")
    methods: dict[str, Method] = {"bicubic": None}
    for fidelity in args.fidelities or (0.0, sr.default_fidelity, 1.0):
        label = f"fidelity {fidelity:g}" + (" (the GAN)" if fidelity == 0 else " (the faithful twin)" if fidelity == 1 else "")
        label += " (default)" if fidelity == sr.default_fidelity else ""
        methods[label] = as_served(sr, fidelity)
    draw_sheet(args, methods, sr.upscaler.scale)
    return 0

if __name__ == "__main__":
    raise SystemExit(main())
