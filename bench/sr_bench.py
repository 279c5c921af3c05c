"""How fast super-resolution runs on this machine, what each optimisation bought, and whether the
served path earns its keep.

The served generator is meant to be cheaper than the classic SRResNet-16 (64 channels, 16 blocks),
and serving must not give that back in HTTP, decoding, tiling and encoding. Hence the bar:

    a request to TorchServe's inference API (PNG upload, decode, tiles, model in the precision
    the worker measured fastest, stitch, PNG encode, reply), divided by a plain in-process float32
    channels_last SRResNet-16 forward of the same frame, is at most 0.40 on a CPU with AMX
    (bfloat16 matrix units) and at most 0.65 on one without,

both timed here, side by side, in one run. Around it are the figures needed to read it: the
machine's convolution peak (achieved GFLOP/s only mean something as a fraction of it), our model
in process (untiled, and tiled as the handler runs it), and the speed-up of each step taken
(channels_last, threads, tile batches, the lighter architecture). bench/README.md explains the table.

    python -m bench.sr_bench              # make bench (builds model_store/*.mar first)
    python -m bench.sr_bench --width 240 --height 136 --repeats 1 --skip-server   # smoke run
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import dataclasses
import functools
import json
import os
import platform
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import requests
import torch
import yaml
from PIL import Image
from torch import nn

from dronesr.archs import SRResNet
from dronesr.imaging import decode_image, encode_image, rgb_to_tensor, tensor_to_rgb
from dronesr.inference import Upscaler, prepare_for_inference
from dronesr.precision import cpu_features
from dronesr.serving.settings import HandlerSettings
from dronesr.tiling import count_tiles
from harness import torchserve

from harness import ROOT
IFO_PHOTOS = ROOT.parent / "shared" / "data" / "ifo"
REFERENCE = {"channels": 64, "num_blocks": 16}  # SRResNet-16 of Ledig et al. 2017, without batch norm
PEAK_INPUT = (1, 64, 256, 256)  # the peak convolution: 3x3, 64 -> 64 channels on this input
PEAK_RUNS = 5
BN_NOTE = "folded batch norm: not applicable, the generator has no batch norm"
BAR_ROUTE = "TorchServe, PNG upload"
BAR_RATIO = {"amx": 0.40, "no amx": 0.65}  # served / reference, by whether the CPU has AMX
UPLOADS = {"PNG": "png", "JPEG q90": "jpeg"}  # label: encode_image format
UPLOAD_JPEG_QUALITY = 90


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- timing ------------------------------------------------------------------------------------


@dataclass
class Timing:
    """One configuration: median wall seconds of its runs, and the work one run does."""

    label: str
    seconds: float
    out_pixels: int
    flops: float  # 2 x multiply-accumulates of the convolutions one run executes

    @property
    def megapixels_per_s(self) -> float:
        return self.out_pixels / self.seconds / 1e6

    @property
    def gflops_per_s(self) -> float:
        return self.flops / self.seconds / 1e9

    def as_dict(self) -> dict:
        return {**dataclasses.asdict(self), "megapixels_per_s": self.megapixels_per_s, "gflops_per_s": self.gflops_per_s}


@dataclass
class Step:
    """An optimisation: the same frame timed without it and with it."""

    name: str
    without: Timing
    with_it: Timing

    @property
    def speedup(self) -> float:
        return self.without.seconds / self.with_it.seconds

    def as_dict(self) -> dict:
        return {"name": self.name, "without": self.without.as_dict(), "with": self.with_it.as_dict(), "speedup": self.speedup}


def seconds(run: Callable[[], object]) -> float:
    start = time.perf_counter()
    run()  # the result (a whole output frame) is dropped at once
    return time.perf_counter() - start


def median_seconds(run: Callable[[], object], repeats: int) -> float:
    return statistics.median(seconds(run) for _ in range(repeats))


@contextlib.contextmanager
def torch_threads(count: int) -> Iterator[None]:
    previous = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def conv_macs(model: nn.Module, input_shape: tuple[int, ...]) -> int:
    """Multiply-accumulates of every Conv2d that an input of this shape runs through.

    Counted with forward hooks on a copy on the meta device: shapes propagate, no arithmetic is done.
    """
    meta_model = copy.deepcopy(model).to("meta")
    macs = 0

    def count(conv: nn.Conv2d, inputs: tuple, output: torch.Tensor) -> None:
        nonlocal macs
        macs += output.numel() * (conv.in_channels // conv.groups) * conv.kernel_size[0] * conv.kernel_size[1]

    for module in meta_model.modules():
        if isinstance(module, nn.Conv2d):
            module.register_forward_hook(count)
    with torch.no_grad():
        meta_model(torch.empty(input_shape, device="meta"))
    return macs


def conv_peak_gflops() -> float:
    """Best GFLOP/s of a large 3x3 convolution (fp32, channels_last): what these cores can deliver."""
    conv = nn.Conv2d(PEAK_INPUT[1], 64, 3, padding=1).to(memory_format=torch.channels_last)
    x = torch.rand(PEAK_INPUT).contiguous(memory_format=torch.channels_last)
    flops = 2 * conv_macs(conv, PEAK_INPUT)
    with torch.inference_mode():
        conv(x)  # oneDNN builds its kernel for this shape on the first call
        best = min(seconds(lambda: conv(x)) for _ in range(PEAK_RUNS))
    return flops / best / 1e9


@dataclass
class FrameBench:
    """Times configurations on one frame; knows the output size and how to count a model's work."""

    image: torch.Tensor  # 1 x 3 x H x W float in [0, 1]
    scale: int
    repeats: int

    @property
    def out_pixels(self) -> int:
        return self.image.shape[-2] * self.image.shape[-1] * self.scale**2

    def untiled_flops(self, model: nn.Module) -> float:
        return 2 * conv_macs(model, tuple(self.image.shape))

    def tiles(self, upscaler: Upscaler) -> int:
        return count_tiles(self.image.shape[-2], self.image.shape[-1], upscaler.tile, upscaler.overlap)

    def tiled_flops(self, upscaler: Upscaler) -> float:
        """The work of upscale_tiled: every tile runs whole, overlaps included."""
        height, width = self.image.shape[-2:]
        tile_shape = (1, 3, min(upscaler.tile, height), min(upscaler.tile, width))
        return self.tiles(upscaler) * 2 * conv_macs(upscaler.model, tile_shape)

    def time(self, label: str, run: Callable[[], object], flops: float) -> Timing:
        log(f"timing {label} ...")
        timing = Timing(label, median_seconds(run, self.repeats), self.out_pixels, flops)
        log(f"    {timing.seconds:.2f} s")
        return timing


# --- the frame and the models ------------------------------------------------------------------


def photo_mosaic(width: int, height: int) -> np.ndarray:
    """The first photo of each IFO class in a 2x2 mosaic, scaled (bicubic) to cover the frame, centre crop."""
    folders = sorted(d for d in IFO_PHOTOS.iterdir() if d.is_dir())[:4]
    mosaic = Image.new("RGB", (800, 800))
    for i, folder in enumerate(folders):
        photo = Image.open(min(folder.iterdir())).convert("RGB").resize((400, 400), Image.BICUBIC)
        mosaic.paste(photo, (400 * (i % 2), 400 * (i // 2)))
    side = max(width, height)
    covered = mosaic.resize((side, side), Image.BICUBIC)
    left, top = (side - width) // 2, (side - height) // 2
    return np.asarray(covered.crop((left, top, left + width, top + height)))


def make_frame(width: int, height: int) -> tuple[np.ndarray, str]:
    """H x W x 3 uint8: real drone photos when ../shared is there, else a synthetic textured image."""
    if IFO_PHOTOS.is_dir():
        return photo_mosaic(width, height), f"mosaic of four IFO photos ({IFO_PHOTOS})"
    from tests.conftest import synthetic_photo  # the tests' textured image; imported only when needed

    return synthetic_photo(width, height), "synthetic (gradients, a disc, noise): ../shared/data/ifo not found"


def handler_settings(model_name: str) -> HandlerSettings:
    """The ``handler:`` section of the served model's model-config.yaml, as the handler reads it."""
    config = yaml.safe_load((ROOT / "handlers" / f"{model_name}-config.yaml").read_text())
    return HandlerSettings(**config.get("handler", {}))


def reference_srresnet16(scale: int) -> SRResNet:
    """Plain SRResNet-16 with random weights. Its zero-initialised tail is re-drawn small, so the
    network is not an exact bicubic upsampler (the arithmetic is the same either way)."""
    torch.manual_seed(0)
    model = SRResNet(scale=scale, **REFERENCE)
    nn.init.normal_(model.tail.weight, std=1e-3)
    return prepare_for_inference(model)


def describe(model: SRResNet) -> str:
    parameters = sum(p.numel() for p in model.parameters())
    return f"SRResNet {model.head[0].out_channels} ch x {len(model.body)} blocks, {parameters / 1e6:.2f} M parameters"


def eager_forward(model: nn.Module, image: torch.Tensor, memory_format: torch.memory_format) -> Callable[[], torch.Tensor]:
    """A plain forward with weights and input in ``memory_format`` (Upscaler always uses channels_last)."""
    model = copy.deepcopy(model).to(memory_format=memory_format)
    image = image.contiguous(memory_format=memory_format)

    def run() -> torch.Tensor:
        with torch.inference_mode():
            return model(image)

    return run


def in_threads(count: int, run: Callable[[], object]) -> Callable[[], object]:
    def wrapped() -> object:
        with torch_threads(count):
            return run()

    return wrapped


# --- in process --------------------------------------------------------------------------------


def time_our_model(bench: FrameBench, upscaler: Upscaler) -> tuple[Timing, Timing]:
    """Untiled forward and the handler's tiled path, both through Upscaler."""
    untiled = bench.time("untiled forward", lambda: upscaler.upscale_tensor(bench.image, tiled=False), bench.untiled_flops(upscaler.model))
    tiled = bench.time(
        f"tiled {upscaler.tile}/{upscaler.overlap}, tile_batch {upscaler.tile_batch} ({bench.tiles(upscaler)} tiles)",
        lambda: upscaler.upscale_tensor(bench.image),
        bench.tiled_flops(upscaler),
    )
    return untiled, tiled


def time_reference(bench: FrameBench, scale: int, threads: int) -> Timing:
    reference = Upscaler(reference_srresnet16(scale))  # prepare_for_inference: eval, channels_last
    shape = f"{REFERENCE['channels']} ch x {REFERENCE['num_blocks']}"
    return bench.time(
        f"SRResNet-16 reference ({shape}, eager, channels_last, threads {threads}, untiled)",
        lambda: reference.upscale_tensor(bench.image, tiled=False),
        bench.untiled_flops(reference.model),
    )


def time_low_precision(bench: FrameBench, upscaler: Upscaler, tiled: Timing, requested: str) -> tuple[Timing | None, Upscaler, str]:
    """The tiled path in the precision a worker would choose (``requested``, as in its
    model-config.yaml), if not float32; also that Upscaler, for the handler's steps."""
    fast = dataclasses.replace(upscaler)
    choice = fast.select_precision(requested)
    if choice.precision == "float32":
        return None, fast, choice.summary()
    timing = bench.time(f"tiled, {choice.precision} autocast (the worker's measured choice)", lambda: fast.upscale_tensor(bench.image), tiled.flops)
    return timing, fast, choice.summary()


def time_pipeline(bench: FrameBench, upscaler: Upscaler, png: bytes) -> list[Timing]:
    """The handler's steps one by one, in process: decode the PNG upload, pixels to tensor, tiles
    through the model (+ stitch), tensor to pixels, encode the PNG reply."""
    max_pixels = bench.image.shape[-1] * bench.image.shape[-2]
    decoded = decode_image(png, max_pixels)
    tensor = rgb_to_tensor(decoded.rgb)
    output = upscaler.upscale_tensor(tensor)
    rgb = tensor_to_rgb(output)
    steps = [
        ("decode PNG upload", lambda: decode_image(png, max_pixels)),
        ("pixels to tensor", lambda: rgb_to_tensor(decoded.rgb)),
        (f"tiles -> model ({upscaler.precision}) -> stitch", lambda: upscaler.upscale_tensor(tensor)),
        ("tensor to pixels", lambda: tensor_to_rgb(output)),
        ("encode PNG reply", lambda: encode_image(rgb, None, "png")),
    ]
    return [bench.time(label, run, 0.0) for label, run in steps]


def time_undone_steps(bench: FrameBench, upscaler: Upscaler, untiled: Timing, tiled: Timing, threads: int) -> list[Step]:
    """Each optimisation of the served path undone on its own, everything else kept."""
    nchw = eager_forward(upscaler.model, bench.image, torch.contiguous_format)
    steps = [Step("channels_last instead of NCHW memory (untiled)", bench.time("untiled, NCHW memory", nchw, untiled.flops), untiled)]
    if threads > 1:
        one_thread = in_threads(1, lambda: upscaler.upscale_tensor(bench.image, tiled=False))
        without = bench.time("untiled, 1 thread", one_thread, untiled.flops)
        steps.append(Step(f"{threads} torch threads instead of 1 (untiled)", without, untiled))
    if upscaler.tile_batch > 1 and bench.tiles(upscaler) > 1:
        one_tile_at_a_time = dataclasses.replace(upscaler, tile_batch=1)
        without = bench.time("tiled, tile_batch 1", lambda: one_tile_at_a_time.upscale_tensor(bench.image), tiled.flops)
        steps.append(Step(f"tile_batch {upscaler.tile_batch} instead of 1 (tiled)", without, tiled))
    return steps


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


def time_served(bench: FrameBench, model_name: str, uploads: dict[str, bytes], flops: float) -> tuple[dict[str, Timing], dict]:
    """Every upload to TorchServe's inference API; then the worker's peak memory."""
    store = ROOT / "model_store"
    if not (store / f"{model_name}.mar").exists():
        raise SystemExit(f"{store / model_name}.mar not found: run `make archive` first (or pass --skip-server)")
    expected = f"{bench.image.shape[-1] * bench.scale}x{bench.image.shape[-2] * bench.scale}"
    with tempfile.TemporaryDirectory(prefix="sr_bench_") as workdir:
        log("starting TorchServe ...")
        server = torchserve.start(Path(workdir), store, [model_name])
        try:
            served = {}
            for upload, body in uploads.items():
                label = f"TorchServe, {upload} upload"
                served[label] = bench.time(label, functools.partial(post_frame, f"{server.inference}/predictions/{model_name}", body, expected), flops)
            return served, worker_memory(server.management, model_name)
        finally:
            server.stop()


# --- report ------------------------------------------------------------------------------------


@dataclass
class Results:
    machine: dict
    frame: dict
    model: dict
    conv_peak_gflops: float
    in_process: list[Timing]
    reference: Timing
    steps: list[Step]
    pipeline: list[Timing] = field(default_factory=list)
    precision: str = ""
    served: dict[str, Timing] = field(default_factory=dict)
    upload_bytes: dict[str, int] = field(default_factory=dict)
    worker: dict = field(default_factory=dict)  # workers, pid, peak_mib
    bench_peak_rss_mib: float = 0.0

    def bar(self) -> dict | None:
        """Served (TorchServe, PNG upload) / in-process float32 SRResNet-16 forward, against the
        ratio for this CPU (with or without AMX)."""
        if BAR_ROUTE not in self.served:
            return None
        served = self.served[BAR_ROUTE].seconds
        kind = "amx" if "amx_bf16" in self.machine["cpu_features"] else "no amx"
        ratio = served / self.reference.seconds
        return {"served_s": served, "reference_s": self.reference.seconds, "ratio": ratio, "target": BAR_RATIO[kind], "cpu": kind, "passed": ratio <= BAR_RATIO[kind]}

    def as_dict(self) -> dict:
        return {
            "machine": self.machine,
            "frame": self.frame,
            "model": self.model,
            "conv_peak_gflops": self.conv_peak_gflops,
            "in_process": [t.as_dict() for t in self.in_process],
            "reference": self.reference.as_dict(),
            "steps": [s.as_dict() for s in self.steps],
            "pipeline": [t.as_dict() for t in self.pipeline],
            "precision": self.precision,
            "batch_norm": BN_NOTE,
            "served": {k: t.as_dict() for k, t in self.served.items()},
            "upload_bytes": self.upload_bytes,
            "worker": self.worker,
            "bar": self.bar(),
            "bench_peak_rss_mib": self.bench_peak_rss_mib,
        }


def table(header: list[str], rows: list[list[str]]) -> str:
    """Plain text columns: the first left-aligned, the figures right-aligned."""
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]

    def line(row: list[str]) -> str:
        return "  " + "  ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths, strict=True)))

    return "\n".join(line(row) for row in [header, *rows])


def timing_row(t: Timing, peak: float) -> list[str]:
    of_peak = 100 * t.gflops_per_s / peak
    return [t.label, f"{t.seconds:.2f}", f"{t.megapixels_per_s:.2f}", f"{t.flops / 1e9:.0f}", f"{t.gflops_per_s:.1f}", f"{of_peak:.0f}%"]


TIMING_HEADER = ["configuration", "seconds", "out MP/s", "GFLOP", "GFLOP/s", "of peak"]


def print_report(r: Results) -> None:
    m, f = r.machine, r.frame
    print(f"\n== Machine: {m['cpu']} ({m['cpu_capability']}; {m['cpu_features']}), {m['logical_cpus']} logical CPUs; torch {m['torch']}, threads {m['threads']}")
    peak_input = "x".join(map(str, PEAK_INPUT))
    print(f"  conv peak: 3x3 conv 64->64 on {peak_input}, channels_last fp32, best of {PEAK_RUNS}: {r.conv_peak_gflops:.1f} GFLOP/s")
    print(f"\n== Frame: {f['width']}x{f['height']} -> {f['out_width']}x{f['out_height']} (x{f['scale']}), {f['source']}")
    print(f"  every figure: median of {f['repeats']} run(s), wall clock; GFLOP = 2 x conv multiply-accumulates per run")
    print(f"\n== In process: {r.model['weights']} ({r.model['description']}); tiling from {r.model['tiling_from']}")
    print(table(TIMING_HEADER, [timing_row(t, r.conv_peak_gflops) for t in [*r.in_process, r.reference]]))
    print("\n== What each step bought (the same frame without the step, then with it)")
    rows = [[s.name, f"{s.without.seconds:.2f}", f"{s.with_it.seconds:.2f}", f"{s.speedup:.2f}x"] for s in r.steps]
    print(table(["step", "without (s)", "with (s)", "speed-up"], rows))
    print(f"  {BN_NOTE}")
    print(f"\n== The handler's steps in process (PNG in, PNG out); {r.precision}")
    print(table(["step", "seconds"], [[t.label, f"{t.seconds:.3f}"] for t in r.pipeline]))
    print_served(r)
    print(f"\n  bench process peak RSS: {r.bench_peak_rss_mib:.0f} MiB")


def print_served(r: Results) -> None:
    if not r.served:
        print("\n== Through TorchServe: skipped (--skip-server)\n\nBAR not evaluated: the served path was not timed (--skip-server)")
        return
    uploads = ", ".join(f"{k} {v / 1024:.0f} KiB" for k, v in r.upload_bytes.items())
    print(f"\n== Through TorchServe: model {r.model['served']}, {r.worker['workers']} worker(s); uploads: {uploads}; reply PNG")
    print(table(TIMING_HEADER, [timing_row(t, r.conv_peak_gflops) for t in r.served.values()]))
    print(f"  worker peak memory (VmHWM of pid {r.worker['pid']}): {r.worker['peak_mib']:.0f} MiB")
    bar = r.bar()
    verdict, relation = ("PASS", "<=") if bar["passed"] else ("FAIL", ">")
    print(
        f"\nBAR {verdict}: served ({BAR_ROUTE}) {bar['served_s']:.2f} s / in-process {r.reference.label} "
        f"{bar['reference_s']:.2f} s = {bar['ratio']:.2f} {relation} {bar['target']:.2f} (the target on a CPU with {bar['cpu']}; {r.machine['cpu_features']})"
    )


def write_json(results: Results, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results.as_dict(), indent=2) + "\n")
    print(f"  figures written to {path}")


# --- main --------------------------------------------------------------------------------------


def machine_info(threads: int) -> dict:
    cpuinfo = Path("/proc/cpuinfo")
    lines = cpuinfo.read_text().splitlines() if cpuinfo.exists() else []
    names = [line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")]
    return {
        "cpu": names[0] if names else platform.processor() or "unknown CPU",
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "cpu_features": cpu_features(),
        "logical_cpus": os.cpu_count(),
        "torch": torch.__version__,
        "threads": threads,
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add = parser.add_argument
    add("--width", type=int, default=960, help="frame width, input pixels (default: %(default)s)")
    add("--height", type=int, default=540, help="frame height, input pixels (default: %(default)s)")
    add("--repeats", type=int, default=3, help="runs per configuration; the median is reported (default: %(default)s)")
    add("--weights", type=Path, default=Path("weights/srgan.pt"), help="our model for the in-process figures (default: %(default)s)")
    add("--model", default="srgan", help="served model name: model_store/NAME.mar, handlers/NAME-config.yaml (default: %(default)s)")
    add("--threads", type=int, default=2, help="torch threads in this process (default: %(default)s)")
    add("--skip-server", action="store_true", help="no TorchServe part, no bar (default: %(default)s)")
    add("--out", type=Path, default=Path("bench/results/sr_bench.json"), help="the figures as JSON (default: %(default)s)")
    args = parser.parse_args(argv)
    if min(args.width, args.height, args.repeats, args.threads) < 1:
        parser.error("--width, --height, --repeats and --threads must be at least 1")
    return args


def frame_info(args: argparse.Namespace, scale: int, source: str) -> dict:
    return {
        "width": args.width,
        "height": args.height,
        "scale": scale,
        "out_width": args.width * scale,
        "out_height": args.height * scale,
        "source": source,
        "repeats": args.repeats,
    }


def model_info(args: argparse.Namespace, upscaler: Upscaler, settings: HandlerSettings) -> dict:
    return {
        "weights": str(args.weights),
        "description": describe(upscaler.model),
        "served": args.model,
        "tiling_from": f"handlers/{args.model}-config.yaml",
        "tile": upscaler.tile,
        "overlap": upscaler.overlap,
        "tile_batch": upscaler.tile_batch,
        "worker_threads": settings.threads,
    }


def measure(args: argparse.Namespace) -> Results:
    """Every figure, in process first (nothing else running), then through TorchServe."""
    settings = handler_settings(args.model)
    upscaler = Upscaler.from_weights(args.weights, tile=settings.tile, overlap=settings.overlap, tile_batch=settings.tile_batch)
    rgb, source = make_frame(args.width, args.height)
    bench = FrameBench(rgb_to_tensor(rgb), upscaler.scale, args.repeats)

    log("measuring the conv peak ...")
    peak = conv_peak_gflops()
    untiled, tiled = time_our_model(bench, upscaler)
    low, fast, precision = time_low_precision(bench, upscaler, tiled, settings.precision)
    reference = time_reference(bench, upscaler.scale, args.threads)
    undone = time_undone_steps(bench, upscaler, untiled, tiled, args.threads)
    if low is not None:
        undone.append(Step("the measured low precision instead of float32 (tiled)", tiled, low))
    pipeline = time_pipeline(bench, fast, encode_image(rgb, None, "png")[0])
    results = Results(
        machine=machine_info(args.threads),
        frame=frame_info(args, upscaler.scale, source),
        model=model_info(args, upscaler, settings),
        conv_peak_gflops=peak,
        in_process=[untiled, tiled, *([low] if low else [])],
        reference=reference,
        steps=[*undone, Step("our architecture instead of SRResNet-16 (untiled)", reference, untiled)],
        pipeline=pipeline,
        precision=precision,
    )
    if not args.skip_server:
        uploads = frame_uploads(rgb)
        results.upload_bytes = {label: len(body) for label, body in uploads.items()}
        results.served, results.worker = time_served(bench, args.model, uploads, tiled.flops)
    results.bench_peak_rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux
    return results


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    results = measure(args)
    print_report(results)
    write_json(results, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
