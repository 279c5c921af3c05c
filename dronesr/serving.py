"""TorchServe glue shared by the handlers: settings, request parsing, and the per-request
``decode -> validate -> process -> encode`` loop with client errors answered as 4xx JSON.

Handlers subclass :class:`ImageHandler` and implement ``load(model_dir)`` and ``process(...)``;
everything a client can get wrong is turned into an :class:`~dronesr.imaging.ImageError` here, so
a bad upload never reaches TorchServe as an exception (which would answer 503 or kill a worker).
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
import logging
import re
import time
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from typing import Any

import torch
from ts.metrics.metric_type_enum import MetricTypes
from ts.torch_handler.base_handler import BaseHandler

from dronesr import limits
from dronesr.config import BOOLEAN_WORDS
from dronesr.imaging import OUTPUT_FORMATS, DecodedImage, ImageError, check_encodable, decode_image, echo, encode_image, parse_output_format
from dronesr.precision import PRECISIONS, PrecisionChoice, check_choice, resolve_device
from dronesr.tiling import DEFAULT_OVERLAP, DEFAULT_TILE, DEFAULT_TILE_BATCH

logger = logging.getLogger(__name__)

# Request keys that may carry the image: the raw body, or a multipart file under a usual name.
IMAGE_KEYS = ("body", "data", "file", "image")


@dataclass
class HandlerSettings:
    """The ``handler:`` section of a model's model-config.yaml; every limit a client can reach."""

    weights: str = "model.pt"  # file inside the archive (the --serialized-file)
    fidelity_weights: str = ""  # SR: the PSNR network blended in by ``fidelity`` (srgan: srresnet.pt); empty: no fidelity control
    tile: int = DEFAULT_TILE  # LR tile side, pixels (CPU)
    gpu_tile: int = 512  # LR tile side on a GPU: more pixels per launch, memory is not the CPU's cache
    overlap: int = DEFAULT_OVERLAP  # LR pixels shared by neighbouring tiles (from the receptive field)
    tile_batch: int = DEFAULT_TILE_BATCH  # tiles per forward pass
    max_input_pixels: int = limits.MAX_INPUT_PIXELS  # decoded image, checked before decoding
    max_output_pixels: int = limits.MAX_OUTPUT_PIXELS  # result of super-resolution
    max_side: int = limits.STYLE_MAX_SIDE  # style model: larger inputs are scaled down to this side
    threads: int = 0  # torch intra-op threads per worker (0: torch's default)
    default_format: str = "png"
    jpeg_quality: int = 92
    precision: str = "auto"  # auto (measured at worker start), float32, bfloat16, float16
    max_response_bytes: int = 134_217_728  # config.properties max_response_size: over it TorchServe kills the worker

    @classmethod
    def from_context(cls, context: Any) -> HandlerSettings:
        section = dict((getattr(context, "model_yaml_config", None) or {}).get("handler", {}) or {})
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(section) - names)
        if unknown:
            raise ValueError(f"model-config.yaml handler: unknown setting(s) {unknown}; known: {sorted(names)}")
        settings = cls(**section)
        check_choice("model-config.yaml handler: precision", settings.precision, PRECISIONS)
        return settings


# Client text never reaches a status line or a header: every reply carries its code's standard
# reason phrase, and values quoted in JSON messages go through imaging.echo (cut and escaped).
PARAMETER_NAME = re.compile(r"[a-z][a-z0-9_]{0,31}")


def reason_phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def _text(value: Any) -> str:
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", errors="replace")
    return str(value)


@dataclass
class ImageRequest:
    """One image to process with its text parameters."""

    image_bytes: bytes
    params: dict[str, str]


@dataclass
class ParsedRequest:
    images: list[ImageRequest]
    kserve: bool  # KServe v1 JSON in, JSON with base64 images out


# Raw-body requests carry parameters as headers (TorchServe 0.12 drops the query string of
# /predictions): ``X-Dronesr-Style: udnie`` is ``style=udnie``, and ``Accept`` picks the format.
PARAM_HEADER_PREFIX = "x-dronesr-"
MAX_KSERVE_INSTANCES = 4
EXPOSED_HEADERS = "X-Output-Size, X-Tiles, X-Resized-From"
ACCEPTED_TYPES = {content_type: key for key, (_, content_type) in OUTPUT_FORMATS.items() if key != "jpg"}


# Parameters of every image model: the output format, and whether to drop the camera's metadata.
COMMON_PARAMETERS = ("format", "strip_metadata")


def parse_flag(name: str, text: str | None) -> bool:
    """A yes/no parameter (true/false, 1/0, yes/no, on/off); absent or empty is false."""
    key = (text or "").strip().lower()
    if not key:
        return False
    if key not in BOOLEAN_WORDS:
        raise ImageError(f"{name} must be true or false, got {echo(text)}.")
    return BOOLEAN_WORDS[key]


def _checked_name(name: str) -> str:
    if not PARAMETER_NAME.fullmatch(name):
        raise ImageError(f"Parameter name {echo(name)} is not valid: names are lower-case letters, digits and _ (at most 32).")
    return name


def _header_params(headers: dict[str, str] | None) -> dict[str, str]:
    params = {}
    for key, value in (headers or {}).items():
        if isinstance(key, str) and key.lower().startswith(PARAM_HEADER_PREFIX):
            params[_checked_name(key[len(PARAM_HEADER_PREFIX) :].lower().replace("-", "_"))] = _text(value)
    return params


def format_from_accept(accept: str | None) -> str | None:
    """The output format an ``Accept`` header asks for: the supported image type with the highest
    q; None when it leaves the choice to the server (absent, ``*/*``, ``image/*``). ImageError
    406 when it accepts none of them."""
    if not accept:
        return None
    ranked = []
    for order, part in enumerate(accept.split(",")):
        media, *options = (p.strip() for p in part.split(";"))
        q = 1.0
        for option in options:
            name, _, value = option.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if q > 0:
            ranked.append((-q, order, media.lower()))
    for _, _, media in sorted(ranked):
        if media in ACCEPTED_TYPES:
            return ACCEPTED_TYPES[media]
        if media in ("*/*", "image/*"):
            return None
    raise ImageError(f"Accept {echo(accept)} allows none of the output types: {', '.join(ACCEPTED_TYPES)}.", 406)


def _kserve_instances(payload: Any, params: dict[str, str]) -> list[ImageRequest]:
    """KServe v1: ``{"instances": [{"b64": "..."} or {"data": {"b64": "..."}}, ...]}``; other keys
    of an instance are its parameters (``{"b64": ..., "format": "jpeg"}``)."""
    instances = payload.get("instances") if isinstance(payload, dict) else None
    if not isinstance(instances, list) or not instances:
        raise ImageError('JSON bodies must be KServe v1: {"instances": [{"b64": "<base64 image>"}]}.')
    if len(instances) > MAX_KSERVE_INSTANCES:
        raise ImageError(f"{len(instances)} instances in one request, over the limit of {MAX_KSERVE_INSTANCES}.")
    images = []
    for number, instance in enumerate(instances):
        if isinstance(instance, dict) and isinstance(instance.get("data"), dict):
            instance = {**{k: v for k, v in instance.items() if k != "data"}, **instance["data"]}
        encoded = instance.get("b64") if isinstance(instance, dict) else None
        if not isinstance(encoded, str):
            raise ImageError(f'instances[{number}] has no "b64" string.')
        try:
            image_bytes = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            raise ImageError(f"instances[{number}].b64 is not valid base64.") from None
        extra = {_checked_name(str(k)): _text(v) for k, v in instance.items() if k != "b64"}
        images.append(ImageRequest(image_bytes, {**params, **extra}))
    return images


def parse_request(request: dict, headers: dict[str, str] | None = None) -> ParsedRequest:
    """Split a TorchServe request into images and their text parameters. Parameters come from
    multipart form fields (in the request dict beside the file), from ``X-Dronesr-<name>``
    headers (raw bodies), or from a KServe instance; ``Accept`` gives the format when no
    parameter does. TorchServe has already decoded a JSON body into a dict."""
    params = _header_params(headers)
    accepted = format_from_accept(_header(headers, "accept"))
    if accepted and "format" not in params:
        params["format"] = accepted
    image_bytes = None
    for key, value in request.items():
        if isinstance(value, (dict, list)):
            return ParsedRequest(_kserve_instances(value, params), kserve=True)
        if key in IMAGE_KEYS and image_bytes is None:
            # TorchServe hands a multipart part labelled text/* over as a str: still the upload.
            image_bytes = bytes(value) if isinstance(value, (bytes, bytearray)) else _text(value).encode("utf-8", errors="replace")
        elif key not in IMAGE_KEYS:
            params[_checked_name(str(key))] = _text(value)
    if image_bytes is None:
        raise ImageError("No image in the request: send it as the raw body or as a multipart file field named 'data'.")
    return ParsedRequest([ImageRequest(image_bytes, params)], kserve=False)


def _header(headers: dict[str, str] | None, name: str) -> str | None:
    for key, value in (headers or {}).items():
        if isinstance(key, str) and key.lower() == name:
            return _text(value)
    return None


class ImageHandler(BaseHandler):
    """Base of the image-to-image handlers: one request at a time within the batch, each answered
    on its own (a bad image in a batch does not fail its neighbours)."""

    #: query/form parameters this handler understands, besides ``format``
    parameters: tuple[str, ...] = ()

    def initialize(self, context: Any) -> None:
        self.context = context
        self.settings = HandlerSettings.from_context(context)
        if self.settings.threads > 0:
            torch.set_num_threads(self.settings.threads)
        # The GPU TorchServe assigned this worker, when CUDA is present; else the CPU.
        self.device = resolve_device("auto", context.system_properties.get("gpu_id"))
        model_dir = Path(context.system_properties.get("model_dir", "."))
        self.load(model_dir)
        self.initialized = True
        logger.info("%s ready on %s: %s", type(self).__name__, self.device, self.settings)

    def report_precision(self, choice: PrecisionChoice) -> None:
        """The measured precision choice: log, ``describe`` and metrics (one gauge per timing)."""
        self.precision_choice = choice
        logger.info("%s: %s", type(self).__name__, choice.summary())
        metrics = getattr(self.context, "metrics", None)
        if metrics is None:
            return
        from ts.metrics.dimension import Dimension

        for precision, seconds in choice.seconds.items():
            chosen = "yes" if precision == choice.precision else "no"
            metrics.add_metric("DronesrPrecisionTileMs", round(seconds * 1000, 2), "ms", None, [Dimension("Precision", precision), Dimension("Chosen", chosen)], MetricTypes.GAUGE)

    # --- to implement ---------------------------------------------------------------------
    def load(self, model_dir: Path) -> None:
        raise NotImplementedError

    def validate(self, image: DecodedImage, params: dict[str, str]) -> None:
        """Raise ImageError for anything this model cannot do with this image and these params."""

    def process(self, image: DecodedImage, params: dict[str, str], idx: int) -> DecodedImage:
        raise NotImplementedError

    def output_size(self, image: DecodedImage, params: dict[str, str]) -> tuple[int, int]:
        """(width, height) of the result, known before the work (encoder limits are checked on it)."""
        return image.width, image.height

    def describe(self) -> dict:
        choice = getattr(self, "precision_choice", None)
        return {"settings": dataclasses.asdict(self.settings), "device": str(self.device), "precision": choice.as_dict() if choice else None}

    # --- the request loop -----------------------------------------------------------------
    def handle(self, data: list[dict], context: Any) -> list[bytes]:
        self.context = context
        if self._is_describe():
            return [json.dumps(self.describe()).encode()]
        return [self.handle_one(request, idx) for idx, request in enumerate(data)]

    def handle_one(self, request: dict, idx: int) -> bytes:
        started = time.perf_counter()
        try:
            parsed = parse_request(request, self.context.get_all_request_header(idx))
            self.pixels_left = self.settings.max_input_pixels  # one budget for all of a request's images
            outputs = [self.run(item, idx) for item in parsed.images]
            reply = self.reply(parsed, outputs, idx)
        except ImageError as exc:
            self.record("DronesrClientErrors", 1, "count", MetricTypes.COUNTER)
            return self.error(idx, exc.status, exc.message)
        except MemoryError:
            logger.exception("out of memory")
            return self.error(idx, 507, "The server ran out of memory for this image; try a smaller one.")
        self.record("DronesrHandlerTime", round((time.perf_counter() - started) * 1000, 2), "ms")
        return reply

    def reply(self, parsed: ParsedRequest, outputs: list[tuple[bytes, str, str]], idx: int) -> bytes:
        """The response body (and its headers), refused with a 400 when over max_response_bytes:
        TorchServe would kill the worker on a reply over its max_response_size."""
        if parsed.kserve:
            predictions = [{"b64": base64.b64encode(body).decode("ascii"), "content_type": ctype, "size": size} for body, ctype, size in outputs]
            body, content_type = json.dumps({"predictions": predictions}).encode(), "application/json"
        else:
            body, content_type, size = outputs[0]
        if len(body) > self.settings.max_response_bytes:
            raise ImageError(
                f"The reply would be {len(body)} bytes, over the limit of {self.settings.max_response_bytes} (max_response_size); "
                "send fewer or smaller images, or ask for format=jpeg."
            )
        self.context.set_response_content_type(idx, content_type)
        if not parsed.kserve:
            self.context.set_response_header(idx, "X-Output-Size", size)
            # TorchServe's CORS settings allow the page's origin; this lets its script read our headers.
            self.context.set_response_header(idx, "Access-Control-Expose-Headers", EXPOSED_HEADERS)
        return body

    def run(self, item: ImageRequest, idx: int) -> tuple[bytes, str, str]:
        """decode -> validate -> process -> encode one image; returns (bytes, Content-Type, "WxH")."""
        accepted = (*COMMON_PARAMETERS, *self.parameters)
        unknown = sorted(set(item.params) - set(accepted))
        if unknown:
            names = ", ".join(echo(name) for name in unknown[:4])
            raise ImageError(f"Unknown parameter(s) {names}; this model accepts: {', '.join(accepted)}.")
        fmt = parse_output_format(item.params.get("format"), self.settings.default_format)
        strip = parse_flag("strip_metadata", item.params.get("strip_metadata"))
        budget = getattr(self, "pixels_left", self.settings.max_input_pixels)
        image = decode_image(item.image_bytes, budget)
        self.pixels_left = budget - image.width * image.height
        self.record("DronesrInputMegapixels", image.width * image.height / 1e6, "MP")
        self.validate(image, item.params)
        check_encodable(self.output_size(image, item.params), fmt)
        result = self.process(image, item.params, idx)
        body, content_type = encode_image(result.rgb, result.alpha, fmt, self.settings.jpeg_quality, None if strip else result.metadata)
        return body, content_type, f"{result.width}x{result.height}"

    def error(self, idx: int, status: int, message: str) -> bytes:
        self.context.set_response_status(status, reason_phrase(status), idx)
        self.context.set_response_content_type(idx, "application/json")
        return json.dumps({"code": status, "type": "BadInput" if status < 500 else "ServerError", "message": message}).encode()

    def record(self, name: str, value: float, unit: str, kind: MetricTypes = MetricTypes.GAUGE) -> None:
        """A custom metric, shown at :8082/metrics (Prometheus) with the model's name."""
        metrics = getattr(self.context, "metrics", None)
        if metrics is not None:
            metrics.add_metric(name, value, unit, None, [], kind)
