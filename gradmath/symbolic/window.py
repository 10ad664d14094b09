"""The window {a : |wσ′(wa + b)| ≥ 1}, derived from the activation's definition.

Nielsen's first problem (chapter 5, eq. 123; proof in ``proofs/window.md``):
|wσ′(wa + b)| ≥ 1 needs |w| ≥ 1/γ with γ = sup |σ′| (4 for the sigmoid), and
for |w| ≥ 4 the inputs a that satisfy it form one interval of width

    (2/|w|) ln(|w|(1 + √(1 − 4/|w|))/2 − 1),

whatever the bias b. Nothing here is typed in: SymPy solves σ′(z) = ±1/|w|
for z on each piece of σ′ (the activation's own derivative, or its simplified
form), :mod:`gradmath.symbolic.level_set` keeps the two roots that bound
{z : |σ′(z)| ≥ 1/|w|} where that checks out, and the window in a is that
interval divided by |w| (z = wa + b is a shift and a scaling of a). Only |σ′|
matters, so −σ has σ's window. Eq. 123 is only the target that
:func:`sigmoid_simplification` proves SymPy's answer equal to.

The symbol :data:`W` stands for |w| (a positive real).

Examples
--------
>>> d = derive_window("sigmoid")
>>> d.min_abs_w, d.method
(4, 'closed form')
>>> d.width                         # (z₊ − z₋)/|w| with z₋ = −z₊
2*log(sqrt(w)*sqrt(w - 4)/2 + w/2 - 1)/w
>>> derive_window("arctan").exact_maximum
(2, 1)
>>> r = derive_window("relu")
>>> r.method, r.unbounded_from, r.unbounded_inclusive
('unbounded', 1, True)

SymPy cannot solve σ′(z) = 1/|w| for GELU (erf and exp together); its width
is then measured numerically (:func:`gradmath.numeric.optimise.window_width`):

>>> derive_window("gelu").method
'numeric'

Where σ′ is unbounded the window does not apply, and says why:

>>> from gradmath.activations import resolve_activation
>>> derive_window(resolve_activation("x**3")).method
'not applicable'
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import mpmath
import sympy as sp

from gradmath.activations import Activation, get_activation
from gradmath.errors import InvalidParameterError
from gradmath.expressions import X
from gradmath.symbolic.level_set import (
    SymbolicTimeout,
    is_even,
    is_periodic,
    level_roots,
    tail_limit,
    tail_reaches_limit,
    time_limit,
)

__all__ = [
    "W",
    "NIELSEN_EQ_123",
    "WindowDerivation",
    "SimplificationResult",
    "derive_window",
    "sigmoid_simplification",
    "TanhRelation",
    "tanh_relation",
]

#: |w|, the magnitude of the weight (a positive real symbol).
W = sp.Symbol("w", positive=True)

#: Nielsen's eq. (123), quoted from the seed as the target of the simplification.
NIELSEN_EQ_123 = 2 / W * sp.log(W * (1 + sp.sqrt(1 - 4 / W)) / 2 - 1)

_CHECK_DIGITS = 50


@dataclass(frozen=True)
class WindowDerivation:
    """The window of one activation as a function of |w| (symbol :data:`W`).

    The window is {a : |wσ′(wa + b)| ≥ 1}; only |σ′| matters, so σ and −σ have
    the same window, and activations whose σ′ changes sign are covered.

    Attributes
    ----------
    activation : str
    gamma : sympy.Expr or None
        γ = sup |σ′| when exact (``None`` when only certified; see ``gamma_value``).
    gamma_value : str
        γ to 30 digits (``"inf"`` when σ′ is unbounded, ``"unknown"`` when the window does
        not apply for another reason).
    min_abs_w : sympy.Expr or None
        1/γ, exact when γ is; below it the window is empty (part 1), and at it the
        window is a single point when γ is attained, empty when γ is only approached.
    roots : tuple of sympy.Expr
        (z₋, z₊): the solutions of |σ′(z)| = 1/|w| bounding the window in z.
    width : sympy.Expr or None
        (z₊ − z₋)/|w|, the window width in a (closed form); written 2z₊/|w|
        when σ′ is even (no cancellation at large |w|).
    unbounded_from : sympy.Expr or None
        1/L with L = lim sup |σ′| at ±∞; for |w| beyond it the window is unbounded.
    unbounded_inclusive : bool
        Whether the window is unbounded already at |w| = ``unbounded_from``.
    method : str
        ``"closed form"``, ``"numeric"`` (SymPy found no closed form that checks out),
        ``"unbounded"`` (unbounded as soon as it is non-empty) or ``"not applicable"``
        (σ′ is unbounded, γ = ∞: every |w| has inputs with |wσ′| ≥ 1; or σ′ is not proven
        bounded; or SymPy finds no limit of |σ′| at ±∞; ``reason`` says which).
    exact_maximum : tuple or None
        (argmax |w|, maximum width) when SymPy solves d(width)/d|w| = 0 exactly.
    gamma_attained : bool
        Whether |σ′| reaches γ (else the window at |w| = 1/γ is empty).
    reason : str
        Why the window does not apply (``method == "not applicable"``), else "".
    """

    activation: str
    gamma: sp.Expr | None
    gamma_value: str
    min_abs_w: sp.Expr | None
    roots: tuple[sp.Expr, ...]
    width: sp.Expr | None
    unbounded_from: sp.Expr | None
    unbounded_inclusive: bool
    method: str
    exact_maximum: tuple[sp.Expr, sp.Expr] | None
    gamma_attained: bool = True
    reason: str = ""

    @property
    def applies(self) -> bool:
        """False when σ′ is unbounded (γ = ∞) and the window's theory says nothing."""
        return self.method != NOT_APPLICABLE

    def require_applicable(self) -> None:
        """Raise :class:`InvalidParameterError` with ``reason`` when the window does not apply."""
        if not self.applies:
            raise InvalidParameterError(self.reason)

    @property
    def min_abs_w_value(self) -> str | None:
        """1/γ to 30 digits (from the exact value when there is one); None when γ = ∞."""
        if not self.applies:
            return None
        with mpmath.workdps(40):
            v = mpmath.mpf(1) / mpmath.mpf(self.gamma_value) if self.min_abs_w is None else \
                mpmath.mpf(sp.N(self.min_abs_w, 40))
            return mpmath.nstr(v, 30)

    def to_latex(self) -> str:
        """The width as LaTeX (or a sentence when there is no closed form)."""
        if self.width is None:
            return r"\text{no closed form (measured numerically)}"
        return sp.latex(self.width)

    def _repr_latex_(self) -> str:
        return f"$W(w) = {self.to_latex()}$"

    def to_json(self) -> dict:
        s = lambda e: None if e is None else str(e)  # noqa: E731
        out = {
            "activation": self.activation,
            "gamma": self.gamma_value,
            "gamma_exact": s(self.gamma),
            "min_abs_w": self.min_abs_w_value,
            "min_abs_w_exact": s(self.min_abs_w),
            "roots": [str(r) for r in self.roots],
            "width": s(self.width),
            "width_latex": None if self.width is None else sp.latex(self.width),
            "unbounded_from": s(self.unbounded_from),
            "unbounded_inclusive": self.unbounded_inclusive,
            "method": self.method,
            "exact_argmax_abs_w": s(self.exact_maximum and self.exact_maximum[0]),
            "exact_max_width": s(self.exact_maximum and self.exact_maximum[1]),
        }
        if not self.gamma_attained:
            out["gamma_attained"] = False
        if self.reason:
            out["reason"] = self.reason
        return out


NOT_APPLICABLE = "not applicable"


def derive_window(activation: str | Activation) -> WindowDerivation:
    """Derive the window width of ``activation`` as a function of |w|.

    The argument (``proofs/window.md``): |wσ′(z)| ≥ 1 ⇔ |σ′(z)| ≥ 1/|w|. If
    SymPy's solutions of σ′(z) = ±1/|w| (on the pieces of σ′, each kept only
    where its piece applies) pass the checks of
    :func:`gradmath.symbolic.level_set.level_roots`, the set is [z₋, z₊], and
    the set of a is [(z₋ − b)/w, (z₊ − b)/w] in some order: width (z₊ − z₋)/|w|.

    Raises
    ------
    UnknownActivationError
        For an unregistered name.
    """
    act = get_activation(activation)
    return _derive(act)


def _gamma_is_finite(gamma) -> bool:
    if gamma.bounded is not True:   # False: proven unbounded; None: not proven bounded
        return False
    if gamma.exact is not None and not gamma.exact.is_finite:
        return False
    return mpmath.isfinite(mpmath.mpf(gamma.value))


@lru_cache(maxsize=64)
def _derive(act: Activation) -> WindowDerivation:
    gamma = act.gamma
    if gamma.bounded is None:
        return _not_applicable(act, None, "unknown",
                               "σ′ is not proven bounded (γ = sup|σ′| is only an estimate, with no proven upper "
                               "bound; " + gamma.note.split(": ", 1)[-1] + ")")
    finite = _gamma_is_finite(gamma)
    limit = tail_limit(act.derivative)
    if finite and limit is not None and limit != sp.oo and _above_gamma(limit, gamma):
        limit = None  # L = lim |σ′| ≤ sup |σ′| = γ always: SymPy's limit is wrong, so L is unknown
    periodic = finite and limit is None and is_periodic(act.derivative)
    if not finite or limit == sp.oo:
        return _not_applicable(act, sp.oo, "inf",
                               "σ′ is unbounded (γ = sup|σ′| = ∞), so |wσ′(wa+b)| ≥ 1 somewhere for every w ≠ 0")
    if limit is None and not periodic:
        return _not_applicable(act, None, "unknown",
                               "SymPy finds no limit of |σ′| at ±∞, so where the window becomes unbounded is unknown")
    exact = gamma.exact
    attained = bool(getattr(gamma, "attained", True))
    low = 1 / mpmath.mpf(gamma.value)
    min_abs_w = None if exact is None else _reciprocal(exact)
    if periodic:
        # lim sup |σ′| = γ: beyond 1/γ, |σ′| ≥ 1/|w| on an interval in every period; at 1/γ only at points
        edge = min_abs_w if min_abs_w is not None else sp.Float(mpmath.nstr(low, 30), 30)
        return WindowDerivation(activation=act.name, gamma=exact, gamma_value=gamma.value, min_abs_w=min_abs_w,
                                unbounded_from=edge, unbounded_inclusive=False, gamma_attained=attained,
                                roots=(), width=None, method="unbounded", exact_maximum=None)
    unbounded_from = None if limit == 0 else _reciprocal(limit)
    inclusive = unbounded_from is not None and tail_reaches_limit(act, limit)
    common = dict(activation=act.name, gamma=exact, gamma_value=gamma.value, min_abs_w=min_abs_w,
                  unbounded_from=unbounded_from, unbounded_inclusive=inclusive, gamma_attained=attained)
    if unbounded_from is not None and _same_number(unbounded_from, min_abs_w, low):
        return WindowDerivation(**common, roots=(), width=None, method="unbounded", exact_maximum=None)
    samples = _samples(float(low), None if unbounded_from is None else float(unbounded_from))
    roots = level_roots(act, samples, _signs(gamma, 1 / max(samples)), floor=float(limit))
    if roots is None:
        return WindowDerivation(**common, roots=(), width=None, method="numeric", exact_maximum=None)
    lo, hi = roots
    width = 2 * hi / W if is_even(act.derivative) else (hi - lo) / W
    try:
        with time_limit():
            width = sp.simplify(width)
    except (SymbolicTimeout, NotImplementedError, ValueError, TypeError):
        pass
    exact_max = _exact_maximum(width, min_abs_w) if unbounded_from is None else None
    return WindowDerivation(**common, roots=roots, width=width, method="closed form", exact_maximum=exact_max)


def _not_applicable(act: Activation, gamma: sp.Expr | None, gamma_value: str, why: str) -> WindowDerivation:
    return WindowDerivation(
        activation=act.name, gamma=gamma, gamma_value=gamma_value, min_abs_w=None, roots=(), width=None,
        unbounded_from=None, unbounded_inclusive=False, method=NOT_APPLICABLE, exact_maximum=None,
        reason=f"activation {act.name!r}: {why}; the window's minimum |w| = 1/γ and its width do not apply")


def _reciprocal(value: sp.Expr) -> sp.Expr:
    """1/value, simplified within the time limit when SymPy manages (else as it stands)."""
    if value.is_Rational:
        return 1 / value
    try:
        with time_limit():
            return sp.simplify(1 / value)
    except (SymbolicTimeout, NotImplementedError, ValueError, TypeError, AttributeError, RecursionError):
        return 1 / value


def _above_gamma(limit: sp.Expr, gamma) -> bool:
    """Whether L exceeds γ's upper bound (outward rounded), or for an estimate its 30-digit value by over one unit."""
    top = gamma.enclosure[1] if gamma.enclosure[1] != "oo" else gamma.value
    with mpmath.workdps(_CHECK_DIGITS):
        try:
            value = mpmath.mpf(str(sp.N(limit, _CHECK_DIGITS)))
        except (TypeError, ValueError):
            return True  # not a real number: not an L to use
        return value > mpmath.mpf(top) * (1 + mpmath.mpf(10) ** -29)


def _same_number(a: sp.Expr, b: sp.Expr | None, b_value) -> bool:
    """a = b, exactly when both are exact, else to 30 digits."""
    if b is not None:
        try:
            with time_limit():
                return sp.simplify(a - b) == 0
        except (SymbolicTimeout, NotImplementedError, ValueError, TypeError):
            pass  # decide on the digits below
    with mpmath.workdps(_CHECK_DIGITS):
        return abs(mpmath.mpf(sp.N(a, _CHECK_DIGITS)) - b_value) < mpmath.mpf(10) ** -30 * abs(b_value)


def _signs(gamma, lowest_level: float) -> tuple[int, ...]:
    """The s for which σ′ = s/|w| can hold at a sample: +1 unless sup σ′ < every level, −1 unless inf σ′ > −every level.

    Uses γ's records of sup σ′ and inf σ′ where they carry a proven bound (not an estimate).
    """
    signs = []
    for sign, record in ((1, getattr(gamma, "sup", None)), (-1, getattr(gamma, "inf", None))):
        if record is None or record.method == "estimate" or not record.bounded:
            signs.append(sign)
            continue
        with mpmath.workdps(_CHECK_DIGITS):
            reach = sign * mpmath.mpf(record.enclosure[1] if sign > 0 else record.enclosure[0])
        if reach >= lowest_level:
            signs.append(sign)
    return tuple(signs)


def _samples(low: float, high: float | None) -> tuple[float, ...]:
    """|w| values strictly inside the bounded range (1/γ, 1/L), where a closed form is checked."""
    top = 64 * low if high is None else high
    return tuple(low * (top / low) ** t for t in (0.05, 0.3, 0.6, 0.95))


def _exact_maximum(width: sp.Expr, min_abs_w) -> tuple[sp.Expr, sp.Expr] | None:
    """(argmax, max) of an algebraic width by solving d(width)/d|w| = 0; None if transcendental.

    Candidates are the critical points beyond 1/γ, the end point 1/γ (width 0)
    and the limit at |w| → ∞; the best one is returned when it is a critical point.
    """
    if width.has(sp.log, sp.exp, sp.acosh, sp.asinh, sp.atan) or min_abs_w is None:
        return None
    try:
        with time_limit():
            critical = [c for c in sp.solve(sp.diff(width, W), W) if c.is_real and bool(c > min_abs_w)]
    except (SymbolicTimeout, NotImplementedError, ValueError, TypeError):
        return None
    if not critical:
        return None
    values = [(sp.simplify(width.subs(W, c)), c) for c in critical]
    best_value, best_at = max(values, key=lambda p: float(p[0]))
    others = [width.subs(W, min_abs_w), sp.limit(width, W, sp.oo)]
    if all(float(best_value) > float(o) for o in others):
        return sp.nsimplify(best_at), best_value
    return None


@dataclass(frozen=True)
class SimplificationResult:
    """SymPy's sigmoid width, step by step, down to Nielsen's eq. (123).

    Attributes
    ----------
    steps : tuple of (str, sympy.Expr)
        Each step's justification and the expression it gives.
    symbolic_equal : bool
        ``simplify(logcombine(sympy − eq123)) == 0`` (log a + log b = log ab is
        valid here because both arguments are positive for |w| > 4).
    max_numeric_difference : str
        max |sympy − eq123| over |w| in :data:`CHECK_POINTS` at 50 digits.
    """

    steps: tuple[tuple[str, sp.Expr], ...]
    symbolic_equal: bool
    max_numeric_difference: str

    def to_json(self) -> dict:
        return {
            "steps": [{"step": why, "expression": str(e), "latex": sp.latex(e)} for why, e in self.steps],
            "symbolic_equal": self.symbolic_equal,
            "max_numeric_difference": self.max_numeric_difference,
        }

    def to_markdown(self) -> str:
        lines = [f"{i}. {why}:\n\n   $${sp.latex(e)}$$\n" for i, (why, e) in enumerate(self.steps, 1)]
        lines.append(f"Symbolically equal to eq. (123): {self.symbolic_equal}; "
                     f"largest numeric difference at 50 digits: {self.max_numeric_difference}.")
        return "\n".join(lines)


#: |w| values at which the simplification is also checked numerically.
CHECK_POINTS = ("4", "4.0001", "5", "6.9", "10", "1000", "1e12")


def sigmoid_simplification() -> SimplificationResult:
    """Show SymPy's sigmoid window and simplify it to eq. (123) (``proofs/window.md``, part 2).

    >>> r = sigmoid_simplification()
    >>> r.symbolic_equal, float(r.max_numeric_difference) < 1e-45
    (True, True)
    >>> r.steps[-1][1] == NIELSEN_EQ_123
    True
    """
    act = get_activation("sigmoid")
    d = derive_window(act)
    lo, hi = d.roots
    raw = (hi - lo) / W
    t_hi, t_lo = sp.exp(hi), sp.exp(lo)  # the roots are logarithms: z± = ln t±
    product = sp.expand(t_hi * t_lo)
    halved = 2 * hi / W  # ln t₋ = −ln t₊ because t₊t₋ = 1
    difference = sp.simplify(raw - NIELSEN_EQ_123)
    symbolic_equal = sp.simplify(sp.logcombine(difference, force=True)) == 0 and product == 1
    steps = (
        ("σ′(z), by SymPy from σ(z) = 1/(1+e^{-z})", act.derivative),
        ("the solutions z of σ′(z) = 1/|w| (sympy.solve)", sp.Tuple(lo, hi)),
        ("window width in a: (z₊ − z₋)/|w|", raw),
        ("the product of the roots' exponentials t₊t₋ (so ln t₋ = −ln t₊)", product),
        ("hence width = 2 ln t₊ / |w|", halved),
        ("Nielsen's eq. (123), equal to the line above", NIELSEN_EQ_123),
    )
    f_sympy = sp.lambdify(W, raw, modules="mpmath")
    f_eq = sp.lambdify(W, NIELSEN_EQ_123, modules="mpmath")
    with mpmath.workdps(_CHECK_DIGITS + 10):
        diff = max(abs(f_sympy(mpmath.mpf(p)) - f_eq(mpmath.mpf(p))) for p in CHECK_POINTS)
        shown = mpmath.nstr(diff, 5)
    return SimplificationResult(steps=steps, symbolic_equal=bool(symbolic_equal), max_numeric_difference=shown)


@dataclass(frozen=True)
class TanhRelation:
    """tanh(z) = 2σ(2z) − 1, hence W_tanh(|w|) = 2·W_sigmoid(4|w|) (``proofs/tanh-relation.md``).

    Each check is (statement, SymPy's verdict); ``max_numeric_difference`` is
    max |W_tanh(u) − 2W_sigmoid(4u)| over :data:`CHECK_POINTS` (divided by 4) at 50 digits.
    """

    checks: tuple[tuple[str, bool], ...]
    max_numeric_difference: str

    @property
    def holds(self) -> bool:
        return all(ok for _, ok in self.checks)

    def to_json(self) -> dict:
        return {"checks": [{"statement": s, "holds": ok} for s, ok in self.checks],
                "max_numeric_difference": self.max_numeric_difference}


def tanh_relation() -> TanhRelation:
    """Verify tanh(z) = 2σ(2z) − 1, tanh′(z) = 4σ′(2z) and W_tanh(u) = 2W_sigmoid(4u) with SymPy.

    >>> r = tanh_relation()
    >>> r.holds, float(r.max_numeric_difference) < 1e-45
    (True, True)
    """
    sig, tnh = get_activation("sigmoid"), get_activation("tanh")
    ws, wt = derive_window(sig).width, derive_window(tnh).width
    relation = wt - 2 * ws.subs(W, 4 * W)
    checks = (
        ("tanh(z) = 2σ(2z) − 1", sp.simplify((tnh.expression - (2 * sig.expression.subs(X, 2 * X) - 1))
                                            .rewrite(sp.exp)) == 0),
        ("tanh′(z) = 4σ′(2z)", sp.simplify((tnh.derivative - 4 * sig.derivative.subs(X, 2 * X))
                                          .rewrite(sp.exp)) == 0),
        ("γ_tanh = 4γ_sigmoid, so min |w| for tanh is (min |w| for sigmoid)/4",
         sp.simplify(tnh.gamma.exact - 4 * sig.gamma.exact) == 0),
        ("W_tanh(u) = 2·W_sigmoid(4u) for u ≥ 1",
         sp.simplify(sp.logcombine(sp.expand_log(relation, force=True), force=True)) == 0
         or sp.simplify(relation) == 0),
    )
    f = sp.lambdify(W, relation, modules="mpmath")
    with mpmath.workdps(_CHECK_DIGITS + 10):
        diff = max(abs(f(mpmath.mpf(p) / 4)) for p in CHECK_POINTS)
        shown = mpmath.nstr(diff, 5)
    return TanhRelation(checks=checks, max_numeric_difference=shown)
