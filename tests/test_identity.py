"""The identity neuron w₂σ(w₁x + b) ≈ x + c and its bound w₁²|Δ|³/12 ≤ w₁²/96.

Checks ``proofs/identity-neuron.md``.
"""

from __future__ import annotations

import dataclasses
import json

import mpmath
import numpy as np
import pytest
import sympy as sp
from scipy.special import expit

from gradmath.errors import InvalidParameterError, NonFiniteError
from gradmath.symbolic.identity import W1, check_identity_bound, derive_identity


def test_derivation():
    d = derive_identity()
    assert d.bias == -W1 / 2 and d.w2 == 4 / W1
    assert d.third_derivative_sup == sp.Rational(1, 8)
    assert d.bound == W1**2 / 96
    assert sp.simplify(d.offset - (2 / W1 - sp.Rational(1, 2))) == 0


def test_series_against_mpmath_taylor():
    coeffs = mpmath.taylor(lambda t: 1 / (1 + mpmath.exp(-t)), 0, 4)  # numeric differentiation: independent
    series = derive_identity().series.removeO()
    t = sp.Symbol("t", real=True)
    for k, c in enumerate(coeffs):
        assert abs(float(series.coeff(t, k)) - float(c)) < 1e-12


@pytest.mark.parametrize("w1", [1e-4, 1e-3, 0.01, 0.1, 0.5, 1.0, 2.0, 5.0])
def test_bound_holds_on_a_fine_grid(w1):
    c = check_identity_bound(w1, points=4001)
    assert c.holds and c.max_error <= c.bound


@pytest.mark.parametrize("w1", [1e-3, 0.01, 0.1])
def test_bound_is_nearly_attained_for_small_w1(w1):
    c = check_identity_bound(w1)
    assert c.max_error / c.bound > 0.99


def test_float64_oracle_agrees():
    # float64 through expit, written out independently, for a moderate w1 where rounding is harmless
    w1 = 0.2
    x = np.linspace(0, 1, 10001)
    err = np.max(np.abs(4 / w1 * expit(w1 * x - w1 / 2) - x - (2 / w1 - 0.5)))
    assert err == pytest.approx(check_identity_bound(w1, points=10001).max_error, rel=1e-6)
    assert err <= w1**2 / 96


@pytest.mark.parametrize("w1,error,words", [
    (0.0, InvalidParameterError, "w1=0 must be > 0"),
    (-1.0, InvalidParameterError, "must be > 0"),
    (float("inf"), NonFiniteError, "finite"),
    ("nan", NonFiniteError, "finite"),
    ("1e-101", InvalidParameterError, r"\[1e-100, 1e100\]"),
    ("1e101", InvalidParameterError, r"\[1e-100, 1e100\]"),
    ("0.1.2", InvalidParameterError, "not a number"),
])
def test_bad_w1(w1, error, words):
    with pytest.raises(error, match=words):
        check_identity_bound(w1)


def test_bad_points():
    with pytest.raises(InvalidParameterError, match="points=1"):
        check_identity_bound(0.1, points=1)


def _error_at_the_ends(w1: str, dps: int):
    """|R| at x = 0 and x = 1 (Δ = ∓½), where the grid's maximum lies, from the definition at ``dps`` digits."""
    with mpmath.workdps(dps):
        w = mpmath.mpf(w1)
        sig = lambda t: 1 / (1 + mpmath.exp(-t))  # noqa: E731
        return max(abs(4 / w * sig(w * x - w / 2) - x - (2 / w - mpmath.mpf(1) / 2)) for x in (0, 1))


@pytest.mark.parametrize("w1", ["1e-15", "1e-30", "1e-100", "0.5", "1e100"])
def test_precision_follows_the_quantities(w1):
    """Small w₁ subtracts numbers near 2/w₁ to find |R| near w₁²/96, a relative gap of w₁²/40 below the bound:
    the check must hold and find the true maximum (an oracle at 3× its digits), however small w₁ is."""
    c = check_identity_bound(w1, points=101)
    assert c.holds
    oracle = _error_at_the_ends(w1, 3 * c.digits + 50)
    assert c.max_error == pytest.approx(float(oracle), rel=1e-12)
    assert c.max_error <= c.bound


def test_40_digits_were_not_enough_for_w1_1e_minus_15():
    # the former fixed 40-digit check: the cancellation 2e15 − 2e15 leaves no correct digit of a 1e-32 error
    wrong = _error_at_the_ends("1e-15", 40)
    right = _error_at_the_ends("1e-15", 200)
    assert abs(wrong - right) > right
    assert check_identity_bound("1e-15").digits >= 15 + 47 + 32


def test_a_failed_check_is_exit_code_1(monkeypatch, capsys):
    import gradmath.symbolic.identity as identity
    from gradmath.cli import main

    real = identity.check_identity_bound
    monkeypatch.setattr(identity, "check_identity_bound",
                        lambda w1, points: dataclasses.replace(real(w1, points=points), holds=False))
    assert main(["identity", "--w1", "0.1", "--points", "11"]) == 1
    captured = capsys.readouterr()
    assert "bound holds: False" in captured.out and "FAILS" in captured.err


def test_cli_reads_w1_as_a_number(capsys):
    from gradmath.cli import main

    assert main(["identity", "--w1", "1e-15", "--points", "11", "--json"]) == 0
    check = json.loads(capsys.readouterr().out)["check"]
    assert check["holds"] is True and check["digits"] >= 90 and float(check["w1"]) == 1e-15
