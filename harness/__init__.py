"""Development harness shared by the tests and the benchmarks (not shipped in any archive):
``harness.torchserve`` starts a private TorchServe on free loopback ports with the page's server;
``harness.images`` makes test images.
``ROOT`` is the checkout these run from."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def read_properties(path: Path) -> dict[str, str]:
    """key=value lines of a .properties file (comments skipped), as TorchServe and the wrapper read them."""
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if "=" in line and not line.lstrip().startswith("#"))
    return {key.strip(): value.strip() for key, value in pairs}


def ts_setting(name: str, path: Path = ROOT / "config.properties") -> str:
    """A setting of TorchServe's config.properties (the one source of its ports and sizes)."""
    settings = read_properties(path)
    if name not in settings:
        raise KeyError(f"{path} has no {name}")
    return settings[name]
