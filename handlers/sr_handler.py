"""TorchServe handler for the super-resolution models (/predictions/srgan, /predictions/srresnet,
and any archive built with ``make archive NAME=... WEIGHTS=...``).

    decode -> validate -> tile -> model -> stitch -> (outscale) -> encode

Parameters besides ``format`` and ``strip_metadata`` (form fields, ``X-Dronesr-<Name>`` headers
beside a raw body, or KServe instance keys):

- ``outscale=S``: 1 < S <= the network's scale (default: the scale). The network's result is
  resized (antialiased bicubic) to round(S * side); limits apply to the network's own size.
- ``fidelity=F`` (archives with ``fidelity_weights``: srgan): 0..1, default 0. Network
  interpolation, parameter by parameter, between this archive's GAN weights (0) and the PSNR
  network's (1: srresnet), rounded to 0.05; blends are cached.

The work lives in the shared ``dronesr`` package (packed into the archive by ``make archive``):
this file only says which steps run, in which order, with the archive's settings.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from ts.metrics.metric_type_enum import MetricTypes

from dronesr.imaging import DecodedImage, ImageError, resize_plane
from dronesr.inference import Upscaler, outscaled_size, parse_outscale
from dronesr.interpolation import FidelityBlend, parse_fidelity
from dronesr.serving.handler import ImageHandler
from dronesr.serving.requests import sr_description, sr_parameters
from dronesr.sr_weights import load_sr_model, network_info
from dronesr.tiling import count_tiles


class SuperResolutionHandler(ImageHandler):
    def load(self, model_dir: Path) -> None:
        s = self.settings
        tile = s.gpu_tile if self.device.type == "cuda" else s.tile
        self.upscaler = Upscaler.from_weights(model_dir / s.weights, self.device, tile=tile, overlap=s.overlap, tile_batch=s.tile_batch)
        self.info = network_info(self.upscaler.model)
        self.blend = None
        if s.fidelity_weights:
            psnr = load_sr_model(model_dir / s.fidelity_weights)
            self.blend = FidelityBlend(self.upscaler.model, self.upscaler.model.state_dict(), psnr.state_dict())
        self.parameters = sr_parameters(self.blend is not None)
        self.report_precision(self.upscaler.select_precision(s.precision))

    def validate(self, image: DecodedImage, params: dict[str, str]) -> None:
        scale = self.upscaler.scale
        out_pixels = image.width * image.height * scale * scale
        if out_pixels > self.settings.max_output_pixels:
            raise ImageError(
                f"A {image.width}x{image.height} image gives a {image.width * scale}x{image.height * scale} result "
                f"({out_pixels} pixels), over the limit of {self.settings.max_output_pixels} (max_output_pixels)."
            )
        parse_outscale(params.get("outscale"), scale)
        parse_fidelity(params.get("fidelity"))

    def output_size(self, image: DecodedImage, params: dict[str, str]) -> tuple[int, int]:
        return outscaled_size(image.width, image.height, parse_outscale(params.get("outscale"), self.upscaler.scale))

    def process(self, image: DecodedImage, params: dict[str, str], idx: int) -> DecodedImage:
        if self.blend is not None:
            self.blend.apply(parse_fidelity(params.get("fidelity")) or 0.0)
        size = self.output_size(image, params)
        rgb = self.upscaler.upscale(image.rgb, size=size)  # tiles -> model -> stitched -> outscale
        alpha = resize_plane(image.alpha, size) if image.alpha is not None else None
        tiles = count_tiles(image.height, image.width, self.upscaler.tile, self.settings.overlap)
        self.context.set_response_header(idx, "X-Tiles", str(tiles))
        self.record("DronesrTiles", tiles, "count", MetricTypes.COUNTER)
        return dataclasses.replace(image, rgb=rgb, alpha=alpha)

    def describe(self) -> dict:
        return {
            **sr_description(self.info, self.blend is not None),
            **super().describe(),
        }
