"""TorchServe handler for the super-resolution models (/predictions/srgan, /predictions/srresnet,
and any archive built with ``make archive NAME=... WEIGHTS=...``).

    decode -> validate -> tile -> model -> stitch -> (outscale) -> encode

Parameters besides ``format``, ``strip_metadata`` and ``provenance`` (form fields, query
parameters, ``X-Dronesr-<Name>`` headers beside a raw body, or KServe instance keys):

- ``region=x,y,w,h`` (pixels of the upright input): enlarge only that window, with the frame's
  pixels around it as context, so it equals that window of the whole frame's result; limits apply
  to the region's result (the frame may be up to ``max_region_frame_pixels``).
- ``outscale=S``: 1 < S <= the network's scale (default: the scale). The network's result is
  resized (antialiased bicubic) to round(S * side); limits apply to the network's own size.
- ``fidelity=F`` (archives with ``fidelity_weights``: srgan): 0..1, default the archive's
  ``default_fidelity``. Network interpolation, parameter by parameter, between this archive's GAN
  weights (0: the GAN itself) and the PSNR network's (1: what srresnet gives), rounded to 0.05.
- ``restore=R`` (archives with ``restore_weights``): ``auto`` (default) or 0..1. Interpolation of
  the PSNR end between the clean-input network (0) and the JPEG/noise/blur restoration network
  (1); ``auto`` decides per upload from the file (a JPEG's quality, the pixels' noise and
  blocking: dronesr/restoration.py). The value used is sent back in ``X-Restore``.
Blends are cached (dronesr/interpolation.py); one network in memory.

The work lives in the shared ``dronesr`` package (packed into the archive by ``make archive``):
this file only says which steps run, in which order, with the archive's settings.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

from ts.metrics.metric_type_enum import MetricTypes

from dronesr.imaging import DecodedImage
from dronesr.errors import ClientError
from dronesr.inference import outscaled_size, parse_outscale
from dronesr.interpolation import parse_fidelity
from dronesr.provenance import Provenance
from dronesr.region import Region, parse_region
from dronesr.restoration import parse_restore
from dronesr.serving.handler import ImageHandler
from dronesr.serving.requests import parse_output, sr_description, sr_parameters
from dronesr.sr_model import BlendedUpscaler, enlarged
from dronesr.sr_weights import network_info
from dronesr.tiling import count_tiles

logger = logging.getLogger(__name__)


class SuperResolutionHandler(ImageHandler):
    def load(self, model_dir: Path) -> None:
        self.sr = BlendedUpscaler.load(model_dir, self.settings, self.device)
        self.upscaler = self.sr.upscaler
        self.info = network_info(self.upscaler.model)
        self.parameters = sr_parameters(self.sr.has_fidelity, self.sr.has_restore)
        self.report_precision(self.sr.prepare(self.settings.precision, self.settings.execution))
        self.provenance = Provenance(self.model_name, self.info.family, self.info.scale, self.sr.weights_sha256)
        logger.info("%s tiles: %d px, overlap %d, %d per forward on %s", type(self).__name__, self.upscaler.tile, self.upscaler.overlap, self.upscaler.tile_batch, self.device)

    def decode_budget(self, params: dict[str, str], budget: int) -> int:
        # a region's result is bounded, so its frame may be larger than a frame enlarged whole
        return max(budget, self.settings.max_region_frame_pixels) if params.get("region", "").strip() else budget

    def source_size(self, image: DecodedImage, params: dict[str, str]) -> tuple[Region | None, int, int]:
        """(the region or None, the width and height the network's result covers)."""
        region = parse_region(params.get("region"), image.width, image.height)
        return (region, region.width, region.height) if region else (None, image.width, image.height)

    def validate(self, image: DecodedImage, params: dict[str, str]) -> None:
        scale = self.upscaler.scale
        region, width, height = self.source_size(image, params)
        out_pixels = width * height * scale * scale
        if out_pixels > self.settings.max_output_pixels:
            what = f"region {region} of a {image.width}x{image.height} image" if region else f"{image.width}x{image.height} image"
            raise ClientError(
                f"A {what} gives a {width * scale}x{height * scale} result "
                f"({out_pixels} pixels), over the limit of {self.settings.max_output_pixels} (max_output_pixels).",
                "too_large",
            )
        parse_outscale(params.get("outscale"), scale)
        parse_fidelity(params.get("fidelity"))
        parse_restore(params.get("restore"))
        parse_output(params.get("output"))

    def output_size(self, image: DecodedImage, params: dict[str, str]) -> tuple[int, int]:
        _, width, height = self.source_size(image, params)
        return outscaled_size(width, height, parse_outscale(params.get("outscale"), self.upscaler.scale))

    def process(self, image: DecodedImage, params: dict[str, str], idx: int) -> DecodedImage:
        region, width, height = self.source_size(image, params)
        outscale = parse_outscale(params.get("outscale"), self.upscaler.scale)
        size = outscaled_size(width, height, outscale)
        # the blend for this upload (fidelity, restore=auto's choice), then tiles -> model -> stitched -> outscale
        output = parse_output(params.get("output"))
        enlarge = self.sr.invention_map if output == "map" else self.sr.upscale_image
        rgb, choice = enlarge(image, parse_fidelity(params.get("fidelity")), parse_restore(params.get("restore")), size, region)
        if choice.restore is not None:
            self.context.set_response_header(idx, "X-Restore", choice.restore_header)
        u = self.upscaler
        seen = region.with_context(u.overlap, image.width, image.height)[0] if region else None
        tiles = count_tiles(seen.height if seen else image.height, seen.width if seen else image.width, u.tile, u.overlap)
        self.context.set_response_header(idx, "X-Tiles", str(tiles))
        self.record("DronesrTiles", tiles, "count", MetricTypes.COUNTER)
        provenance = self.provenance.with_parameters(
            output=output if output != "image" else None,
            fidelity=choice.fidelity, restore=choice.restore, outscale=outscale, region=str(region) if region else None,
            tile=u.tile, overlap=u.overlap, precision=self.precision_choice.path, device=str(self.device),
        )
        return dataclasses.replace(enlarged(image, rgb, region, alpha=output == "image"), provenance=provenance)

    def describe(self) -> dict:
        u = self.upscaler
        return {
            **sr_description(self.info, self.sr.has_fidelity, self.sr.has_restore),
            "default_fidelity": self.sr.default_fidelity if self.sr.has_fidelity else None,
            "tiling": {"tile": u.tile, "overlap": u.overlap, "tile_batch": u.tile_batch},
            **super().describe(),
        }
