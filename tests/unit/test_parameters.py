"""The parameter table (dronesr/parameters.py) is what the handlers accept, what the CLI offers
and what describe tells the page: one row, every side."""

from __future__ import annotations

import pytest

from dronesr.cli.main import build_parser
from dronesr.errors import ClientError
from dronesr.parameters import BY_NAME, PARAMETERS, SCOPES, accepted, sr_scopes
from dronesr.serving.requests import COMMON_PARAMETERS, STYLE_PARAMETERS, sr_description, sr_parameters, style_description
from dronesr.sr.weights import NetworkInfo


def test_every_row_has_a_known_scope_a_help_and_a_unique_name():
    assert len(BY_NAME) == len(PARAMETERS)
    for parameter in PARAMETERS:
        assert parameter.scope in SCOPES and parameter.help and parameter.control.get("kind") in ("range", "choice", "toggle", "text")


def test_the_handlers_accept_exactly_the_table():
    assert set(COMMON_PARAMETERS) == {p.name for p in PARAMETERS if p.scope == "image"}
    assert set(STYLE_PARAMETERS) == {p.name for p in PARAMETERS if p.scope == "style"}
    assert set(sr_parameters(True, True)) == {p.name for p in PARAMETERS if p.scope in ("sr", "fidelity", "restore")}
    assert "fidelity" not in sr_parameters(False, True) and "restore" not in sr_parameters(True, False)


def test_describe_carries_each_rows_control_for_the_page():
    info = NetworkInfo("SPAN", 4, 1, 24, 1)
    described = sr_description(info, fidelity=True, restore=False)
    assert [c["name"] for c in described["controls"]] == [p.name for p in accepted("image", *sr_scopes(True, False))]
    fidelity = next(c for c in described["controls"] if c["name"] == "fidelity")
    assert (fidelity["kind"], fidelity["min"], fidelity["max"], fidelity["help"]) == ("range", 0, 1, BY_NAME["fidelity"].help)
    assert {c["name"] for c in style_description(["udnie"])["controls"]} >= set(STYLE_PARAMETERS)


@pytest.mark.parametrize("command, scopes", [("upscale", ("sr", "fidelity", "restore")), ("stylize", ("style",))])
def test_the_cli_has_an_option_per_row_with_its_parser_and_help(command, scopes):
    parser = build_parser()
    sub = parser._subparsers._group_actions[0].choices[command]
    options = {a.dest: a for a in sub._actions}
    for parameter in accepted(*scopes):
        if parameter.cli:
            assert options[parameter.name].help == parameter.help
            assert options[parameter.name].option_strings == ["--" + parameter.name.replace("_", "-")]
    args = parser.parse_args(["upscale", "x.png", "-o", "out", "--fidelity", "0.33", "--restore", "auto", "--region", "1,2,3,4"])
    assert (args.fidelity, args.restore, str(args.region)) == (0.35, None, "1,2,3,4")
    with pytest.raises(SystemExit):
        parser.parse_args(["upscale", "x.png", "-o", "out", "--fidelity", "2"])


def test_a_row_parses_text_once_and_refuses_bad_text_with_its_name():
    assert BY_NAME["ensemble"].parse("auto") is None and BY_NAME["ensemble"].parse("on") is True
    assert BY_NAME["strength"].parse(None) == 1.0 and BY_NAME["outscale"].parse(" 2.5 ") == 2.5
    with pytest.raises(ClientError, match="strength"):
        BY_NAME["strength"].parse("1.5")
