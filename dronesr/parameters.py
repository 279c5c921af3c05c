"""Every request parameter, once: its name, parser, default, the models that accept it, its help
text and the control the page draws for it. The table feeds the handlers' parsing and their lists
of accepted names, the CLI's options, ``describe`` and ``make archive``'s models.json (the page
builds its controls from that), so a new parameter is one row here plus the code that uses its
value (docs/development.md "A new parameter").

A parser takes the text as it arrives (None or empty: absent) and returns the typed value, the
default when absent, or raises ClientError (400, code ``bad_parameter``) naming the parameter.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from dronesr.errors import ClientError, echo
from dronesr.sr.blend import FIDELITY_STEP, parse_fidelity
from dronesr.params import is_auto, parse_flag, parse_fraction
from dronesr.sr.region import parse_region
from dronesr.sr.restoration import parse_restore

# Which models accept a parameter: every image model, the SR models, the SR archives with a
# fidelity (PSNR) network or a restoration network, the style model.
SCOPES = ("image", "sr", "fidelity", "restore", "style")


@dataclass(frozen=True)
class Parameter:
    name: str
    parse: Callable[[str | None], Any]
    default: Any  # the typed value when absent (None: the model decides, e.g. auto)
    scope: str  # one of SCOPES
    help: str
    control: dict = field(default_factory=dict)  # the page's control: kind (range, choice, toggle, text) and its bounds or options
    cli: bool = True  # an option of the dronesr command (the delivery parameters have file-shaped options there)

    def describe(self) -> dict:
        """What ``describe`` and models.json say of it (the page's control)."""
        return {"name": self.name, "default": self.default, "help": self.help, **self.control}


def parse_ensemble(text: str | None) -> bool | None:
    """``ensemble``: None (auto: the archive's ``ensemble_auto_pixels`` decide by size) when
    absent, empty or ``auto``; else a yes/no."""
    if is_auto(text):
        return None
    try:
        return parse_flag("ensemble", text)
    except ClientError:
        raise ClientError(f"ensemble must be auto, true or false, got {echo(text)}.", "bad_parameter") from None


OUTPUTS = ("image", "map")  # srgan's ``output``: the result, or its invention map (dronesr/sr/invention.py)


def parse_output(text: str | None) -> str:
    """``output``: ``image`` (default) or ``map``."""
    value = (text or "").strip().lower() or "image"
    if value not in OUTPUTS:
        raise ClientError(f"output must be one of {', '.join(OUTPUTS)}, got {echo(text)}.", "bad_parameter")
    return value


def parse_number(name: str) -> Callable[[str | None], float | None]:
    """A number (its range is checked where the model's bounds are known); None when absent."""

    def parse(text: str | None) -> float | None:
        if text is None or not str(text).strip():
            return None
        try:
            return float(text)
        except ValueError:
            raise ClientError(f"{name} must be a number, got {echo(text)}.", "bad_parameter") from None

    return parse


def parse_text(text: str | None) -> str | None:
    return str(text).strip() or None if text is not None else None


def parse_strength(text: str | None) -> float:
    return parse_fraction("strength", text.strip()) if text is not None and text.strip() else 1.0


def _flag(name: str, default: bool = False) -> Callable[[str | None], bool]:
    def parse(text: str | None) -> bool:
        return parse_flag(name, text, default)

    return parse


PARAMETERS = (
    # every image model: how the result is delivered (the CLI has --format/--strip-metadata/--no-provenance for files)
    Parameter("format", parse_text, None, "image", "png, jpeg or webp (default: the model's; Accept works too)",
              {"kind": "choice", "options": ["png", "jpeg", "webp"]}, cli=False),
    Parameter("strip_metadata", _flag("strip_metadata"), False, "image", "drop the camera's EXIF (GPS too), ICC and XMP", {"kind": "toggle"}, cli=False),
    Parameter("provenance", _flag("provenance", True), True, "image", "write the provenance record (XMP and X-Provenance)", {"kind": "toggle"}, cli=False),
    # super-resolution
    Parameter("outscale", parse_number("outscale"), None, "sr", "output scale, above 1 and at most the model's; default: the model's scale",
              {"kind": "range", "min": 1, "max": "scale", "step": 0.5}),
    Parameter("region", parse_region, None, "sr", "x,y,w,h: enlarge only this window of the input, with the frame around it as context",
              {"kind": "text", "placeholder": "x,y,w,h"}),
    Parameter("ensemble", parse_ensemble, None, "sr", "auto, true or false: average the network's 8 rotated and mirrored passes (8 times the work)",
              {"kind": "choice", "options": ["auto", "true", "false"]}),
    Parameter("fidelity", parse_fidelity, None, "fidelity", "0..1: from the GAN's texture (0) to the faithful network (1); default: the model's",
              {"kind": "range", "min": 0, "max": 1, "step": FIDELITY_STEP}),
    Parameter("output", parse_output, "image", "fidelity", "image, or map: where the result departs from what the input supports",
              {"kind": "choice", "options": list(OUTPUTS)}, cli=False),
    Parameter("restore", parse_restore, None, "restore", "auto or 0..1: how much JPEG, noise and blur to remove (auto: read from each upload, and a block grid the pixels show is smoothed first)",
              {"kind": "range", "min": 0, "max": 1, "step": 0.05, "auto": True}),
    # style transfer
    Parameter("style", parse_text, None, "style", "a style name (default: the first)", {"kind": "choice", "options": "styles"}),
    Parameter("blend", parse_text, None, "style", "NAME:W[,NAME:W...]: further styles mixed in, W in 0..1 (bare NAME: 0.5)", {"kind": "text"}),
    Parameter("strength", parse_strength, 1.0, "style", "0..1: photo + strength x (stylized - photo)", {"kind": "range", "min": 0, "max": 1, "step": 0.05}),
    Parameter("preserve_colour", _flag("preserve_colour"), False, "style", "keep the photo's colours: the style paints the luminance only", {"kind": "toggle"}),
)
BY_NAME = {p.name: p for p in PARAMETERS}


def accepted(*scopes: str) -> tuple[Parameter, ...]:
    """The parameters of these scopes, in the table's order."""
    return tuple(p for p in PARAMETERS if p.scope in scopes)


def names(*scopes: str) -> tuple[str, ...]:
    return tuple(p.name for p in accepted(*scopes))


def sr_scopes(fidelity: bool, restore: bool) -> tuple[str, ...]:
    """An SR model's scopes: fidelity where the archive has the PSNR weights, restore where it
    has the restoration weights."""
    return ("sr",) + (("fidelity",) if fidelity else ()) + (("restore",) if restore else ())


def parsed(params: Mapping[str, str], name: str) -> Any:
    """The typed value of one parameter of a request's text parameters."""
    return BY_NAME[name].parse(params.get(name))
