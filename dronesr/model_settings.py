"""A model's settings: the ``handler:`` section of its model-config.yaml, as a dataclass. It
describes the model (which weights, how it tiles, its limits and defaults), so the handler, the
CLI, the benches and ``make archive`` read the same one; every limit a client can reach is here."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from dronesr import limits
from dronesr.image.codecs import JPEG_QUALITY
from dronesr.precision import EXECUTIONS, PRECISIONS, check_choice
from dronesr.tiling import DEFAULT_OVERLAP, DEFAULT_TILE, DEFAULT_TILE_BATCH


@dataclass
class ModelSettings:
    """The ``handler:`` section of a model's model-config.yaml; every limit a client can reach."""

    weights: str = "model.pt"  # file inside the archive (the --serialized-file)
    fidelity_weights: str = ""  # SR: the PSNR network blended in by ``fidelity`` (srgan: span_clean.pt); empty: no fidelity control
    default_fidelity: float = 0.0  # SR: ``fidelity`` when a request does not say (0: the GAN itself)
    restore_weights: str = ""  # SR: the restoration network blended in by ``restore`` (span_restore.pt); empty: no restore control
    tile: int = DEFAULT_TILE  # LR tile side, pixels (CPU)
    gpu_tile: int = 512  # LR tile side on a GPU: more pixels per launch, memory is not the CPU's cache
    overlap: int = DEFAULT_OVERLAP  # LR pixels shared by neighbouring tiles (from the receptive field)
    tile_batch: int = DEFAULT_TILE_BATCH  # tiles per forward pass (CPU)
    gpu_tile_batch: int = 0  # tiles per forward pass on a GPU; 0: as many as half the free GPU memory holds (at most 16)
    max_input_pixels: int = limits.MAX_INPUT_PIXELS  # decoded image, checked before decoding
    max_region_frame_pixels: int = limits.MAX_REGION_FRAME_PIXELS  # SR: a decoded frame sent with a region
    max_output_pixels: int = limits.MAX_OUTPUT_PIXELS  # result of super-resolution
    ensemble_auto_pixels: int = 0  # SR: ensemble=auto runs 8 passes (self-ensemble) on uploads of at most this many pixels (with a region too); 0: never
    max_ensemble_pixels: int = limits.MAX_ENSEMBLE_PIXELS  # SR: ensemble=on is refused (400 too_large) for larger inputs (or regions): 8 times the work
    max_side: int = limits.STYLE_MAX_SIDE  # style model: larger inputs are scaled down to this side
    threads: int = 0  # torch intra-op threads per worker (0: torch's default)
    default_format: str = "png"
    jpeg_quality: int = JPEG_QUALITY
    precision: str = "auto"  # auto (measured at worker start), float32, bfloat16, float16
    execution: str = "auto"  # auto (measured at worker start), pytorch, onnxruntime (float32, CPU)
    max_response_bytes: int = 134_217_728  # config.properties max_response_size: over it TorchServe kills the worker

    def weights_files(self) -> dict[str, str]:
        """The weights files the network is made of, by role (``weights``, and the blend partners
        ``fidelity_weights``/``restore_weights`` when set)."""
        roles = {"weights": self.weights, "fidelity_weights": self.fidelity_weights, "restore_weights": self.restore_weights}
        return {role: name for role, name in roles.items() if name}

    @classmethod
    def from_section(cls, section: dict) -> ModelSettings:
        """The settings a ``handler:`` section gives, defaults where it is silent; ValueError for
        an unknown setting or precision."""
        section = dict(section)
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(section) - names)
        if unknown:
            raise ValueError(f"model-config.yaml handler: unknown setting(s) {unknown}; known: {sorted(names)}")
        settings = cls(**section)
        if not 0.0 <= settings.default_fidelity <= 1.0:
            raise ValueError(f"model-config.yaml handler: default_fidelity must be 0..1, got {settings.default_fidelity}")
        check_choice("model-config.yaml handler: precision", settings.precision, PRECISIONS)
        check_choice("model-config.yaml handler: execution", settings.execution, EXECUTIONS)
        return settings
