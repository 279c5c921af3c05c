"""Inputs to outputs: walk files and folders, name each result under the output folder, write it
atomically (a temporary name renamed at the end, so Ctrl-C leaves no half-written file), and go
on past a bad file: each failure is reported with its reason and counted in the summary."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from dronesr.cli import large_image
from dronesr.cli.transforms import Transform
from dronesr.cli.video import OUTPUT_SUFFIX, VideoOptions, process_video
from dronesr.files import IMAGE_SUFFIXES, VIDEO_SUFFIXES, atomic_output
from dronesr.image.codecs import JPEG_QUALITY, check_encodable, decode_image, encode_image
from dronesr.errors import ClientError

FORMAT_SUFFIX = {"png": ".png", "jpeg": ".jpg", "webp": ".webp", "tiff": ".tif"}
# --format same: the source's format where we can write it, else PNG (BMP, GIF sources). TIFF stays
# TIFF (with its georeference) where the upscale command writes it (cli/large_image.py), else PNG.
SAME_FORMAT = {"JPEG": "jpeg", "MPO": "jpeg", "PNG": "png", "WEBP": "webp", "TIFF": "tiff"}


@dataclass(frozen=True)
class Job:
    source: Path
    relative: Path  # where the result goes under the output folder (suffix still the source's)

    @property
    def is_video(self) -> bool:
        return self.source.suffix.lower() in VIDEO_SUFFIXES


@dataclass
class Summary:
    written: list[Path] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)
    failed: list[tuple[Path, str]] = field(default_factory=list)

    def report(self) -> str:
        lines = [f"{len(self.written)} written, {len(self.skipped)} skipped (output exists; --overwrite to redo), {len(self.failed)} failed"]
        lines += [f"  failed: {path}: {reason}" for path, reason in self.failed]
        return "\n".join(lines)


def collect_jobs(inputs: Iterable[Path]) -> tuple[list[Job], list[tuple[Path, str]]]:
    """Files as given, folders walked recursively (sorted; hidden files skipped) keeping their
    layout. Returns the jobs and the inputs that are neither (missing, unknown suffix)."""
    jobs, problems = [], []
    for item in inputs:
        if item.is_dir():
            for path in sorted(p for p in item.rglob("*") if p.is_file()):
                relative = path.relative_to(item)
                if any(part.startswith(".") for part in relative.parts):
                    continue
                if path.suffix.lower() in IMAGE_SUFFIXES + VIDEO_SUFFIXES:
                    jobs.append(Job(path, relative))
                else:
                    problems.append((path, f"not an image or video suffix ({', '.join(IMAGE_SUFFIXES + VIDEO_SUFFIXES)})"))
        elif item.is_file():
            jobs.append(Job(item, Path(item.name)))
        else:
            problems.append((item, "no such file or folder"))
    return jobs, problems


@dataclass
class BatchRunner:
    transform: Transform
    out_dir: Path
    output_format: str = "same"  # same, png, jpeg or webp
    jpeg_quality: int = JPEG_QUALITY
    strip_metadata: bool = False
    overwrite: bool = False
    video: VideoOptions = field(default_factory=VideoOptions)
    provenance: bool = True  # write the provenance record (dronesr/image/provenance.py) into images
    invention_map: bool = False  # also write NAME.map.png beside each photo's result (srgan)
    engine: object | None = None  # upscale: enlarges photos and maps window by window (cli/large_image.py)
    large: object | None = None  # its limits and TIFF options (large_image.LargeImageOptions)

    def target_for(self, job: Job, source_format: str | None = None) -> Path:
        if job.is_video:
            return self.out_dir / job.relative.with_suffix(OUTPUT_SUFFIX[job.source.suffix.lower()])
        return self.out_dir / job.relative.with_suffix(FORMAT_SUFFIX[self.format_for(job, source_format)])

    def format_for(self, job: Job, source_format: str | None) -> str:
        if self.output_format != "same":
            return self.output_format
        if source_format is None:  # not decoded yet: judge by the suffix
            source_format = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".webp": "WEBP", ".tif": "TIFF", ".tiff": "TIFF"}.get(job.source.suffix.lower(), "")
        fmt = SAME_FORMAT.get(source_format, "png")
        return "png" if fmt == "tiff" and self.engine is None else fmt

    def run(self, jobs: list[Job], summary: Summary) -> Summary:
        for number, job in enumerate(jobs, 1):
            target = self.target_for(job)
            prefix = f"[{number}/{len(jobs)}] {job.source}"
            if target.resolve() == job.source.resolve():
                summary.failed.append((job.source, "the output would replace the input; choose another output folder"))
                print(f"{prefix}: failed: the output would replace the input", file=sys.stderr)
                continue
            if target.exists() and not self.overwrite:
                summary.skipped.append(target)
                print(f"{prefix}: skipped, {target} exists", file=sys.stderr)
                continue
            started = time.perf_counter()
            try:
                detail = self._video(job, target) if job.is_video else self._image(job)
            except (ClientError, ValueError, OSError, RuntimeError) as exc:  # av errors are OSError/ValueError subclasses
                reason = exc.message if isinstance(exc, ClientError) else f"{type(exc).__name__}: {exc}"
                summary.failed.append((job.source, reason))
                print(f"{prefix}: failed: {reason}", file=sys.stderr)
                continue
            summary.written.append(target)
            print(f"{prefix} -> {target} ({detail}, {time.perf_counter() - started:.1f} s)", file=sys.stderr)
        return summary

    def _image(self, job: Job) -> str:
        streamed = large_image.enlarge_file(self, job)  # whole photos and maps, window by window
        if streamed is not None:
            return streamed
        image = decode_image(job.source.read_bytes(), self.transform.max_input_pixels)
        fmt = self.format_for(job, image.source_format)  # --format same: the decoded format, not the suffix
        check_encodable(self.transform.result_size(image.width, image.height), fmt)
        if self.invention_map:
            result, mapped = self.transform.image_and_map(image)
        else:
            result, mapped = self.transform.image(image), None
        provenance = result.provenance if self.provenance else None
        body, _ = encode_image(result.rgb, result.alpha, fmt, self.jpeg_quality, None if self.strip_metadata else result.metadata, provenance)
        target = self.target_for(job, image.source_format)
        if mapped is not None:
            map_record = provenance.with_parameters(output="map") if provenance else None
            map_body, _ = encode_image(mapped, None, "png", provenance=map_record)
            with atomic_output(target.with_name(target.stem + ".map.png")) as path:
                path.write_bytes(map_body)
        with atomic_output(target) as path:
            path.write_bytes(body)
        return f"{image.width}x{image.height} -> {result.width}x{result.height} {fmt}"

    def _video(self, job: Job, target: Path) -> str:
        bar = tqdm(desc=job.source.name, unit="frame", file=sys.stderr, leave=False, dynamic_ncols=True)

        def progress(done: int, total: int) -> None:
            if total and bar.total != total:
                bar.total = total
            bar.update(1)

        try:
            with atomic_output(target) as path:
                record = getattr(self.transform, "provenance", None) if self.provenance else None
                result = process_video(
                    job.source, path, self.transform, self.video, progress, keep_metadata=not self.strip_metadata,
                    provenance=record.header() if record else None,
                )
        finally:
            bar.close()
        return f"{result.frames} frames at {result.size[0]}x{result.size[1]}, {result.fps:.2f} frames/s"

