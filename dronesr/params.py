"""Parameters as text -> values, for request fields (the handlers), command-line options (the CLI,
training) and YAML: one table of yes/no words, one 0..1 number. Request errors are ClientError
(a 400 naming the parameter)."""

from __future__ import annotations

import math

from dronesr.errors import ClientError, echo

# The words a yes/no parameter or option accepts.
BOOLEAN_WORDS = {"1": True, "true": True, "yes": True, "on": True, "0": False, "false": False, "no": False, "off": False}


def is_auto(text: str | None) -> bool:
    """Whether a parameter that takes ``auto`` leaves the choice to the model: absent, empty or ``auto``."""
    return text is None or not text.strip() or text.strip().lower() == "auto"


def parse_flag(name: str, text: str | None, default: bool = False) -> bool:
    """A yes/no parameter (true/false, 1/0, yes/no, on/off); absent or empty is ``default``."""
    key = (text or "").strip().lower()
    if not key:
        return default
    if key not in BOOLEAN_WORDS:
        raise ClientError(f"{name} must be true or false, got {echo(text)}.", "bad_parameter")
    return BOOLEAN_WORDS[key]


def parse_fraction(name: str, text: str) -> float:
    """A request's number in 0..1; ClientError (400) naming the parameter otherwise."""
    try:
        value = float(text)
    except ValueError:
        raise ClientError(f"{name} must be a number between 0 and 1, got {echo(text)}.", "bad_parameter") from None
    if not math.isfinite(value) or not 0.0 <= value <= 1.0:
        raise ClientError(f"{name} must be between 0 and 1, got {echo(text)}.", "bad_parameter")
    return value
