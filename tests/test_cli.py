"""The command line as a whole: help with examples, JSON, one-line errors with exit code 2."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

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


def test_help_and_usage_errors_import_no_sympy_scipy_or_numpy():
    """`import gradmath`, `import gradmath.cli`, building the parser, every --help and a usage error load none of
    the heavy libraries (a property of the imports, checked in a fresh interpreter; benchmarks/bench_cli.py
    measures the time)."""
    script = textwrap.dedent("""
        import contextlib, io, sys
        import gradmath, gradmath.cli
        from gradmath.cli import COMMANDS, build_parser, main
        build_parser()
        codes = []
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            for argv in [["--help"], ["--version"], *[[c, "--help"] for c in COMMANDS],
                         ["derive", "chain", "--help"], ["derive", "matrix", "--help"],
                         ["window", "--digits", "many"], ["nonsense"]]:
                codes.append(main(argv))
        heavy = sorted({m.split(".")[0] for m in sys.modules} & {"sympy", "scipy", "numpy", "mpmath", "tqdm"})
        print(codes, heavy)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                          cwd=Path(__file__).resolve().parents[1])
    assert done.returncode == 0, done.stderr
    codes, heavy = done.stdout.rsplit("] ", 1)
    assert codes == "[" + ", ".join(["0"] * (len(COMMANDS) + 4) + ["2", "2"])
    assert heavy.strip() == "[]"


def test_the_package_names_load_on_first_use():
    import gradmath

    assert gradmath.get_activation("tanh").name == "tanh"
    assert issubclass(gradmath.GradmathError, Exception)
    assert set(gradmath.__all__) <= set(dir(gradmath))
    with pytest.raises(AttributeError, match="no attribute 'nonsense'"):
        gradmath.nonsense  # noqa: B018


def test_derive_help_names_every_cost():
    from gradmath.cli.derive import COST_NAMES as named_in_help
    from gradmath.costs import COST_NAMES

    assert tuple(named_in_help) == tuple(COST_NAMES)
