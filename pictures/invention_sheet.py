"""What the invention map shows, on real inputs as they are: IFO test photos at their native size
and a crop of an aerial test photo, enlarged by bicubic, by srgan as served (default fidelity,
restore=auto from each file), the map of that result (``output=map``) and the map at fidelity 0
(the GAN itself), at 1:1 output pixels.

    python -m pictures.invention_sheet --out docs/invention_map.jpg     # after make dataset
"""

from __future__ import annotations

import torch

from pictures.fidelity_sheet import draw_sheet, sheet_parser
from dronesr.image.codecs import decode_image
from dronesr.sr.plan import UpscalePlan, upscale
from dronesr.sr.resolver import SuperResolver
from harness import ROOT
from training.evaluate import UPLOAD_LIMIT, Method, as_served


def invention(sr: SuperResolver, fidelity: float | None = None) -> Method:
    """The map ``output=map`` answers for the upload (dronesr/sr/invention.py), as a tensor."""
    scale = sr.upscaler.scale
    plan = UpscalePlan(scale, float(scale), fidelity, output="map")

    def call(lr: torch.Tensor, data: bytes) -> torch.Tensor:
        mapped = upscale(sr, decode_image(data, UPLOAD_LIMIT), plan).image.rgb
        return torch.from_numpy(mapped).permute(2, 0, 1)[None].float() / 255

    return call


def main(argv: list[str] | None = None) -> int:
    args = sheet_parser(__doc__, ROOT / "docs/invention_map.jpg").parse_args(argv)
    torch.set_num_threads(2)
    sr = SuperResolver.open("srgan", precision="float32", execution="pytorch")
    methods = {
        "bicubic": None,
        f"srgan (fidelity {sr.default_fidelity:g})": as_served(sr),
        f"its map (fidelity {sr.default_fidelity:g})": invention(sr),
        "map at fidelity 0 (the GAN)": invention(sr, 0.0),
    }
    draw_sheet(args, methods, sr.upscaler.scale)
    return 0

if __name__ == "__main__":
    raise SystemExit(main())
