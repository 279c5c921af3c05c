"""TorchServe handler for the multi-style network (/predictions/style).

    parse (once, dronesr/plan.py) -> decode -> fit to max_side -> stylize -> encode

Parameters (multipart form fields, ``X-Dronesr-<Name>`` headers beside a raw body, or KServe
instance keys; they arrive as text):

- ``style=NAME``: one of the network's styles (``describe`` lists them); default: the first.
- ``strength=S``: 0..1, default 1. How much of the style: ``photo + S * (stylized - photo)``
  (pixel space; 0 returns the photo unchanged, up to the fit to ``max_side``).
- ``blend=NAME:W[,NAME:W...]``: mix further styles in by their weights W in 0..1 (a bare
  ``NAME`` means 0.5); ``style`` keeps ``1 - sum(W)``, and the sum must not exceed 1. The mix is
  in the network's parameter space (conditional instance norm), so ``style=udnie&blend=mosaic:0.3``
  is one coherent style, not a superposition of two pictures.
- ``preserve_colour=true``: keep the photo's colours (luminance-only transfer, Gatys et al. 2016):
  the style paints the luminance, the photo keeps its Cb/Cr.

An image whose long side exceeds ``max_side`` (model-config.yaml) is scaled down (Lanczos) before
stylizing and the reply carries ``X-Resized-From: WxH`` (the uploaded size); its alpha plane, if
any, is kept and scaled with it. The network itself runs at the model's ``work_side`` (512 px)
and is brought to the output size by a guided upsample (dronesr/archs/style_net.py).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from dronesr.archs import StyleNet
from dronesr.checkpoint import load_model
from dronesr.imaging import DecodedImage, fit_image, fit_within
from dronesr.inference import prepare_for_inference, select_style_precision, stylize_rgb
from dronesr.plan import StylePlan
from dronesr.provenance import Provenance, sha256_of
from dronesr.serving.handler import ImageHandler
from dronesr.serving.requests import STYLE_PARAMETERS

PARAMETER_SYNTAX = {
    "style": "a style name (see styles); default: the first",
    "strength": "0..1, default 1: photo + strength * (stylized - photo)",
    "blend": "NAME:W[,NAME:W...] with W in 0..1 (bare NAME: 0.5); style keeps 1 - sum(W)",
    "preserve_colour": "true/false, default false: keep the photo's colours (the style paints the luminance)",
}


class StyleTransferHandler(ImageHandler):
    parameters = STYLE_PARAMETERS

    def load(self, model_dir: Path) -> None:
        model = load_model(model_dir / self.settings.weights)
        if not isinstance(model, StyleNet):
            raise TypeError(f"{self.settings.weights}: not StyleNet weights but {type(model).__name__}")
        self.model = prepare_for_inference(model, self.device)
        choice = select_style_precision(self.model, self.device, self.settings.precision)
        self.precision = choice.precision
        self.report_precision(choice)
        self.provenance = Provenance(self.model_name, type(model).__name__, 1, {"weights": sha256_of(model_dir / self.settings.weights)})

    # --- the steps ------------------------------------------------------------------------
    def plan(self, params: dict[str, str]) -> StylePlan:
        return StylePlan.from_params(self.model, params)

    def output_size(self, image: DecodedImage, plan: StylePlan) -> tuple[int, int]:
        return fit_within(image.width, image.height, self.settings.max_side)

    def process(self, image: DecodedImage, plan: StylePlan, idx: int) -> DecodedImage:
        fitted = fit_image(image, self.settings.max_side)
        if fitted is not image:
            self.context.set_response_header(idx, "X-Resized-From", f"{image.width}x{image.height}")
        provenance = self.provenance.with_parameters(
            **plan.parameters(self.model), work_side=self.model.work_side, precision=self.precision, device=str(self.device),
        )
        rgb = stylize_rgb(self.model, fitted.rgb, plan.weights, plan.strength, self.precision, plan.preserve_colour)
        return dataclasses.replace(fitted, rgb=rgb, provenance=provenance)

    def describe(self) -> dict:
        return {
            "task": "style-transfer",
            "styles": list(self.model.style_names),
            "default_style": self.model.style_names[0],
            "work_side": self.model.work_side,
            "parameters": PARAMETER_SYNTAX,
            **super().describe(),
        }
