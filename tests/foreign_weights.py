"""Small random networks of foreign SR families, saved as a user's weights file would be: for the
bring-your-own-weights tests in process (tests/unit) and through TorchServe (tests/e2e)."""

from __future__ import annotations

import os
from pathlib import Path

import torch
from safetensors.torch import save_file
from spandrel.architectures.Compact import Compact
from spandrel.architectures.ESRGAN import ESRGAN
from spandrel.architectures.SPAN import SPAN
from spandrel.architectures.SwinIR import SwinIR

# Small random networks of four families (the shapes spandrel reads the architecture from).
FAMILIES = {
    "esrgan": (lambda: ESRGAN(num_filters=16, num_blocks=2, scale=4), "ESRGAN", 4),
    "compact": (lambda: Compact(num_feat=16, num_conv=4, upscale=2), "RealESRGAN Compact", 2),
    "span": (lambda: SPAN(num_in_ch=3, num_out_ch=3, feature_channels=16, upscale=4), "SPAN", 4),
    "swinir": (lambda: SwinIR(img_size=32, embed_dim=24, depths=[2], num_heads=[2], window_size=8, upscale=2, upsampler="pixelshuffledirect"), "SwinIR", 2),
}


class RunsCode:
    """Unpickling this calls os.system: the kind of file that must never be loaded."""

    def __reduce__(self):
        return (os.system, ("echo this-ran > /dev/null",))


def save_weights(family: str, folder: Path, fmt: str) -> Path:
    torch.manual_seed(0)
    state = FAMILIES[family][0]().state_dict()
    path = folder / f"{family}.{fmt}"
    if fmt == "safetensors":
        save_file({k: v.contiguous() for k, v in state.items()}, str(path))
    else:
        torch.save(state, path)
    return path
