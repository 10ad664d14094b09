"""γ = sup σ′ over the real line, exact where SymPy finds it, certified where not.

Exact path: σ′ is split into its pieces (``Abs``, ``Max``, ``Piecewise`` are
rewritten as ``Piecewise``); on each piece SymPy's :func:`~sympy.solveset`
finds every critical point of σ′ (zeros of σ″); the supremum is the largest of
σ′ at those points, at the pieces' end points, and the limits at ±∞. This is an
exact argument only when ``solveset`` returns a finite set on every piece.

Certified path (e.g. SiLU, whose σ″ = 0 is transcendental): interval branch and
bound with :mod:`mpmath.iv` on ``[-R·2⁶⁴, R·2⁶⁴]``: every sub-interval whose
interval upper bound lies below the best point value found is discarded; what is
left encloses the maximum. The limits at ±∞ (exact, from SymPy) are added as
candidates, so the enclosure covers the supremum over |x| ≤ R·2⁶⁴ and at ±∞.

The argument is written out in ``proofs/gamma.md``; ``tests/test_activations.py`` checks it.

Examples
--------
>>> from gradmath.activations import get_activation
>>> g = derive_gamma(get_activation("sigmoid"))
>>> g.exact, g.attained, g.method
(1/4, True, 'exact')
>>> derive_gamma(get_activation("softplus")).attained   # sup 1 approached as x → ∞
False
>>> g = derive_gamma(get_activation("silu"))
>>> g.method, g.value[:8]
('certified', '1.099839')
"""

from __future__ import annotations

from dataclasses import dataclass

import mpmath
import sympy as sp

from gradmath.expressions import X

__all__ = ["GammaResult", "derive_gamma"]

_DIGITS = 30
_RADIUS = 64


@dataclass(frozen=True)
class GammaResult:
    """γ = sup σ′ of one activation.

    Attributes
    ----------
    activation : str
    exact : sympy.Expr or None
        The exact value, when SymPy's argument succeeded.
    value : str
        γ to 30 significant digits.
    enclosure : tuple[str, str]
        ``(lo, hi)`` with lo ≤ γ ≤ hi, rigorous (outward rounded).
    argmax : str
        Where the supremum is reached (``"oo"`` when only approached).
    attained : bool
    method : str
        ``"exact"`` or ``"certified"``.
    """

    activation: str
    exact: sp.Expr | None
    value: str
    enclosure: tuple[str, str]
    argmax: str
    attained: bool
    method: str

    def __float__(self) -> float:
        return float(mpmath.mpf(self.value))

    def to_json(self) -> dict:
        return {
            "activation": self.activation,
            "gamma": self.value,
            "gamma_exact": None if self.exact is None else str(self.exact),
            "gamma_latex": None if self.exact is None else sp.latex(self.exact),
            "enclosure": list(self.enclosure),
            "argmax": self.argmax,
            "attained": self.attained,
            "method": self.method,
        }

    def _repr_latex_(self) -> str:
        shown = sp.latex(self.exact) if self.exact is not None else rf"\in [{self.enclosure[0]}, {self.enclosure[1]}]"
        return rf"$\gamma_{{\mathrm{{{self.activation}}}}} = {shown}$"


def derive_gamma(activation) -> GammaResult:
    """Return γ = sup σ′ for ``activation`` (see the module text for the argument)."""
    try:
        return _exact_gamma(activation)
    except _NotExact:
        return _certified_gamma(activation)


class _NotExact(Exception):
    pass


def _pieces(expr: sp.Expr) -> list[tuple[sp.Expr, sp.Set]]:
    """Split σ′ into (formula, domain) pieces covering the real line once."""
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
            if formula.has(sp.Piecewise, sp.Abs, sp.sign, sp.Heaviside):
                raise _NotExact
            pieces.append((formula, domain))
    return pieces


def _exact_gamma(activation) -> GammaResult:
    candidates: list[tuple[sp.Expr, str, bool]] = []  # (value, where, attained)
    for formula, domain in _pieces(activation.derivative):
        if isinstance(domain, sp.FiniteSet):
            candidates += [(formula.subs(X, p), str(p), True) for p in domain]
            continue
        try:
            critical = sp.solveset(sp.diff(formula, X), X, domain)
        except (NotImplementedError, ValueError, TypeError):
            raise _NotExact from None
        if isinstance(critical, sp.Interval) and critical == domain:
            # σ′ is constant on this piece.
            point = domain.inf if domain.inf.is_finite else (domain.sup if domain.sup.is_finite else sp.S.Zero)
            candidates.append((formula.subs(X, point), _where(domain), True))
            continue
        if critical is sp.S.EmptySet:
            critical = ()
        elif not isinstance(critical, sp.FiniteSet):
            raise _NotExact
        candidates += [(sp.simplify(formula.subs(X, c)), str(c), True) for c in critical]
        for end in _ends(domain):
            if end.is_infinite:
                value = sp.limit(formula, X, end)
                candidates.append((value, str(end), False))
            else:
                candidates.append((formula.subs(X, end), str(end), end in domain))
    if not candidates:
        raise _NotExact
    for value, _, _ in candidates:
        if value.has(sp.Limit, sp.nan, sp.zoo) or not value.is_real:
            raise _NotExact
    best_value = max(candidates, key=lambda c: float(c[0].evalf(_DIGITS + 10)))[0]
    best_num = best_value.evalf(_DIGITS + 10)
    top = [c for c in candidates if abs(float((c[0] - best_value).evalf(_DIGITS + 10))) < 1e-25]
    attained = any(c[2] for c in top)
    argmax = next((c[1] for c in top if c[2]), top[0][1])
    exact = sp.nsimplify(best_value) if best_value.is_Rational else sp.simplify(best_value)
    with mpmath.workdps(_DIGITS + 10):
        v = mpmath.mpf(str(best_num))
        eps = mpmath.mpf(10) ** (-_DIGITS - 5) * max(1, abs(v))
        lo, hi = v - eps, v + eps
    return GammaResult(
        activation=activation.name,
        exact=exact,
        value=_fmt(v),
        enclosure=_outward(lo, hi, _DIGITS + 5),
        argmax=argmax,
        attained=attained,
        method="exact",
    )


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
        elif domain is sp.S.Reals or interval is sp.S.Reals:
            ends += [sp.S.NegativeInfinity, sp.S.Infinity]
    return ends


# ----- certified numeric path ------------------------------------------------
def _iv_function(expr: sp.Expr):
    expr = expr.rewrite(sp.exp)
    ivm = mpmath.iv
    table = {"exp": ivm.exp, "log": ivm.log, "sqrt": ivm.sqrt, "erf": ivm.erf, "erfc": ivm.erfc,
             "sin": ivm.sin, "cos": ivm.cos, "Abs": abs}
    return sp.lambdify(X, expr, modules=[table])


def _certified_gamma(activation, *, tol: float = 1e-12, max_boxes: int = 200_000) -> GammaResult:
    f_iv = _iv_function(activation.derivative)
    fp_iv = _iv_function(activation.second_derivative)
    f_mp = activation.prime_mp
    ivm = mpmath.iv
    limits = []
    for end in (sp.S.NegativeInfinity, sp.S.Infinity):
        value = sp.limit(activation.derivative, X, end)
        if value.is_real and value.is_finite:
            limits.append((float(value), str(end)))
    saved_iv_dps = ivm.dps
    try:
        ivm.dps = _DIGITS
        return _branch_and_bound(activation, (f_iv, fp_iv), f_mp, limits, tol, max_boxes)
    finally:
        ivm.dps = saved_iv_dps


def _branch_and_bound(activation, kernels, f_mp, limits, tol, max_boxes) -> GammaResult:
    ivm = mpmath.iv
    f_iv, fp_iv = kernels
    with mpmath.workdps(_DIGITS):
        boxes = [(mpmath.mpf(-_RADIUS), mpmath.mpf(_RADIUS))]
        for k in range(64):
            a, b = mpmath.mpf(_RADIUS) * 2**k, mpmath.mpf(_RADIUS) * 2 ** (k + 1)
            boxes += [(-b, -a), (a, b)]
        best_lo, best_x = max(((mpmath.mpf(v), w) for v, w in limits), default=(mpmath.mpf("-inf"), ""))
        best_attained = False
        done_hi = mpmath.mpf("-inf")
        count = 0
        while boxes:
            count += 1
            if count > max_boxes:
                raise _NotExact(f"interval search for γ of {activation.name!r} did not converge")
            a, b = boxes.pop()
            box, mid = ivm.mpf([a, b]), (a + b) / 2
            point = f_iv(ivm.mpf([mid, mid]))
            # Mean-value form f(X) ⊆ f(m) + f′(X)(X − m): second-order tight near the maximum.
            centred = point + fp_iv(box) * (box - mid)
            upper = min(mpmath.mpf(f_iv(box).b), mpmath.mpf(centred.b))
            if upper < best_lo:
                continue
            if mpmath.mpf(point.a) > best_lo:
                best_lo, best_x, best_attained = mpmath.mpf(point.a), mpmath.nstr(mid, 20), True
            if upper - best_lo <= tol * max(1, abs(best_lo)) or b - a < mpmath.mpf(10) ** (-_DIGITS + 5):
                done_hi = max(done_hi, upper)
                continue
            boxes += [(a, mid), (mid, b)]
        hi = max(done_hi, best_lo)
        # Refine the point value at full precision (it lies inside [best_lo, hi]).
        x0 = mpmath.findroot(lambda t: mpmath.diff(f_mp, t), mpmath.mpf(best_x)) if best_attained else None
        value = f_mp(x0) if x0 is not None else best_lo
        if not best_lo - mpmath.mpf(10) ** -20 <= value <= hi + mpmath.mpf(10) ** -20:
            value = best_lo
    return GammaResult(
        activation=activation.name,
        exact=None,
        value=_fmt(value),
        enclosure=_outward(best_lo, hi, 20),
        argmax=mpmath.nstr(x0, 20) if x0 is not None else best_x,
        attained=best_attained,
        method="certified",
    )


def _fmt(v, digits: int = _DIGITS) -> str:
    return mpmath.nstr(v, digits, strip_zeros=False, min_fixed=-mpmath.inf, max_fixed=mpmath.inf)


def _outward(lo, hi, digits: int) -> tuple[str, str]:
    """Format ``[lo, hi]`` to ``digits`` digits, widened so that rounding cannot shrink it."""
    with mpmath.workdps(digits + 10):
        pad = mpmath.mpf(10) ** (1 - digits)
        return _fmt(lo - pad * max(1, abs(lo)), digits), _fmt(hi + pad * max(1, abs(hi)), digits)
