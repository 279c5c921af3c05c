"""``dronesr``: enlarge or stylize photos, folders and drone videos, in process (no server).

    dronesr upscale INPUT... -o OUTDIR [--model srgan|srresnet|FILE] [--format same|png|jpeg|webp]
    dronesr stylize INPUT... -o OUTDIR --style NAME [--blend NAME:W,...] [--strength S]

INPUT: image files, folders (walked recursively; the layout is kept under OUTDIR) and videos
(.mp4 .mov .mkv .avi .webm). A file that cannot be read or is over a limit is reported and
skipped; the exit status is 1 when anything failed, 130 after Ctrl-C, 2 for bad options.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

import torch

from dronesr import limits
from dronesr.cli import large_image, remote
from dronesr.cli.batch import BatchRunner, Summary, collect_jobs
from dronesr.cli.transforms import StyleTransform, Transform, UpscaleTransform
from dronesr.cli.video import VideoOptions
from dronesr.errors import ClientError
from dronesr.image.codecs import JPEG_QUALITY
from dronesr.precision import DEVICES, PRECISIONS, resolve_device
from dronesr.parameters import accepted
from dronesr.sr.plan import UpscalePlan
from dronesr.sr.resolver import SHIPPED_SR, SuperResolver
from dronesr.model_settings import ModelSettings
from dronesr.tiling import DEFAULT_TILE

FORMATS = ("same", "png", "jpeg", "webp", "tiff")


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("inputs", nargs="+", type=Path, metavar="INPUT", help="image files, folders and videos")
    parser.add_argument("-o", "--out-dir", type=Path, required=True, metavar="OUTDIR", help="results go here (created if missing)")
    parser.add_argument("--format", choices=FORMATS, default="same", help="image output format; same: the input's where it can be written, else png")
    parser.add_argument("--quality", type=int, default=JPEG_QUALITY, help="JPEG quality of image outputs")
    parser.add_argument("--device", choices=DEVICES, default="auto", help="auto: CUDA when present, else the CPU")
    parser.add_argument("--precision", choices=PRECISIONS, default="auto", help="auto: the fastest one measured that matches float32 (SR: >= 50 dB; a painting: >= 40 dB)")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    parser.add_argument(
        "--max-input-pixels", type=int,
        help=f"larger images and frames are refused; default: {large_image.MAX_INPUT_PIXELS} for photos and maps upscaled in windows, "
        f"{limits.MAX_INPUT_PIXELS} where a whole frame is held in memory (video, --map, stylize)",
    )
    parser.add_argument("--strip-metadata", action="store_true", help="drop EXIF (camera, date, GPS), ICC and XMP; video: the container's tags")
    parser.add_argument("--no-provenance", action="store_true", help="do not write the provenance record (model, weights SHA-256, settings) into images' XMP")
    parser.add_argument("--overwrite", action="store_true", help="redo outputs that already exist (else they are skipped)")
    parser.add_argument("--crf", type=int, default=VideoOptions.crf, help="video: x264 constant quality (lower is better)")
    parser.add_argument("--preset", default=VideoOptions.preset, help="video: x264 preset (ultrafast ... veryslow)")


def option(parse: Callable[[str], object]) -> Callable[[str], object]:
    """An option's type from a parameter's parser (the one the handlers use): the text parsed once,
    here, into the typed value; argparse exits 2 with the parser's message when it is bad."""

    def convert(text: str) -> object:
        try:
            return parse(text)
        except ClientError as exc:
            raise argparse.ArgumentTypeError(exc.message) from None

    convert.__name__ = parse.__name__.removeprefix("parse_")  # argparse names the type in its messages
    return convert


def add_parameter_options(parser: argparse.ArgumentParser, *scopes: str) -> None:
    """One option per request parameter of these scopes that the command has (the parameter
    table, dronesr/parameters.py): its parser, default and help; a yes/no one is a flag."""
    for parameter in accepted(*scopes):
        if not parameter.cli:
            continue
        flag = "--" + parameter.name.replace("_", "-")
        if parameter.control.get("kind") == "toggle":
            parser.add_argument(flag, dest=parameter.name, action="store_true", help=parameter.help)
        else:
            parser.add_argument(flag, dest=parameter.name, type=option(parameter.parse), default=parameter.default, help=parameter.help)


def build_parser() -> argparse.ArgumentParser:
    formatter = argparse.ArgumentDefaultsHelpFormatter
    parser = argparse.ArgumentParser(prog="dronesr", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    upscale = commands.add_parser("upscale", help="x4 super-resolution", description="x4 super-resolution of photos, folders and videos.", formatter_class=formatter)
    _common(upscale)
    upscale.add_argument("--model", default="srgan", help=f"{' or '.join(SHIPPED_SR)} (the shipped weights), or a weights file: ours, or any SR network spandrel knows (.pt .pth .safetensors)")
    add_parameter_options(upscale, "sr", "fidelity", "restore")
    upscale.add_argument("--map", action="store_true", help="srgan: also write NAME.map.png beside each photo's result: where it departs from what the input supports (docs/serving.md 'The invention map'); not for videos")
    upscale.add_argument("--tile", type=int, help=f"LR tile side in pixels (bounds memory; tiles are stitched without seams); default: {DEFAULT_TILE} on a CPU, {ModelSettings.gpu_tile} on a GPU")
    upscale.add_argument(
        "--max-output-pixels", type=int,
        help=f"larger results are refused: photos and maps by what is written (after --outscale; default {large_image.MAX_OUTPUT_PIXELS}), "
        f"video frames and --map/--region by the network's x4 result (default {limits.MAX_OUTPUT_PIXELS})",
    )
    large_image.add_options(upscale)

    stylize = commands.add_parser("stylize", help="paint photos in a style", description="Fast neural style transfer of photos, folders and videos.", formatter_class=formatter)
    _common(stylize)
    add_parameter_options(stylize, "style")
    stylize.add_argument("--model", default="style", help="style (the shipped weights) or a weights file (.pt)")
    stylize.add_argument("--max-side", type=int, default=limits.STYLE_MAX_SIDE, help="longer images are scaled down to this side first")
    return parser


def load_transform(args: argparse.Namespace) -> Transform:
    device = resolve_device(args.device)
    if args.command == "upscale":
        max_input = max(args.max_input_pixels, limits.MAX_REGION_FRAME_PIXELS) if args.region else args.max_input_pixels
        sr = SuperResolver.open(args.model, device, args.tile, args.precision)
        plan = UpscalePlan.from_options(sr.info.scale, args.outscale, args.fidelity, args.restore, args.region, args.ensemble)
        return UpscaleTransform.open(sr, plan, max_input, args.max_output_pixels)
    return StyleTransform.load(args.model, args.style, args.blend, args.strength, device, args.precision, args.max_input_pixels, args.max_side, args.preserve_colour)


def remote_transform(args: argparse.Namespace) -> Transform:
    """--server: the served model does the network's work (dronesr/cli/remote.py)."""
    return remote.open_remote(
        args.server, args.model, args.outscale, args.fidelity, None if args.restore == "auto" else args.restore,
        args.ensemble if args.ensemble != "auto" else None, args.jobs, args.max_input_pixels, args.max_output_pixels,
    )


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    large = large_image.options_from(args, parser)
    jobs, problems = collect_jobs(args.inputs)
    if not jobs and problems:
        parser.exit(2, "dronesr: nothing to do:\n" + "\n".join(f"  {path}: {reason}" for path, reason in problems) + "\n")
    try:
        transform = remote_transform(args) if getattr(args, "server", None) else load_transform(args)
    except (ClientError, ValueError, KeyError) as exc:
        parser.exit(2, f"dronesr: {exc.message if isinstance(exc, ClientError) else exc}\n")
    except remote.ServerUnavailable as exc:
        print(f"dronesr: {exc}", file=sys.stderr)
        return 1
    print(f"dronesr {args.command}: {transform.summary}; {len(jobs)} input(s) -> {args.out_dir}", file=sys.stderr)
    summary = Summary(failed=list(problems))
    with_map = getattr(args, "map", False)
    if with_map and not transform.sr.has_fidelity:
        parser.exit(2, "dronesr: --map compares the GAN's result with its PSNR network's: it needs --model srgan\n")
    runner = BatchRunner(
        transform, args.out_dir, args.format, args.quality, args.strip_metadata, args.overwrite, VideoOptions(args.crf, args.preset),
        not args.no_provenance, with_map, large_image.engine_for(transform, args), large,
    )
    try:
        runner.run(jobs, summary)
    except remote.ServerUnavailable as exc:
        print(f"\ndronesr: {exc}; stopped (windows already done are kept beside the output: run again to resume)\n{summary.report()}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"\ninterrupted (no half-written output; a large photo's finished windows stay in .NAME.partial/ for a rerun)\n{summary.report()}", file=sys.stderr)
        return 130
    print(summary.report(), file=sys.stderr)
    return 1 if summary.failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
