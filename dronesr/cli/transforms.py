"""What a subcommand does to one picture: the handlers' plan and steps (dronesr/plan.py), for photos
and for video frames. A transform knows its result size before the work, so limits are checked first."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from dronesr.archs import StyleNet
from dronesr.checkpoint import load_model
from dronesr.errors import ClientError
from dronesr.imaging import DecodedImage, fit_image, fit_within
from dronesr.inference import parse_style_mix, prepare_for_inference, select_style_precision, stylize_rgb
from dronesr.plan import StylePlan, UpscalePlan, upscale
from dronesr.provenance import Provenance, sha256_of
from dronesr.sr_model import SHIPPED_SR, BlendChoice, SuperResolver

# The shipped weights, by the name the endpoints use; beside the package in a checkout.
WEIGHTS_DIR = Path(__file__).resolve().parents[2] / "weights"


def resolve_weights(name_or_path: str, shipped: tuple[str, ...]) -> Path:
    """A shipped model's name (``srgan``) or a weights file; ValueError when neither exists."""
    if name_or_path in shipped:
        path = WEIGHTS_DIR / f"{name_or_path}.pt"
        if not path.is_file():
            raise ValueError(f"the shipped weights {path} are not there; pass a weights file instead")
        return path
    path = Path(name_or_path)
    if not path.is_file():
        raise ValueError(f"no such model or weights file: {name_or_path!r} (shipped: {', '.join(shipped)})")
    return path


@dataclass
class Transform:
    """Base: ``result_size`` before the work, ``frame`` on RGB pixels, ``image`` on a decoded file;
    ``summary`` says what runs where, in which precision."""

    max_input_pixels: int
    summary: str

    def result_size(self, width: int, height: int) -> tuple[int, int]:
        raise NotImplementedError

    def check(self, width: int, height: int) -> None:
        if width * height > self.max_input_pixels:
            raise ClientError(f"{width}x{height} is over the input limit of {self.max_input_pixels} pixels (--max-input-pixels)", "too_large")

    def frame(self, rgb: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def image(self, image: DecodedImage) -> DecodedImage:
        raise NotImplementedError


@dataclass
class UpscaleTransform(Transform):
    sr: SuperResolver
    max_output_pixels: int
    plan: UpscalePlan  # the options, typed: outscale, fidelity, restore and ensemble (None: auto, per photo; per video from its first frame), region
    video_choice: BlendChoice | None = None

    @classmethod
    def open(cls, sr: SuperResolver, plan: UpscalePlan, max_input_pixels: int, max_output_pixels: int) -> UpscaleTransform:
        """``plan`` (built by the CLI from its typed options) run by the opened model ``sr``;
        ValueError when the plan asks for a control the model does not have."""
        info = sr.info
        described = f"{sr.name} ({info.family} x{info.scale})"
        if plan.fidelity is not None and not sr.has_fidelity:
            raise ValueError("--fidelity blends srgan's GAN with its PSNR network: it needs --model srgan")
        if sr.has_fidelity:
            described += f" at fidelity {sr.default_fidelity if plan.fidelity is None else plan.fidelity:g}"
        if plan.restore is not None and not sr.has_restore:
            raise ValueError(f"--restore needs a model with a restoration network ({' or '.join(SHIPPED_SR)})")
        if sr.has_restore:
            described += f", restore {'auto' if plan.restore is None else f'{plan.restore:g}'}"
        if plan.outscale != info.scale:
            described += f", output x{plan.outscale:g}"
        if plan.region is not None:
            described += f", region {plan.region}"
        if plan.ensemble is not None:
            described += f", ensemble {'on' if plan.ensemble else 'off'}"
        elif sr.ensemble_auto_pixels:
            described += f", ensemble on up to {sr.ensemble_auto_pixels} input pixels"
        return cls(max_input_pixels, f"{described} on {sr.upscaler.device}, {sr.choice.summary()}", sr, max_output_pixels, plan)

    @property
    def provenance(self) -> Provenance | None:
        return self.sr.provenance

    def result_size(self, width: int, height: int) -> tuple[int, int]:
        self.check(width, height)
        self.plan.check_output(width, height, self.max_output_pixels, "--max-output-pixels")
        return self.plan.result_size(width, height)

    def frame(self, rgb: np.ndarray) -> np.ndarray:
        """A video frame: restore=auto and ensemble=auto are decided once, on the first frame (no flicker between frames)."""
        plan = self.plan
        if self.video_choice is None:
            self.video_choice = self.sr.choose(rgb, None, plan.fidelity, plan.restore, ensemble=plan.ensemble)
        return self.sr.upscale(rgb, self.video_choice, plan.result_size(rgb.shape[1], rgb.shape[0]), plan.region)

    def image(self, image: DecodedImage) -> DecodedImage:
        """``image`` (or its region) enlarged; its limits were checked by ``result_size`` first (BatchRunner)."""
        return self.image_and_map(image, with_map=False)[0]

    def image_and_map(self, image: DecodedImage, with_map: bool = True) -> tuple[DecodedImage, np.ndarray | None]:
        """``image`` enlarged and, ``with_map``, its invention map (dronesr/invention.py)."""
        upscaled = upscale(self.sr, image, self.plan, with_map)
        return upscaled.image, upscaled.invention_map


@dataclass
class StyleTransform(Transform):
    model: StyleNet
    plan: StylePlan  # the options, typed: style weights, strength, colours
    max_side: int
    precision: str
    provenance: Provenance | None = None

    @classmethod
    def load(
        cls, model: str, style: str, blend: str, strength: float, device: torch.device, precision: str, max_input_pixels: int, max_side: int,
        preserve_colour: bool = False,
    ) -> StyleTransform:
        path = resolve_weights(model, ("style",))
        network = load_model(path)
        if not isinstance(network, StyleNet):
            raise ValueError(f"{path}: not style weights but {type(network).__name__}")
        network = prepare_for_inference(network, device)
        plan = StylePlan(parse_style_mix(network, style, blend), strength, preserve_colour)
        choice = select_style_precision(network, device, precision)
        styles = ", ".join(f"{n} {w:.2f}" for n, w in zip(network.style_names, plan.weights[0].tolist()) if w > 0)
        colours = "; the photo's colours" if preserve_colour else ""
        summary = f"{path.name} ({styles}; strength {strength:g}{colours}) on {device}, {choice.summary()}"
        provenance = Provenance(model if model == "style" else path.name, type(network).__name__, 1, {"weights": sha256_of(path)}).with_parameters(
            **plan.parameters(network), work_side=network.work_side, precision=choice.path, device=str(device),
        )
        return cls(max_input_pixels, summary, network, plan, max_side, choice.precision, provenance)

    def result_size(self, width: int, height: int) -> tuple[int, int]:
        self.check(width, height)
        return fit_within(width, height, self.max_side)

    def frame(self, rgb: np.ndarray) -> np.ndarray:
        return self.image(DecodedImage(rgb, None, "")).rgb

    def image(self, image: DecodedImage) -> DecodedImage:
        """``image`` stylized; its limits were checked by ``result_size`` first (BatchRunner, video)."""
        fitted = fit_image(image, self.max_side)
        plan = self.plan
        rgb = stylize_rgb(self.model, fitted.rgb, plan.weights, plan.strength, self.precision, plan.preserve_colour)
        return dataclasses.replace(fitted, rgb=rgb, provenance=self.provenance)
