"""No user string is ever evaluated: injection payloads in every option of every subcommand and in
every public function that takes a string.

The options are enumerated from :func:`gradmath.cli.build_parser`, so options and subcommands added
later are covered without editing this file (a new subcommand needs a line in ``BASE``: its fast,
otherwise valid arguments). Each payload tries to create a marker file; the test checks that the
marker is never created and that the command refuses the value with exit code 2.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from gradmath.cli import build_parser, main
from gradmath.errors import GradmathError

ROOT = Path(__file__).resolve().parents[1]


def payloads(marker: Path) -> list[str]:
    """Strings that run code (creating ``marker``) if anything evaluates them."""
    m = str(marker)
    return [
        f"__import__('os').system('touch {m}')",
        f"__import__('os').system('touch {m}') or 100",
        f"x + __import__('os').system('touch {m}')",
        "().__class__.__bases__[0].__subclasses__()",
        "lambda: 0",
        f"exec(\"open('{m}', 'w')\")",
        f"eval(\"open('{m}', 'w')\")",
        f"open('{m}', 'w')",
        f"Symbol('x').__class__.__init__.__globals__['__builtins__']['open']('{m}', 'w')",
    ]


def _subcommands(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()):
    """(command path, parser) for every leaf subcommand, nested ones (``derive chain``) included."""
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        yield prefix, parser
        return
    for action in subs:
        for name, child in action.choices.items():
            yield from _subcommands(child, prefix + (name,))


def _takes_a_value(action: argparse.Action) -> bool:
    if isinstance(action, (argparse._HelpAction, argparse._VersionAction, argparse._SubParsersAction)):
        return False
    return action.nargs != 0  # store_true, store_false, count and store_const take none


def _valued_actions(parser):
    return [a for a in parser._actions if _takes_a_value(a)]


#: Fast arguments for each subcommand that are valid apart from what a test replaces; the steps of
#: ``reproduce`` name no step, and ``sweep``'s ``--seeds 0`` is refused after its axes are parsed, so both stop at
#: validation whatever ``--out`` is. ``MODEL`` is a small
#: network written by the fixture; ``{tmp}`` is the test's temporary folder; ``None`` marks a flag.
BASE = {
    ("derive", "chain"): {"--depth": "2"},
    ("derive", "matrix"): {"--sizes": "1,1,1"},
    ("window",): {},
    ("exploding",): {"--depth": "3"},
    ("identity",): {"--w1": "0.1"},
    ("verify",): {"model": "{model}", "--examples": "5", "--quiet": None},
    ("counterexample",): {},
    ("speeds",): {"--seeds": "1", "--sizes": "64,2,10", "--examples": "5", "--quiet": None},
    ("gamma",): {"--activation": "sigmoid"},
    ("meanfield",): {"--sigma-w2": "1.5"},
    ("sweep",): {"--out": "{tmp}/out", "--depth": "2", "--width": "4", "--seeds": "0", "--quiet": None},
    ("reproduce",): {"--steps": "no-such-step", "--out": "{tmp}/out", "--quiet": None},
}


def _argv(path: tuple[str, ...], parser, values: dict[str, str], tmp: Path, model: Path) -> list[str]:
    argv = list(path)
    fill = lambda v: v.replace("{tmp}", str(tmp)).replace("{model}", str(model))  # noqa: E731
    for action in _valued_actions(parser):
        if not action.option_strings and action.dest in values:
            argv.append(fill(values[action.dest]))
    for action in _valued_actions(parser):
        key = action.option_strings[0] if action.option_strings else None
        if key in values:
            argv += [key, fill(values[key])]
    argv += [key for key, value in values.items() if value is None]
    return argv


def _cases():
    cases = []
    for path, parser in _subcommands(build_parser()):
        for action in _valued_actions(parser):
            key = action.option_strings[0] if action.option_strings else action.dest
            cases.append(pytest.param(path, key, id=" ".join(path) + " " + key))
    return cases


@pytest.fixture(scope="module")
def model_file(tmp_path_factory) -> Path:
    from gradmath.formats import save_network
    from gradmath.network import Network

    path = tmp_path_factory.mktemp("model") / "net.npz"
    return save_network(Network.random((64, 3, 10), seed=0, cost="cross-entropy"), path)


def test_every_subcommand_has_base_arguments():
    found = {path for path, _ in _subcommands(build_parser())}
    assert found == set(BASE), "add the new subcommand's fast arguments to BASE"


def test_the_enumeration_sees_the_options():
    keys = {(path, a.option_strings[0] if a.option_strings else a.dest)
            for path, parser in _subcommands(build_parser()) for a in _valued_actions(parser)}
    assert {(("exploding",), "--weight"), (("identity",), "--w1"), (("counterexample",), "--weight"),
            (("verify",), "model"), (("reproduce",), "--out"), (("derive", "chain"), "--activation")} <= keys
    assert not any(k in {"--help", "--version", "--json", "--quiet"} for _, k in keys)


@pytest.mark.parametrize(("path", "key"), _cases())
def test_no_option_evaluates_its_value(path, key, tmp_path, model_file, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # a payload taken as a relative path lands here
    parser = dict(_subcommands(build_parser()))[path]
    marker = tmp_path / "MARKER"
    for payload in payloads(marker):
        values = dict(BASE[path])
        values[key] = payload
        code = main(_argv(path, parser, values, tmp_path, model_file))
        err = capsys.readouterr().err
        assert not marker.exists(), f"{' '.join(path)} {key} ran {payload!r}"
        assert code == 2, f"{' '.join(path)} {key}={payload!r}: exit {code}, stderr {err!r}"
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


@pytest.mark.parametrize("argv", [
    ["exploding", "--depth", "3", "--weight", "{p}"],
    ["gamma", "--activation", "{p}"],
])
def test_in_a_fresh_process(argv, tmp_path):
    marker = tmp_path / "MARKER"
    payload = f"__import__('os').system('touch {marker}') or 100"
    result = subprocess.run([sys.executable, "-m", "gradmath", *[a.replace("{p}", payload) for a in argv]],
                            cwd=tmp_path, capture_output=True, text=True, timeout=120,
                            env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert not marker.exists()
    assert result.returncode == 2 and result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1 and "error:" in result.stderr


def _api_calls():
    """(name, call taking the payload, the GradmathError subclass expected)."""
    from gradmath import activations, expressions, numbers
    from gradmath.costs import get_cost
    from gradmath.counterexample import build_counterexample
    from gradmath.data import load_dataset
    from gradmath.errors import (DataError, ExpressionError, FormatError, InvalidParameterError,
                                 UnknownActivationError, UnknownNameError)
    from gradmath.formats import load_network
    from gradmath.network import Network
    from gradmath.numeric.precision import window_maximum
    from gradmath.norms import check_norm
    from gradmath.reproduce import resolve_steps
    from gradmath.symbolic.chain import derive_chain
    from gradmath.symbolic.exploding import bias_error_factor, exploding_chain, perturbed_chain
    from gradmath.symbolic.identity import check_identity_bound
    from gradmath.symbolic.matrix import derive_matrix
    from gradmath.symbolic.window import derive_window
    from gradmath.validation import parse_sizes

    return [
        ("exploding_chain(weight=)", lambda p: exploding_chain(3, weight=p), InvalidParameterError),
        ("exploding_chain(activation=)", lambda p: exploding_chain(3, activation=p), UnknownActivationError),
        ("bias_error_factor(weight=)", lambda p: bias_error_factor(weight=p), InvalidParameterError),
        ("perturbed_chain(bias_error=)", lambda p: perturbed_chain(depth=3, bias_error=p), InvalidParameterError),
        ("perturbed_chain(weight=)", lambda p: perturbed_chain(depth=3, bias_error=0, weight=p),
         InvalidParameterError),
        ("perturbed_chain(a0=)", lambda p: perturbed_chain(depth=3, bias_error=0, a0=p), InvalidParameterError),
        ("check_identity_bound", check_identity_bound, InvalidParameterError),
        ("build_counterexample(weight=)", lambda p: build_counterexample("inf", weight=p), InvalidParameterError),
        ("build_counterexample(norm=)", build_counterexample, UnknownNameError),
        ("parse_decimal", numbers.parse_decimal, InvalidParameterError),
        ("exact_rational", numbers.exact_rational, InvalidParameterError),
        ("exact_real", numbers.exact_real, InvalidParameterError),
        ("finite_float", numbers.finite_float, InvalidParameterError),
        ("parse_expression", expressions.parse_expression, ExpressionError),
        ("get_activation", activations.get_activation, UnknownActivationError),
        ("resolve_activation", activations.resolve_activation, (ExpressionError, UnknownActivationError)),
        ("register_activation(expression=)", lambda p: activations.register_activation("injected", p),
         ExpressionError),
        ("register_activation(name=)", lambda p: activations.register_activation(p, "x"), InvalidParameterError),
        ("derive_window", derive_window, (ExpressionError, UnknownActivationError)),
        ("derive_chain(activation=)", lambda p: derive_chain(2, activation=p, verify=False),
         (ExpressionError, UnknownActivationError)),
        ("derive_chain(cost=)", lambda p: derive_chain(2, cost=p, verify=False), UnknownNameError),
        ("derive_matrix(sizes=)", lambda p: derive_matrix(p, verify=False), InvalidParameterError),
        ("get_cost", get_cost, UnknownNameError),
        ("check_norm", check_norm, UnknownNameError),
        ("resolve_steps", lambda p: resolve_steps([p]), UnknownNameError),
        ("load_network", load_network, FormatError),
        ("load_dataset", load_dataset, DataError),
        ("window_maximum", window_maximum, (ExpressionError, UnknownActivationError)),
        ("Network.random(hidden_activation=)", lambda p: Network.random((2, 2, 2), hidden_activation=p),
         (ExpressionError, UnknownActivationError)),
        ("Network.random(cost=)", lambda p: Network.random((2, 2, 2), cost=p), UnknownNameError),
        ("parse_sizes", parse_sizes, InvalidParameterError),
    ]


@pytest.mark.parametrize(("name", "call", "expected"), _api_calls(), ids=[c[0] for c in _api_calls()])
def test_no_public_function_evaluates_a_string(name, call, expected, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    marker = tmp_path / "MARKER"
    for payload in payloads(marker):
        with pytest.raises(GradmathError) as info:
            call(payload)
        assert isinstance(info.value, expected), f"{name}({payload!r}) raised {type(info.value).__name__}"
        assert not marker.exists(), f"{name} ran {payload!r}"


def test_numbers_from_python_are_exact_and_non_finite_ones_are_refused():
    from fractions import Fraction

    from gradmath.errors import NonFiniteError
    from gradmath.numbers import exact_rational
    from gradmath.symbolic.exploding import exploding_chain

    assert exact_rational(0.1) == Fraction(0.1) != Fraction(1, 10)  # the float's binary value
    assert exploding_chain(2, weight=np.float64(2.5)).factor == Fraction(5, 8)
    for bad in (float("nan"), float("inf"), "-inf", "NaN", "Infinity"):
        with pytest.raises(NonFiniteError):
            exploding_chain(2, weight=bad)
