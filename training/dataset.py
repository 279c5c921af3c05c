"""Build a deterministic train/val/test split manifest from a folder of images and videos.

    python -m training.dataset --images ../shared/data/ifo --out data/ifo_manifest.json

Each group is listed sorted by file name (a group is a sub-folder, the class, or with
``--group-by prefix`` the file-name prefix before the first ``_``, as in ``aerial/``:
``caliterra_*``, ``seneca_*``, ...); the file at index i goes to ``test`` when
i % 10 == 0 (the fixed IFO test split), to ``val`` when i % 10 == 5, and to ``train`` otherwise,
so the split never depends on the machine, the file system order or a random seed. Video files are
sampled to PNG frames (``--frame-every`` seconds) under ``--frames-dir`` and then treated as images.
Images smaller than the training crop are reported and left out.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

from PIL import Image

from dronesr.files import IMAGE_SUFFIXES as FILE_IMAGE_SUFFIXES
from dronesr.files import VIDEO_SUFFIXES
from training.options import ConfigError, exits_on_config_error

# Still photos a dataset takes: every image suffix but .gif (animations, dithered palettes: not
# training photos; leaving them out also keeps the fixed splits as they were).
IMAGE_SUFFIXES = tuple(s for s in FILE_IMAGE_SUFFIXES if s != ".gif")


def split_of(index: int) -> str:
    if index % 10 == 0:
        return "test"
    if index % 10 == 5:
        return "val"
    return "train"


def extract_frames(video: Path, frames_dir: Path, every_seconds: float) -> list[Path]:
    """Write one PNG every ``every_seconds`` of ``video``; returns their paths (needs PyAV)."""
    try:
        import av
    except ImportError:
        raise ConfigError(f"{video}: reading videos needs PyAV (pip install av)") from None
    out_dir = frames_dir / video.stem
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    next_time = 0.0
    with av.open(str(video)) as container:
        stream = container.streams.video[0]
        for frame in container.decode(stream):
            if frame.time is None or frame.time + 1e-6 < next_time:
                continue
            path = out_dir / f"{video.stem}_{len(written):05d}.png"
            frame.to_image().save(path)
            written.append(path)
            next_time += every_seconds
    return written


def _relative_if_inside(path: Path, root: Path) -> str:
    """Paths inside the image folder are stored relative to it, so a manifest survives a move."""
    path, root = path.resolve(), root.resolve()
    return str(path.relative_to(root)) if path.is_relative_to(root) else str(path)


GROUPINGS = ("folder", "prefix")


def group_of(path: Path, images: Path, group_by: str) -> str:
    folder = str(path.parent.relative_to(images))
    return folder if group_by == "folder" else f"{folder}/{path.name.split('_', 1)[0]}"


def build_manifest(images: Path, min_side: int, frames_dir: Path, frame_every: float, group_by: str = "folder") -> tuple[dict, list[str]]:
    groups: dict[str, list[Path]] = defaultdict(list)
    for path in sorted(p for p in images.rglob("*") if p.is_file()):
        suffix = path.suffix.lower()
        group = group_of(path, images, group_by)
        if suffix in IMAGE_SUFFIXES:
            groups[group].append(path)
        elif suffix in VIDEO_SUFFIXES:
            groups[f"{group}/{path.stem}"].extend(extract_frames(path, frames_dir, frame_every))

    manifest: dict = {"root": str(images.resolve()), "min_side": min_side, "train": [], "val": [], "test": []}
    skipped: list[str] = []
    for group in sorted(groups):
        for index, path in enumerate(sorted(groups[group], key=lambda p: p.name)):
            try:
                with Image.open(path) as im:
                    width, height = im.size
            except OSError as exc:
                skipped.append(f"{path}: unreadable ({exc})")
                continue
            if min(width, height) < min_side:
                skipped.append(f"{path}: {width}x{height} is smaller than the {min_side}px training crop")
                continue
            manifest[split_of(index)].append(_relative_if_inside(path, images))
    return manifest, skipped


def manifest_paths(manifest_file: Path, split: str) -> list[Path]:
    """Absolute paths of one split of a manifest written by this command."""
    manifest = json.loads(Path(manifest_file).read_text())
    return [Path(manifest["root"]) / p for p in manifest[split]]


@exits_on_config_error
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=Path, required=True, help="folder of images/videos (sub-folders = classes)")
    parser.add_argument("--out", type=Path, required=True, help="manifest JSON to write")
    parser.add_argument("--min-side", type=int, default=96, help="smallest usable side, the HR training crop (default: 96)")
    parser.add_argument("--frames-dir", type=Path, default=Path("data/frames"), help="where video frames go (default: data/frames)")
    parser.add_argument("--group-by", choices=GROUPINGS, default="folder", help="what a split group is: the sub-folder or the file-name prefix before '_' (default: folder)")
    parser.add_argument("--frame-every", type=float, default=1.0, help="seconds between sampled video frames (default: 1.0)")
    args = parser.parse_args(argv)
    if not args.images.is_dir():
        raise ConfigError(f"--images {args.images}: not a folder")

    manifest, skipped = build_manifest(args.images, args.min_side, args.frames_dir, args.frame_every, args.group_by)
    for line in skipped:
        print(f"skipped {line}", file=sys.stderr)
    if not manifest["train"]:
        raise ConfigError(f"no usable training images under {args.images}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(manifest, indent=1))
    counts = ", ".join(f"{k} {len(manifest[k])}" for k in ("train", "val", "test"))
    print(f"wrote {args.out}: {counts}; skipped {len(skipped)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
