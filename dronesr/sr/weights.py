"""Any super-resolution weights file -> a network: this project's checkpoints (dronesr.checkpoint)
or a foreign state dict whose architecture and scale ``spandrel`` recognises (ESRGAN/Real-ESRGAN,
SRVGG compact, SwinIR, HAT, DAT, SPAN and more). Used by the SR handler, the CLI, the evaluation
and ``make archive NAME=... WEIGHTS=...``.

Files are read only as tensors: ``.safetensors`` with safetensors, ``.pth``/``.pt``/``.ckpt``/``.bin``
with ``torch.load(weights_only=True)``. A pickle that needs code to load is refused (it could run
anything), and so is TorchScript (a program, not weights).
"""

from __future__ import annotations

import os
import pickle
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from dronesr.archs import ARCHITECTURES, SR_ARCHITECTURES
from dronesr.checkpoint import model_from_checkpoint
from dronesr.tiling import DEFAULT_OVERLAP

WEIGHT_SUFFIXES = (".pth", ".pt", ".ckpt", ".bin", ".safetensors")
SCALES = (2, 3, 4, 8)
# How a network tiles and which precisions it runs in come from spandrel's descriptor (tiling:
# supported, discouraged or internal; supports_half, supports_bfloat16); our own networks carry the
# same two attributes (``tiling``, ``precisions``: dronesr/archs). The descriptor has no receptive
# field, so the overlap of a tiled foreign network is chosen by its kind: convolutional families
# see a few tens of LR pixels; windowed attention (shifted 8-16 px windows, several stages) and
# any network spandrel discourages tiling for get the wider one.
CONVOLUTIONAL_FAMILIES = frozenset({"ESRGAN", "Compact", "SPAN", "RealCUGAN", "PLKSR", "SwiftSRGAN", "RCAN"})
CONV_OVERLAP = 16
ATTENTION_OVERLAP = 32
TILINGS = ("supported", "discouraged", "internal")  # spandrel's ModelTiling, by name; internal: never tiled here


class WeightsError(ValueError):
    """A weights file that cannot be served; the message says why and what would work."""


def read_weights(path: str | os.PathLike) -> Any:
    """The tensors (and plain containers) stored in ``path``; WeightsError for anything else."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in WEIGHT_SUFFIXES:
        raise WeightsError(f"{path.name}: unknown weights file type {suffix!r}; use one of {', '.join(WEIGHT_SUFFIXES)}")
    if suffix == ".safetensors":
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            return load_file(str(path), device="cpu")
        except (SafetensorError, OSError) as exc:
            raise WeightsError(f"{path.name}: not a readable safetensors file ({exc})") from None
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        named = re.search(r"GLOBAL ([\w.]+)", str(exc))
        what = f"it names {named.group(1)}" if named else "it is not plain tensors"
        raise WeightsError(
            f"{path.name}: refused: loading it would run code from the file ({what}). "
            "Save the network's state_dict() instead, or convert it to .safetensors."
        ) from None
    except RuntimeError as exc:  # a zip that is not a torch file, TorchScript, truncated data
        raise WeightsError(f"{path.name}: not a readable PyTorch weights file ({str(exc).splitlines()[0][:160]})") from None


def is_own_checkpoint(obj: Any) -> bool:
    return isinstance(obj, dict) and obj.get("arch") in ARCHITECTURES and isinstance(obj.get("state_dict"), dict)


class ForeignSR(nn.Module):
    """A spandrel-recognised SR network with the attributes the inference path reads, as our own
    networks have them: ``scale``, ``family``, ``multiple_of``, ``overlap``, ``tiling``,
    ``precisions``, ``inference_memory_format``, all from spandrel's descriptor (the overlap by
    the network's kind, above). spandrel pads inputs to the network's size requirements and crops
    the result."""

    def __init__(self, descriptor: Any):
        super().__init__()
        self.descriptor = descriptor
        self.net = descriptor.model  # registered, so .to() / .eval() / parameters() reach it
        self.scale = int(descriptor.scale)
        self.family = descriptor.architecture.id
        self.family_name = descriptor.architecture.name
        self.multiple_of = max(1, int(descriptor.size_requirements.multiple_of))
        self.tiling = descriptor.tiling.name.lower()
        self.precisions = ("float32",) + (("bfloat16",) if descriptor.supports_bfloat16 else ()) + (("float16",) if descriptor.supports_half else ())
        convolutional = self.family in CONVOLUTIONAL_FAMILIES
        self.overlap = CONV_OVERLAP if convolutional and self.tiling == "supported" else ATTENTION_OVERLAP
        # channels_last is oneDNN's fast layout for convolutions; attention reshapes want NCHW.
        self.inference_memory_format = torch.channels_last if convolutional else torch.contiguous_format

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.descriptor(x)


def foreign_network(state: Any, name: str = "weights") -> ForeignSR:
    """A spandrel network for ``state`` (a state dict, possibly wrapped as ``params_ema`` etc.);
    WeightsError unless it is a 3-channel super-resolution network of scale 2, 3, 4 or 8."""
    import spandrel

    if not isinstance(state, dict) or not state:
        raise WeightsError(f"{name}: holds {type(state).__name__}, not a state dict of tensors")
    try:
        descriptor = spandrel.ModelLoader().load_from_state_dict(spandrel.canonicalize_state_dict(state))
    except spandrel.UnsupportedModelError:
        raise WeightsError(f"{name}: spandrel does not recognise this architecture (https://github.com/chaiNNer-org/spandrel lists the ones it knows)") from None
    except (RuntimeError, ValueError, KeyError, AssertionError) as exc:
        raise WeightsError(f"{name}: the state dict does not fit the architecture it looks like ({str(exc).splitlines()[0][:160]})") from None
    if not isinstance(descriptor, spandrel.ImageModelDescriptor):
        raise WeightsError(f"{name}: a {descriptor.architecture.name} network for {descriptor.purpose}, not an image-to-image model")
    if descriptor.purpose != "SR" or int(descriptor.scale) not in SCALES:
        raise WeightsError(f"{name}: a {descriptor.architecture.name} {descriptor.purpose} network at scale {descriptor.scale}; only super-resolution at x{', x'.join(map(str, SCALES))} is served")
    if (descriptor.input_channels, descriptor.output_channels) != (3, 3):
        raise WeightsError(f"{name}: {descriptor.input_channels} input / {descriptor.output_channels} output channels; only RGB networks (3 and 3) are served")
    return ForeignSR(descriptor).eval()


@dataclass(frozen=True)
class NetworkInfo:
    """What the archive, the page and ``describe`` say about a network."""

    family: str
    scale: int
    parameters: int
    overlap: int  # LR pixels neighbouring tiles share
    multiple_of: int  # input sides the network wants
    tiling: str = "supported"  # one of TILINGS: internal networks run on the whole frame
    precisions: tuple[str, ...] = ("float32", "bfloat16", "float16")  # what it runs correctly in (the probe picks among them)

    def fit_tile(self, tile: int) -> int:
        """``tile`` rounded down to the network's size multiple (at least one multiple)."""
        return max(self.multiple_of, tile // self.multiple_of * self.multiple_of)


def network_info(model: nn.Module) -> NetworkInfo:
    """What a network says of itself, foreign (its spandrel descriptor) or ours (its class), read
    from the same attributes."""
    parameters = sum(p.numel() for p in model.parameters())
    if isinstance(model, ForeignSR):
        family, overlap, multiple_of = model.family_name, model.overlap, model.multiple_of
    else:
        family, overlap, multiple_of = type(model).__name__, getattr(model, "TILE_OVERLAP", DEFAULT_OVERLAP), 1
    defaults = NetworkInfo(family, int(model.scale), parameters, overlap, multiple_of)
    return NetworkInfo(
        family, int(model.scale), parameters, overlap, multiple_of,
        getattr(model, "tiling", defaults.tiling), tuple(getattr(model, "precisions", defaults.precisions)),
    )


def sr_model_from_state(state: Any, name: str) -> nn.Module:
    """The SR network in what ``read_weights`` returned (float32, eval mode)."""
    if is_own_checkpoint(state):
        model = model_from_checkpoint(state, name)
        if not isinstance(model, SR_ARCHITECTURES):
            raise WeightsError(f"{name}: {type(model).__name__} weights, not a super-resolution network")
        return model
    return foreign_network(state, name).float()


def load_sr_model(path: str | os.PathLike) -> nn.Module:
    """The SR network in ``path`` (float32, eval mode): a dronesr checkpoint or foreign weights."""
    path = Path(path)
    return sr_model_from_state(read_weights(path), path.name)
