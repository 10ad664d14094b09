"""The window width in float64, and its maximum over |w| with SciPy.

Closed-form widths (:func:`gradmath.symbolic.window.derive_window`) are
lambdified to NumPy once per activation; activations without a closed form are
measured on the level set {z : |σ′(z)| ≥ 1/|w|} (grid plus :func:`scipy.optimize.brentq`).
Only |σ′| counts, so σ′ may change sign; where the level set is several intervals
the width is their total length (``proofs/window.md``, part 2).
Nielsen's third problem asks for the maximum numerically: the seed reads
"greatest at |w| ≈ 6.9, where it takes a value ≈ 0.45".

Examples
--------
>>> m = maximise_window("sigmoid")
>>> round(m.argmax_abs_w, 1), round(m.max_width, 2)
(6.9, 0.45)
>>> window_width("sigmoid", 3.0).width, window_width("sigmoid", 3.0).reason
(0.0, '|w|=3 is below the minimum 1/γ=4: |wσ′(wa+b)| ≤ |w|γ < 1 for every a')
>>> window_width("relu", 2.0).width
inf
>>> maximise_window("relu").max_width      # unbounded windows have no maximum
inf
>>> window_width("softplus", 1.0).width    # 1/γ, but γ = 1 is only approached: empty
0.0
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import sympy as sp
from scipy.optimize import brentq, minimize_scalar

from gradmath.activations import Activation, get_activation
from gradmath.symbolic.window import W, derive_window
from gradmath.validation import check_real

__all__ = ["WindowWidth", "WindowMaximum", "window_width", "maximise_window", "level_set_measure"]

#: Half-range of z searched for the level set when there is no closed form.
Z_RANGE = 60.0
_GRID = 4001
_XTOL = 1e-13
_SCAN = 241  # points of the scan that guards the maximum search against several peaks


@dataclass(frozen=True)
class WindowWidth:
    """The width of {a : |wσ′(wa + b)| ≥ 1} at one |w| (``inf`` when unbounded, 0 when empty)."""

    activation: str
    abs_w: float
    width: float
    reason: str
    method: str

    def to_json(self) -> dict:
        return {"activation": self.activation, "abs_w": repr(self.abs_w),
                "width": "inf" if math.isinf(self.width) else repr(self.width),
                "reason": self.reason, "method": self.method}


@dataclass(frozen=True)
class WindowMaximum:
    """SciPy's maximum of the window width over |w| (float64; ``inf`` when unbounded)."""

    activation: str
    argmax_abs_w: float
    max_width: float
    method: str

    def to_json(self) -> dict:
        f = lambda v: "inf" if math.isinf(v) else repr(v)  # noqa: E731
        return {"activation": self.activation, "argmax_abs_w": f(self.argmax_abs_w),
                "max_width": f(self.max_width), "method": self.method}


@lru_cache(maxsize=64)
def _width_kernel(act: Activation):
    d = derive_window(act)
    return None if d.width is None else sp.lambdify(W, d.width, modules="numpy")


def window_width(activation: str | Activation, abs_w: float) -> WindowWidth:
    """Width of the window at weight magnitude ``abs_w`` (float64).

    Parameters
    ----------
    activation : str or Activation
    abs_w : float
        |w| > 0.

    Raises
    ------
    InvalidParameterError
        If ``abs_w`` is not a positive real.
    """
    act = get_activation(activation)
    u = check_real("abs_w", abs_w, min_value=0.0, allow_equal=False)
    u = check_real("abs_w", u, max_value=1e300)  # 2|w| must stay finite in float64
    d = derive_window(act)
    d.require_applicable()
    minimum = float(d.min_abs_w_value)
    if u < minimum:
        reason = (f"|w|={u:g} is below the minimum 1/γ={minimum:.6g}: "
                  "|wσ′(wa+b)| ≤ |w|γ < 1 for every a")
        return WindowWidth(act.name, u, 0.0, reason, "bound")
    if u == minimum and not d.gamma_attained:
        reason = (f"|w|={u:g} is 1/γ, but γ = sup|σ′| is only approached, never attained: "
                  "|wσ′(wa+b)| < |w|γ = 1 for every a")
        return WindowWidth(act.name, u, 0.0, reason, "bound")
    if d.unbounded_from is not None:
        edge = float(d.unbounded_from)
        if u > edge or (u == edge and d.unbounded_inclusive):
            reason = (f"|w|={u:g} ≥ {edge:g}: lim sup |σ′| at infinity is {1 / edge:g} ≥ 1/|w|, "
                      "so the window reaches arbitrarily far out")
            return WindowWidth(act.name, u, math.inf, reason, "unbounded")
    kernel = _width_kernel(act)
    if kernel is not None:
        with np.errstate(all="ignore"):
            closed = float(np.real_if_close(kernel(u)))
        if math.isfinite(closed):  # else (0/0 at an end point of the formula) measure it below
            return WindowWidth(act.name, u, closed, "closed form", "closed form")
    width = level_set_measure(act, 1.0 / u) / u
    return WindowWidth(act.name, u, width, "level set measured numerically", "numeric")


def level_set_measure(activation: str | Activation, level: float) -> float:
    """Length of {z ∈ [−60, 60] : |σ′(z)| ≥ level}, by a grid and brentq (inf if it reaches ±60)."""
    act = get_activation(activation)
    f = lambda z: np.abs(act.prime(z)) - level  # noqa: E731
    return _superlevel_length(f, -Z_RANGE, Z_RANGE)


def _superlevel_length(f, lo: float, hi: float) -> float:
    """Length of {t ∈ [lo, hi] : f(t) ≥ 0}; inf if f ≥ 0 at an end (the set runs on).

    Crossings are bracketed on a grid and refined by brentq; a peak that stays
    below 0 on the grid is refined by a bounded Brent search before it is dropped (one
    that only touches 0 adds nothing: a set of measure zero). Between consecutive roots f
    keeps its sign, so an interval counts when f ≥ 0 at three points inside it: a gap
    whose middle happens to touch 0 is not counted.
    """
    t = np.linspace(lo, hi, _GRID)
    v = np.asarray(f(t), dtype=float)
    if v[0] >= 0 or v[-1] >= 0:
        return math.inf
    roots = [brentq(f, t[i], t[i + 1], xtol=_XTOL * max(1.0, abs(t[i])), rtol=4 * np.finfo(float).eps)
             for i in np.nonzero(np.sign(v[:-1]) != np.sign(v[1:]))[0]]
    peaks = np.nonzero((v[1:-1] > v[:-2]) & (v[1:-1] >= v[2:]) & (v[1:-1] < 0))[0] + 1
    for i in peaks:
        best = minimize_scalar(lambda s: -float(f(s)), bounds=(t[i - 1], t[i + 1]), method="bounded",
                               options={"xatol": _XTOL})
        if -best.fun > 0:
            roots += [brentq(f, t[i - 1], best.x, xtol=_XTOL), brentq(f, best.x, t[i + 1], xtol=_XTOL)]
    roots.sort()
    pairs = zip(roots[:-1], roots[1:])
    return float(sum(b - a for a, b in pairs
                     if all(f(np.float64(a + (b - a) * q)) >= 0 for q in (0.25, 0.5, 0.75))))


def maximise_window(activation: str | Activation) -> WindowMaximum:
    """Maximise the window width over |w| with :func:`scipy.optimize.minimize_scalar`.

    The search runs over [1/γ, 100/γ] (bounded Brent, ``xatol`` 1e-10). A width
    need not be unimodal (|σ′| with several peaks: x·e^{−x²} gains two intervals
    at |w| = e^{3/2}/2 and its width jumps), so the width is also evaluated at
    :data:`_SCAN` points spread geometrically over the range; if one of them beats
    Brent's answer, Brent is rerun between that point's neighbours. A maximum
    beyond 100/γ, or narrower than the scan's spacing, can still be missed.

    >>> from gradmath.activations import resolve_activation
    >>> m = maximise_window(resolve_activation("x*exp(-x*x)"))     # the second, higher peak
    >>> round(m.argmax_abs_w, 3), round(m.max_width, 4)
    (3.045, 0.762)
    """
    act = get_activation(activation)
    d = derive_window(act)
    d.require_applicable()
    if d.unbounded_from is not None:
        return WindowMaximum(act.name, float(d.unbounded_from), math.inf, "unbounded")
    lo = float(d.min_abs_w_value)
    f = lambda u: -window_width(act, u).width  # noqa: E731
    brent = minimize_scalar(f, bounds=(lo, 100 * lo), method="bounded", options={"xatol": 1e-10})
    at, top = float(brent.x), float(-brent.fun)
    grid = np.geomspace(lo, 100 * lo, _SCAN)
    values = [-f(float(u)) for u in grid]
    k = int(np.argmax(values))
    if values[k] > top:  # Brent settled on a lower peak
        near = minimize_scalar(f, bounds=(float(grid[max(k - 1, 0)]), float(grid[min(k + 1, _SCAN - 1)])),
                               method="bounded", options={"xatol": 1e-10})
        at, top = (float(near.x), float(-near.fun)) if -near.fun >= values[k] else (float(grid[k]), values[k])
    return WindowMaximum(act.name, at, top, "scipy bounded Brent")
