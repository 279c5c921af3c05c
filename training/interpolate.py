"""Network interpolation (Wang et al., ESRGAN, 2018, section 3.4; dronesr/sr/blend.py):
every parameter of the GAN generator blended with the PSNR generator it was fine-tuned from,
``alpha * gan + (1 - alpha) * psnr``, written to disk. One knob between the GAN's texture (and its artefacts:
JPEG blocks sharpened into texture, cross-hatch in grass) and the PSNR model's smoothness, with no
retraining and no cost at inference (it is one network of the same architecture).

    python -m training.interpolate --gan weights/span_gan.pt --psnr weights/span_clean.pt --alpha 0.5 --out /tmp/blend.pt
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import torch

from dronesr.checkpoint import model_from_checkpoint, save_model
from dronesr.sr.blend import interpolate_states


def interpolate(gan_path: Path, psnr_path: Path, alpha: float, out: Path) -> None:
    """Write ``alpha * gan + (1 - alpha) * psnr``; ValueError when the two are not the same network."""
    if not math.isfinite(alpha) or not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    gan, psnr = (torch.load(path, map_location="cpu", weights_only=True) for path in (gan_path, psnr_path))
    if (gan["arch"], gan["arch_kwargs"]) != (psnr["arch"], psnr["arch_kwargs"]):
        raise ValueError(f"{gan_path} ({gan['arch']} {gan['arch_kwargs']}) and {psnr_path} ({psnr['arch']} {psnr['arch_kwargs']}) are not the same network")
    model = model_from_checkpoint(gan, str(gan_path))
    model.load_state_dict(interpolate_states(gan["state_dict"], psnr["state_dict"], fidelity=1.0 - alpha))
    save_model(model, out, interpolation={"gan": str(gan_path), "psnr": str(psnr_path), "alpha": alpha})


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--gan", type=Path, required=True, help="the GAN generator's weights")
    p.add_argument("--psnr", type=Path, required=True, help="the PSNR generator it was fine-tuned from")
    p.add_argument("--alpha", type=float, default=0.5, help="share of the GAN (0: the PSNR model, 1: the GAN) (default: 0.5)")
    p.add_argument("--out", type=Path, required=True, help="where the blended generator goes")
    args = p.parse_args(argv)
    try:
        interpolate(args.gan, args.psnr, args.alpha, args.out)
    except (ValueError, OSError, KeyError) as exc:
        p.exit(2, f"interpolate: {exc}\n")
    print(f"{args.out}: {args.alpha:g} x {args.gan} + {1 - args.alpha:g} x {args.psnr}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
