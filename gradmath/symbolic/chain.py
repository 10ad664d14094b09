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

The checks (``ChainDerivation.checks``):

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
    (:mod:`gradmath.numeric.finite_difference`), which uses σ and C but no derivative.
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
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from functools import cached_property, lru_cache

import mpmath
import numpy as np
import sympy as sp

from gradmath.activations import Activation, get_activation, resolve_activation
from gradmath.costs import A, Y, Cost, get_cost
from gradmath.expressions import X
from gradmath.numeric.finite_difference import central_difference
from gradmath.validation import check_int

__all__ = ["Check", "ChainDerivation", "derive_chain", "chain_symbol", "NESTED_MAX_DEPTH", "DEFAULT_DIGITS"]

#: Deepest chain for which the fully nested expression is differentiated
#: (its derivative grows about as L², and ``sympy.diff`` recurses once per layer).
NESTED_MAX_DEPTH = 12
#: Significant digits the numeric check asks for.
DEFAULT_DIGITS = 30
#: The numeric check passes when the relative difference is below 10^-(digits - TOLERANCE_DIGITS).
TOLERANCE_DIGITS = 10


@lru_cache(maxsize=None)
def chain_symbol(kind: str, j: int) -> sp.Symbol:
    """The real symbol ``w_j``, ``b_j``, ``z_j`` or ``a_j`` of the chain (``kind`` is the letter)."""
    return sp.Symbol(f"{kind}_{j}", real=True)


# ----- result objects --------------------------------------------------------
@dataclass(frozen=True)
class Check:
    """One check made on a derivation: its name, whether it passed, whether it is exact, and what it compared."""

    name: str
    passed: bool
    exact: bool
    detail: str

    def to_json(self) -> dict:
        return {"name": self.name, "passed": self.passed, "exact": self.exact, "detail": self.detail}


@dataclass(frozen=True, repr=False)
class ChainDerivation:
    """∂C/∂b_l and ∂C/∂w_l of the one-neuron-per-layer chain, with the checks made.

    Attributes
    ----------
    depth, layer : int
        L and l.
    activation, cost : str
        Names (an activation given as an expression string keeps that string).
    activation_expression : sympy.Expr
        σ(x).
    cost_expression : sympy.Expr
        C(a_L, y).
    factors : tuple of sympy.Expr
        The product form of ∂C/∂b_l in Nielsen's order:
        ``σ′(z_l), w_{l+1}, σ′(z_{l+1}), …, w_L, σ′(z_L), ∂C/∂a_L``.
    d_bias, d_weight : sympy.Expr
        The direct derivatives (unevaluated products, linear in L).
    output_delta : sympy.Expr
        δ^L = ∂C/∂z_L; ``a_L − y`` written through z_L when σ′(z_L) cancels.
    sigma_prime_cancels : bool
    checks : tuple of Check
    """

    depth: int
    layer: int
    activation: str
    cost: str
    activation_expression: sp.Expr
    cost_expression: sp.Expr
    factors: tuple[sp.Expr, ...]
    d_bias: sp.Expr
    d_weight: sp.Expr
    output_delta: sp.Expr
    sigma_prime_cancels: bool
    checks: tuple[Check, ...]

    @property
    def verified(self) -> bool:
        """True only when checks were made and every one passed."""
        return bool(self.checks) and all(c.passed for c in self.checks)

    @property
    def product(self) -> sp.Expr:
        """The product form as one (unevaluated) SymPy product."""
        return sp.Mul(*self.factors, evaluate=False)

    @property
    def size(self) -> int:
        """Number of nodes in the expression tree of ``d_bias`` (grows linearly with L)."""
        return expression_size(self.d_bias)

    # ----- printing ---------------------------------------------------------
    def product_form_latex(self, *, weight: bool = False) -> str:
        """Nielsen's product with σ′ left abstract, e.g. ``σ′(z_1) w_2 σ′(z_2) ∂C/∂a_2``."""
        l, L = self.layer, self.depth
        parts = [rf"\sigma'(z_{{{l}}})"] + [rf"w_{{{j}}} \sigma'(z_{{{j}}})" for j in range(l + 1, L + 1)]
        parts.append(rf"\frac{{\partial C}}{{\partial a_{{{L}}}}}")
        if weight:
            parts.insert(0, sp.latex(chain_symbol("a", l - 1)))
        return r" \, ".join(parts)

    def reduced_form_latex(self) -> str | None:
        """Where σ′(z_L) cancels, the product with σ′(z_L) ∂C/∂a_L written a_L − y; else None."""
        if not self.sigma_prime_cancels:
            return None
        l, L = self.layer, self.depth
        parts = [rf"\sigma'(z_{{{j}}}) \, w_{{{j + 1}}}" for j in range(l, L)]
        return r" \, ".join(parts + [rf"\left(a_{{{L}}} - y\right)"])

    def derivative_latex(self, *, weight: bool = False) -> str:
        """The direct derivative written out, factor by factor, in the order of the chain."""
        expr = self.d_weight if weight else self.d_bias
        return r" \cdot ".join(self._factor_latex[f] for f in reversed(sp.Mul.make_args(expr)))

    @cached_property
    def _factor_latex(self) -> dict:
        # Printed once per distinct factor: the two derivatives share all but one.
        factors = set(sp.Mul.make_args(self.d_bias)) | set(sp.Mul.make_args(self.d_weight))
        return {f: rf"\left({sp.latex(f)}\right)" if f.is_Add else sp.latex(f) for f in factors}

    def _where_latex(self) -> str:
        L = self.depth
        sigma = sp.latex(self.activation_expression)
        cost = sp.latex(self.cost_expression.xreplace({A: chain_symbol("a", L)}))
        return (rf"z_j = w_j a_{{j-1}} + b_j,\quad a_j = \sigma(z_j),\quad \sigma(x) = {sigma},"
                rf"\quad C = {cost}")

    def to_latex(self) -> str:
        """A LaTeX ``aligned`` block: the product form, the explicit derivative, the weight and δ^L."""
        l, L = self.layer, self.depth
        lines = [
            rf"\frac{{\partial C}}{{\partial b_{{{l}}}}} &= {self.product_form_latex()} \\",
            rf"&= {self.derivative_latex()} \\",
            rf"\frac{{\partial C}}{{\partial w_{{{l}}}}} &= a_{{{l - 1}}} \frac{{\partial C}}{{\partial b_{{{l}}}}} \\",
            rf"\delta^{{{L}}} = \sigma'(z_{{{L}}}) \frac{{\partial C}}{{\partial a_{{{L}}}}} &= {self._delta_latex()}",
        ]
        return "\\begin{aligned}\n" + "\n".join(lines) + "\n\\end{aligned}"

    def _delta_latex(self) -> str:
        if not self.sigma_prime_cancels:
            return sp.latex(self.output_delta)
        # The last two factors are σ′(z_L) and ∂C/∂a_L; with a_L = σ(z_L) their product is a_L − y.
        sigma_p, d_cost = self.factors[-2:]
        return (rf"{sp.latex(sigma_p)} \left({sp.latex(d_cost)}\right) = "
                rf"{sp.latex(chain_symbol('a', self.depth) - Y)}")

    def to_markdown(self) -> str:
        """A Markdown section: the derivation in display maths, then the checks as a table."""
        l, L = self.layer, self.depth
        out = [
            f"### ∂C/∂b_{l} and ∂C/∂w_{l}, depth {L}, {self.activation}, {self.cost} cost",
            "",
            f"$$\n{self.to_latex()}\n$$",
            "",
            f"where ${self._where_latex()}$.",
            "",
        ]
        if self.sigma_prime_cancels:
            out += [f"The σ′(z_{L}) factor cancels: δ^{L} = a_{L} − y, so "
                    f"$\\frac{{\\partial C}}{{\\partial b_{{{l}}}}} = {self.reduced_form_latex()}$.", ""]
        out += ["| check | exact | passed | what was compared |", "|---|---|---|---|"]
        out += [f"| {c.name} | {'yes' if c.exact else 'no'} | {'yes' if c.passed else 'NO'} | {c.detail} |"
                for c in self.checks]
        out += ["", f"Verified: {'yes' if self.verified else 'NO'}."]
        return "\n".join(out)

    def to_json(self) -> dict:
        """A JSON-ready dict; ``derivative`` and ``product_form`` are LaTeX strings."""
        return {
            "depth": self.depth,
            "layer": self.layer,
            "activation": self.activation,
            "cost": self.cost,
            "derivative": self.derivative_latex(),
            "product_form": self.product_form_latex(),
            "derivative_weight": self.derivative_latex(weight=True),
            "product_form_weight": self.product_form_latex(weight=True),
            "output_delta": sp.latex(self.output_delta),
            "sigma_prime_cancels": self.sigma_prime_cancels,
            "reduced_form": self.reduced_form_latex(),
            "where": self._where_latex(),
            "size": self.size,
            "verified": self.verified,
            "checks": [c.to_json() for c in self.checks],
        }

    def _repr_latex_(self) -> str:
        return f"$${self.to_latex()}$$"

    def __repr__(self) -> str:
        return (f"ChainDerivation(depth={self.depth}, layer={self.layer}, activation={self.activation!r}, "
                f"cost={self.cost!r}, factors={len(self.factors)}, verified={self.verified})")


def expression_size(expr: sp.Basic) -> int:
    """Number of nodes of an expression tree, counted without recursion."""
    count, stack = 0, [expr]
    while stack:
        node = stack.pop()
        count += 1
        stack.extend(node.args)
    return count


def rename(expr: sp.Basic, old: sp.Symbol, new: sp.Symbol) -> sp.Basic:
    """``expr`` with the symbol ``old`` written ``new``, rebuilt without re-evaluation.

    Renaming one symbol is always a valid substitution, so nothing needs to be
    evaluated again; this is many times faster than :meth:`~sympy.Basic.xreplace`
    on the small templates σ′(x) it is used for (it recurses over the template's
    depth, not the chain's).

    >>> x, z = sp.symbols("x z_7")
    >>> rename(sp.exp(-x) / (1 + sp.exp(-x)) ** 2, x, z)
    exp(-z_7)/(1 + exp(-z_7))**2
    """
    return _renamer(expr, old)(new)


@lru_cache(maxsize=256)
def _renamer(template: sp.Basic, old: sp.Symbol):
    """A function ``new -> template with old renamed new``, walking the template once."""
    if template == old:
        return lambda new: new
    if not template.args or old not in template.free_symbols:
        return lambda new: template
    parts = [_renamer(a, old) for a in template.args]
    func = template.func
    try:
        func(*template.args, evaluate=False)
        flag = {"evaluate": False}
    except TypeError:  # classes without an evaluate flag (ExprCondPair, Tuple)
        flag = {}
    return lambda new: func(*[p(new) for p in parts], **flag)


# ----- the derivation ----------------------------------------------------------
def derive_chain(depth: int, layer: int = 1, activation: str | Activation = "sigmoid",
                 cost: str | Cost = "quadratic", *, verify: bool = True, seed: int = 0,
                 digits: int = DEFAULT_DIGITS) -> ChainDerivation:
    """Derive ∂C/∂b_l and ∂C/∂w_l for the chain of ``depth`` neurons, and check them.

    The theorem and its proof: ``proofs/chain-product.md``; the checks are listed
    in this module's docstring.

    Parameters
    ----------
    depth : int
        L ≥ 1.
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

    Returns
    -------
    ChainDerivation

    Raises
    ------
    InvalidParameterError
        ``depth`` < 1, ``layer`` outside [1, depth], bad ``digits`` or ``seed``.
    UnknownActivationError, UnknownNameError, ExpressionError
        An unknown activation or cost, or an activation string that is not an expression in x.
    """
    depth = check_int("depth", depth, min_value=1)
    layer = check_int("layer", layer, min_value=1, max_value=depth)
    seed = check_int("seed", seed, min_value=0)
    digits = check_int("digits", digits, min_value=15, max_value=1000)
    act = activation if isinstance(activation, Activation) else (
        resolve_activation(activation) if isinstance(activation, str) else get_activation(activation))
    cst = get_cost(cost)

    factors = _product_form(depth, layer, act, cst)
    d_bias, d_weight = _backpropagate(depth, layer, act, cst)
    output_delta, cancels = _output_delta(depth, act, cst)
    checks: list[Check] = []
    if verify:
        checks.append(_check_chain_rule(depth, layer, factors, d_bias, d_weight))
        if depth <= NESTED_MAX_DEPTH:
            checks.append(_check_nested(depth, layer))
        checks.append(_check_numeric(depth, layer, act, cst, factors, seed=seed, digits=digits))
        if cancels:  # made only where the cancellation holds; otherwise there is nothing to show
            checks.append(Check("cancellation", True, True,
                                f"sympy.cancel(σ′(z_{depth}) ∂C/∂a_{depth} − (σ(z_{depth}) − y)) = 0"))
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


# ----- the checks --------------------------------------------------------------
def _check_chain_rule(depth, layer, factors, d_bias, d_weight) -> Check:
    product = Counter(factors)
    same_b = Counter(sp.Mul.make_args(d_bias)) == product
    same_w = Counter(sp.Mul.make_args(d_weight)) == product + Counter([chain_symbol("a", layer - 1)])
    return Check("chain_rule", same_b and same_w, True,
                 f"backpropagation over z_j, a_j gives the product form's {len(factors)} factors "
                 f"for ∂C/∂b_{layer} (and a_{layer - 1} times them for ∂C/∂w_{layer})")


def _check_nested(depth: int, layer: int) -> Check:
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
        direct = _name_derivatives(sp.diff(nested, param), {sigma: sigma_p, cost: cost_p})
        factors = [first, sigma_p(zs[layer])]
        for j in range(layer + 1, depth + 1):
            factors += [chain_symbol("w", j), sigma_p(zs[j])]
        factors.append(cost_p(a))
        ok = ok and direct == sp.Mul(*factors)
    return Check("nested", ok, True,
                 f"sympy.diff of the nested C(σ(w_{depth} σ(…) + b_{depth})) with σ, C undefined functions "
                 "equals the product form term for term (so for every σ and C)")


def _name_derivatives(expr: sp.Expr, primes: dict) -> sp.Expr:
    """Write SymPy's ``Subs(Derivative(f(ξ), ξ), ξ, u)`` and ``Derivative(f(u), u)`` as ``f′(u)``."""
    mapping = {}
    for node in expr.atoms(sp.Subs):
        inner = node.expr
        if isinstance(inner, sp.Derivative) and inner.expr.func in primes and len(inner.variables) == 1:
            mapping[node] = primes[inner.expr.func](*node.point)
    for node in expr.atoms(sp.Derivative):
        f = node.expr
        if f.func in primes and len(node.variables) == 1 and f.args == node.variables:
            mapping[node] = primes[f.func](*f.args)
    return expr.xreplace(mapping)


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
        a = act.sigma_mp(z)
        zs.append(z)
        acts.append(a)
    return zs, acts


def _check_numeric(depth, layer, act, cst, factors, *, seed, digits) -> Check:
    """The product form at random parameters against a central difference of the cost (mpmath)."""
    a0, w, b, y = _random_parameters(depth, act, cst, seed)
    dps = digits + 10 + math.ceil(math.log10(depth + 1))
    with mpmath.workdps(dps):
        w = [mpmath.mpf(v) for v in w]
        b = [mpmath.mpf(v) for v in b]
        a0, y = mpmath.mpf(a0), mpmath.mpf(y)
        _, acts_before = _forward(act, a0, w[: layer - 1], b[: layer - 1])
        a_prev = acts_before[-1] if acts_before else a0            # a_{l−1}
        zs, acts = _forward(act, a_prev, w, b, start=layer - 1)
        cost_value = cst.evaluate_mp(acts[-1], y)
        try:
            product_b = _evaluate_product(factors, act, cst, zs, w, acts[-1], y, layer)
        except KeyError as err:
            return Check("numeric", False, False, f"the product form has a symbol the chain does not define: {err}")
        product_w = product_b * a_prev

        def cost_of(w_l, b_l):
            _, out = _forward(act, a_prev, [w_l] + w[layer:], [b_l] + b[layer:])
            return cst.evaluate_mp(out[-1], y)

        w_l, b_l = w[layer - 1], b[layer - 1]
        results = []
        for name, product, f, x in (("b", product_b, lambda t: cost_of(w_l, t), b_l),
                                    ("w", product_w, lambda t: cost_of(t, b_l), w_l)):
            lost = math.ceil(math.log10(depth + 1)) + _lost_digits(cost_value, product, digits)
            numeric = central_difference(f, x, digits=digits, lost_digits=lost)
            results.append((name, product, numeric, lost))
    # Too little precision would make the difference noise, which cannot agree with
    # the product to digits − 10 digits: the check can fail wrongly, never pass wrongly.
    rtol = mpmath.mpf(10) ** -(digits - TOLERANCE_DIGITS)
    passed, notes = True, []
    for name, product, numeric, lost in results:
        scale = max(abs(numeric), abs(product))
        diff = abs(numeric - product)
        ok = diff <= rtol * scale
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
            compiled[template] = sp.lambdify(_PLACEHOLDERS[: len(symbols)], template, modules="mpmath")
        out.append(compiled[template](*[values[s] for s in symbols]))
    return mpmath.fprod(out)


_PLACEHOLDERS = sp.symbols("p_0:8", real=True)


def _lost_digits(cost_value, product, digits: int) -> int:
    """Digits cancelled in C(x + h) − C(x − h) because |∂C| ≪ |C|: about log10(|C| / |∂C|).

    A product of 0 (a ReLU unit switched off) asks for ``digits`` more, so that
    the numeric derivative must be 0 to 10^-(2·digits) relative to C, not only to 10^-digits.
    """
    if product == 0 or cost_value == 0:
        return digits
    return max(0, int(mpmath.ceil(mpmath.log10(abs(cost_value) / abs(product)))))
