"""Train the multi-style network (StyleNet, conditional instance norm) on IFO photos and paintings.

    python -m training.train_style --config training/configs/style.yaml

One network learns every painting in ``--styles-dir`` (or the ``--styles`` named there): each
sample of a batch gets a painting, in a shuffled round-robin so every style is seen equally
often, and the loss (training/style_losses.py: content, Gram style, RGB colour, total variation)
is measured against that painting's targets, computed once at start. The convolutions are
shared; each style owns only its norm layers' gamma/beta rows.

Runs are bounded (``--steps`` and/or ``--max-minutes``; the cosine learning-rate schedule spans
whichever ends first) and resumable: every ``--epoch-steps`` steps the run writes ``samples.png``
(val photos x every style), ``checkpoint.pt`` and ``config.yaml`` to ``--out-dir`` and exports the
network to ``--export`` (``dronesr.checkpoint.save_model``: the style names travel in the arch
kwargs). Started again with the same ``--out-dir`` it continues where it stopped.
"""

from __future__ import annotations

import random
import sys
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from tqdm import tqdm

from dronesr.archs import StyleNet
from training.dataset import IMAGE_SUFFIXES, manifest_paths
from training.loop import Trainer, run_budgeted, run_cli
from training.options import ConfigError, RunOptions, exits_on_config_error, option, write_yaml
from training.report import save_image_grid
from training.sr_data import CropSampler, load_rgb
from training.style_losses import StyleCriterion, StyleLossConfig


@dataclass
class StyleTrainConfig(RunOptions, StyleLossConfig):
    manifest: Path = option(
        Path("data/ifo_manifest.json"), "split manifest from training.dataset (train split: content crops; val: sample sheet)"
    )
    styles_dir: Path = option(Path("../shared/data/styles"), "folder of paintings; a style's name is its file stem")
    styles: str = option("all", "comma-separated style names to train (file stems in --styles-dir), or 'all'")
    out_dir: Path = option(Path("runs/style"), "checkpoint and sample sheet go here")
    export: Path = option(Path("weights/style.pt"), "deployable network weights written at each epoch")
    # architecture (StyleNet)
    channels: str = option("16,32,64", "three widths: full, 1/2 and 1/4 resolution")
    num_blocks: int = option(3, "residual blocks at 1/4 resolution")
    separable: bool = option(True, "depthwise-separable convolutions in the residual blocks")
    edge_kernel: int = option(9, "kernel of the first and last convolution")
    work_side: int = option(512, "long side the served network runs at (stored with the weights)")
    # data
    crop: int = option(256, "content crop side (px); the IFO photos are 400x400")
    batch_size: int = option(4, "crops per step")
    # optimisation and budget
    lr: float = option(1e-3, "learning rate (Adam), cosine-annealed over the budget")
    min_lr: float = option(1e-5, "learning rate at the end of the schedule")
    steps: int = option(40_000, "step budget")
    epoch_steps: int = option(100, "steps between sample sheets, checkpoints and exports")
    sample_images: int = option(3, "val photos on the sample sheet")
    sample_side: int = option(256, "long side of the sample-sheet photos")

    def __post_init__(self) -> None:
        if len(self.channel_list) != 3:
            raise ConfigError(f"--channels must be three comma-separated widths, got {self.channels!r}")

    @property
    def channel_list(self) -> list[int]:
        parts = self.channels if isinstance(self.channels, (list, tuple)) else str(self.channels).split(",")
        try:
            return [int(c) for c in parts]
        except ValueError:
            raise ConfigError(f"--channels must be comma-separated integers, got {self.channels!r}") from None

    def arch_kwargs(self, style_names: list[str]) -> dict:
        return {
            "style_names": style_names,
            "channels": self.channel_list,
            "num_blocks": self.num_blocks,
            "separable": self.separable,
            "edge_kernel": self.edge_kernel,
            "work_side": self.work_side,
        }


def find_paintings(styles_dir: Path, styles: str) -> dict[str, Path]:
    """Style name (file stem) -> painting path, sorted by name (the network's style order)."""
    if not Path(styles_dir).is_dir():
        raise ConfigError(f"styles folder not found: {styles_dir}")
    found = {p.stem: p for p in sorted(Path(styles_dir).iterdir()) if p.suffix.lower() in IMAGE_SUFFIXES}
    if styles.strip() != "all":
        wanted = [s.strip() for s in styles.split(",") if s.strip()]
        missing = [s for s in wanted if s not in found]
        if missing:
            raise ConfigError(f"style(s) {missing} not in {styles_dir}; available: {', '.join(found)}")
        found = {s: found[s] for s in wanted}
    if not found:
        raise ConfigError(f"no paintings in {styles_dir}")
    return dict(sorted(found.items()))


def square_centre(image: torch.Tensor, side: int) -> torch.Tensor:
    """CHW -> centre square crop resized to ``side`` (sample-sheet cells are square)."""
    h, w = image.shape[-2:]
    s = min(h, w)
    top, left = (h - s) // 2, (w - s) // 2
    return F.interpolate(
        image[None, :, top : top + s, left : left + s], size=(side, side), mode="bilinear", antialias=True, align_corners=False
    )[0]


class StyleTrainer(Trainer):
    def __init__(self, cfg: StyleTrainConfig):
        super().__init__(cfg)
        paintings = find_paintings(cfg.styles_dir, cfg.styles)
        self.style_names = list(paintings)
        self.net = StyleNet(**cfg.arch_kwargs(self.style_names))
        self.opt = torch.optim.Adam(self.net.parameters(), lr=cfg.lr)
        self.criterion = StyleCriterion(cfg, [load_rgb(p).float().div(255) for p in paintings.values()])
        print(f"{len(self.style_names)} styles: {', '.join(self.style_names)}")
        print(f"style loss network: {self.criterion.description}")
        self.queue: list[int] = []
        self.resume_if_any()

    def reseed(self, seed: int) -> None:
        super().reseed(seed)
        self.rng = random.Random(seed)  # the style round-robin's shuffles

    # --- state ----------------------------------------------------------------------------
    def load_checkpoint_state(self, state: dict) -> None:
        if state["arch_kwargs"] != self.net.arch_kwargs:
            raise ConfigError(
                f"{self.checkpoint_path} was trained with {state['arch_kwargs']}, this config asks for "
                f"{self.net.arch_kwargs}; use another --out-dir to start afresh"
            )
        self.net.load_state_dict(state["net"])
        self.opt.load_state_dict(state["opt"])

    def checkpoint_state(self) -> dict:
        return {"net": self.net.state_dict(), "opt": self.opt.state_dict(), "arch_kwargs": self.net.arch_kwargs}

    # --- training -------------------------------------------------------------------------
    def next_styles(self, n: int) -> torch.Tensor:
        """Per-sample painting indices from a shuffled round-robin (every style equally often)."""
        out = []
        for _ in range(n):
            if not self.queue:
                self.queue = list(range(len(self.style_names)))
                self.rng.shuffle(self.queue)
            out.append(self.queue.pop())
        return torch.tensor(out, dtype=torch.long)

    def train_step(self, content: torch.Tensor) -> dict:
        style_index = self.next_styles(content.shape[0])
        weights = F.one_hot(style_index, len(self.style_names)).float()
        output = self.net(content, weights)
        terms = self.criterion(output, content, style_index)
        self.opt.zero_grad(set_to_none=True)
        terms["total"].backward()
        self.opt.step()
        return {("loss" if k == "total" else k): v.item() for k, v in terms.items()}

    def run(self) -> None:
        cfg = self.cfg
        cfg.out_dir.mkdir(parents=True, exist_ok=True)
        write_yaml(cfg, cfg.out_dir / "config.yaml")
        sampler = CropSampler(manifest_paths(cfg.manifest, "train"), cfg.crop, cfg.seed + self.step)
        val = manifest_paths(cfg.manifest, "val")[: cfg.sample_images]
        self.sample_photos = [square_centre(load_rgb(p).float().div(255), cfg.sample_side) for p in val]
        run_budgeted(self, self.opt, sampler, f"style x{len(self.style_names)}")
        print(f"done: {self.step} steps, {self.elapsed / 60:.1f} min -> {cfg.export}")

    @torch.no_grad()
    def sample_sheet(self) -> None:
        """Rows: val photos; columns: the photo, then every style (the network at sheet size)."""
        self.net.eval()
        rows = []
        for photo in self.sample_photos:
            batch = photo.unsqueeze(0).expand(len(self.style_names), -1, -1, -1)
            styled = self.net(batch, torch.eye(len(self.style_names)))
            rows.append([photo, *styled])
        self.net.train()
        if rows:
            save_image_grid(rows, ["photo", *self.style_names], self.cfg.out_dir / "samples.png", cell=self.cfg.sample_side)

    def end_epoch(self) -> None:
        shown = ", ".join(f"{k} {v:.4f}" for k, v in self.history[-1].items() if k not in ("step", "minutes"))
        tqdm.write(f"step {self.step} ({self.elapsed / 60:.1f} min): {shown}")
        self.sample_sheet()
        self.export(self.net)
        self.save_checkpoint()


@exits_on_config_error
def main(argv: list[str] | None = None) -> int:
    return run_cli(__doc__, StyleTrainConfig, StyleTrainer, argv)


if __name__ == "__main__":
    sys.exit(main())
