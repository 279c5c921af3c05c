"""The shipped SR models give the same bytes as before the house moves (issue #31), at float32 on
PyTorch, through the handler and through the CLI's runner alike.

The reference hashes were computed with the code before the moves (commit ba79662) on this
synthetic input; they are tied to the weights files' SHA-256 (a new weights file is a deliberate
change of outputs: regenerate with ``python -m tests.unit.test_same_outputs`` and say so in the
commit) and to the CPU's instruction set (oneDNN's float32 kernels differ between AVX-512 and AVX2
machines in the last bits, so elsewhere only the two paths are compared with each other)."""

from __future__ import annotations

import hashlib
import json
import shutil
import sys

import numpy as np
import pytest
import yaml

from dronesr.cli.transforms import UpscaleTransform
from dronesr.image.codecs import DecodedImage, decode_image
from dronesr.sr.plan import UpscalePlan
from dronesr.precision import cpu_features
from dronesr.sr.resolver import CHECKOUT, SuperResolver, shipped_settings
from handlers.sr_handler import SuperResolutionHandler
from tests.helpers import ROOT, encode, handler_reply, make_context, synthetic_photo

REFERENCE = ROOT / "tests" / "reference" / "same_outputs.json"
PARAMETER_SETS = ({"restore": "0"}, {"restore": "0.5", "fidelity": "0.3"}, {"restore": "1", "outscale": "2.5", "ensemble": "false"})
INPUT = synthetic_photo(72, 56)


def weights_hashes(name: str) -> dict[str, str]:
    settings = shipped_settings(name)
    return {role: hashlib.sha256((CHECKOUT / "weights" / file).read_bytes()).hexdigest() for role, file in settings.weights_files().items()}


def key(name: str, params: dict) -> str:
    return f"{name} {json.dumps(params, sort_keys=True)}"


def cli_outputs(name: str) -> dict[str, str]:
    """sha256 of the result pixels through the CLI's runner (SuperResolver.open + the plan)."""
    sr = SuperResolver.open(name, "cpu", precision="float32", execution="pytorch")
    hashes = {}
    for params in PARAMETER_SETS:
        if "fidelity" in params and not sr.has_fidelity:
            params = {k: v for k, v in params.items() if k != "fidelity"}
        plan = UpscalePlan.from_params(params, sr.info.scale)
        transform = UpscaleTransform.open(sr, plan, 10**8, 10**9)
        rgb = transform.image(DecodedImage(INPUT, None, "PNG")).rgb
        hashes[key(name, params)] = hashlib.sha256(np.ascontiguousarray(rgb).tobytes()).hexdigest()
    return hashes


@pytest.mark.parametrize("name", ["srresnet", "srgan"])
def test_handler_and_cli_give_the_same_bytes_as_before_the_moves(name, tmp_path):
    cli = cli_outputs(name)
    # the handler, from an archive-like folder with the model's own config
    settings = yaml.safe_load((ROOT / "handlers" / f"{name}-config.yaml").read_text())["handler"]
    for file in shipped_settings(name).weights_files().values():
        shutil.copy(CHECKOUT / "weights" / file, tmp_path / file)
    handler = SuperResolutionHandler()
    ctx = make_context(tmp_path, {**settings, "precision": "float32", "execution": "pytorch"})
    handler.initialize(ctx)
    for params in PARAMETER_SETS:
        if "fidelity" in params and not handler.sr.has_fidelity:
            params = {k: v for k, v in params.items() if k != "fidelity"}
        code, body = handler_reply(handler, ctx, {"body": encode(INPUT, "PNG"), "provenance": "false", **params})
        assert code == 200
        served = decode_image(body, 10**8).rgb
        assert hashlib.sha256(np.ascontiguousarray(served).tobytes()).hexdigest() == cli[key(name, params)], params
    reference = json.loads(REFERENCE.read_text())[name]
    if reference["weights"] != weights_hashes(name):
        pytest.fail(f"{name}'s weights changed since the reference: regenerate tests/reference/same_outputs.json (python -m tests.unit.test_same_outputs) in the commit that changes them")
    if reference["cpu"] == cpu_features():
        assert cli == reference["outputs"]


def main() -> int:
    """Rewrite the reference from the current code and weights (after a deliberate change)."""
    data = {name: {"weights": weights_hashes(name), "cpu": cpu_features(), "outputs": cli_outputs(name)} for name in ("srresnet", "srgan")}
    REFERENCE.write_text(json.dumps(data, indent=1) + "\n")
    print(f"wrote {REFERENCE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
