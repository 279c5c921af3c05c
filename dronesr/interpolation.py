"""Network interpolation (Wang et al., ESRGAN, 2018, section 3.4): two generators of one
architecture blended parameter by parameter. ``training/interpolate.py`` writes a blend to disk;
the srgan handler and the CLI blend at run time for the ``fidelity`` control (0: the GAN network's
weights, 1: the PSNR network's), one network in memory whatever the value.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from dronesr.params import parse_fraction

FIDELITY_STEP = 0.05  # requested values are rounded to this, so a slider reuses cached blends
FIDELITY_CACHE = 8  # blended state dicts kept (an SRResNet is ~3.5 MB)


def check_same_network(gan: dict[str, torch.Tensor], psnr: dict[str, torch.Tensor]) -> None:
    """ValueError unless the two state dicts have the same keys and shapes."""
    if gan.keys() != psnr.keys() or any(gan[k].shape != psnr[k].shape for k in gan):
        raise ValueError("the two state dicts are not the same network (their keys or shapes differ)")


def interpolate_states(gan: dict[str, torch.Tensor], psnr: dict[str, torch.Tensor], fidelity: float) -> dict[str, torch.Tensor]:
    """``(1 - fidelity) * gan + fidelity * psnr`` for every floating-point entry (others from
    ``gan``); ValueError when the two state dicts are not the same network."""
    check_same_network(gan, psnr)
    return {name: torch.lerp(value.float(), psnr[name].float(), fidelity) if value.is_floating_point() else value for name, value in gan.items()}


def parse_fidelity(text: str | None) -> float | None:
    """The ``fidelity`` parameter: None when absent or empty, else a number in 0..1 rounded to
    ``FIDELITY_STEP`` (0: the GAN's texture, 1: the PSNR network's); ImageError (400) otherwise."""
    if text is None or not text.strip():
        return None
    return round(round(parse_fraction("fidelity", text) / FIDELITY_STEP) * FIDELITY_STEP, 4)


class FidelityBlend:
    """Sets ``model``'s weights to the blend for a fidelity value, from a small LRU cache of
    blended state dicts (``load_state_dict`` copies into the existing parameters, so the model's
    device and memory format stay)."""

    def __init__(self, model: nn.Module, gan: dict[str, torch.Tensor], psnr: dict[str, torch.Tensor], cache_size: int = FIDELITY_CACHE):
        check_same_network(gan, psnr)  # ValueError at start rather than per request
        self.model = model
        self.gan = {k: v.detach().float().clone() if v.is_floating_point() else v for k, v in gan.items()}
        self.psnr = {k: v.detach().float().clone() if v.is_floating_point() else v for k, v in psnr.items()}
        self.cache: OrderedDict[float, dict[str, torch.Tensor]] = OrderedDict()
        self.cache_size = cache_size
        self.current: float | None = None
        self.apply(0.0)

    def state(self, fidelity: float) -> dict[str, torch.Tensor]:
        if fidelity in self.cache:
            self.cache.move_to_end(fidelity)
            return self.cache[fidelity]
        state = self.gan if fidelity == 0.0 else self.psnr if fidelity == 1.0 else interpolate_states(self.gan, self.psnr, fidelity)
        self.cache[fidelity] = state
        while len(self.cache) > self.cache_size:
            self.cache.popitem(last=False)
        return state

    def apply(self, fidelity: float) -> None:
        if fidelity != self.current:
            self.model.load_state_dict(self.state(fidelity))
            self.current = fidelity
