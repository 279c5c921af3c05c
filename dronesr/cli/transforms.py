"""What a subcommand does to one picture: the handlers' plan and steps (dronesr/sr/plan.py), for photos
and for video frames. A transform knows its result size before the work, so limits are checked first."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from dronesr.errors import ClientError
from dronesr.image.codecs import DecodedImage
from dronesr.style.plan import parse_style_mix
from dronesr.style.plan import StylePlan
from dronesr.sr.plan import UpscalePlan, upscale
from dronesr.image.provenance import Provenance
from dronesr.sr.resolver import SHIPPED_SR, BlendChoice, SuperResolver
from dronesr.style.model import StyleModel, stylize

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
        """``image`` enlarged and, ``with_map``, its invention map (dronesr/sr/invention.py)."""
        upscaled = upscale(self.sr, image, self.plan, with_map)
        return upscaled.image, upscaled.invention_map


@dataclass
class StyleTransform(Transform):
    style: StyleModel  # the weights, their execution path and base provenance record (dronesr/style/model.py, as the handler's)
    plan: StylePlan  # the options, typed: style weights, strength, colours

    @classmethod
    def load(
        cls, model: str, style: str, blend: str, strength: float, device: torch.device, precision: str, max_input_pixels: int, max_side: int,
        preserve_colour: bool = False,
    ) -> StyleTransform:
        """``model``: ``style`` (the shipped weights) or a StyleNet weights file; ValueError for
        anything else. Opened as the handler opens it (StyleModel.load and prepare: ``precision``
        auto measures, with ONNX Runtime among the paths)."""
        path = resolve_weights(model, ("style",))
        opened = StyleModel.load(path, device, model if model == "style" else path.name, max_side)
        network = opened.network
        plan = StylePlan(parse_style_mix(network, style, blend), strength, preserve_colour)  # a wrong style is refused before the probe
        opened.prepare(precision)
        styles = ", ".join(f"{n} {w:.2f}" for n, w in zip(network.style_names, plan.weights[0].tolist()) if w > 0)
        colours = "; the photo's colours" if preserve_colour else ""
        summary = f"{path.name} ({styles}; strength {strength:g}{colours}) on {device}, {opened.choice.summary()}"
        return cls(max_input_pixels, summary, opened, plan)

    @property
    def provenance(self) -> Provenance:
        """What makes every result of this run (a video's comment tag names it)."""
        return self.style.provenance.with_parameters(**self.plan.parameters(self.style.network))

    def result_size(self, width: int, height: int) -> tuple[int, int]:
        self.check(width, height)
        return self.style.result_size(width, height)

    def frame(self, rgb: np.ndarray) -> np.ndarray:
        return self.image(DecodedImage(rgb, None, "")).rgb

    def image(self, image: DecodedImage) -> DecodedImage:
        """``image`` stylized (the handler's stylize()); its limits were checked by ``result_size`` first (BatchRunner, video)."""
        return stylize(self.style, image, self.plan).image
