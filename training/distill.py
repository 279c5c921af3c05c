"""A teacher's answers for the GAN to learn from: Real-ESRGAN x4plus (``make realesrgan``) distilled
into the SPAN-sized GAN (issue #20). The teacher costs ~100x SPAN per output pixel here, far too much
to run at every training step on a CPU, so it runs once: on degraded LR crops of a split (the same
pipeline the GAN trains on), its outputs stored beside the crops and their HR.

    python -m training.distill --teacher build/realesrgan/realesrgan-x4plus.pth \\
        --degradations training/configs/degradations-restore.yaml --samples 3072 --out runs/distill/train.pt
    python -m training.distill ... --split val --samples 64 --out runs/distill/val.pt

``train_sr`` then reads it with ``teacher_set:`` (training/configs/span_gan_distill.yaml): the
generator's content and texture losses take the teacher's features as their target, and
``teacher_weight`` adds an L1 term towards its pixels, beside the pixel loss towards the HR.
``--compare`` measures how close SR weights come to the teacher on a stored set.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

from dronesr.files import atomic_output
from dronesr.sr.upscaler import Upscaler, prepare_for_inference
from dronesr.metrics import psnr_y
from dronesr.sr.weights import load_sr_model
from training.dataset import manifest_paths
from training.degradations import DegradationConfig, degrade_batch
from training.sr_data import CropSampler

KEYS = ("hr", "lr", "teacher")  # uint8 N x 3 x H x W each


def _to_uint8(batch: torch.Tensor) -> torch.Tensor:
    return batch.clamp(0, 1).mul(255).round().to(torch.uint8)


def synthetic_crop(side: int, rng: np.random.Generator) -> torch.Tensor:
    """A 1x3xSxS HR crop of what photos have and the train split has too little of: flat or gently
    shaded areas (sky, water, a wall) with a few hard-edged shapes and a little sensor noise. A
    student distilled on photo crops alone blew up on such input (docs/evaluation.md)."""
    y, x = torch.meshgrid(torch.linspace(0, 1, side), torch.linspace(0, 1, side), indexing="ij")
    base = torch.as_tensor(rng.uniform(0.05, 0.95, 3), dtype=torch.float32)[:, None, None]
    slope = torch.as_tensor(rng.uniform(-0.3, 0.3, (3, 2)), dtype=torch.float32)
    image = base + slope[:, :1, None] * (x - 0.5) + slope[:, 1:, None] * (y - 0.5)
    if rng.random() < 0.5:  # slow shading, as a lit surface or a cloud has
        fx, fy, phase = rng.uniform(1, 8), rng.uniform(1, 8), rng.uniform(0, 6.3)
        image = image + rng.uniform(0.05, 0.25) * torch.sin(x * fx + phase) * torch.cos(y * fy)
    for _ in range(rng.integers(0, 4)):  # discs and boxes: hard edges on flat ground
        colour = torch.as_tensor(rng.uniform(0, 1, 3), dtype=torch.float32)[:, None, None]
        cx, cy, r = rng.uniform(0, 1), rng.uniform(0, 1), rng.uniform(0.05, 0.35)
        mask = (x - cx) ** 2 + (y - cy) ** 2 < r**2 if rng.random() < 0.5 else ((x - cx).abs() < r) & ((y - cy).abs() < r * rng.uniform(0.2, 1))
        image = torch.where(mask, colour, image)
    noise = torch.as_tensor(rng.normal(0, rng.uniform(0, 2.5) / 255, (3, side, side)), dtype=torch.float32)
    return (image + noise).clamp(0, 1).unsqueeze(0)


def build_teacher_set(teacher: Upscaler, paths: list[Path], degradations: DegradationConfig, samples: int, hr_crop: int, seed: int, synthetic: float = 0.0) -> dict[str, torch.Tensor]:
    """``samples`` HR crops (of ``paths``, a ``synthetic`` fraction of them ``synthetic_crop``s),
    their degraded LR and the teacher's x4 of each LR."""
    sampler = CropSampler(paths, hr_crop, seed)
    rng = np.random.default_rng(seed)
    stored = {key: [] for key in KEYS}
    started = time.perf_counter()
    for done in range(samples):
        hr = synthetic_crop(hr_crop, rng) if rng.random() < synthetic else sampler.batch(1)
        lr = degrade_batch(hr, degradations, rng)
        answer = teacher.enlarge(lr, tiled=False).cpu()
        for key, value in zip(KEYS, (hr, lr, answer)):
            stored[key].append(_to_uint8(value.cpu()))
        if done % 32 == 31:
            print(f"{done + 1}/{samples} crops, {(time.perf_counter() - started) / (done + 1):.2f} s each", file=sys.stderr, flush=True)
    return {key: torch.cat(values) for key, values in stored.items()}


class TeacherSampler:
    """Batches of (HR, LR, teacher) float tensors in [0, 1] drawn from a stored teacher set: what
    ``train_sr`` steps on instead of fresh crops when ``teacher_set`` is given."""

    def __init__(self, path: Path, seed: int):
        stored = torch.load(path, map_location="cpu", weights_only=True)
        missing = [key for key in KEYS if key not in stored]
        if missing:
            raise ValueError(f"{path}: not a teacher set (no {', '.join(missing)}): python -m training.distill writes one")
        self.hr, self.lr, self.teacher = (stored[key] for key in KEYS)
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        return len(self.hr)

    def batch(self, size: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        index = torch.randint(len(self.hr), (size,), generator=self.generator)
        return tuple(stored[index].float() / 255 for stored in (self.hr, self.lr, self.teacher))


@torch.no_grad()
def closeness(weights: Path, stored: Path, scale: int = 4) -> tuple[float, float]:
    """(mean Y-PSNR of the SR weights' output against the teacher's, and against the HR) on a stored set."""
    model = prepare_for_inference(load_sr_model(weights))
    sampler = TeacherSampler(stored, 0)
    to_teacher, to_hr = [], []
    for hr, lr, teacher in zip(sampler.hr, sampler.lr, sampler.teacher):
        sr = model(lr[None].float().div(255)).float()
        to_teacher.append(float(psnr_y(sr, teacher[None].float().div(255), scale)))
        to_hr.append(float(psnr_y(sr, hr[None].float().div(255), scale)))
    return float(np.mean(to_teacher)), float(np.mean(to_hr))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--teacher", type=Path, default=Path("build/realesrgan/realesrgan-x4plus.pth"), help="the teacher's weights (default: make realesrgan's)")
    p.add_argument("--manifests", type=Path, nargs="+", default=[Path("data/ifo_manifest.json"), Path("data/aerial_manifest.json")], help="split manifests (default: IFO and aerial)")
    p.add_argument("--split", choices=("train", "val"), default="train", help="never test (default: train)")
    p.add_argument("--degradations", type=Path, default=Path("training/configs/degradations-restore.yaml"), help="the LR pipeline, as the GAN's config names it")
    p.add_argument("--samples", type=int, default=2048, help="crops (default: 2048)")
    p.add_argument("--hr-crop", type=int, default=128, help="HR crop side (default: 128, the GAN's)")
    p.add_argument("--synthetic", type=float, default=0.15, help="fraction of synthetic_crop()s: flat/shaded ground with hard-edged shapes (default: 0.15; 0 for a val set of photos only)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", type=Path, help="where the set goes (.pt of uint8 tensors hr, lr, teacher)")
    p.add_argument("--compare", type=Path, nargs="*", metavar="WEIGHTS", help="instead: how close these SR weights come to the teacher on --out")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.out is None:
        p.error("--out is needed")
    if args.compare:
        for weights in args.compare:
            to_teacher, to_hr = closeness(weights, args.out)
            print(f"{weights}: Y-PSNR to the teacher {to_teacher:.2f} dB, to the HR {to_hr:.2f} dB ({args.out})")
        return 0
    if not args.teacher.is_file():
        p.error(f"{args.teacher} not found: make realesrgan fetches and converts it")
    teacher = Upscaler(prepare_for_inference(load_sr_model(args.teacher)))
    teacher.select_precision("auto", execution="pytorch")
    paths = [path for manifest in args.manifests for path in manifest_paths(manifest, args.split)]
    degradations = DegradationConfig.from_yaml(args.degradations)
    stored = build_teacher_set(teacher, paths, degradations, args.samples, args.hr_crop, args.seed, args.synthetic)
    with atomic_output(args.out) as tmp:
        torch.save(stored, tmp)
    print(f"wrote {args.out}: {args.samples} crops of {len(paths)} {args.split} photos ({args.synthetic:.0%} synthetic), teacher in {teacher.precision}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
