"""Train an SR generator (pixel loss) or fine-tune it as SRGAN (content, texture, adversarial).
The generator is ``--arch compact`` (Real-ESRGAN's SRVGGNetCompact, started from realesr-general-x4v3:
make pretrained), ``--arch span`` (SPAN, started from pretrained weights: make pretrained) or
``--arch srresnet`` (the first releases' network, trained here from scratch).

    python -m training.train_sr --config training/configs/span_restore.yaml
    python -m training.train_sr --config training/configs/span_gan.yaml

Runs are bounded (``--steps`` and/or ``--max-minutes``; the cosine learning-rate schedule spans
whichever ends first) and resumable: every ``--epoch-steps`` steps the run validates (PSNR/SSIM on
the val split, beside bicubic), writes ``samples.png`` (LR | bicubic | SR | HR), ``curves.png``
and ``checkpoint.pt`` to ``--out-dir``, and exports the generator to ``--export``. Started again
with the same ``--out-dir`` it continues where it stopped.
"""

from __future__ import annotations

import copy
import math
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from dronesr.archs import SPAN, Compact, Discriminator, SRResNet, UNetDiscriminator
from dronesr.checkpoint import load_model
from dronesr.metrics import psnr_y, ssim_y
from dronesr.precision import DEVICES, PRECISIONS, autocast, check_choice, choose_precision, resolve_device
from dronesr.image.codecs import rgb_to_tensor, tensor_to_rgb
from dronesr.image.resample import downscale
from dronesr.sr.deblock import auto_grid, deblock
from dronesr.sr.restoration import auto_restore
from training import losses
from training.dataset import manifest_paths
from training.distill import TeacherSampler
from training.degradations import DegradationConfig, degrade_batch, quantize
from training.loop import Trainer, run_budgeted, run_cli
from training.options import ConfigError, LossNetworkOptions, RunOptions, exits_on_config_error, option, write_yaml
from training.protocol import check_degradations, hr_lr_pair
from training.report import save_curves, save_image_grid
from training.sr_data import CropSampler


DISCRIMINATORS = {"strided": Discriminator, "unet": UNetDiscriminator}
GENERATORS = {"span": SPAN, "compact": Compact, "srresnet": SRResNet}
DETAIL_TEACHER_INPUTS = ("clean", "degraded", "restored", "deblocked")


def deblocked(lr: torch.Tensor) -> torch.Tensor:
    """``lr`` (N x 3 x h x w, 0-1) with each image's block grid smoothed where restore=auto would
    smooth it before the network (dronesr/sr/deblock.py): the teacher then answers an upload
    without the grids restore=auto finds, which it would otherwise keep (faint steps of frames
    x264 already deblocked are not found, and it still sharpens them: docs/evaluation.md)."""
    images = []
    for image in lr.split(1):
        rgb = tensor_to_rgb(image)
        grid = auto_grid(auto_restore(rgb, None))
        images.append(image if grid is None else rgb_to_tensor(deblock(rgb, grid)).to(lr))
    return torch.cat(images)


@dataclass
class SRTrainConfig(RunOptions, LossNetworkOptions):
    manifest: Path = option(Path("data/ifo_manifest.json"), "split manifest from training.dataset")
    out_dir: Path = option(Path("runs/srresnet"), "checkpoint, samples and curves go here")
    export: Path = option(Path("runs/srresnet/export.pt"), "deployable generator weights written at each epoch (the configs export to weights/)")
    mode: str = option("psnr", "'psnr' (pixel loss only) or 'gan' (SRGAN fine-tuning)")
    init_weights: Path | None = option(None, "generator weights to start from (gan mode: the PSNR model)")
    # architecture
    arch: str = option("srresnet", "generator: 'compact' or 'span' (fine-tune --init-weights, e.g. the pretrained general-x4v3 or SPAN) or 'srresnet'")
    scale: int = option(4, "upscaling factor, 2 or 4")
    channels: int = option(48, "generator feature channels")
    num_blocks: int = option(8, "generator residual blocks (srresnet), body convolutions (compact); SPAN always has six blocks")
    # data
    hr_crop: int = option(96, "HR training crop side (a multiple of scale)")
    batch_size: int = option(16, "crops per step")
    extra_manifests: str = option("", "comma-separated further manifests whose train and val splits join the main one")
    degradations: Path | None = option(None, "YAML of the LR degradation pipeline (training/degradations.py); none: clean bicubic LR")
    teacher_set: Path | None = option(None, "stored (HR, LR, teacher) crops from training.distill to step on instead of fresh crops; the content and texture losses then target the teacher")
    # optimisation and budget
    lr: float = option(2e-4, "generator learning rate (Adam), cosine-annealed over the budget")
    min_lr: float = option(1e-6, "learning rate at the end of the schedule")
    steps: int = option(100_000, "step budget")
    epoch_steps: int = option(500, "steps between validation, samples and checkpoints")
    val_images: int = option(40, "val-split images per manifest used for validation (0: all)")
    val_degradations: str = option("clean", "comma-separated evaluation degradations validated on (training/protocol.py); the mean PSNR picks the export")
    device: str = option("auto", "auto (CUDA when present, else CPU), cpu or cuda")
    precision: str = option("auto", "auto (time float32 and bfloat16/float16 autocast, keep the faster), float32, bfloat16 or float16")
    # losses (weights; 0 disables a term)
    pixel_loss: str = option("l1", "pixel loss: l1, mse or charbonnier")
    pixel_weight: float = option(1.0, "weight of the pixel loss")
    pixel_sharpen: float = option(0.0, "unsharp-mask amount of the pixel loss's target: the HR with its local contrast raised (Real-ESRGAN's crisper GAN targets); 0: the HR as is")
    pixel_sharpen_sigma: float = option(8.0, "HR px: the blur the unsharp mask subtracts (its reach)")
    pixel_blur: float = option(0.0, "Gaussian sigma (HR px) at which the pixel loss compares output and target: > 0 leaves the finest detail to the adversarial term (and --detail-teacher); 0: every frequency")
    detail_teacher: Path | None = option(None, "SR weights whose answer (on the LR --detail-teacher-input names) is the target of the output's finest detail (what --pixel-blur removes): e.g. the pretrained start, which draws crisp edges")
    detail_weight: float = option(0.0, "weight of the L1 loss between the output's and --detail-teacher's finest detail")
    detail_edges: float = option(0.0, "with --detail-teacher: its detail only where that detail's local strength (0-1 scale) exceeds this, fully from twice it; the HR's detail elsewhere (0: the teacher's everywhere)")
    detail_teacher_input: str = option("clean", "what --detail-teacher answers: clean (each crop's clean LR: its edges without the input's damage), degraded (the generator's own LR: a mapping the generator can learn by regression), restored (the generator's LR restored by the frozen --init-weights and shrunk back: learnable, and without the input's blocks) or deblocked (the generator's LR with the block grid restore=auto finds smoothed, as served: learnable, without the grids restore=auto finds, the texture kept)")
    content_weight: float = option(0.0, "weight of the loss-network feature (content) loss")
    texture_weight: float = option(0.0, "weight of the Gram (texture) loss on loss-network features")
    adversarial_weight: float = option(0.0, "weight of the generator's adversarial loss (gan mode)")
    teacher_weight: float = option(0.0, "weight of an L1 loss towards the teacher's pixels (with teacher_set)")
    d_lr: float = option(1e-4, "discriminator learning rate (gan mode)")
    d_channels: int = option(32, "discriminator base channels (gan mode)")
    d_arch: str = option("strided", "discriminator (gan mode): 'strided' (SRGAN's, one logit per image) or 'unet' (Real-ESRGAN's U-Net with spectral norm, one logit per pixel)")

    def __post_init__(self) -> None:
        if self.mode not in ("psnr", "gan"):
            raise ConfigError(f"--mode must be psnr or gan, got {self.mode!r}")
        if self.arch not in GENERATORS:
            raise ConfigError(f"--arch must be one of {', '.join(GENERATORS)}, got {self.arch!r}")
        if self.d_arch not in DISCRIMINATORS:
            raise ConfigError(f"--d-arch must be one of {', '.join(DISCRIMINATORS)}, got {self.d_arch!r}")
        if self.pixel_loss not in losses.PIXEL_LOSSES:
            raise ConfigError(f"--pixel-loss must be one of {sorted(losses.PIXEL_LOSSES)}")
        if self.teacher_weight > 0 and self.teacher_set is None:
            raise ConfigError("--teacher-weight needs --teacher-set (python -m training.distill writes one)")
        if min(self.pixel_sharpen, self.pixel_blur) < 0 or self.pixel_sharpen_sigma <= 0:
            raise ConfigError("--pixel-sharpen and --pixel-blur must be >= 0, --pixel-sharpen-sigma > 0")
        if (self.detail_teacher is None) != (self.detail_weight == 0) or (self.detail_teacher is not None and self.pixel_blur == 0):
            raise ConfigError("--detail-teacher and --detail-weight go together, with --pixel-blur > 0 (the detail is what that blur removes)")
        if self.detail_edges < 0 or (self.detail_edges > 0 and self.detail_teacher is None):
            raise ConfigError("--detail-edges must be >= 0, and > 0 only with --detail-teacher")
        if self.detail_teacher_input == "restored" and self.init_weights is None:
            raise ConfigError("--detail-teacher-input restored restores with --init-weights: give one")
        if self.hr_crop % self.scale:
            raise ConfigError(f"--hr-crop {self.hr_crop} must be a multiple of --scale {self.scale}")
        try:
            check_choice("--device", self.device, DEVICES)
            check_choice("--precision", self.precision, PRECISIONS)
            check_choice("--detail-teacher-input", self.detail_teacher_input, DETAIL_TEACHER_INPUTS)
            check_degradations(self.val_degradation_names)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None

    @property
    def manifests(self) -> list[Path]:
        return [self.manifest, *(Path(p.strip()) for p in self.extra_manifests.split(",") if p.strip())]

    @property
    def val_degradation_names(self) -> list[str]:
        return [n.strip() for n in self.val_degradations.split(",") if n.strip()]

    @property
    def arch_kwargs(self) -> dict:
        if self.arch == "span":
            return {"scale": self.scale, "channels": self.channels}
        if self.arch == "compact":
            return {"scale": self.scale, "num_feat": self.channels, "num_conv": self.num_blocks}
        return {"scale": self.scale, "channels": self.channels, "num_blocks": self.num_blocks}

    @property
    def generator_name(self) -> str:
        blocks = SPAN.NUM_BLOCKS if self.arch == "span" else self.num_blocks
        return f"{GENERATORS[self.arch].__name__} {self.channels}ch x {blocks} blocks"

    @property
    def needs_loss_network(self) -> bool:
        return self.content_weight > 0 or self.texture_weight > 0


class SRTrainer(Trainer):
    def __init__(self, cfg: SRTrainConfig):
        super().__init__(cfg)
        self.degrade = DegradationConfig.from_yaml(cfg.degradations) if cfg.degradations else None
        if self.degrade is not None and self.degrade.scale != cfg.scale:
            raise ConfigError(f"{cfg.degradations}: scale {self.degrade.scale}, but the run is x{cfg.scale}")
        self.device = resolve_device(cfg.device)
        self.generator = self._build_generator().to(self.device, memory_format=torch.channels_last)
        self.g_opt = torch.optim.Adam(self.generator.parameters(), lr=cfg.lr, betas=(0.9, 0.99))
        self.discriminator = self.d_opt = self.loss_net = self.detail_teacher = self.restorer = None
        if cfg.detail_teacher is not None:
            self.detail_teacher = load_model(cfg.detail_teacher).to(self.device).eval().requires_grad_(False)
            if cfg.detail_teacher_input == "restored":  # the start, frozen (copied before any resume)
                self.restorer = copy.deepcopy(self.generator).eval().requires_grad_(False)
            print(f"finest detail taught by {cfg.detail_teacher} on the {cfg.detail_teacher_input} LR")
        if cfg.mode == "gan":
            self.discriminator = DISCRIMINATORS[cfg.d_arch](cfg.d_channels).to(self.device, memory_format=torch.channels_last)
            self.d_opt = torch.optim.Adam(self.discriminator.parameters(), lr=cfg.d_lr, betas=(0.9, 0.99))
        if cfg.needs_loss_network:
            from training.loss_nets import build_loss_network

            self.loss_net, description = build_loss_network(cfg.loss_network, cfg.vgg19_weights)
            self.loss_net = self.loss_net.to(self.device)
            print(f"content/texture loss network: {description}")
        self.precision = "float32"  # until choose_precision() has measured
        self.best_psnr = -math.inf
        self.resume_if_any()

    def reseed(self, seed: int) -> None:
        super().reseed(seed)
        self.rng = np.random.default_rng(seed)  # the degradations' draws

    def _build_generator(self) -> SPAN | Compact | SRResNet:
        kind = GENERATORS[self.cfg.arch]
        if self.cfg.init_weights:
            model = load_model(self.cfg.init_weights)
            if not isinstance(model, kind):
                raise ConfigError(f"{self.cfg.init_weights} is {type(model).__name__} weights, the run trains --arch {self.cfg.arch}")
            if {"scale": model.scale} != {"scale": self.cfg.scale}:
                raise ConfigError(f"{self.cfg.init_weights} is x{model.scale}, config asks x{self.cfg.scale}")
            print(f"generator initialised from {self.cfg.init_weights}")
            return model.train()
        return kind(**self.cfg.arch_kwargs)

    # --- state ----------------------------------------------------------------------------
    def load_checkpoint_state(self, state: dict) -> None:
        self.generator.load_state_dict(state["generator"])
        self.g_opt.load_state_dict(state["g_opt"])
        if self.discriminator is not None and "discriminator" in state:
            self.discriminator.load_state_dict(state["discriminator"])
            self.d_opt.load_state_dict(state["d_opt"])
        self.best_psnr = state["best_psnr"]

    def checkpoint_state(self) -> dict:
        state = {"generator": self.generator.state_dict(), "g_opt": self.g_opt.state_dict(), "best_psnr": self.best_psnr}
        if self.discriminator is not None:
            state["discriminator"] = self.discriminator.state_dict()
            state["d_opt"] = self.d_opt.state_dict()
        return state

    # --- training -------------------------------------------------------------------------
    def clean_lr(self, hr: torch.Tensor) -> torch.Tensor:
        """The protocol's LR of ``hr``: downscaled, 8-bit values, nothing else."""
        return quantize(downscale(hr, self.cfg.scale))

    def make_lr(self, hr: torch.Tensor) -> torch.Tensor:
        return self.clean_lr(hr) if self.degrade is None else degrade_batch(hr, self.degrade, self.rng)

    def step_inputs(self, batch: torch.Tensor | tuple) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """(HR, LR, teacher or None) on the device: a stored teacher set's batch, or HR crops
        degraded here."""
        if isinstance(batch, tuple):
            hr, lr, teacher = batch
        else:
            hr, lr, teacher = batch, self.make_lr(batch), None
        lr = lr.to(self.device).contiguous(memory_format=torch.channels_last)
        return hr.to(self.device), lr, None if teacher is None else teacher.to(self.device)

    def choose_precision(self, sampler: CropSampler | TeacherSampler) -> None:
        """Time a few generator forward+backward passes per precision (``--precision auto``)."""
        hr, lr, _ = self.step_inputs(sampler.batch(self.cfg.batch_size))

        def step(precision: str) -> torch.Tensor:
            with autocast(self.device, precision):
                loss = (self.generator(lr) - hr).abs().mean()
            loss.backward()
            self.generator.zero_grad(set_to_none=True)
            return loss.detach()

        choice = choose_precision(step, self.device, self.cfg.precision, min_psnr_db=None, repeats=2)
        self.precision = choice.precision
        print(f"training {choice.summary()}", flush=True)

    def pixel_terms(self, sr: torch.Tensor, hr: torch.Tensor, lr: torch.Tensor) -> dict[str, torch.Tensor]:
        """The pixel term: towards the HR, or its sharpened version, at every frequency or only at
        those a Gaussian of ``pixel_blur`` keeps; and with a detail teacher, the finest detail
        (what that Gaussian removes) towards the teacher's answer on the LR that
        ``detail_teacher_input`` names (only along its edges with ``detail_edges``). The output is blurred once for both."""
        cfg = self.cfg
        loss = losses.PIXEL_LOSSES[cfg.pixel_loss]
        target = losses.unsharp_mask(hr, cfg.pixel_sharpen, cfg.pixel_sharpen_sigma) if cfg.pixel_sharpen > 0 else hr
        if cfg.pixel_blur == 0:
            return {"pixel": cfg.pixel_weight * loss(sr, target)}
        sr_low, target_low = losses.gaussian_blur(sr, cfg.pixel_blur), losses.gaussian_blur(target, cfg.pixel_blur)
        terms = {"pixel": cfg.pixel_weight * loss(sr_low, target_low)}
        if self.detail_teacher is not None:
            teacher = self.detail_target(self.teacher_lr(hr, lr))
            detail = teacher - losses.gaussian_blur(teacher, cfg.pixel_blur)
            if cfg.detail_edges > 0:  # the teacher's edges, the HR's textures (which the teacher wipes)
                detail = losses.edge_detail(detail, target - target_low, cfg.detail_edges)
            terms["detail"] = cfg.detail_weight * (sr - sr_low - detail).abs().mean()
        return terms

    @torch.no_grad()
    def teacher_lr(self, hr: torch.Tensor, lr: torch.Tensor) -> torch.Tensor:
        """The LR the detail teacher answers (``detail_teacher_input``)."""
        if self.cfg.detail_teacher_input == "clean":
            return self.clean_lr(hr)
        if self.cfg.detail_teacher_input == "restored":
            with autocast(self.device, self.precision):
                restored = self.restorer(lr).float().clamp(0, 1)
            return self.clean_lr(restored)
        if self.cfg.detail_teacher_input == "deblocked":
            return deblocked(lr)
        return lr

    @torch.no_grad()
    def detail_target(self, lr: torch.Tensor) -> torch.Tensor:
        """The detail teacher's answer on ``lr`` (:meth:`teacher_lr`)."""
        with autocast(self.device, self.precision):
            return self.detail_teacher(lr.contiguous(memory_format=torch.channels_last)).float()

    def train_step(self, batch: torch.Tensor | tuple) -> dict:
        cfg = self.cfg
        hr, lr_images, teacher = self.step_inputs(batch)
        with autocast(self.device, self.precision):
            sr = self.generator(lr_images)
        sr = sr.float()
        terms = self.pixel_terms(sr, hr, lr_images)
        if teacher is not None and cfg.teacher_weight > 0:
            terms["teacher"] = cfg.teacher_weight * (sr - teacher).abs().mean()
        if self.loss_net is not None:
            # the features to match: the teacher's where there is one (its textures are what it teaches), else the HR's
            target = hr if teacher is None else teacher
            with autocast(self.device, self.precision):
                sr_feats, target_feats = self.loss_net(sr), [f.detach() for f in self.loss_net(target)]
            sr_feats, target_feats = [f.float() for f in sr_feats], [f.float() for f in target_feats]
            if cfg.content_weight > 0:
                terms["content"] = cfg.content_weight * losses.content_loss(sr_feats, target_feats)
            if cfg.texture_weight > 0:
                terms["texture"] = cfg.texture_weight * losses.texture_loss(sr_feats, target_feats)
        if self.discriminator is not None and cfg.adversarial_weight > 0:
            with autocast(self.device, self.precision):
                real_logits, fake_logits = self.discriminator(hr).detach().float(), self.discriminator(sr).float()
            _, g_adv = losses.relativistic_losses(real_logits, fake_logits)
            terms["adversarial"] = cfg.adversarial_weight * g_adv
        g_loss = sum(terms.values())
        self.g_opt.zero_grad(set_to_none=True)
        g_loss.backward()
        self.g_opt.step()

        if self.discriminator is not None:
            with autocast(self.device, self.precision):
                real_logits, fake_logits = self.discriminator(hr).float(), self.discriminator(sr.detach()).float()
            d_loss, _ = losses.relativistic_losses(real_logits, fake_logits)
            self.d_opt.zero_grad(set_to_none=True)
            d_loss.backward()
            self.d_opt.step()
            terms["discriminator"] = d_loss
        return {"loss": g_loss.item(), **{k: v.item() for k, v in terms.items()}}

    def run(self) -> None:
        cfg = self.cfg
        cfg.out_dir.mkdir(parents=True, exist_ok=True)
        write_yaml(cfg, cfg.out_dir / "config.yaml")
        for manifest in cfg.manifests:
            if not manifest.exists():
                raise ConfigError(f"{manifest} not found: build it with make dataset (python -m training.dataset)")
        if cfg.teacher_set is not None:
            sampler = TeacherSampler(cfg.teacher_set, cfg.seed + self.step)
            print(f"{len(sampler)} stored crops with the teacher's answers from {cfg.teacher_set}")
        else:
            train_paths = [p for m in cfg.manifests for p in manifest_paths(m, "train")]
            sampler = CropSampler(train_paths, cfg.hr_crop, cfg.seed + self.step)
            print(f"{len(sampler.images)} training images from {', '.join(map(str, cfg.manifests))}; LR: {cfg.degradations or 'clean bicubic'}")
        val_paths = [p for m in cfg.manifests for p in manifest_paths(m, "val")[: cfg.val_images or None]]
        # The evaluation protocol's pairs, made once: validation PSNR is make evaluate's PSNR.
        self.val_pairs = {d: [hr_lr_pair(p, cfg.scale, d) for p in val_paths] for d in cfg.val_degradation_names}
        self.choose_precision(sampler)
        run_budgeted(self, self.g_opt, sampler, f"{cfg.mode} x{cfg.scale}")
        print(f"done: {self.step} steps, {self.elapsed / 60:.1f} min; best val PSNR {self.best_psnr:.2f} dB -> {cfg.export}")

    @torch.no_grad()
    def validate(self) -> tuple[dict[str, dict[str, float]], list[list[torch.Tensor]]]:
        """Per evaluation degradation: mean PSNR, SSIM and bicubic PSNR on the val images (the
        protocol of make evaluate); and sample rows of the first degradation."""
        self.generator.eval()
        scale = self.cfg.scale
        results, samples = {}, []
        for degradation, pairs in self.val_pairs.items():
            psnrs, ssims, bicubic_psnrs = [], [], []
            for hr, lr, bicubic in pairs:
                with autocast(self.device, self.precision):
                    sr = self.generator(lr.to(self.device).contiguous(memory_format=torch.channels_last))
                sr = sr.float().cpu()
                psnrs.append(float(psnr_y(sr, hr, scale)))
                ssims.append(float(ssim_y(sr, hr, scale)))
                bicubic_psnrs.append(float(psnr_y(bicubic, hr, scale)))
                if len(samples) < 4:
                    samples.append([torch.nn.functional.interpolate(lr, scale_factor=scale, mode="nearest")[0], bicubic[0], sr[0], hr[0]])
            mean = lambda xs: sum(xs) / len(xs)  # noqa: E731
            results[degradation] = {"psnr": mean(psnrs), "ssim": mean(ssims), "bicubic_psnr": mean(bicubic_psnrs)}
        self.generator.train()
        return results, samples

    def end_epoch(self) -> None:
        cfg = self.cfg
        results, samples = self.validate()
        psnr = sum(r["psnr"] for r in results.values()) / len(results)
        first = next(iter(results.values()))
        self.history[-1].update(val_psnr=psnr, val_ssim=first["ssim"], val_bicubic_psnr=sum(r["bicubic_psnr"] for r in results.values()) / len(results))
        self.history[-1].update({f"val_gain_{d}": r["psnr"] - r["bicubic_psnr"] for d, r in results.items()})
        gains = ", ".join(f"{d} {r['psnr']:.2f} ({r['psnr'] - r['bicubic_psnr']:+.2f})" for d, r in results.items())
        tqdm.write(f"step {self.step}: val PSNR (gain over bicubic) {gains}; mean {psnr:.2f} dB", nolock=False)
        save_image_grid(samples, ["LR (nearest)", "bicubic", "SR", "HR"], cfg.out_dir / "samples.png")
        save_curves(self.history, cfg.out_dir / "curves.png", f"{cfg.mode} x{cfg.scale}, {cfg.generator_name}")
        # A GAN trades PSNR for texture, so its export is the latest state, not the best PSNR.
        if cfg.mode == "gan" or psnr > self.best_psnr:
            self.best_psnr = max(self.best_psnr, psnr)
            self.export(self.generator.cpu())
            self.generator.to(self.device)
        self.save_checkpoint()


@exits_on_config_error
def main(argv: list[str] | None = None) -> int:
    return run_cli(__doc__, SRTrainConfig, SRTrainer, argv)


if __name__ == "__main__":
    sys.exit(main())
