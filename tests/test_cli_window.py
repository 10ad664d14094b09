"""`gradmath window`, `gradmath exploding`, `gradmath identity`: JSON, text, one-line errors."""

from __future__ import annotations

import json
import math

import mpmath
import pytest

from gradmath.cli import main
from tests.golden import GOLDEN


def _json(argv, capsys) -> dict:
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


def test_window_json_has_the_required_keys(capsys):
    payload = _json(["window", "--json"], capsys)
    assert set(payload) >= {"activation", "gamma", "min_abs_w", "argmax_abs_w", "max_width"}
    assert payload["activation"] == "sigmoid" and payload["min_abs_w"].startswith("4.000")
    assert all(isinstance(payload[k], str) for k in ("gamma", "min_abs_w", "argmax_abs_w", "max_width"))


def test_window_digits_and_certify(capsys):
    payload = _json(["window", "--digits", "60", "--certify", "--json"], capsys)
    golden = GOLDEN["window_sigmoid_max_width_50"]["value"]
    assert payload["max_width"][:50] == golden[:50]  # the golden value's last digit is rounded
    lo, hi = payload["enclosure"]
    with mpmath.workdps(80):
        assert mpmath.mpf(lo) <= mpmath.mpf(payload["max_width"]) <= mpmath.mpf(hi)


def test_window_1000_digits(capsys):
    payload = _json(["window", "--digits", "1000", "--json"], capsys)
    assert len(payload["max_width"]) == 2 + 1000  # "0." then 1000 significant digits
    assert payload["max_width"].startswith(GOLDEN["window_sigmoid_max_width_50"]["value"][:50])


def test_window_below_the_minimum_gives_zero_and_a_reason(capsys):
    payload = _json(["window", "--activation", "tanh", "--abs-w", "0.5", "--json"], capsys)
    assert payload["at_abs_w"]["width"] == "0.0"
    assert "below the minimum" in payload["at_abs_w"]["reason"]


def test_window_relu_is_unbounded(capsys):
    payload = _json(["window", "--activation", "relu", "--json"], capsys)
    assert payload["max_width"] == "inf" and payload["argmax_abs_w"] is None and "unbounded" in payload["reason"]


def test_window_without_closed_form_reports_a_float64_maximum(capsys):
    payload = _json(["window", "--activation", "x*exp(-x*x)", "--json"], capsys)
    assert payload["method"] == "numeric" and payload["maximum_method"].startswith("scipy")
    assert 0 < float(payload["max_width"]) < 2 and float(payload["argmax_abs_w"]) > float(payload["min_abs_w"])


def test_window_of_negated_tanh_is_tanh_s(capsys):
    mine = _json(["window", "--activation=-tanh(x)", "--digits", "25", "--json"], capsys)
    theirs = _json(["window", "--activation", "tanh", "--digits", "25", "--json"], capsys)
    for key in ("gamma", "min_abs_w", "width", "argmax_abs_w", "max_width"):
        assert mine[key] == theirs[key]


def test_window_of_a_sign_changing_derivative(capsys):
    # σ′ = 1/2 − 2 sech² x: γ = sup|σ′| = |σ′(0)| = 3/2 (sup σ′ is only 1/2); bounded for |w| ≤ 2
    payload = _json(["window", "--activation", "x/2-2*tanh(x)", "--abs-w", "1.5", "--json"], capsys)
    assert payload["gamma"].startswith("1.5000") and payload["min_abs_w"].startswith("0.66666")
    assert payload["unbounded_from"] == "2" and payload["unbounded_inclusive"] is False
    expected = 2 / 1.5 * math.acosh(2 * math.sqrt(1.5 / 3.5))  # worked out by hand, proofs/window.md
    assert float(payload["at_abs_w"]["width"]) == pytest.approx(expected, rel=1e-12)


def test_window_text_output(capsys):
    assert main(["window", "--digits", "5"]) == 0
    out = capsys.readouterr().out
    assert "argmax |w|        6.8942" in out and "max width         0.44774" in out


@pytest.mark.parametrize(("argv", "needle"), [
    (["window", "--digits", "0"], "digits=0 must be an integer in [1, 100000]"),
    (["window", "--digits", "-3"], "digits=-3"),
    (["window", "--digits", "100001"], "digits=100001"),
    (["window", "--digits", "many"], "'many' is not an integer of at most 12 ASCII digits"),
    # int() read these as 5, 3 and 1000 and ran; a 5000-digit value was echoed in full
    (["window", "--digits", "\uff15"], "is not an integer of at most 12 ASCII digits"),   # fullwidth 5
    (["exploding", "--depth", "\u0663"], "is not an integer of at most 12 ASCII digits"),   # Arabic-Indic 3
    (["exploding", "--depth", "1_000"], "'1_000' is not an integer of at most 12 ASCII digits"),
    (["identity", "--w1", "0.5", "--points", "\uff15"], "is not an integer of at most 12 ASCII digits"),
    (["counterexample", "--width", "\u0663"], "is not an integer of at most 12 ASCII digits"),
    (["meanfield", "--sigma-w2", "1", "--digits", "\uff15"], "is not an integer of at most 12 ASCII digits"),
    (["window", "--digits", "9" * 5000], "(5000 characters) is not an integer of at most 12 ASCII digits"),
    (["window", "--activation", "sigmod"], "did you mean 'sigmoid'"),
    (["window", "--activation", "relu", "--digits", "0"], "digits=0"),
    (["window", "--abs-w", "-1"], "abs_w=-1 must be > 0"),
    # float() took '５' and '1_0' as 5.0 and 10.0, and 1e400 as inf ("abs_w=inf must be a finite number")
    (["window", "--abs-w", "\uff15"], "abs_w='\uff15' is not a number"),
    (["window", "--abs-w", "1_0"], "abs_w='1_0' is not a number"),
    (["window", "--abs-w", "1e400"], "abs_w='1e400' is beyond the float64 range"),
    (["window", "--abs-w", "1e-400"], "abs_w='1e-400' is nonzero but below the smallest float64"),  # not "abs_w=0"
    (["window", "--activation", "x*exp(-x*x)", "--certify"], "nothing to certify"),
    (["window", "--activation=x**3"], "σ′ is unbounded (γ = sup|σ′| = ∞)"),
    (["window", "--activation=x**3", "--abs-w", "2"], "do not apply"),
    (["window", "--digits", "4001", "--certify"], "digits=4001 must be an integer in [1, 4000]"),
    (["window", "--activation", "relu", "--digits", "5000", "--certify"], "digits=5000"),
    (["exploding", "--depth", "0"], "depth=0"),
    (["exploding"], "required"),
    (["exploding", "--depth", "3", "--weight", "0"], "weight='0'"),
    (["identity", "--w1", "0"], "w1=0 must be > 0"),
    (["identity", "--w1", "nan"], "finite"),
])
def test_bad_input_is_one_line_and_exit_code_2(argv, needle, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and len(err.splitlines()) == 1


def test_exploding_json(capsys):
    payload = _json(["exploding", "--depth", "4", "--json"], capsys)
    assert payload["factor"] == "25" and payload["all_z_zero"] is True
    assert float(payload["log10_ratio"]) == pytest.approx(3 * 1.3979400086720377)
    assert payload["bias_error_factor"]["series"].startswith("25 - 25*epsilon**2/4")


def test_exploding_huge_depth_stays_in_log_space(capsys):
    payload = _json(["exploding", "--depth", "1000000", "--json"], capsys)
    assert payload["log10_ratio"].startswith("1397938.6")


def test_identity_json(capsys):
    payload = _json(["identity", "--w1", "0.01", "--json"], capsys)
    assert payload["w2"] == "4/w_1" and payload["bound"] == "w_1**2/96"
    assert payload["check"]["holds"] is True
    assert float(payload["check"]["max_error"]) <= float(payload["check"]["bound"])


@pytest.mark.parametrize("command", ["window", "exploding", "identity"])
def test_help_has_an_example(command, capsys):
    assert main([command, "--help"]) == 0
    out = capsys.readouterr().out
    assert "examples:" in out and f"gradmath {command} --" in out
