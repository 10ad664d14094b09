"""Nielsen's identity neuron: w₂σ(w₁x + b) ≈ x on [0, 1], with an explicit error bound.

Write x = ½ + Δ (|Δ| ≤ ½) and take b = −w₁/2, so w₁x + b = w₁Δ = t. SymPy's
series of the activation gives σ(t) = ½ + t/4 − t³/48 + …, and with w₂ = 4/w₁

    w₂σ(w₁x + b) = x + c + R,   c = 2/w₁ − ½,   |R| ≤ (4/w₁)·(M₃/6)·|w₁Δ|³ = w₁²|Δ|³/12 ≤ w₁²/96,

where M₃ = sup|σ‴| = 1/8 (derived below, Lagrange remainder: σ″(0) = 0). The
constant c does not depend on x, so the next layer's bias absorbs it; it cannot
be removed inside the neuron itself: matching the slope forces w₂σ′(b)w₁ ≈ 1,
and then the value at x = 0 is w₂σ(b) = σ(b)/(w₁σ′(b)) = 1/(w₁(1 − σ(b))) > 1/w₁.
Proof in ``proofs/identity-neuron.md``; :func:`check_identity_bound` checks the
bound on a grid at 40 digits.

Examples
--------
>>> d = derive_identity()
>>> d.series, d.third_derivative_sup, d.bound
(1/2 + t/4 - t**3/48 + O(t**5), 1/8, w_1**2/96)
>>> c = check_identity_bound(0.01)
>>> c.holds, c.max_error / c.bound > 0.999      # the bound is nearly attained
(True, True)
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import mpmath
import numpy as np
import sympy as sp

from gradmath.activations import get_activation
from gradmath.expressions import X
from gradmath.validation import check_int, check_real

__all__ = ["IdentityDerivation", "IdentityCheck", "derive_identity", "check_identity_bound", "W1", "T"]

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
    """max over a grid of x ∈ [0, 1] of |w₂σ(w₁x + b) − x − c|, against the bound w₁²/96."""

    w1: float
    points: int
    max_error: float
    bound: float
    holds: bool

    def to_json(self) -> dict:
        return {"w1": repr(self.w1), "points": self.points, "max_error": repr(self.max_error),
                "bound": repr(self.bound), "holds": self.holds}


def check_identity_bound(w1: float, *, points: int = 2001) -> IdentityCheck:
    """Evaluate the identity neuron on ``points`` equally spaced x in [0, 1] at 40 digits.

    The sigmoid is evaluated from its definition with mpmath (not the series), so
    this checks the derivation independently of it.
    """
    w1 = check_real("w1", w1, min_value=0.0, allow_equal=False)
    points = check_int("points", points, min_value=2, max_value=10**6)
    d = derive_identity()
    sigma = get_activation("sigmoid").sigma_mp
    with mpmath.workdps(40):
        w = mpmath.mpf(w1)
        b, w2 = -w / 2, 4 / w
        c = 2 / w - mpmath.mpf(1) / 2
        worst = max(abs(w2 * sigma(w * x + b) - x - c) for x in mpmath.linspace(0, 1, points))
        bound = mpmath.mpf(sp.N(d.bound.subs(W1, sp.Rational(str(w1))), 40))
        holds = bool(worst <= bound)
    return IdentityCheck(w1, points, float(worst), float(bound), holds and bool(np.isfinite(float(worst))))
