"""Classic optimisation-based style transfer (Gatys et al. 2016) for any painting: the pixels of
one image are optimised against the same loss network and loss terms the feed-forward trainer
uses (training/style_losses.py), so it is also the quick way to tune those weights and layers
before spending a training run on them.

    python -m training.gatys --content photo.jpg --style ../shared/data/styles/udnie.jpg \\
        --out out.png --size 384 --steps 300

Starts from the content image (``--init content``, keeps the subject) or from noise; optimises
with L-BFGS (the usual choice: few steps) or Adam. Pixels stay in [0, 1] (clamped after every
step). At 192 px one step costs about 0.07 s with the MobileNet loss network on this CPU.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from training.options import ConfigError, add_dataclass_arguments, dataclass_from_args, exits_on_config_error, option
from training.report import to_pil
from training.sr_data import load_rgb
from training.style_losses import StyleCriterion, StyleLossConfig, resize_long_side


@dataclass
class GatysConfig(StyleLossConfig):
    content: Path | None = option(None, "content photo (required)")
    style: Path | None = option(None, "style painting (required)")
    out: Path = option(Path("gatys.png"), "output PNG")
    size: int = option(384, "long side (px) of the optimised image")
    steps: int = option(300, "optimiser steps (L-BFGS: iterations)")
    optimizer: str = option("lbfgs", "'lbfgs' or 'adam'")
    lr: float = option(0.02, "learning rate (adam; L-BFGS uses 1)")
    init: str = option("content", "'content' (start from the photo) or 'noise'")
    log_every: int = option(50, "steps between loss printouts")
    threads: int = option(2, "torch CPU threads")
    seed: int = option(0, "random seed (noise init)")

    def __post_init__(self) -> None:
        if self.content is None or self.style is None:
            raise ConfigError("--content and --style are required")
        if self.optimizer not in ("lbfgs", "adam"):
            raise ConfigError(f"--optimizer must be lbfgs or adam, got {self.optimizer!r}")
        if self.init not in ("content", "noise"):
            raise ConfigError(f"--init must be content or noise, got {self.init!r}")


def load_image(path: Path) -> torch.Tensor:
    """1x3xHxW float [0, 1]."""
    if not Path(path).is_file():
        raise ConfigError(f"image not found: {path}")
    return load_rgb(Path(path)).float().div(255).unsqueeze(0)


def stylize(cfg: GatysConfig) -> tuple[torch.Tensor, dict[str, float]]:
    """Run the optimisation; returns the image (1x3xHxW, [0, 1]) and the final loss terms."""
    torch.manual_seed(cfg.seed)
    torch.set_num_threads(cfg.threads)
    content = resize_long_side(load_image(cfg.content), cfg.size).clamp(0, 1)
    criterion = StyleCriterion(cfg, [load_image(cfg.style)[0]])
    print(f"loss network: {criterion.description}")
    start = content.clone() if cfg.init == "content" else torch.rand_like(content)
    image = start.requires_grad_(True)
    style_index = torch.zeros(1, dtype=torch.long)
    if cfg.optimizer == "lbfgs":
        optimizer = torch.optim.LBFGS([image], lr=1.0, max_iter=1, history_size=20)
    else:
        optimizer = torch.optim.Adam([image], lr=cfg.lr)
    last: dict[str, float] = {}

    def closure() -> torch.Tensor:
        optimizer.zero_grad(set_to_none=True)
        terms = criterion(image, content, style_index)
        terms["total"].backward()
        last.update({k: v.item() for k, v in terms.items()})
        return terms["total"]

    started = time.perf_counter()
    for step in range(1, cfg.steps + 1):
        optimizer.step(closure)
        with torch.no_grad():
            image.clamp_(0, 1)
        if step % cfg.log_every == 0 or step == cfg.steps:
            shown = ", ".join(f"{k} {v:.4f}" for k, v in last.items())
            print(f"step {step}/{cfg.steps} ({time.perf_counter() - started:.1f}s): {shown}")
    return image.detach(), last


@exits_on_config_error
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_dataclass_arguments(parser, GatysConfig)
    cfg = dataclass_from_args(GatysConfig, parser.parse_args(argv))
    image, _ = stylize(cfg)
    cfg.out.parent.mkdir(parents=True, exist_ok=True)
    to_pil(image[0]).save(cfg.out)
    print(f"wrote {cfg.out} ({image.shape[-1]}x{image.shape[-2]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
