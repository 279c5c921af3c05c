"""The budgeted training loop both trainers run: bounded by steps and/or minutes, the cosine
learning rate following whichever budget ends first, running means for the progress bar, and an
"epoch" (validation, pictures, checkpoint) every ``epoch_steps``.

A trainer provides ``cfg`` (steps, max_minutes, lr, min_lr, batch_size, epoch_steps), the mutable
``step``, ``elapsed`` (seconds of training, kept across resumes) and ``history``, and the methods
``train_step(batch) -> dict`` (with a ``loss`` entry) and ``end_epoch()``.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import torch
from tqdm import tqdm

from training.options import ConfigError, add_dataclass_arguments, dataclass_from_args
from training.schedule import cosine_lr


def progress(trainer: Any) -> float:
    """0 at the start, 1 when the step or the time budget is spent."""
    cfg = trainer.cfg
    by_steps = trainer.step / cfg.steps
    by_time = trainer.elapsed / (cfg.max_minutes * 60) if cfg.max_minutes > 0 else 0.0
    return max(by_steps, by_time)


def run_budgeted(trainer: Any, optimizer: torch.optim.Optimizer, sampler: Any, desc: str) -> None:
    cfg = trainer.cfg
    bar = tqdm(total=cfg.steps, initial=trainer.step, desc=desc, unit="step", dynamic_ncols=True)
    running: dict[str, float] = {}
    while progress(trainer) < 1.0:
        started = time.perf_counter()
        lr = cosine_lr(cfg.lr, cfg.min_lr, progress(trainer))
        for group in optimizer.param_groups:
            group["lr"] = lr
        stats = trainer.train_step(sampler.batch(cfg.batch_size))
        trainer.step += 1
        trainer.elapsed += time.perf_counter() - started
        for key, value in stats.items():
            running[key] = 0.98 * running.get(key, value) + 0.02 * value
        bar.update(1)
        bar.set_postfix(loss=f"{running['loss']:.4f}", lr=f"{lr:.1e}", min=f"{trainer.elapsed / 60:.1f}")
        if trainer.step % cfg.epoch_steps == 0 or progress(trainer) >= 1.0:
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
