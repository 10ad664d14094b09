"""The chain's symbols and :class:`ChainDerivation`, what :func:`~gradmath.symbolic.chain.derive_chain` returns.

The chain is Nielsen's one neuron per layer, ``z_j = w_j a_{j−1} + b_j``, ``a_j = σ(z_j)``;
:func:`chain_symbol` gives its real symbols ``w_j``, ``b_j``, ``z_j``, ``a_j``, shared by
the derivation, its checks and the printing here. A :class:`ChainDerivation` holds
the product form, the direct derivatives, δ^L and the checks made, and prints itself
as LaTeX, Markdown and JSON.

Examples
--------
>>> chain_symbol("z", 3)
z_3
>>> expression_size(chain_symbol("w", 2) * chain_symbol("a", 1))
3
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, lru_cache

import sympy as sp

from gradmath.costs import A, Y
from gradmath.symbolic.checks import Check, checks_markdown

__all__ = ["ChainDerivation", "chain_symbol", "expression_size"]


@lru_cache(maxsize=None)
def chain_symbol(kind: str, j: int) -> sp.Symbol:
    """The real symbol ``w_j``, ``b_j``, ``z_j`` or ``a_j`` of the chain (``kind`` is the letter)."""
    return sp.Symbol(f"{kind}_{j}", real=True)



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
        return "\n".join(out + checks_markdown(self.checks, self.verified))

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
