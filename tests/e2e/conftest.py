"""Every test here runs against a real TorchServe (or builds archives with make): marked e2e, so
`pytest -m "not e2e"` and `make unit-test` (tests/unit) leave them out."""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config, items):
    for item in items:
        if HERE in Path(item.fspath).resolve().parents:
            item.add_marker(pytest.mark.e2e)
