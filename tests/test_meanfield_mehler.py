"""Mehler's series for the correlation map (gradmath.meanfield.mehler) against independent computations.

Oracles: the arcsine kernel of erf (Williams 1998, a closed form; here erf goes through the series as any
activation would), mpmath's one-dimensional integrals (:mod:`gradmath.meanfield.precise`, where the series
sums to E[φ²] and q E[φ′²] at c = 1 by Parseval), SciPy's ``dblquad``, and the two-dimensional Gauss–Legendre
rule of :mod:`gradmath.meanfield.gaussian`.
"""

from __future__ import annotations

import dataclasses
import math

import mpmath
import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from scipy import integrate

from gradmath.activations import get_activation, resolve_activation
from gradmath.meanfield import mean_field
from gradmath.meanfield.gaussian import GaussianRule
from gradmath.meanfield.kernels import meanfield_kernels
from gradmath.meanfield.mehler import (TOLERANCE, correlation_fixed_point, correlation_fixed_points,
                                       mehler_series)
from gradmath.meanfield.phase import _C_GRID, _light, phase_diagram
from gradmath.meanfield.point import expectations_for
from gradmath.meanfield.precise import MpExpectations

EPS = np.finfo(float).eps


@settings(max_examples=40, deadline=None)
@given(q=st.floats(min_value=1e-3, max_value=30.0), c=st.floats(min_value=-1.0, max_value=1.0),
       a=st.floats(min_value=0.2, max_value=2.0))
@example(q=30.0, c=1.0, a=2.0).via("the steepest erf at c = 1, where the cut-off matters most")
@example(q=1.0, c=-1.0, a=1.0).via("c = −1: u₂ = −u₁")
def test_series_brackets_the_arcsine_kernel(q, c, a):
    """E[φ(u₁)φ(u₂)] and E[φ′(u₁)φ′(u₂)] for φ = erf(a x) from the series, within its stated error."""
    series = mehler_series(meanfield_kernels(resolve_activation(f"erf({a!r}*x)")), np.array([q]))
    value, error = series.cross(np.array([c]))
    slope, slope_error, _ = series.slope(np.array([c]))
    a2 = a * a
    exact = 2.0 / math.pi * math.asin(2.0 * a2 * q * c / (1.0 + 2.0 * a2 * q))
    exact_prime = 4.0 * a2 / math.pi / math.sqrt((1.0 + 2.0 * a2 * q) ** 2 - 4.0 * a2 * a2 * q * q * c * c)
    # The closed forms themselves are rounded to a few ε of their size (asin, sqrt, the division).
    assert abs(value[0] - exact) <= error[0] + 8 * EPS * max(abs(exact), 1e-300)
    assert abs(slope[0] / q - exact_prime) <= slope_error[0] / q + 8 * EPS * exact_prime


def test_stated_error_is_small_where_the_series_converges():
    """For tanh at the lengths of the benchmark's grid (q ≤ 5) the 400-term series meets 10⁻¹² at any c ≤ 1."""
    series = mehler_series(meanfield_kernels(get_activation("tanh")), np.array([0.05, 1.0, 4.5]))
    for c in (-1.0, 0.0, 0.5, 0.99, 1.0):
        value, error = series.cross(np.full(3, c))
        assert np.all(error <= 1e-12 * np.maximum(np.abs(value), 1.0))


@pytest.mark.parametrize("name, q", [("tanh", 0.3), ("tanh", 4.0), ("sigmoid", 2.0), ("gelu", 1.5)])
def test_series_at_c_1_sums_to_the_mpmath_integrals(name, q):
    """Parseval: A(1) = E[φ(√q z)²] and A′(1) = q E[φ′(√q z)²], the integrals of precise.py at 30 digits."""
    act = get_activation(name)
    series = mehler_series(meanfield_kernels(act), np.array([q]))
    value, error = series.cross(np.array([1.0]))
    slope, slope_error, _ = series.slope(np.array([1.0]))
    with mpmath.workdps(30):
        square, prime_square, _ = MpExpectations(act)(mpmath.mpf(q))
    # mpmath's value is exact to float64 here; the series' stated error must cover the difference.
    assert abs(value[0] - float(square)) <= error[0] + 4 * EPS * float(square)
    assert abs(slope[0] - q * float(prime_square)) <= slope_error[0] + 4 * EPS * q * float(prime_square)
    assert error[0] <= 1e-12 * float(square)


@settings(max_examples=6, deadline=None)
@given(q=st.floats(min_value=0.05, max_value=10.0), c=st.floats(min_value=-0.99, max_value=0.99))
def test_series_matches_scipy_dblquad_for_tanh(q, c):
    series = mehler_series(meanfield_kernels(get_activation("tanh")), np.array([q]))
    value, error = series.cross(np.array([c]))
    s, r = math.sqrt(1 - c * c), math.sqrt(q)

    def integrand(z2, z1):
        return math.tanh(r * z1) * math.tanh(r * (c * z1 + s * z2)) * math.exp(-(z1 * z1 + z2 * z2) / 2) / (2 * math.pi)

    exact, abserr = integrate.dblquad(integrand, -12, 12, -12, 12, epsabs=1e-13, epsrel=1e-12)
    # As in test_meanfield.py: QUADPACK's abserr understates its error near a cancelling integral (floor 10⁻¹¹).
    assert abs(value[0] - exact) <= max(error[0], abserr, 1e-11)


@pytest.mark.parametrize("sigma_w2, sigma_b2", [(2.5, 0.05), (1.8, 0.05), (4.0, 0.0)])
def test_fixed_point_agrees_with_the_two_dimensional_rule(sigma_w2, sigma_b2):
    """c* and χ_c from the series against the fine 2-D rule at the same q*, within the two stated errors."""
    k = meanfield_kernels(get_activation("tanh"))
    p = mean_field("tanh", sigma_w2, sigma_b2)
    fp = correlation_fixed_point(mehler_series(k, np.array([p.q_star])), np.array([sigma_w2]),
                                 np.array([sigma_b2]), _C_GRID)
    assert fp.ok[0]
    rule = GaussianRule(nodes=16, levels=20)
    c = float(fp.c_star[0])
    value, err = rule.expect2(k.evaluate, k.evaluate, np.array([p.q_star]), np.array([c]))
    residual = (sigma_w2 * value[0] + sigma_b2) / p.q_star - c
    # The 2-D map at the series' c* is c* again, to the series' error (times 1 − χ_c, the root's slope) and
    # the rule's own estimate, plus rounding of a sum of terms of size 1.
    assert abs(residual) <= (1 - fp.chi_c[0]) * fp.c_error[0] + sigma_w2 * err[0] / p.q_star + 16 * EPS
    chi, chi_err = rule.expect2(k.prime, k.prime, np.array([p.q_star]), np.array([c]))
    assert abs(fp.chi_c[0] - sigma_w2 * chi[0]) <= fp.chi_c_error[0] + sigma_w2 * chi_err[0] + 16 * EPS
    assert fp.c_error[0] <= TOLERANCE * max(abs(c), 1e-2) and fp.chi_c_error[0] <= TOLERANCE * fp.chi_c[0]


def test_kinked_activation_falls_back_to_the_two_dimensional_rule():
    """Hard tanh (kinks of φ at ±1): its coefficients decay algebraically, 1600 terms do not meet the
    tolerance at c* ≈ 0.26, and the diagram's value there is the two-dimensional rule's."""
    act = resolve_activation("Max(-1, Min(1, x))")
    d = phase_diagram(act, [3.0], [0.1])
    q, c = d.q_star[0, 0], d.c_star[0, 0]
    fp = correlation_fixed_points(meanfield_kernels(act), np.array([q]), np.array([3.0]), np.array([0.1]), _C_GRID)
    assert not fp.ok[0]
    light = _light(expectations_for(act), nodes=8, levels=12)
    assert d.chi_c[0, 0] == 3.0 * light.prime_cross(np.array([q]), np.array([c]))[0][0]


def test_near_the_critical_line_the_series_is_kept_where_it_states_less_error():
    """At χ_c ≈ 0.9999 c* is ill-conditioned (Theorem 8(d)); the point keeps the series, says so, and its c*
    solves the fine 2-D rule's map to within the series' error times 1 − χ_c and the rule's own estimate."""
    sigma_w2, sigma_b2 = 0.5 + 3.5 * 58 / 199, 0.5 * 7 / 199      # a point of the benchmark's 200 × 200 grid
    p = mean_field("tanh", sigma_w2, sigma_b2)
    assert p.chi_c > 0.9998 and any("ill-conditioned" in n for n in p.notes)
    k = meanfield_kernels(get_activation("tanh"))
    rule = GaussianRule(nodes=16, levels=20)
    value, err = rule.expect2(k.evaluate, k.evaluate, np.array([p.q_star]), np.array([p.c_star]))
    residual = (sigma_w2 * value[0] + sigma_b2) / p.q_star - p.c_star
    assert abs(residual) <= (1 - p.chi_c) * p.error + sigma_w2 * err[0] / p.q_star + 16 * EPS
    d = phase_diagram("tanh", [sigma_w2], [sigma_b2])
    # The diagram keeps the series too; its q* and bracket differ from the point's by rounding, which the
    # conditioning 1/(1 − χ_c) ≈ 10⁴ magnifies, so the two agree to the stated error, not to ε.
    assert d.c_star[0, 0] == pytest.approx(p.c_star, abs=p.error) and d.chi_c[0, 0] == pytest.approx(p.chi_c, abs=p.error)


def test_why_kinked_activations_are_left_to_the_two_dimensional_rule():
    """Forced through the series, hard tanh at (3, 0.1) gets χ_c 1.3·10⁻⁴ off while stating 2.3·10⁻⁵ (the
    coefficients' twin rule misses a kink at z = ±1/√q): the reason ``is_smooth`` keeps kinks away from it.
    Oracle: σ_w² P(|u₁| < 1, |u₂| < 1), the bivariate normal CDF (SciPy, to 10⁻¹²)."""
    from scipy.stats import multivariate_normal

    act = resolve_activation("Max(-1, Min(1, x))")
    q = mean_field(act, 3.0, 0.1).q_star
    kernels = dataclasses.replace(meanfield_kernels(act), smooth=True)
    fp = correlation_fixed_points(kernels, np.array([q]), np.array([3.0]), np.array([0.1]), _C_GRID)
    c = fp.c_star[0]
    mv = multivariate_normal(mean=[0, 0], cov=[[q, q * c], [q * c, q]], abseps=1e-12, releps=1e-12, maxpts=10**7)
    exact = 3.0 * (mv.cdf([1, 1]) - mv.cdf([-1, 1]) - mv.cdf([1, -1]) + mv.cdf([-1, -1]))
    off = abs(fp.chi_c[0] - exact)
    assert off == pytest.approx(1.3e-4, rel=0.1) and fp.chi_c_error[0] == pytest.approx(2.3e-5, rel=0.1)
    assert off > 5 * fp.chi_c_error[0]
