"""Nielsen's exploding-gradient construction: w_j = 100, b_j = −100·a_{j−1}.

In the chain a_j = σ(z_j), z_j = w_j a_{j−1} + b_j, the gradient is
∂C/∂b_1 = σ′(z_1) · Π_{j=2..L} w_j σ′(z_j) · ∂C/∂a_L (chapter 5). With every
w_j = w and b_j = −w·a_{j−1}, every z_j is exactly 0, every factor is
w·σ′(0) (25 for the sigmoid and w = 100), and ∂C/∂b_1 = 25^{L−1}·∂C/∂b_L.
Proof in ``proofs/exploding.md``.

The construction is fragile: if every bias is off by ε, z_1 = ε and
z_j = w(σ(z_{j−1}) − σ(0)) + ε, which grows until the neurons saturate and the
factors w·σ′(z_j) collapse. :func:`bias_error_factor` gives the one-layer factor
w·σ′(ε) exactly; :func:`perturbed_chain` the whole depth in log10.

Examples
--------
>>> r = exploding_chain(depth=4)
>>> r.factor, r.all_z_zero, r.log10_ratio
(25, True, '4.19382002601611')
>>> exploding_chain(depth=10**6, check_depth=50).log10_ratio   # 25^999999: log space
'1397938.61073203'
>>> bias_error_factor().series
25 - 25*epsilon**2/4 + O(epsilon**4)
>>> round(perturbed_chain(depth=30, bias_error=1e-6).log10_ratio)   # not 29·log10(25) ≈ 40.5
-470
>>> bias_error_factor().breakeven     # 25 sech²(ε/2) = 1 at |ε| = 2 acosh 5
'4.58486333912236'
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import mpmath
import numpy as np
import sympy as sp

from gradmath.activations import Activation, get_activation
from gradmath.errors import InvalidParameterError
from gradmath.expressions import X
from gradmath.validation import check_int, check_real

__all__ = ["ExplodingResult", "BiasErrorFactor", "PerturbedChain", "exploding_chain", "bias_error_factor",
           "perturbed_chain"]

EPS = sp.Symbol("epsilon", real=True)  # the bias error ε
_NUMERIC_DEPTH = 10_000


@dataclass(frozen=True)
class ExplodingResult:
    """The construction at depth L: the exact factor, log10 of ∂C/∂b_1 ÷ ∂C/∂b_L, and the checks.

    ``all_z_zero`` is SymPy's verdict that z_j simplifies to 0 for j ≤ ``check_depth``
    (a₀ symbolic); ``numeric_log10`` is Σ_{j=2..N} log10|w σ′(z_j)| from a float64 forward pass
    over the first N = ``numeric_depth`` layers (all of them up to 10,000).
    """

    activation: str
    depth: int
    weight: sp.Expr
    factor: sp.Expr
    all_z_zero: bool
    log10_ratio: str
    numeric_log10: float
    check_depth: int
    numeric_depth: int

    def to_json(self) -> dict:
        return {"activation": self.activation, "depth": self.depth, "weight": str(self.weight),
                "factor": str(self.factor), "all_z_zero": self.all_z_zero, "log10_ratio": self.log10_ratio,
                "numeric_log10": repr(self.numeric_log10), "check_depth": self.check_depth,
                "numeric_depth": self.numeric_depth}


def exploding_chain(depth: int, *, weight=100, activation: str | Activation = "sigmoid",
                    check_depth: int = 8) -> ExplodingResult:
    """Build Nielsen's construction and verify it symbolically and numerically.

    Parameters
    ----------
    depth : int
        L ≥ 1 neurons in the chain.
    weight : int or str
        w (exact: an integer or a rational string such as ``"100"``, ``"5/2"``).
    check_depth : int
        Layers verified symbolically (z_j ≡ 0 with a₀ a symbol); the float64
        forward pass (a₀ = 0.3) runs min(L, 10000) layers. The log10 ratio itself
        is (L − 1)·log10(w σ′(0)), exact by induction (``proofs/exploding.md``).
    """
    act = get_activation(activation)
    depth = check_int("depth", depth, min_value=1)
    check_depth = min(check_int("check_depth", check_depth, min_value=1), depth)
    w = sp.nsimplify(weight, rational=True)
    if not w.is_real or w == 0:
        raise InvalidParameterError(f"weight={weight!r} must be a non-zero real number")
    a0 = sp.Symbol("a_0", real=True)
    a, zero = a0, True
    for _ in range(check_depth):
        b = -w * a
        z = sp.simplify(w * a + b)
        zero = zero and z == 0
        a = act.expression.subs(X, z)
    factor = sp.simplify(w * act.derivative.subs(X, 0))
    with mpmath.workdps(30):
        log10_ratio = mpmath.nstr((depth - 1) * mpmath.log10(abs(mpmath.mpf(sp.N(factor, 40)))), 15)
    numeric_depth = min(depth, _NUMERIC_DEPTH)
    numeric = _forward_log10(act, float(w), numeric_depth, bias_error=0.0, a0=0.3)
    return ExplodingResult(act.name, depth, w, factor, bool(zero), log10_ratio, numeric, check_depth, numeric_depth)


def _forward_log10(act: Activation, w: float, depth: int, *, bias_error: float, a0: float):
    """Σ_{j=2..L} log10|w σ′(z_j)| of a float64 forward pass with b_j = −w·a*_{j−1} + ε."""
    a_nominal = a_actual = a0
    total = 0.0
    for j in range(1, depth + 1):
        b = -w * a_nominal + bias_error
        z = w * a_actual + b
        if j > 1:
            factor = abs(w * float(act.prime(z)))
            total += math.log10(factor) if factor > 0 else -math.inf
        a_nominal = float(act.sigma(0.0))
        a_actual = float(act.sigma(z))
    return total


@dataclass(frozen=True)
class BiasErrorFactor:
    """The one-layer factor w·σ′(ε) when the bias is off by ε, its series, and where it drops below 1."""

    activation: str
    weight: sp.Expr
    factor: sp.Expr
    series: sp.Expr
    breakeven: str

    def to_json(self) -> dict:
        return {"activation": self.activation, "weight": str(self.weight), "factor": str(self.factor),
                "series": str(self.series), "breakeven_abs_error": self.breakeven}


def bias_error_factor(*, weight=100, activation: str | Activation = "sigmoid") -> BiasErrorFactor:
    """w·σ′(ε) as a SymPy expression in ε, its Taylor series, and the |ε| where it falls to 1."""
    act = get_activation(activation)
    w = sp.nsimplify(weight, rational=True)
    factor = sp.simplify(w * act.derivative.subs(X, EPS))
    series = sp.series(factor, EPS, 0, 4)
    f = sp.lambdify(EPS, factor - 1, modules="mpmath")
    with mpmath.workdps(30):
        far = mpmath.mpf(60)
        if f(mpmath.mpf(0)) > 0 > f(far):  # one sign change on [0, 60] for a bell-shaped σ′
            breakeven = mpmath.nstr(mpmath.findroot(f, (mpmath.mpf(0), far), solver="illinois"), 15)
        else:
            breakeven = "none"
    return BiasErrorFactor(act.name, w, factor, series, breakeven)


@dataclass(frozen=True)
class PerturbedChain:
    """log10(∂C/∂b_1 ÷ ∂C/∂b_L) when every bias is off by ``bias_error`` (errors propagate)."""

    activation: str
    depth: int
    weight: float
    bias_error: float
    log10_ratio: float

    def to_json(self) -> dict:
        return {"activation": self.activation, "depth": self.depth, "weight": repr(self.weight),
                "bias_error": repr(self.bias_error), "log10_ratio": repr(self.log10_ratio)}


def perturbed_chain(*, depth: int, bias_error: float, weight: float = 100.0,
                    activation: str | Activation = "sigmoid", a0: float = 0.3) -> PerturbedChain:
    """The construction with every bias off by ε, run forward in float64 (the sum is in log10)."""
    act = get_activation(activation)
    depth = check_int("depth", depth, min_value=1)
    eps = check_real("bias_error", bias_error)
    w = check_real("weight", weight)
    with np.errstate(under="ignore"):  # σ′ of a saturated neuron underflows to 0: log10 = −inf is the answer
        value = _forward_log10(act, w, depth, bias_error=eps, a0=a0)
    return PerturbedChain(act.name, depth, w, eps, value)
