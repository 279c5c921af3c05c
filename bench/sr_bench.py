"""How fast super-resolution runs on this machine, what each optimisation bought, and whether the
served path earns its keep.

The served generator is meant to be cheaper than the classic SRResNet-16 (64 channels, 16 blocks),
and serving must not give that back in HTTP, decoding, tiling and encoding. Hence the bar:

    a request to TorchServe's inference API (PNG upload, decode, tiles, model in the precision
    the worker measured fastest, stitch, PNG encode, reply), divided by a plain in-process float32
    channels_last SRResNet-16 forward of the same frame, is at most 0.15 on a CPU with AMX
    (bfloat16 matrix units) and at most 0.30 on one without,

both timed here, side by side, in one run. Around it are the figures needed to read it: the
machine's convolution peak (achieved GFLOP/s only mean something as a fraction of it), our model
in process (untiled, and tiled as the handler runs it), and the speed-up of each step taken
(channels_last, threads, tile batches, the lighter architecture). bench/README.md explains the table.

    python -m bench.sr_bench              # make bench (builds model_store/*.mar first)
    python -m bench.sr_bench --width 240 --height 136 --repeats 1 --skip-server   # smoke run
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import resource
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import yaml
from PIL import Image
from torch import nn

from bench.sr_report import Results, print_report, write_json
from bench.sr_served import frame_uploads, time_served
from bench.timing import FrameBench, Step, Timing, conv_peak_gflops, log, machine_info, torch_threads
from dronesr.archs import SRResNet
from dronesr.image.codecs import decode_image, encode_image, rgb_to_tensor, tensor_to_rgb
from dronesr.sr.upscaler import Upscaler, prepare_for_inference
from dronesr.model_settings import ModelSettings
from harness import ROOT
from harness.images import synthetic_photo

IFO_PHOTOS = ROOT.parent / "shared" / "data" / "ifo"
REFERENCE = {"channels": 64, "num_blocks": 16}  # SRResNet-16 of Ledig et al. 2017, without batch norm


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
    return synthetic_photo(width, height), "synthetic (gradients, a disc, noise): ../shared/data/ifo not found"


def handler_settings(model_name: str) -> ModelSettings:
    """The ``handler:`` section of the served model's model-config.yaml, as the handler reads it."""
    config = yaml.safe_load((ROOT / "handlers" / f"{model_name}-config.yaml").read_text())
    return ModelSettings.from_section(config.get("handler", {}))


def reference_srresnet16(scale: int) -> SRResNet:
    """Plain SRResNet-16 with random weights. Its zero-initialised tail is re-drawn small, so the
    network is not an exact bicubic upsampler (the arithmetic is the same either way)."""
    torch.manual_seed(0)
    model = SRResNet(scale=scale, **REFERENCE)
    nn.init.normal_(model.tail.weight, std=1e-3)
    return prepare_for_inference(model)


def describe(model: nn.Module) -> str:
    parameters = sum(p.numel() for p in model.parameters())
    arguments = ", ".join(f"{k} {v}" for k, v in getattr(model, "arch_kwargs", {}).items())
    return f"{type(model).__name__} ({arguments}), {parameters / 1e6:.2f} M parameters"


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
    untiled = bench.time("untiled forward", lambda: upscaler.enlarge(bench.image, tiled=False), bench.untiled_flops(upscaler.model))
    tiled = bench.time(
        f"tiled {upscaler.tile}/{upscaler.overlap}, tile_batch {upscaler.tile_batch} ({bench.tile_label(upscaler)})",
        lambda: upscaler.enlarge(bench.image),
        bench.tiled_flops(upscaler),
    )
    return untiled, tiled


def time_reference(bench: FrameBench, scale: int, threads: int) -> Timing:
    reference = Upscaler(reference_srresnet16(scale))  # prepare_for_inference: eval, channels_last
    shape = f"{REFERENCE['channels']} ch x {REFERENCE['num_blocks']}"
    return bench.time(
        f"SRResNet-16 reference ({shape}, eager, channels_last, threads {threads}, untiled)",
        lambda: reference.enlarge(bench.image, tiled=False),
        bench.untiled_flops(reference.model),
    )


def time_low_precision(bench: FrameBench, upscaler: Upscaler, tiled: Timing, requested: str) -> tuple[Timing | None, Upscaler, str]:
    """The tiled path in the precision a worker would choose (``requested``, as in its
    model-config.yaml), if not float32; also that Upscaler, for the handler's steps."""
    fast = dataclasses.replace(upscaler)
    choice = fast.select_precision(requested)
    if choice.precision == "float32":
        return None, fast, choice.summary()
    timing = bench.time(f"tiled, {choice.precision} autocast (the worker's measured choice)", lambda: fast.enlarge(bench.image), tiled.flops)
    return timing, fast, choice.summary()


def time_pipeline(bench: FrameBench, upscaler: Upscaler, png: bytes) -> list[Timing]:
    """The handler's steps one by one, in process: decode the PNG upload, pixels to tensor, tiles
    through the model (+ stitch), tensor to pixels, encode the PNG reply."""
    max_pixels = bench.image.shape[-1] * bench.image.shape[-2]
    decoded = decode_image(png, max_pixels)
    tensor = rgb_to_tensor(decoded.rgb)
    output = upscaler.enlarge(tensor)
    rgb = tensor_to_rgb(output)
    steps = [
        ("decode PNG upload", lambda: decode_image(png, max_pixels)),
        ("pixels to tensor", lambda: rgb_to_tensor(decoded.rgb)),
        (f"tiles -> model ({upscaler.precision}) -> stitch", lambda: upscaler.enlarge(tensor)),
        ("tensor to pixels", lambda: tensor_to_rgb(output)),
        ("encode PNG reply", lambda: encode_image(rgb, None, "png")),
    ]
    return [bench.time(label, run, 0.0) for label, run in steps]


def time_undone_steps(bench: FrameBench, upscaler: Upscaler, untiled: Timing, tiled: Timing, threads: int) -> list[Step]:
    """Each optimisation of the served path undone on its own, everything else kept."""
    nchw = eager_forward(upscaler.model, bench.image, torch.contiguous_format)
    steps = [Step("channels_last instead of NCHW memory (untiled)", bench.time("untiled, NCHW memory", nchw, untiled.flops), untiled)]
    if threads > 1:
        one_thread = in_threads(1, lambda: upscaler.enlarge(bench.image, tiled=False))
        without = bench.time("untiled, 1 thread", one_thread, untiled.flops)
        steps.append(Step(f"{threads} torch threads instead of 1 (untiled)", without, untiled))
    if upscaler.tile_batch > 1 and bench.tiles(upscaler) > 1:
        one_tile_at_a_time = dataclasses.replace(upscaler, tile_batch=1)
        without = bench.time("tiled, tile_batch 1", lambda: one_tile_at_a_time.enlarge(bench.image), tiled.flops)
        steps.append(Step(f"tile_batch {upscaler.tile_batch} instead of 1 (tiled)", without, tiled))
    return steps


# --- main --------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add = parser.add_argument
    add("--width", type=int, default=960, help="frame width, input pixels (default: %(default)s)")
    add("--height", type=int, default=540, help="frame height, input pixels (default: %(default)s)")
    add("--repeats", type=int, default=3, help="runs per configuration; the median is reported (default: %(default)s)")
    add("--weights", type=Path, help="our model for the in-process figures (default: the --model archive's own network, weights/ + its config's weights)")
    add("--baseline", help="another archive in model_store/ timed by the same server (PNG upload), e.g. an earlier release: make baseline-archive (default: none)")
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


def model_info(args: argparse.Namespace, upscaler: Upscaler, settings: ModelSettings) -> dict:
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
    args.weights = args.weights or ROOT / "weights" / settings.weights
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
        results.served, results.worker = time_served(bench, args.model, uploads, tiled.flops, args.baseline)
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
