"""Load test against TorchServe's inference API: N concurrent clients for T seconds, each posting a small real photo
and alternating between the models; prints throughput, latency percentiles and errors per status.

    python -m bench.load                          # starts its own server: 1 worker per model, 4 clients, 20 s
    python -m bench.load --workers 1 2            # make load: the same run with 1, then 2 workers per model
    python -m bench.load --url http://127.0.0.1:8080 --clients 8 --seconds 60    # a running `make serve`

Why it exists: sr_bench times one large frame; this shows what the server does with many small
requests at once (queueing, workers per model, errors under pressure). The photo is a 100x100 JPEG
cut from ../shared/data/ifo (synthetic texture without it), so one request is ~0.1 MP in, 1.6 MP out.
Models: srgan and srresnet, and style if the server has it (a model answering 404 is skipped).
Only loopback URLs are accepted: this is a tool for this machine, not for load-testing someone else's.
Bounds: --clients 1..32, --seconds 1..300; the run stops by itself (requests in flight at the end are
allowed to finish, each within --timeout). Run it on an idle machine: other work on the cores shows up.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import io
import json
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import requests
from PIL import Image

from harness import ROOT, torchserve

IFO_PHOTOS = ROOT.parent / "shared" / "data" / "ifo"
CANDIDATE_MODELS = ("srgan", "srresnet", "style")
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}
MAX_CLIENTS, MAX_SECONDS = 32, 300


@dataclass(frozen=True)
class Result:
    model: str
    outcome: str  # the HTTP status ("200", "503") or the exception's name ("ReadTimeout")
    seconds: float


# --- inputs -----------------------------------------------------------------------------------
def sample_photo(side: int = 100) -> bytes:
    """A side x side JPEG (q90) from the first IFO photo, or synthetic texture without ../shared."""
    photos = sorted(IFO_PHOTOS.rglob("*.jpg")) if IFO_PHOTOS.is_dir() else []
    if photos:
        image = Image.open(photos[0]).convert("RGB").resize((side, side), Image.BICUBIC)
    else:
        y, x = np.mgrid[0:side, 0:side]
        noise = np.random.default_rng(0).normal(0, 12, (side, side, 3))
        pixels = np.stack([128 + 90 * np.sin(x / 7), 255 * x / side, 128 + 90 * np.cos(y / 5)], axis=2) + noise
        image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def loopback_url(value: str) -> str:
    """argparse type: an http(s) URL on this machine, without a trailing slash."""
    parts = urllib.parse.urlsplit(value)
    if parts.scheme not in ("http", "https") or parts.hostname not in LOOPBACK_HOSTS:
        raise argparse.ArgumentTypeError(f"{value!r}: only http(s) URLs on {sorted(LOOPBACK_HOSTS)} are allowed")
    return value.rstrip("/")


def bounded(low: int, high: int):
    def parse(value: str) -> int:
        number = int(value)
        if not low <= number <= high:
            raise argparse.ArgumentTypeError(f"{number} is outside {low}..{high}")
        return number

    return parse


# --- the load ---------------------------------------------------------------------------------
def post(session: requests.Session, url: str, model: str, photo: bytes, timeout: float) -> Result:
    started = time.perf_counter()
    try:
        outcome = str(session.post(f"{url}/predictions/{model}", data=photo, timeout=timeout).status_code)
    except requests.RequestException as exc:
        outcome = type(exc).__name__
    return Result(model, outcome, time.perf_counter() - started)


def answering_models(url: str, photo: bytes, candidates: tuple[str, ...], timeout: float) -> list[str]:
    """One request per candidate (which also warms it up); keep those that answer 200."""
    kept = []
    with requests.Session() as session:
        for model in candidates:
            result = post(session, url, model, photo, timeout)
            if result.outcome == "200":
                kept.append(model)
            else:
                print(f"  skipping {model}: {result.outcome}", file=sys.stderr)
    return kept


def client(number: int, url: str, models: list[str], photo: bytes, deadline: float, timeout: float, results: list[Result]) -> None:
    """Back-to-back requests until the deadline; client k starts at model k, then takes the next each time."""
    with requests.Session() as session:
        turn = number
        while time.monotonic() < deadline:
            results.append(post(session, url, models[turn % len(models)], photo, timeout))  # list.append is atomic
            turn += 1


def run_load(url: str, models: list[str], photo: bytes, clients: int, seconds: float, timeout: float) -> tuple[list[Result], float]:
    results: list[Result] = []
    started = time.monotonic()
    deadline = started + seconds
    threads = [
        threading.Thread(target=client, args=(k, url, models, photo, deadline, timeout, results), daemon=True) for k in range(clients)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results, time.monotonic() - started


# --- the report -------------------------------------------------------------------------------
def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile of a non-empty list."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(np.ceil(q / 100 * len(ordered))) - 1))]


def summarize(results: list[Result], elapsed: float, **labels) -> dict:
    ok = [r.seconds for r in results if r.outcome == "200"]
    latency = {f"p{q}": round(percentile(ok, q), 3) for q in (50, 95, 99)} if ok else {}
    per_model = {
        model: {"ok": sum(r.outcome == "200" for r in results if r.model == model), "requests": sum(r.model == model for r in results)}
        for model in dict.fromkeys(r.model for r in results)
    }
    errors = collections.Counter(r.outcome for r in results if r.outcome != "200")
    return {
        **labels,
        "seconds": round(elapsed, 1),
        "requests": len(results),
        "ok": len(ok),
        "throughput_rps": round(len(ok) / elapsed, 2),
        "latency_s": latency,
        "errors": dict(errors),
        "per_model": per_model,
    }


def print_summary(summary: dict) -> None:
    labels = ", ".join(f"{k}={summary[k]}" for k in ("workers", "clients", "models") if k in summary)
    latency = "  ".join(f"{k} {v:.2f}" for k, v in summary["latency_s"].items()) or "-"
    errors = ", ".join(f"{k}: {v}" for k, v in summary["errors"].items()) or "none"
    per_model = ", ".join(f"{m} {c['ok']}/{c['requests']}" for m, c in summary["per_model"].items())
    print(
        f"\n{labels}\n"
        f"  {summary['requests']} requests in {summary['seconds']} s, {summary['ok']} ok: {summary['throughput_rps']} req/s\n"
        f"  latency of ok requests (s): {latency}\n"
        f"  errors by status: {errors}\n"
        f"  ok/requests per model: {per_model}",
        flush=True,
    )


# --- the server -------------------------------------------------------------------------------
def archived_models() -> list[str]:
    return [m for m in CANDIDATE_MODELS if (ROOT / "model_store" / f"{m}.mar").exists()]


@contextlib.contextmanager
def own_server(models: list[str]) -> Iterator[torchserve.Server]:
    """TorchServe on free loopback ports (harness/torchserve.py), stopped on the way out."""
    with tempfile.TemporaryDirectory(prefix="dronesr-load-") as workdir:
        print(f"starting TorchServe with {models} ...", file=sys.stderr, flush=True)
        server = torchserve.start(Path(workdir), ROOT / "model_store", models)
        try:
            yield server
        finally:
            server.stop()


def scale(management: str, models: list[str], workers: int) -> None:
    """Set every model to exactly ``workers`` workers and wait until they are up (synchronous=true)."""
    for model in models:
        response = requests.put(
            f"{management}/models/{model}", params={"min_worker": workers, "max_worker": workers, "synchronous": "true"}, timeout=300
        )
        response.raise_for_status()


def measure(url: str, args: argparse.Namespace, photo: bytes, **labels) -> dict:
    models = answering_models(url, photo, tuple(args.models), args.timeout)
    if not models:
        sys.exit(f"no model answers at {url}")
    results, elapsed = run_load(url, models, photo, args.clients, args.seconds, args.timeout)
    summary = summarize(results, elapsed, clients=args.clients, models=",".join(models), **labels)
    print_summary(summary)
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=bounded(1, MAX_CLIENTS), default=4, help=f"concurrent clients, 1..{MAX_CLIENTS} (default: 4)")
    parser.add_argument("--seconds", type=bounded(1, MAX_SECONDS), default=20, help=f"duration of each run, 1..{MAX_SECONDS} (default: 20)")
    parser.add_argument("--url", type=loopback_url, help="inference API of a running server (loopback only); default: start one")
    parser.add_argument(
        "--workers", type=int, nargs="+", choices=(1, 2), help="workers per model, one run each (own server only; default: 1)"
    )
    parser.add_argument(
        "--models",
        nargs="+",
        default=list(CANDIDATE_MODELS),
        help=f"models to alternate (default: {' '.join(CANDIDATE_MODELS)}; 404s skipped)",
    )
    parser.add_argument("--timeout", type=float, default=120.0, help="client timeout per request, seconds (default: 120)")
    parser.add_argument("--json", type=Path, help="also write the summaries to this file")
    args = parser.parse_args(argv)
    if args.url and args.workers:
        parser.error("--workers scales a server this tool starts; for --url use: make scale MODEL=... WORKERS=...")

    photo = sample_photo()
    if args.url:
        summaries = [measure(args.url, args, photo)]
    else:
        models = archived_models()
        if not models:
            sys.exit("no model_store/*.mar: run make archive (make load does)")
        summaries = []
        with own_server(models) as server:
            for workers in args.workers or [1]:
                scale(server.management, models, workers)
                summaries.append(measure(server.inference, args, photo, workers=workers))
    if args.json:
        args.json.write_text(json.dumps(summaries, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
