"""`gradmath derive chain|matrix`: output formats, the JSON keys, help with examples, bad input."""

from __future__ import annotations

import json

import pytest

from gradmath.cli import main

CHAIN_KEYS = {"depth", "layer", "activation", "cost", "derivative", "product_form", "verified", "checks"}


def test_chain_json_has_the_documented_keys(capsys):
    rc = main(["derive", "chain", "--depth", "4", "--layer", "2", "--activation", "sigmoid",
               "--cost", "quadratic", "--json"])
    out, err = capsys.readouterr()
    assert rc == 0 and err == ""
    payload = json.loads(out)
    assert CHAIN_KEYS <= set(payload)
    assert (payload["depth"], payload["layer"], payload["activation"], payload["cost"]) == (4, 2, "sigmoid", "quadratic")
    assert payload["verified"] is True
    assert [c["name"] for c in payload["checks"]] == ["chain_rule", "nested", "numeric"]
    assert payload["product_form"].startswith(r"\sigma'(z_{2})")


def test_format_json_is_the_same_as_json(capsys):
    main(["derive", "chain", "--depth", "2", "--json"])
    first = capsys.readouterr().out
    main(["derive", "chain", "--depth", "2", "--format", "json"])
    assert capsys.readouterr().out == first


def test_chain_markdown_and_latex(capsys):
    assert main(["derive", "chain", "--depth", "3", "--cost", "cross-entropy"]) == 0
    out = capsys.readouterr().out
    assert "| cancellation | yes | yes |" in out and "Verified: yes." in out
    assert main(["derive", "chain", "--depth", "3", "--format", "latex", "-a", "tanh"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("\\begin{aligned}") and "\\tanh" in out


def test_no_verify(capsys):
    assert main(["derive", "chain", "--depth", "2", "--no-verify", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["checks"] == [] and payload["verified"] is False


def test_matrix_json(capsys):
    assert main(["derive", "matrix", "--sizes", "2,3,2", "--activation", "tanh", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert {"sizes", "depth", "activation", "cost", "layers", "verified", "checks"} <= set(payload)
    assert payload["sizes"] == [2, 3, 2] and payload["verified"] is True


@pytest.mark.parametrize("argv", [["derive", "--help"], ["derive", "chain", "--help"], ["derive", "matrix", "--help"]])
def test_help_has_an_example(argv, capsys):
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "examples:" in out and "gradmath derive" in out


@pytest.mark.parametrize(("argv", "match"), [
    (["derive", "chain", "--depth", "0"], "depth=0 must be an integer in [1, 2000]"),
    (["derive", "chain", "--depth", "10000"], "depth=10000 must be an integer in [1, 2000]"),
    (["derive", "chain", "--depth", "1" + "0" * 5000], "(5001 characters) is not an integer of at most 12 ASCII"),
    (["derive", "chain", "--depth", "\uff15"], "is not an integer of at most 12 ASCII digits"),   # fullwidth 5
    (["derive", "chain", "--depth", "\u0663"], "is not an integer of at most 12 ASCII digits"),   # Arabic-Indic 3
    (["derive", "chain", "--depth", "3", "--digits", "5000"], "digits=5000 must be an integer in [15, 1000]"),
    (["derive", "chain", "--depth", "3", "--layer", "5"], r"layer=5 must be an integer in [1, 3]"),
    (["derive", "chain", "--depth", "2", "--activation", "sigmod"], "did you mean 'sigmoid'?); known: arctan"),
    (["derive", "chain", "--depth", "2", "--activation", "x+"], "is not a valid expression"),
    (["derive", "chain", "--depth", "2", "--activation", "().__class__"], "Attribute is not allowed"),
    (["derive", "chain", "--depth", "2", "--cost", "entropy"], "did you mean 'cross-entropy'"),
    (["derive", "chain", "--depth", "two"], "'two' is not an integer"),
    (["derive", "chain"], "the following arguments are required: --depth"),
    (["derive", "matrix", "--sizes", "2,,3"], "must be comma-separated positive integers of at most 12 ASCII digits"),
    (["derive", "matrix", "--sizes", "2,\u00b2,2"], "must be comma-separated positive integers"),   # superscript 2
    (["derive", "matrix", "--sizes", "2,\u0663,2"], "must be comma-separated positive integers"),   # Arabic-Indic 3
    (["derive", "matrix", "--sizes", "2," + "9" * 5000], "(5002 characters) must be comma-separated positive"),
    (["derive", "matrix", "--sizes", ""], "must be comma-separated positive integers"),
    (["derive", "matrix", "--sizes", "10000,2"], "has 10000 inputs; at most 24"),
    (["derive", "matrix", "--sizes", "2,10000"], "has 10000 neurons; at most 24"),
    (["derive", "matrix", "--sizes", ",".join(["1"] * 10)], "has 9 layers after the input; at most 8"),
    (["derive", "matrix", "--sizes", "2,3,3,3,3,3"], "about 149,778 terms in the nested check; at most 40,000"),
    (["derive", "matrix", "--sizes", "2"], "must list at least 2 layer widths"),
    (["derive", "matrix", "--sizes", "2,0,2"], "must be comma-separated positive integers"),
    # σ′ = x*DiracDelta(x) + Heaviside(x): the numeric check was a NameError traceback (no DiracDelta in NumPy)
    (["derive", "chain", "--depth", "3", "--activation", "Heaviside(x)*x"], "has a Dirac delta DiracDelta(x)"),
    (["derive", "chain", "--depth", "3", "--activation", "x*sign(x)"], "has a Dirac delta DiracDelta(x)"),
    (["derive", "matrix", "--sizes", "2,2", "--activation", "Heaviside(x)*x"], "has a Dirac delta DiracDelta(x)"),
])
def test_bad_input_is_one_line_and_exit_code_2(argv, match, capsys):
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1 and match in err
    assert "Traceback" not in err


@pytest.mark.parametrize(("argv", "match"), [
    # z_2 ≈ 10^703, so σ(z_2) = exp(exp(exp(z_2))) is beyond mpmath: was an OverflowError traceback, exit 1
    (["derive", "chain", "--depth", "3", "--activation", "exp(exp(exp(x)))", "--seed", "4"], "too large for mpmath"),
    (["derive", "matrix", "--sizes", "2,3,2", "--activation", "exp(exp(exp(x)))", "--seed", "1"],
     "too large for mpmath"),
    # rounding at 41 digits moves e^(e^(e^z)) in its leading digits: seed 2 was 'lost_digits=19885037 must be an
    # integer in [0, 1000000]' (an internal name), seed 6 'check failed' with exit 1 (the formula is right)
    (["derive", "chain", "--depth", "3", "--activation", "exp(exp(exp(x)))", "--seed", "2"],
     "∂C/∂b_1 at 41 working digits differs from its value at 61 by more than 1e-20 relative"),
    (["derive", "chain", "--depth", "3", "--activation", "exp(exp(exp(x)))", "--seed", "6"],
     "too sensitive to rounding"),
    # the two central differences of an entry disagree by 4.8e17 relative (the cost curves on a scale far below
    # the step): was 'check failed', exit 1
    (["derive", "matrix", "--sizes", "2,2,2", "--activation", "exp(x**3)", "--seed", "9"],
     "the central differences of δ^1_1 at two steps differ by 4.8e+17 relative, more than 1e-20"),
    # σ′ = e^(−10⁶z²)·2000/√π: |C| ≈ 10^1192748 |∂C|, stable under rounding but beyond the digits carried
    (["derive", "chain", "--depth", "3", "--activation", "erf(1000*x)", "--seed", "0"],
     "|C| is about 10^1192748 times |∂C/∂b_1|, more than the 10000 extra digits"),
])
def test_a_numeric_check_that_cannot_be_made_is_refused_in_one_line(argv, match, capsys):
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and "Traceback" not in err
    assert match in err and "the numeric check at seed" in err and "--no-verify" in err


def test_a_central_difference_refined_to_agree_is_a_pass(capsys):
    """exp(exp(x)) at seed 9: the first central difference is 1e-17 off (truncation, the cost curves on a scale
    of 1e-15), the refined one agrees with the product form to 1e-20; this said 'check failed', exit 1."""
    assert main(["derive", "chain", "--depth", "3", "--activation", "exp(exp(x))", "--seed", "9", "--json"]) == 0
    checks = {c["name"]: c for c in json.loads(capsys.readouterr().out)["checks"]}
    assert checks["numeric"]["passed"] is True


def test_derive_without_what_shows_help_and_fails(capsys):
    assert main(["derive"]) == 2
    assert "chain" in capsys.readouterr().err


def test_help_states_the_library_limits(capsys):
    """The limits written out in --help (SymPy is not imported to build it) are the library's."""
    from gradmath.symbolic import chain, matrix

    assert main(["derive", "chain", "--help"]) == 0
    chain_help = " ".join(capsys.readouterr().out.split())
    assert f"1 ≤ L ≤ {chain.MAX_DEPTH}" in chain_help
    assert main(["derive", "matrix", "--help"]) == 0
    matrix_help = " ".join(capsys.readouterr().out.split())
    assert (f"at most {matrix.MAX_INPUTS} inputs, {matrix.MAX_DEPTH} layers and {matrix.MAX_NEURONS} neurons "
            f"after the input, and a nested check of at most {matrix.MAX_NESTED_WORK:,} terms") in matrix_help


def test_largest_allowed_matrix_shapes_are_accepted():
    """The limits refuse only beyond them: shapes at each edge are derived (without the slow checks)."""
    from gradmath.symbolic.matrix import MAX_NESTED_WORK, derive_matrix, nested_work

    for sizes in [(24, 24), (1,) * 9, (2, 2, 2, 2, 2, 2, 2)]:
        assert nested_work(sizes) <= MAX_NESTED_WORK
        assert derive_matrix(sizes, verify=False).sizes == sizes


@pytest.mark.parametrize("argv, generated", [
    (["derive", "chain", "--depth", "4", "--layer", "1", "--activation", "sigmoid", "--cost", "quadratic"],
     "nielsen-122.md"),
    (["derive", "matrix", "--sizes", "2,3,2"], "matrix-2-3-2.md"),
])
def test_documented_commands_print_the_generated_output(argv, generated, capsys):
    """docs/derivations.md shows these commands' output as docs/generated/derivations/ holds it:
    with the default seed (gradmath reproduce's) the command prints exactly that file."""
    from pathlib import Path

    docs = Path(__file__).resolve().parent.parent / "docs"
    assert main(argv) == 0
    assert capsys.readouterr().out == (docs / "generated" / "derivations" / generated).read_text(encoding="utf-8")
    command = "$ gradmath " + " ".join(argv)
    assert command in (docs / "derivations.md").read_text(encoding="utf-8")


def test_progress_reaches_the_total_and_shows_only_on_a_terminal(capsys, monkeypatch):
    import io
    import sys

    from gradmath.symbolic.chain import derive_chain
    from gradmath.symbolic.matrix import derive_matrix

    calls = []
    derive_matrix((2, 3, 2), progress=lambda done, total: calls.append((done, total)))
    assert calls == [(k, 10) for k in range(1, 11)]        # 5 neurons, each in the nested and the numeric check
    calls.clear()
    derive_chain(3, progress=lambda done, total: calls.append((done, total)))
    assert calls == [(1, 4), (2, 4), (3, 4), (4, 4)]

    assert main(["derive", "matrix", "--sizes", "2,3,2"]) == 0
    assert capsys.readouterr().err == ""                   # stderr is not a terminal here

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert main(["derive", "matrix", "--sizes", "2,3,2"]) == 0
    assert "derive matrix" in terminal.getvalue() and "entry" in terminal.getvalue()
    shown = len(terminal.getvalue())
    assert main(["derive", "chain", "--depth", "3", "--quiet"]) == 0
    assert len(terminal.getvalue()) == shown                # --quiet: nothing more
