"""What ensemble=auto costs: uploads to a served SR model with its 8 passes averaged against one
pass (``ensemble=false``), through TorchServe, median of ``--repeats`` requests each (8 passes
timed for the uploads auto averages).

srresnet's ``ensemble_auto_pixels`` (handlers/srresnet-config.yaml) decide which uploads pay it;
the largest of them should cost no more than the 960x540 frame of ``make bench`` does in one pass.

    make archive && python -m bench.ensemble_bench            # 100x100, 256x256 and 960x540 PNGs
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import requests

from bench.timing import log, machine_info, median_seconds
from dronesr.image.codecs import encode_image
from harness import ROOT, torchserve
from harness.images import synthetic_photo


def post(url: str, body: bytes, ensemble: str) -> str:
    response = requests.post(url, files={"data": ("frame.png", body, "image/png")}, data={"ensemble": ensemble}, timeout=600)
    if response.status_code != 200:
        raise RuntimeError(f"POST {url} ensemble={ensemble}: HTTP {response.status_code}: {response.text[:300]}")
    return response.headers.get("X-Ensemble", "")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="srresnet", help="served model: model_store/NAME.mar")
    parser.add_argument("--sizes", default="100x100,256x256,960x540", help="WxH of the PNG uploads, comma-separated")
    parser.add_argument("--repeats", type=int, default=3, help="requests per configuration; the median is reported")
    args = parser.parse_args(argv)
    if not (ROOT / "model_store" / f"{args.model}.mar").exists():
        raise SystemExit(f"model_store/{args.model}.mar not found: run `make archive` first")
    machine = machine_info(threads=0)
    print(f"{machine['cpu']} ({machine['cpu_features']}), GPU: {machine['gpu'] or 'none'}; served {args.model}, PNG uploads, median of {args.repeats}")
    with tempfile.TemporaryDirectory(prefix="ensemble_bench_") as workdir:
        log("starting TorchServe ...")
        server = torchserve.start(Path(workdir), ROOT / "model_store", [args.model])
        try:
            url = f"{server.inference}/predictions/{args.model}"
            print(f"{'upload':>10}  {'1 pass':>8}  {'8 passes':>8}  ratio  ensemble=auto")
            for size in args.sizes.split(","):
                width, height = (int(v) for v in size.split("x"))
                body = encode_image(synthetic_photo(width, height), None, "png")[0]
                auto = post(url, body, "auto")  # also warms the worker for this size
                one = median_seconds(lambda: post(url, body, "false"), args.repeats)
                if auto.startswith("8 "):  # the uploads auto averages: what they pay for it
                    eight = median_seconds(lambda: post(url, body, "true"), args.repeats)
                    print(f"{size:>10}  {one:7.2f}s  {eight:7.2f}s  {eight / one:5.1f}  {auto}")
                else:
                    print(f"{size:>10}  {one:7.2f}s  {'-':>8}  {'-':>5}  {auto}")
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
