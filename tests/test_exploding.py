"""Nielsen's exploding-gradient construction and how bias errors destroy it.

Checks ``proofs/exploding.md``.
"""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from gradmath.errors import InvalidParameterError, NonFiniteError
from gradmath.symbolic.exploding import EPS, bias_error_factor, exploding_chain, perturbed_chain


def test_every_z_is_zero_and_every_factor_is_25():
    r = exploding_chain(4)
    assert r.all_z_zero and r.factor == 25 and r.weight == 100
    assert float(r.log10_ratio) == pytest.approx(3 * math.log10(25), rel=1e-14)
    assert r.numeric_log10 == pytest.approx(3 * math.log10(25), rel=1e-12)


def _backprop_ratio(depth: int, w: float, a0: float) -> float:
    """∂C/∂b_1 ÷ ∂C/∂b_L by the chain rule written out (float64), the oracle for the construction."""
    sig = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    a, zs = a0, []
    for _ in range(depth):
        z = w * a + (-w * a)
        zs.append(z)
        a = sig(z)
    prime = [sig(z) * (1 - sig(z)) for z in zs]
    ratio = 1.0
    for j in range(1, depth):
        ratio *= w * prime[j]
    return ratio


@pytest.mark.parametrize("depth", [1, 2, 5, 12])
def test_ratio_matches_the_chain_rule(depth):
    r = exploding_chain(depth)
    assert 10 ** float(r.log10_ratio) == pytest.approx(_backprop_ratio(depth, 100.0, 0.37), rel=1e-12)


@settings(max_examples=30)
@given(depth=st.integers(1, 10**9))
def test_log_space_for_any_depth(depth):
    r = exploding_chain(depth, check_depth=3)
    with mpmath.workdps(30):
        expected = (depth - 1) * mpmath.log10(25)
        assert abs(mpmath.mpf(r.log10_ratio) - expected) <= mpmath.mpf(10) ** -14 * max(1, expected)


@pytest.mark.parametrize("weight,factor", [(100, 25), ("5/2", sp.Rational(5, 8)), (-8, -2)])
def test_factor_is_w_times_a_quarter(weight, factor):
    assert exploding_chain(3, weight=weight).factor == factor


def test_tanh_factor_is_the_weight():
    assert exploding_chain(3, activation="tanh").factor == 100


def test_bias_error_factor_and_its_series():
    f = bias_error_factor()
    assert sp.simplify(f.factor - 25 / sp.cosh(EPS / 2) ** 2) == 0
    assert f.series.removeO() == 25 - 25 * EPS**2 / 4
    with mpmath.workdps(30):
        assert abs(mpmath.mpf(f.breakeven) - 2 * mpmath.acosh(5)) < mpmath.mpf(10) ** -13


@pytest.mark.parametrize("eps", [1e-12, 1e-9, 1e-6, 1e-3])
def test_any_bias_error_eventually_destroys_the_growth(eps):
    exact = perturbed_chain(depth=40, bias_error=0.0).log10_ratio
    assert exact == pytest.approx(39 * math.log10(25), rel=1e-12)
    assert perturbed_chain(depth=40, bias_error=eps).log10_ratio < 0 < exact


def test_small_error_survives_a_few_layers():
    # the error grows ~26× per layer: with ε = 1e-12 four layers still give nearly 25³
    assert perturbed_chain(depth=4, bias_error=1e-12).log10_ratio == pytest.approx(3 * math.log10(25), abs=1e-6)


@pytest.mark.parametrize("kwargs,error,words", [
    ({"depth": 0}, InvalidParameterError, "depth=0"),
    ({"depth": 3, "weight": 0}, InvalidParameterError, "weight=0"),
    ({"depth": 2.5}, InvalidParameterError, "integer"),
])
def test_bad_input(kwargs, error, words):
    depth = kwargs.pop("depth")
    with pytest.raises(error, match=words):
        exploding_chain(depth, **kwargs)


def test_perturbed_rejects_non_finite_error():
    with pytest.raises(NonFiniteError, match="bias_error"):
        perturbed_chain(depth=3, bias_error=float("nan"))
