"""TorchServe glue shared by the handlers: settings, request parsing, and the per-request
``decode -> validate -> process -> encode`` loop with client errors answered as 4xx JSON.

Handlers subclass :class:`ImageHandler` and implement ``load(model_dir)`` and ``process(...)``;
everything a client can get wrong is turned into an :class:`~dronesr.imaging.ImageError` here, so
a bad upload never reaches TorchServe as an exception (which would answer 503 or kill a worker).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from ts.metrics.metric_type_enum import MetricTypes
from ts.torch_handler.base_handler import BaseHandler

from dronesr.imaging import DecodedImage, ImageError, decode_image, encode_image, parse_output_format

logger = logging.getLogger(__name__)

# Request keys that may carry the image: the raw body, or a multipart file under a usual name.
IMAGE_KEYS = ("body", "data", "file", "image")


@dataclass
class HandlerSettings:
    """The ``handler:`` section of a model's model-config.yaml; every limit a client can reach."""

    weights: str = "model.pt"  # file inside the archive (the --serialized-file)
    tile: int = 128  # LR tile side, pixels
    overlap: int = 16  # LR pixels shared by neighbouring tiles (from the receptive field)
    tile_batch: int = 4  # tiles per forward pass
    max_input_pixels: int = 4_000_000  # decoded image, checked before decoding
    max_output_pixels: int = 36_000_000  # result (8K UHD is 33.2 MP)
    max_side: int = 1024  # style model: larger inputs are scaled down to this side
    threads: int = 0  # torch intra-op threads per worker (0: torch's default)
    default_format: str = "png"
    jpeg_quality: int = 92

    @classmethod
    def from_context(cls, context: Any) -> "HandlerSettings":
        section = dict((getattr(context, "model_yaml_config", None) or {}).get("handler", {}) or {})
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(section) - names)
        if unknown:
            raise ValueError(f"model-config.yaml handler: unknown setting(s) {unknown}; known: {sorted(names)}")
        return cls(**section)


def _text(value: Any) -> str:
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", errors="replace")
    return str(value)


@dataclass
class ParsedRequest:
    image_bytes: bytes
    params: dict[str, str]


# TorchServe drops the query string of /predictions; the gateway sends parameters as headers.
PARAM_HEADER_PREFIX = "x-dronesr-param-"


def parse_request(request: dict, headers: dict[str, str] | None = None) -> ParsedRequest:
    """Split a TorchServe request into the image bytes and the text parameters. Parameters come
    from multipart form fields (in the request dict beside the file) or from the gateway's
    ``X-Dronesr-Param-<name>`` headers (the query string of the public URL)."""
    image_bytes = None
    params: dict[str, str] = {}
    for key, value in (headers or {}).items():
        if isinstance(key, str) and key.lower().startswith(PARAM_HEADER_PREFIX):
            params[key[len(PARAM_HEADER_PREFIX) :].lower()] = _text(value)
    for key, value in request.items():
        if key in IMAGE_KEYS and image_bytes is None and isinstance(value, (bytes, bytearray)):
            image_bytes = bytes(value)
        elif isinstance(value, (dict, list)):
            raise ImageError("JSON bodies are not accepted: send the image bytes as the body or as a multipart file.", 415)
        elif key not in IMAGE_KEYS:
            params[key] = _text(value)
    if image_bytes is None:
        raise ImageError("No image in the request: send it as the raw body or as a multipart file field named 'data'.")
    return ParsedRequest(image_bytes, params)


class ImageHandler(BaseHandler):
    """Base of the image-to-image handlers: one request at a time within the batch, each answered
    on its own (a bad image in a batch does not fail its neighbours)."""

    #: query/form parameters this handler understands, besides ``format``
    parameters: tuple[str, ...] = ()

    def initialize(self, context: Any) -> None:
        self.settings = HandlerSettings.from_context(context)
        if self.settings.threads > 0:
            torch.set_num_threads(self.settings.threads)
        model_dir = Path(context.system_properties.get("model_dir", "."))
        self.load(model_dir)
        self.initialized = True
        logger.info("%s ready: %s", type(self).__name__, self.settings)

    # --- to implement ---------------------------------------------------------------------
    def load(self, model_dir: Path) -> None:
        raise NotImplementedError

    def validate(self, image: DecodedImage, params: dict[str, str]) -> None:
        """Raise ImageError for anything this model cannot do with this image and these params."""

    def process(self, image: DecodedImage, params: dict[str, str], idx: int) -> DecodedImage:
        raise NotImplementedError

    def describe(self) -> dict:
        return {"settings": dataclasses.asdict(self.settings)}

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
            unknown = sorted(set(parsed.params) - {"format", *self.parameters})
            if unknown:
                raise ImageError(f"Unknown parameter(s) {', '.join(unknown)}; this model accepts: format, {', '.join(self.parameters) or '-'}.")
            fmt = parse_output_format(parsed.params.get("format"), self.settings.default_format)
            image = decode_image(parsed.image_bytes, self.settings.max_input_pixels)
            self.record("DronesrInputMegapixels", image.width * image.height / 1e6, "MP")
            self.validate(image, parsed.params)
            result = self.process(image, parsed.params, idx)
            body, content_type = encode_image(result.rgb, result.alpha, fmt, self.settings.jpeg_quality)
        except ImageError as exc:
            self.record("DronesrClientErrors", 1, "count", MetricTypes.COUNTER)
            return self.error(idx, exc.status, exc.message)
        except MemoryError:
            logger.exception("out of memory")
            return self.error(idx, 507, "The server ran out of memory for this image; try a smaller one.")
        self.context.set_response_content_type(idx, content_type)
        self.context.set_response_header(idx, "X-Output-Size", f"{result.width}x{result.height}")
        self.record("DronesrHandlerTime", round((time.perf_counter() - started) * 1000, 2), "ms")
        return body

    def error(self, idx: int, status: int, message: str) -> bytes:
        self.context.set_response_status(status, message, idx)
        self.context.set_response_content_type(idx, "application/json")
        return json.dumps({"code": status, "type": "BadInput" if status < 500 else "ServerError", "message": message}).encode()

    def record(self, name: str, value: float, unit: str, kind: MetricTypes = MetricTypes.GAUGE) -> None:
        """A custom metric, shown at :8082/metrics (Prometheus) with the model's name."""
        metrics = getattr(self.context, "metrics", None)
        if metrics is not None:
            metrics.add_metric(name, value, unit, None, [], kind)
