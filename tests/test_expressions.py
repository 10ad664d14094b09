"""The safe parser: exact literals, sizes checked before anything is built."""

from __future__ import annotations

import time

import pytest
import sympy as sp

from gradmath.errors import ExpressionError
from gradmath.expressions import MAX_DEPTH, MAX_NODES, X, parse_expression


@pytest.mark.parametrize(("text", "expected"), [
    ("x*1e-300", X / sp.Integer(10) ** 300),  # exact, not rounded to 0, and it depends on x
    ("x*0.1", X / 10),  # the decimal 0.1, not the binary double nearest to it
    ("x + 2.5e3", X + 2500),
    ("(10**1000)*x", sp.Integer(10) ** 1000 * X),  # 1001 digits: within MAX_DIGITS
    # read from the written digits, not from the float Python makes of them (which drops digits
    # past the 17th, and underflows to 0.0 below about 2.5e-324)
    ("0.30000000000000000001*x", sp.Rational(30000000000000000001, 10**20) * X),
    ("x*123456789012345678901234567890.0", 123456789012345678901234567890 * X),
    ("tanh(x) + 1e-400*x**3", sp.tanh(X) + X**3 / sp.Integer(10) ** 400),
    ("x*2.5e-324", X * sp.Rational(25, 10**325)),  # the float is the subnormal 5e-324
    ("x*1_0.5e-1_0", X * sp.Rational(105, 10**11)),
])
def test_literals_are_exact_decimals(text, expected):
    assert parse_expression(text) == expected


@pytest.mark.parametrize(("text", "match"), [
    ("((10**1000)**1000)**1000", "digits"),
    ("x + (2**999)**999", "digits"),
    ("x + (1/3)**999*3**999", None),  # fine: 477 digits each
    ("x*1e400", "too large for a float"),
    ("x*1e-4001", "more than 4000 digits"),  # 0.0 as a float; refused before 10**4001 is built
    ("x*1e-999999999", "more than 4000 digits"),
    ("x" + "+x" * MAX_NODES, "parts"),
    ("(" * (MAX_DEPTH + 1) + "x" + ")" * (MAX_DEPTH + 1), None),  # parentheses add no nodes
    ("-" * (MAX_DEPTH + 5) + "x", "nested deeper"),
    ("x + " + "9" * 1990, None),  # the 2000-character limit keeps literals far below MAX_DIGITS
    # each power fits, their product has 5001 digits (printing it raised ValueError: ints over 4300 digits)
    ("x + 10**1000*10**1000*10**1000*10**1000*10**1000", "combine into one of more than 4000 digits"),
    ("x/(10**1000*10**1000*10**1000*10**1000*10**1000)", "combine into one of more than 4000 digits"),
    ("x + 10**1000*10**1000*10**1000", None),  # 3001 digits
], ids=lambda v: v[:30] if isinstance(v, str) else None)
def test_sizes_are_refused_before_building(text, match):
    start = time.process_time()
    if match is None:
        assert X in parse_expression(text).free_symbols
    else:
        with pytest.raises(ExpressionError, match=match):
            parse_expression(text)
    assert time.process_time() - start < 2.0  # refused before any big number is built
