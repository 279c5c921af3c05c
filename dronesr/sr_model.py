"""A served SR model as the handler, the CLI and the evaluation run it: one network, the weights
its archive blends (``fidelity``, ``restore``), and the per-upload choice of those two values.

The shipped models are described once, by their handler configs (handlers/srgan-config.yaml,
handlers/srresnet-config.yaml): which weights files, which controls, which defaults. The CLI and
the evaluation read the same files from the checkout that ``make archive`` packs.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import yaml

from dronesr.imaging import DecodedImage, resize_plane
from dronesr.inference import ENSEMBLE_PASSES, Upscaler
from dronesr.interpolation import WeightsBlend
from dronesr.invention import invention_map
from dronesr.precision import PrecisionChoice
from dronesr.provenance import sha256_of
from dronesr.region import Region
from dronesr.restoration import auto_restore, jpeg_quality
from dronesr.model_settings import ModelSettings
from dronesr.sr_weights import load_sr_model

CHECKOUT = Path(__file__).resolve().parents[1]
SHIPPED_SR = ("srgan", "srresnet")


def shipped_settings(name: str) -> ModelSettings:
    """The ``handler:`` section of a shipped SR model's config in this checkout."""
    config = yaml.safe_load((CHECKOUT / "handlers" / f"{name}-config.yaml").read_text())
    return ModelSettings.from_section(config.get("handler", {}))


@dataclass(frozen=True)
class BlendChoice:
    """The values one upload runs with, and why: fidelity, restore (sent back as X-Restore) and
    whether it runs through the self-ensemble (X-Ensemble)."""

    fidelity: float | None  # None: the model has no fidelity control
    restore: float | None  # None: the model has no restore control
    restore_reason: str = ""
    ensemble: bool = False  # 8 passes averaged (inference.self_ensemble)
    ensemble_reason: str = ""

    @property
    def restore_header(self) -> str:
        return f"{self.restore:g} ({self.restore_reason})"

    @property
    def ensemble_header(self) -> str:
        return f"{ENSEMBLE_PASSES if self.ensemble else 1} ({self.ensemble_reason})"


@dataclass
class BlendedUpscaler:
    upscaler: Upscaler
    blend: WeightsBlend | None
    default_fidelity: float = 0.0
    ensemble_auto_pixels: int = 0  # ensemble=auto: on for inputs (or regions) of at most this many pixels
    fit_tile_batch: bool = False  # prepare() sizes the GPU tile batch from free memory
    weights_sha256: dict[str, str] = field(default_factory=dict)  # by role (ModelSettings.weights_files): the provenance record's

    @classmethod
    def load(cls, weights_dir: Path, settings: ModelSettings, device: torch.device, tile: int | None = None) -> BlendedUpscaler:
        """The network in ``settings.weights`` with the fidelity/restore weights the settings name,
        tiled as the settings say for ``device`` (a GPU's tile and tile batch, or the CPU's)."""
        on_gpu = device.type == "cuda"
        upscaler = Upscaler.from_weights(
            weights_dir / settings.weights, device, tile=tile or (settings.gpu_tile if on_gpu else settings.tile),
            overlap=settings.overlap, tile_batch=(settings.gpu_tile_batch or 1) if on_gpu else settings.tile_batch,
        )
        blend = None
        if settings.fidelity_weights or settings.restore_weights:
            psnr, restore = (load_sr_model(weights_dir / name).state_dict() if name else None for name in (settings.fidelity_weights, settings.restore_weights))
            blend = WeightsBlend(upscaler.model, upscaler.model.state_dict(), psnr, restore)
        hashes = {role: sha256_of(weights_dir / name) for role, name in settings.weights_files().items()}
        return cls(
            upscaler, blend, settings.default_fidelity, settings.ensemble_auto_pixels,
            fit_tile_batch=on_gpu and not settings.gpu_tile_batch, weights_sha256=hashes,
        )

    def prepare(self, precision: str = "auto", execution: str = "auto") -> PrecisionChoice:
        """Choose the precision and execution path (measured unless named), then on a GPU the
        tile batch that fits its free memory at that precision, unless the settings fixed it."""
        choice = self.upscaler.select_precision(precision, execution=execution)
        if self.fit_tile_batch:
            self.upscaler.fit_tile_batch()
        return choice

    @classmethod
    def shipped(cls, name: str, device: torch.device | str = "cpu", tile: int | None = None) -> BlendedUpscaler:
        """A shipped model (``srgan``, ``srresnet``) from this checkout's weights/; ValueError when
        a file its config names is missing."""
        settings = shipped_settings(name)
        weights = CHECKOUT / "weights"
        for file in settings.weights_files().values():
            if not (weights / file).is_file():
                raise ValueError(f"{name}: the shipped weights {weights / file} are not there")
        return cls.load(weights, settings, torch.device(device), tile)

    @property
    def has_fidelity(self) -> bool:
        return self.blend is not None and self.blend.has_fidelity

    @property
    def has_restore(self) -> bool:
        return self.blend is not None and self.blend.has_restore

    def choose(self, rgb: np.ndarray, quantization: dict | None, fidelity: float | None, restore: float | None, palette: bool = False,
               ensemble: bool | None = None) -> BlendChoice:
        """The values for one upload: the requested ones, else the default fidelity,
        restore=auto's decision from the file (dronesr/restoration.py) and ensemble=auto's from
        the upload's size (the whole frame's even for a region: a region's result stays that
        window of the whole frame's)."""
        if self.has_fidelity and fidelity is None:
            fidelity = self.default_fidelity
        reason = "requested"
        if self.has_restore and restore is None:
            decision = auto_restore(rgb, jpeg_quality(quantization), palette)
            restore, reason = decision.restore, f"auto: {decision.reason}"
        width, height = rgb.shape[1], rgb.shape[0]
        ensemble_reason = "requested"
        if ensemble is None:
            ensemble = width * height <= self.ensemble_auto_pixels
            ensemble_reason = (
                f"auto: {width}x{height} input, {'at most' if ensemble else 'over'} {self.ensemble_auto_pixels} pixels"
                if self.ensemble_auto_pixels else "auto: not for this model"
            )
        return BlendChoice(fidelity if self.has_fidelity else None, restore if self.has_restore else None, reason, ensemble, ensemble_reason)

    def apply(self, choice: BlendChoice) -> None:
        if self.blend is not None:
            self.blend.apply(choice.fidelity or 0.0, choice.restore or 0.0)

    def upscale_as(self, rgb: np.ndarray, choice: BlendChoice, size: tuple[int, int] | None = None, region: Region | None = None) -> np.ndarray:
        """``rgb`` (or its ``region``) enlarged with the values ``choose`` picked (a video's
        frames: one choice for all)."""
        self.apply(choice)
        return self.upscaler.upscale(rgb, size=size, region=region, ensemble=choice.ensemble)

    def upscale_with_map(self, rgb: np.ndarray, choice: BlendChoice, size: tuple[int, int] | None = None,
                         region: Region | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``upscale_as``'s result and its invention map (dronesr/invention.py): the result
        against the faithful end (fidelity 1, same restoration) and against the input. ValueError
        for a model without a fidelity control (no faithful network to compare with)."""
        if not self.has_fidelity:
            raise ValueError("the invention map needs a model with a PSNR network to compare with (fidelity_weights)")
        result = self.upscale_as(rgb, choice, size, region)
        faithful = self.upscale_as(rgb, dataclasses.replace(choice, fidelity=1.0), size, region)
        return result, invention_map(result, faithful, region.crop(rgb) if region else rgb)


def enlarged(image: DecodedImage, rgb: np.ndarray, region: Region | None = None, alpha: bool = True) -> DecodedImage:
    """The decoded upload with its enlarged pixels ``rgb`` (of its ``region``): the alpha plane
    (unless ``alpha`` is false: a map has none) resized the same way, and the metadata told what
    the result's scale is measured from (the region, when there is one)."""
    size = (rgb.shape[1], rgb.shape[0])
    plane = (region.crop(image.alpha) if region else image.alpha) if alpha and image.alpha is not None else None
    metadata = image.metadata
    if region and metadata:
        metadata = dataclasses.replace(metadata, source_size=(region.width, region.height))
    return dataclasses.replace(image, rgb=rgb, alpha=resize_plane(plane, size) if plane is not None else None, metadata=metadata)
