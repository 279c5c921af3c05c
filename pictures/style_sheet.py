"""Pictures of the served style model: the README's sheet (photos x styles) and the web page's
style gallery (frontend/styles/<name>.jpg), every image produced by the running server.

    make serve
    python -m pictures.style_sheet --out docs/style_sheet.jpg --gallery frontend/styles

Photos: the IFO test split (``--manifest``), one per class; styles: every name the model lists
in its error for an unknown style, so the sheet always shows what is actually served.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from pathlib import Path

import requests
from PIL import Image, ImageDraw

from training.dataset import manifest_paths

CELL = 200


def served_styles(management: str) -> list[str]:
    """The style names the served model has: its ``describe`` through the management API."""
    response = requests.get(f"{management}/models/style?customized=true", timeout=60)
    try:
        names = json.loads(response.json()[0]["customizedMetadata"])["styles"]
    except (ValueError, KeyError, IndexError, TypeError):
        raise SystemExit(f"cannot list the styles at {management}: {response.status_code} {response.text[:200]}") from None
    return names


def stylize(url: str, photo: bytes, style: str) -> Image.Image:
    response = requests.post(f"{url}/predictions/style", data=photo, headers={"X-Dronesr-Style": style, "Accept": "image/png"}, timeout=300)
    if response.status_code != 200:
        raise SystemExit(f"{style}: {response.status_code} {response.text[:200]}")
    return Image.open(io.BytesIO(response.content)).convert("RGB")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="http://127.0.0.1:8080", help="TorchServe's inference API (default: http://127.0.0.1:8080)")
    parser.add_argument("--management", default="http://127.0.0.1:8081", help="its management API, for the style names (default: http://127.0.0.1:8081)")
    parser.add_argument("--manifest", type=Path, default=Path("data/ifo_manifest.json"), help="(default: data/ifo_manifest.json)")
    parser.add_argument("--photos", type=int, default=3, help="test photos, spread over the classes (default: 3)")
    parser.add_argument("--out", type=Path, default=Path("docs/style_sheet.jpg"), help="(default: docs/style_sheet.jpg)")
    parser.add_argument("--gallery", type=Path, help="also write <name>.jpg thumbnails of the first photo here")
    args = parser.parse_args(argv)

    paths = manifest_paths(args.manifest, "test")
    picks = [paths[i * len(paths) // args.photos + 1] for i in range(args.photos)]
    photos = [p.read_bytes() for p in picks]
    styles = served_styles(args.management)
    sheet = Image.new("RGB", (CELL * (len(styles) + 1), 20 + CELL * len(photos)), "white")
    draw = ImageDraw.Draw(sheet)
    for col, label in enumerate(["photo", *styles]):
        draw.text((col * CELL + 4, 4), label, fill="black")
    for row, photo in enumerate(photos):
        sheet.paste(Image.open(io.BytesIO(photo)).convert("RGB").resize((CELL, CELL)), (0, 20 + row * CELL))
        for col, style in enumerate(styles, start=1):
            result = stylize(args.url, photo, style)
            sheet.paste(result.resize((CELL, CELL), Image.LANCZOS), (col * CELL, 20 + row * CELL))
            if args.gallery and row == 0:
                args.gallery.mkdir(parents=True, exist_ok=True)
                result.resize((240, 240), Image.LANCZOS).save(args.gallery / f"{style}.jpg", quality=85)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(args.out)
    print(f"wrote {args.out} ({len(photos)} photos x {len(styles)} styles)" + (f" and {args.gallery}/*.jpg" if args.gallery else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
