"""The maximiser and maximum to any number of digits, and the certified enclosure.

Checks ``proofs/window.md`` (part 3: high precision and certification) and
``proofs/tanh-relation.md`` (the maxima scale).
"""

from __future__ import annotations

import mpmath
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gradmath.errors import InvalidParameterError, UnknownNameError
from gradmath.numeric.certify import certify_window_maximum, outward_decimal
from gradmath.numeric.precision import precision_stages, window_maximum
from tests.golden import GOLDEN


def _independent(digits: int):
    """|w|* and W* from v·tanh v = 1/2 (|w| = 4cosh²v, W = v·sech²v): shares no code with gradmath."""
    with mpmath.workdps(digits + 20):
        v = mpmath.findroot(lambda v: v * mpmath.tanh(v) - mpmath.mpf(1) / 2, mpmath.mpf("0.77"))
        return 16 * v**2 / (4 * v**2 - 1), v - 1 / (4 * v)


def test_50_digits_match_the_golden_values():
    m = window_maximum("sigmoid", digits=50)
    assert m.argmax_abs_w == GOLDEN["window_sigmoid_argmax_abs_w_50"]["value"]
    assert m.max_width == GOLDEN["window_sigmoid_max_width_50"]["value"]


def test_seed_values_to_their_printed_digits():
    m = window_maximum("sigmoid", digits=2)
    assert m.argmax_abs_w == GOLDEN["nielsen_window_argmax_abs_w"]["value"]
    assert m.max_width == GOLDEN["nielsen_window_max_width"]["value"]


def test_1000_digits_agree_with_an_1100_digit_run():
    a, b = window_maximum(digits=1000), window_maximum(digits=1100)
    with mpmath.workdps(1200):
        for short, long in ((a.argmax_abs_w, b.argmax_abs_w), (a.max_width, b.max_width)):
            assert len(short.replace(".", "").lstrip("0")) == 1000
            assert short == mpmath.nstr(mpmath.mpf(long), 1000, strip_zeros=False)


def test_300_digits_agree_with_the_independent_form():
    at, top = _independent(300)
    m = window_maximum(digits=300)
    with mpmath.workdps(320):
        assert abs(mpmath.mpf(m.argmax_abs_w) - at) < mpmath.mpf(10) ** -298
        assert abs(mpmath.mpf(m.max_width) - top) < mpmath.mpf(10) ** -299


def test_numeric_derivative_gives_the_same_digits():
    numeric, sympy = window_maximum(digits=200, derivative="numeric"), window_maximum(digits=200)
    assert (numeric.argmax_abs_w, numeric.max_width) == (sympy.argmax_abs_w, sympy.max_width)


def test_tanh_maximum_to_high_precision():
    s, t = window_maximum("sigmoid", digits=200), window_maximum("tanh", digits=200)
    with mpmath.workdps(230):
        assert abs(mpmath.mpf(t.max_width) - 2 * mpmath.mpf(s.max_width)) < mpmath.mpf(10) ** -198
        assert abs(mpmath.mpf(t.argmax_abs_w) - mpmath.mpf(s.argmax_abs_w) / 4) < mpmath.mpf(10) ** -198


def test_precision_is_restored():
    before = (mpmath.mp.dps, mpmath.iv.dps)
    window_maximum(digits=120)
    certify_window_maximum(digits=40)
    assert (mpmath.mp.dps, mpmath.iv.dps) == before


def test_precision_stages_double():
    stages = precision_stages(1010)
    assert stages[-1] == 1010 and stages[0] <= 30
    assert all(b <= 2 * a for a, b in zip(stages, stages[1:]))


# ----- certification -------------------------------------------------------------------
@pytest.mark.parametrize("digits", [20, 50, 120])
def test_enclosure_contains_the_value_and_is_narrow(digits):
    c = certify_window_maximum("sigmoid", digits=digits)
    _, top = _independent(digits + 30)
    with mpmath.workdps(digits + 30):
        lo, hi = (mpmath.mpf(x) for x in c.enclosure)
        assert lo <= top <= hi
        assert hi - lo <= mpmath.mpf(10) ** (1 - digits)
        alo, ahi = (mpmath.mpf(x) for x in c.argmax_enclosure)
        assert alo <= _independent(digits + 30)[0] <= ahi
    assert c.method == "interval branch and bound" and c.boxes < 500


def test_tanh_enclosure_is_twice_the_sigmoids():
    t = certify_window_maximum("tanh", digits=40)
    _, top = _independent(60)
    with mpmath.workdps(60):
        assert mpmath.mpf(t.enclosure[0]) <= 2 * top <= mpmath.mpf(t.enclosure[1])
    assert t.method == "tanh relation"


def test_exact_maxima_certify_trivially():
    c = certify_window_maximum("softsign", digits=10)
    assert c.enclosure == ("0.5000000000", "0.5000000000") and c.method == "exact"


@settings(max_examples=100)
@given(lo=st.floats(-1e6, 1e6), width=st.floats(0, 10), digits=st.integers(1, 40))
def test_outward_decimal_contains_its_input(lo, width, digits):
    hi = lo + width
    slo, shi = outward_decimal(mpmath.mpf(lo), mpmath.mpf(hi), digits)
    with mpmath.workdps(80):
        assert mpmath.mpf(slo) <= mpmath.mpf(lo) and mpmath.mpf(shi) >= mpmath.mpf(hi)


# ----- bad input -------------------------------------------------------------------------
@pytest.mark.parametrize("digits", [0, -5, 100_001, 10**9])
def test_digits_out_of_range(digits):
    with pytest.raises(InvalidParameterError, match=r"digits=.* must be an integer in \[1, 100000\]"):
        window_maximum(digits=digits)
    with pytest.raises(InvalidParameterError, match="digits"):
        certify_window_maximum(digits=digits)


@pytest.mark.parametrize("digits", [2.5, "50", True])
def test_digits_of_the_wrong_type(digits):
    with pytest.raises(InvalidParameterError, match="must be an integer"):
        window_maximum(digits=digits)


@pytest.mark.parametrize("name", ["relu", "softplus", "gelu", "silu"])
def test_no_maximum_to_compute(name):
    with pytest.raises(InvalidParameterError, match="unbounded"):
        window_maximum(name, digits=10)
    with pytest.raises(InvalidParameterError, match="unbounded"):
        certify_window_maximum(name, digits=10)


def test_unknown_derivative_option():
    with pytest.raises(UnknownNameError, match="derivative"):
        window_maximum(digits=10, derivative="finite")


def test_expressions_equal_to_builtins_certify_like_them():
    from gradmath.activations import resolve_activation

    t = certify_window_maximum(resolve_activation("tanh(x)"), digits=20)
    s = certify_window_maximum(resolve_activation("1/(1+exp(-x))"), digits=20)
    assert t.method == "tanh relation" and s.method == "interval branch and bound"
    assert s.enclosure == certify_window_maximum("sigmoid", digits=20).enclosure


def test_no_closed_form_means_nothing_to_certify():
    from gradmath.activations import resolve_activation

    with pytest.raises(InvalidParameterError, match="no closed-form width"):
        certify_window_maximum(resolve_activation("x*exp(-x*x)"), digits=20)
    with pytest.raises(InvalidParameterError, match="no closed-form width"):
        window_maximum(resolve_activation("x*exp(-x*x)"), digits=20)
