"""Client errors carry a stable code: one error type, every raise names a known code, one JSON body."""

from __future__ import annotations

import ast
import json
import re

import pytest

from dronesr.errors import CODES, ClientError, echo, error_body
from harness import ROOT


def test_a_client_error_has_a_known_code_and_its_reply_says_it():
    error = ClientError("The image has no pixels.", "bad_image")
    assert (error.status, error.code) == (400, "bad_image")
    assert error.reply() == {"code": "bad_image", "status": 400, "type": "BadInput", "message": "The image has no pixels."}
    assert error_body(507, "out_of_memory", "x")["type"] == "ServerError"
    with pytest.raises(KeyError):
        ClientError("typo", "too-large")


def test_every_client_error_raised_in_the_code_names_a_known_code():
    """Read from the source: a raise with an unknown word would only fail when a client hits it."""
    seen = set()
    for path in [*ROOT.glob("dronesr/**/*.py"), *ROOT.glob("handlers/*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "ClientError":
                code = node.args[1] if len(node.args) > 1 else next((k.value for k in node.keywords if k.arg == "code"), None)
                assert isinstance(code, ast.Constant) and code.value in CODES, f"{path.name}:{node.lineno}"
                seen.add(code.value)
    assert {"bad_image", "too_large", "bad_parameter", "unknown_parameter", "no_image"} <= seen


def test_the_guard_and_the_page_server_use_the_same_words():
    java = "".join(p.read_text() for p in (ROOT / "tsguard/src").rglob("*.java"))
    guard_codes = set(re.findall(r'"([a-z_]+)",\s*\n?\s*"[A-Z][A-Za-z]+"', java))
    assert {"timeout", "too_many_connections", "forbidden_host", "bad_request", "too_large"} <= guard_codes <= set(CODES)
    page_server = (ROOT / "frontend/server.py").read_text()
    assert set(re.findall(r'\d{3}: "([a-z_]+)"', page_server)) <= set(CODES)


def test_client_text_is_cut_and_escaped():
    quoted = echo("x" * 100 + "\r\n")
    assert len(quoted) < 80 and "\n" not in quoted and quoted.endswith("...")
    assert json.loads(json.dumps(error_body(400, "bad_parameter", f"got {echo(chr(10))}")))["message"] == "got '\\n'"
