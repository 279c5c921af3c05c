"""A style model as the handler and the CLI both run it: the weights, the execution path chosen
at start, and the one function that paints an upload with a plan (dronesr/sr/plan.py's StylePlan).

    handler: StyleModel.open_archive(model_dir, settings, device, name) once
             text parameters --StylePlan.from_params--> plan --stylize()--> Stylized
    CLI:     StyleModel.open(weights, device, --precision) once
             typed options --StylePlan(...)--> plan --stylize()--> Stylized

(as SR's are opened by SuperResolver.open/open_archive and run by dronesr/sr/plan.py's upscale()).

As SR's workers do (dronesr/sr/upscaler.py Upscaler.select_precision), ``open`` times the painting
of one photo-like frame, as large as served, in PyTorch float32, in bfloat16 autocast and with the
network in ONNX Runtime float32 (exported once; a graph ONNX Runtime refuses drops out), one
worker at a time on the machine (dronesr/precision.py's file lock), and keeps the fastest whose
result stays within ``STYLE_MIN_PSNR_DB`` of PyTorch float32's. Or, as configured, the one asked
for.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from dronesr import limits
from dronesr.archs import StyleNet
from dronesr.checkpoint import load_model
from dronesr.image.colour import luminance, with_chroma_of
from dronesr.image.codecs import DecodedImage, fit_image, fit_within, rgb_to_tensor, tensor_to_rgb
from dronesr.sr.upscaler import photo_like_tile, prepare_for_inference
from dronesr.model_settings import ModelSettings
from dronesr.onnx_runtime import OnnxRunner, onnx_candidate
from dronesr.style.plan import StylePlan
from dronesr.precision import EXECUTIONS, PRECISIONS, PrecisionChoice, check_choice, choose_precision
from dronesr.image.provenance import Provenance, sha256_of
from dronesr.sr.weights import WeightsError

# A painting's bar for another execution path (bfloat16 autocast, ONNX Runtime) against PyTorch
# float32, lower than SR's 50 dB (a photo's detail, where one grey level can matter): 40 dB is an
# RMS error of 2.6 grey levels out of 255, which no one sees in a painting. It is no licence for
# a different painting, though: on flat areas (a sky) the network invents its strokes out of the
# photo's faint noise, and bfloat16's rounding moves them. Measured (docs/style-transfer.md
# "Speed and execution path"): on the style sheet's three photos x six styles bfloat16's output is
# 21.7 to 49.0 dB from float32 (one photo's sky repainted with the strokes elsewhere, plain to see
# side by side), on the probe's 1024 px photo-like frame 24.5 to 39.0 dB (the first style, which
# the probe paints: 24.5); ONNX Runtime's 68.7 to 87.8 dB on the photos, over 99 dB on the frame.
# So bfloat16 is refused and ONNX Runtime may be chosen; a deployment that accepts moved strokes
# for bfloat16's speed sets ``precision: bfloat16``.
STYLE_MIN_PSNR_DB = 40.0


@dataclass
class StyleModel:
    """A StyleNet opened for use: on ``device``, run the way ``choice`` says (its ``execution`` and
    ``precision``), photos fitted to ``max_side`` first; ``provenance`` is the base record of what
    makes its results (the plan's values are added per photo). The handler, the CLI and the bench
    open style weights only through :meth:`open` / :meth:`open_archive`."""

    network: StyleNet
    device: torch.device
    name: str  # the model's name: an endpoint's, or the weights file's
    weights_sha256: dict[str, str]
    max_side: int = limits.STYLE_MAX_SIDE
    choice: PrecisionChoice | None = None  # set by prepare(): the execution path and precision, and why
    provenance: Provenance | None = None  # set by prepare(): what makes every result, before the per-photo values
    runner: OnnxRunner | None = field(default=None, repr=False)  # kept only while ONNX Runtime is the path

    @classmethod
    def open(
        cls, path: str | Path, device: torch.device | str = "cpu", precision: str = "auto", execution: str = "auto",
        name: str | None = None, max_side: int = limits.STYLE_MAX_SIDE,
    ) -> StyleModel:
        """:meth:`load`, then :meth:`prepare` (``precision``/``execution``: ``auto`` measures)."""
        model = cls.load(path, device, name, max_side)
        model.prepare(precision, execution)
        return model

    @classmethod
    def open_archive(cls, model_dir: Path, settings: ModelSettings, device: torch.device | str, name: str) -> StyleModel:
        """The model an archive's settings describe (``weights``, ``max_side``, ``precision``,
        ``execution``), its weights in ``model_dir`` (a worker's), named ``name`` (the endpoint's)."""
        return cls.open(Path(model_dir) / settings.weights, device, settings.precision, settings.execution, name, settings.max_side)

    @classmethod
    def load(cls, path: str | Path, device: torch.device | str = "cpu", name: str | None = None, max_side: int = limits.STYLE_MAX_SIDE) -> StyleModel:
        """StyleNet weights on ``device``, named ``name`` (default: the file's name); not yet
        prepared. WeightsError (a ValueError) for weights of another network."""
        path, device = Path(path), torch.device(device)
        network = load_model(path)
        if not isinstance(network, StyleNet):
            raise WeightsError(f"{path.name}: not StyleNet weights but {type(network).__name__}")
        return cls(prepare_for_inference(network, device), device, name or path.name, {"weights": sha256_of(path)}, max_side)

    def prepare(self, precision: str = "auto", execution: str = "auto") -> PrecisionChoice:
        """Choose how the network runs (:func:`choose_style_path`; ValueError for a path asked for
        that this machine lacks) and make the base provenance record, which names it."""
        check_choice("precision", precision, PRECISIONS)
        work_side = self.network.work_side
        probe_side = max(work_side, min(self.max_side, 2 * work_side))  # a photo as large as served, up to twice the work side
        self.choice, self.runner = choose_style_path(self.network, self.device, precision, execution, probe_side)
        self.provenance = Provenance(self.name, type(self.network).__name__, 1, self.weights_sha256).with_parameters(
            work_side=self.network.work_side, precision=self.choice.path, device=str(self.device),
        )
        return self.choice

    @property
    def style_names(self) -> list[str]:
        return self.network.style_names

    def result_size(self, width: int, height: int) -> tuple[int, int]:
        """(width, height) of the result for a ``width`` x ``height`` upload: fitted to ``max_side``."""
        return fit_within(width, height, self.max_side)

    @torch.inference_mode()
    def paint(self, rgb: np.ndarray, plan: StylePlan) -> np.ndarray:
        """H x W x 3 uint8 -> the same size stylized as ``plan`` says, by the chosen path.
        ``preserve_colour``: luminance-only transfer (Gatys et al. 2016): the network paints the
        photo's luminance as a grey picture, and the result's luminance is joined to the photo's
        own Cb/Cr."""
        photo = rgb_to_tensor(rgb).to(self.device)
        source = luminance(photo).expand(-1, 3, -1, -1).contiguous() if plan.preserve_colour else photo
        path = self.choice.path if self.choice else "float32"  # not prepared: PyTorch float32
        result = run_network(self.network, source, plan.weights.to(self.device), path, self.runner, strength=plan.strength)
        if plan.preserve_colour:
            result = with_chroma_of(result, photo)
        return tensor_to_rgb(result.cpu())


@dataclass(frozen=True)
class Stylized:
    """One painting: ``image`` (the decoded upload fitted to ``max_side``, with its stylized pixels,
    its alpha and metadata, and the provenance record) and ``resized_from``, the upload's
    (width, height) when it was scaled down first (None otherwise)."""

    image: DecodedImage
    resized_from: tuple[int, int] | None


def stylize(model: StyleModel, image: DecodedImage, plan: StylePlan) -> Stylized:
    """Run ``plan`` on a decoded upload: fitted to the model's ``max_side`` (Lanczos; alpha too),
    then painted. The result carries the model's provenance record completed with the plan's
    values. The one function the handler and the CLI both run."""
    fitted = fit_image(image, model.max_side)
    rgb = model.paint(fitted.rgb, plan)
    record = model.provenance.with_parameters(**plan.parameters(model.network)) if model.provenance else None
    return Stylized(dataclasses.replace(fitted, rgb=rgb, provenance=record), None if fitted is image else (image.width, image.height))


def run_network(
    network: StyleNet, image: torch.Tensor, weights: torch.Tensor, path: str, runner: OnnxRunner | None = None, strength: float = 1.0,
) -> torch.Tensor:
    """``network.stylize`` (work size, guided upsample, strength) with the network run by
    ``path``: a PyTorch precision, or ``onnxruntime`` (``runner``). Float32 NCHW in [0, 1]."""
    if path != "onnxruntime":
        return network.stylize(image, weights, strength=strength, precision=path).float()
    if runner is None:
        raise ValueError("the onnxruntime path needs its runner")

    def onnx_network(x: torch.Tensor, style_weights: torch.Tensor) -> torch.Tensor:
        height, width = x.shape[-2:]
        # the graph was traced on a work-size frame that needs no padding: pad here as forward() does
        return runner(StyleNet.pad_for_stages(x), style_weights)[..., :height, :width].to(x.device)

    return network.stylize(image, weights, strength=strength, network=onnx_network).float()


def choose_style_path(
    network: StyleNet, device: torch.device, precision: str = "auto", execution: str = "auto", side: int | None = None,
) -> tuple[PrecisionChoice, OnnxRunner | None]:
    """How ``network`` runs, and the ONNX Runtime runner when that was chosen. ``auto`` (both):
    PyTorch float32, the device's low precisions (bfloat16 autocast on a CPU) and, on a CPU, ONNX
    Runtime float32, each timed painting one photo-like ``side`` x ``side`` frame (default: the
    work side) in the first style, the whole of what a request runs (the network at the work side,
    the guided upsample: PyTorch's steps around ONNX Runtime's share the cores with its threads);
    a path whose result is under ``STYLE_MIN_PSNR_DB`` from PyTorch float32's is refused; the
    fastest kept (dronesr/precision.py choose_precision: interleaved rounds, one worker at a time).
    An explicit ``precision`` runs in PyTorch unless ``execution`` says otherwise; ``execution:
    onnxruntime`` is float32 on the CPU only."""
    check_choice("execution", execution, EXECUTIONS)
    if execution == "onnxruntime" and (device.type != "cpu" or precision not in ("auto", "float32")):
        raise ValueError(f"execution onnxruntime runs float32 on the CPU, not {precision} on {device}")
    frame = photo_like_tile(side or network.work_side).to(device)
    weights = network.style_vector(network.style_names[0]).to(device)
    # exported on a work-size frame: the network's own input
    export = lambda: OnnxRunner(network, photo_like_tile(network.work_side), inputs={"style_weights": weights.cpu()})  # noqa: E731
    runner, runtimes, note = onnx_candidate(export, device, precision, execution)

    def run(path: str) -> torch.Tensor:
        with torch.inference_mode():
            return run_network(network, frame, weights, path, runner)

    if execution == "onnxruntime":
        choice = PrecisionChoice("float32", device.type, reason="set in the configuration", execution="onnxruntime")
    else:
        choice = choose_precision(run, device, precision, min_psnr_db=STYLE_MIN_PSNR_DB, runtimes=runtimes)
        if precision == "auto":
            note = f"; a path within {STYLE_MIN_PSNR_DB:g} dB of PyTorch float32 accepted, a painting's bar{note}"
    choice.reason += note
    return choice, (runner if choice.execution == "onnxruntime" else None)
