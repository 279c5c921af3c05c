"""Weights on disk: a plain state dict beside the architecture's name and arguments.

Never a pickled module: files load with ``torch.load(weights_only=True)``, so a checkpoint from an
untrusted source cannot run code. Saving goes through a temporary file and a rename, so an
interrupted save never leaves a half-written checkpoint behind.
"""

from __future__ import annotations

import os
from typing import Any

import torch
from torch import nn

from dronesr.archs import ARCHITECTURES
from dronesr.files import atomic_output


def atomic_torch_save(obj: Any, path: str | os.PathLike) -> None:
    with atomic_output(path) as temporary:
        torch.save(obj, temporary)


def save_model(model: nn.Module, path: str | os.PathLike, half: bool = False, **extra: Any) -> None:
    """Save ``model``'s weights with what is needed to rebuild it: its architecture's name and the
    constructor arguments it records (``model.arch_kwargs``). ``half`` stores fp16 (smaller files)."""
    state = {k: (v.half() if half and v.is_floating_point() else v) for k, v in model.state_dict().items()}
    atomic_torch_save({"arch": type(model).__name__, "arch_kwargs": dict(model.arch_kwargs), "state_dict": state, **extra}, path)


def load_model(path: str | os.PathLike, map_location: str = "cpu") -> nn.Module:
    """Rebuild the architecture named in the file and load its weights (as float32), in eval mode."""
    return model_from_checkpoint(torch.load(path, map_location=map_location, weights_only=True), str(path))


def model_from_checkpoint(ckpt: dict, name: str = "checkpoint") -> nn.Module:
    """The network a checkpoint dict (as ``save_model`` writes it) describes, weights loaded."""
    try:
        arch = ARCHITECTURES[ckpt["arch"]]
    except KeyError:
        raise ValueError(f"{name}: unknown architecture {ckpt.get('arch')!r}; known: {sorted(ARCHITECTURES)}") from None
    model = arch(**ckpt["arch_kwargs"])
    model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in ckpt["state_dict"].items()})
    return model.eval()
