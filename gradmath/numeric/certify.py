"""A rigorous enclosure of the sigmoid window's maximum, and a proof that it is global.

The argument (``proofs/window.md``, part 3), with W(u) the closed-form width of
:func:`gradmath.symbolic.window.derive_window` at u = |w| and every inequality
decided by :mod:`mpmath.iv` (outward-rounded interval arithmetic):

1. **Tail.** For u ≥ U = 64, W(u) ≤ 2 ln(u)/u ≤ 2 ln(U)/U (the log's argument
   is below u, and ln(u)/u decreases for u > e); the interval value of
   2 ln(U)/U lies below a certified lower bound of the maximum.
2. **Away from the peak.** [4, U] minus J = [u* − ¼, u* + ¼] is covered by
   boxes on which the interval value of W lies below that same lower bound
   (branch and bound: boxes are halved until they are).
3. **Near the peak.** W″ < 0 on J (interval, on sub-boxes), so W is strictly
   concave on J; W′(u* − δ) > 0 > W′(u* + δ) (point intervals), so the unique
   maximiser of W on J lies in I = [u* − δ, u* + δ]. Hence the maximum over
   u ≥ 4 is attained in I and equals the maximum over J.
4. **Enclosure.** The maximum lies in W(u*) + W′(I)·(I − u*) (mean value
   theorem) and is at least W(u*): that interval is [lo, hi], of width ~δ².

The tanh window is twice the sigmoid one at 4|w| (``proofs/tanh-relation.md``),
so its enclosure is twice this one; arctan and softsign have exact maxima.

Examples
--------
>>> c = certify_window_maximum("sigmoid", digits=20)
>>> c.enclosure
('0.44774320469430284917', '0.44774320469430284918')
>>> c.method, c.tail_from
('interval branch and bound', '64')
>>> certify_window_maximum("relu")
Traceback (most recent call last):
...
gradmath.errors.InvalidParameterError: activation 'relu': the window is unbounded for |w| >= 1, so it has no maximum
"""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass, replace
from functools import lru_cache

import mpmath
import sympy as sp

from gradmath.activations import Activation, get_activation
from gradmath.errors import InvalidParameterError, VerificationError
from gradmath.numeric.precision import MAX_DIGITS, check_digits, window_maximum
from gradmath.symbolic.level_set import SymbolicTimeout, time_limit
from gradmath.symbolic.window import W, derive_window

__all__ = ["CertifiedMaximum", "certify_window_maximum", "outward_decimal", "check_certify_digits",
           "MAX_CERTIFY_DIGITS"]

#: The most digits a certified enclosure takes (Python's int/str conversion limit is 4300).
MAX_CERTIFY_DIGITS = 4000

_TAIL_U = 64
_GLOBAL_DPS = 20  # the global part needs only separations of ~1e-3
_MAX_BOXES = 10_000


@dataclass(frozen=True)
class CertifiedMaximum:
    """[lo, hi] ∋ max over |w| ≥ 1/γ of the window width, and [lo, hi] ∋ its maximiser.

    ``boxes`` counts interval evaluations in the global part; ``method`` names
    the argument (``"interval branch and bound"``, ``"tanh relation"``, ``"exact"``).
    """

    activation: str
    digits: int
    enclosure: tuple[str, str]
    argmax_enclosure: tuple[str, str]
    tail_from: str
    boxes: int
    method: str

    def to_json(self) -> dict:
        return {"activation": self.activation, "digits": self.digits, "enclosure": list(self.enclosure),
                "argmax_enclosure": list(self.argmax_enclosure), "tail_from": self.tail_from,
                "boxes": self.boxes, "method": self.method}


def outward_decimal(lo, hi, digits: int) -> tuple[str, str]:
    """``lo`` rounded down and ``hi`` rounded up to ``digits`` significant digits (exact decimals).

    >>> outward_decimal(mpmath.mpf(1) / 3, mpmath.mpf(2) / 3, 3)
    ('0.333', '0.667')
    """
    with mpmath.workdps(digits + 30):  # endpoints convert exactly; 10^k is exact; products round outward
        lo, hi = _exact_mpf(lo), _exact_mpf(hi)
        top = max(abs(lo), abs(hi))
        exponent = digits - 1 - (int(mpmath.floor(mpmath.log10(top))) if top else 0)
        scale = mpmath.mpf(10) ** exponent
        n_lo = int(mpmath.floor(mpmath.fmul(lo, scale, rounding="f")))
        n_hi = int(mpmath.ceil(mpmath.fmul(hi, scale, rounding="c")))
    return _decimal(n_lo, exponent), _decimal(n_hi, exponent)


def _exact_mpf(x):
    """An mpf or a zero-width mpmath.iv endpoint as an mpf (exact at the caller's higher precision)."""
    if isinstance(x, mpmath.ctx_iv.ivmpf):
        if x.a != x.b:
            raise VerificationError(f"expected an interval end point, got {x}")
        return mpmath.mpf(x.a._mpi_[0])
    return mpmath.mpf(x)


def _decimal(n: int, exponent: int) -> str:
    """The exact decimal n · 10^(−exponent)."""
    sign, digits = ("-" if n < 0 else ""), str(abs(n))
    if exponent <= 0:
        return sign + digits + "0" * (-exponent)
    digits = digits.rjust(exponent + 1, "0")
    return f"{sign}{digits[:-exponent]}.{digits[-exponent:]}"


@lru_cache(maxsize=8)
def _iv_kernels(act: Activation):
    """(W, W′, W″) as functions of an mpmath.iv interval, from the SymPy expressions."""
    width = derive_window(act).width
    exprs = (width, sp.diff(width, W), sp.diff(width, W, 2))
    table = {"mpf": mpmath.iv.mpf, "log": mpmath.iv.log, "sqrt": mpmath.iv.sqrt}
    kernels = tuple(sp.lambdify(W, e, modules=[table, "mpmath"], cse=True) for e in exprs)
    for k in kernels:
        source = inspect.getsource(k).split("\n", 1)[1]  # the body, after "def _lambdifygenerated(w):"
        # a float literal would be rounded once, outside interval arithmetic; any function but the
        # interval ones in ``table`` would be evaluated in ordinary floating point
        calls = set(re.findall(r"([A-Za-z_]\w*)\(", source)) - set(table)
        if re.search(r"(?<![\w.])\d+\.\d", source) or calls:
            raise VerificationError(f"interval kernel is not rigorous (float literal or calls {sorted(calls)})")
    return kernels


def certify_window_maximum(activation: str | Activation = "sigmoid", *, digits: int = 50) -> CertifiedMaximum:
    """A rigorous [lo, hi] for the window's maximum over all |w| (see the module text).

    Raises
    ------
    InvalidParameterError
        For bad ``digits``, or an activation whose window has no certified maximum here.
    VerificationError
        If an interval step fails (the argument did not go through).
    """
    digits = check_certify_digits(digits)
    act = get_activation(activation)
    d = derive_window(act)
    d.require_applicable()
    if d.unbounded_from is not None:
        raise InvalidParameterError(
            f"activation {act.name!r}: the window is unbounded for |w| {'>=' if d.unbounded_inclusive else '>'} "
            f"{d.unbounded_from}, so it has no maximum")
    if d.exact_maximum is not None:
        at, top = d.exact_maximum
        with mpmath.workdps(digits + 20):
            a, t = mpmath.mpf(sp.N(at, digits + 20)), mpmath.mpf(sp.N(top, digits + 20))
        return CertifiedMaximum(act.name, digits, outward_decimal(t, t, digits), outward_decimal(a, a, digits),
                                "exact", 0, "exact")
    if d.width is None:
        raise InvalidParameterError(
            f"activation {act.name!r}: SymPy found no closed-form width, so there is nothing to certify")
    if _same_function(act, "tanh"):
        return replace(_from_tanh_relation(digits), activation=act.name)
    if not _same_function(act, "sigmoid"):
        raise InvalidParameterError(
            f"activation {act.name!r}: certification is implemented for the windows of sigmoid and tanh "
            "(|σ′| the same function) and for exact maxima")
    return replace(_certify_sigmoid(get_activation("sigmoid"), digits), activation=act.name)


def _same_function(act: Activation, name: str) -> bool:
    """Whether ``act`` has the window of the built-in ``name``: |σ′| the same function.

    The window depends on |σ′| alone, so ``"tanh(x)"``, ``"-tanh(x)"`` and ``"tanh(x) + 3"``
    all have tanh's; SymPy decides σ′² − σ′_name² = 0 (within the time limit).
    """
    other = get_activation(name).derivative
    if act.derivative == other:
        return True
    try:
        with time_limit():
            return sp.simplify((act.derivative**2 - other**2).rewrite(sp.exp)) == 0
    except SymbolicTimeout:
        return False


def check_certify_digits(digits) -> int:
    """Return ``digits`` after checking it is an integer in [1, :data:`MAX_CERTIFY_DIGITS`].

    The certificate turns its end points into exact decimal integers, and Python
    converts integers to and from text only up to 4300 digits by default
    (:func:`sys.get_int_max_str_digits`); the limit keeps 300 digits of guard.

    >>> check_certify_digits(4295)
    Traceback (most recent call last):
    ...
    gradmath.errors.InvalidParameterError: digits=4295 must be an integer in [1, 4000] for a certified enclosure (without --certify up to 100000)
    """
    digits = check_digits(digits)
    if digits > MAX_CERTIFY_DIGITS:
        raise InvalidParameterError(f"digits={digits} must be an integer in [1, {MAX_CERTIFY_DIGITS}] for a "
                                    f"certified enclosure (without --certify up to {MAX_DIGITS})")
    return digits


def _from_tanh_relation(digits: int) -> CertifiedMaximum:
    """W_tanh(u) = 2 W_sigmoid(4u): the enclosures scale exactly (×2 and ÷4 are exact in decimal)."""
    s = _certify_sigmoid(get_activation("sigmoid"), digits + 2)
    with mpmath.workdps(digits + 20):
        enc = outward_decimal(2 * mpmath.mpf(s.enclosure[0]), 2 * mpmath.mpf(s.enclosure[1]), digits)
        arg = outward_decimal(mpmath.mpf(s.argmax_enclosure[0]) / 4, mpmath.mpf(s.argmax_enclosure[1]) / 4, digits)
    return CertifiedMaximum("tanh", digits, enc, arg, str(mpmath.mpf(_TAIL_U) / 4), s.boxes, "tanh relation")


def _certify_sigmoid(act: Activation, digits: int) -> CertifiedMaximum:
    iv = mpmath.iv
    f, f1, f2 = _iv_kernels(act)
    u_star = window_maximum(act, digits=digits + 10).argmax_abs_w  # a decimal string
    saved = iv.dps
    try:
        iv.dps = _GLOBAL_DPS
        centre = iv.mpf(u_star)
        floor = f(centre).a  # a certified lower bound of the maximum (W at one point)
        boxes, (j_lo, j_hi) = _global_part((f, f1, f2), centre, floor)
        iv.dps = digits + 20
        centre = iv.mpf(u_star)
        delta = iv.mpf(10) ** (-(digits // 2) - 10)
        left, right = centre - delta, centre + delta
        if not (f1(iv.mpf(left.a)).a > 0 and f1(iv.mpf(right.b)).b < 0):
            raise VerificationError("W′ does not change sign around the computed maximiser")
        if not (j_lo < left.a and right.b < j_hi):
            raise VerificationError("the interval around the maximiser is not inside the concave part J")
        around = iv.mpf([left.a, right.b])
        value = f(centre)
        upper = value + f1(around) * (around - centre)
        lo, hi = value.a, upper.b
        return CertifiedMaximum(act.name, digits, outward_decimal(lo, hi, digits),
                                outward_decimal(around.a, around.b, digits), str(_TAIL_U), boxes,
                                "interval branch and bound")
    finally:
        iv.dps = saved


def _bounds(kernel, a, b):
    """The interval value (lo, hi) of ``kernel`` on [a, b]; (−inf, +inf) when the box is too wide to evaluate.

    On a wide box the interval value of a log's or a square root's argument can
    reach below 0 (its terms are bounded independently); halving the box fixes it.
    """
    try:
        value = kernel(mpmath.iv.mpf([a, b]))
    except ValueError:  # mpmath's ComplexResult
        return -mpmath.inf, mpmath.inf
    return value.a, value.b


def _upper_width(kernels, a, b, side: int):
    """An upper bound of W on [a, b]: at the end W rises to when W′ has one sign there, else the interval value.

    ``side`` is −1 left of the peak (where W′ > 0 is expected) and +1 right of it.
    """
    f, f1, _ = kernels
    slope_lo, slope_hi = _bounds(f1, a, b)
    if side < 0 and slope_lo > 0:  # increasing: the maximum is at b
        return _bounds(f, b, b)[1]
    if side > 0 and slope_hi < 0:  # decreasing: the maximum is at a
        return _bounds(f, a, a)[1]
    return _bounds(f, a, b)[1]


def _global_part(kernels, centre, floor) -> int:
    """Steps 1-3 at low precision; returns the number of boxes evaluated and J = (j_lo, j_hi)."""
    iv = mpmath.iv
    f2 = kernels[2]
    tail = 2 * iv.log(iv.mpf(_TAIL_U)) / _TAIL_U
    if not tail.b < floor:
        raise VerificationError(f"tail bound 2 ln(U)/U at U={_TAIL_U} does not lie below the maximum")
    quarter = iv.mpf(1) / 4
    j_lo, j_hi = (centre - quarter).a, (centre + quarter).b
    count = 0
    stack = [(mpmath.mpf(4), j_lo, -1), (j_hi, mpmath.mpf(_TAIL_U), 1)]
    while stack:  # step 2: W below the floor away from J
        a, b, side = stack.pop()
        count += 1
        if count > _MAX_BOXES:
            raise VerificationError("branch and bound did not separate the maximum from the rest")
        if _upper_width(kernels, a, b, side) < floor:
            continue
        mid = (a + b) / 2
        stack += [(a, mid, side), (mid, b, side)]
    stack = [(j_lo, j_hi)]
    while stack:  # step 3: W″ < 0 on J
        a, b = stack.pop()
        count += 1
        if count > _MAX_BOXES:
            raise VerificationError("could not show W″ < 0 near the maximiser")
        if _bounds(f2, a, b)[1] < 0:
            continue
        mid = (a + b) / 2
        stack += [(a, mid), (mid, b)]
    return count, (j_lo, j_hi)
