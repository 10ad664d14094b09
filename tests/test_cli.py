"""The command line as a whole: help with examples, JSON, one-line errors with exit code 2."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from gradmath.cli import COMMANDS, build_parser, main


def test_top_level_help_lists_examples(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "examples:" in out and "gradmath reproduce" in out


@pytest.mark.parametrize("command", COMMANDS)
def test_every_subcommand_has_help_with_an_example(command, capsys):
    parser = build_parser()
    names = parser._subparsers._group_actions[0].choices
    if command not in names:
        pytest.fail(f"subcommand {command!r} is not registered")
    assert main([command, "--help"]) == 0
    out = capsys.readouterr().out
    assert "example" in out and f"gradmath {command}" in out


def test_gamma_json_is_one_object(capsys):
    assert main(["gamma", "--activation", "sigmoid", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["gamma_exact"] == "1/4" and payload["method"] == "exact"
    assert set(payload) >= {"activation", "gamma", "enclosure", "argmax", "attained", "expression", "derivative"}


def test_gamma_of_a_custom_expression(capsys):
    assert main(["gamma", "--activation", "x/(1+abs(x))", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["gamma_exact"] == "1"


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["gamma", "--activation", "sigmod"], "did you mean 'sigmoid'"),
        (["gamma", "--activation", "x^"], "not a valid expression"),
        (["gamma", "--activation", "__import__('os').getcwd()"], "allowed"),
        (["reproduce", "--steps", "gama"], "did you mean 'gamma'"),
        (["nonsense"], "invalid choice"),
    ],
)
def test_bad_input_is_one_line_and_exit_code_2(argv, needle, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err
    assert len(err.splitlines()) == 1
    assert "Traceback" not in err


def test_console_script_runs_as_a_module():
    done = subprocess.run([sys.executable, "-m", "gradmath", "gamma", "--activation", "tanh", "--json"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["gamma_exact"] == "1"
