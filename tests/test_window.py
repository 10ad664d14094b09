"""The window {a : |wσ′(wa+b)| ≥ 1}: derivation, closed form against measurement, every activation.

Checks ``proofs/window.md`` and ``proofs/tanh-relation.md``.
"""

from __future__ import annotations

import math

import mpmath
import pytest
import sympy as sp
from hypothesis import example, given, settings
from hypothesis import strategies as st

from gradmath.activations import BUILTIN_ACTIVATIONS, get_activation
from gradmath.errors import InvalidParameterError, NonFiniteError, UnknownActivationError
from gradmath.numeric.measure import measure_window
from gradmath.numeric.optimise import window_width
from gradmath.symbolic.window import (
    NIELSEN_EQ_123,
    W,
    derive_window,
    sigmoid_simplification,
    tanh_relation,
)
from tests.golden import GOLDEN

CLOSED_FORM = ("sigmoid", "tanh", "arctan", "softsign")
UNBOUNDED_FROM_ONE = ("softplus", "gelu", "silu", "relu")


# ----- part 1: |w| ≥ 1/γ ----------------------------------------------------------
def test_sigmoid_minimum_is_four_from_gamma():
    d = derive_window("sigmoid")
    assert d.gamma == sp.Rational(1, 4)
    assert d.min_abs_w == 4
    assert d.method == "closed form"


@pytest.mark.parametrize("name", BUILTIN_ACTIVATIONS)
def test_below_minimum_the_window_is_empty_with_a_reason(name):
    d = derive_window(name)
    u = 0.99 * float(d.min_abs_w_value)
    r = window_width(name, u)
    assert r.width == 0.0 and "below the minimum" in r.reason
    assert measure_window(name, w=u, b=0.3).width == 0.0  # the independent measurement agrees


@pytest.mark.parametrize("name", BUILTIN_ACTIVATIONS)
def test_min_abs_w_times_gamma_is_one(name):
    d = derive_window(name)
    with mpmath.workdps(40):
        assert abs(mpmath.mpf(d.min_abs_w_value) * mpmath.mpf(d.gamma_value) - 1) < mpmath.mpf(10) ** -25


# ----- part 2: the closed form ----------------------------------------------------
def test_sympy_width_simplifies_to_eq_123():
    r = sigmoid_simplification()
    assert r.symbolic_equal
    assert float(r.max_numeric_difference) < 1e-45
    assert r.steps[-1][1] == NIELSEN_EQ_123
    assert r.steps[3][1] == 1  # t₊t₋ = 1


def test_closed_form_width_equals_eq_123_at_high_precision():
    width = sp.lambdify(W, derive_window("sigmoid").width, modules="mpmath")
    eq123 = sp.lambdify(W, NIELSEN_EQ_123, modules="mpmath")
    with mpmath.workdps(200):
        for u in ("4.5", "6.9", "17", "1e6"):
            assert abs(width(mpmath.mpf(u)) - eq123(mpmath.mpf(u))) < mpmath.mpf(10) ** -190


def _tolerance(width: float, w: float, b: float) -> float:
    # brentq brackets each end to ~1e-13·|a|; near |w| = 1/γ the ends are tangencies (error ~ √eps / |w|).
    return 1e-9 * (1 + abs(b)) / abs(w) + 1e-9 * width


@settings(max_examples=150)
@given(w=st.floats(4.01, 1000.0) | st.floats(-1000.0, -4.01), b=st.floats(-30.0, 30.0))
@example(w=6.894151032272928, b=0.0)
@example(w=-4.01, b=-30.0)
@example(w=1000.0, b=29.9)
def test_sigmoid_closed_form_matches_the_measured_set(w, b):
    measured = measure_window("sigmoid", w=w, b=b)
    closed = window_width("sigmoid", abs(w)).width
    assert measured.crossings == 2  # one interval
    assert measured.width == pytest.approx(closed, abs=_tolerance(closed, w, b))


@settings(max_examples=40)
@given(name=st.sampled_from(CLOSED_FORM[1:]), scale=st.floats(1.01, 60.0), b=st.floats(-10.0, 10.0),
       sign=st.sampled_from([1, -1]))
def test_other_closed_forms_match_the_measured_set(name, scale, b, sign):
    w = sign * scale * float(derive_window(name).min_abs_w_value)
    measured = measure_window(name, w=w, b=b)
    closed = window_width(name, abs(w)).width
    assert measured.width == pytest.approx(closed, abs=_tolerance(closed, w, b))


@settings(max_examples=30)
@given(w=st.floats(4.5, 50.0), b1=st.floats(-20.0, 20.0), b2=st.floats(-20.0, 20.0))
def test_the_width_does_not_depend_on_the_bias(w, b1, b2):
    first = measure_window("sigmoid", w=w, b=b1).width
    second = measure_window("sigmoid", w=w, b=b2).width
    assert first == pytest.approx(second, abs=1e-9)


# ----- every activation --------------------------------------------------------------
@pytest.mark.parametrize("name", UNBOUNDED_FROM_ONE)
def test_windows_that_become_half_lines(name):
    d = derive_window(name)
    assert d.unbounded_from == 1
    assert math.isinf(window_width(name, 2.0).width)
    assert math.isinf(measure_window(name, w=2.0, b=0.5).width)  # independent: it reaches the search edge


def test_relu_is_unbounded_as_soon_as_it_is_non_empty():
    d = derive_window("relu")
    assert d.method == "unbounded" and d.unbounded_inclusive and d.min_abs_w == 1
    assert math.isinf(window_width("relu", 1.0).width)


@pytest.mark.parametrize("name,u", [("gelu", 0.95), ("silu", 0.95), ("gelu", 0.9)])
def test_numeric_widths_below_one_match_the_measurement(name, u):
    assert derive_window(name).method == "numeric"
    numeric = window_width(name, u).width
    assert 0 < numeric < math.inf
    assert measure_window(name, w=-u, b=1.5).width == pytest.approx(numeric, rel=1e-8)


@pytest.mark.parametrize("name,argmax,top", [("arctan", 2, 1), ("softsign", 4, sp.Rational(1, 2))])
def test_exact_maxima(name, argmax, top):
    assert derive_window(name).exact_maximum == (argmax, top)


# ----- tanh and the sigmoid ------------------------------------------------------------
def test_tanh_relation_symbolically():
    r = tanh_relation()
    assert r.holds
    assert [s for s, _ in r.checks][-1].startswith("W_tanh(u) = 2·W_sigmoid(4u)")


def test_tanh_relation_to_high_precision():
    tanh_w = sp.lambdify(W, derive_window("tanh").width, modules="mpmath")
    sig_w = sp.lambdify(W, NIELSEN_EQ_123, modules="mpmath")  # the seed's form, not the derived one
    with mpmath.workdps(300):
        for u in ("1.0001", "1.7235", "2", "10", "12345.678"):
            u = mpmath.mpf(u)
            assert abs(tanh_w(u) - 2 * sig_w(4 * u)) < mpmath.mpf(10) ** -290


# ----- bad input -----------------------------------------------------------------------
@pytest.mark.parametrize("abs_w,error,words", [
    (0.0, InvalidParameterError, "must be > 0"),
    (-2.0, InvalidParameterError, "must be > 0"),
    (float("nan"), NonFiniteError, "finite"),
    (float("inf"), NonFiniteError, "finite"),
    ("5", InvalidParameterError, "real number"),
    (1e301, InvalidParameterError, "<= 1e\\+300"),
])
def test_window_width_rejects(abs_w, error, words):
    with pytest.raises(error, match=words):
        window_width("sigmoid", abs_w)


def test_unknown_activation_suggests_the_nearest():
    with pytest.raises(UnknownActivationError, match="did you mean 'sigmoid'"):
        derive_window("sigmod")


def test_measure_rejects_zero_weight():
    with pytest.raises(InvalidParameterError, match="w=0"):
        measure_window("sigmoid", w=0.0, b=0.0)


def test_seed_quotations_are_only_compared():
    # the seed's 0.45 and 6.9 are golden quotations; gradmath's outputs come from its own computation
    assert GOLDEN["nielsen_window_max_width"]["value"] == "0.45"
    assert get_activation("sigmoid").gamma.exact == sp.Rational(1, 4)
