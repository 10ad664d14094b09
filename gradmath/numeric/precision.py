"""The window's maximiser and maximum to any number of digits, with mpmath.

The maximiser |w|* solves W′(|w|) = 0, where W is the closed-form width SymPy
derived (:func:`gradmath.symbolic.window.derive_window`) and W′, W″ are SymPy
derivatives of it, lambdified to mpmath once. :func:`mpmath.findroot` runs
Newton's method on W′ with the exact derivative W″ (``df``), no numeric
differentiation, starting from SciPy's float maximiser and doubling the working
precision at each stage, so that only the last stage runs at full precision.
Precision is raised only inside :func:`mpmath.workdps`; results come back as
decimal strings. Why the maximum is unique: ``proofs/window.md``, part 3.

Examples
--------
>>> m = window_maximum("sigmoid", digits=30)
>>> m.argmax_abs_w
'6.89415103227292801421200435307'
>>> m.max_width
'0.447743204694302849178324240970'
>>> window_maximum("arctan", digits=5).max_width    # SymPy's exact maximum, 1 at |w| = 2
'1.0000'

A window without a maximum is refused with the reason:

>>> window_maximum("relu", digits=10)
Traceback (most recent call last):
...
gradmath.errors.InvalidParameterError: activation 'relu': the window is unbounded for |w| >= 1, so it has no maximum
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import mpmath
import sympy as sp

from gradmath.activations import Activation, get_activation
from gradmath.errors import InvalidParameterError, VerificationError
from gradmath.symbolic.window import W, derive_window
from gradmath.validation import check_choice, check_int

__all__ = ["PreciseMaximum", "window_maximum", "check_digits", "MAX_DIGITS", "format_decimal"]

#: The most digits any command accepts (10⁵ digits take minutes, not hours).
MAX_DIGITS = 100_000
_GUARD = 10
_START_DIGITS = 15


def check_digits(digits) -> int:
    """Return ``digits`` after checking it is an integer in [1, 100000].

    >>> check_digits(0)
    Traceback (most recent call last):
    ...
    gradmath.errors.InvalidParameterError: digits=0 must be an integer in [1, 100000]
    """
    return check_int("digits", digits, min_value=1, max_value=MAX_DIGITS)


def format_decimal(value, digits: int) -> str:
    """``value`` to ``digits`` significant digits, always in positional notation."""
    return mpmath.nstr(value, digits, strip_zeros=False, min_fixed=-mpmath.inf, max_fixed=mpmath.inf)


@dataclass(frozen=True)
class PreciseMaximum:
    """The maximiser and maximum of the window width, as decimal strings of ``digits`` digits.

    ``iterations`` counts the precision stages (one findroot call each); ``method``
    says whether the value is SymPy's exact one or Newton's.
    """

    activation: str
    digits: int
    argmax_abs_w: str
    max_width: str
    iterations: int
    method: str

    def to_json(self) -> dict:
        return {"activation": self.activation, "digits": self.digits, "argmax_abs_w": self.argmax_abs_w,
                "max_width": self.max_width, "iterations": self.iterations, "method": self.method}


@lru_cache(maxsize=32)
def _kernels(act: Activation):
    """(W, W′, W″) lambdified to mpmath from the SymPy width and its SymPy derivatives."""
    width = derive_window(act).width
    first = sp.diff(width, W)
    second = sp.diff(first, W)
    return tuple(sp.lambdify(W, e, modules="mpmath", cse=True) for e in (width, first, second))


def window_maximum(activation: str | Activation = "sigmoid", *, digits: int = 50,
                   derivative: str = "sympy") -> PreciseMaximum:
    """Maximiser and maximum of the window width to ``digits`` significant digits.

    Parameters
    ----------
    activation : str or Activation
        One with a closed-form, bounded window (sigmoid, tanh, arctan, softsign).
    digits : int
        1 to 100000. Internally ``digits + 10`` are carried.
    derivative : {"sympy", "numeric"}
        The ``df`` given to Newton: SymPy's W″ (default), or
        :func:`mpmath.diff` of W′ (only for the benchmark comparison).

    Raises
    ------
    InvalidParameterError
        For bad ``digits``, or a window that is unbounded or has no closed form.
    """
    act = get_activation(activation)
    digits = check_digits(digits)
    check_choice("derivative", derivative, ("sympy", "numeric"))
    d = derive_window(act)
    d.require_applicable()
    if d.unbounded_from is not None:
        raise InvalidParameterError(
            f"activation {act.name!r}: the window is unbounded for |w| {'>=' if d.unbounded_inclusive else '>'} "
            f"{d.unbounded_from}, so it has no maximum")
    if d.width is None:
        raise InvalidParameterError(
            f"activation {act.name!r}: SymPy found no closed-form width; use maximise_window for a float64 maximum")
    if d.exact_maximum is not None:
        at, top = d.exact_maximum
        with mpmath.workdps(digits + _GUARD):
            return PreciseMaximum(act.name, digits, format_decimal(mpmath.mpf(sp.N(at, digits + _GUARD)), digits),
                                  format_decimal(mpmath.mpf(sp.N(top, digits + _GUARD)), digits), 0, "exact")
    from gradmath.numeric.optimise import maximise_window

    start = maximise_window(act).argmax_abs_w
    u, iterations = _newton_maximiser(act, start, digits + _GUARD, derivative)
    width_mp = _kernels(act)[0]
    with mpmath.workdps(digits + _GUARD):
        top = width_mp(u)
        return PreciseMaximum(act.name, digits, format_decimal(u, digits), format_decimal(top, digits),
                              iterations, "newton")


def precision_stages(target: int) -> list[int]:
    """Working precisions (digits) from ~15 doubling up to ``target``, e.g. [20, 40, 80, 150]."""
    stages = [target]
    while stages[-1] > 2 * _START_DIGITS:
        stages.append(stages[-1] // 2 + 5)
    return stages[::-1]


def _newton_maximiser(act: Activation, start: float, dps: int, derivative: str):
    """Solve W′(u) = 0 by :func:`mpmath.findroot` (Newton, ``df`` = W″), doubling precision from ``start``.

    At a stage of p digits the start is already good to about p/2 digits, so
    Newton stops once a step is below 10^-(p/2 + 5): quadratic convergence
    makes the new iterate good to the stage's full precision.
    """
    _, first, second = _kernels(act)
    options = {"df": second} if derivative == "sympy" else {}  # else findroot differentiates numerically
    u = mpmath.mpf(start)  # a float: exact at any precision
    for stage in precision_stages(dps):
        with mpmath.workdps(stage):
            tol = mpmath.mpf(10) ** (-(stage // 2) - 5)
            try:
                u = mpmath.findroot(first, u, solver="newton", tol=tol, maxsteps=50, **options)
            except (ValueError, ZeroDivisionError) as err:
                raise VerificationError(f"activation {act.name!r}: Newton failed at {stage} digits: {err}") from err
    return u, len(precision_stages(dps))
