"""The boundary of {z : |σ′(z)| ≥ 1/|w|} in closed form, accepted only where it checks out.

The window of Nielsen's problem (``proofs/window.md``, part 2) is this level set
of |σ′| mapped back to the input a by a = (z − b)/w. Its boundary solves
|σ′(z)| = 1/|w|, that is σ′(z) = 1/|w| or σ′(z) = −1/|w|: both equations are
given to :func:`sympy.solve` on every piece of σ′, for σ′ as differentiated and
as simplified (the simplified form is often the one SymPy can invert:
x/√(1 + x²) has σ′ = (1 + x²)^(−3/2), whose level set ends at ±√(|w|^(2/3) − 1)).
Each SymPy call runs under a time limit (:data:`SOLVE_SECONDS`).

A candidate is kept only if, at every sample |w| it is checked at, it is real,
lies in its piece and satisfies |σ′(z)| = 1/|w| to 40 digits; and the closed form
is accepted only if at every sample the kept roots are exactly two, agree with
the crossings of |σ′| − 1/|w| located on a dense grid (an independent count),
and |σ′| ≥ 1/|w| between them. Otherwise there is no closed form and the width
is measured numerically (:mod:`gradmath.numeric.optimise`).

Examples
--------
>>> from gradmath.activations import get_activation
>>> from gradmath.symbolic.window import W
>>> level_roots(get_activation("arctan"), (1.5, 3.0, 10.0))
(-sqrt(w - 1), sqrt(w - 1))
>>> level_roots(get_activation("arctan"), (0.5,)) is None     # below 1/γ = 1 the set is empty
True
"""

from __future__ import annotations

from contextlib import contextmanager

import mpmath
import numpy as np
import sympy as sp

from gradmath.activations import Activation
from gradmath.cputime import cpu_time_limit, timer_usable
from gradmath.errors import GradmathError
from gradmath.expressions import X

__all__ = ["SOLVE_SECONDS", "SymbolicTimeout", "time_limit", "pieces", "level_roots", "is_even", "tail_limit",
           "is_periodic", "tail_reaches_limit", "TAIL_Z"]

#: Seconds any one SymPy call of the window derivation may take before it is abandoned.
SOLVE_SECONDS = 10.0
_CHECK_DIGITS = 40
_TAIL_DIGITS = 50
#: |z| at which |σ′| is compared with its limit at ±∞ (see ``unbounded_inclusive`` of the window).
TAIL_Z = 10
_GRID = 20001
_W = sp.Symbol("w", positive=True)  # the same symbol as gradmath.symbolic.window.W


class SymbolicTimeout(Exception):
    """A SymPy call ran past its time limit (caught here: the caller falls back to numerics)."""

    def __init__(self, *args):
        super().__init__(*args)
        from gradmath.cache import uncacheable

        uncacheable("a time limit ran out")   # what was found in time is not stored as the answer


@contextmanager
def time_limit(seconds: float = SOLVE_SECONDS):
    """Raise :class:`SymbolicTimeout` inside the block after ``seconds`` of CPU time (main thread, POSIX).

    CPU time (``ITIMER_PROF``), not wall-clock time, so that what SymPy finds does not depend on the
    machine's load. Elsewhere (another thread, Windows) the block runs without a limit.

    >>> with time_limit(5):
    ...     sp.solve(X**2 - 4, X)
    [-2, 2]
    """
    if not timer_usable():
        yield
        return
    with cpu_time_limit(seconds, lambda: SymbolicTimeout(f"a SymPy call took longer than {seconds:g} s of CPU time")):
        yield


def pieces(derivative: sp.Expr) -> list[tuple[sp.Expr, sp.Basic]]:
    """(formula, condition where it applies) for each piece of σ′, earlier pieces taking precedence.

    >>> pieces(sp.Abs(X))
    [(x, x >= 0), (-x, x < 0)]
    """
    expr = derivative
    if expr.has(sp.Abs, sp.sign, sp.Heaviside, sp.Max, sp.Min):
        expr = expr.rewrite(sp.Piecewise)
    expr = sp.piecewise_fold(expr)
    if not isinstance(expr, sp.Piecewise):
        return [(expr, sp.true)]
    out, earlier = [], sp.false
    for formula, cond in expr.args:
        out.append((formula, sp.And(cond, sp.Not(earlier))))
        earlier = sp.Or(earlier, cond)
    return out


def is_even(derivative: sp.Expr) -> bool:
    """Whether SymPy proves σ′(−z) = σ′(z) (then the level set is symmetric about 0)."""
    try:
        with time_limit():
            difference = derivative.subs(X, -X) - derivative
            return difference == 0 or sp.simplify(difference.rewrite(sp.exp)) == 0
    except (SymbolicTimeout, NotImplementedError, ValueError, TypeError):
        return False


def _forms(derivative: sp.Expr):
    """σ′ as differentiated, then simplified when that differs (simplified lazily, within the time limit)."""
    yield derivative
    try:
        with time_limit():
            simple = sp.simplify(derivative)
    except (SymbolicTimeout, NotImplementedError, ValueError, TypeError):
        return
    if simple != derivative:
        yield simple


def _candidates(form: sp.Expr, signs) -> list[tuple[sp.Expr, sp.Basic]]:
    """Every (root, condition of its piece) SymPy gives for σ′ = s/|w|, s in ``signs``, on every piece of ``form``."""
    found = []
    for formula, cond in pieces(form):
        if not formula.has(X):
            continue
        for sign in signs:
            try:
                with time_limit():
                    roots = sp.solve(sp.Eq(formula, sign / _W), X)
            except (SymbolicTimeout, NotImplementedError, ValueError, TypeError, AttributeError):
                continue
            found += [(root, cond) for root in roots if isinstance(root, sp.Expr) and root.free_symbols <= {_W}]
    return found


def _value_at(root: sp.Expr, cond, act: Activation, u: float):
    """The root at |w| = u as an mpf when it is real, in its piece and on the level set; else None."""
    try:
        with time_limit():
            at = sp.N(root.subs(_W, sp.Float(u, _CHECK_DIGITS + 10)), _CHECK_DIGITS + 10)
            if not at.is_real or at.has(sp.nan, sp.zoo, sp.oo, sp.S.NegativeInfinity):
                return None
            if cond is not sp.true and cond.subs(X, at) is not sp.true:
                return None
    except (SymbolicTimeout, TypeError, ValueError):
        return None
    with mpmath.workdps(_CHECK_DIGITS + 10):
        z = mpmath.mpf(str(at))
        try:
            off = abs(abs(act.prime_mp(z)) - 1 / mpmath.mpf(u))
        except (TypeError, ValueError, ZeroDivisionError):
            return None
        return z if off < mpmath.mpf(10) ** -_CHECK_DIGITS / min(1, u) else None


def _grid_crossings(act: Activation, u: float, reach: float) -> tuple[int, np.ndarray] | None:
    """(number of sign changes of |σ′| − 1/u, the grid) on [−R, R] with R = max(60, 2·reach)."""
    radius = max(60.0, 2.0 * reach)
    z = np.linspace(-radius, radius, _GRID)
    try:
        v = np.abs(act.prime(z)) - 1.0 / u
    except GradmathError:
        return None
    if v[0] >= 0 or v[-1] >= 0:
        return None
    inside = v >= 0
    return int(np.count_nonzero(inside[:-1] != inside[1:])), z


def _peaks_above(act: Activation, floor: float) -> int:
    """The number of local maxima of |σ′| above ``floor`` on a grid over [−60, 60] (−1 if σ′ overflows)."""
    z = np.linspace(-60.0, 60.0, _GRID)
    try:
        v = np.abs(act.prime(z))
    except GradmathError:
        return -1
    inner = v[1:-1]
    # float64 rounding makes flat tails ripple (1 − tanh² near |z| = 18): ripples below 1e-12·max|σ′| are not peaks
    above = floor + 1e-12 * float(v.max())
    return int(np.count_nonzero((inner > v[:-2]) & (inner >= v[2:]) & (inner > above)))


def level_roots(act: Activation, samples, signs=(1, -1), floor: float = 0.0) -> tuple[sp.Expr, sp.Expr] | None:
    """(z₋, z₊) in closed form with {z : |σ′(z)| ≥ 1/|w|} = [z₋, z₊] at every |w| in ``samples``; else None.

    ``signs`` are the s in σ′ = s/|w| worth solving (the caller drops +1 when sup σ′ lies
    below every sample level, −1 when inf σ′ lies above minus every sample level).
    σ′ as differentiated is tried first, then its simplified form. ``floor`` is L, the
    limit of |σ′| at ±∞: a second peak of |σ′| above it (on a grid) would split the level
    set at some |w| between the samples, so there is then no single closed form.
    """
    if _peaks_above(act, floor) != 1:
        return None
    for form in _forms(act.derivative):
        roots = _checked_roots(act, _candidates(form, signs), samples)
        if roots is not None:
            return roots
    return None


def _checked_roots(act: Activation, candidates, samples) -> tuple[sp.Expr, sp.Expr] | None:
    """The two candidates that bound the level set at every sample |w|, or None."""
    chosen: list[sp.Expr] | None = None
    for u in samples:
        values: list[tuple[mpmath.mpf, sp.Expr]] = []
        for root, cond in candidates:
            z = _value_at(root, cond, act, u)
            if z is not None and all(abs(z - other) > mpmath.mpf(10) ** -30 for other, _ in values):
                values.append((z, root))
        if len(values) != 2:
            return None
        values.sort(key=lambda p: p[0])
        (lo, lo_root), (hi, hi_root) = values
        grid = _grid_crossings(act, u, float(max(abs(lo), abs(hi))))
        if grid is None or grid[0] != 2:
            return None
        with mpmath.workdps(_CHECK_DIGITS):
            if abs(act.prime_mp((lo + hi) / 2)) < 1 / mpmath.mpf(u):  # the set between, not outside
                return None
        if chosen is None:
            chosen = [lo_root, hi_root]
        elif {lo_root, hi_root} != set(chosen) or chosen[0] != lo_root:
            return None  # different roots, or in another order, at another |w|: no single formula
    return None if chosen is None else (chosen[0], chosen[1])


def tail_limit(derivative: sp.Expr) -> sp.Expr | None:
    """L = lim |σ′| at ±∞ (exact, by SymPy limits); sp.oo when unbounded, None when SymPy cannot tell.

    Where σ′ oscillates, :func:`sympy.limit` answers with an ``AccumBounds``, alone or inside
    an expression (``sin(2)*AccumBounds(-1, 1)``): an interval holding every accumulation
    point, by interval arithmetic, whose end points need not be reached (2 sin x cos x gives
    [−2, 2], while lim sup |σ′| = 1). That is no exact L, so the answer is then None.

    >>> tail_limit(sp.exp(-X**2)), tail_limit(sp.sin(2) * sp.cos(X)) is None
    (0, True)
    """
    values = []
    try:
        for end in (-sp.oo, sp.oo):
            far = 10**9 if end == sp.oo else -(10**9)
            formula = next(f for f, cond in pieces(derivative) if cond.subs(X, far) is sp.true)
            with time_limit():
                value = sp.limit(formula, X, end)
            if value.has(sp.AccumBounds):
                return None
            value = sp.Abs(value)
            if value.has(sp.nan, sp.zoo, sp.Limit) or not (value.is_real or value == sp.oo):
                return None
            values.append(value)
    except (SymbolicTimeout, StopIteration, NotImplementedError, ValueError, TypeError, AttributeError,
            RecursionError):
        return None
    return sp.Max(*values)


def is_periodic(derivative: sp.Expr) -> bool:
    """Whether SymPy finds a period p > 0 of σ′; then lim sup |σ′| at ±∞ = sup |σ′| = γ.

    (Every value of |σ′| on [0, p] recurs at z + kp for every integer k.)

    >>> is_periodic(sp.sin(X) * sp.cos(X)), is_periodic(sp.cos(X) + 1 - sp.tanh(X)**2)
    (True, False)
    """
    try:
        with time_limit():
            period = sp.periodicity(derivative, X)
    except (SymbolicTimeout, NotImplementedError, ValueError, TypeError, AttributeError, RecursionError):
        return False
    return period is not None and period.is_positive is True


def tail_reaches_limit(act: Activation, limit: sp.Expr) -> bool:
    """Whether |σ′| ≥ L far out on the side where the limit L is reached (checked at |z| = 10, 50 digits)."""
    with mpmath.workdps(_TAIL_DIGITS):
        level = mpmath.mpf(sp.N(limit, _TAIL_DIGITS))
        return any(abs(act.prime_mp(mpmath.mpf(z))) >= level for z in (-TAIL_Z, TAIL_Z))
