"""Numeric strings are read as exact rationals, within stated limits, and nothing else is accepted."""

from __future__ import annotations

import math
import time
from decimal import Decimal
from fractions import Fraction

import numpy as np
import pytest
import sympy as sp
from hypothesis import given
from hypothesis import strategies as st

from gradmath.errors import InvalidParameterError, NonFiniteError
from gradmath.numbers import MAX_EXPONENT, MAX_LENGTH, exact_rational, exact_real, finite_float, parse_decimal

decimals = st.builds(
    lambda sign, whole, frac, exp: f"{sign}{whole}{'.' + frac if frac is not None else ''}"
                                   f"{'e' + str(exp) if exp is not None else ''}",
    st.sampled_from(["", "-", "+"]), st.text("0123456789", min_size=1, max_size=20),
    st.one_of(st.none(), st.text("0123456789", max_size=20)),
    st.one_of(st.none(), st.integers(-MAX_EXPONENT, MAX_EXPONENT)),
)


@given(decimals)
def test_decimals_agree_with_python_fraction(text):
    # Fraction's own decimal parser is the oracle (it also reads '1.5e-3' exactly)
    assert parse_decimal(text) == Fraction(text)


@given(decimals, decimals)
def test_fractions_of_decimals(p, q):
    if Fraction(q) == 0:
        with pytest.raises(InvalidParameterError, match="divides by zero"):
            parse_decimal(f"{p}/{q}")
    else:
        assert parse_decimal(f"{p}/{q}") == Fraction(p) / Fraction(q)


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_floats_are_taken_at_their_exact_binary_value(x):
    assert exact_rational(x) == sp.Rational(*x.as_integer_ratio())
    assert exact_rational(np.float64(x)) == exact_rational(x)
    assert finite_float(x) == x
    assert parse_decimal(repr(x)) == Fraction(Decimal(repr(x)))  # the shortest repr, read exactly


@pytest.mark.parametrize("text", ["nan", "NaN", "-nan", "inf", "+inf", "-Infinity", " INF "])
def test_non_finite_strings(text):
    with pytest.raises(NonFiniteError, match="finite"):
        parse_decimal(text)


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, np.float64("nan"), sp.Float("inf")])
def test_non_finite_numbers(value):
    with pytest.raises(NonFiniteError, match="finite"):
        exact_rational(value)


@pytest.mark.parametrize("text,words", [
    ("", "not a number"), (".", "not a number"), ("e5", "not a number"), ("1e", "not a number"),
    ("1_000", "not a number"), ("0x10", "not a number"), ("١٢", "not a number"), ("1/2/3", "not a number"),
    ("1 2", "not a number"), ("2**3", "not a number"), ("pi", "not a number"), ("1j", "not a number"),
    ("1e1001", "exponent 1001"), ("1e-99999999999999999999", "exponent"), ("1" * (MAX_LENGTH + 1), "characters"),
    ("1/0", "divides by zero"), ("0/0.0", "divides by zero"),
])
def test_refused_strings(text, words):
    with pytest.raises(InvalidParameterError, match=words):
        parse_decimal(text)


def test_a_huge_exponent_is_refused_at_once():
    start = time.perf_counter()
    for text in ("1e999999999", "9" * MAX_LENGTH, "1e1000"):
        try:
            parse_decimal(text)
        except InvalidParameterError:
            pass
    assert time.perf_counter() - start < 1.0  # no million-digit integer is built (10**1000 takes microseconds)


@pytest.mark.parametrize("value", [True, None, [1], b"1", object(), 1 + 2j])
def test_other_types_are_refused(value):
    with pytest.raises(InvalidParameterError):
        exact_rational(value)


def test_sympy_numbers():
    assert exact_real(sp.sqrt(2)) == sp.sqrt(2)
    assert exact_rational(sp.Float("0.5")) == sp.Rational(1, 2)
    for bad in (sp.Symbol("w"), sp.I, sp.sqrt(-1) + 1):
        with pytest.raises(InvalidParameterError):
            exact_real(bad)
    with pytest.raises(NonFiniteError):
        exact_real(sp.oo)
    with pytest.raises(InvalidParameterError, match="rational"):
        exact_rational(sp.sqrt(2))


def test_finite_float_refuses_overflow():
    with pytest.raises(InvalidParameterError, match="float64 range"):
        finite_float("1e309")
    assert finite_float("1e308") == 1e308


def test_finite_float_refuses_underflow_to_zero():
    """A nonzero value below the subnormals would be read as 0.0, another value (which a caller may refuse as 0)."""
    with pytest.raises(InvalidParameterError, match="nonzero but below the smallest float64"):
        finite_float("1e-400")
    assert finite_float("5e-324") == 5e-324 and finite_float("0") == 0.0 and finite_float("-0e5") == 0.0
