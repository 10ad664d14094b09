"""The exact path: sup g over ℝ from SymPy's list of the critical points of every piece of g.

g (σ′ or −σ′) is split into pieces (``Abs``, ``Max``, ``Piecewise`` become
``Piecewise``); on each piece :func:`sympy.solveset` lists every zero of g′; the supremum
is the largest of g at those points, at the pieces' end points, and the limits at ±∞.
This is a proof only when ``solveset`` returns a finite set on every piece. A periodic
piece covering ℝ (``cos(x) + 1/10``) is searched over one period instead. Every SymPy
step runs under the search's :class:`~gradmath.gamma.budget.Budget`; when one fails or
runs out of time the caller takes the interval path.
"""

from __future__ import annotations

import mpmath
import sympy as sp

from gradmath.expressions import X
from gradmath.gamma.budget import Budget, OutOfTime

__all__ = ["NotExact", "exact_sup", "limit_at"]

_STEP_SECONDS = 2.0
_MAX_CRITICAL = 64
_DIGITS = 40


class NotExact(Exception):
    """SymPy's argument did not go through; the interval path takes over."""


def limit_at(g: sp.Expr, end: sp.Expr, budget: Budget):
    """lim g at ``end`` (±oo): a real number, ``sp.oo``, ``-sp.oo``, an AccumBounds, or None (unknown)."""
    if g.has(sp.Piecewise, sp.Abs, sp.Max, sp.Min, sp.sign, sp.Heaviside):
        try:  # the piece that holds near the end
            g = next(f for f, d in _pieces(g) if (d.sup if end > 0 else d.inf) == end)
        except (NotExact, StopIteration, ValueError, TypeError, NotImplementedError, AttributeError):
            pass  # SymPy cannot split g (a ConditionSet's sup, a periodic condition's set): take g's own limit
    try:
        with budget.sympy(_STEP_SECONDS):
            value = sp.limit(g, X, end)
    except (OutOfTime, NotImplementedError, ValueError, TypeError, ZeroDivisionError, RecursionError):
        return None
    if isinstance(value, sp.AccumBounds):
        return value
    if value.has(sp.AccumBounds, sp.Limit, sp.nan, sp.zoo):  # e.g. 2*AccumBounds(-1, 1)/sqrt(pi), unevaluated
        return None
    if value in (sp.oo, -sp.oo) or (value.is_real and value.is_finite and not value.has(sp.Limit)):
        return value
    return None


def _pieces(expr: sp.Expr) -> list[tuple[sp.Expr, sp.Set]]:
    """Split g into (formula, domain) pieces covering the real line once."""
    if expr.has(sp.Abs, sp.Max, sp.Min, sp.sign, sp.Heaviside):
        expr = expr.rewrite(sp.Piecewise)
    expr = sp.piecewise_fold(expr)
    if not isinstance(expr, sp.Piecewise):
        return [(expr, sp.S.Reals)]
    pieces, covered = [], sp.S.EmptySet
    for formula, cond in expr.args:
        domain = sp.S.Reals if cond is sp.true else cond.as_set().intersect(sp.S.Reals)
        domain = sp.Complement(domain, covered, evaluate=True)
        covered = sp.Union(covered, domain)
        if domain is not sp.S.EmptySet:
            if formula.has(sp.Piecewise, sp.Abs, sp.sign, sp.Heaviside, sp.DiracDelta):
                raise NotExact
            pieces.append((formula, domain))
    return pieces


def exact_sup(g: sp.Expr, limits: dict, budget: Budget) -> tuple[sp.Expr, str, bool]:
    """(sup g, where, attained), or :class:`NotExact`. ``limits`` maps ±oo to lim g there."""
    candidates: list[tuple[sp.Expr, str, bool]] = []  # (value, where, attained)
    try:
        for formula, domain in _pieces(g):
            candidates += _piece_candidates(formula, domain, limits, budget)
    except (OutOfTime, NotImplementedError, ValueError, TypeError, AttributeError, RecursionError):
        raise NotExact from None
    if not candidates:
        raise NotExact
    try:
        with budget.sympy(_STEP_SECONDS):
            numeric = _numeric(candidates)
    except OutOfTime:
        raise NotExact from None
    with mpmath.workdps(_DIGITS):
        best = max(n[0] for n in numeric)
        top = [n for n in numeric if abs(n[0] - best) <= mpmath.mpf(10) ** (-_DIGITS + 8) * abs(best)]
    attained = any(n[3] for n in top)
    where = next((n[2] for n in top if n[3]), top[0][2])
    value = top[0][1]
    try:
        with budget.sympy(_STEP_SECONDS):
            value = value if value.is_Rational else sp.simplify(value)
    except OutOfTime:
        pass
    return value, where, attained


def _numeric(candidates):
    """(value to 40 digits, value, where, attained) for each candidate; NotExact if one is not a real number."""
    numeric = []
    for value, where, attained in candidates:
        if value.has(sp.Limit, sp.nan, sp.zoo, sp.AccumBounds) or value.is_real is False:
            raise NotExact
        try:
            number = sp.N(value, _DIGITS)
        except (TypeError, ValueError):
            raise NotExact from None
        if not (number.is_Number and number.is_real):
            raise NotExact
        with mpmath.workdps(_DIGITS):
            numeric.append((mpmath.mpf(str(number)), value, where, attained))
    return numeric


def _piece_candidates(formula, domain, limits, budget):
    if isinstance(domain, sp.FiniteSet):
        return [(formula.subs(X, p), str(p), True) for p in domain]
    if X not in formula.free_symbols:
        return [(formula, _where(domain), True)]
    slope = sp.diff(formula, X)
    with budget.sympy(_STEP_SECONDS):
        critical = _solve(slope, domain)
    ends = _ends(domain)
    if not isinstance(critical, (sp.FiniteSet, type(sp.S.EmptySet))) and domain == sp.S.Reals:
        with budget.sympy(_STEP_SECONDS):
            period = sp.periodicity(formula, X)
        if period is None or not period.is_positive:
            raise NotExact
        domain = sp.Interval(0, period)
        with budget.sympy(_STEP_SECONDS):
            critical = _solve(slope, domain)
        ends = [sp.S.Zero]
    if critical is sp.S.EmptySet:
        critical = ()
    elif not isinstance(critical, sp.FiniteSet) or len(critical) > _MAX_CRITICAL:
        raise NotExact
    out = [(formula.subs(X, c), str(c), True) for c in critical]
    for end in ends:
        if end.is_infinite:
            value = limits.get(end)  # the piece is g itself near this end
            if value is None:
                value = limit_at(formula, end, budget)
            if value is None or isinstance(value, sp.AccumBounds) or value.is_infinite:
                raise NotExact
            out.append((value, str(end), False))
        else:
            out.append((formula.subs(X, end), str(end), bool(domain.contains(end))))
    return out


def _solve(slope, domain):
    try:
        return sp.solveset(slope, X, domain)
    except (NotImplementedError, ValueError, TypeError, RecursionError):
        raise NotExact from None


def _where(domain: sp.Set) -> str:
    """An interval as text: ``[0, oo)``."""
    if isinstance(domain, sp.Interval):
        left = "(" if domain.left_open or domain.inf.is_infinite else "["
        right = ")" if domain.right_open or domain.sup.is_infinite else "]"
        return f"{left}{domain.inf}, {domain.sup}{right}"
    return str(domain)


def _ends(domain: sp.Set) -> list[sp.Expr]:
    intervals = domain.args if isinstance(domain, sp.Union) else (domain,)
    ends = []
    for interval in intervals:
        if isinstance(interval, sp.Interval):
            ends += [interval.inf, interval.sup]
        elif interval is sp.S.Reals:
            ends += [sp.S.NegativeInfinity, sp.S.Infinity]
        else:
            raise NotExact
    return ends
