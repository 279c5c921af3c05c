"""Network interpolation (Wang et al., ESRGAN, 2018, section 3.4): two generators of one
architecture blended parameter by parameter. ``training/interpolate.py`` writes a blend to disk;
the SR handler and the CLI blend at run time for the ``fidelity`` control (0: the GAN network's
weights, 1: the PSNR network's) and the ``restore`` control (0: the clean-input PSNR network, 1:
the restoration network), one network in memory whatever the values.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from dronesr.params import parse_fraction

FIDELITY_STEP = 0.05  # requested values are rounded to this, so a slider reuses cached blends
FIDELITY_CACHE = 8  # blended state dicts kept (a SPAN is ~1.7 MB)


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
    ``FIDELITY_STEP`` (0: the GAN's texture, 1: the PSNR network's); ClientError (400) otherwise."""
    if text is None or not text.strip():
        return None
    return round(round(parse_fraction("fidelity", text) / FIDELITY_STEP) * FIDELITY_STEP, 4)


class WeightsBlend:
    """Sets ``model``'s weights for a (fidelity, restore) pair, from a small LRU cache of blended
    state dicts (``load_state_dict`` copies into the existing parameters, so the model's device
    and memory format stay).

    ``base`` is the network's own weights (srgan: the GAN; srresnet: the clean-input PSNR model).
    ``psnr`` (srgan's ``fidelity_weights``) is the PSNR network ``fidelity`` blends towards;
    ``restore`` (``restore_weights``) is the restoration network ``restore`` blends the PSNR end
    towards. All must be one architecture fine-tuned from one start, or the blends mean nothing."""

    def __init__(
        self, model: nn.Module, base: dict[str, torch.Tensor], psnr: dict[str, torch.Tensor] | None = None,
        restore: dict[str, torch.Tensor] | None = None, cache_size: int = FIDELITY_CACHE,
    ):
        for other in (psnr, restore):
            if other is not None:
                check_same_network(base, other)  # ValueError at start rather than per request
        self.model = model
        # every state on the model's device: the blends mix them (a CPU file with a GPU network
        # would fail there) and loading a blend then copies within one device
        device = next(model.parameters()).device
        self.base, self.psnr, self.restore = (_detached(s, device) for s in (base, psnr, restore))
        self.cache: OrderedDict[tuple[float, float], dict[str, torch.Tensor]] = OrderedDict()
        self.cache_size = cache_size
        self.current: tuple[float, float] | None = None
        self.apply()

    @property
    def has_fidelity(self) -> bool:
        return self.psnr is not None

    @property
    def has_restore(self) -> bool:
        return self.restore is not None

    def _compute(self, fidelity: float, restore: float) -> dict[str, torch.Tensor]:
        clean = self.psnr if self.psnr is not None else self.base
        end = clean if self.restore is None or restore == 0.0 else self.restore if restore == 1.0 else interpolate_states(clean, self.restore, restore)
        if self.psnr is None or fidelity == 1.0:
            return end
        return self.base if fidelity == 0.0 else interpolate_states(self.base, end, fidelity)

    def state(self, fidelity: float = 0.0, restore: float = 0.0) -> dict[str, torch.Tensor]:
        key = (fidelity if self.psnr is not None else 1.0, restore if self.restore is not None else 0.0)
        if key in self.cache:
            self.cache.move_to_end(key)
            return self.cache[key]
        state = self._compute(*key)
        self.cache[key] = state
        while len(self.cache) > self.cache_size:
            self.cache.popitem(last=False)
        return state

    def apply(self, fidelity: float = 0.0, restore: float = 0.0) -> None:
        """Load the blend for ``fidelity`` (ignored without ``psnr``) and ``restore`` (ignored
        without ``restore`` weights) into the model, unless it is already loaded."""
        state = self.state(fidelity, restore)
        key = next(reversed(self.cache))
        if key != self.current:
            self.model.load_state_dict(state)
            self.current = key


def _detached(state: dict[str, torch.Tensor] | None, device: torch.device) -> dict[str, torch.Tensor] | None:
    if state is None:
        return None
    return {k: v.detach().to(device, torch.float32, copy=True) if v.is_floating_point() else v.to(device) for k, v in state.items()}
