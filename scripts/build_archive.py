"""Build one TorchServe archive (model_store/NAME.mar) and the page's note about it (NAME.json).

    make archive                                     # the shipped srgan, srresnet, style
    make archive NAME=my-model WEIGHTS=path/to/model.pth    # any SR network spandrel knows

The weights are read as tensors only (dronesr/sr/weights.py: a pickle that needs code is refused
here, before anything is built). Foreign SR weights get their model-config.yaml from the shipped
srresnet one, with the tile rounded to the network's size multiple and the tile overlap of its
family. The archive carries the handler, that config, the weights and a copy of the dronesr
package; NAME.json beside it (task, scale, parameters, pixel limits) is what the page lists.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dronesr.checkpoint import model_from_checkpoint  # noqa: E402 - after the path
from dronesr.files import atomic_output  # noqa: E402
from dronesr.serving.requests import sr_description, style_description  # noqa: E402
from dronesr.model_settings import ModelSettings  # noqa: E402
from dronesr.sr.resolver import SuperResolver  # noqa: E402
from dronesr.sr.weights import WeightsError, is_own_checkpoint, network_info, read_weights, sr_model_from_state  # noqa: E402

SHIPPED = ("srgan", "srresnet", "style")
NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,63}")  # TorchServe's model names, and a safe file name
SR_HANDLER = ROOT / "handlers" / "sr_handler.py"
FOREIGN_TEMPLATE = ROOT / "handlers" / "srresnet-config.yaml"
PACKAGE = ROOT / "build" / "mar-src"  # the dronesr package copied by the Makefile


class ArchiveError(Exception):
    pass


def foreign_config(weights: Path, tile: int | None, overlap: int | None, max_output_pixels: int | None) -> tuple[dict, dict]:
    """(model-config.yaml, page note) for SR weights that come with no config of their own. The
    output pixel limit is the template's, lowered so that a request at the limit finishes within
    half the response timeout at the tile speed measured here (a request TorchServe times out
    costs a worker restart); --max-output-pixels sets it instead."""
    config = yaml.safe_load(FOREIGN_TEMPLATE.read_text())
    handler = config["handler"]
    for key in ("fidelity_weights", "restore_weights", "default_fidelity"):  # the template's own blends, not this network's
        handler.pop(key, None)
    handler["weights"] = weights.name
    # opened as the worker will open it: the tile fitted to the network, its overlap unless given
    settings = ModelSettings.from_section({**handler, "tile": tile or handler["tile"], "overlap": overlap if overlap is not None else -1})
    sr = SuperResolver.open_archive(weights.parent, settings, "cpu", weights.name, precision="float32" if max_output_pixels else None)
    info, choice = sr.info, sr.choice
    handler["tile"], handler["overlap"] = sr.upscaler.tile, sr.upscaler.overlap
    if max_output_pixels is None:
        tile_seconds = choice.seconds.get(choice.precision) or max(choice.seconds.values())
        tiles = max(1, int(config["responseTimeout"] / 2 / tile_seconds))
        stride = handler["tile"] - handler["overlap"]
        max_output_pixels = min(ModelSettings.from_section(handler).max_output_pixels, tiles * stride * stride * info.scale * info.scale)
        print(f"{weights.name}: {info.family} x{info.scale}, one {handler['tile']} px tile in {tile_seconds:.2f} s ({choice.precision}): "
              f"max_output_pixels {max_output_pixels:,}")
    handler["max_output_pixels"] = max_output_pixels
    return config, sr_description(info, fidelity=False)


def shipped_note(weights: Path, config: dict) -> dict:
    state = read_weights(weights)
    if is_own_checkpoint(state) and state["arch"] == "StyleNet":
        model = model_from_checkpoint(state, weights.name)
        return style_description(model.style_names)
    info = network_info(sr_model_from_state(state, weights.name))
    settings = ModelSettings.from_section(config.get("handler", {}))
    note = sr_description(info, fidelity=bool(settings.fidelity_weights), restore=bool(settings.restore_weights))
    if settings.fidelity_weights:
        note["default_fidelity"] = settings.default_fidelity  # where the page's slider starts
    return note


def write_atomic(path: Path, text: str) -> None:
    with atomic_output(path) as temporary:
        temporary.write_text(text)


def build(
    name: str, weights: Path, store: Path, config_path: Path | None, handler: Path, extras: list[Path],
    tile: int | None = None, overlap: int | None = None, max_output_pixels: int | None = None,
) -> tuple[Path, dict]:
    """Build ``store/NAME.mar`` and its page note ``store/NAME.json``; returns both (the note as a dict)."""
    if not NAME.fullmatch(name):
        raise ArchiveError(f"NAME={name!r}: use letters, digits, - and _ (starting with a letter, at most 64)")
    if not weights.is_file():
        raise ArchiveError(f"WEIGHTS={weights}: no such file")
    if not (PACKAGE / "dronesr").is_dir():
        raise ArchiveError(f"{PACKAGE}/dronesr is missing: run this through `make archive`")
    if config_path is None:
        if name in SHIPPED:
            raise ArchiveError(f"NAME={name} is a shipped model's name; choose another")
        config, note = foreign_config(weights, tile, overlap, max_output_pixels)
    else:
        config = yaml.safe_load(config_path.read_text())
        if config.get("handler", {}).get("weights") != weights.name:
            raise ArchiveError(f"{config_path}: handler.weights must be {weights.name!r}, the archive's weights file")
        note = shipped_note(weights, config)
    work = ROOT / "build" / "archive" / name
    work.mkdir(parents=True, exist_ok=True)
    config_file = work / "model-config.yaml"
    config_file.write_text(f"# model-config.yaml of {name}.mar, written by scripts/build_archive.py\n" + yaml.safe_dump(config, sort_keys=False))
    store.mkdir(parents=True, exist_ok=True)
    archiver = Path(sys.executable).parent / "torch-model-archiver"
    command = [
        str(archiver), "--force", "--model-name", name, "--version", "1.0", "--serialized-file", str(weights),
        "--handler", str(handler), "--extra-files", ",".join(str(p) for p in [PACKAGE, *extras]),
        "--config-file", str(config_file), "--export-path", str(store),
    ]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise ArchiveError(f"torch-model-archiver failed: {(done.stderr or done.stdout).strip()[-800:]}")
    settings = ModelSettings.from_section(config.get("handler", {}))  # as the handler will read it
    note = {"name": name, **note, "limits": {"max_input_pixels": settings.max_input_pixels, "max_output_pixels": settings.max_output_pixels, "max_side": settings.max_side}}
    write_atomic(store / f"{name}.json", json.dumps(note, indent=1) + "\n")
    return store / f"{name}.mar", note


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--name", required=True, help="the model's name: /predictions/NAME")
    p.add_argument("--weights", type=Path, required=True, help="weights file (.pt .pth .ckpt .bin .safetensors)")
    p.add_argument("--store", type=Path, default=ROOT / "model_store", help="where the .mar goes (default: %(default)s)")
    p.add_argument("--config", type=Path, help="a model-config.yaml (the shipped models); default: made from the network")
    p.add_argument("--handler", type=Path, default=SR_HANDLER, help="default: %(default)s")
    p.add_argument("--extra", type=Path, action="append", default=[], help="another file for the archive (srgan: srresnet.pt)")
    p.add_argument("--tile", type=int, help="LR tile side for foreign weights (default: the srresnet config's, rounded to the network's multiple)")
    p.add_argument("--overlap", type=int, help="LR tile overlap for foreign weights (default: per family, dronesr/sr/weights.py)")
    p.add_argument("--max-output-pixels", type=int, help="foreign weights: the result size limit (default: what the measured speed finishes in half responseTimeout, at most srresnet's)")
    args = p.parse_args(argv)
    try:
        mar, note = build(args.name, args.weights, args.store, args.config, args.handler, args.extra, args.tile, args.overlap, args.max_output_pixels)
    except (ArchiveError, WeightsError, OSError, yaml.YAMLError) as exc:
        p.exit(2, f"make archive: {exc}\n")
    detail = f"x{note['scale']} {note['architecture']}" if note["task"] == "super-resolution" else note["task"]
    print(f"{mar}: {detail}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
