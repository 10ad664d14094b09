"""A proof that σ′ is unbounded, along a real sequence on which its oscillation is pinned.

SymPy finds no limit of σ′ at ±∞ when σ′ oscillates with growing amplitude, as
σ′ = eˣ·e^(eˣ)·cos(e^(eˣ)) of sin(e^(eˣ)) does. If u(x) is the argument of a sine or cosine
in σ′, the points x_n with u(x_n) = ±2πn + φ (φ ∈ {0, π/2, π, 3π/2}, n = 1, 2, …) put
every sine and cosine of u at a fixed value, and σ′(x_n) is often a plain function of n:
2πn·log(2πn) in the example. Then:

    x_n real for every n ≥ 1, and lim σ′(x_n) = +∞ (n → ∞)  ⇒  sup σ′ = +∞

(−∞ gives inf σ′ = −∞), wherever x_n goes. Each step is SymPy's: ``solve`` for x_n, the
assumption query that x_n is real for every positive integer n, the substitution (which
evaluates sin and cos at ±2πn + φ exactly), and ``limit`` in n of an expression that no longer
oscillates in n (one that still holds a sine, a sign, a Piecewise… of n is not used).
Every SymPy step runs under the search's budget; failing any of them proves nothing.

>>> from gradmath.expressions import parse_expression as p
>>> from gradmath.gamma.budget import Budget
>>> found = unbounded_along(p("exp(x)*cos(exp(x))"), Budget(5.0))   # σ′ of sin(eˣ)
>>> found[1].x_n, found[1].value, found[1].end
(log(2*pi*n), 2*pi*n, oo)
>>> unbounded_along(p("cos(x)"), Budget(5.0))
{}
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from gradmath.expressions import X
from gradmath.gamma.budget import Budget, OutOfTime

__all__ = ["Divergence", "unbounded_along", "N"]

#: The index of the sequence: a positive integer.
N = sp.Symbol("n", integer=True, positive=True)
_N_REAL = sp.Symbol("n", positive=True)   # the same index as a real variable, for sympy.limit
_T = sp.Symbol("t", real=True)
_STEP_SECONDS = 1.0
_MAX_ARGUMENTS = 3        # sine and cosine arguments tried as u, fewest operations first
_PHASES = (0, sp.pi / 2, sp.pi, 3 * sp.pi / 2)
#: What still oscillates (or jumps) in n after the substitution: sympy.limit is not trusted on it.
_OSCILLATING = (sp.sin, sp.cos, sp.tan, sp.cot, sp.sec, sp.csc, sp.sign, sp.Heaviside, sp.Piecewise,
                sp.floor, sp.ceiling, sp.frac, sp.Mod, sp.AccumBounds)
_ERRORS = (OutOfTime, NotImplementedError, ValueError, TypeError, ZeroDivisionError, AttributeError,
           RecursionError)


@dataclass(frozen=True)
class Divergence:
    """σ′(x_n) → ±∞ along the real sequence ``x_n`` (in :data:`N`), which goes to ``end``."""

    x_n: sp.Expr
    value: sp.Expr        # σ′(x_n), with no sine or cosine of n left
    limit: sp.Expr        # sp.oo or -sp.oo
    end: sp.Expr | None   # lim x_n (±oo or a number), None when SymPy cannot tell

    def describe(self) -> str:
        """One line, e.g. ``σ′(x_n) → ∞ along x_n = log(2*pi*n), n = 1, 2, …``."""
        arrow = "∞" if self.limit == sp.oo else "−∞"
        return f"σ′(x_n) = {self.value} → {arrow} along x_n = {self.x_n}, n = 1, 2, …"


def unbounded_along(g: sp.Expr, budget: Budget) -> dict[int, Divergence]:
    """Proofs that g is unbounded: ``{+1: …}`` for sup g = ∞, ``{-1: …}`` for inf g = −∞ (either may be absent)."""
    found: dict[int, Divergence] = {}
    arguments = sorted({f.args[0] for f in g.atoms(sp.sin, sp.cos) if f.args[0].has(X)}, key=sp.count_ops)
    for u in arguments[:_MAX_ARGUMENTS]:
        try:
            with budget.sympy(_STEP_SECONDS):
                solutions = sp.solve(sp.Eq(u, _T), X)
        except _ERRORS:
            continue
        for solution in solutions:
            for direction in (1, -1):
                for phase in _PHASES:
                    if len(found) == 2:
                        return found
                    step = _along(g, solution.subs(_T, direction * 2 * sp.pi * N + phase), budget)
                    if step is not None:
                        found.setdefault(1 if step.limit == sp.oo else -1, step)
    return found


def _along(g: sp.Expr, x_n: sp.Expr, budget: Budget) -> Divergence | None:
    try:
        with budget.sympy(_STEP_SECONDS):
            if x_n.is_real is not True:   # for every positive integer n
                return None
            value = g.subs(X, x_n)
        as_real = value.subs(N, _N_REAL)
        if as_real.has(sp.I, sp.nan, sp.zoo) or any(_N_REAL in f.free_symbols for f in as_real.atoms(*_OSCILLATING)):
            return None
        if any(p.base.is_negative and p.exp.has(_N_REAL) for p in as_real.atoms(sp.Pow)):
            return None   # (−1)ⁿ and the like
        with budget.sympy(_STEP_SECONDS):
            limit = sp.limit(as_real, _N_REAL, sp.oo)
    except _ERRORS:
        return None
    if limit not in (sp.oo, -sp.oo):
        return None
    return Divergence(x_n, value, limit, _end(x_n, budget))


def _end(x_n: sp.Expr, budget: Budget) -> sp.Expr | None:
    try:
        with budget.sympy(_STEP_SECONDS):
            end = sp.limit(x_n.subs(N, _N_REAL), _N_REAL, sp.oo)
    except _ERRORS:
        return None
    return end if end.is_extended_real and not end.has(sp.AccumBounds, sp.Limit) else None
