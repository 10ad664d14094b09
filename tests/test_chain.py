"""The chain product (Nielsen's (121)/(122)): product form = direct derivative = mpmath numeric derivative.

The oracle here is built in the test itself: the nested cost composed from σ and C
alone, differentiated by :func:`mpmath.diff`; it shares nothing with the
library's backpropagation or its central differences.
"""

from __future__ import annotations

import json
import sys

import mpmath
import pytest
import sympy as sp
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from gradmath.activations import BUILTIN_ACTIVATIONS, get_activation
from gradmath.costs import COST_NAMES, Y, get_cost
from gradmath.errors import (
    ExpressionError,
    GradmathError,
    InvalidParameterError,
    UnknownActivationError,
    UnknownNameError,
)
from gradmath.expressions import X
from gradmath.finite_difference import central_difference, checked_derivative
from gradmath.symbolic import chain as ch
from gradmath.symbolic import chain_checks
from gradmath.symbolic.chain import NESTED_MAX_DEPTH, chain_symbol, derive_chain
from tests.golden import GOLDEN

DOCUMENTED_KEYS = {"depth", "layer", "activation", "cost", "derivative", "product_form", "verified", "checks"}
param = st.floats(min_value=-3, max_value=3, allow_nan=False)
unit = st.floats(min_value=0.01, max_value=0.99, allow_nan=False)


@st.composite
def chains(draw, max_depth=6):
    depth = draw(st.integers(1, max_depth))
    layer = draw(st.integers(1, depth))
    w = draw(st.lists(param, min_size=depth, max_size=depth))
    b = draw(st.lists(param, min_size=depth, max_size=depth))
    return depth, layer, w, b, draw(unit), draw(unit)


def _nested_cost(act, cost, a0, y, w, b):
    """C(σ(w_L σ(… σ(w_1 a_0 + b_1) …) + b_L)) composed from σ and C alone, and the z_j on the way."""
    a, zs = a0, []
    for wj, bj in zip(w, b):
        zs.append(wj * a + bj)
        a = act.sigma_mp(zs[-1])
    return cost.evaluate_mp(a, y), zs, a


@settings(max_examples=100)
@given(chain=chains(), activation=st.sampled_from(BUILTIN_ACTIVATIONS), cost=st.sampled_from(COST_NAMES))
@example(chain=(4, 1, [1.0, -1.5, 2.0, 0.5], [0.1, 0.2, -0.3, 0.4], 0.3, 0.7), activation="sigmoid",
         cost="cross-entropy")
@example(chain=(1, 1, [2.0], [-1.0], 0.5, 0.25), activation="relu", cost="quadratic")
@example(chain=(5, 5, [0.0, 1.0, 2.0, -3.0, 0.0], [2.0, 0.0, 0.0, 0.0, 1.0], 0.5, 0.5), activation="gelu",
         cost="quadratic")  # ∂C/∂w_5 ∝ a_4 = GELU(z_4) ≈ 6e-30: erf cancels 30 digits in a_4
def test_product_form_equals_direct_derivative_equals_mpmath_diff(chain, activation, cost):
    depth, layer, w, b, a0, y = chain
    act, cst = get_activation(activation), get_cost(cost)
    d = derive_chain(depth, layer, act, cst)
    assert d.verified, [c for c in d.checks if not c.passed]
    # 80 digits for a comparison to 25: σ itself can cancel digits (GELU's (1 + erf(z/√2))/2 for z ≪ 0),
    # and so does C(x + h) − C(x − h) when |∂C| ≪ |C|, by up to 30 at the 1e-30 floor below.
    with mpmath.workdps(80):
        w, b = [mpmath.mpf(v) for v in w], [mpmath.mpf(v) for v in b]
        a0, y = mpmath.mpf(a0), mpmath.mpf(y)
        _, z_values, a_L = _nested_cost(act, cst, a0, y, w, b)
        if cst.name == "cross-entropy":
            assume(0 < a_L < 1)
        assume(all(abs(z) > 1e-6 for z in z_values))  # away from ReLU's and softsign's kinks
        a_prev = a0 if layer == 1 else act.sigma_mp(z_values[layer - 2])
        subs = {chain_symbol("z", j): z_values[j - 1] for j in range(1, depth + 1)}
        subs |= {chain_symbol("w", j): w[j - 1] for j in range(1, depth + 1)}
        subs |= {chain_symbol("a", depth): a_L, Y: y, chain_symbol("a", layer - 1): a_prev}

        def value(expr):
            symbols = sorted(expr.free_symbols, key=str)
            return sp.lambdify(symbols, expr, modules="mpmath")(*[subs[s] for s in symbols])

        product, direct, direct_w = value(d.product), value(d.d_bias), value(d.d_weight)

        def cost_with(w_l, b_l):
            w_new, b_new = list(w), list(b)
            w_new[layer - 1], b_new[layer - 1] = w_l, b_l
            return _nested_cost(act, cst, a0, y, w_new, b_new)[0]

        numeric_b = mpmath.diff(lambda t: cost_with(w[layer - 1], t), b[layer - 1])
        numeric_w = mpmath.diff(lambda t: cost_with(t, b[layer - 1]), w[layer - 1])
        tol = mpmath.mpf(10) ** -25
        assert abs(direct - product) <= mpmath.mpf(10) ** -45 * abs(product)  # the same factors, in another order
        assert abs(product - numeric_b) <= tol * max(abs(numeric_b), mpmath.mpf(10) ** -30)
        assert abs(direct_w - numeric_w) <= tol * max(abs(numeric_w), mpmath.mpf(10) ** -30)


@settings(max_examples=30)
@given(depth=st.integers(1, 40), data=st.data(), activation=st.sampled_from(BUILTIN_ACTIVATIONS),
       cost=st.sampled_from(COST_NAMES), seed=st.integers(0, 2**16))
def test_every_check_made_passes_and_says_what_it_is(depth, data, activation, cost, seed):
    layer = data.draw(st.integers(1, depth))
    d = derive_chain(depth, layer, activation, cost, seed=seed)
    names = [c.name for c in d.checks]
    assert names[:1] == ["chain_rule"] and "numeric" in names
    assert ("nested" in names) == (depth <= NESTED_MAX_DEPTH)
    assert d.verified
    assert len(d.factors) == 2 * (depth - layer) + 2


def test_nielsen_122_at_depth_four():
    d = derive_chain(4, 1, "sigmoid", "quadratic")
    assert d.product_form_latex() == (
        r"\sigma'(z_{1}) \, w_{2} \sigma'(z_{2}) \, w_{3} \sigma'(z_{3}) \, w_{4} \sigma'(z_{4}) \, "
        r"\frac{\partial C}{\partial a_{4}}")
    sig_p = get_activation("sigmoid").derivative
    expected = [sig_p.xreplace({X: chain_symbol("z", 1)})]
    for j in (2, 3, 4):
        expected += [chain_symbol("w", j), sig_p.xreplace({X: chain_symbol("z", j)})]
    expected.append(chain_symbol("a", 4) - Y)
    assert sp.Mul(*d.factors) == sp.Mul(*expected)


def test_nielsen_exploding_terms_are_25():
    # Golden: w_j = 100 and z_j = 0 make every w_j σ′(z_j) equal to 25.
    d = derive_chain(4, 1, "sigmoid", "quadratic", verify=False)
    subs = {chain_symbol("z", j): 0 for j in range(1, 5)} | {chain_symbol("w", j): 100 for j in range(2, 5)}
    terms = [sp.nsimplify(d.factors[i].xreplace(subs) * d.factors[i + 1].xreplace(subs)) for i in (1, 3, 5)]
    assert terms == [sp.Integer(GOLDEN["exploding_term_sigmoid"]["value"])] * 3


def test_cross_entropy_with_sigmoid_cancels_sigma_prime():
    d = derive_chain(3, 1, "sigmoid", "cross-entropy")
    z3 = chain_symbol("z", 3)
    assert d.sigma_prime_cancels
    assert d.output_delta == 1 / (1 + sp.exp(-z3)) - Y
    assert "cancellation" in [c.name for c in d.checks]
    assert d.reduced_form_latex() == r"\sigma'(z_{1}) \, w_{2} \, \sigma'(z_{2}) \, w_{3} \, \left(a_{3} - y\right)"
    assert d.to_latex().endswith(r"= a_{3} - y" + "\n\\end{aligned}")
    for other in ("tanh", "softplus"):
        t = derive_chain(3, 1, other, "cross-entropy")
        assert not t.sigma_prime_cancels and "cancellation" not in [c.name for c in t.checks]
        assert t.reduced_form_latex() is None
    assert not derive_chain(3, 1, "sigmoid", "quadratic").sigma_prime_cancels


def test_size_grows_linearly_with_depth():
    sizes = {L: derive_chain(L, 1, "sigmoid", "quadratic", verify=False).size for L in (10, 20, 40, 80)}
    step = sizes[20] - sizes[10]
    assert sizes[40] - sizes[20] == 2 * step and sizes[80] - sizes[40] == 4 * step


def test_depth_1000_verifies_without_raising_the_recursion_limit():
    limit = sys.getrecursionlimit()
    d = derive_chain(1000, 1, "tanh", "quadratic")
    assert d.verified and [c.name for c in d.checks] == ["chain_rule", "numeric"]
    assert sys.getrecursionlimit() == limit
    assert len(d.derivative_latex()) > 1000


def test_custom_activation_string():
    d = derive_chain(3, 2, "x/(1+abs(x))", "quadratic")
    assert d.verified and d.activation == "x/(1+abs(x))"


def test_checks_catch_a_wrong_product():
    act, cst = get_activation("sigmoid"), get_cost("quadratic")
    factors = ch._product_form(5, 2, act, cst)
    d_bias, d_weight = ch._backpropagate(5, 2, act, cst)
    assert chain_checks.check_chain_rule(5, 2, factors, d_bias, d_weight).passed
    wrong = factors[:1] + (2 * factors[1],) + factors[2:]       # 2 w_3 instead of w_3
    assert not chain_checks.check_chain_rule(5, 2, wrong, d_bias, d_weight).passed
    assert chain_checks.check_numeric(5, 2, act, cst, factors, seed=1, digits=30).passed
    assert not chain_checks.check_numeric(5, 2, act, cst, wrong, seed=1, digits=30).passed


def test_verify_false_makes_no_checks_and_is_not_verified():
    d = derive_chain(2, verify=False)
    assert d.checks == () and not d.verified


def test_result_prints_and_serialises():
    d = derive_chain(2, 1, "tanh", "cross-entropy")
    payload = json.loads(json.dumps(d.to_json()))
    assert DOCUMENTED_KEYS <= set(payload)
    assert payload["verified"] is True and isinstance(payload["derivative"], str)
    assert all(set(c) == {"name", "passed", "exact", "detail"} for c in payload["checks"])
    assert repr(d) == "ChainDerivation(depth=2, layer=1, activation='tanh', cost='cross-entropy', factors=4, verified=True)"
    assert d._repr_latex_().startswith("$$\\begin{aligned}")
    assert "| chain_rule | yes | yes |" in d.to_markdown()
    assert d.to_latex().count(r"\\") == 3


@pytest.mark.parametrize(("kwargs", "error", "match"), [
    ({"depth": 0}, InvalidParameterError, r"depth=0 must be an integer in \[1, 2000\]"),
    ({"depth": -3}, InvalidParameterError, r"depth=-3 must be an integer in \[1, 2000\]"),
    ({"depth": 10**4}, InvalidParameterError, r"depth=10000 must be an integer in \[1, 2000\]"),
    ({"depth": 10**5000}, InvalidParameterError,
     r"depth=\(an integer of about 5000 digits\) must be an integer in \[1, 2000\]"),
    ({"depth": 2.5}, InvalidParameterError, r"depth=2.5 must be an integer"),
    ({"depth": True}, InvalidParameterError, r"depth=True must be an integer"),
    ({"depth": 3, "layer": 0}, InvalidParameterError, r"layer=0 must be an integer in \[1, 3\]"),
    ({"depth": 3, "layer": 4}, InvalidParameterError, r"layer=4 must be an integer in \[1, 3\]"),
    ({"depth": 2, "activation": "sigmod"}, UnknownActivationError, r"did you mean 'sigmoid'.*known: arctan"),
    ({"depth": 2, "activation": "x+"}, ExpressionError, r"'x\+' is not a valid expression"),
    ({"depth": 2, "activation": "__import__('os')"}, ExpressionError, r"'__import__' is not an allowed function"),
    ({"depth": 2, "activation": "y*2"}, ExpressionError, r"unknown name 'y'"),
    ({"depth": 2, "cost": "entropy"}, UnknownNameError, r"cost='entropy' is not one of"),
    ({"depth": 2, "digits": 3}, InvalidParameterError, r"digits=3 must be an integer in \[15, 1000\]"),
    ({"depth": 2, "seed": -1}, InvalidParameterError, r"seed=-1 must be an integer >= 0"),
])
def test_bad_input_is_one_clear_error(kwargs, error, match):
    with pytest.raises(error, match=match) as info:
        derive_chain(**kwargs)
    assert isinstance(info.value, GradmathError) and "\n" not in str(info.value)


# ----- the numeric oracle itself ------------------------------------------------
def test_central_difference_needs_the_lost_digits():
    f = lambda x: 1 + mpmath.mpf(10) ** -60 * mpmath.exp(x)  # noqa: E731
    with mpmath.workdps(30):
        assert central_difference(f, 0, digits=30) == 0
        good = central_difference(f, 0, digits=30, lost_digits=60)
        assert abs(good / mpmath.mpf(10) ** -60 - 1) < mpmath.mpf(10) ** -25
        value, spread = checked_derivative(f, 0, digits=30, lost_digits=60)
        assert spread < mpmath.mpf(10) ** -25


@settings(max_examples=30)
@given(x=st.floats(min_value=-5, max_value=5, allow_nan=False))
def test_central_difference_matches_known_derivatives(x):
    with mpmath.workdps(40):
        for f, df in ((mpmath.sin, mpmath.cos), (mpmath.atan, lambda t: 1 / (1 + t * t))):
            value, spread = checked_derivative(f, x, digits=40)
            assert abs(value - df(mpmath.mpf(x))) <= mpmath.mpf(10) ** -30
            assert spread <= mpmath.mpf(10) ** -30
