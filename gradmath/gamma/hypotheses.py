"""The hypotheses of γ: σ is defined and differentiable on all of ℝ, checked node by node.

Walking the expression tree of σ and then of σ′, every node must be defined for every
real x:

* ``log(u)`` needs u > 0 and ``u**p`` with p not an integer needs u ≥ 0 (u > 0 when
  p < 0 or p depends on x), decided by SymPy's assumptions on the real symbol x;
* ``u**(-n)`` (a division) needs u ≠ 0;
* ``tan(u)`` with u depending on x is refused (it is undefined where cos u = 0);
* ``sign`` and ``Heaviside`` in σ are refused: σ jumps, its derivative there is a Dirac
  delta, and no finite γ bounds it (write ``max(0, x)`` or ``abs(x)`` instead);
* ``exp, sin, cos, tanh, sinh, cosh, atan, asinh, erf, erfc, Abs, Max, Min`` and
  ``Piecewise`` (the built-in ReLU) are defined everywhere (a ``Piecewise`` can come only
  from a SymPy expression passed to the API, never from a string; its continuity at the
  piece boundaries is the caller's responsibility, not checked here); ``Abs``, ``Max``, ``Min`` and
  ``Piecewise`` make σ′ jump at finitely many points, where σ′ takes the value of the
  piece that contains the point (the one-sided values are both counted in γ).

A node whose sign SymPy cannot decide is refused too, so a removable singularity such as
``sin(x)/x`` is refused (at x = 0) rather than guessed. The check on σ′ catches points
where σ is defined but not differentiable (``sqrt(abs(x))`` at 0).

>>> from gradmath.expressions import parse_expression as p
>>> check_defined_on_reals(p("log(1+exp(x))"))
>>> check_defined_on_reals(p("sqrt(x)"))
Traceback (most recent call last):
...
gradmath.errors.ExpressionError: σ is not defined on all of ℝ (sqrt(x) for x < 0)
"""

from __future__ import annotations

import sympy as sp
from sympy.functions.elementary.piecewise import ExprCondPair

from gradmath.errors import ExpressionError
from gradmath.expressions import X

__all__ = ["check_defined_on_reals"]

_ENTIRE = (sp.exp, sp.sin, sp.cos, sp.tanh, sp.sinh, sp.cosh, sp.atan, sp.asinh, sp.erf, sp.erfc,
           sp.Abs, sp.Max, sp.Min, sp.Piecewise)
_MAX_DEGREE = 12  # polynomial arguments up to this degree get their bad set named


def check_defined_on_reals(expr: sp.Expr, what: str = "σ") -> None:
    """Raise :class:`ExpressionError` naming the first node of ``expr`` not defined on all of ℝ.

    ``what`` is ``"σ"`` or ``"σ′"``; for σ′ the message says σ is not differentiable there.
    """
    verb = "defined" if what == "σ" else "differentiable"
    for node in sp.preorder_traversal(expr):
        if not isinstance(node, sp.Basic) or X not in node.free_symbols:
            continue
        problem = _problem(node, what)
        if problem:
            raise ExpressionError(f"σ is not {verb} on all of ℝ ({problem})")


def _problem(node: sp.Basic, what: str) -> str | None:
    if isinstance(node, (sp.Symbol, sp.Add, sp.Mul, sp.Number, ExprCondPair)) or node.is_Relational \
            or node.is_Boolean:
        return None
    if isinstance(node, sp.log):
        (u,) = node.args
        return None if u.is_positive else f"{_show(node)} for {_bad(u, '<= 0')}"
    if isinstance(node, sp.Pow):
        base, exponent = node.args
        if exponent.is_Integer:
            if exponent >= 0 or base.is_zero is False:
                return None
            return f"{_show(node)} for {_bad(base, '= 0')}"
        if X in exponent.free_symbols or exponent.is_negative:
            return None if base.is_positive else f"{_show(node)} for {_bad(base, '<= 0')}"
        if base.is_nonnegative:
            return None
        return f"{_show(node)} for {_bad(base, '< 0')}"
    if isinstance(node, (sp.sign, sp.Heaviside)) and what == "σ":
        (u, *_) = node.args
        return (f"{_show(node)} jumps where {_bad(u, '= 0', bare=True)}, so σ′ there is a Dirac delta and no "
                "finite γ bounds it; use a continuous form such as max(0, x) or abs(x)")
    if isinstance(node, (sp.sign, sp.Heaviside, sp.DiracDelta)):
        return None  # in σ′ only: a jump of σ′, handled by the pieces
    if isinstance(node, sp.tan):
        return f"{_show(node)} is undefined where cos({node.args[0]}) = 0"
    if isinstance(node, _ENTIRE):
        return None
    return f"gradmath cannot check that {type(node).__name__} is defined everywhere"


def _show(node: sp.Basic) -> str:
    text = str(node)
    return text if len(text) <= 60 else text[:57] + "..."


def _bad(u: sp.Expr, relation: str, bare: bool = False) -> str:
    """Where ``u relation`` holds, named exactly for a polynomial u of small degree."""
    try:
        poly = sp.Poly(u, X)
    except sp.PolynomialError:
        poly = None
    if poly is not None and poly.degree() <= _MAX_DEGREE:
        op = {"<= 0": sp.Le, "< 0": sp.Lt, "= 0": sp.Eq}[relation]
        where = sp.solveset(op(u, 0), X, sp.S.Reals)
        if isinstance(where, sp.FiniteSet) and len(where) == 1:
            return f"x = {next(iter(where))}"
        if where == sp.Interval(-sp.oo, 0, True, True):
            return "x < 0"
        if where == sp.Interval(-sp.oo, 0, True, False):
            return "x <= 0"
        return f"x in {where}"
    return f"x where {u} {relation}" if not bare else f"{u} {relation}"
