"""Photos and maps of any size through the command line, in bounded memory (dronesr/streamed.py):
read in windows, enlarged window by window (in process, or by a server: dronesr/cli/remote.py),
written block by block, and only then encoded into the output file.

    input --(libvips / rasterio windows)--> windows --(network)--> stitched, outscaled blocks
          --> NAME.partial/store.tif (uncompressed, written in place) --(libvips / GDAL)--> output

- Readers: JPEG, PNG and WebP through libvips (pyvips with its bundled library: decoded once, to
  a temporary file when large, upright by EXIF orientation); TIFF and GeoTIFF through rasterio
  (GDAL), windows read straight from the file; other formats and modes (BMP, GIF, CMYK, 16-bit
  PNG) are decoded whole by Pillow, as the in-memory path does.
- Writers: JPEG (up to 65,500 px a side), PNG and WebP (16,383) encoded by libvips from the store,
  streaming, with the camera's EXIF/ICC/XMP and the provenance record put in byte for byte as
  Pillow writes them (dronesr/splice.py); TIFF tiled, DEFLATE, BigTIFF where needed, with the
  georeference, nodata/alpha/mask and overviews, or a Cloud-Optimised GeoTIFF (dronesr/image/geotiff.py).
- Resume: ``.NAME.partial/`` beside the output keeps the windows done (in the store) and what
  each passed on to its neighbours; a rerun of the same job goes on from there, another job (other
  input, model or settings) starts afresh. The output is written under a temporary name and renamed
  when complete, and the folder removed.
- Limits count what is written (after ``--outscale``); the defaults are what a machine's disk
  holds, checked before the work: the store takes 3 (4 with a mask) bytes per output pixel.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from tqdm import tqdm

from dronesr.errors import ClientError
from dronesr.files import atomic_output
from dronesr.image.codecs import decode_image
from dronesr.image.metadata import ImageMetadata, read_metadata
from dronesr.image.provenance import Provenance
from dronesr.sr.deblock import DeblockedSource
from dronesr.streamed import WINDOW_TILES, ArraySource, Enlarge, Grid, Scratch, Source, enlarge_streamed, local_enlarger, sample_for_auto

if TYPE_CHECKING:
    from dronesr.cli.batch import BatchRunner, Job

# The command line's own limits for streamed photos and maps (the server's stay in dronesr/limits.py):
# memory does not grow with the picture, so these only stop a typing error from filling a disk.
MAX_INPUT_PIXELS = 4_000_000_000  # 63k x 63k
MAX_OUTPUT_PIXELS = 64_000_000_000  # a 20k x 20k map at x4 is 6.4 GP
# Largest side each encoder writes (libjpeg: 65,500; libwebp: 16,383; PNG and BigTIFF: 2^31 - 1).
MAX_SIDE = {"jpeg": 65_500, "webp": 16_383, "png": 2**31 - 1, "tiff": 2**31 - 1}
# Rough encoded size per output pixel, bytes, for the disk check (a TIFF is DEFLATE-compressed).
ENCODED_BYTES = {"jpeg": 0.5, "webp": 0.5, "png": 3.0, "tiff": 3.0}
VIPS_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp")
TIFF_SUFFIXES = (".tif", ".tiff")


@dataclass(frozen=True)
class LargeImageOptions:
    max_input_pixels: int = MAX_INPUT_PIXELS
    max_output_pixels: int = MAX_OUTPUT_PIXELS  # the size written, after --outscale
    cog: bool = False  # TIFF output as a Cloud-Optimised GeoTIFF


@dataclass
class Picture:
    """An input opened for windowed reading, with what the output needs to know of it."""

    source: Source
    source_format: str  # Pillow's name: JPEG, PNG, WEBP, TIFF, ...
    metadata: ImageMetadata | None = None
    quantization: dict | None = None
    palette: bool = False
    georeference: object | None = None  # geotiff.Georeference for TIFF inputs
    mask_kind: str = "bicubic"  # how the mask is enlarged: bicubic (alpha, as in memory) or nearest (a map's nodata)
    close: object = None

    @property
    def size(self) -> tuple[int, int]:
        return self.source.width, self.source.height


class VipsSource:
    """JPEG, PNG or WebP read in windows through libvips: 8-bit, upright, RGB plus alpha."""

    def __init__(self, image):
        self.image = image
        self.width, self.height = image.width, image.height
        self.has_mask = image.hasalpha() and image.bands in (2, 4) and image.extract_band(image.bands - 1).min() < 255

    def rgb(self, x: int, y: int, width: int, height: int) -> np.ndarray:
        window = self.image.crop(x, y, width, height).numpy()
        if window.ndim == 2:
            window = window[..., None]
        colour = window[..., :1].repeat(3, axis=2) if window.shape[2] in (1, 2) else window[..., :3]
        return np.ascontiguousarray(colour)

    def mask(self, x: int, y: int, width: int, height: int) -> np.ndarray:
        return np.ascontiguousarray(self.image.crop(x, y, width, height).numpy()[..., -1])


def _vips():
    import pyvips  # imported on use: only the streamed path needs libvips

    return pyvips


@contextlib.contextmanager
def _no_bomb_check():
    """Pillow refuses to open pictures over 179 MP (its decompression bomb guard): here a picture's
    size is checked against --max-input-pixels instead, and nothing is decoded by Pillow."""
    from PIL import Image

    before = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        Image.MAX_IMAGE_PIXELS = before


def _header(path: Path) -> tuple[str, ImageMetadata | None, dict | None, bool, str]:
    """(format, metadata, JPEG quantization tables, palette, mode) from the file's header only."""
    from PIL import Image, UnidentifiedImageError

    try:
        with _no_bomb_check(), Image.open(path) as image:
            quantization = dict(image.quantization) if getattr(image, "quantization", None) else None
            return image.format or "", read_metadata(image), quantization, image.mode in ("P", "PA"), image.mode
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise ClientError(f"The file is not an image this command can read ({exc}).", "unsupported_format", 415) from None


def open_picture(path: Path, max_input_pixels: int) -> Picture:
    """``path`` ready to be read in windows; ClientError when it cannot be or is over the limit."""
    if path.suffix.lower() in TIFF_SUFFIXES:
        from dronesr.image.geotiff import RasterSource

        source = RasterSource(path)
        _check_input(source.width, source.height, max_input_pixels)
        return Picture(source, "TIFF", georeference=source.georeference, mask_kind="nearest", close=source.close)
    fmt, metadata, quantization, palette, mode = _header(path)
    if fmt in ("JPEG", "MPO", "PNG", "WEBP") and mode in ("RGB", "RGBA", "L", "LA", "P", "PA"):
        pyvips = _vips()
        try:
            image = pyvips.Image.new_from_file(str(path), access="random", fail=True)
            if image.get_typeof("orientation") and image.get("orientation") != 1:
                image = image.autorot()
        except pyvips.Error as exc:
            raise ClientError(f"The image could not be read: {str(exc).strip()}.", "bad_image") from None
        if image.format == "uchar":
            _check_input(image.width, image.height, max_input_pixels)
            return Picture(VipsSource(image), fmt, metadata, quantization, palette)
    # BMP, GIF, CMYK, 16-bit: decoded whole by Pillow, as in memory
    decoded = decode_image(path.read_bytes(), max_input_pixels)
    return Picture(ArraySource(decoded.rgb, decoded.alpha), decoded.source_format, decoded.metadata, decoded.quantization, decoded.palette)


def _check_input(width: int, height: int, max_input_pixels: int) -> None:
    if width * height > max_input_pixels:
        raise ClientError(f"{width}x{height} = {width * height} pixels is over the input limit of {max_input_pixels} (--max-input-pixels).", "too_large")


def check_output(size: tuple[int, int], fmt: str, max_output_pixels: int) -> None:
    """ClientError before any work when the result cannot be written: over --max-output-pixels
    (what is written, after --outscale) or over the format's largest side, naming what to use."""
    width, height = size
    if width * height > max_output_pixels:
        raise ClientError(
            f"the result would be {width}x{height} = {width * height} pixels, over the limit of {max_output_pixels} (--max-output-pixels; "
            f"it counts what is written, after --outscale).", "too_large",
        )
    if max(size) > MAX_SIDE[fmt]:
        others = "--format tiff (tiled BigTIFF, any size) or --format png" if fmt == "jpeg" else "--format tiff or --format png"
        raise ClientError(f"a {width}x{height} result is over {fmt.upper()}'s limit of {MAX_SIDE[fmt]:,} px per side; use {others}.", "too_large")


def check_disk(folder: Path, size: tuple[int, int], channels: int, fmt: str, cog: bool, kept: int = 0) -> None:
    """ClientError when the output's folder has no room for the store and the encoded result."""
    folder.mkdir(parents=True, exist_ok=True)
    pixels = size[0] * size[1]
    needed = pixels * channels - kept + pixels * ENCODED_BYTES[fmt] * (2 if cog else 1)
    free = shutil.disk_usage(folder).free
    if needed > free:
        raise ClientError(
            f"a {size[0]}x{size[1]} result needs about {needed / 1e9:.1f} GB in {folder} (the uncompressed blocks while it is made, then the "
            f"file), {free / 1e9:.1f} GB are free.", "too_large",
        )


# --- the pixel store -----------------------------------------------------------------------------

class TiffStore:
    """The output's pixels, uncompressed, in a TIFF written in place (os.pwrite at each block's
    offsets: neither mapped nor held in memory); libvips and GDAL then read it as any TIFF."""

    def __init__(self, path: Path, size: tuple[int, int], channels: int):
        import tifffile

        self.path, self.size, self.channels = path, size, channels
        width, height = size
        if not path.exists():
            temporary = path.with_name(path.name + ".tmp")
            extra = {"extrasamples": ("unassalpha",)} if channels == 4 else {}
            created = tifffile.memmap(
                temporary, shape=(height, width, channels), dtype=np.uint8, photometric="rgb", planarconfig="contig",
                bigtiff=width * height * channels > 2**32 - 2**25, rowsperstrip=16, **extra,
            )
            del created  # only the file is wanted: its pages are never touched here
            os.replace(temporary, path)
        with tifffile.TiffFile(path) as tif:
            page = tif.pages[0]
            if page.shape != (height, width, channels) or not page.is_contiguous:
                raise ValueError(f"{path} is not this job's store")
            self.offset = page.dataoffsets[0]
        self.fd = os.open(path, os.O_WRONLY)

    def write(self, x: int, y: int, block: np.ndarray) -> None:
        width, channels = self.size[0], self.channels
        rows = np.ascontiguousarray(block)
        for r in range(rows.shape[0]):
            os.pwrite(self.fd, rows[r].tobytes(), self.offset + ((y + r) * width + x) * channels)

    def flush(self) -> None:
        os.fdatasync(self.fd)

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def encode_with_vips(store: Path, target: Path, fmt: str, quality: int, segments, size: tuple[int, int]) -> None:
    """``store`` encoded as ``fmt`` into ``target`` by libvips, streaming (rows in, rows out), then
    the metadata ``segments`` spliced in."""
    from dronesr.splice import splice

    pyvips = _vips()
    image = pyvips.Image.new_from_file(str(store), access="sequential")
    if image.bands == 4 and fmt == "jpeg":
        image = image.flatten(background=[255, 255, 255])  # JPEG has no alpha: over white, as in memory
    image = image.copy(interpretation="srgb")
    encoded = target.with_name(target.name + ".pixels")
    keep = pyvips.enums.ForeignKeep.NONE
    try:
        if fmt == "jpeg":
            image.jpegsave(str(encoded), Q=quality, subsample_mode="on", keep=keep)  # 4:2:0, as Pillow's default
        elif fmt == "png":
            image.pngsave(str(encoded), compression=1, keep=keep)
        else:
            image.webpsave(str(encoded), Q=90, effort=2, keep=keep)
        if segments is None or segments.empty:
            os.replace(encoded, target)
        else:
            splice(encoded, target, fmt, segments, size)
    finally:
        encoded.unlink(missing_ok=True)


# --- one picture ---------------------------------------------------------------------------------

def job_key(job_source: Path, grid: Grid, channels: int, fmt: str, engine_key: dict, choice: object) -> dict:
    stat = job_source.stat()
    key = {
        "input": str(job_source.resolve()), "bytes": stat.st_size, "mtime_ns": stat.st_mtime_ns, "grid": grid.describe(),
        "channels": channels, "format": fmt, "engine": engine_key, "choice": dataclasses.asdict(choice) if dataclasses.is_dataclass(choice) else str(choice),
    }
    return json.loads(json.dumps(key, default=str))


def partial_folder(target: Path) -> Path:
    return target.with_name(f".{target.name}.partial")


def enlarge_file(runner: BatchRunner, job: Job) -> str | None:
    """``job`` enlarged window by window into its output; None when it is for the in-memory path
    (a picture that fits one window, --map, --region, a model that must see the whole frame)."""
    engine = runner.engine
    if engine is None or not engine.streams(runner):
        return None
    options = runner.large or LargeImageOptions()
    suffix = job.source.suffix.lower()
    guess = runner.format_for(job, None)
    if not engine.remote and guess != "tiff" and suffix not in VIPS_SUFFIXES + TIFF_SUFFIXES:
        return None  # BMP, GIF: in memory, as before
    picture = open_picture(job.source, options.max_input_pixels)
    try:
        return _enlarge_picture(runner, job, picture, options)
    finally:
        if picture.close:
            picture.close()


def _enlarge_picture(runner: BatchRunner, job: Job, picture: Picture, options: LargeImageOptions) -> str | None:
    engine = runner.engine
    source = picture.source
    width, height = picture.size
    fmt = runner.format_for(job, picture.source_format)
    plan = engine.plan
    out_size = plan.result_size(width, height)
    grid = Grid.build(width, height, engine.scale, engine.tile, engine.overlap, out_size, engine.window_tiles, picture.mask_kind)
    if grid.count == 1 and not engine.remote and fmt != "tiff":
        return None  # one window: the in-memory path does the same, with --map and everything else
    check_output(out_size, fmt, options.max_output_pixels)
    target = runner.target_for(job, picture.source_format)
    channels = 4 if source.has_mask else 3
    choice = engine.choose(sample_for_auto(source), picture.quantization, picture.palette, width * height, grid.count)
    if choice.deblock is not None:  # the sample sits on the 8 px grid: its phase is the picture's
        source = DeblockedSource(source, choice.deblock)
    folder = partial_folder(target)
    scratch = Scratch(folder, job_key(job.source, grid, channels, fmt, engine.key(), choice))
    store_path = folder / "store.tif"
    kept = store_path.stat().st_blocks * 512 if store_path.exists() else 0
    check_disk(target.parent, out_size, channels, fmt, options.cog, kept)
    done_before = sum(scratch.is_done(gi, gj) for gi, gj in grid.blocks())
    if done_before:
        print(f"  resuming {job.source.name}: {done_before} of {grid.count} windows kept in {folder}", file=sys.stderr)
    store = TiffStore(store_path, out_size, channels)
    bar = tqdm(total=grid.total_tiles, desc=job.source.name, unit="tile", file=sys.stderr, leave=False, dynamic_ncols=True)
    completed = False
    try:
        enlarge_streamed(source, grid, engine.enlarger(choice, grid), scratch, store, engine.in_flight, bar.update)
        completed = True
    except BaseException as exc:
        from dronesr.cli.remote import ServerUnavailable

        if isinstance(exc, (KeyboardInterrupt, ServerUnavailable)) and hasattr(engine, "abort"):
            engine.abort()  # the run stops: the server's windows still in flight end before the store closes
        raise
    finally:
        bar.close()
        store.close()
        if not completed and not any(scratch.is_done(gi, gj) for gi, gj in grid.blocks()):
            scratch.remove()  # nothing worth keeping
    provenance = engine.provenance(choice) if runner.provenance else None
    metadata = None if runner.strip_metadata else picture.metadata
    with atomic_output(target) as path:
        if fmt == "tiff":
            from dronesr.image.geotiff import write_tiff

            write_tiff(store_path, path, picture.georeference, (width, height), options.cog, provenance, folder)
        else:
            from dronesr.splice import Segments

            pil_format = {"jpeg": "JPEG", "png": "PNG", "webp": "WEBP"}[fmt]
            encode_with_vips(store_path, path, fmt, runner.jpeg_quality, Segments.of(metadata, pil_format, out_size, provenance), out_size)
    scratch.remove()
    kind = "COG" if fmt == "tiff" and options.cog else fmt
    return f"{width}x{height} -> {out_size[0]}x{out_size[1]} {kind}, {grid.total_tiles} tiles in {grid.count} windows"


# --- the in-process engine -----------------------------------------------------------------------

@dataclass
class LocalEngine:
    """Windows enlarged in process by the CLI's model (an ``UpscaleTransform``: cli/transforms.py)."""

    transform: object
    window_tiles: int = WINDOW_TILES
    in_flight: int = 1
    remote: bool = False

    @property
    def plan(self):
        return self.transform.plan

    @property
    def upscaler(self):
        return self.transform.sr.upscaler

    @property
    def scale(self) -> int:
        return self.plan.scale

    @property
    def tile(self) -> int:
        return self.upscaler.tile

    @property
    def overlap(self) -> int:
        return self.upscaler.overlap

    def streams(self, runner: BatchRunner) -> bool:
        """Whole photos only: --region and --map keep the in-memory path, and so does a network
        that must see the whole frame."""
        from dronesr.sr.weights import network_info

        if self.plan.region is not None or runner.invention_map:
            return False
        return getattr(network_info(self.upscaler.model), "tiling", "supported") != "internal"

    def choose(self, sample: np.ndarray, quantization: dict | None, palette: bool, pixels: int, windows: int):
        """fidelity, restore=auto (from ``sample``: the picture, or its central 2 MP) and
        ensemble=auto (by the picture's size, as in memory) for this picture; the blend applied."""
        sr, plan = self.transform.sr, self.plan
        choice = sr.choose(sample, quantization, plan.fidelity, plan.restore, palette, plan.ensemble)
        if plan.ensemble is None and sr.ensemble_auto_pixels:
            ensemble = pixels <= sr.ensemble_auto_pixels
            choice = dataclasses.replace(choice, ensemble=ensemble, ensemble_reason=f"auto: {pixels} input pixels")
        sr.apply(choice)
        return choice

    def enlarger(self, choice, grid: Grid) -> Enlarge:
        return local_enlarger(self.upscaler, grid, choice.ensemble)

    def provenance(self, choice) -> Provenance | None:
        base = self.transform.provenance
        return base.with_parameters(**self.plan.parameters(choice)) if base else None

    def key(self) -> dict:
        base = self.transform.provenance
        fields = {k: v for k, v in (base.fields() if base else {}).items() if k not in ("created", "precision", "device")}
        return {"model": fields, "plan": str(self.plan)}


# --- the command line's options ------------------------------------------------------------------

def add_options(upscale) -> None:
    """The upscale subcommand's options for large pictures and servers (cli/main.py)."""
    upscale.add_argument("--cog", action="store_true", help="TIFF output (a TIFF input, or --format tiff) as a Cloud-Optimised GeoTIFF")
    upscale.add_argument(
        "--server", metavar="URL",
        help="run the network on a served model: a TorchServe /predictions/NAME or KServe v1 .../v1/models/NAME:predict URL "
        "(or http://HOST:PORT: /predictions/MODEL); photos, maps and video frames are sent in windows (dronesr/cli/remote.py)",
    )
    upscale.add_argument("--jobs", type=int, default=2, help="--server: windows in flight at once (about the server's workers or replicas)")


def options_from(args, parser) -> LargeImageOptions:
    """The streamed path's limits from --max-input-pixels / --max-output-pixels (default: this
    module's), and the in-memory path's left in ``args`` (default: the server's, dronesr/limits.py):
    video frames, --map and --region hold a whole frame in memory."""
    from dronesr import limits

    upscale = args.command == "upscale"
    streamed_input = args.max_input_pixels or MAX_INPUT_PIXELS
    streamed_output = (getattr(args, "max_output_pixels", None) or MAX_OUTPUT_PIXELS) if upscale else MAX_OUTPUT_PIXELS
    if args.format == "tiff" and (not upscale or getattr(args, "map", False) or getattr(args, "region", None)):
        parser.exit(2, "dronesr: --format tiff is written by the upscale command for whole photos and maps (not with stylize, --map or --region)\n")
    if upscale and getattr(args, "server", None):
        if args.map or args.region:
            parser.exit(2, "dronesr: --server sends whole photos, maps and frames in windows: --map and --region run in process only\n")
        if args.jobs < 1:
            parser.exit(2, "dronesr: --jobs must be at least 1\n")
        args.max_input_pixels = streamed_input  # frames too go in windows
        args.max_output_pixels = streamed_output
    else:
        args.max_input_pixels = args.max_input_pixels or limits.MAX_INPUT_PIXELS
        if upscale:
            args.max_output_pixels = args.max_output_pixels or limits.MAX_OUTPUT_PIXELS
    return LargeImageOptions(streamed_input, streamed_output, getattr(args, "cog", False))


def engine_for(transform, args):
    """How the batch enlarges whole photos and maps: the server's engine, or the in-process model's."""
    if args.command != "upscale":
        return None
    engine = getattr(transform, "engine", None)
    return engine if engine is not None else LocalEngine(transform)
