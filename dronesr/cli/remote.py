"""``dronesr upscale --server URL``: the network runs on a served model (TorchServe's
``/predictions/NAME``, or a KServe v1 ``:predict`` route), the command line does the rest.

Each photo, map or video frame is cut into windows of whole tiles of the server's grid (its tile
and overlap, read from its provenance record at start); ``--jobs N`` windows are in flight at
once; each window comes back enlarged x scale as PNG and is stitched with the same feathering as in
process (dronesr/streamed.py), so the result matches the in-process one within rounding. restore=auto
is decided here, once per picture, from the whole picture (as in process), and sent as a number:
windows judged one by one would each get their own. ``--outscale`` is applied here, block by block.
Windows are not sent with ``region=``: a window's border is its shared tile overlap, which the
feathering cross-fades with the neighbour's, so the server must return it.

503, 502, 504, 429, 507 and timeouts are retried with exponential backoff; a server that is gone
(or keeps refusing) stops the run with a message and exit status 1, no output file written; the
windows already done stay in ``.NAME.partial/`` and a rerun resumes after them.
"""

from __future__ import annotations

import base64
import io
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

import numpy as np
import requests
import torch
from PIL import Image

from dronesr.cli.transforms import Transform
from dronesr.errors import ClientError
from dronesr.sr.plan import UpscalePlan
from dronesr.image.provenance import Provenance
from dronesr.sr.deblock import deblock
from dronesr.sr.resolver import BlendChoice, restore_auto
from dronesr.streamed import Enlarge, Grid, enlarge_array, sample_for_auto, ArraySource

RETRY_STATUSES = (429, 502, 503, 504, 507)
WINDOW_SIDE = 1024  # LR pixels a window's side stays under: x4 that is a 4096 px reply, well inside the server's limits
CONNECT_TIMEOUT, READ_TIMEOUT = 10.0, 600.0


class ServerUnavailable(Exception):
    """The server is gone, keeps failing or refuses every window: the run stops (exit status 1)."""


def endpoint_url(server: str, model: str) -> tuple[str, bool]:
    """The prediction URL for ``--server`` (a full ``/predictions/NAME`` or ``:predict`` URL, or
    just ``http://host:port``: then ``/predictions/MODEL``) and whether it speaks KServe v1."""
    parts = urlsplit(server if "://" in server else f"http://{server}")
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"--server must be an http(s) URL, got {server!r}")
    path = parts.path.rstrip("/")
    if not path:
        path = f"/predictions/{model}"
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, "")), path.endswith(":predict")


def parse_record(fields: dict[str, str] | str) -> Provenance | None:
    """The server's provenance record (its ``X-Provenance`` header, or a KServe prediction's
    ``provenance`` object) as a Provenance, to be written into the output as the server made it."""
    if isinstance(fields, str):
        fields = dict(item.split("=", 1) for item in fields.split("; ") if "=" in item)
    if not fields or "model" not in fields:
        return None
    weights = {name[: -len("_sha256")]: value for name, value in fields.items() if name.endswith("_sha256")}
    special = {"model", "architecture", "scale", "software", "created"}
    parameters = {k: v for k, v in fields.items() if k not in special and not k.endswith("_sha256")}
    record = Provenance(fields["model"], fields.get("architecture", ""), int(fields.get("scale", "0") or 0), weights, parameters)
    return Provenance(record.model, record.architecture, record.scale, record.weights, record.parameters,
                      fields.get("software", record.software), fields.get("created", record.created))


def _png(rgb: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(rgb, "RGB").save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


@dataclass
class Endpoint:
    """One served model's prediction URL, called with retries."""

    url: str
    kserve: bool
    retries: int = 5
    backoff: float = 0.5
    local: threading.local = field(default_factory=threading.local)
    stopped: threading.Event = field(default_factory=threading.Event)  # set when the run stops: other windows give up

    def session(self) -> requests.Session:
        if not hasattr(self.local, "session"):
            self.local.session = requests.Session()
        return self.local.session

    def predict(self, rgb: np.ndarray, params: dict[str, str], retries: int | None = None) -> tuple[np.ndarray, Provenance | None]:
        """``rgb`` (H x W x 3 uint8) enlarged by the server with ``params``: (pixels, its record)."""
        body = _png(rgb)
        if self.kserve:
            request = {"json": {"instances": [{"b64": base64.b64encode(body).decode("ascii"), **params, "format": "png"}]}}
        else:
            headers = {"Content-Type": "image/png", "X-Dronesr-Format": "png"}
            headers.update({f"X-Dronesr-{name.replace('_', '-').title()}": value for name, value in params.items()})
            request = {"data": body, "headers": headers}
        tries = self.retries if retries is None else retries
        reason = ""
        for attempt in range(tries + 1):
            if attempt:
                self.stopped.wait(min(self.backoff * 2 ** (attempt - 1), 8.0))
            if self.stopped.is_set():
                raise ServerUnavailable(f"the run stopped before a window went to {self.url}")
            try:
                response = self.session().post(self.url, timeout=(CONNECT_TIMEOUT, READ_TIMEOUT), **request)
            except (requests.Timeout, requests.ConnectionError) as exc:
                reason = f"{type(exc).__name__}: {_short(exc)}"
                continue
            if response.status_code in RETRY_STATUSES:
                reason = f"HTTP {response.status_code}: {_message(response)}"
                continue
            if response.status_code != 200:
                self.stopped.set()
                raise ServerUnavailable(f"the server at {self.url} refused a window: HTTP {response.status_code}: {_message(response)}")
            return self._decode(response)
        self.stopped.set()
        raise ServerUnavailable(f"the server at {self.url} did not answer ({reason}) after {tries + 1} tries")

    def _decode(self, response: requests.Response) -> tuple[np.ndarray, Provenance | None]:
        if self.kserve:
            prediction = response.json()["predictions"][0]
            body, record = base64.b64decode(prediction["b64"]), parse_record(prediction.get("provenance") or {})
        else:
            body, record = response.content, parse_record(response.headers.get("X-Provenance", ""))
        with Image.open(io.BytesIO(body)) as image:
            return np.array(image.convert("RGB")), record


def _short(exc: Exception) -> str:
    text = str(exc)
    return text if len(text) < 200 else text[:200] + "..."


def _message(response: requests.Response) -> str:
    try:
        return str(response.json().get("message", ""))[:300] or response.reason
    except ValueError:
        return (response.text or response.reason)[:300]


@dataclass
class RemoteModel:
    """What the probe learnt of the served model: its scale, tiling and controls, and its record."""

    endpoint: Endpoint
    scale: int
    tile: int
    overlap: int
    has_fidelity: bool
    has_restore: bool
    record: Provenance | None

    @classmethod
    def probe(cls, endpoint: Endpoint) -> RemoteModel:
        """One small request: the server answers (else ServerUnavailable, after a few quick tries)
        and says its scale, tile and overlap (its provenance record)."""
        side = 16
        pixels, record = endpoint.predict(np.full((side, side, 3), 128, np.uint8), {"ensemble": "false"}, retries=min(endpoint.retries, 2))
        scale = pixels.shape[1] // side
        if record is None:
            raise ServerUnavailable(f"{endpoint.url} answered without a provenance record: is it a dronesr SR model?")
        params = record.parameters
        tile, overlap = int(params.get("tile", 192)), int(params.get("overlap", 24))
        return cls(endpoint, scale, tile, overlap, "fidelity_weights" in record.weights, "restore_weights" in record.weights, record)


@dataclass
class RemoteEngine:
    """Windows enlarged by a served model (cli/large_image.py's engine interface)."""

    model: RemoteModel
    plan: UpscalePlan
    jobs: int = 2
    remote: bool = True
    executor: ThreadPoolExecutor | None = None
    last_record: Provenance | None = None

    def __post_init__(self):
        self.executor = ThreadPoolExecutor(max_workers=max(1, self.jobs), thread_name_prefix="dronesr-server")

    @property
    def scale(self) -> int:
        return self.model.scale

    @property
    def tile(self) -> int:
        return self.model.tile

    @property
    def overlap(self) -> int:
        return self.model.overlap

    @property
    def window_tiles(self) -> int:
        return max(1, (WINDOW_SIDE - self.tile) // max(1, self.tile - self.overlap) + 1)

    @property
    def in_flight(self) -> int:
        return self.jobs + 1  # the server kept busy while one window is stitched here

    def streams(self, runner) -> bool:
        return True

    def choose(self, sample: np.ndarray, quantization: dict | None, palette: bool, pixels: int, windows: int) -> BlendChoice:
        """restore=auto decided here from the picture (sent as a number, so every window gets the
        same); ensemble=auto left to the server when the picture is one window, else off (the
        served ensemble_auto_pixels are far below a window: 240x240 for srresnet)."""
        plan = self.plan
        restore, reason, grid = plan.restore, "requested", None
        if self.model.has_restore and restore is None:
            restore, reason, grid = restore_auto(sample, quantization, palette)
        ensemble = plan.ensemble
        if ensemble is None:
            ensemble, ensemble_reason = (None, "auto: the server's") if windows == 1 else (False, "auto: larger than one window")
        else:
            ensemble_reason = "requested"
        # the grid is smoothed here, in the windows read (large_image.py), since the server is sent a number
        return BlendChoice(plan.fidelity, restore if self.model.has_restore else None, reason, ensemble, ensemble_reason, grid)

    def params(self, choice: BlendChoice) -> dict[str, str]:
        params = {"ensemble": "auto" if choice.ensemble is None else ("true" if choice.ensemble else "false")}
        if choice.fidelity is not None:
            params["fidelity"] = f"{choice.fidelity:g}"
        if choice.restore is not None:
            params["restore"] = f"{choice.restore:g}"
        return params

    def enlarger(self, choice: BlendChoice, grid: Grid) -> Enlarge:
        """Windows of ``grid`` sent to the server, which tiles each by its own size (not the
        picture's tile sides: the served result may differ from one whole frame's in the last
        grey level)."""
        params = self.params(choice)
        scale = self.scale

        def run(window: np.ndarray) -> torch.Tensor:
            pixels, record = self.model.endpoint.predict(window, params)
            if pixels.shape[:2] != (window.shape[0] * scale, window.shape[1] * scale):
                raise ServerUnavailable(f"the server answered a {pixels.shape[1]}x{pixels.shape[0]} window for {window.shape[1]}x{window.shape[0]} at x{scale}")
            if record is not None:
                self.last_record = record
            return torch.from_numpy(pixels).permute(2, 0, 1)  # uint8 until stitched

        def enlarge(window: np.ndarray) -> Future:
            return self.executor.submit(run, window)

        return enlarge

    def provenance(self, choice: BlendChoice) -> Provenance | None:
        """The server's record of the windows (the last reply's), with what was done here."""
        record = self.last_record or self.model.record
        if record is None:
            return None
        server = urlsplit(self.model.endpoint.url)
        return record.with_parameters(
            outscale=self.plan.outscale, restore=choice.restore, region=None, server=f"{server.scheme}://{server.netloc}{server.path}",
        )

    def key(self) -> dict:
        record = self.model.record
        fields = {k: v for k, v in (record.fields() if record else {}).items() if k not in ("created", "precision", "device")}
        return {"server": self.model.endpoint.url, "model": fields, "plan": str(self.plan)}

    def abort(self) -> None:
        """Stop: windows not sent are dropped, those being retried give up; returns when none is left."""
        self.model.endpoint.stopped.set()
        self.executor.shutdown(wait=True, cancel_futures=True)


@dataclass
class RemoteTransform(Transform):
    """Video frames through the server: each frame window by window, restore decided on the first."""

    engine: RemoteEngine | None = None
    max_output_pixels: int = 0
    video_choice: BlendChoice | None = None

    @property
    def plan(self) -> UpscalePlan:
        return self.engine.plan

    @property
    def provenance(self) -> Provenance | None:
        return self.engine.provenance(self.video_choice) if self.video_choice else self.engine.model.record

    def result_size(self, width: int, height: int) -> tuple[int, int]:
        self.check(width, height)
        size = self.plan.result_size(width, height)
        if size[0] * size[1] > self.max_output_pixels:
            raise ClientError(f"a {size[0]}x{size[1]} result is over the limit of {self.max_output_pixels} pixels (--max-output-pixels).", "too_large")
        return size

    def frame(self, rgb: np.ndarray) -> np.ndarray:
        height, width = rgb.shape[:2]
        engine = self.engine
        grid = Grid.build(width, height, engine.scale, engine.tile, engine.overlap, self.plan.result_size(width, height), engine.window_tiles)
        if self.video_choice is None:
            self.video_choice = engine.choose(sample_for_auto(ArraySource(rgb)), None, False, width * height, grid.count)
        if self.video_choice.deblock is not None:
            rgb = deblock(rgb, self.video_choice.deblock)
        return enlarge_array(rgb, grid, engine.enlarger(self.video_choice, grid), engine.in_flight)


def open_remote(server: str, model: str, outscale: float | None, fidelity: float | None, restore: float | None, ensemble: bool | None,
                jobs: int, max_input_pixels: int, max_output_pixels: int, retries: int = 5) -> RemoteTransform:
    """Probe ``server`` and return the transform the batch runs (its engine does photos and maps).
    ServerUnavailable when it does not answer; ValueError for options the model does not take."""
    from dronesr.sr.upscaler import check_outscale

    url, kserve = endpoint_url(server, model)
    remote = RemoteModel.probe(Endpoint(url, kserve, retries))
    if fidelity is not None and not remote.has_fidelity:
        raise ValueError(f"--fidelity: the model at {url} has no fidelity control")
    if restore is not None and not remote.has_restore:
        raise ValueError(f"--restore: the model at {url} has no restore control")
    plan = UpscalePlan(remote.scale, check_outscale(outscale, remote.scale) if outscale is not None else float(remote.scale), fidelity, restore, ensemble=ensemble)
    engine = RemoteEngine(remote, plan, jobs)
    record = remote.record
    summary = (f"{record.model if record else url} ({record.architecture if record else '?'} x{remote.scale}, tile {remote.tile}/{remote.overlap}) "
               f"at {url}, {jobs} window(s) in flight, windows of {engine.window_tiles}x{engine.window_tiles} tiles")
    if plan.outscale != remote.scale:
        summary += f", output x{plan.outscale:g}"
    return RemoteTransform(max_input_pixels, summary, engine, max_output_pixels)
