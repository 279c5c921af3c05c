"""Development harness shared by the tests and the benchmarks (not shipped in any archive):
``harness.torchserve`` starts a private TorchServe on free loopback ports with the page's server.
``ROOT`` is the checkout these run from."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
