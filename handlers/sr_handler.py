"""TorchServe handler for the super-resolution models (/predictions/srgan, /predictions/srresnet,
and any archive built with ``make archive NAME=... WEIGHTS=...``).

    parse (once, dronesr/sr/plan.py) -> decode -> validate -> tile -> model -> stitch -> (outscale) -> encode

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
  blocking: dronesr/sr/restoration.py). The value used is sent back in ``X-Restore``.
- ``ensemble=E``: ``auto`` (default), true or false. True runs the network on the 8 rotations and
  mirror images of the input and averages them (self-ensemble: a little more fidelity, 8 times
  the work); ``auto`` does so for uploads of at most the archive's ``ensemble_auto_pixels``
  (srresnet: 240x240; srgan: never, its texture would be averaged away), judged by the whole
  upload even with a region. True is refused for inputs (or regions) over ``max_ensemble_pixels``. The passes used are sent back in ``X-Ensemble``.
Blends are cached (dronesr/sr/blend.py); one network in memory.

The work lives in the shared ``dronesr`` package (packed into the archive by ``make archive``):
this file only says which steps run, in which order, with the archive's settings.
"""

from __future__ import annotations

import logging
from pathlib import Path

from ts.metrics.metric_type_enum import MetricTypes

from dronesr.image.codecs import WHOLE_PHOTOS, DecodedImage
from dronesr.sr.plan import UpscalePlan, upscale
from dronesr.serving.handler import ImageHandler
from dronesr.serving.requests import sr_description, sr_parameters
from dronesr.sr.resolver import SuperResolver

logger = logging.getLogger(__name__)


class SuperResolutionHandler(ImageHandler):
    def load(self, model_dir: Path) -> None:
        self.sr = SuperResolver.open_archive(model_dir, self.settings, self.device, self.model_name)
        self.parameters = sr_parameters(self.sr.has_fidelity, self.sr.has_restore)
        self.report_precision(self.sr.choice)
        u = self.sr.upscaler
        logger.info("%s tiles: %d px, overlap %d, %d per forward on %s", type(self).__name__, u.tile, u.overlap, u.tile_batch, self.device)

    def plan(self, params: dict[str, str]) -> UpscalePlan:
        return UpscalePlan.from_params(params, self.sr.info.scale)

    def decode_budget(self, plan: UpscalePlan, budget: int) -> int:
        # a region's result is bounded, so its frame may be larger than a frame enlarged whole
        return max(budget, self.settings.max_region_frame_pixels) if plan.region else budget

    def validate(self, image: DecodedImage, plan: UpscalePlan) -> None:
        plan.check_output(image.width, image.height, self.settings.max_output_pixels, "max_output_pixels", WHOLE_PHOTOS)
        plan.check_ensemble(image.width, image.height, self.settings.max_ensemble_pixels, "max_ensemble_pixels")

    def output_size(self, image: DecodedImage, plan: UpscalePlan) -> tuple[int, int]:
        return plan.result_size(image.width, image.height)

    def process(self, image: DecodedImage, plan: UpscalePlan, idx: int) -> DecodedImage:
        upscaled = upscale(self.sr, image, plan)
        if upscaled.choice.restore is not None:
            self.context.set_response_header(idx, "X-Restore", upscaled.choice.restore_header)
        self.context.set_response_header(idx, "X-Ensemble", upscaled.choice.ensemble_header)
        tiles = self.sr.tile_count(image.width, image.height, plan.region)
        self.context.set_response_header(idx, "X-Tiles", str(tiles))
        self.record("DronesrTiles", tiles, "count", MetricTypes.COUNTER)
        return upscaled.image

    def describe(self) -> dict:
        u = self.sr.upscaler
        return {
            **sr_description(self.sr.info, self.sr.has_fidelity, self.sr.has_restore),
            "default_fidelity": self.sr.default_fidelity if self.sr.has_fidelity else None,
            "ensemble_auto_pixels": self.sr.ensemble_auto_pixels, "max_ensemble_pixels": self.settings.max_ensemble_pixels,
            "tiling": {"tile": u.tile, "overlap": u.overlap, "tile_batch": u.tile_batch},
            **super().describe(),
        }
