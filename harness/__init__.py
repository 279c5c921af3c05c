"""Development harness shared by the tests and the benchmarks (not shipped in any archive):
``harness.torchserve`` starts a private TorchServe on free loopback ports with the page's server.
``ROOT`` is the checkout these run from."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def ts_setting(name: str, path: Path = ROOT / "config.properties") -> str:
    """A setting of TorchServe's config.properties (the one source of its ports and sizes)."""
    match = re.search(rf"^{re.escape(name)}=(.*)$", path.read_text(), re.M)
    if match is None:
        raise KeyError(f"{path} has no {name}")
    return match.group(1).strip()
