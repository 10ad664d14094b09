"""The identity neuron w₂σ(w₁x + b) ≈ x + c and its bound w₁²|Δ|³/12 ≤ w₁²/96.

Checks ``proofs/identity-neuron.md``.
"""

from __future__ import annotations

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
])
def test_bad_w1(w1, error, words):
    with pytest.raises(error, match=words):
        check_identity_bound(w1)


def test_bad_points():
    with pytest.raises(InvalidParameterError, match="points=1"):
        check_identity_bound(0.1, points=1)
