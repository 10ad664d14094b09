"""Fixed points q* of the length map and c* of the correlation map, by bracketing root finders.

Plain iteration q ← 𝓛(q) converges only geometrically, at the rate 𝓛′(q*), which tends
to 1 as σ_b² → 0 near the critical line: a fixed number of iterations then stops far
from q*. Here q* is found as the first sign change of 𝓛(q) − q on a logarithmic grid and
refined by :func:`scipy.optimize.brentq` to a relative tolerance of 4ε (the root is
then as exact as the quadrature that defines 𝓛). The first sign change from + to − is
the fixed point that iteration from small q reaches, and it is stable (𝓛′(q*) ≤ 1).

For the correlation: c = 1 is always a fixed point of 𝓒 at q*; it is stable when
χ₁ ≤ 1 (the ordered phase). When χ₁ > 1 (chaotic) the stable fixed point is the largest
root c* < 1 of 𝓒(c) − c: for quadrature expectations from Mehler's series of 𝓒
(:mod:`gradmath.meanfield.mehler`, which gives χ_c with it) when its stated errors are below 10⁻¹⁰,
otherwise found the same way as q* on the two-dimensional rule.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq

from gradmath.errors import InvalidParameterError
from gradmath.meanfield.expectations import Expectations, QuadratureExpectations
from gradmath.meanfield.maps import chi_1, correlation_map, length_map
from gradmath.meanfield.mehler import correlation_fixed_points, series_is_better

__all__ = ["FixedPoint", "q_star", "c_star", "Q_MAX"]

#: Beyond this length the map is taken to grow without bound (no finite fixed point).
Q_MAX = 1e10
_RTOL = 4 * np.finfo(float).eps
_Q_GRID = np.logspace(-12, 10, 221)
_C_STEPS = np.concatenate([np.logspace(-12, 0, 49), [1.25, 1.5, 1.75, 2.0]])


@dataclass(frozen=True)
class FixedPoint:
    """A fixed point and how it was found."""

    value: float
    error: float      #: estimate of |value − exact fixed point| from the maps' quadrature error
    note: str = ""
    slope: float | None = None         #: χ_c at c*, when the method that found c* gives it (Mehler's series)
    slope_error: float = 0.0


def q_star(k: Expectations, sigma_w2: float, sigma_b2: float) -> FixedPoint:
    """The stable fixed point q* of the length map (0 when the length dies out)."""
    lo = min(_Q_GRID[0], sigma_b2 / 2.0) if sigma_b2 > 0 else _Q_GRID[0]
    grid = np.concatenate([[lo], _Q_GRID[_Q_GRID > lo]])
    i = _first_crossing(k, sigma_w2, sigma_b2, grid)
    if i == 0:
        if sigma_b2 == 0:
            return FixedPoint(0.0, 0.0, "q* = 0: with sigma_b2 = 0 the length dies out (𝓛′(0) ≤ 1)")
        raise InvalidParameterError(  # pragma: no cover - 𝓛(q) ≥ σ_b² > q at q < σ_b²
            f"length map below the diagonal at q={lo:g} although sigma_b2={sigma_b2:g}")
    a, b = float(grid[i - 1]), float(grid[i])
    root = brentq(lambda q: float(length_map(k, sigma_w2, sigma_b2, np.array([q]))[0][0]) - q,
                  a, b, xtol=1e-300, rtol=_RTOL, maxiter=200)
    value, err = length_map(k, sigma_w2, sigma_b2, np.array([root]))
    k.check(root)
    return FixedPoint(root, float(err[0]) + _RTOL * root)


def _first_crossing(k: Expectations, sigma_w2: float, sigma_b2: float, grid: np.ndarray) -> int:
    """Index of the first grid point where 𝓛(q) ≤ q, evaluating the map in small batches (lazily)."""
    for start in range(0, grid.size, 16):
        part = grid[start:start + 16]
        g = length_map(k, sigma_w2, sigma_b2, part)[0] - part
        down = np.nonzero(g <= 0)[0]
        if down.size:
            return start + int(down[0])
    raise InvalidParameterError(
        f"activation {k.name!r}: no finite fixed point q* for sigma_w2={sigma_w2:g}, sigma_b2={sigma_b2:g}: "
        f"the length map stays above q up to q={Q_MAX:g}, so activations grow without bound with depth; "
        "use a smaller sigma_w2")


def c_star(k: Expectations, sigma_w2: float, sigma_b2: float, q: float) -> FixedPoint:
    """The stable fixed point c* of the correlation map at the length q = q* > 0."""
    chi, _ = chi_1(k, sigma_w2, np.array([q]))
    if chi[0] <= 1.0:
        return FixedPoint(1.0, 0.0, "c* = 1: the ordered phase (χ₁ ≤ 1), nearby inputs converge")
    cs = 1.0 - _C_STEPS                                  # from just below 1 down to −1
    if isinstance(k, QuadratureExpectations):
        # Mehler's series (proofs/meanfield.md, Theorem 8): one-dimensional integrals, χ_c with it; the 2-D
        # rule below only where its stated error is above the tolerance.
        fp = correlation_fixed_points(k.kernels, np.array([q]), np.array([sigma_w2]), np.array([sigma_b2]), cs)
        note = ""
        if not fp.ok[0] and fp.converged[0] and series_is_better(k, fp, np.array([0]), np.array([sigma_w2]),
                                                                 np.array([q]))[0]:
            note = (f"c* is ill-conditioned here (χ_c = {fp.chi_c[0]:.6g}, near 1): its stated error is above "
                    "1e-10 but below the two-dimensional rule's")
        if fp.ok[0] or note:
            return FixedPoint(float(fp.c_star[0]), float(fp.c_error[0]), note, slope=float(fp.chi_c[0]),
                              slope_error=float(fp.chi_c_error[0]))
    g = correlation_map(k, sigma_w2, sigma_b2, np.full(cs.shape, q), cs)[0] - cs
    up = np.nonzero(g >= 0)[0]
    if up.size == 0:  # pragma: no cover - 𝓒(−1) ≥ −1 always
        return FixedPoint(-1.0, 0.0, "c* = −1")
    i = int(up[0])
    if i == 0:
        return FixedPoint(float(cs[0]), float(_C_STEPS[0]), "c* within 1e-12 of 1")
    a, b = float(cs[i]), float(cs[i - 1])

    def g1(c):
        return float(correlation_map(k, sigma_w2, sigma_b2, np.array([q]), np.array([c]))[0][0]) - c

    fa, fb = g1(a), g1(b)
    if fa < 0 or fb > 0 or fa == 0 or fb == 0:   # a grid point is a root to rounding (e.g. c* = 0 when σ_b² = 0)
        root = a if abs(fa) <= abs(fb) else b
    else:
        root = brentq(g1, a, b, xtol=1e-15, rtol=_RTOL, maxiter=200)
    _, err = correlation_map(k, sigma_w2, sigma_b2, np.array([q]), np.array([root]))
    return FixedPoint(root, float(err[0]) + 1e-15)
