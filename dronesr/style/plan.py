"""One painting, decided once: the style mix parsed from a request's text (or the CLI's options)
into a :class:`StylePlan` that the style model's runner (dronesr/style/model.py) carries out."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch

from dronesr.archs import StyleNet
from dronesr.errors import ClientError, echo
from dronesr.parameters import parsed
from dronesr.params import parse_fraction


def parse_style_mix(model: StyleNet, style: str | None, blend: str | None = None) -> torch.Tensor:
    """A style and a blend as text (the handler's parameters, the CLI's options) -> the style
    weights ``[1, S]``. ``blend`` is ``NAME:W[,NAME:W...]`` (bare NAME: 0.5); the primary style
    keeps ``1 - sum(W)``. ClientError (400) naming what is wrong and the styles there are."""
    names = model.style_names

    def unknown(name: str) -> ClientError:
        return ClientError(f"Unknown style {echo(name)}; available styles: {', '.join(names)}.", "bad_parameter")

    primary = (style or "").strip() or names[0]
    if primary not in names:
        raise unknown(primary)
    mix: dict[str, float] = {}
    for part in (p.strip() for p in (blend or "").split(",")):
        if not part:
            continue
        name, sep, weight = part.partition(":")
        name = name.strip()
        if name not in names:
            raise unknown(name)
        mix[name] = mix.get(name, 0.0) + (parse_fraction(f"blend weight of {name}", weight.strip()) if sep else 0.5)
    extra = sum(mix.values())
    if extra > 1.0 + 1e-6:
        raise ClientError(f"blend weights sum to {extra:g}, over 1 (the style keeps 1 minus their sum).", "bad_parameter")
    mix[primary] = mix.get(primary, 0.0) + max(0.0, 1.0 - extra)
    return model.style_vector(mix)


def style_mix(model: StyleNet, weights: torch.Tensor) -> str:
    """``NAME:W,...`` of the styles a ``[1, S]`` weight vector mixes (the provenance record's)."""
    return ",".join(f"{name}:{w:.3g}" for name, w in zip(model.style_names, weights[0].tolist()) if w > 0)


@dataclass(frozen=True)
class StylePlan:
    """One painting: the style ``weights`` ``[1, S]`` (a style, or a blend of several), the
    ``strength`` (0: the photo, 1: the style in full) and whether to keep the photo's colours."""

    weights: torch.Tensor
    strength: float = 1.0
    preserve_colour: bool = False

    @classmethod
    def from_params(cls, model: StyleNet, params: Mapping[str, str]) -> StylePlan:
        """A request's text parameters, each parsed here once; ClientError (400) naming the bad one."""
        return cls(
            parse_style_mix(model, parsed(params, "style"), parsed(params, "blend")),
            parsed(params, "strength"), parsed(params, "preserve_colour"),
        )

    def parameters(self, model: StyleNet) -> dict:
        """The parameters in effect, for the provenance record."""
        return {"styles": style_mix(model, self.weights), "strength": self.strength, "preserve_colour": self.preserve_colour}
