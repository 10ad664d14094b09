"""Mean-field maps, fixed points and depth scales (gradmath.meanfield) against independent computations.

The oracles share no code with the package: mpmath's tanh–sinh quadrature written here,
SciPy's ``quad`` and ``dblquad``, closed forms from the papers, and algebraic identities.
"""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from scipy import integrate, optimize, special

from gradmath.activations import get_activation, resolve_activation
from gradmath.errors import InvalidParameterError, NonFiniteError
from gradmath.meanfield import critical_sigma_w2, mean_field
from gradmath.meanfield.closed_forms import ReLU, ScaledErf, closed_form_for
from gradmath.meanfield.expectations import QuadratureExpectations
from gradmath.meanfield.kernels import meanfield_kernels

EPS = np.finfo(float).eps
SMOOTH = ("tanh", "sigmoid", "gelu", "silu", "softplus", "arctan")


def mp_expect(f, q, dps=30):
    """E[f(√q z)] by mpmath at ``dps`` digits, split where f(√q z) changes fastest."""
    with mpmath.workdps(dps):
        r = mpmath.sqrt(q)
        pts = sorted({-mpmath.inf, -1 / r, 0, 1 / r, mpmath.inf}) if r > 0.01 else [-mpmath.inf, 0, mpmath.inf]
        return mpmath.quad(lambda z: f(r * z) * mpmath.npdf(z), pts)


# ----- the quadrature against mpmath --------------------------------------------------------------------
@settings(max_examples=25, deadline=None)
@given(name=st.sampled_from(SMOOTH + ("relu", "softsign")),
       log_q=st.floats(min_value=-6, max_value=6))
@example(name="tanh", log_q=6.0).via("the widest q: tanh(√q z) is a step at the scale 10⁻³")
@example(name="softsign", log_q=0.0).via("a kink of σ′ at 0")
def test_one_dimensional_expectations_match_mpmath(name, log_q):
    act = get_activation(name)
    e = QuadratureExpectations(meanfield_kernels(act))
    q = 10.0**log_q
    for got, f in ((e.square(np.array([q])), lambda x: act.sigma_mp(x) ** 2),
                   (e.prime_square(np.array([q])), lambda x: act.prime_mp(x) ** 2)):
        value, err = float(got[0][0]), float(got[1][0])
        exact = float(mp_expect(f, mpmath.mpf(q)))
        # The rule's own estimate bounds its error (it compares with a coarser twin); the floor is the
        # rounding of a sum of ~800 positive terms, 800ε relative.
        assert abs(value - exact) <= max(err, 800 * EPS * abs(exact)), (name, q, value, exact, err)


@settings(max_examples=10, deadline=None)
@given(q=st.floats(min_value=0.05, max_value=20), c=st.floats(min_value=-0.99, max_value=0.99))
def test_two_dimensional_expectation_matches_scipy_dblquad(q, c):
    act = get_activation("tanh")
    e = QuadratureExpectations(meanfield_kernels(act))
    value, err = e.cross(np.array([q]), np.array([c]))
    s = math.sqrt(1 - c * c)
    r = math.sqrt(q)

    def integrand(z2, z1):
        return math.tanh(r * z1) * math.tanh(r * (c * z1 + s * z2)) * math.exp(-(z1 * z1 + z2 * z2) / 2) / (2 * math.pi)

    exact, abserr = integrate.dblquad(integrand, -12, 12, -12, 12, epsabs=1e-13, epsrel=1e-12)
    # Floor 10⁻¹¹: where the integral cancels to ~0 (c ≈ 0) QUADPACK's reported abserr understates its error
    # (seen: 10⁻¹² off with abserr 2·10⁻¹⁴, against the first-order value c·q·E[sech²]² of the integral).
    assert abs(value[0] - exact) <= max(err[0], abserr, 1e-11), (q, c, value[0], exact)


# ----- closed forms against the quadrature -----------------------------------------------------------
@settings(max_examples=30, deadline=None)
@given(q=st.floats(min_value=1e-3, max_value=1e3), c=st.floats(min_value=-1.0, max_value=1.0),
       a=st.floats(min_value=0.1, max_value=3.0))
def test_closed_forms_match_the_quadrature(q, c, a):
    relu = QuadratureExpectations(meanfield_kernels(get_activation("relu")))
    erf = resolve_activation(f"erf({a!r}*x)")
    for exact, quad in ((ReLU(), relu), (closed_form_for(erf), QuadratureExpectations(meanfield_kernels(erf)))):
        for method, args in (("square", (q,)), ("prime_square", (q,)), ("stein", (q,)),
                             ("cross", (q, c)), ("prime_cross", (q, c))):
            want = float(getattr(exact, method)(*map(np.atleast_1d, args))[0][0])
            got, err = (float(v[0]) for v in getattr(quad, method)(*map(np.atleast_1d, args)))
            # Integrands that jump (ReLU's σ′, a step at u = 0) leave an O(h) error for the rule on panels
            # that straddle the step; its own estimate covers that. Otherwise 1000ε relative.
            assert abs(got - want) <= max(err, 1000 * EPS * max(1.0, abs(want))), (exact, method, q, c, got, want)


def test_closed_forms_are_recognised_structurally():
    assert isinstance(closed_form_for(get_activation("relu")), ReLU)
    assert isinstance(closed_form_for(resolve_activation("2*erf(3*x)")), ScaledErf)
    assert closed_form_for(resolve_activation("x/2 + 1")).method == "closed form"
    assert closed_form_for(get_activation("tanh")) is None


# ----- fixed points satisfy their equations ----------------------------------------------------------
@settings(max_examples=15, deadline=None)
@given(name=st.sampled_from(("tanh", "sigmoid", "erf(x)", "gelu", "arctan")),
       sigma_w2=st.floats(min_value=0.1, max_value=4.0), sigma_b2=st.floats(min_value=0.01, max_value=1.0))
def test_fixed_points_satisfy_their_equations_and_the_phase_is_chi_1(name, sigma_w2, sigma_b2):
    act = resolve_activation(name)
    try:
        p = mean_field(act, sigma_w2, sigma_b2)
    except InvalidParameterError as err:
        # Refused only where the length map really stays above the diagonal (GELU grows like ReLU: σ_w² ≥ 2).
        assert "no finite fixed point" in str(err)
        with mpmath.workdps(20):
            big = mpmath.mpf(10) ** 8
            assert sigma_w2 * mp_expect(lambda x: act.sigma_mp(x) ** 2, big, 20) + sigma_b2 > big
        return
    # Recompute the maps at the reported fixed point with mpmath (independent of the float64 rule).
    with mpmath.workdps(25):
        q = mpmath.mpf(p.q_star)
        lq = sigma_w2 * mp_expect(lambda x: act.sigma_mp(x) ** 2, q, 25) + sigma_b2
        chi = sigma_w2 * mp_expect(lambda x: act.prime_mp(x) ** 2, q, 25)
    assert abs(float(lq) - p.q_star) <= 1e-12 * max(1.0, p.q_star) / max(1e-3, 1 - float(chi)) + p.error
    assert p.chi_1 == pytest.approx(float(chi), rel=1e-12, abs=p.error)
    assert p.phase == ("ordered" if chi < 1 else "chaotic")
    if p.phase == "ordered":
        assert p.c_star == 1.0 and p.chi_c == p.chi_1
    else:
        assert p.c_star < 1.0 and p.chi_c < 1.0   # the stable fixed point of the correlation map


def test_chaotic_c_star_against_scipy():
    """c* for tanh at (2.5, 0.05): the correlation map written with scipy.integrate.quad and brentq."""
    sw2, sb2 = 2.5, 0.05
    p = mean_field("tanh", sw2, sb2)
    q = p.q_star

    def cmap(c):
        s = math.sqrt(1 - c * c)

        def inner(z1):
            return integrate.quad(lambda z2: math.tanh(math.sqrt(q) * (c * z1 + s * z2)) * math.exp(-z2 * z2 / 2),
                                  -12, 12, epsabs=1e-13)[0] / math.sqrt(2 * math.pi)

        outer = integrate.quad(lambda z1: math.tanh(math.sqrt(q) * z1) * inner(z1) * math.exp(-z1 * z1 / 2),
                               -12, 12, epsabs=1e-13)[0] / math.sqrt(2 * math.pi)
        return (sw2 * outer + sb2) / q

    c = optimize.brentq(lambda c: cmap(c) - c, 0.1, 0.99, xtol=1e-12)
    assert p.c_star == pytest.approx(c, abs=1e-9)


# ----- known points ---------------------------------------------------------------------------------
def test_relu_critical_point_is_2_0_exactly():
    p = mean_field("relu", 2.0, 0.0)
    assert (p.chi_1, p.phase, p.q_star) == (1.0, "critical", 0.0)
    assert critical_sigma_w2("relu", 0.0).sigma_w2 == 2.0
    none = critical_sigma_w2("relu", 0.1)
    assert not none.exists and none.sigma_w2 is None
    with pytest.raises(InvalidParameterError, match="no finite fixed point"):
        mean_field("relu", 2.5, 0.1)


@given(sigma_w2=st.floats(min_value=0.05, max_value=0.95), sigma_b2=st.floats(min_value=0.0, max_value=5.0))
def test_linear_network_chi_1_is_sigma_w2_and_q_star_is_geometric(sigma_w2, sigma_b2):
    p = mean_field("x", sigma_w2, sigma_b2)
    assert p.chi_1 == sigma_w2
    assert p.q_star == pytest.approx(sigma_b2 / (1 - sigma_w2), rel=4 * EPS)


def test_tanh_critical_sigma_w2_tends_to_1_as_sigma_b2_tends_to_0():
    values = [critical_sigma_w2("tanh", b).sigma_w2 for b in (1e-1, 1e-2, 1e-3, 1e-4, 1e-6)]
    assert all(a > b for a, b in zip(values, values[1:]))     # decreasing towards the limit
    assert values[-1] - 1 < 0.02 and critical_sigma_w2("tanh", 0.0).sigma_w2 == 1.0


def test_critical_point_against_scipy_quad_and_brentq():
    """The tanh critical line at σ_b² = 0.05 solved independently: χ₁(σ_w², q*(σ_w²)) = 1 by nested brentq."""
    sb2 = 0.05

    def expect(f, q):
        return integrate.quad(lambda z: f(math.sqrt(q) * z) * math.exp(-z * z / 2), -12, 12,
                              epsabs=1e-14, epsrel=1e-13, limit=200)[0] / math.sqrt(2 * math.pi)

    def qstar(sw2):
        return optimize.brentq(lambda q: sw2 * expect(lambda x: math.tanh(x) ** 2, q) + sb2 - q, sb2, 50, xtol=1e-14)

    def chi(sw2):
        return sw2 * expect(lambda x: 1 / math.cosh(x) ** 4, qstar(sw2)) - 1

    want = optimize.brentq(chi, 1.0, 3.0, xtol=1e-13)
    got = critical_sigma_w2("tanh", sb2)
    assert got.sigma_w2 == pytest.approx(want, rel=1e-10)
    assert mean_field("tanh", got.sigma_w2, sb2).phase == "critical"


def test_digits_agree_with_float64_and_with_each_other():
    p = mean_field("tanh", "1.5", "0.05", digits=25)
    precise = dict(p.precise)
    assert float(precise["q_star"]) == pytest.approx(p.q_star, rel=1e-12)
    assert float(precise["chi_1"]) == pytest.approx(p.chi_1, rel=1e-12)
    c20, c30 = (critical_sigma_w2("tanh", "0.05", digits=d).value for d in (20, 30))
    assert c30.startswith(c20[:-2])                 # the 20-digit value is a prefix up to rounding
    assert float(c30) == pytest.approx(critical_sigma_w2("tanh", 0.05).sigma_w2, rel=1e-13)


# ----- bad input ----------------------------------------------------------------------------------
@pytest.mark.parametrize("args, error, words", [
    (("tanh", 0.0, 0.05), InvalidParameterError, "sigma_w2=0 must be > 0"),
    (("tanh", -1.0, 0.05), InvalidParameterError, "must be > 0"),
    (("tanh", 1.0, -0.1), InvalidParameterError, "sigma_b2=-0.1 must be >= 0"),
    (("tanh", float("nan"), 0.05), NonFiniteError, "finite"),
    (("tanh", "1e400", 0.05), NonFiniteError, "finite"),
    (("tanh", "__import__('os')", 0.05), InvalidParameterError, "not a decimal number"),
    (("tanh", 1e9, 0.05), InvalidParameterError, "<= 10000"),
    (("exp(x**2)", 1.0, 0.05), InvalidParameterError, "not finite"),
    (("sqrt(x)", 1.0, 0.05), InvalidParameterError, "not defined on all of ℝ"),
    (("1/x", 1.0, 0.05), InvalidParameterError, "not defined on all of ℝ"),
    (("tan(x)", 1.0, 0.05), InvalidParameterError, "not defined on all of ℝ"),
    (("Heaviside(x)", 1.0, 0.05), InvalidParameterError, "Dirac delta"),
    (("relu", 3.0, 0.05), InvalidParameterError, "no finite fixed point"),
    (("x", 1.5, 0.05), InvalidParameterError, "no finite fixed point"),
])
def test_bad_input_is_refused_with_one_clear_error(args, error, words):
    with pytest.raises(error, match=words.replace("(", r"\(")):
        mean_field(*args)


def test_exp_activation_has_a_fixed_point_when_small_but_not_when_large():
    assert mean_field("exp(x)", 0.1, 0.1).q_star == pytest.approx(0.1 * math.exp(2 * 0.27244022008) + 0.1, rel=1e-9)
    with pytest.raises(InvalidParameterError):
        mean_field("exp(x)", 5.0, 0.1)


def test_erf_closed_form_matches_special_functions():
    """E[erf(√q z)²] = (2/π) arcsin(2q/(1+2q)) (Williams 1998) against scipy.special.erf quadrature."""
    q = 0.7
    e = closed_form_for(resolve_activation("erf(x)"))
    numeric = integrate.quad(lambda z: special.erf(math.sqrt(q) * z) ** 2 * math.exp(-z * z / 2), -12, 12,
                             epsabs=1e-15)[0] / math.sqrt(2 * math.pi)
    assert float(e.square(np.array([q]))[0][0]) == pytest.approx(numeric, rel=1e-13)


# ----- random expressions from the safe grammar: right, or refused in one line ---------------------------
from tests.test_gamma import EXPRESSIONS  # noqa: E402 - the γ tests' grammar of expression trees


@settings(max_examples=20, deadline=None)
@given(text=EXPRESSIONS, sigma_w2=st.sampled_from([0.5, 1.5]), sigma_b2=st.sampled_from([0.05, 0.5]))
def test_random_expressions_give_a_checked_fixed_point_or_one_clear_error(text, sigma_w2, sigma_b2):
    from gradmath.errors import GradmathError

    try:
        act = resolve_activation(text)
        p = mean_field(act, sigma_w2, sigma_b2)
    except GradmathError as err:
        assert "\n" not in str(err)
        return
    assert np.isfinite([p.q_star, p.chi_1]).all() and p.q_star >= 0
    if p.q_star == 0:
        return
    # the fixed point and χ₁ recomputed by mpmath from the activation's own mpmath form
    with mpmath.workdps(25):
        q = mpmath.mpf(p.q_star)
        lq = sigma_w2 * mp_expect(lambda x: act.sigma_mp(x) ** 2, q, 25) + sigma_b2
        chi = sigma_w2 * mp_expect(lambda x: act.prime_mp(x) ** 2, q, 25)
    slope = abs(1 - (p.xi_q and math.exp(-1 / p.xi_q) or 0.0))
    assert abs(float(lq) - p.q_star) <= 1e-9 * max(1.0, p.q_star) + p.error / max(slope, 1e-3), (text, lq, p)
    assert p.chi_1 == pytest.approx(float(chi), rel=1e-8, abs=1e-12 + p.error), (text, chi, p)
