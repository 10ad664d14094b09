"""An independent measurement of the window, from the raw expression |wσ′(wa + b)| − 1.

This is the cross-check of the closed form (Nielsen's problem, part 2): it
neither solves σ′(z) = 1/|w| nor uses that the window depends on b only by a
shift. It lambdifies the inequality itself in the input a, for the given w and
b, and measures the set where it holds by bracketing sign changes on a grid and
refining them with :func:`scipy.optimize.brentq` (``proofs/window.md``, part 2).

Examples
--------
>>> m = measure_window("sigmoid", w=-6.9, b=3.0)
>>> round(m.width, 6), m.crossings
(0.447743, 2)
>>> measure_window("sigmoid", w=2.0, b=0.0).width      # below |w| = 4: empty
0.0
>>> measure_window("relu", w=2.0, b=0.0).width         # a half-line
inf
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import sympy as sp
from scipy.special import erf, erfc

from gradmath.activations import Activation, get_activation
from gradmath.errors import InvalidParameterError
from gradmath.expressions import X
from gradmath.numeric.optimise import Z_RANGE, _superlevel_length
from gradmath.validation import check_real

__all__ = ["MeasuredWindow", "measure_window"]

_A, _WS, _BS = sp.symbols("a w b", real=True)


@dataclass(frozen=True)
class MeasuredWindow:
    """The measured set {a : |wσ′(wa + b)| ≥ 1}: its total length and its number of end points
    (2 for an interval, 1 for a half-line, 0 when empty)."""

    activation: str
    w: float
    b: float
    width: float
    crossings: int

    def to_json(self) -> dict:
        return {"activation": self.activation, "w": repr(self.w), "b": repr(self.b),
                "width": "inf" if np.isinf(self.width) else repr(self.width), "crossings": self.crossings}


@lru_cache(maxsize=64)
def _raw(act: Activation):
    expr = sp.Abs(_WS * act.derivative.subs(X, _WS * _A + _BS)) - 1
    return sp.lambdify((_A, _WS, _BS), expr, modules=[{"erf": erf, "erfc": erfc}, "numpy"])


def measure_window(activation: str | Activation, *, w: float, b: float) -> MeasuredWindow:
    """Measure {a : |wσ′(wa + b)| ≥ 1} for one weight ``w`` and bias ``b``.

    The search range of a is the one that maps to z = wa + b ∈ [−60, 60]; a set
    that reaches either end is reported as unbounded (``inf``).

    Raises
    ------
    InvalidParameterError
        If ``w`` is 0 or either number is not finite.
    """
    act = get_activation(activation)
    w = check_real("w", w)
    b = check_real("b", b)
    if w == 0:
        raise InvalidParameterError("w=0 must be non-zero (the window of w = 0 is empty)")
    raw = _raw(act)
    f = lambda a: np.asarray(raw(a, w, b), dtype=float)  # noqa: E731
    lo, hi = sorted(((-Z_RANGE - b) / w, (Z_RANGE - b) / w))
    width = _superlevel_length(f, lo, hi)
    crossings = 0 if width == 0 else (1 if np.isinf(width) else 2)
    return MeasuredWindow(act.name, w, b, width, crossings)
