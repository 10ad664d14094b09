"""Nielsen's chain: one neuron per layer, and the gradient as a product (equations 121–122).

The network is ``z_j = w_j a_{j−1} + b_j``, ``a_j = σ(z_j)`` for ``j = 1 … L``, with a
cost ``C(a_L, y)``. :func:`derive_chain` derives ``∂C/∂b_l`` and ``∂C/∂w_l`` two ways
and checks them (proof: ``proofs/chain-product.md``):

* **product form** (Nielsen's (121)/(122)), built from the formula
  ``σ′(z_l) · ∏_{j>l} w_j σ′(z_j) · ∂C/∂a_L`` with σ′ and ∂C/∂a from the activation and cost;
* **direct derivative**, by backpropagation over the network's graph with the
  ``z_j`` and ``a_j`` kept as intermediate symbols: each node's local derivative
  is :func:`sympy.diff` of that node's own definition, and the chain rule
  multiplies them. Its size is linear in L and no step recurses over depth.

The checks (``ChainDerivation.checks``, made by :mod:`gradmath.symbolic.chain_checks`):

``chain_rule``
    exact, any depth: the direct derivative has the same factors as the product form.
``nested``
    exact, depth ≤ :data:`NESTED_MAX_DEPTH`: :func:`sympy.diff` of the fully nested
    expression ``C(σ(w_L σ(… σ(w_1 a_0 + b_1) …) + b_L))`` with σ and C arbitrary
    (undefined) functions equals the product form term for term, which proves the
    identity for every differentiable activation and cost at that depth.
``numeric``
    any depth: the product form evaluated at random parameters agrees with a
    central difference of the cost computed with mpmath at high precision
    (:mod:`gradmath.finite_difference`), which uses σ and C but no derivative.
``cancellation``
    exact, made where it holds: ``σ′(z_L) ∂C/∂a_L = a_L − y``, shown by
    :func:`sympy.cancel` (cross-entropy with a sigmoid output, where σ′ = σ(1 − σ)).

``verified`` is true only when every check made passed.

Examples
--------
>>> d = derive_chain(4, layer=1, activation="sigmoid", cost="quadratic")
>>> d
ChainDerivation(depth=4, layer=1, activation='sigmoid', cost='quadratic', factors=8, verified=True)
>>> [c.name for c in d.checks]
['chain_rule', 'nested', 'numeric']
>>> print(d.product_form_latex())
\\sigma'(z_{1}) \\, w_{2} \\sigma'(z_{2}) \\, w_{3} \\sigma'(z_{3}) \\, w_{4} \\sigma'(z_{4}) \\, \\frac{\\partial C}{\\partial a_{4}}
>>> derive_chain(3, activation="sigmoid", cost="cross-entropy").output_delta
-y + 1/(1 + exp(-z_3))

Deep chains stay cheap; only the nested check is left out beyond its depth:

>>> deep = derive_chain(200, layer=1, activation="tanh")
>>> [c.name for c in deep.checks], deep.verified
(['chain_rule', 'numeric'], True)
>>> derive_chain(3, layer=4)
Traceback (most recent call last):
...
gradmath.errors.InvalidParameterError: layer=4 must be an integer in [1, 3]
>>> derive_chain(10**4)
Traceback (most recent call last):
...
gradmath.errors.InvalidParameterError: depth=10000 must be an integer in [1, 2000]
"""

from __future__ import annotations

from collections.abc import Callable

import sympy as sp

from gradmath.activations import Activation, check_no_dirac_delta, get_activation, resolve_activation
from gradmath.costs import A, Y, Cost, get_cost
from gradmath.expressions import X
from gradmath.symbolic.chain_checks import check_chain_rule, check_nested, check_numeric
from gradmath.symbolic.chain_result import ChainDerivation, chain_symbol
from gradmath.symbolic.checks import DEFAULT_DIGITS, Check
from gradmath.symbolic.renaming import rename
from gradmath.validation import check_int

__all__ = ["Check", "ChainDerivation", "derive_chain", "chain_symbol", "NESTED_MAX_DEPTH", "DEFAULT_DIGITS",
           "MAX_DEPTH"]

#: Deepest chain :func:`derive_chain` accepts. The work grows faster than L (the numeric check
#: carries about 0.6 L more digits, since ∂C/∂b_1 shrinks like 4^−L beside C); measured on a busy
#: 2-core machine with the default 30 digits: L = 1000 in 2 s, 2000 in 4 s, 4000 in 21 s.
MAX_DEPTH = 2000

#: Deepest chain for which the fully nested expression is differentiated
#: (its derivative grows about as L², and ``sympy.diff`` recurses once per layer).
NESTED_MAX_DEPTH = 12


def derive_chain(depth: int, layer: int = 1, activation: str | Activation = "sigmoid",
                 cost: str | Cost = "quadratic", *, verify: bool = True, seed: int = 0,
                 digits: int = DEFAULT_DIGITS,
                 progress: Callable[[int, int], None] | None = None) -> ChainDerivation:
    """Derive ∂C/∂b_l and ∂C/∂w_l for the chain of ``depth`` neurons, and check them.

    The theorem and its proof: ``proofs/chain-product.md``; the checks are listed
    in this module's docstring.

    Parameters
    ----------
    depth : int
        1 ≤ L ≤ :data:`MAX_DEPTH`.
    layer : int
        l with 1 ≤ l ≤ L.
    activation : str or Activation
        A registered name, an expression in ``x`` such as ``"x/(1+abs(x))"``, or an :class:`Activation`.
    cost : str or Cost
        ``"quadratic"`` or ``"cross-entropy"``.
    verify : bool
        Make the checks (otherwise ``checks`` is empty and ``verified`` is false).
    seed : int
        Seed of the random parameters of the numeric check.
    digits : int
        Significant digits the numeric check asks for (it passes at ``digits − 10``).
    progress : callable, optional
        ``progress(done, 4)`` after the derivation and after each of the three checks
        (at depths of hundreds the numeric check takes most of the time).

    Returns
    -------
    ChainDerivation

    Raises
    ------
    InvalidParameterError
        ``depth`` outside [1, :data:`MAX_DEPTH`], ``layer`` outside [1, depth], bad ``digits`` or ``seed``.
    UnknownActivationError, UnknownNameError, ExpressionError
        An unknown activation or cost, or an activation string that is not an expression in x.
    """
    depth = check_int("depth", depth, min_value=1, max_value=MAX_DEPTH)
    layer = check_int("layer", layer, min_value=1, max_value=depth)
    seed = check_int("seed", seed, min_value=0)
    digits = check_int("digits", digits, min_value=15, max_value=1000)
    act = check_no_dirac_delta(activation if isinstance(activation, Activation) else (
        resolve_activation(activation) if isinstance(activation, str) else get_activation(activation)))
    cst = get_cost(cost)

    factors = _product_form(depth, layer, act, cst)
    d_bias, d_weight = _backpropagate(depth, layer, act, cst)
    output_delta, cancels = _output_delta(depth, act, cst)
    checks: list[Check] = []

    def report(done: int) -> None:
        if progress is not None:
            progress(done, 4)

    report(1)
    if verify:
        checks.append(check_chain_rule(depth, layer, factors, d_bias, d_weight))
        report(2)
        if depth <= NESTED_MAX_DEPTH:
            checks.append(check_nested(depth, layer))
        report(3)
        checks.append(check_numeric(depth, layer, act, cst, factors, seed=seed, digits=digits))
        if cancels:  # made only where the cancellation holds; otherwise there is nothing to show
            checks.append(Check("cancellation", True, True,
                                f"sympy.cancel(σ′(z_{depth}) ∂C/∂a_{depth} − (σ(z_{depth}) − y)) = 0"))
    report(4)
    return ChainDerivation(
        depth=depth, layer=layer, activation=act.name, cost=cst.name,
        activation_expression=act.expression, cost_expression=cst.expression,
        factors=factors, d_bias=d_bias, d_weight=d_weight,
        output_delta=output_delta, sigma_prime_cancels=cancels, checks=tuple(checks),
    )


def _product_form(depth: int, layer: int, act: Activation, cst: Cost) -> tuple[sp.Expr, ...]:
    """Nielsen's (121): σ′(z_l) · w_{l+1} σ′(z_{l+1}) · … · w_L σ′(z_L) · ∂C/∂a_L."""
    prime = act.derivative
    factors = [rename(prime, X, chain_symbol("z", layer))]
    for j in range(layer + 1, depth + 1):
        factors += [chain_symbol("w", j), rename(prime, X, chain_symbol("z", j))]
    factors.append(cst.derivative.xreplace({A: chain_symbol("a", depth)}))
    return tuple(factors)


def _backpropagate(depth: int, layer: int, act: Activation, cst: Cost) -> tuple[sp.Expr, sp.Expr]:
    """The direct derivative: the chain rule over the graph, local derivatives by sympy.diff.

    The graph's nodes are ``C(a_L)``, ``a_j = σ(z_j)`` and ``z_j = w_j a_{j−1} + b_j``.
    A node's local derivative is taken once in generic symbols and renamed per
    layer, so the work is linear in L. Factors equal to 1 (∂z_l/∂b_l) are left out.
    """
    u, wj, aj, bj = sp.symbols("u w a b", real=True)
    d_sigma = sp.diff(act.expression.xreplace({X: u}), u)          # ∂a_j/∂z_j
    z_node = wj * aj + bj
    d_z_d_a, d_z_d_b, d_z_d_w = (sp.diff(z_node, s) for s in (aj, bj, wj))
    a_L = chain_symbol("a", depth)
    grad = [sp.diff(cst.at(a_L), a_L)]                               # ∂C/∂a_L
    for j in range(depth, layer - 1, -1):
        grad.append(rename(d_sigma, u, chain_symbol("z", j)))
        if j > layer:
            names = {wj: chain_symbol("w", j), aj: chain_symbol("a", j - 1), bj: chain_symbol("b", j)}
            grad.append(d_z_d_a.xreplace(names))
    names = {wj: chain_symbol("w", layer), aj: chain_symbol("a", layer - 1), bj: chain_symbol("b", layer)}
    last_b, last_w = d_z_d_b.xreplace(names), d_z_d_w.xreplace(names)
    d_bias = sp.Mul(*grad, *([last_b] if last_b != 1 else []), evaluate=False)
    d_weight = sp.Mul(*grad, last_w, evaluate=False)
    return d_bias, d_weight


def _output_delta(depth: int, act: Activation, cst: Cost) -> tuple[sp.Expr, bool]:
    """δ^L = σ′(z_L) ∂C/∂a_L, and whether it reduces exactly to σ(z_L) − y."""
    z_L = chain_symbol("z", depth)
    sigma = act.expression.xreplace({X: z_L})
    delta = act.derivative.xreplace({X: z_L}) * cst.derivative.xreplace({A: sigma})
    if cst.name != "cross-entropy":
        return delta, False
    difference = delta - (sigma - Y)
    # A cheap look at one point first: where the difference is visibly not 0 there is no cancellation to prove.
    probe = difference.evalf(20, subs={z_L: sp.Rational(3, 7), Y: sp.Rational(2, 7)})
    if probe.is_Number and abs(probe) > 1e-12:
        return delta, False
    if sp.cancel(difference) == 0:
        return sigma - Y, True
    return delta, False

