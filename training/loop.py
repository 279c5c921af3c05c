"""What both trainers share: the :class:`Trainer` base (seeding, threads, the step/time budget,
resume and atomic checkpoints, export) and the budgeted loop it runs: bounded by steps and/or
minutes, the cosine learning rate following whichever budget ends first, running means for the
progress bar, and an "epoch" (validation, pictures, checkpoint) every ``epoch_steps``.

A trainer's ``cfg`` has steps, max_minutes, lr, min_lr, batch_size, epoch_steps, threads, seed,
out_dir and export; a subclass builds its networks, then calls ``resume_if_any()``, and provides
``train_step(batch) -> dict`` (with a ``loss`` entry), ``end_epoch()``, ``checkpoint_state()`` and
``load_checkpoint_state(state)`` (its networks and optimisers), and ``reseed(seed)`` for its own
random generators.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import torch
from torch import nn
from tqdm import tqdm

from dronesr.checkpoint import atomic_torch_save, save_model
from training.options import ConfigError, add_dataclass_arguments, dataclass_from_args
from training.schedule import cosine_lr


class Trainer:
    """Base of the SR and style trainers: what every run does the same way."""

    def __init__(self, cfg: Any):
        self.cfg = cfg
        torch.set_num_threads(cfg.threads)
        self.reseed(cfg.seed)
        self.step, self.elapsed, self.history = 0, 0.0, []
        self.checkpoint_path = cfg.out_dir / "checkpoint.pt"

    # --- to provide -----------------------------------------------------------------------
    def reseed(self, seed: int) -> None:
        """Seed every random generator the run draws from (a subclass adds its own)."""
        torch.manual_seed(seed)

    def checkpoint_state(self) -> dict:
        raise NotImplementedError

    def load_checkpoint_state(self, state: dict) -> None:
        raise NotImplementedError

    def train_step(self, batch: torch.Tensor) -> dict:
        raise NotImplementedError

    def end_epoch(self) -> None:
        raise NotImplementedError

    # --- shared ---------------------------------------------------------------------------
    def progress(self) -> float:
        """0 at the start, 1 when the step or the time budget is spent."""
        by_steps = self.step / self.cfg.steps
        by_time = self.elapsed / (self.cfg.max_minutes * 60) if self.cfg.max_minutes > 0 else 0.0
        return max(by_steps, by_time)

    def resume_if_any(self) -> None:
        """Continue from ``out_dir/checkpoint.pt`` when there is one (weights_only: tensors and
        plain values), with the generators reseeded for the step it stopped at."""
        if not self.checkpoint_path.exists():
            return
        state = torch.load(self.checkpoint_path, map_location="cpu", weights_only=True)
        self.load_checkpoint_state(state)
        self.step, self.elapsed = state["step"], state["elapsed"]
        self.history = json.loads(state["history"])
        self.reseed(self.cfg.seed + self.step)
        print(f"resumed from {self.checkpoint_path} at step {self.step} ({self.elapsed / 60:.1f} min trained)")

    def save_checkpoint(self) -> None:
        state = {**self.checkpoint_state(), "step": self.step, "elapsed": self.elapsed, "history": json.dumps(self.history)}
        atomic_torch_save(state, self.checkpoint_path)

    def export(self, model: nn.Module) -> None:
        """The served weights file (``cfg.export``), with the steps and minutes it took."""
        save_model(model, self.cfg.export, trained_steps=self.step, trained_minutes=self.elapsed / 60)


def run_budgeted(trainer: Trainer, optimizer: torch.optim.Optimizer, sampler: Any, desc: str) -> None:
    cfg = trainer.cfg
    bar = tqdm(total=cfg.steps, initial=trainer.step, desc=desc, unit="step", dynamic_ncols=True)
    running: dict[str, float] = {}
    while trainer.progress() < 1.0:
        started = time.perf_counter()
        lr = cosine_lr(cfg.lr, cfg.min_lr, trainer.progress())
        for group in optimizer.param_groups:
            group["lr"] = lr
        stats = trainer.train_step(sampler.batch(cfg.batch_size))
        trainer.step += 1
        trainer.elapsed += time.perf_counter() - started
        for key, value in stats.items():
            running[key] = 0.98 * running.get(key, value) + 0.02 * value
        bar.update(1)
        bar.set_postfix(loss=f"{running['loss']:.4f}", lr=f"{lr:.1e}", min=f"{trainer.elapsed / 60:.1f}")
        if trainer.step % cfg.epoch_steps == 0 or trainer.progress() >= 1.0:
            trainer.history.append({"step": trainer.step, "minutes": trainer.elapsed / 60, **running})
            trainer.end_epoch()
    bar.close()


def run_cli(description: str | None, config_cls: type, trainer_cls: type, argv: list[str] | None) -> int:
    """A trainer's command line: options from its config dataclass (YAML via --config), then run."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_dataclass_arguments(parser, config_cls)
    cfg = dataclass_from_args(config_cls, parser.parse_args(argv))
    if not cfg.manifest.exists():
        raise ConfigError(f"{cfg.manifest} not found: build it with python -m training.dataset --images DIR --out {cfg.manifest}")
    trainer_cls(cfg).run()
    return 0
