"""SciPy's maximum of the window width (Nielsen's problem, part 3) and the float64 width.

Checks ``proofs/window.md`` (part 3, numerically).
"""

from __future__ import annotations

import math

import mpmath
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gradmath.numeric.optimise import level_set_measure, maximise_window, window_width
from tests.golden import GOLDEN


def test_seed_values_to_their_printed_digits():
    m = maximise_window("sigmoid")
    assert f"{m.argmax_abs_w:.1f}" == GOLDEN["nielsen_window_argmax_abs_w"]["value"]  # "6.9"
    assert f"{m.max_width:.2f}" == GOLDEN["nielsen_window_max_width"]["value"]  # "0.45"


def test_scipy_agrees_with_the_independent_50_digit_values():
    m = maximise_window("sigmoid")
    top = float(GOLDEN["window_sigmoid_max_width_50"]["value"])
    at = float(GOLDEN["window_sigmoid_argmax_abs_w_50"]["value"])
    assert m.max_width == pytest.approx(top, abs=1e-15)
    # a maximum is flat: the location is good to about √eps
    assert m.argmax_abs_w == pytest.approx(at, rel=1e-7)


@pytest.mark.parametrize("name,argmax,top", [("arctan", 2.0, 1.0), ("softsign", 4.0, 0.5)])
def test_scipy_finds_the_exact_maxima(name, argmax, top):
    m = maximise_window(name)
    assert m.max_width == pytest.approx(top, abs=1e-14)
    assert m.argmax_abs_w == pytest.approx(argmax, rel=1e-6)


def test_tanh_maximum_is_twice_sigmoids_at_a_quarter_of_the_weight():
    s, t = maximise_window("sigmoid"), maximise_window("tanh")
    assert t.max_width == pytest.approx(2 * s.max_width, abs=1e-14)
    assert t.argmax_abs_w == pytest.approx(s.argmax_abs_w / 4, rel=1e-6)


@pytest.mark.parametrize("name", ["softplus", "gelu", "silu", "relu"])
def test_unbounded_windows_have_no_maximum(name):
    assert math.isinf(maximise_window(name).max_width)


@settings(max_examples=100)
@given(u=st.floats(4.0, 1e6))
def test_float_width_agrees_with_mpmath_closed_form(u):
    with mpmath.workdps(40):
        uu = mpmath.mpf(u)
        exact = 2 / uu * mpmath.log(uu * (1 + mpmath.sqrt(1 - 4 / uu)) / 2 - 1)
    assert window_width("sigmoid", u).width == pytest.approx(float(exact), rel=1e-12, abs=1e-15)


@pytest.mark.parametrize("level", [0.9, 0.5, 0.1, 0.01])
def test_level_set_measure_of_arctan(level):
    # 1/(1+z²) ≥ ℓ  ⇔  |z| ≤ √(1/ℓ − 1)
    assert level_set_measure("arctan", level) == pytest.approx(2 * math.sqrt(1 / level - 1), rel=1e-12)


def test_level_set_reaching_the_edge_is_unbounded():
    assert math.isinf(level_set_measure("softplus", 0.5))


def test_a_level_touched_only_at_isolated_points_has_measure_zero():
    """σ = sin²: |σ′| = |sin 2z| reaches 1 only at z = π/4 + kπ/2 (76 points in [−60, 60], where float64 gives 1.0
    exactly). Evenly spaced peaks once made the gap between two of them, whose middle is a third peak, count as
    inside: a width of 20π where the set has measure zero."""
    from gradmath.activations import resolve_activation

    act = resolve_activation("(sin(x))**2")
    assert level_set_measure(act, 1.0) == 0.0
    assert window_width(act, 1.0).width == 0.0
    # just below the peaks: |sin 2z| ≥ 1 − ε on an interval of length θ = arccos(1 − ε) around each of the 76 peaks;
    # each of the 152 roots is found to 60·1e-13 (brentq's xtol at |z| ≤ 60)
    eps = 1e-6
    theta = float(mpmath.acos(1 - mpmath.mpf(eps)))
    assert level_set_measure(act, 1 - eps) == pytest.approx(76 * theta, rel=0, abs=152 * 60 * 1e-13 + 1e-12)
