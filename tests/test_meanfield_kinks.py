"""Activations that break away from 0: panel edges at their breakpoints, values and stated errors checked.

Oracles, independent of the quadrature: for hard tanh φ = Max(−1, Min(1, x)) and u ~ N(0, q),
a = 1/√q, E[φ(u)²] = q (2Φ(a) − 1 − 2a ϕ(a)) + 2 (1 − Φ(a)) and E[φ′(u)²] = 2Φ(a) − 1 (ϕ, Φ the standard
normal density and CDF); for correlated u₁, u₂, E[φ′(u₁) φ′(u₂)] = P(|u₁| < 1, |u₂| < 1), a rectangle probability of the
bivariate normal (SciPy's Genz algorithm, asked for 10⁻¹³), and E[φ(u₁) φ(u₂)] a one-dimensional integral of
z₁ against E[φ(u₂) | z₁], itself closed form in Φ (SciPy's adaptive ``quad``, asked for 10⁻¹³).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import sympy as sp
from scipy import integrate
from scipy.optimize import brentq
from scipy.stats import multivariate_normal, norm

from gradmath.activations import register_activation, resolve_activation, unregister_activation
from gradmath.expressions import X
from gradmath.meanfield import mean_field
from gradmath.meanfield.expectations import RULE2, QuadratureExpectations
from gradmath.meanfield.fixed_points import q_star
from gradmath.meanfield.kernels import breakpoints, meanfield_kernels
from gradmath.meanfield.maps import chi_1
from gradmath.meanfield.point import expectations_for

HARD_TANH = "Max(-1, Min(1, x))"
#: (σ_w², σ_b²) points: ordered and chaotic, small and large q*.
POINTS = [(1.5, 0.05), (3.0, 0.1), (4.0, 0.5), (10.0, 1.0)]
#: The oracles' own accuracy (SciPy asked for 10⁻¹³; Genz's algorithm reaches ~10⁻¹⁵ in two dimensions).
ORACLE = 1e-12


def _square(q: float) -> float:
    a = 1.0 / np.sqrt(q)
    return q * (2 * norm.cdf(a) - 1 - 2 * a * norm.pdf(a)) + 2 * norm.sf(a)


def _q_star(sw2: float, sb2: float) -> float:
    return brentq(lambda q: sw2 * _square(q) + sb2 - q, 1e-6, 1e3, xtol=1e-15, rtol=1e-15)


def _rectangle(q: float, c: float, a: float, b: float) -> float:
    """P(a < u₁ < b, a < u₂ < b) for u₁, u₂ ~ N(0, q) with correlation c."""
    mv = multivariate_normal(mean=[0, 0], cov=[[q, q * c], [q * c, q]], abseps=1e-13, releps=1e-13,
                             maxpts=10**7)
    return mv.cdf([b, b]) - mv.cdf([a, b]) - mv.cdf([b, a]) + mv.cdf([a, a])


def _cross(q: float, c: float) -> float:
    """E[φ(u₁) φ(u₂)] for hard tanh: u₂ | z₁ ~ N(m, v²), E[clip(N(m, v²), −1, 1)] in closed form."""
    v = np.sqrt(q * (1 - c * c))

    def given(z1):
        m = np.sqrt(q) * c * z1
        lo, hi = (-1 - m) / v, (1 - m) / v
        return (-norm.cdf(lo) + norm.sf(hi) + m * (norm.cdf(hi) - norm.cdf(lo))
                + v * (norm.pdf(lo) - norm.pdf(hi)))

    def integrand(z1):
        return np.clip(np.sqrt(q) * z1, -1, 1) * given(z1) * norm.pdf(z1)

    a = 1 / np.sqrt(q)
    value, err = integrate.quad(integrand, -12, 12, points=[-a, 0, a], epsabs=1e-14, epsrel=1e-13, limit=400)
    assert err < ORACLE
    return value


def test_breakpoints_are_found_symbolically():
    assert breakpoints(sp.Max(-1, sp.Min(1, X))) == (-1.0, 1.0)
    assert meanfield_kernels(resolve_activation(HARD_TANH)).edges == (-1.0, 0.0, 1.0)
    assert meanfield_kernels(resolve_activation("relu")).edges == (0.0,)
    assert meanfield_kernels(resolve_activation("abs(x)")).edges == (0.0,)
    assert meanfield_kernels(resolve_activation("tanh")).breakpoints == ()
    assert breakpoints(sp.Abs(X**2 - 2)) == pytest.approx((-np.sqrt(2), np.sqrt(2)), abs=0, rel=1e-15)
    assert breakpoints(sp.Abs(sp.sin(X))) is None                              # infinitely many
    assert breakpoints(sp.Abs(sp.Mul(*[X - k for k in range(17)]))) is None     # more than 16


@pytest.mark.parametrize("sw2, sb2", POINTS)
def test_hard_tanh_length_and_chi_1_against_the_normal_cdf(sw2, sb2):
    e = expectations_for(resolve_activation(HARD_TANH))
    fq = q_star(e, sw2, sb2)
    exact_q = _q_star(sw2, sb2)
    assert abs(fq.value - exact_q) <= fq.error + ORACLE * exact_q
    chi, err = chi_1(e, sw2, np.array([fq.value]))
    exact_chi = sw2 * (2 * norm.cdf(1 / np.sqrt(exact_q)) - 1)
    # the value at the computed q*, plus χ₁'s slope in q (|dχ₁/dq| ≤ σ_w² ϕ(0)/q^{3/2}) times q*'s error
    slope = sw2 * norm.pdf(0) / exact_q**1.5
    assert abs(chi[0] - exact_chi) <= err[0] + slope * abs(fq.value - exact_q) + ORACLE
    assert abs(chi[0] - exact_chi) <= 1e-13


def test_hard_tanh_two_dimensional_rule_against_the_bivariate_normal():
    """χ_c and 𝓒's integrand at q* of each point and several c: value right, stated error ≥ true error."""
    e = expectations_for(resolve_activation(HARD_TANH))
    q = np.repeat([_q_star(*p) for p in POINTS], 4)
    c = np.tile([-0.6, 0.26, 0.9, 0.9999], len(POINTS))
    value, err = e.prime_cross(q, c)
    exact = np.array([_rectangle(a, b, -1, 1) for a, b in zip(q, c)])
    assert np.all(np.abs(value - exact) <= err + ORACLE), (value - exact, err)
    assert np.max(np.abs(value - exact)) <= 1e-12
    cross, cross_err = e.cross(q[::3], c[::3])
    exact = np.array([_cross(a, b) for a, b in zip(q[::3], c[::3])])
    assert np.all(np.abs(cross - exact) <= cross_err + ORACLE) and np.max(np.abs(cross - exact)) <= 1e-12


def test_hard_tanh_pairs_of_different_lengths_and_negative_correlation():
    """As Nielsen's prediction asks (u₁, u₂ of different variances), and c near ±1, where the inner integral's
    smoothed kinks at z₁ = k/(c√q₂) need outer edges of their own."""
    k = meanfield_kernels(resolve_activation(HARD_TANH))
    q, q2 = np.array([2.0, 0.5, 3.0, 1.0]), np.array([0.7, 4.0, 3.0, 1.0])
    c = np.array([0.999, 0.95, -0.9999, -0.999])
    value, err = RULE2.expect2(k.prime, k.prime, q, c, q2=q2, points=k.edges)
    exact = []
    for a, b, r in zip(q, q2, c):
        cov = [[a, r * np.sqrt(a * b)], [r * np.sqrt(a * b), b]]
        mv = multivariate_normal(mean=[0, 0], cov=cov, abseps=1e-13, releps=1e-13, maxpts=10**7)
        exact.append(mv.cdf([1, 1]) - mv.cdf([-1, 1]) - mv.cdf([1, -1]) + mv.cdf([-1, -1]))
    assert np.all(np.abs(value - exact) <= err + ORACLE) and np.max(np.abs(value - exact)) <= 1e-13


def test_hard_tanh_point_states_at_least_its_true_error():
    """The measured case: (3, 0.1) gave χ_c = 0.81206 stating 5.6·10⁻³, 0.0087 from the truth."""
    p = mean_field(HARD_TANH, 3.0, 0.1)
    exact_q = _q_star(3.0, 0.1)
    assert abs(p.q_star - exact_q) <= p.error + ORACLE
    assert abs(p.chi_1 - 3.0 * (2 * norm.cdf(1 / np.sqrt(exact_q)) - 1)) <= p.error + ORACLE
    exact = 3.0 * _rectangle(p.q_star, p.c_star, -1, 1)
    assert abs(p.chi_c - exact) <= p.error + 3 * ORACLE and abs(p.chi_c - exact) <= 1e-11
    assert p.method == "quadrature" and p.error <= 1e-12


def test_without_the_breakpoints_the_stated_error_understates():
    """Why the edges matter: the rule with its single edge at 0 states less error than it makes."""
    kernels = meanfield_kernels(resolve_activation(HARD_TANH))
    old = QuadratureExpectations(dataclasses.replace(kernels, breakpoints=()))
    q, c = _q_star(3.0, 0.1), 0.2561295262766461
    value, err = old.prime_cross(np.array([q]), np.array([c]))
    off = abs(value[0] - _rectangle(q, c, -1, 1))
    assert off > 1e-3 and off > 1.2 * err[0]


@pytest.fixture
def kink_at_half():
    """φ = x below 1/2, 2x − 1/2 above: continuous, φ′ jumps from 1 to 2 at 1/2 (not at 0)."""
    half = sp.Rational(1, 2)
    act = register_activation("kinkhalf", sp.Piecewise((X, X < half), (2 * X - half, True)))
    yield act
    unregister_activation("kinkhalf")


def test_custom_piecewise_kink_at_one_half(kink_at_half):
    e = expectations_for(kink_at_half)
    assert isinstance(e, QuadratureExpectations) and e.kernels.edges == (0.0, 0.5)
    q = np.array([0.3, 1.0, 2.0, 1.0, 2.0])
    c = np.array([0.5, -0.3, 0.99, 0.999, -0.999])
    a = 0.5 / np.sqrt(q)
    value, err = e.prime_square(q)
    exact = norm.cdf(a) + 4 * norm.sf(a)                      # E[φ′²] = P(u < ½) + 4 P(u ≥ ½)
    assert np.all(np.abs(value - exact) <= err + ORACLE) and np.max(np.abs(value - exact)) <= 1e-13
    value, err = e.prime_cross(q, c)
    both = np.array([_rectangle(x, y, -np.inf, 0.5) for x, y in zip(q, c)])       # P(u₁ < ½, u₂ < ½)
    below = norm.cdf(a)
    exact = both + 2 * 2 * (below - both) + 4 * (1 - 2 * below + both)
    assert np.all(np.abs(value - exact) <= err + 4 * ORACLE), (value - exact, err)
    assert np.max(np.abs(value - exact)) <= 1e-11


def test_breakpoints_not_found_is_labelled_an_estimate():
    p = mean_field("abs(sin(x))", 1.0, 0.1)
    assert p.method == "estimate" and any(n.startswith("estimate:") for n in p.notes)


def test_digits_split_at_the_breakpoints():
    """mpmath's tanh–sinh split at ±1/√q: q* and χ₁ of hard tanh to 20 digits against the closed forms
    (with a single split at 0 the 30 printed digits of q* were wrong from the sixth on)."""
    import mpmath

    p = mean_field(HARD_TANH, "3", "0.1", digits=20)
    got = dict(p.precise)
    with mpmath.workdps(40):
        def length(q):
            a = 1 / mpmath.sqrt(q)
            return 3 * (q * (mpmath.erf(a / mpmath.sqrt(2)) - 2 * a * mpmath.npdf(a)) + 2 * mpmath.ncdf(-a)) \
                + mpmath.mpf("0.1") - q

        q = mpmath.findroot(length, mpmath.mpf(p.q_star))
        chi = 3 * mpmath.erf(1 / mpmath.sqrt(2 * q))
        # 20 significant digits printed: each within half a unit of the 20th digit, plus the closed form's 10⁻³⁸
        for name, exact in (("q_star", q), ("chi_1", chi)):
            assert abs(mpmath.mpf(got[name]) - exact) <= mpmath.mpf(10) ** -19 * abs(exact)


def test_phase_diagram_of_hard_tanh_against_the_bivariate_normal():
    """The diagram's light rule (no error estimate) keeps its documented 2·10⁻¹⁰ relative error with the
    breakpoints, at the diagram's own q* and c*; q* against the closed form."""
    from gradmath.meanfield.phase import phase_diagram

    d = phase_diagram(HARD_TANH, [3.0, 10.0], [0.1])
    for i, sw2 in enumerate([3.0, 10.0]):
        q, c = d.q_star[i, 0], d.c_star[i, 0]
        assert q == pytest.approx(_q_star(sw2, 0.1), rel=2e-10)
        assert d.chi_c[i, 0] == pytest.approx(sw2 * _rectangle(q, c, -1, 1), rel=2e-10)


def test_hard_tanh_critical_line_against_the_normal_cdf():
    """χ₁ = σ_w² (2Φ(1/√q*) − 1) = 1 with q* from the closed length map, solved by SciPy. The rule's stated
    errors there are ~10⁻¹⁴ relative; w = 1/E[φ′²] and the root in q are conditioned O(1) (|d ln E[φ′²]/d ln q|
    = aϕ(a)/(2Φ(a) − 1) ≤ 1/2 at a = 1/√q), so 10⁻¹² relative leaves a margin of 30."""
    from gradmath.meanfield.critical import critical_sigma_w2

    def chi(w):
        return w * (2 * norm.cdf(1 / np.sqrt(_q_star(w, 0.1))) - 1) - 1

    exact = brentq(chi, 1.0, 3.0, xtol=1e-15, rtol=1e-15)
    got = critical_sigma_w2(HARD_TANH, 0.1)
    assert got.method == "quadrature" and got.sigma_w2 == pytest.approx(exact, rel=1e-12)
    assert got.q_star == pytest.approx(_q_star(exact, 0.1), rel=1e-12)
