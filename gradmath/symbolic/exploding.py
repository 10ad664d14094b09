"""Nielsen's exploding-gradient construction: w_j = 100, b_j = −100·a_{j−1}.

In the chain a_j = σ(z_j), z_j = w_j a_{j−1} + b_j, the gradient is
∂C/∂b_1 = σ′(z_1) · Π_{j=2..L} w_j σ′(z_j) · ∂C/∂a_L (chapter 5). With every
w_j = w and b_j = −w·a_{j−1}, every z_j is exactly 0, every factor is
w·σ′(0) (25 for the sigmoid and w = 100), and ∂C/∂b_1 = 25^{L−1}·∂C/∂b_L.
Proof in ``proofs/exploding.md``.

In general ∂C/∂b_L = σ′(z_L)·∂C/∂a_L, so the ratio ∂C/∂b_1 ÷ ∂C/∂b_L is
σ′(z_1)/σ′(z_L) · Π_{j=2..L} w σ′(z_j) = Π_{j=1..L−1} w σ′(z_j), the factors of
the first L − 1 layers (σ′(z_1) included, σ′(z_L) cancelled).

The construction is fragile: if every bias is off by ε, z_1 = ε and
z_j = w(σ(z_{j−1}) − σ(0)) + ε, which grows until the neurons saturate and the
factors w·σ′(z_j) collapse. :func:`bias_error_factor` gives the one-layer factor
w·σ′(ε) exactly; :func:`perturbed_chain` the whole depth in log10.

Where w·σ′(0) = 0 (an activation with σ′(0) = 0) every gradient ∂C/∂b_j is 0 and
the product of the factors is 0: no log10 is reported (``None`` in Python,
``null`` in JSON), and ``zero_reason`` says why. Weights and bias errors given as
strings are read by :func:`gradmath.numbers.exact_real` (a decimal or ``p/q``),
never evaluated.

Examples
--------
>>> r = exploding_chain(depth=4)
>>> r.factor, r.all_z_zero, r.log10_ratio
(25, True, '4.19382002601611')
>>> exploding_chain(depth=10**6, check_depth=50).log10_ratio   # 25^999999: log space
'1397938.61073203'
>>> bias_error_factor().series
25 - 25*epsilon**2/4 + O(epsilon**4)
>>> round(perturbed_chain(depth=30, bias_error="1e-6").log10_ratio)   # not 29·log10(25) ≈ 40.5
-449
>>> bias_error_factor().breakeven     # 25 sech²(ε/2) = 1 at |ε| = 2 acosh 5
'4.58486333912236'
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import mpmath
import numpy as np
import sympy as sp

from gradmath.activations import Activation, check_no_dirac_delta, get_activation
from gradmath.errors import InvalidParameterError, NonFiniteError, VerificationError
from gradmath.expressions import X
from gradmath.numbers import exact_real, finite_float
from gradmath.validation import check_int

__all__ = ["ExplodingResult", "BiasErrorFactor", "PerturbedChain", "exploding_chain", "bias_error_factor",
           "perturbed_chain", "MAX_PERTURBED_DEPTH", "MIN_BIAS_ERROR", "WEIGHT_RANGE"]

EPS = sp.Symbol("epsilon", real=True)  # the bias error ε
_NUMERIC_DEPTH = 10_000
#: Deepest chain :func:`perturbed_chain` runs (one mpmath evaluation of σ and σ′ per layer).
MAX_PERTURBED_DEPTH = 100_000
#: Smallest non-zero |ε| :func:`perturbed_chain` takes (its working precision grows with log10(1/|ε|)).
MIN_BIAS_ERROR = sp.Rational(1, 10**300)
_ULP = float(np.finfo(np.float64).eps)
#: The |w| the construction takes, [1e-100, 1e100] (its float64 check must stay in range).
WEIGHT_RANGE = (sp.Rational(1, 10**100), sp.Integer(10**100))


_ZERO_REASON = ("w·σ′(0) = 0: every ∂C/∂b_j is 0 and the product of the factors w·σ′(z_j) is 0, "
                "so log10 of the ratio is −∞ (reported as null)")


@dataclass(frozen=True)
class ExplodingResult:
    """The construction at depth L: the exact factor, log10|∂C/∂b_1 ÷ ∂C/∂b_L|, and the checks.

    ``all_z_zero`` is SymPy's verdict that z_j simplifies to 0 for j ≤ ``check_depth``
    (a₀ symbolic); ``numeric_log10`` is Σ_{j=1..N−1} log10|w σ′(z_j)| from a float64 forward pass
    over the first N = ``numeric_depth`` layers (all of them up to 10,000), checked against the
    exact value. ``log10_ratio`` and ``numeric_log10`` are ``None`` when w·σ′(0) = 0 (the ratio's
    factors are 0; ``zero_reason`` says so).
    """

    activation: str
    depth: int
    weight: sp.Expr
    factor: sp.Expr
    all_z_zero: bool
    log10_ratio: str | None
    numeric_log10: float | None
    check_depth: int
    numeric_depth: int
    zero_reason: str | None = None

    def to_json(self) -> dict:
        return {"activation": self.activation, "depth": self.depth, "weight": str(self.weight),
                "factor": str(self.factor), "all_z_zero": self.all_z_zero, "log10_ratio": self.log10_ratio,
                "numeric_log10": None if self.numeric_log10 is None else repr(self.numeric_log10),
                "zero_reason": self.zero_reason, "check_depth": self.check_depth,
                "numeric_depth": self.numeric_depth}


def _weight(weight) -> sp.Expr:
    w = exact_real(weight, name="weight")
    if w == 0:
        raise InvalidParameterError(f"weight={weight!r} must be a non-zero real number")
    if not WEIGHT_RANGE[0] <= abs(w) <= WEIGHT_RANGE[1]:
        raise InvalidParameterError(f"weight={weight!r} must have 1e-100 ≤ |w| ≤ 1e100 (the float64 check "
                                    "needs w·σ′ in range)")
    return w


def _factor_at_zero(act: Activation, w: sp.Expr) -> sp.Expr:
    factor = sp.simplify(w * act.derivative.subs(X, 0))
    if factor.has(sp.nan, sp.zoo, sp.oo, -sp.oo) or factor.is_extended_real is not True or factor.is_finite is not True:
        raise InvalidParameterError(f"activation {act.name!r} has σ′(0) = {act.derivative.subs(X, 0)}: "
                                    "the construction needs a finite real σ′(0)")
    return factor


def exploding_chain(depth: int, *, weight=100, activation: str | Activation = "sigmoid",
                    check_depth: int = 8) -> ExplodingResult:
    """Build Nielsen's construction and verify it symbolically and numerically.

    Parameters
    ----------
    depth : int
        L ≥ 1 neurons in the chain.
    weight : int, str, Fraction, float or SymPy number
        w ≠ 0, kept exact: a rational string such as ``"100"``, ``"5/2"``, ``"0.1"``
        (read by :func:`gradmath.numbers.exact_real`), a float at its exact binary value.
    check_depth : int
        Layers verified symbolically (z_j ≡ 0 with a₀ a symbol); the float64
        forward pass (a₀ = 0.3) runs min(L, 10000) layers. The log10 ratio itself
        is (L − 1)·log10|w σ′(0)|, exact by induction (``proofs/exploding.md``).

    Raises
    ------
    VerificationError
        If the float64 forward pass disagrees with the exact value (for instance an activation
        whose NumPy σ′(0) differs from its SymPy σ′(0)).
    """
    depth = check_int("depth", depth, min_value=1)
    check_depth = min(check_int("check_depth", check_depth, min_value=1, max_value=64), depth)
    w = _weight(weight)
    act = check_no_dirac_delta(get_activation(activation))
    factor = _factor_at_zero(act, w)
    a0 = sp.Symbol("a_0", real=True)
    a, zero = a0, True
    for _ in range(check_depth):
        b = -w * a
        z = sp.simplify(w * a + b)
        zero = zero and z == 0
        a = act.expression.subs(X, z)
    numeric_depth = min(depth, _NUMERIC_DEPTH)
    numeric = _forward_log10(act, float(w), numeric_depth, a0=0.3)
    if depth > 1 and factor == 0:
        if numeric != -math.inf:
            raise VerificationError(f"activation {act.name!r}: SymPy gives w·σ′(0) = 0 but the float64 forward "
                                    f"pass gives log10 {numeric!r}; the two σ′(0) disagree (please report)")
        return ExplodingResult(act.name, depth, w, factor, bool(zero), None, None, check_depth, numeric_depth,
                               _ZERO_REASON)
    with mpmath.workdps(30):
        term = mpmath.log10(abs(mpmath.mpf(sp.N(factor, 40)))) if factor != 0 else mpmath.mpf(0)  # L = 1: no factor
        log10_ratio = mpmath.nstr((depth - 1) * term, 15)
        expected = float((numeric_depth - 1) * term)
    # each float64 term log10|w·σ′(0)| within 64ε(1 + |term|) (the house allowance per layer), summed by fsum
    allowance = (numeric_depth - 1) * 64 * _ULP * (1 + abs(float(term))) + _ULP * abs(expected)
    if not abs(numeric - expected) <= allowance:
        raise VerificationError(f"activation {act.name!r}: the float64 forward pass gives log10 ratio {numeric!r} over "
                                f"{numeric_depth} layers, the exact value is {expected!r}; SymPy's σ′(0) and "
                                "NumPy's disagree (please report)")
    return ExplodingResult(act.name, depth, w, factor, bool(zero), log10_ratio, numeric, check_depth, numeric_depth)


def _forward_log10(act: Activation, w: float, depth: int, *, a0: float) -> float:
    """Σ_{j=1..L−1} log10|w σ′(z_j)| of a float64 forward pass with b_j = −w·a_{j−1} (so z_j = 0)."""
    a = a0
    terms = []
    for _ in range(1, depth):
        z = w * a + (-w * a)
        factor = abs(w * float(act.prime(z)))
        if factor == 0:
            return -math.inf
        terms.append(math.log10(factor))
        a = float(act.sigma(z))
    return math.fsum(terms)


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
    """w·σ′(ε) as a SymPy expression in ε, its Taylor series, and the |ε| where it falls to 1.

    ``weight`` is read as in :func:`exploding_chain`.
    """
    w = _weight(weight)
    act = check_no_dirac_delta(get_activation(activation))
    factor = sp.simplify(w * act.derivative.subs(X, EPS))
    series = sp.series(factor, EPS, 0, 4)
    return BiasErrorFactor(act.name, w, factor, series, _breakeven(factor))


#: How far, and on how many grid points per side, :func:`_breakeven` looks for the crossing of 1.
_BREAKEVEN_REACH, _BREAKEVEN_POINTS = 60, 1200


def _breakeven(factor: sp.Expr) -> str:
    """The r with w·σ′(ε) > 1 for |ε| < r and < 1 for r < |ε| ≤ 60, to 15 digits, or ``"none"``.

    w·σ′(ε) − 1 is sampled in float64 on a grid of [−60, 60] (an overflow is cheap there, where mpmath
    could build a huge integer for exp(exp(exp(ε)))): a value is given only when every sample is finite,
    each side has exactly one sign change, from + at 0 to −, and the two roots, refined by mpmath in
    their grid cells, agree (σ′ bell-shaped and even, as for the sigmoid). A σ′ that comes back above 1
    (sin), is one-sided (SiLU) or overflows gives "none".
    """
    from gradmath.activations import _for_numeric, _np_erf, _np_heaviside
    from scipy.special import erfc

    modules = [{"erf": _np_erf, "erfc": erfc, "Heaviside": _np_heaviside}, "numpy"]
    f_np = sp.lambdify(EPS, _for_numeric(factor - 1), modules=modules)
    f_mp = sp.lambdify(EPS, factor - 1, modules="mpmath")
    roots = []
    for side in (1.0, -1.0):
        grid = side * np.linspace(0.0, _BREAKEVEN_REACH, _BREAKEVEN_POINTS + 1)
        with np.errstate(all="ignore"):
            try:
                values = np.broadcast_to(np.asarray(f_np(grid), dtype=np.float64), grid.shape)
            except (ArithmeticError, ValueError, TypeError):
                return "none"
        if not np.isfinite(values).all() or not values[0] > 0 or not values[-1] < 0:
            return "none"
        changes = np.flatnonzero((values[:-1] > 0) != (values[1:] > 0))
        if len(changes) != 1:
            return "none"
        k = int(changes[0])
        with mpmath.workdps(30):
            try:
                root = mpmath.findroot(f_mp, (mpmath.mpf(grid[k]), mpmath.mpf(grid[k + 1])), solver="illinois")
            except (ArithmeticError, ValueError, TypeError):
                return "none"
        if not (isinstance(root, mpmath.mpf) and min(grid[k], grid[k + 1]) <= root <= max(grid[k], grid[k + 1])):
            return "none"
        roots.append(abs(root))
    with mpmath.workdps(30):
        if abs(roots[0] - roots[1]) > mpmath.mpf(10) ** -20 * (1 + roots[0]):
            return "none"  # not even: |ε| > r would be wrong on one side
        return mpmath.nstr(roots[0], 15)


@dataclass(frozen=True)
class PerturbedChain:
    """log10|∂C/∂b_1 ÷ ∂C/∂b_L| when every bias is off by ``bias_error`` (errors propagate).

    The ratio is Π_{j=1..L−1} w σ′(z_j) (σ′(z_1) included, σ′(z_L) cancelled); ``log10_ratio``
    is ``None`` when one of those factors is 0, with ``zero_reason`` naming the layer.
    """

    activation: str
    depth: int
    weight: float
    bias_error: float
    log10_ratio: float | None
    zero_reason: str | None = None

    def to_json(self) -> dict:
        return {"activation": self.activation, "depth": self.depth, "weight": repr(self.weight),
                "bias_error": repr(self.bias_error),
                "log10_ratio": None if self.log10_ratio is None else repr(self.log10_ratio),
                "zero_reason": self.zero_reason}


def _mpf(value: sp.Expr, dps: int):
    if isinstance(value, sp.Rational):
        return mpmath.mpf(value.p) / value.q
    return mpmath.mpf(str(sp.N(value, dps + 10)))


_MAX_FACTOR_DIGITS = 2000


def _prime_accurately(act: Activation, z, j: int, dps: int, prime_mp):
    """σ′(z) to 15 significant digits: evaluated at two precisions 20 digits apart, doubling them until
    the two agree (a form such as 1 − tanh²z cancels: at z = 100 it needs 87 more digits). A value that
    is 0 at both is taken as 0 only if SymPy finds σ′ exactly 0 at that z (ReLU for z < 0, x³ at 0)."""
    digits, exact_zero = dps, None
    while True:
        with mpmath.workdps(digits):
            first = _real(prime_mp(z), act, "σ′", z, j)
        with mpmath.workdps(digits + 20):
            second = _real(prime_mp(z), act, "σ′", z, j)
        if first == second == 0:
            if exact_zero is None:
                exact_zero = _is_exact_zero(act, z)
            if exact_zero:
                return mpmath.mpf(0)
        elif abs(first - second) <= mpmath.mpf(10) ** -15 * abs(second):
            return second
        if digits >= _MAX_FACTOR_DIGITS:
            raise InvalidParameterError(f"activation {act.name!r}: σ′(z_{j}) at z_{j} = {mpmath.nstr(z, 10)} cannot "
                                        f"be resolved to 15 digits within {_MAX_FACTOR_DIGITS} digits (use a smaller "
                                        "weight)")
        digits = min(2 * digits, _MAX_FACTOR_DIGITS)


def _too_large(act: Activation, what: str, z, j: int) -> InvalidParameterError:
    return InvalidParameterError(
        f"activation {act.name!r}: {what}(z_{j}) at z_{j} = {mpmath.nstr(z, 10)} is too large for mpmath (an "
        "exponential of an argument beyond 2**1000): the activation grows too fast for this chain; use a "
        "smaller --bias-error, --depth or --weight")


def _real(value, act: Activation, what: str, z, j: int):
    """``value`` as an mpf, refused when complex (sqrt or log of a negative z) or not a number."""
    if isinstance(value, (mpmath.mpf, int, float)) and not isinstance(value, bool):
        return mpmath.mpf(value)
    raise InvalidParameterError(f"activation {act.name!r}: {what}(z_{j}) is not real at z_{j} = {mpmath.nstr(z, 10)}; "
                                "the chain needs σ defined on all of ℝ")


def _is_exact_zero(act: Activation, z) -> bool:
    sign, man, exp, _ = mpmath.mpf(z)._mpf_  # z exactly: (−1)^sign · man · 2^exp
    value = (-1) ** sign * sp.Integer(man) * sp.Integer(2) ** exp
    return act.derivative.subs(X, value) == 0


def perturbed_chain(*, depth: int, bias_error, weight=100,
                    activation: str | Activation = "sigmoid", a0=0.3) -> PerturbedChain:
    """The construction with every bias off by ε: log10|∂C/∂b_1 ÷ ∂C/∂b_L| = Σ_{j<L} log10|w σ′(z_j)|.

    The forward pass z_1 = ε, z_j = w(σ(z_{j−1}) − σ(0)) + ε runs in mpmath at 30 digits plus
    log10(1/|ε|) (no cancellation is lost while z is small, and no factor underflows once the
    neurons saturate). ``weight``, ``bias_error`` and ``a0`` may be numbers or numeric strings
    (:func:`gradmath.numbers.exact_real`). Limits: 1 ≤ depth ≤ :data:`MAX_PERTURBED_DEPTH`;
    ε = 0 or |ε| ≥ 1e-300.
    """
    depth = check_int("depth", depth, min_value=1, max_value=MAX_PERTURBED_DEPTH)
    eps = exact_real(bias_error, name="bias_error")
    w = _weight(weight)
    start = exact_real(a0, name="a0")
    eps_float, w_float = finite_float(eps, name="bias_error"), finite_float(w, name="weight")
    if eps != 0 and abs(eps) < MIN_BIAS_ERROR:
        raise InvalidParameterError(f"bias_error={bias_error!r}: |ε| below 1e-300 is not supported (use 0 for "
                                    "the exact construction)")
    act = check_no_dirac_delta(get_activation(activation))
    extra = 0 if eps == 0 or abs(eps) >= 1 else int(mpmath.ceil(-mpmath.log10(_mpf(abs(eps), 20))))
    dps = 30 + extra
    total = mpmath.mpf(0)
    with mpmath.workdps(dps):
        wm, em = _mpf(w, dps), _mpf(eps, dps)
        a_nominal = a_actual = _mpf(start, dps)
        sigma_mp, prime_mp = act.sigma_mp_guarded, act.prime_mp_guarded
        sigma0 = sigma_mp(mpmath.mpf(0))
        known: dict = {}  # z → σ′(z): past saturation z_j repeats exactly
        for j in range(1, depth):
            z = wm * a_actual - wm * a_nominal + em
            prime = known.get(z._mpf_)
            if prime is None:
                try:
                    prime = known[z._mpf_] = _prime_accurately(act, z, j, dps, prime_mp)
                except (OverflowError, MemoryError) as err:
                    raise _too_large(act, "σ′", z, j) from err
            factor = abs(wm * prime)
            if not mpmath.isfinite(factor):
                raise NonFiniteError(f"activation {act.name!r}: σ′(z_{j}) is not finite at z_{j} = "
                                     f"{mpmath.nstr(z, 10)}")
            if factor == 0:
                reason = (f"w·σ′(z_{j}) = 0 at layer {j} (z_{j} = {mpmath.nstr(z, 6)}): ∂C/∂b_1 is 0 and so "
                          "is the product of the factors, so log10 of the ratio is −∞ (reported as null)")
                return PerturbedChain(act.name, depth, w_float, eps_float, None, reason)
            total += mpmath.log10(factor)
            try:
                a_nominal, a_actual = sigma0, _real(sigma_mp(z), act, "σ", z, j)
            except (OverflowError, MemoryError) as err:
                raise _too_large(act, "σ", z, j) from err
        value = float(total)
    return PerturbedChain(act.name, depth, w_float, eps_float, value)
