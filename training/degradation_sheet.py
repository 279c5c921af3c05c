"""A picture of what the degradation pipeline feeds the model: HR crops beside degraded LR
samples of each (nearest-neighbour enlarged, so every LR pixel shows).

    python -m training.degradation_sheet --config training/configs/degradations.yaml \\
        --manifests data/ifo_manifest.json data/aerial_manifest.json --out docs/degradation_sheet.png
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

from training.dataset import manifest_paths
from training.degradations import DegradationConfig, degrade_one
from training.options import ConfigError, exits_on_config_error
from training.report import save_image_grid
from training.sr_data import CropSampler


@exits_on_config_error
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, default=Path("training/configs/degradations.yaml"), help="degradation YAML (default: %(default)s)")
    parser.add_argument("--manifests", nargs="+", type=Path, default=[Path("data/ifo_manifest.json"), Path("data/aerial_manifest.json")],
                        help="manifests whose train split gives the crops (default: the IFO and aerial ones)")
    parser.add_argument("--out", type=Path, default=Path("docs/degradation_sheet.png"), help="PNG to write (default: %(default)s)")
    parser.add_argument("--rows", type=int, default=6, help="HR crops (default: 6)")
    parser.add_argument("--samples", type=int, default=5, help="degraded LR samples per crop (default: 5)")
    parser.add_argument("--crop", type=int, default=128, help="HR crop side (default: 128)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    args = parser.parse_args(argv)
    try:
        config = DegradationConfig.from_yaml(args.config)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"--config {args.config}: {exc}") from None
    paths = [p for m in args.manifests for p in manifest_paths(m, "train")]
    # Spread the rows over the manifests' train images (IFO and aerial both show).
    sampler = CropSampler(paths[:: max(1, len(paths) // (args.rows * 4))], args.crop, args.seed)
    rng = np.random.default_rng(args.seed)
    rows = []
    for hr in sampler.batch(args.rows).split(1):
        lrs = [degrade_one(hr, config, rng) for _ in range(args.samples)]
        rows.append([hr[0], *(torch.nn.functional.interpolate(lr, scale_factor=config.scale, mode="nearest")[0] for lr in lrs)])
    save_image_grid(rows, ["HR", *(f"LR sample {i + 1}" for i in range(args.samples))], args.out, cell=192)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
