"""Costs: each derivative is sympy.diff of the one expression, checked against mpmath and by hand."""

from __future__ import annotations

import mpmath
import pytest
import sympy as sp
from hypothesis import example, given, settings
from hypothesis import strategies as st

from gradmath.activations import get_activation
from gradmath.costs import COST_NAMES, A, Y, get_cost
from gradmath.errors import UnknownNameError
from gradmath.expressions import X

unit = st.floats(min_value=1e-6, max_value=1 - 1e-6, allow_nan=False)


def test_derivatives_are_the_textbook_ones():
    assert get_cost("quadratic").derivative == A - Y
    ce = get_cost("cross-entropy").derivative
    assert sp.cancel(ce - (A - Y) / (A * (1 - A))) == 0


def test_sigma_prime_cancels_for_sigmoid_and_cross_entropy():
    # Nielsen ch. 3: with a sigmoid output, σ′(z) = σ(z)(1 − σ(z)) cancels the cross-entropy's denominator.
    sig = get_activation("sigmoid")
    delta = get_cost("cross-entropy").derivative.xreplace({A: sig.expression}) * sig.derivative
    assert sp.cancel(delta - (sig.expression - Y)) == 0
    quadratic = get_cost("quadratic").derivative.xreplace({A: sig.expression}) * sig.derivative
    assert sp.cancel(quadratic - (sig.expression - Y)) != 0
    assert X in delta.free_symbols


@pytest.mark.parametrize("name", COST_NAMES)
@settings(max_examples=40)
@given(a=unit, y=unit)
@example(a=0.5, y=0.5)
def test_derivative_matches_mpmath_diff(name, a, y):
    cost = get_cost(name)
    d = sp.lambdify((A, Y), cost.derivative, modules="mpmath")
    with mpmath.workdps(40):
        numeric = mpmath.diff(lambda t: cost.evaluate_mp(t, mpmath.mpf(y)), mpmath.mpf(a))
        assert abs(d(mpmath.mpf(a), mpmath.mpf(y)) - numeric) <= mpmath.mpf(10) ** -25 * max(1, abs(numeric))


@pytest.mark.parametrize(("bad", "match"), [
    ("entropy", "did you mean 'cross-entropy'"),
    ("quadratc", "did you mean 'quadratic'"),
    ("", "is not one of 'quadratic', 'cross-entropy'"),
])
def test_unknown_cost_names_the_known_ones(bad, match):
    with pytest.raises(UnknownNameError, match=match):
        get_cost(bad)


def test_cost_objects_print_and_serialise():
    cost = get_cost("cross-entropy")
    assert get_cost(cost) is cost
    assert cost.at(sp.Symbol("a_3"), sp.Symbol("t")).free_symbols == {sp.Symbol("a_3"), sp.Symbol("t")}
    assert set(cost.to_json()) == {"name", "expression", "expression_latex", "derivative", "derivative_latex"}
    assert cost._repr_latex_().startswith("$C(a, y) = ")
