"""The interval path: a certified enclosure of sup g, tails included, or an estimate.

1. **Tails.** For T = 2, 8, 32, …, 2⁶⁴ the interval value of g′ on [T, ∞] (and on
   [−∞, −T]) is computed with :mod:`mpmath.iv` (infinite end points allowed); once it
   has one sign, g is monotone beyond T, so its supremum there is g(±T) or the exact
   SymPy limit at ±∞.
2. **Middle.** Branch and bound on [−T₋, T₊] in mean-value form: a box whose interval
   upper bound lies below the best point value found is discarded; what is left
   encloses the maximum.

If a tail cannot be shown monotone, a limit is unknown, a kernel cannot be evaluated in
intervals, or the box count or the clock runs out, the result is an *estimate*: the
largest of g on a dense grid (|x| ≤ 10¹⁵), refined by golden-section search, labelled so.
Functions that :mod:`mpmath.iv` lacks (tanh, sinh, atan, asinh, erf, erfc, cosh) are
evaluated as monotone maps at the end points at higher precision, padded outward.
"""

from __future__ import annotations

import mpmath
import sympy as sp

from gradmath.expressions import X
from gradmath.gamma.budget import Budget, OutOfTime

__all__ = ["interval_sup", "estimate_sup"]

_DPS = 30
_TAILS = (2, 8, 32, 128, 1024, 2**16, 2**32, 2**64)
_MAX_BOXES = 50_000
_TOL = 1e-12
_MAX_TERMS = 8
_CLAMP = 10_000  # exp, sinh, … are not computed beyond this argument (only bounded)
_MAX_OPS = 200


class _NoKernel(Exception):
    pass


def _ends(v):
    return mpmath.mpf(v.a._mpi_[0]), mpmath.mpf(v.b._mpi_[1])


def _monotone(fn, increasing: bool, at_minus, at_plus):
    """An interval version of a monotone ``fn``: end-point values at higher precision, padded outward.

    ``at_minus``/``at_plus`` are the limits at ∓∞ (exact numbers, or functions giving an
    enclosing (lo, hi) pair at the current precision); they are not padded.
    """

    def limit(end):
        return end() if callable(end) else (mpmath.mpf(end), mpmath.mpf(end))

    def padded(t):
        with mpmath.workdps(mpmath.iv.dps + 15):
            value = fn(t)
        pad = mpmath.mpf(2) ** (-mpmath.iv.prec + 4)
        return value - abs(value) * pad - pad**8, value + abs(value) * pad + pad**8

    def between(t):
        """(lower, upper) bounds of fn(t); beyond ±_CLAMP from fn(±_CLAMP) and the limit, without computing fn(t)."""
        if mpmath.isinf(t):
            return limit(at_plus if t > 0 else at_minus)
        if abs(t) <= _CLAMP:
            return padded(t)
        near, far = padded(_CLAMP if t > 0 else -_CLAMP), limit(at_plus if t > 0 else at_minus)
        return min(near[0], far[0]), max(near[1], far[1])

    def f(v):
        if not isinstance(v, mpmath.ctx_iv.ivmpf):
            v = mpmath.iv.mpf(v)
        a, b = _ends(v)
        lo, hi = between(a)[0], between(b)[1]
        if not increasing:
            lo, hi = between(b)[0], between(a)[1]
        return mpmath.iv.mpf([lo, hi])

    return f


def _half_pi(sign):
    def pair():
        lo, hi = _ends(mpmath.iv.pi / 2)
        return (lo, hi) if sign > 0 else (-hi, -lo)

    return pair


def _exp(v):
    """exp of an interval; arguments beyond ±_CLAMP give 0 or ∞ as bounds instead of a huge computation."""
    if not isinstance(v, mpmath.ctx_iv.ivmpf):
        v = mpmath.iv.mpf(v)
    a, b = _ends(v)
    inner = mpmath.iv.exp(mpmath.iv.mpf([min(max(a, -_CLAMP), _CLAMP), min(max(b, -_CLAMP), _CLAMP)]))
    lo, hi = _ends(inner)
    return mpmath.iv.mpf([0 if a < -_CLAMP else lo, mpmath.inf if b > _CLAMP else hi])


def _cosh(v):
    e = _exp(v)
    return (e + 1 / e) / 2


def _sign(v):
    a, b = _ends(v)
    return mpmath.iv.mpf([mpmath.sign(a), mpmath.sign(b)])


def _max(*vs):
    ends = [_ends(mpmath.iv.mpf(v) if not isinstance(v, mpmath.ctx_iv.ivmpf) else v) for v in vs]
    return mpmath.iv.mpf([max(e[0] for e in ends), max(e[1] for e in ends)])


def _min(*vs):
    ends = [_ends(mpmath.iv.mpf(v) if not isinstance(v, mpmath.ctx_iv.ivmpf) else v) for v in vs]
    return mpmath.iv.mpf([min(e[0] for e in ends), min(e[1] for e in ends)])


_TABLE = {
    "mpf": mpmath.iv.mpf, "exp": _exp, "log": mpmath.iv.log, "sqrt": mpmath.iv.sqrt,
    "sin": mpmath.iv.sin, "cos": mpmath.iv.cos, "pi": mpmath.iv.pi, "e": mpmath.iv.e, "E": mpmath.iv.e,
    "tanh": _monotone(mpmath.tanh, True, -1, 1), "atan": _monotone(mpmath.atan, True, _half_pi(-1), _half_pi(1)),
    "asinh": _monotone(mpmath.asinh, True, -mpmath.inf, mpmath.inf),
    "sinh": _monotone(mpmath.sinh, True, -mpmath.inf, mpmath.inf),
    "erf": _monotone(mpmath.erf, True, -1, 1), "erfc": _monotone(mpmath.erfc, False, 2, 0),
    "cosh": _cosh, "sign": _sign, "Max": _max, "Min": _min, "Abs": abs,
}
_INTERVAL_FUNCS = (sp.exp, sp.log, sp.sin, sp.cos, sp.tanh, sp.atan, sp.asinh, sp.sinh, sp.erf, sp.erfc,
                   sp.cosh, sp.sign, sp.Max, sp.Min, sp.Abs)


def _iv_kernel(expr: sp.Expr):
    for node in sp.preorder_traversal(expr):
        if isinstance(node, sp.Function) and not isinstance(node, _INTERVAL_FUNCS):
            raise _NoKernel(type(node).__name__)
        if isinstance(node, (sp.Piecewise, sp.Heaviside, sp.DiracDelta)):
            raise _NoKernel(type(node).__name__)
    kernel = sp.lambdify(X, expr, modules=[_TABLE, "mpmath"])

    def safe(v):
        try:
            out = kernel(v)
        except (ValueError, ZeroDivisionError, TypeError, OverflowError):  # e.g. log of an interval reaching 0
            return None
        if not isinstance(out, mpmath.ctx_iv.ivmpf):
            out = mpmath.iv.mpf(out)
        return out

    return safe


def interval_sup(g: sp.Expr, limits: dict, budget: Budget) -> dict | None:
    """A certified ``{"lo", "hi", "value", "argmax", "attained"}`` for sup g, or None (take the estimate)."""
    slope = sp.diff(g, X)
    try:
        f_iv, fp_iv = _iv_kernel(g), _iv_kernel(slope)
    except _NoKernel:
        return None
    forms = [slope]
    try:
        with budget.sympy(1.0):
            forms.append(sp.factor(sp.together(slope)))
    except (OutOfTime, sp.PolynomialError, NotImplementedError, ValueError, TypeError):
        pass
    signs = []
    for form in forms:
        try:
            with budget.sympy(1.0):
                signs.append(_sign_kernel(form))
        except (_NoKernel, OutOfTime):
            pass
    saved = mpmath.iv.dps
    try:
        mpmath.iv.dps = _DPS
        with mpmath.workdps(_DPS):
            found = _search(f_iv, fp_iv, signs, limits, budget)
            if found is not None and found["attained"]:
                _refine(found, g, slope)
            return found
    except OutOfTime:
        return None
    finally:
        mpmath.iv.dps = saved


def _sign_kernel(form: sp.Expr):
    """A function of an interval box: the sign (+1/−1) ``form`` has on all of it, or None.

    A product's sign is the product of its factors' signs, each found by interval
    evaluation on its own (which avoids the dependency problem of e.g. x·e^(−x) at ∞).
    """
    factors = []
    for factor in sp.Mul.make_args(form):
        base, power = factor.as_base_exp()
        if power.is_Integer and power % 2 == 0:
            continue  # an even power is ≥ 0
        if not (power.is_Integer and power != 1):
            base, power = factor, 1
        ways = [[_iv_kernel(base)]]
        if isinstance(base, sp.Add) and len(base.args) <= _MAX_TERMS:
            # sign(A) = sign(t)·sign(A/t) for a term t of A: A/t, expanded, often has no ∞ − ∞ at the ends
            for term in base.args:
                ratio = sp.expand(sp.powsimp(sp.expand(base / term)))
                if sp.count_ops(ratio) <= _MAX_OPS:
                    ways.append([_iv_kernel(term), _iv_kernel(ratio)])
        factors.append((ways, int(power)))

    def sign(box):
        total = 1
        for ways, power in factors:
            s = next((s for s in (_product_sign(way, box) for way in ways) if s is not None), None)
            if s is None:
                return None
            total *= s**power
        return total

    return sign


def _product_sign(kernels, box):
    """The sign (+1/−1, non-strict) of a product of kernels on ``box``, or None."""
    total = 1
    for kernel in kernels:
        value = kernel(box)
        if value is None:
            return None
        lo, hi = _ends(value)
        if lo >= 0:
            continue
        if hi <= 0:
            total = -total
            continue
        return None
    return total


def _tail(signs, side: int, budget: Budget):
    """(T, sign of g′ beyond T) for the first T where g′ has one sign on side·[T, ∞], else None."""
    for t in _TAILS:
        budget.check()
        box = mpmath.iv.mpf([t, mpmath.inf]) if side > 0 else mpmath.iv.mpf([-mpmath.inf, -t])
        for sign in signs:
            s = sign(box)
            if s is not None:
                return t, (s if s != 0 else 1)
    return None


def _search(f_iv, fp_iv, signs, limits, budget):
    candidates = []  # (lower bound of the value, upper bound, where, attained)
    reach = {}
    for side, end in ((1, sp.S.Infinity), (-1, sp.S.NegativeInfinity)):
        tail = _tail(signs, side, budget)
        if tail is None:
            return None
        t, sign = tail
        reach[side] = t
        if sign * side > 0:  # g rises towards the end: its sup there is the limit
            limit = limits.get(end)
            if limit is None or isinstance(limit, sp.AccumBounds) or not limit.is_finite:
                return None
            v = mpmath.mpf(str(sp.N(limit, _DPS + 10)))
            pad = mpmath.mpf(10) ** (-_DPS + 2) * max(1, abs(v))
            candidates.append((v - pad, v + pad, str(end), False))
    boxes = [(mpmath.mpf(-reach[-1]), mpmath.mpf(reach[1]))]
    best_lo, best_x, best_attained = mpmath.mpf("-inf"), "", False
    for lo, _, where, attained in candidates:
        if lo > best_lo:
            best_lo, best_x, best_attained = lo, where, attained
    done_hi = max((c[1] for c in candidates), default=mpmath.mpf("-inf"))
    count = 0
    while boxes:
        count += 1
        if count > _MAX_BOXES:
            return None
        if count % 64 == 0:
            budget.check()
        a, b = boxes.pop()
        mid = (a + b) / 2
        box = mpmath.iv.mpf([a, b])
        point, whole, slope = f_iv(mpmath.iv.mpf(mid)), f_iv(box), fp_iv(box)
        if point is None:
            return None
        uppers = [_ends(whole)[1]] if whole is not None else []
        if slope is not None:
            uppers.append(_ends(point + slope * (box - mid))[1])
        upper = min(uppers) if uppers else mpmath.inf
        p_lo = _ends(point)[0]
        if p_lo > best_lo:
            best_lo, best_x, best_attained = p_lo, mid, True
        if upper < best_lo:
            continue
        if upper - best_lo <= _TOL * max(1, abs(best_lo)) or b - a < mpmath.mpf(10) ** (-_DPS + 8) * max(1, abs(mid)):
            if mpmath.isinf(upper):
                return None
            done_hi = max(done_hi, upper)
            continue
        boxes += [(a, mid), (mid, b)]
    hi = max(done_hi, best_lo)
    found = {"lo": best_lo, "hi": hi, "value": best_lo, "argmax": best_x, "attained": best_attained}
    top = best_lo if best_attained else mpmath.mpf("-inf")  # the best point value
    for lo, up, where, _ in candidates:
        limit = (lo + up) / 2  # the exact limit (to the working precision)
        if limit >= top:  # no point value found above this limit: the limit is the sup
            top = limit
            found.update(lo=min(lo, found["lo"]), value=limit, argmax=where, attained=False)
    return found


def _refine(found: dict, g: sp.Expr, slope: sp.Expr) -> None:
    """Polish the maximiser by Newton's method on g′ = 0; keep it only if g there lies in [lo, hi]."""
    try:
        g_mp, slope_mp = (sp.lambdify(X, e, modules="mpmath") for e in (g, slope))
        x0 = mpmath.findroot(slope_mp, found["argmax"])
        value = g_mp(x0)
    except (ValueError, ZeroDivisionError, TypeError, OverflowError):
        return
    if isinstance(value, mpmath.mpf) and found["lo"] <= value <= found["hi"]:
        found["value"], found["argmax"] = value, x0


def estimate_sup(g: sp.Expr, limits: dict, budget: Budget, *, seconds: float = 2.0) -> dict:
    """The largest of g on a grid (|x| ≤ 10¹⁵), refined by golden-section search: an estimate."""
    form = g.rewrite(sp.Piecewise) if g.has(sp.Heaviside) else g
    g_mp = sp.lambdify(X, form, modules="mpmath")
    g_np = sp.lambdify(X, form, modules="numpy")
    local = Budget(min(seconds, max(budget.left(), 0.5)))
    grid = [mpmath.mpf(k) / 16 for k in range(-1024, 1025)]
    for k in range(2, 61):
        grid += [mpmath.mpf(10) ** (mpmath.mpf(k) / 4), -(mpmath.mpf(10) ** (mpmath.mpf(k) / 4))]
    grid.sort()
    best, best_i = mpmath.mpf("-inf"), None
    values = []
    with mpmath.workdps(_DPS):
        for i, x in enumerate(grid):
            if i % 64 == 0 and local.left() < 0:
                break
            v = _real(g_mp, x) if _float_finite(g_np, x) else None  # float64 overflow: mpmath could take for ever
            values.append(v)
            if v is not None and v > best:
                best, best_i = v, i
        where, attained = (mpmath.nstr(grid[best_i], 15) if best_i is not None else "0"), best_i is not None
        if best_i is not None and 0 < best_i < len(values) - 1:
            a, b = grid[best_i - 1], grid[best_i + 1]
            for _ in range(80):  # golden section on the neighbouring cells
                if local.left() < 0:
                    break
                c, d = b - (b - a) / mpmath.phi, a + (b - a) / mpmath.phi
                vc, vd = _real(g_mp, c), _real(g_mp, d)
                if vc is None or vd is None:
                    break
                if vc > vd:
                    b = d
                else:
                    a = c
            m = (a + b) / 2
            vm = _real(g_mp, m)
            if vm is not None and vm > best:
                best, where = vm, mpmath.nstr(m, 15)
        for end, limit in limits.items():
            if limit is not None and not isinstance(limit, sp.AccumBounds) and limit.is_finite:
                v = mpmath.mpf(str(sp.N(limit, _DPS)))
                if v > best:
                    best, where, attained = v, str(end), False
    known = all(v is not None and not isinstance(v, sp.AccumBounds) and v.is_finite for v in limits.values())
    inner = max((v for x, v in zip(grid, values) if v is not None and abs(x) <= 64), default=best)
    # unknown limits and values far out that dwarf those near 0: σ′ looks unbounded (an estimate too)
    edge = not known and best_i is not None and best > 1000 * (abs(inner) + 1)
    return {"lo": best, "hi": None, "value": best, "argmax": where, "attained": attained, "grows": edge}


def _real(fn, x):
    try:
        v = fn(x)
    except (ValueError, ZeroDivisionError, TypeError, OverflowError):
        return None
    if isinstance(v, mpmath.mpc):
        return mpmath.re(v) if abs(mpmath.im(v)) <= mpmath.mpf(10) ** (-_DPS + 5) * (1 + abs(v)) else None
    return mpmath.mpf(v) if mpmath.isfinite(v) else None


def _float_finite(fn, x) -> bool:
    """Whether ``fn`` stays finite in float64 at x (a guard before the mpmath evaluation)."""
    import numpy as np

    with np.errstate(all="ignore"):
        try:
            v = complex(fn(np.float64(x)))
        except (ValueError, ZeroDivisionError, TypeError, OverflowError, AttributeError, NameError):
            return False
    return bool(np.isfinite(v.real) and np.isfinite(v.imag))
