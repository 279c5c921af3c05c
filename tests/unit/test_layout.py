"""The core's layout holds: nothing in dronesr/ outside dronesr/serving/ imports it (serving builds
on the core, not the other way), and the CLI is imported by nothing in the core either."""

from __future__ import annotations

import ast

import pytest

from tests.helpers import ROOT

CORE = ROOT / "dronesr"


def imported_modules(path) -> set[str]:
    tree = ast.parse(path.read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


@pytest.mark.parametrize("side", ["serving", "cli"])
def test_no_core_module_imports_an_entry_side(side):
    offenders = []
    for path in CORE.rglob("*.py"):
        relative = path.relative_to(CORE)
        if relative.parts[0] in (side, "__main__.py"):
            continue
        if any(name == f"dronesr.{side}" or name.startswith(f"dronesr.{side}.") for name in imported_modules(path)):
            offenders.append(str(relative))
    assert offenders == []
