"""Every subcommand's ``--json`` output is strict JSON: no NaN, Infinity or -Infinity tokens.

Python's ``json.loads`` accepts those tokens by default; ``parse_constant`` is called for each
of them, and here it fails the test. The subcommands are enumerated from
:func:`gradmath.cli.build_parser`, so a new one needs a fast ``--json`` invocation in ``FAST``.
"""

from __future__ import annotations

import json

import pytest

from gradmath.cli import build_parser, main
from tests.test_injection import _subcommands


def _refuse(token: str):
    raise AssertionError(f"non-JSON token {token!r} in --json output")


def strict_loads(text: str):
    """``json.loads`` that fails on NaN, Infinity and -Infinity."""
    return json.loads(text, parse_constant=_refuse)


#: Fast invocations per subcommand (``{tmp}``: a temporary folder; ``{model}``: a small network file),
#: including edge cases that once printed non-finite numbers.
FAST = {
    ("derive", "chain"): [["--depth", "2"]],
    ("derive", "matrix"): [["--sizes", "1,1,1"]],
    ("window",): [[]],
    ("exploding",): [["--depth", "4"], ["--depth", "4", "--activation", "x**3"],
                     ["--depth", "30", "--bias-error=-1e-3", "--activation", "x**3"],
                     ["--depth", "1000000", "--weight", "1e-3"]],
    ("identity",): [["--w1", "0.1"], ["--w1", "1e-15"], ["--w1", "1e100", "--points", "3"]],
    ("verify",): [["{model}", "--examples", "5", "--quiet"]],
    ("counterexample",): [[], ["--weight", "1e100", "--width", "10000"], ["--norm", "1", "--weight", "1e-100"]],
    ("speeds",): [["--seeds", "1", "--sizes", "64,2,10", "--examples", "5", "--quiet"]],
    ("gamma",): [["--activation", "sigmoid"]],
    ("meanfield",): [["--sigma-w2", "1.5"], ["--activation", "relu", "--sigma-w2", "2", "--sigma-b2", "0"],
                     ["--critical", "--sigma-b2", "0.05"], ["--critical", "--activation", "relu", "--sigma-b2", "0.1"]],
    ("sweep",): [["--depth", "2", "--width", "4", "--out", "{tmp}/sweep", "--no-figures", "--quiet"]],
    ("reproduce",): [["--steps", "gamma", "--out", "{tmp}/out", "--quiet"]],
}


def test_every_subcommand_has_a_fast_json_case():
    assert {path for path, _ in _subcommands(build_parser())} == set(FAST)


def test_strict_loads_refuses_the_python_extensions():
    for token in ("NaN", "Infinity", "-Infinity"):
        with pytest.raises(AssertionError, match="non-JSON"):
            strict_loads(f'{{"x": {token}}}')


def test_emit_refuses_non_finite_values():
    import argparse

    from gradmath.cli._common import emit

    with pytest.raises(ValueError):
        emit(argparse.Namespace(json=True), {"x": float("inf")}, "")


@pytest.mark.parametrize(("path", "args"), [pytest.param(path, args, id=" ".join(path + tuple(args)))
                                            for path, cases in FAST.items() for args in cases])
def test_json_output_is_strict(path, args, tmp_path, capsys, monkeypatch):
    from gradmath.formats import save_network
    from gradmath.network import Network

    monkeypatch.chdir(tmp_path)
    model = save_network(Network.random((64, 3, 10), seed=0, cost="cross-entropy"), tmp_path / "net.npz")
    argv = [*path, *(a.replace("{tmp}", str(tmp_path)).replace("{model}", str(model)) for a in args), "--json"]
    code = main(argv)
    out = capsys.readouterr().out
    assert code in (0, 1), argv  # 1: a reported violation (verify) is still a result
    payload = strict_loads(out)
    assert isinstance(payload, (dict, list)) and payload
