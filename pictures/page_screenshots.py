"""The web page's pictures in docs/, from the screenshots the browser test writes to test-output/
(tests/e2e/test_frontend_browser.py drives headless Chromium against a real TorchServe).

    python -m pytest -q tests/e2e/test_frontend_browser.py && python -m pictures.page_screenshots
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from PIL import Image

from dronesr.files import atomic_output
from harness import ROOT

# test-output/ screenshot -> the docs/ picture made of it
PICTURES = {
    "frontend-sr.png": "docs/frontend.jpg",
    "frontend-style.png": "docs/frontend-style.jpg",
    "frontend-invention-map.png": "docs/invention_map_page.png",
}
JPEG_QUALITY = 85  # screenshots of flat UI: a third of PNG's size, no visible loss


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--shots", type=Path, default=ROOT / "test-output", help="the browser test's screenshots (default: test-output)")
    args = p.parse_args(argv)
    missing = [name for name in PICTURES if not (args.shots / name).is_file()]
    if missing:
        print(f"no {', '.join(missing)} in {args.shots}: run the browser test first (see --help)", file=sys.stderr)
        return 1
    for name, target in PICTURES.items():
        shot = Image.open(args.shots / name).convert("RGB")
        out = ROOT / target
        with atomic_output(out) as tmp:
            shot.save(tmp, format="JPEG" if out.suffix == ".jpg" else "PNG", **({"quality": JPEG_QUALITY} if out.suffix == ".jpg" else {}))
        print(f"wrote {target} ({shot.width}x{shot.height})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
