"""TorchServe handler for the super-resolution models (/predictions/srgan, /predictions/srresnet).

    decode -> validate -> tile -> model -> stitch -> encode

The work lives in the shared ``dronesr`` package (packed into the archive by ``make archive``):
this file only says which steps run, in which order, with the archive's settings.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from ts.metrics.metric_type_enum import MetricTypes

from dronesr.imaging import DecodedImage, ImageError, resize_plane
from dronesr.inference import Upscaler
from dronesr.serving import ImageHandler
from dronesr.tiling import count_tiles


class SuperResolutionHandler(ImageHandler):
    def load(self, model_dir: Path) -> None:
        s = self.settings
        tile = s.gpu_tile if self.device.type == "cuda" else s.tile
        self.upscaler = Upscaler.from_weights(model_dir / s.weights, self.device, tile=tile, overlap=s.overlap, tile_batch=s.tile_batch)
        self.report_precision(self.upscaler.select_precision(s.precision))

    def validate(self, image: DecodedImage, params: dict[str, str]) -> None:
        scale = self.upscaler.scale
        out_pixels = image.width * image.height * scale * scale
        if out_pixels > self.settings.max_output_pixels:
            raise ImageError(
                f"A {image.width}x{image.height} image gives a {image.width * scale}x{image.height * scale} result "
                f"({out_pixels} pixels), over the limit of {self.settings.max_output_pixels} (max_output_pixels)."
            )

    def output_size(self, image: DecodedImage, params: dict[str, str]) -> tuple[int, int]:
        return image.width * self.upscaler.scale, image.height * self.upscaler.scale

    def process(self, image: DecodedImage, params: dict[str, str], idx: int) -> DecodedImage:
        scale = self.upscaler.scale
        rgb = self.upscaler.upscale(image.rgb)  # tiles -> model -> stitched
        size = (image.width * scale, image.height * scale)
        alpha = resize_plane(image.alpha, size) if image.alpha is not None else None
        tiles = count_tiles(image.height, image.width, self.upscaler.tile, self.settings.overlap)
        self.context.set_response_header(idx, "X-Tiles", str(tiles))
        self.record("DronesrTiles", tiles, "count", MetricTypes.COUNTER)
        return dataclasses.replace(image, rgb=rgb, alpha=alpha)

    def describe(self) -> dict:
        return {"task": "super-resolution", "scale": self.upscaler.scale, **super().describe()}
