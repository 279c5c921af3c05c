"""How a served result is written back: the parameters every image endpoint shares."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dronesr.image.codecs import parse_output_format
from dronesr.model_settings import ModelSettings
from dronesr.parameters import parsed


@dataclass(frozen=True)
class Delivery:
    """How any image model's result is written: ``format``, ``strip_metadata``, ``provenance``."""

    format: str = "png"  # a key of imaging.OUTPUT_FORMATS
    strip_metadata: bool = False  # drop the camera's EXIF/ICC/XMP
    provenance: bool = True  # write the provenance record (XMP, X-Provenance)

    @classmethod
    def from_params(cls, params: Mapping[str, str], default_format: str) -> Delivery:
        return cls(
            parse_output_format(params.get("format"), default_format),
            parsed(params, "strip_metadata"), parsed(params, "provenance"),
        )


def settings_from_context(context: Any) -> ModelSettings:
    """The ``handler:`` section of the model-config.yaml TorchServe handed the worker."""
    return ModelSettings.from_section((getattr(context, "model_yaml_config", None) or {}).get("handler", {}) or {})
