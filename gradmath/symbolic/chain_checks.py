"""The checks :func:`~gradmath.symbolic.chain.derive_chain` makes on its result, each independent of the derivation.

``chain_rule`` (:func:`check_chain_rule`)
    exact: the backpropagated derivative has, as a multiset, the product form's factors.
``nested`` (:func:`check_nested`)
    exact: :func:`sympy.diff` of the fully nested cost, σ and C undefined functions,
    equals the product form term for term.
``numeric`` (:func:`check_numeric`)
    the product form at random parameters against a central difference of the cost
    in mpmath, which uses σ and C but no derivative.

Each returns a :class:`~gradmath.symbolic.checks.Check`; the proof they check is
``proofs/chain-product.md``.

Examples
--------
>>> from gradmath.activations import get_activation
>>> from gradmath.costs import get_cost
>>> check_nested(3, 2).passed
True
>>> factors = (sp.Symbol("wrong"),)
>>> check_numeric(2, 1, get_activation("tanh"), get_cost("quadratic"), factors, seed=0, digits=20).detail
'the product form has a symbol the chain does not define: wrong'
"""

from __future__ import annotations

import math
from collections import Counter

import mpmath
import numpy as np
import sympy as sp

from gradmath.activations import Activation, guarded_mpmath
from gradmath.costs import Y, Cost
from gradmath.finite_difference import checked_derivative
from gradmath.symbolic.chain_result import chain_symbol
from gradmath.symbolic.checks import _TOO_LARGE, _UNSETTLED, MAX_LOST_DIGITS, TOLERANCE_DIGITS, Check, \
    name_derivatives, numeric_check_refused
from gradmath.symbolic.renaming import rename

__all__ = ["check_chain_rule", "check_nested", "check_numeric"]


def check_chain_rule(depth, layer, factors, d_bias, d_weight) -> Check:
    """The backpropagated derivatives against the product form, factor for factor (as multisets)."""
    product = Counter(factors)
    same_b = Counter(sp.Mul.make_args(d_bias)) == product
    same_w = Counter(sp.Mul.make_args(d_weight)) == product + Counter([chain_symbol("a", layer - 1)])
    return Check("chain_rule", same_b and same_w, True,
                 f"backpropagation over z_j, a_j gives the product form's {len(factors)} factors "
                 f"for ∂C/∂b_{layer} (and a_{layer - 1} times them for ∂C/∂w_{layer})")


def check_nested(depth: int, layer: int) -> Check:
    """sympy.diff of C(σ(w_L σ(…) + b_L)) with σ, C undefined equals the product form term for term."""
    sigma, cost = sp.Function("sigma"), sp.Function("C")
    sigma_p, cost_p = sp.Function("sigma'"), sp.Function("C'")
    a, zs = chain_symbol("a", 0), {}
    for j in range(1, depth + 1):
        zs[j] = chain_symbol("w", j) * a + chain_symbol("b", j)
        a = sigma(zs[j])
    nested = cost(a)
    ok = True
    for param, first in ((chain_symbol("b", layer), sp.S.One), (chain_symbol("w", layer), zs[layer].coeff(chain_symbol("w", layer)))):
        direct = name_derivatives(sp.diff(nested, param), {sigma: sigma_p, cost: cost_p})
        factors = [first, sigma_p(zs[layer])]
        for j in range(layer + 1, depth + 1):
            factors += [chain_symbol("w", j), sigma_p(zs[j])]
        factors.append(cost_p(a))
        ok = ok and direct == sp.Mul(*factors)
    return Check("nested", ok, True,
                 f"sympy.diff of the nested C(σ(w_{depth} σ(…) + b_{depth})) with σ, C undefined functions "
                 "equals the product form term for term (so for every σ and C)")



def _random_parameters(depth: int, act: Activation, cst: Cost, seed: int):
    """a_0, w, b, y drawn as Nielsen does (w_j, b_j ~ N(0, 1)); for cross-entropy, redrawn until 0 < a_L < 1."""
    rng = np.random.default_rng(seed)
    for _ in range(1000):
        a0, y = rng.uniform(0.0, 1.0), rng.uniform(0.0, 1.0)
        w, b = rng.standard_normal(depth), rng.standard_normal(depth)
        if cst.name != "cross-entropy":
            return a0, w, b, y
        with mpmath.workdps(20):
            a_L = _forward(act, mpmath.mpf(a0), [mpmath.mpf(v) for v in w], [mpmath.mpf(v) for v in b])[1][-1]
        if 0 < a_L < 1:
            return a0, w, b, y
    raise ValueError(f"no parameters with 0 < a_L < 1 found for {act.name}")  # pragma: no cover


def _forward(act: Activation, a0, w, b, start: int = 0):
    """z_j and a_j in mpmath, layer ``start`` on (0-based), from a_{start} = a0."""
    zs, acts, a = [], [], a0
    for wj, bj in zip(w[start:], b[start:]):
        z = wj * a + bj
        a = act.sigma_mp_guarded(z)
        zs.append(z)
        acts.append(a)
    return zs, acts


def check_numeric(depth, layer, act, cst, factors, *, seed, digits) -> Check:
    """The product form at random parameters against a central difference of the cost (mpmath).

    Raises :class:`~gradmath.errors.InvalidParameterError` where the check cannot be made: a value too large
    for mpmath, or |C| ≫ |∂C| by more than :data:`~gradmath.symbolic.checks.MAX_LOST_DIGITS` digits.
    """
    try:
        return _check_numeric(depth, layer, act, cst, factors, seed=seed, digits=digits)
    except (OverflowError, MemoryError) as err:
        raise numeric_check_refused(act.name, seed, _TOO_LARGE) from err


def _product_at(act, cst, factors, a0, w, b, y, layer):
    """(a_{l−1}, C, the product form's ∂C/∂b_l) at the working precision: the forward pass, then the factors."""
    _, acts_before = _forward(act, a0, w[: layer - 1], b[: layer - 1])
    a_prev = acts_before[-1] if acts_before else a0            # a_{l−1}
    zs, acts = _forward(act, a_prev, w, b, start=layer - 1)
    return a_prev, cst.evaluate_mp(acts[-1], y), _evaluate_product(factors, act, cst, zs, w, acts[-1], y, layer)


def _check_numeric(depth, layer, act, cst, factors, *, seed, digits) -> Check:
    a0, w, b, y = _random_parameters(depth, act, cst, seed)
    dps = digits + 10 + math.ceil(math.log10(depth + 1))
    rtol = mpmath.mpf(10) ** -(digits - TOLERANCE_DIGITS)
    with mpmath.workdps(dps):
        w = [mpmath.mpf(v) for v in w]   # floats: exact at any precision
        b = [mpmath.mpf(v) for v in b]
        a0, y = mpmath.mpf(a0), mpmath.mpf(y)
        try:
            a_prev, cost_value, product_b = _product_at(act, cst, factors, a0, w, b, y, layer)
            with mpmath.workdps(dps + _STABILITY_DIGITS):   # the same values, more digits carried
                reference = _product_at(act, cst, factors, a0, w, b, y, layer)[2]
        except KeyError as err:
            return Check("numeric", False, False, f"the product form has a symbol the chain does not define: {err}")
        if abs(reference - product_b) > rtol * abs(reference):
            # rounding in the forward pass reaches the leading digits (e^(e^(e^z)) multiplies a relative error
            # of z by about e^(e^z)): a difference from the central difference would say nothing of the formula
            raise numeric_check_refused(act.name, seed, f"∂C/∂b_{layer} at {dps} working digits differs from its "
                                        f"value at {dps + _STABILITY_DIGITS} by more than 1e-{digits - TOLERANCE_DIGITS} "
                                        "relative: these parameters make the chain too sensitive to rounding")
        product_w = product_b * a_prev

        def cost_of(w_l, b_l):
            _, out = _forward(act, a_prev, [w_l] + w[layer:], [b_l] + b[layer:])
            return cst.evaluate_mp(out[-1], y)

        w_l, b_l = w[layer - 1], b[layer - 1]
        results = []
        for name, product, f, x in (("b", product_b, lambda t: cost_of(w_l, t), b_l),
                                    ("w", product_w, lambda t: cost_of(t, b_l), w_l)):
            lost = math.ceil(math.log10(depth + 1)) + _lost_digits(cost_value, product, digits)
            if lost > MAX_LOST_DIGITS:
                raise numeric_check_refused(act.name, seed, f"|C| is about 10^{lost} times |∂C/∂{name}_{layer}|, "
                                            f"more than the {MAX_LOST_DIGITS} extra digits carried")
            numeric, spread = checked_derivative(f, x, digits=digits, lost_digits=lost)
            results.append((name, product, numeric, lost, spread))
    # Too little precision would make the difference noise, which cannot agree with the product to
    # digits − 10 digits: the check can fail wrongly, never pass wrongly. A difference is a failure only where
    # the two central differences (the second with a smaller step and more digits) agree with each other.
    passed, notes = True, []
    for name, product, numeric, lost, spread in results:
        scale = max(abs(numeric), abs(product))
        diff = abs(numeric - product)
        ok = diff <= rtol * scale
        if not ok and spread > rtol:
            raise numeric_check_refused(act.name, seed, _UNSETTLED.format(f"∂C/∂{name}_{layer}", mpmath.nstr(spread, 2),
                                                                          digits - TOLERANCE_DIGITS))
        passed = passed and ok
        rel = mpmath.nstr(diff / scale, 2) if scale else "0"
        notes.append(f"∂C/∂{name}_{layer} = {mpmath.nstr(product, 10)} vs {mpmath.nstr(numeric, 10)} "
                     f"(relative difference {rel}; extra digits carried because ∂C ≪ C: {lost})")
    return Check("numeric", passed, False,
                 f"seed {seed}, w_j, b_j ~ N(0, 1): " + "; ".join(notes)
                 + f"; tolerance 1e-{digits - TOLERANCE_DIGITS}")


def _evaluate_product(factors, act, cst, zs, w, a_L, y, layer):
    """The value of the product of ``factors`` at the given z_j, w_j, a_L and y.

    Each factor is evaluated as it stands. To lambdify only once per kind of
    factor, its symbols are renamed to placeholders first (σ′(z_3) and σ′(z_7)
    become the same σ′(p_0)), and the compiled function is reused.
    """
    values = {chain_symbol("z", j): v for j, v in enumerate(zs, start=layer)}
    values |= {chain_symbol("w", j): v for j, v in enumerate(w[layer:], start=layer + 1)}
    values |= {chain_symbol("a", layer + len(zs) - 1): a_L, Y: y}
    compiled: dict = {}
    out = []
    for factor in factors:
        symbols = sorted(factor.free_symbols, key=str)
        template = factor
        for i, s in enumerate(symbols):
            template = rename(template, s, _PLACEHOLDERS[i])
        if template not in compiled:
            compiled[template] = guarded_mpmath(template, _PLACEHOLDERS[: len(symbols)])
        out.append(compiled[template](*[values[s] for s in symbols]))
    return mpmath.fprod(out)


_PLACEHOLDERS = sp.symbols("p_0:8", real=True)

#: Extra working digits of the second evaluation of the product form that tells rounding from the formula.
_STABILITY_DIGITS = 20


def _lost_digits(cost_value, product, digits: int) -> int:
    """Digits cancelled in C(x + h) − C(x − h) because |∂C| ≪ |C|: about log10(|C| / |∂C|).

    A product of 0 (a ReLU unit switched off) asks for ``digits`` more, so that
    the numeric derivative must be 0 to 10^-(2·digits) relative to C, not only to 10^-digits.
    """
    if product == 0 or cost_value == 0:
        return digits
    return max(0, int(mpmath.ceil(mpmath.log10(abs(cost_value) / abs(product)))))
