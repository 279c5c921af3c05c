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

from dronesr.image.codecs import DecodedImage, resize_plane
from dronesr.sr.upscaler import ENSEMBLE_PASSES, Upscaler
from dronesr.sr.blend import WeightsBlend
from dronesr.sr.deblock import auto_grid, deblock
from dronesr.sr.invention import invention_map
from dronesr.precision import PrecisionChoice
from dronesr.image.provenance import Provenance, sha256_of
from dronesr.sr.region import Region
from dronesr.sr.restoration import auto_restore, jpeg_quality
from dronesr.model_settings import ModelSettings
from dronesr.sr.weights import NetworkInfo, load_sr_model, network_info
from dronesr.tiling import count_tiles

CHECKOUT = Path(__file__).resolve().parents[2]
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
    deblock: tuple[int, int] | None = None  # (dy, dx) of the block grid smoothed before the network (dronesr/sr/deblock.py)

    @property
    def restore_header(self) -> str:
        deblocked = f"; grid at ({self.deblock[0]},{self.deblock[1]}) smoothed" if self.deblock else ""
        return f"{self.restore:g} ({self.restore_reason}{deblocked})"

    @property
    def ensemble_header(self) -> str:
        return f"{ENSEMBLE_PASSES if self.ensemble else 1} ({self.ensemble_reason})"


def restore_auto(rgb: np.ndarray, quantization: dict | None, palette: bool = False) -> tuple[float, str, tuple[int, int] | None]:
    """restore=auto for an upload (or a whole photo the command line sends a server in windows):
    the value, the reason X-Restore gives, and the block grid to smooth first (or None)."""
    decision = auto_restore(rgb, jpeg_quality(quantization), palette)
    return decision.restore, f"auto: {decision.reason}", auto_grid(decision)


@dataclass
class SuperResolver:
    """A super-resolution model opened for use: the network (tiled, on its device, in the precision
    and execution path chosen by measurement), the weights it blends, what it says of itself
    (``info``), and the base provenance record of its results. The handler, the CLI, the benches
    and ``make archive`` open models only through :meth:`open` / :meth:`open_archive`."""

    upscaler: Upscaler
    blend: WeightsBlend | None
    default_fidelity: float = 0.0
    ensemble_auto_pixels: int = 0  # ensemble=auto: on for inputs (or regions) of at most this many pixels
    fit_tile_batch: bool = False  # prepare() sizes the GPU tile batch from free memory
    weights_sha256: dict[str, str] = field(default_factory=dict)  # by role (ModelSettings.weights_files): the provenance record's
    name: str = ""  # the model's name: an endpoint's, or the weights file's
    provenance: Provenance | None = None  # set by prepare(): what makes every result, before the per-upload values
    choice: PrecisionChoice | None = None  # set by prepare(): the precision and execution path, and why

    @classmethod
    def open(cls, model: str | Path, device: torch.device | str = "cpu", tile: int | None = None,
             precision: str = "auto", execution: str = "auto") -> SuperResolver:
        """A shipped model by name (``srgan``, ``srresnet``: the weights and blends its handler
        config names) or any SR weights file (ours, or a network spandrel knows), tiled for
        ``device`` (``tile``: the LR tile side, fitted to the network; None: the model's), its
        precision and execution path chosen (``auto``: measured). ValueError when it cannot be opened."""
        if str(model) in SHIPPED_SR:
            settings, weights_dir, name = shipped_settings(str(model)), CHECKOUT / "weights", str(model)
            for file in settings.weights_files().values():
                if not (weights_dir / file).is_file():
                    raise ValueError(f"{name}: the shipped weights {weights_dir / file} are not there")
        else:
            path = Path(model)
            if not path.is_file():
                raise ValueError(f"no such model or weights file: {str(model)!r} (shipped: {', '.join(SHIPPED_SR)})")
            settings, weights_dir, name = ModelSettings(weights=path.name, overlap=-1), path.parent, path.name
        return cls.open_archive(weights_dir, settings, device, name, tile, precision, execution)

    @classmethod
    def open_archive(cls, weights_dir: Path, settings: ModelSettings, device: torch.device | str, name: str, tile: int | None = None,
                     precision: str | None = None, execution: str | None = None) -> SuperResolver:
        """The model an archive's settings describe, its weights in ``weights_dir`` (a worker's
        model_dir, or weights/); ``precision``/``execution`` default to the settings'. An
        ``overlap`` below 0 takes the network's own (a bare weights file has no settings)."""
        sr = cls.load(Path(weights_dir), settings, torch.device(device), tile)
        sr.name = name
        if settings.overlap < 0:
            sr.upscaler.overlap = sr.info.overlap
        sr.prepare(precision or settings.precision, execution or settings.execution)
        return sr

    @classmethod
    def load(cls, weights_dir: Path, settings: ModelSettings, device: torch.device, tile: int | None = None) -> SuperResolver:
        """The network in ``settings.weights`` with the fidelity/restore weights the settings name,
        tiled as the settings say for ``device`` (a GPU's tile and tile batch, or the CPU's),
        the tile fitted to the sides the network wants; not yet prepared."""
        on_gpu = device.type == "cuda"
        upscaler = Upscaler.from_weights(
            weights_dir / settings.weights, device, tile=tile or (settings.gpu_tile if on_gpu else settings.tile),
            overlap=settings.overlap, tile_batch=(settings.gpu_tile_batch or 1) if on_gpu else settings.tile_batch,
        )
        upscaler.tile = network_info(upscaler.model).fit_tile(upscaler.tile)
        blend = None
        if settings.fidelity_weights or settings.restore_weights:
            psnr, restore = (load_sr_model(weights_dir / name).state_dict() if name else None for name in (settings.fidelity_weights, settings.restore_weights))
            blend = WeightsBlend(upscaler.model, upscaler.model.state_dict(), psnr, restore)
        hashes = {role: sha256_of(weights_dir / name) for role, name in settings.weights_files().items()}
        return cls(
            upscaler, blend, settings.default_fidelity, settings.ensemble_auto_pixels,
            fit_tile_batch=on_gpu and not settings.gpu_tile_batch, weights_sha256=hashes, name=settings.weights,
        )

    @property
    def info(self) -> NetworkInfo:
        return network_info(self.upscaler.model)

    def prepare(self, precision: str = "auto", execution: str = "auto") -> PrecisionChoice:
        """Choose the precision and execution path (measured unless named), then on a GPU the
        tile batch that fits its free memory at that precision, unless the settings fixed it;
        and the base provenance record, which names them."""
        choice = self.upscaler.select_precision(precision, execution=execution)
        if self.fit_tile_batch:
            self.upscaler.fit_tile_batch()
        self.choice = choice
        u, info = self.upscaler, self.info
        self.provenance = Provenance(self.name, info.family, info.scale, self.weights_sha256).with_parameters(
            tile=u.tile, overlap=u.overlap, precision=choice.path, device=str(u.device),
        )
        return choice

    def tile_count(self, width: int, height: int, region: Region | None = None) -> int:
        """How many tiles the network runs on for a ``width`` x ``height`` frame (or its
        ``region``, with its context): 1 for a network that must see the whole frame."""
        u = self.upscaler
        if self.info.tiling == "internal":
            return 1
        if region is not None:
            window = region.with_context(u.overlap, width, height)[0]
            width, height = window.width, window.height
        return count_tiles(height, width, u.tile, u.overlap)

    @property
    def has_fidelity(self) -> bool:
        return self.blend is not None and self.blend.has_fidelity

    @property
    def has_restore(self) -> bool:
        return self.blend is not None and self.blend.has_restore

    def choose(self, rgb: np.ndarray, quantization: dict | None, fidelity: float | None, restore: float | None, palette: bool = False,
               ensemble: bool | None = None) -> BlendChoice:
        """The values for one upload: the requested ones, else the default fidelity,
        restore=auto's decision from the file (dronesr/sr/restoration.py) and ensemble=auto's from
        the upload's size (the whole frame's even for a region: a region's result stays that
        window of the whole frame's)."""
        if self.has_fidelity and fidelity is None:
            fidelity = self.default_fidelity
        reason, grid = "requested", None
        if self.has_restore and restore is None:
            restore, reason, grid = restore_auto(rgb, quantization, palette)
        width, height = rgb.shape[1], rgb.shape[0]
        ensemble_reason = "requested"
        if ensemble is None:
            ensemble = width * height <= self.ensemble_auto_pixels
            ensemble_reason = (
                f"auto: {width}x{height} input, {'at most' if ensemble else 'over'} {self.ensemble_auto_pixels} pixels"
                if self.ensemble_auto_pixels else "auto: not for this model"
            )
        return BlendChoice(fidelity if self.has_fidelity else None, restore if self.has_restore else None, reason, ensemble, ensemble_reason, grid)

    def apply(self, choice: BlendChoice) -> None:
        if self.blend is not None:
            self.blend.apply(choice.fidelity or 0.0, choice.restore or 0.0)

    def upscale(self, rgb: np.ndarray, choice: BlendChoice, size: tuple[int, int] | None = None, region: Region | None = None) -> np.ndarray:
        """``rgb`` (or its ``region``) enlarged with the values ``choose`` picked (a video's
        frames: one choice for all)."""
        self.apply(choice)
        if choice.deblock is not None:
            rgb = deblock(rgb, choice.deblock)
        return self.upscaler.upscale(rgb, size=size, region=region, ensemble=choice.ensemble)

    def upscale_with_map(self, rgb: np.ndarray, choice: BlendChoice, size: tuple[int, int] | None = None,
                         region: Region | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``upscale``'s result and its invention map (dronesr/sr/invention.py): the result
        against the faithful end (fidelity 1, same restoration) and against the input. ValueError
        for a model without a fidelity control (no faithful network to compare with)."""
        if not self.has_fidelity:
            raise ValueError("the invention map needs a model with a PSNR network to compare with (fidelity_weights)")
        result = self.upscale(rgb, choice, size, region)
        faithful = self.upscale(rgb, dataclasses.replace(choice, fidelity=1.0), size, region)
        return result, invention_map(result, faithful, region.crop(rgb) if region else rgb)


def result_image(image: DecodedImage, rgb: np.ndarray, region: Region | None = None, alpha: bool = True) -> DecodedImage:
    """The result to deliver: the decoded upload with its enlarged pixels ``rgb`` (of its ``region``): the alpha plane
    (unless ``alpha`` is false: a map has none) resized the same way, and the metadata told what
    the result's scale is measured from (the region, when there is one)."""
    size = (rgb.shape[1], rgb.shape[0])
    plane = (region.crop(image.alpha) if region else image.alpha) if alpha and image.alpha is not None else None
    metadata = image.metadata
    if region and metadata:
        metadata = dataclasses.replace(metadata, source_size=(region.width, region.height))
    return dataclasses.replace(image, rgb=rgb, alpha=resize_plane(plane, size) if plane is not None else None, metadata=metadata)
