"""Activations: the stable NumPy kernels agree with the derivation; γ is a true supremum."""

from __future__ import annotations

import warnings

import mpmath
import numpy as np
import pytest
import sympy as sp
from hypothesis import example, given
from hypothesis import strategies as st
from scipy.optimize import minimize_scalar

from gradmath.activations import (
    BUILTIN_ACTIVATIONS,
    Activation,
    get_activation,
    register_activation,
    resolve_activation,
    unregister_activation,
)
from gradmath.errors import ExpressionError, InvalidParameterError, NonFiniteError, UnknownActivationError
from tests.golden import GOLDEN

finite_z = st.floats(min_value=-1e4, max_value=1e4, allow_nan=False)


@pytest.mark.parametrize("name", BUILTIN_ACTIVATIONS)
@given(z=st.floats(min_value=-700, max_value=700, allow_nan=False))
@example(z=0.0)
@example(z=-700.0)
@example(z=39.0)
def test_stable_kernels_match_the_derivation_in_mpmath(name, z):
    act = get_activation(name)
    # The derivation's own form cancels digits: 1 − tanh² about 0.87|z|, 1/2 + erf/2 about
    # 0.22 z² (GELU; beyond |z| ≈ 38 its σ′ is below float64's range anyway): carry them.
    with mpmath.workdps(60 + int(abs(z) + 0.22 * min(z * z, 40.0**2))):
        ref_sigma = float(act.sigma_mp(mpmath.mpf(z)))
        ref_prime = float(act.prime_mp(mpmath.mpf(z)))
    assert float(act.sigma(z)) == pytest.approx(ref_sigma, rel=1e-12, abs=1e-300)
    assert float(act.prime(z)) == pytest.approx(ref_prime, rel=1e-9, abs=1e-300)


@pytest.mark.parametrize("name", BUILTIN_ACTIVATIONS)
def test_extreme_inputs_give_no_warning_and_no_nan(name):
    # Beyond |z| = 700 float64 results are 0, 1, ±z or ±inf-free limits; checked here.
    act = get_activation(name)
    z = np.array([-1e300, -1e4, -745.0, -1.0, 0.0, 1.0, 745.0, 1e4, 1e300])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(all="raise"):
            s, p = act.sigma(z), act.prime(z)
    assert np.isfinite(p).all()
    assert np.isfinite(s[1:-1]).all()


@pytest.mark.parametrize("name", BUILTIN_ACTIVATIONS)
@given(z=finite_z)
def test_prime_never_exceeds_gamma(name, z):
    act = get_activation(name)
    gamma_hi = float(act.gamma.enclosure[1])
    assert act.prime(z) <= gamma_hi * (1 + 1e-15)


def test_golden_gamma_values():
    assert get_activation("sigmoid").gamma.exact == sp.Rational(GOLDEN["gamma_sigmoid"]["value"])
    assert get_activation("tanh").gamma.exact == sp.Integer(GOLDEN["gamma_tanh"]["value"])
    assert get_activation("arctan").gamma.exact == 1
    assert get_activation("softsign").gamma.exact == 1
    assert get_activation("relu").gamma.exact == 1
    softplus = get_activation("softplus").gamma
    assert softplus.exact == 1 and not softplus.attained
    with mpmath.workdps(40):
        gelu = get_activation("gelu").gamma
        assert abs(mpmath.mpf(str(gelu.exact.evalf(40))) - mpmath.mpf(GOLDEN["gamma_gelu"]["value"])) < 1e-30


def test_gelu_gamma_independently():
    # Independent: the root of σ″ = φ(x)(2 − x²) by mpmath, then σ′ there.
    with mpmath.workdps(40):
        x = mpmath.findroot(lambda t: 2 - t * t, 1.5)
        value = mpmath.ncdf(x) + x * mpmath.npdf(x)
        assert abs(value - mpmath.mpf(get_activation("gelu").gamma.value)) < 1e-28


def test_silu_gamma_is_certified_and_agrees_with_scipy():
    g = get_activation("silu").gamma
    assert g.method == "certified" and g.exact is None
    lo, hi = (float(v) for v in g.enclosure)
    res = minimize_scalar(lambda t: -float(get_activation("silu").prime(t)), bounds=(0, 10),
                          method="bounded", options={"xatol": 1e-12})
    assert lo <= -res.fun <= hi + 1e-15
    assert hi - lo < 1e-10
    assert float(g.value) == pytest.approx(float(GOLDEN["gamma_silu"]["value"]), abs=1e-9)


@pytest.mark.parametrize("name", BUILTIN_ACTIVATIONS)
def test_gamma_is_the_supremum_on_a_dense_grid(name):
    act = get_activation(name)
    z = np.linspace(-50, 50, 200_001)
    lo, hi = (float(v) for v in act.gamma.enclosure)
    top = float(act.prime(z).max())
    assert top <= hi * (1 + 1e-15)
    if act.gamma.attained:
        assert top >= lo - 1e-8  # grid spacing 5e-4 around a quadratic maximum


def test_custom_activation_from_string_and_expression():
    try:
        act = register_activation("mysoftsign", "x/(1+abs(x))")
        assert act.gamma.exact == 1
        assert float(act.prime(1.0)) == pytest.approx(0.25)
        t = sp.Symbol("t")
        other = register_activation("cube", t**3 / 3 - t, overwrite=True)
        assert other.derivative == sp.Symbol("x", real=True) ** 2 - 1
    finally:
        unregister_activation("mysoftsign")
        unregister_activation("cube")


def test_custom_activation_overflow_is_an_error_not_nan():
    act = resolve_activation("exp(x)*exp(x)")
    with pytest.raises(NonFiniteError, match="not finite at z="):
        act.sigma(np.array([0.0, 800.0]))


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: get_activation("sigmod"), UnknownActivationError, "did you mean 'sigmoid'"),
        (lambda: register_activation("sigmoid", "x"), InvalidParameterError, "built-in"),
        (lambda: register_activation("bad name!", "x"), InvalidParameterError, "must be a word"),
        (lambda: register_activation("evil", "__import__('os').system('true')"), ExpressionError, "allowed"),
        (lambda: register_activation("evil", "().__class__"), ExpressionError, "Attribute is not allowed"),
        (lambda: register_activation("evil", "y + 1"), ExpressionError, "unknown name 'y'"),
        (lambda: register_activation("evil", "x**10**10**10"), ExpressionError, "exponent"),
        (lambda: register_activation("evil", "exp(x"), ExpressionError, "not a valid expression"),
        (lambda: register_activation("evil", "2"), ExpressionError, "does not depend on x"),
    ],
)
def test_invalid_activations(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_relu_prime_at_zero_is_the_same_in_sympy_mpmath_and_numpy():
    # One convention, σ′(0) = 0 (as PyTorch), in every path; and the right values just beside 0.
    relu = get_activation("relu")
    x = sp.Symbol("x", real=True)
    for z, want in [(0.0, 0), (-1e-300, 0), (5e-324, 1), (1e-300, 1), (-2.0, 0), (2.0, 1)]:
        assert relu.derivative.subs(x, sp.Rational(z)) == want
        assert relu.prime_mp(mpmath.mpf(z)) == want
        assert float(relu.prime(z)) == want


def test_an_activation_made_from_a_string_or_another_x_is_an_expression_in_the_real_x():
    """Activation(name, text) once kept the string (SymPy then parsed it with sympify, in a symbol x that is not
    gradmath's real x, so σ′ was 0 and γ = 0); an expression in a plain Symbol("x") had the same σ′ = 0."""
    from gradmath.bounds.terms import sup_abs_prime
    from gradmath.expressions import X

    text = Activation("mysoftsign", "x/(1+abs(x))")
    plain = sp.Symbol("x")
    other = Activation("mysoftsign", plain / (1 + sp.Abs(plain)))
    for act in (text, other):
        assert act.expression == X / (1 + sp.Abs(X))
        assert act.derivative.subs(X, 0) == 1        # softsign′(0) = 1/(1+0)² = 1 = γ
        assert sup_abs_prime(act) == 1.0              # never registered: the expression is γ's key
    assert sup_abs_prime(resolve_activation("x/(1+abs(x))")) == 1.0
    with pytest.raises(ExpressionError, match="must be a string or a SymPy expression"):
        Activation("bad", 3.5)
