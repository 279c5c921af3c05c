"""The per-request ``decode -> validate -> process -> encode`` loop that the TorchServe handlers
share, with every client error answered as 4xx JSON.

Handlers subclass :class:`ImageHandler` and implement ``load(model_dir)`` and ``process(...)``;
everything a client can get wrong is turned into an :class:`~dronesr.errors.ClientError` here, so
a bad upload never reaches TorchServe as an exception (which would answer 503 or kill a worker).
"""

from __future__ import annotations

import base64
import dataclasses
import json
import logging
import time
from pathlib import Path
from typing import Any

import torch
from ts.metrics.metric_type_enum import MetricTypes
from ts.torch_handler.base_handler import BaseHandler

from dronesr.image.codecs import DecodedImage, check_encodable, decode_image, encode_image
from dronesr.errors import ClientError, echo, error_body
from dronesr.precision import PrecisionChoice, resolve_device
from dronesr.image.provenance import HEADER as PROVENANCE_HEADER
from dronesr.image.provenance import Provenance
from dronesr.serving.requests import COMMON_PARAMETERS, ImageRequest, ParsedRequest, parse_request, reason_phrase
from dronesr.serving.delivery import Delivery, settings_from_context

logger = logging.getLogger(__name__)
EXPOSED_HEADERS = "X-Output-Size, X-Tiles, X-Resized-From, X-Restore, X-Ensemble, X-Provenance"  # readable by the page's script (CORS)


@dataclasses.dataclass(frozen=True)
class Output:
    """One encoded result: its bytes, Content-Type, "WxH" and the provenance record written into it."""

    body: bytes
    content_type: str
    size: str
    provenance: Provenance | None = None


class ImageHandler(BaseHandler):
    """Base of the image-to-image handlers: one request at a time within the batch, each answered
    on its own (a bad image in a batch does not fail its neighbours)."""

    #: query/form parameters this handler understands, besides ``format``
    parameters: tuple[str, ...] = ()

    def initialize(self, context: Any) -> None:
        self.context = context
        self.settings = settings_from_context(context)
        if self.settings.threads > 0:
            torch.set_num_threads(self.settings.threads)
        # The GPU TorchServe assigned this worker, when CUDA is present; else the CPU.
        self.device = resolve_device("auto", context.system_properties.get("gpu_id"))
        self.model_name = getattr(context, "model_name", "") or "unnamed"
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
            chosen = "yes" if precision == choice.path else "no"
            metrics.add_metric("DronesrPrecisionTileMs", round(seconds * 1000, 2), "ms", None, [Dimension("Precision", precision), Dimension("Chosen", chosen)], MetricTypes.GAUGE)

    # --- to implement ---------------------------------------------------------------------
    def load(self, model_dir: Path) -> None:
        raise NotImplementedError

    def plan(self, params: dict[str, str]) -> Any:
        """This model's parameters of one image, parsed once into a typed plan (dronesr/sr/plan.py);
        ClientError naming a bad one. Every later step works on the plan."""
        raise NotImplementedError

    def decode_budget(self, plan: Any, budget: int) -> int:
        """Pixels an upload with this plan may decode to (default: what the request has left)."""
        return budget

    def validate(self, image: DecodedImage, plan: Any) -> None:
        """Raise ClientError for anything this model cannot do with this image and this plan."""

    def process(self, image: DecodedImage, plan: Any, idx: int) -> DecodedImage:
        raise NotImplementedError

    def output_size(self, image: DecodedImage, plan: Any) -> tuple[int, int]:
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
            pixels_left, outputs = self.settings.max_input_pixels, []  # one budget for all of a request's images
            for item in parsed.images:
                output, decoded = self.run(item, idx, pixels_left)
                outputs.append(output)
                pixels_left -= decoded
            reply = self.reply(parsed, outputs, idx)
        except ClientError as exc:
            self.record("DronesrClientErrors", 1, "count", MetricTypes.COUNTER)
            return self.error(idx, exc.status, exc.code, exc.message)
        except MemoryError:
            logger.exception("out of memory")
            return self.error(idx, 507, "out_of_memory", "The server ran out of memory for this image; try a smaller one.")
        self.record("DronesrHandlerTime", round((time.perf_counter() - started) * 1000, 2), "ms")
        return reply

    def reply(self, parsed: ParsedRequest, outputs: list[Output], idx: int) -> bytes:
        """The response body (and its headers), refused with a 400 when over max_response_bytes:
        TorchServe would kill the worker on a reply over its max_response_size."""
        if parsed.kserve:
            predictions = [
                {"b64": base64.b64encode(o.body).decode("ascii"), "content_type": o.content_type, "size": o.size,
                 **({"provenance": o.provenance.fields()} if o.provenance else {})}
                for o in outputs
            ]
            body, content_type = json.dumps({"predictions": predictions}).encode(), "application/json"
        else:
            body, content_type, size = outputs[0].body, outputs[0].content_type, outputs[0].size
        if len(body) > self.settings.max_response_bytes:
            raise ClientError(
                f"The reply would be {len(body)} bytes, over the limit of {self.settings.max_response_bytes} (max_response_size); "
                "send fewer or smaller images, or ask for format=jpeg.",
                "too_large",
            )
        self.context.set_response_content_type(idx, content_type)
        if not parsed.kserve:
            self.context.set_response_header(idx, "X-Output-Size", size)
            if outputs[0].provenance:
                self.context.set_response_header(idx, PROVENANCE_HEADER, outputs[0].provenance.header())
            # TorchServe's CORS settings allow the page's origin; this lets its script read our headers.
            self.context.set_response_header(idx, "Access-Control-Expose-Headers", EXPOSED_HEADERS)
        return body

    def run(self, item: ImageRequest, idx: int, pixels_left: int) -> tuple[Output, int]:
        """parse -> decode -> validate -> process -> encode one image; (its output, the pixels it decoded)."""
        accepted = (*COMMON_PARAMETERS, *self.parameters)
        unknown = sorted(set(item.params) - set(accepted))
        if unknown:
            names = ", ".join(echo(name) for name in unknown[:4])
            raise ClientError(f"Unknown parameter(s) {names}; this model accepts: {', '.join(accepted)}.", "unknown_parameter")
        delivery = Delivery.from_params(item.params, self.settings.default_format)
        plan = self.plan(item.params)
        image = decode_image(item.image_bytes, self.decode_budget(plan, pixels_left))
        self.record("DronesrInputMegapixels", image.width * image.height / 1e6, "MP")
        self.validate(image, plan)
        check_encodable(self.output_size(image, plan), delivery.format)
        result = self.process(image, plan, idx)
        provenance = result.provenance if delivery.provenance else None
        metadata = None if delivery.strip_metadata else result.metadata
        body, content_type = encode_image(result.rgb, result.alpha, delivery.format, self.settings.jpeg_quality, metadata, provenance)
        return Output(body, content_type, f"{result.width}x{result.height}", provenance), image.width * image.height

    def error(self, idx: int, status: int, code: str, message: str) -> bytes:
        self.context.set_response_status(status, reason_phrase(status), idx)
        self.context.set_response_content_type(idx, "application/json")
        return json.dumps(error_body(status, code, message)).encode()

    def record(self, name: str, value: float, unit: str, kind: MetricTypes = MetricTypes.GAUGE) -> None:
        """A custom metric, shown at :8082/metrics (Prometheus) with the model's name."""
        metrics = getattr(self.context, "metrics", None)
        if metrics is not None:
            metrics.add_metric(name, value, unit, None, [], kind)
