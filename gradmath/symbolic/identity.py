"""Nielsen's identity neuron: w₂σ(w₁x + b) ≈ x on [0, 1], with an explicit error bound.

Write x = ½ + Δ (|Δ| ≤ ½) and take b = −w₁/2, so w₁x + b = w₁Δ = t. SymPy's
series of the activation gives σ(t) = ½ + t/4 − t³/48 + …, and with w₂ = 4/w₁

    w₂σ(w₁x + b) = x + c + R,   c = 2/w₁ − ½,   |R| ≤ (4/w₁)·(M₃/6)·|w₁Δ|³ = w₁²|Δ|³/12 ≤ w₁²/96,

where M₃ = sup|σ‴| = 1/8 (derived below, Lagrange remainder: σ″(0) = 0). The
constant c does not depend on x, so the next layer's bias absorbs it; it cannot
be removed inside the neuron itself: matching the slope forces w₂σ′(b)w₁ ≈ 1,
and then the value at x = 0 is w₂σ(b) = σ(b)/(w₁σ′(b)) = 1/(w₁(1 − σ(b))) > 1/w₁.
Proof in ``proofs/identity-neuron.md``; :func:`check_identity_bound` checks the
bound on a grid in interval arithmetic, at a precision chosen from w₁ (the check
subtracts numbers of size 2/w₁ to find an error of size w₁²/96, and the bound is
attained up to a relative gap of about w₁²/40, so small w₁ needs many digits).

Examples
--------
>>> d = derive_identity()
>>> d.series, d.third_derivative_sup, d.bound
(1/2 + t/4 - t**3/48 + O(t**5), 1/8, w_1**2/96)
>>> c = check_identity_bound(0.01)
>>> c.holds, c.max_error / c.bound > 0.999      # the bound is nearly attained
(True, True)
>>> check_identity_bound("1e-15").digits > 60   # 2/w₁ ≈ 1e15 against w₁²/96 ≈ 1e-32
True
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import mpmath
import sympy as sp

from gradmath.activations import get_activation
from gradmath.errors import InvalidParameterError, VerificationError
from gradmath.expressions import X
from gradmath.numbers import exact_rational
from gradmath.validation import check_int

__all__ = ["IdentityDerivation", "IdentityCheck", "derive_identity", "check_identity_bound", "W1", "T",
           "W1_RANGE"]

#: The w₁ that :func:`check_identity_bound` accepts, [1e-100, 1e100] (the precision grows with log10(1/w₁)).
W1_RANGE = (sp.Rational(1, 10**100), sp.Integer(10**100))
_GUARD_DIGITS = 15
_MAX_DIGITS = 4000

W1 = sp.Symbol("w_1", positive=True)
T = sp.Symbol("t", real=True)  # t = w₁Δ
ABS_DELTA = sp.Symbol("|Delta|", nonnegative=True)  # |Δ| = |x − ½|


@dataclass(frozen=True)
class IdentityDerivation:
    """Choices (b, w₂, offset c) as functions of w₁, the series of σ, sup|σ‴| and the error bound."""

    bias: sp.Expr
    w2: sp.Expr
    offset: sp.Expr
    series: sp.Expr
    third_derivative_sup: sp.Expr
    bound_in_delta: sp.Expr
    bound: sp.Expr

    def to_json(self) -> dict:
        return {k: str(getattr(self, k)) for k in
                ("bias", "w2", "offset", "series", "third_derivative_sup", "bound_in_delta", "bound")}

    def to_latex(self) -> str:
        return (rf"w_2\sigma(w_1 x + b) = x + {sp.latex(self.offset)} + R,\quad "
                rf"|R| \le {sp.latex(self.bound_in_delta)} \le {sp.latex(self.bound)}")


@lru_cache(maxsize=1)
def derive_identity() -> IdentityDerivation:
    """Derive the identity neuron for the sigmoid from its definition (see the module text)."""
    sigma = get_activation("sigmoid").expression
    series = sp.series(sigma.subs(X, T), T, 0, 5)
    slope = series.removeO().coeff(T, 1)  # 1/4
    w2 = sp.simplify(1 / (slope * W1))
    third = sp.diff(sigma, X, 3)
    critical = sp.solve(sp.diff(third, X), X)
    candidates = [sp.Abs(sp.simplify(third.subs(X, c))) for c in critical]
    candidates += [sp.Abs(sp.limit(third, X, end)) for end in (-sp.oo, sp.oo)]
    sup3 = sp.Max(*candidates)
    bound_delta = sp.simplify(w2 * sup3 / 6 * (W1 * ABS_DELTA) ** 3)
    bound = sp.simplify(bound_delta.subs(ABS_DELTA, sp.Rational(1, 2)))
    offset = sp.simplify(w2 * series.removeO().coeff(T, 0) - sp.Rational(1, 2))
    return IdentityDerivation(bias=-W1 / 2, w2=w2, offset=offset, series=series, third_derivative_sup=sup3,
                              bound_in_delta=bound_delta, bound=bound)


@dataclass(frozen=True)
class IdentityCheck:
    """max over a grid of x ∈ [0, 1] of |w₂σ(w₁x + b) − x − c|, against the bound w₁²/96.

    ``holds`` is decided in interval arithmetic (:mod:`mpmath.iv`) at ``digits`` digits: True
    means every grid point's error interval lies at or below the bound's, False that some
    lies above it. ``max_error`` and ``bound`` are rounded to float64 for printing.
    """

    w1: float
    points: int
    max_error: float
    bound: float
    holds: bool
    digits: int

    def to_json(self) -> dict:
        return {"w1": repr(self.w1), "points": self.points, "max_error": repr(self.max_error),
                "bound": repr(self.bound), "holds": self.holds, "digits": self.digits,
                "method": "interval arithmetic (mpmath.iv)"}


def _digits_needed(w1: sp.Rational) -> int:
    """Digits for the check: cancellation (terms of size max(1, 2/w₁) against w₁²/96), the gap to the
    bound (relative w₁²/40 for small w₁), and guard digits."""
    log_w = float(sp.log(w1, 10).evalf(20))
    cancellation = max(0.0, math.log10(2) - log_w, 0.0) + math.log10(96) - 2 * log_w
    gap = max(0.0, math.log10(40) - 2 * log_w)
    return _GUARD_DIGITS + math.ceil(max(0.0, cancellation)) + math.ceil(gap)


def check_identity_bound(w1, *, points: int = 2001) -> IdentityCheck:
    """Evaluate the identity neuron on ``points`` equally spaced x in [0, 1] in interval arithmetic.

    The sigmoid is evaluated from its definition (its SymPy expression, with interval
    ``exp``), not from the series, so this checks the derivation independently of it.
    ``w1`` is a number or a numeric string (:func:`gradmath.numbers.exact_rational`), taken
    exactly, in :data:`W1_RANGE`. The precision starts from the magnitudes involved and
    doubles (up to 4000 digits) while a grid point cannot be decided.

    Raises
    ------
    VerificationError
        If some grid point stays undecided at 4000 digits (never expected).
    """
    w_exact = exact_rational(w1, name="w1")
    if w_exact <= 0:
        raise InvalidParameterError(f"w1={_show(w1)} must be > 0")
    if not W1_RANGE[0] <= w_exact <= W1_RANGE[1]:
        raise InvalidParameterError(f"w1={_show(w1)} must be in [1e-100, 1e100]")
    points = check_int("points", points, min_value=2, max_value=10**6)
    d = derive_identity()
    sigma = sp.lambdify(X, get_activation("sigmoid").expression, modules=[{"exp": mpmath.iv.exp}])
    bound_exact = d.bound.subs(W1, w_exact)
    digits = _digits_needed(w_exact)
    while True:
        verdict, worst = _check_at(sigma, w_exact, bound_exact, points, digits)
        if verdict is not None:
            break
        if digits >= _MAX_DIGITS:
            raise VerificationError(f"w1={_show(w1)}: the identity bound could not be decided at {digits} digits "
                                    "(please report)")
        digits = min(2 * digits, _MAX_DIGITS)
    return IdentityCheck(float(w_exact), points, worst, float(bound_exact), verdict, digits)


def _show(value) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _check_at(sigma, w_exact: sp.Rational, bound_exact: sp.Rational, points: int, digits: int):
    """(True/False, or None when undecided; the largest error's midpoint as a float) at ``digits``."""
    iv = mpmath.iv
    saved = iv.dps
    iv.dps = digits
    try:
        w = iv.mpf(w_exact.p) / w_exact.q
        b, w2 = -w / 2, 4 / w
        c = 2 / w - iv.mpf(1) / 2
        bound = iv.mpf(bound_exact.p) / bound_exact.q
        above = undecided = False
        worst = None
        for i in range(points):
            x = iv.mpf(i) / (points - 1)
            err = abs(w2 * sigma(w * x + b) - x - c)
            if err.a > bound.b:
                above = True
            elif err.b > bound.a:
                undecided = True
            if worst is None or err.b > worst.b:
                worst = err
        verdict = False if above else (None if undecided else True)
        return verdict, float(worst.mid)
    finally:
        iv.dps = saved
