"""The SR benchmark through TorchServe: a private server from model_store/, frames POSTed to
its inference API, the worker's memory from its management API."""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path

import numpy as np
import requests

from bench.timing import FrameBench, Timing, log
from dronesr.image.codecs import encode_image
from harness import ROOT, torchserve

UPLOADS = {"PNG": "png", "JPEG q90": "jpeg"}  # label: encode_image format
UPLOAD_JPEG_QUALITY = 90
BASELINE_PREFIX = "baseline "


# --- through TorchServe ------------------------------------------------------------------------


def post_frame(url: str, body: bytes, expected_size: str) -> None:
    response = requests.post(url, data=body, timeout=600)
    size = response.headers.get("X-Output-Size")
    if response.status_code != 200 or size != expected_size:
        detail = f"HTTP {response.status_code}, X-Output-Size {size} (expected {expected_size})"
        raise RuntimeError(f"POST {url}: {detail}: {response.text[:300]}")


def worker_memory(management: str, model_name: str) -> dict:
    """The model's worker count, and the first worker's pid and VmHWM (resident-memory high-water mark)."""
    workers = requests.get(f"{management}/models/{model_name}", timeout=10).json()[0]["workers"]
    pid = workers[0]["pid"]
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return {"workers": len(workers), "pid": pid, "peak_mib": int(line.split()[1]) / 1024}  # kB
    raise RuntimeError(f"no VmHWM in /proc/{pid}/status")


def frame_uploads(rgb: np.ndarray) -> dict[str, bytes]:
    return {label: encode_image(rgb, None, fmt, UPLOAD_JPEG_QUALITY)[0] for label, fmt in UPLOADS.items()}


def time_served(bench: FrameBench, model_name: str, uploads: dict[str, bytes], flops: float, baseline: str | None = None) -> tuple[dict[str, Timing], dict]:
    """Every upload to TorchServe's inference API; then the worker's peak memory. With
    ``baseline`` (another archive in model_store/, e.g. an earlier release's weights), its PNG
    upload is timed by the same server in the same run."""
    store = ROOT / "model_store"
    for name in filter(None, (model_name, baseline)):
        if not (store / f"{name}.mar").exists():
            raise SystemExit(f"{store / name}.mar not found: run `make archive` first (or pass --skip-server)")
    expected = f"{bench.image.shape[-1] * bench.scale}x{bench.image.shape[-2] * bench.scale}"
    with tempfile.TemporaryDirectory(prefix="sr_bench_") as workdir:
        log("starting TorchServe ...")
        server = torchserve.start(Path(workdir), store, [model_name, *([baseline] if baseline else [])])
        try:
            served = {}
            for upload, body in uploads.items():
                label = f"TorchServe, {upload} upload"
                served[label] = bench.time(label, functools.partial(post_frame, f"{server.inference}/predictions/{model_name}", body, expected), flops)
            if baseline:
                label = f"{BASELINE_PREFIX}{baseline}, PNG upload"
                served[label] = bench.time(label, functools.partial(post_frame, f"{server.inference}/predictions/{baseline}", uploads["PNG"], expected), 0.0)
            return served, worker_memory(server.management, model_name)
        finally:
            server.stop()
