"""TorchServe handler for the multi-style network (/predictions/style).

    parse (once, dronesr/sr/plan.py) -> decode -> fit to max_side -> stylize -> encode

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

Loading, the choice of execution path at worker start (``precision``/``execution``: auto times
PyTorch float32, bfloat16 and ONNX Runtime) and the painting are dronesr/style/model.py's, the
same code the ``dronesr stylize`` command runs; this file only says which steps run, in which
order, with the archive's settings.
"""

from __future__ import annotations

from pathlib import Path

from dronesr.image.codecs import DecodedImage
from dronesr.style.plan import StylePlan
from dronesr.serving.handler import ImageHandler
from dronesr.serving.requests import STYLE_PARAMETERS
from dronesr.style.model import STYLE_MIN_PSNR_DB, StyleModel, stylize

PARAMETER_SYNTAX = {
    "style": "a style name (see styles); default: the first",
    "strength": "0..1, default 1: photo + strength * (stylized - photo)",
    "blend": "NAME:W[,NAME:W...] with W in 0..1 (bare NAME: 0.5); style keeps 1 - sum(W)",
    "preserve_colour": "true/false, default false: keep the photo's colours (the style paints the luminance)",
}


class StyleTransferHandler(ImageHandler):
    parameters = STYLE_PARAMETERS

    def load(self, model_dir: Path) -> None:
        self.style = StyleModel.open_archive(model_dir, self.settings, self.device, self.model_name)
        self.model = self.style.network
        self.report_precision(self.style.choice)  # the worker log's line, describe and the metric

    # --- the steps ------------------------------------------------------------------------
    def plan(self, params: dict[str, str]) -> StylePlan:
        return StylePlan.from_params(self.model, params)

    def output_size(self, image: DecodedImage, plan: StylePlan) -> tuple[int, int]:
        return self.style.result_size(image.width, image.height)

    def process(self, image: DecodedImage, plan: StylePlan, idx: int) -> DecodedImage:
        stylized = stylize(self.style, image, plan)
        if stylized.resized_from:
            self.context.set_response_header(idx, "X-Resized-From", "{}x{}".format(*stylized.resized_from))
        return stylized.image

    def describe(self) -> dict:
        return {
            "task": "style-transfer",
            "styles": list(self.model.style_names),
            "default_style": self.model.style_names[0],
            "work_side": self.model.work_side,
            "min_psnr_db": STYLE_MIN_PSNR_DB,  # what precision: auto accepts from a path other than PyTorch float32
            "parameters": PARAMETER_SYNTAX,
            **super().describe(),
        }
