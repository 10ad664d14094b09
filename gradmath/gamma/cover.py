"""A proven upper bound of sup g over ℝ, from interval values on a fixed cover of the real line.

When the search for sup g ends in an estimate, this decides whether g is at least proven
bounded above: ℝ is covered by the boxes [−∞, −2⁶⁴], …, [−2^(k/2), −2^((k−1)/2)], …,
[−1, −7/8], …, [7/8, 1], …, [2⁶⁴, ∞] (:func:`cover`), g is evaluated in interval arithmetic
(:mod:`mpmath.iv`, the kernels of :mod:`gradmath.gamma.interval`) on each, and the largest
upper end is an upper bound of g on all of ℝ, outward rounded. The bound is crude (no box is
split), but it is a proof: a finite number here means sup g < ∞.

It is None when some box has no finite upper end, which happens for every g unbounded
above and, through the dependency problem, for some bounded ones (x·e^(−x²) on [2⁶⁴, ∞]
is ∞·0): None means "not proven", never "unbounded".

>>> from gradmath.expressions import parse_expression as p
>>> from gradmath.gamma.budget import Budget
>>> cover_sup(p("cos(x)*sign(sin(x))"), Budget(5.0))      # |sin x|′: sup 1, proven
mpf('1.0')
>>> cover_sup(p("exp(x)*cos(exp(x))"), Budget(5.0)) is None   # sin(eˣ)′: not bounded above
True
"""

from __future__ import annotations

import mpmath
import sympy as sp

from gradmath.gamma.budget import Budget, OutOfTime
from gradmath.gamma.interval import _NoKernel, _ends, _iv_kernel

__all__ = ["cover_sup", "cover"]

_DPS = 20
_HALF_OCTAVES = 129   # box ends ±2^(k/2) for k = 1 … 129, so the outermost finite end is 2^64.5
_EIGHTHS = 8          # [−1, 1] in boxes of width 1/8


def cover() -> list[tuple[mpmath.mpf, mpmath.mpf]]:
    """The boxes (a, b) that cover ℝ, in increasing order, the two outer ones infinite."""
    inner = [mpmath.mpf(k) / _EIGHTHS for k in range(-_EIGHTHS, _EIGHTHS + 1)]
    outer = [mpmath.mpf(2) ** (mpmath.mpf(k) / 2) for k in range(1, _HALF_OCTAVES + 1)]
    ends = sorted(set([-t for t in outer] + inner + outer))
    return [(-mpmath.inf, ends[0]), *zip(ends, ends[1:]), (ends[-1], mpmath.inf)]


def cover_sup(g: sp.Expr, budget: Budget) -> mpmath.mpf | None:
    """An upper bound of g on all of ℝ (outward rounded), or None when none is proven this way."""
    if g.has(sp.Heaviside, sp.Piecewise, sp.DiracDelta):
        return None
    try:
        kernel = _iv_kernel(g)
    except _NoKernel:
        return None
    saved = mpmath.iv.dps
    try:
        mpmath.iv.dps = _DPS
        top = -mpmath.inf
        for i, (a, b) in enumerate(cover()):
            if i % 32 == 0:
                budget.check()
            value = kernel(mpmath.iv.mpf([a, b]))
            if value is None:
                return None
            upper = _ends(value)[1]
            if not mpmath.isfinite(upper):   # ∞ or NaN: nothing proven on this box
                return None
            top = max(top, upper)
        return top
    except OutOfTime:
        return None
    finally:
        mpmath.iv.dps = saved
