"""What to do with one picture, decided once: parsed from a request's text by the handlers, built
from typed options by the CLI, and run by one function for both.

    handler: params (text) --UpscalePlan.from_params--> plan --upscale()--> Upscaled
    CLI:     options (typed by argparse) --UpscalePlan.from_options--> plan --upscale()--> Upscaled

Each parameter is parsed where its text arrives, once, by its row of the parameter table
(dronesr/parameters.py); everything after works on the plan's values.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from dronesr.errors import ClientError
from dronesr.image.codecs import DecodedImage
from dronesr.sr.upscaler import ENSEMBLE_PASSES, check_outscale, outscaled_size
from dronesr.parameters import parsed
from dronesr.sr.region import Region
from dronesr.sr.resolver import BlendChoice, SuperResolver, result_image


@dataclass(frozen=True)
class UpscalePlan:
    """One enlargement: the network's ``scale``, the result's ``outscale`` (1 < outscale <= scale),
    ``fidelity`` and ``restore`` (None: the model's default, restore=auto), the ``region`` of the
    frame to enlarge (None: all of it), what comes out (``image``, or srgan's invention ``map``)
    and ``ensemble`` (8 passes averaged; None: auto, by the size of what is enlarged)."""

    scale: int
    outscale: float
    fidelity: float | None = None
    restore: float | None = None
    region: Region | None = None
    output: str = "image"
    ensemble: bool | None = None

    @classmethod
    def from_params(cls, params: Mapping[str, str], scale: int) -> UpscalePlan:
        """A request's text parameters, each parsed here once; ClientError (400) naming the bad one."""
        return dataclasses.replace(
            cls.from_options(scale, *(parsed(params, name) for name in ("outscale", "fidelity", "restore", "region", "ensemble"))),
            output=parsed(params, "output"),
        )

    @classmethod
    def from_options(cls, scale: int, outscale: float | None = None, fidelity: float | None = None, restore: float | None = None,
                     region: Region | None = None, ensemble: bool | None = None) -> UpscalePlan:
        """Typed options (the CLI's, a bench's): ``outscale`` None is the network's ``scale``;
        ClientError when it is out of range."""
        return cls(scale, check_outscale(outscale, scale) if outscale is not None else float(scale), fidelity, restore, region, ensemble=ensemble)

    def source_size(self, width: int, height: int) -> tuple[int, int]:
        """(width, height) of what the network enlarges in a ``width`` x ``height`` frame: the
        region (ClientError unless it lies inside the frame) or the whole frame."""
        if self.region is None:
            return width, height
        self.region.check_inside(width, height)
        return self.region.width, self.region.height

    def check_output(self, width: int, height: int, max_output_pixels: int, limit_name: str, way_out: str = "") -> None:
        """ClientError ``too_large`` when the network's result for a ``width`` x ``height`` frame is
        over ``max_output_pixels`` (``limit_name``: the setting or option that sets it)."""
        source_width, source_height = self.source_size(width, height)
        out_width, out_height = source_width * self.scale, source_height * self.scale
        if out_width * out_height > max_output_pixels:
            what = f"region {self.region} of a {width}x{height} image" if self.region else f"{width}x{height} image"
            raise ClientError(
                f"A {what} gives a {out_width}x{out_height} result ({out_width * out_height} pixels), "
                f"over the limit of {max_output_pixels} ({limit_name}).{way_out}",
                "too_large",
            )

    def check_ensemble(self, width: int, height: int, max_ensemble_pixels: int, limit_name: str) -> None:
        """ClientError ``too_large`` when ensemble=on asks for 8 passes over a ``width`` x
        ``height`` frame (or the region) of more than ``max_ensemble_pixels``."""
        source_width, source_height = self.source_size(width, height)
        if self.ensemble and source_width * source_height > max_ensemble_pixels:
            raise ClientError(
                f"ensemble=on runs the network 8 times: at most {max_ensemble_pixels} input pixels ({limit_name}), "
                f"got {source_width}x{source_height}; send ensemble=auto or a region.",
                "too_large",
            )

    def result_size(self, width: int, height: int) -> tuple[int, int]:
        """(width, height) of the result for a ``width`` x ``height`` frame, known before the work."""
        return outscaled_size(*self.source_size(width, height), self.outscale)

    def parameters(self, choice: BlendChoice) -> dict:
        """The parameters in effect, for the provenance record (None: not recorded)."""
        return {
            "output": self.output if self.output != "image" else None, "fidelity": choice.fidelity, "restore": choice.restore,
            "outscale": self.outscale, "region": str(self.region) if self.region else None,
            "ensemble": ENSEMBLE_PASSES if choice.ensemble else None,
        }


@dataclass(frozen=True)
class Upscaled:
    """One enlargement: ``image``, what to deliver (the decoded upload with its enlarged pixels,
    alpha and scaled metadata; for ``output=map`` the map, without alpha), the invention map when
    asked for, and the fidelity/restore values it ran with."""

    image: DecodedImage
    invention_map: np.ndarray | None
    choice: BlendChoice


def upscale(sr: SuperResolver, image: DecodedImage, plan: UpscalePlan, with_map: bool = False) -> Upscaled:
    """Run ``plan`` on a decoded upload: the blend for this upload (fidelity, restore=auto's
    choice) and ensemble=auto's, then tiles -> model -> stitched -> outscale; the invention map too with ``with_map``
    or ``output=map``. The result carries the model's provenance record completed with the plan's values."""
    size = plan.result_size(image.width, image.height)
    choice = sr.choose(image.rgb, image.quantization, plan.fidelity, plan.restore, image.palette, plan.ensemble)
    if with_map or plan.output == "map":
        rgb, mapped = sr.upscale_with_map(image.rgb, choice, size, plan.region)
    else:
        rgb, mapped = sr.upscale(image.rgb, choice, size, plan.region), None
    delivered = mapped if plan.output == "map" else rgb
    result = result_image(image, delivered, plan.region, alpha=plan.output == "image")
    record = sr.provenance.with_parameters(**plan.parameters(choice)) if sr.provenance else None
    return Upscaled(dataclasses.replace(result, provenance=record), mapped, choice)
