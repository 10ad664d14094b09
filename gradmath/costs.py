"""Costs of one output, each one SymPy expression in the activation ``a`` and the target ``y``.

* quadratic: ``C = ½ (a − y)²``, so ``∂C/∂a = a − y``;
* cross-entropy: ``C = −(y ln a + (1 − y) ln(1 − a))``, defined for ``0 < a < 1``,
  so ``∂C/∂a = (a − y) / (a (1 − a))``, whose denominator is the sigmoid's
  ``σ′(z) = σ(z)(1 − σ(z))``: with a sigmoid output the σ′(z_L) factor cancels.

For a layer of outputs the cost is the sum over them (``½‖a − y‖²`` for quadratic).

Examples
--------
>>> cost = get_cost("cross-entropy")
>>> cost.derivative
(1 - y)/(1 - a) - y/a
>>> get_cost("quadratic").derivative
a - y
>>> get_cost("entropy")
Traceback (most recent call last):
...
gradmath.errors.UnknownNameError: cost='entropy' is not one of 'quadratic', 'cross-entropy' (did you mean 'cross-entropy'?)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

import sympy as sp

from gradmath.expressions import summarise
from gradmath.validation import check_choice

__all__ = ["A", "Y", "Cost", "COST_NAMES", "get_cost"]

#: The output activation a cost is written in.
A = sp.Symbol("a", real=True)
#: The target value.
Y = sp.Symbol("y", real=True)


@dataclass(frozen=True)
class Cost:
    """A cost ``C(a, y)`` of one output, as a SymPy expression in :data:`A` and :data:`Y`.

    Attributes
    ----------
    name : str
    expression : sympy.Expr
    description : str
    """

    name: str
    expression: sp.Expr
    description: str = ""

    @cached_property
    def derivative(self) -> sp.Expr:
        """``∂C/∂a`` by :func:`sympy.diff`."""
        return sp.diff(self.expression, A)

    @cached_property
    def evaluate_mp(self) -> Callable:
        """``C(a, y)`` as an mpmath function (at the caller's working precision)."""
        return sp.lambdify((A, Y), self.expression, modules="mpmath")

    def at(self, activation: sp.Expr, target: sp.Expr = Y) -> sp.Expr:
        """The cost with ``a`` and ``y`` replaced (e.g. by ``a_L`` and ``y``)."""
        return self.expression.xreplace({A: activation, Y: target})

    def to_json(self) -> dict:
        """A JSON-ready summary: name, expression and derivative (LaTeX and plain)."""
        return summarise(self.name, self.expression, self.derivative)

    def _repr_latex_(self) -> str:
        return f"$C(a, y) = {sp.latex(self.expression)}$"


_COSTS = {
    "quadratic": Cost("quadratic", (A - Y) ** 2 / 2, "quadratic ½(a − y)²"),
    "cross-entropy": Cost("cross-entropy", -(Y * sp.log(A) + (1 - Y) * sp.log(1 - A)),
                          "cross-entropy −(y ln a + (1 − y) ln(1 − a))"),
}

#: The names :func:`get_cost` accepts.
COST_NAMES: tuple[str, ...] = tuple(_COSTS)


def get_cost(name: str | Cost) -> Cost:
    """Return the cost called ``name`` (``"quadratic"`` or ``"cross-entropy"``); a :class:`Cost` passes through."""
    if isinstance(name, Cost):
        return name
    return _COSTS[check_choice("cost", name, COST_NAMES)]
