"""TorchServe handler for the multi-style network (/predictions/style).

    decode -> validate (parameters) -> fit to max_side -> stylise -> encode

Parameters (multipart form fields, ``X-Dronesr-<Name>`` headers beside a raw body, or KServe
instance keys; they arrive as text):

- ``style=NAME``: one of the network's styles (``describe`` lists them); default: the first.
- ``strength=S``: 0..1, default 1. How much of the style: ``photo + S * (stylised - photo)``
  (pixel space; 0 returns the photo unchanged, up to the fit to ``max_side``).
- ``blend=NAME:W[,NAME:W...]``: mix further styles in by their weights W in 0..1 (a bare
  ``NAME`` means 0.5); ``style`` keeps ``1 - sum(W)``, and the sum must not exceed 1. The mix is
  in the network's parameter space (conditional instance norm), so ``style=udnie&blend=mosaic:0.3``
  is one coherent style, not a superposition of two pictures.

An image whose long side exceeds ``max_side`` (model-config.yaml) is scaled down (Lanczos) before
stylising and the reply carries ``X-Resized-From: WxH`` (the uploaded size); its alpha plane, if
any, is kept and scaled with it. The network itself runs at the model's ``work_side`` (512 px)
and is brought to the output size by a guided upsample (dronesr/archs/style_net.py).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from dronesr.archs import StyleNet
from dronesr.checkpoint import load_model
from dronesr.imaging import DecodedImage, rgb_to_tensor, tensor_to_rgb
from dronesr.inference import parse_style_request, prepare_for_inference
from dronesr.precision import PrecisionChoice, choose_precision
from dronesr.serving import ImageHandler

PARAMETER_SYNTAX = {
    "style": "a style name (see styles); default: the first",
    "strength": "0..1, default 1: photo + strength * (stylised - photo)",
    "blend": "NAME:W[,NAME:W...] with W in 0..1 (bare NAME: 0.5); style keeps 1 - sum(W)",
}


class StyleTransferHandler(ImageHandler):
    parameters = ("style", "strength", "blend")

    def load(self, model_dir: Path) -> None:
        model = load_model(model_dir / self.settings.weights)
        if not isinstance(model, StyleNet):
            raise TypeError(f"{self.settings.weights}: not StyleNet weights but {type(model).__name__}")
        self.model = prepare_for_inference(model, self.device)
        self.report_precision(self.select_precision())

    def select_precision(self) -> PrecisionChoice:
        """Time the network at its work size in each precision (``precision: auto``)."""
        side = self.model.work_side
        photo = torch.rand(1, 3, side, side, generator=torch.Generator().manual_seed(0)).to(self.device)
        weights = self.model.style_vector({self.model.style_names[0]: 1.0}).to(self.device)

        def run(precision: str) -> torch.Tensor:
            with torch.inference_mode():
                return self.model.stylize(photo, weights, precision=precision)

        choice = choose_precision(run, self.device, self.settings.precision)
        self.precision = choice.precision
        return choice

    def style_request(self, params: dict[str, str]) -> tuple[torch.Tensor, float]:
        """The request's (style weights ``[1, S]``, strength); ImageError (400) when malformed."""
        return parse_style_request(self.model, params.get("style"), params.get("blend"), params.get("strength"))

    # --- the steps ------------------------------------------------------------------------
    def validate(self, image: DecodedImage, params: dict[str, str]) -> None:
        self.style_request(params)  # parameter errors answer 400 before any work

    def output_size(self, image: DecodedImage, params: dict[str, str]) -> tuple[int, int]:
        side = self.settings.max_side
        if max(image.width, image.height) <= side:
            return image.width, image.height
        scale = side / max(image.width, image.height)
        return max(1, round(image.width * scale)), max(1, round(image.height * scale))

    def fit(self, image: DecodedImage, idx: int) -> DecodedImage:
        """Scale down (Lanczos) to ``max_side``, alpha included; say so in ``X-Resized-From``."""
        size = self.output_size(image, {})
        if size == (image.width, image.height):
            return image
        rgb = np.asarray(Image.fromarray(image.rgb, "RGB").resize(size, Image.LANCZOS))
        alpha = None if image.alpha is None else np.asarray(Image.fromarray(image.alpha, "L").resize(size, Image.LANCZOS))
        self.context.set_response_header(idx, "X-Resized-From", f"{image.width}x{image.height}")
        return dataclasses.replace(image, rgb=rgb, alpha=alpha)

    def process(self, image: DecodedImage, params: dict[str, str], idx: int) -> DecodedImage:
        weights, strength = self.style_request(params)
        image = self.fit(image, idx)
        with torch.inference_mode():
            result = self.model.stylize(rgb_to_tensor(image.rgb).to(self.device), weights.to(self.device), strength=strength, precision=self.precision)
        return dataclasses.replace(image, rgb=tensor_to_rgb(result.cpu()))

    def describe(self) -> dict:
        return {
            "task": "style-transfer",
            "styles": list(self.model.style_names),
            "default_style": self.model.style_names[0],
            "work_side": self.model.work_side,
            "parameters": PARAMETER_SYNTAX,
            **super().describe(),
        }
