"""The correlation map by Mehler's expansion: its two-dimensional integrals from one-dimensional ones.

For u₁ = √q z₁, u₂ = √q (c z₁ + √(1−c²) z₂) with z₁, z₂ independent N(0, 1), Mehler's expansion of the
bivariate normal density in Hermite polynomials gives (proofs/meanfield.md, Theorem 8)

    E[φ(u₁) φ(u₂)] = A(c) = Σ_k a_k² c^k,        a_k = E[φ(√q z) He_k(z)] / √k!,

and integrating by parts (Price's theorem) a_k = √(q/k) E[φ′(√q z) He_{k−1}(z)] / √(k−1)!, so

    E[φ′(u₁) φ′(u₂)] = A′(c) / q = Σ_k k a_k² c^{k−1} / q.

The slope of the correlation map, χ_c, is thus the derivative of the same series: a Newton or secant step
on c* gets it for nothing. Both series have non-negative coefficients with known sums (Parseval):
Σ a_k² = E[φ(√q z)²] and Σ k a_k² = q E[φ′(√q z)²], so what is cut off after K terms is at most
|c|^{K+1} (E[φ²] − Σ_{k≤K} a_k²) and |c|^K (q E[φ′²] − Σ_{k≤K} k a_k²): a bound, not an estimate,
given the one-dimensional integrals. Those come from one composite Gauss–Legendre rule at each q, shared
by every c, and their error is estimated by a coarser twin rule, as in :mod:`gradmath.meanfield.gaussian`.

The series converges fast when φ is smooth and q moderate (tanh at q ≤ 5: the tail after 400 terms is
below 10⁻¹² of E[φ²]) and slowly for kinks or very steep φ (a_k² ~ k^{−3/2} for a step); its stated error
says which, and the callers (:mod:`gradmath.meanfield.phase`, :mod:`gradmath.meanfield.fixed_points`) fall
back to the two-dimensional rule where it is too large. Activations with kinks never use it
(:func:`correlation_fixed_points`).

>>> import numpy as np
>>> from gradmath.activations import resolve_activation
>>> from gradmath.meanfield.kernels import meanfield_kernels
>>> s = mehler_series(meanfield_kernels(resolve_activation("erf(x)")), np.array([1.0]))
>>> value, error = s.cross(np.array([0.5]))
>>> exact = 2 / np.pi * np.arcsin(2 * 0.5 / 3)      # the arcsine kernel (closed_forms.ScaledErf)
>>> bool(abs(value[0] - exact) <= error[0] + 1e-15), bool(error[0] < 1e-13)
(True, True)
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from gradmath.errors import InvalidParameterError
from gradmath.meanfield.gaussian import Z_MAX, _density, _finite

__all__ = ["MehlerSeries", "mehler_series", "CorrelationFixedPoint", "correlation_fixed_point",
           "correlation_fixed_points", "series_is_better", "TERMS", "MORE_TERMS", "TOLERANCE"]

#: Terms of the series kept (k = 0 … TERMS), and in a second pass for the points the first leaves unresolved.
TERMS = 400
MORE_TERMS = 1600
_EPS = np.finfo(float).eps


@functools.lru_cache(maxsize=4)
def _rule(nodes: int, width: float = 0.5, levels: int = 24) -> tuple[np.ndarray, np.ndarray]:
    """Composite Gauss–Legendre in z on [−Z, Z] (weights include the density): panels of ``width`` on 1 ≤ |z| ≤ Z
    (He_k oscillates there on the scale π/√k), halving towards 0 below 1 (φ(√q z) is steepest there).
    """
    x, w = np.polynomial.legendre.leggauss(nodes)
    top = list(np.arange(Z_MAX, 1.0, -width)) + [1.0]
    edges = top + [2.0**-k for k in range(1, levels + 1)] + [0.0]
    ts, ws = [], []
    for hi, lo in zip(edges[:-1], edges[1:]):
        half, mid = (hi - lo) / 2.0, (hi + lo) / 2.0
        ts.append(mid + half * x)
        ws.append(half * w)
    t, wt = np.concatenate(ts), np.concatenate(ws)
    z = np.concatenate([-t[::-1], t])
    return z, np.concatenate([wt[::-1], wt]) * _density(z)


def _width(terms: int) -> float:
    """Panel width on 1 ≤ |z| ≤ Z: 1/2 up to 400 terms, halved each time the terms quadruple (He_k's
    oscillations shrink like 1/√k)."""
    return 0.5 / 2.0 ** max(0, int(np.ceil(np.log2(np.sqrt(terms / TERMS)))))


@functools.lru_cache(maxsize=4)
def _hermite_table(nodes: int, terms: int) -> tuple[np.ndarray, np.ndarray]:
    """The rule's weights times He_k(z)/√k! for k = 0 … terms (rows), by the three-term recurrence, and z."""
    z, w = _rule(nodes, _width(terms))
    h = np.empty((terms + 1, z.size))
    h[0] = 1.0
    h[1] = z
    for k in range(1, terms):
        h[k + 1] = (z * h[k] - np.sqrt(k) * h[k - 1]) / np.sqrt(k + 1.0)
    return h * w, z


#: Gauss–Legendre nodes per panel of the rule and of its twin, up to TERMS terms and beyond (measured errors
#: of the a_k against a rule with 30 nodes on panels half as wide, tanh at q ≤ 20: 7·10⁻¹⁶ and 3·10⁻¹² at 400
#: terms, 4·10⁻¹⁵ and 5·10⁻¹² at 1600).
_NODES = ((12, 10), (16, 14))


@dataclass(frozen=True)
class MehlerSeries:
    """The coefficients a_k² at P lengths q (rows), with the twin rule's and the bounds on what is cut off."""

    q: np.ndarray             #: (P,)
    squares: np.ndarray       #: (P, K+1) a_k² from the fine rule
    twin: np.ndarray          #: (P, K+1) a_k² from the coarser rule
    tail: np.ndarray          #: (P,) bound on Σ_{k>K} a_k²
    slope_tail: np.ndarray    #: (P,) bound on Σ_{k>K} k a_k²
    rounding: np.ndarray      #: (P,) δ, the rounding of each a_k (a dot product of ~10³ terms): 32ε √E[φ²]

    def _rounding(self, c: np.ndarray, derivative: bool) -> np.ndarray:
        """What δ in each a_k makes of Σ a_k² c^k (or of its derivative): 2δ Σ |a_k| |c|^k + δ² Σ |c|^k."""
        roots = np.sqrt(self.squares)
        ac = np.abs(c)
        k = self.squares.shape[1]
        if derivative:
            return 2 * self.rounding * _horner(roots, ac)[1] + self.rounding**2 * k * k
        return 2 * self.rounding * _horner(roots, ac)[0] + self.rounding**2 * k

    def cross(self, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """A(c) = E[φ(u₁)φ(u₂)] at one c per row, and its error (cut-off bound + twin difference + rounding)."""
        value, _, _, absolute = _horner(self.squares, c)
        twin = _horner(self.twin, c)[0]
        error = np.abs(c) ** (self.squares.shape[1]) * self.tail + np.abs(value - twin) + 4 * _EPS * absolute
        return value, error + self._rounding(c, False)

    def slope(self, c: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """A′(c) = q E[φ′(u₁)φ′(u₂)], its error, and A″(c) (for the error that an error in c carries)."""
        _, value, curvature, _ = _horner(self.squares, c)
        twin = _horner(self.twin, c)[1]
        k = self.squares.shape[1]
        absolute = _horner(self.squares, np.abs(c))[1]
        error = np.abs(c) ** (k - 1) * self.slope_tail + np.abs(value - twin) + 4 * _EPS * absolute
        return value, error + self._rounding(c, True), curvature


def _horner(coefficients: np.ndarray, c: np.ndarray):
    """p(c), p′(c), p″(c) and Σ |coefficient| |c|^k, row by row (one c per row), from the powers c^k."""
    k = np.arange(coefficients.shape[1], dtype=np.float64)
    powers = np.power(c[:, None], k)                 # (P, K+1); c^0 = 1, also at c = 0

    def dot(a, b):
        return np.einsum("pk,pk->p", a, b)

    return (dot(coefficients, powers), dot(coefficients[:, 1:] * k[1:], powers[:, :-1]),
            dot(coefficients[:, 2:] * (k[2:] * (k[2:] - 1.0)), powers[:, :-2]),
            dot(np.abs(coefficients), np.abs(powers)))


def mehler_series(kernels, q: np.ndarray, *, terms: int = TERMS, chunk: int = 1024) -> MehlerSeries:
    """The series of :class:`MehlerSeries` for the kernels' φ at each q > 0 (a 1-D array)."""
    fine_nodes, coarse_nodes = _NODES[terms > TERMS]
    q = np.asarray(q, dtype=np.float64)
    out = {name: [] for name in ("fine", "twin", "tail", "slope_tail")}
    for start in range(0, q.size, chunk):
        r = np.sqrt(q[start:start + chunk])[:, None]
        for name, nodes in (("fine", fine_nodes), ("twin", coarse_nodes)):
            h, z = _hermite_table(nodes, terms)
            with np.errstate(over="ignore", invalid="ignore"):      # checked by _finite
                phi = np.asarray(kernels.evaluate(r * z), dtype=np.float64)
                squares = _finite(phi @ h.T) ** 2                  # (P, K+1)
            out[name].append(squares)
            if name == "fine":
                w = _rule(nodes, _width(terms))[1]
                prime = np.asarray(kernels.prime(r * z), dtype=np.float64)
                with np.errstate(over="ignore", invalid="ignore"):
                    total = _finite((phi * phi) @ w)
                    slope_total = _finite(r[:, 0] ** 2 * ((prime * prime) @ w))
                k = np.arange(terms + 1)
                # What is cut off, by Parseval; the sums are of positive terms, so rounding is a few ε of them.
                out["tail"].append(np.maximum(total - squares.sum(axis=1), 0.0) + 8 * _EPS * total)
                out["slope_tail"].append(np.maximum(slope_total - squares @ k, 0.0) + 8 * _EPS * slope_total
                                         + 8 * _EPS * terms * total)
    fine, twin, tail, slope_tail = (np.concatenate(out[n]) for n in ("fine", "twin", "tail", "slope_tail"))
    return MehlerSeries(q, fine, twin, tail, slope_tail, 32 * _EPS * np.sqrt(fine.sum(axis=1) + tail))


@dataclass(frozen=True)
class CorrelationFixedPoint:
    """c* and χ_c at P points from their series, with error estimates; ``ok`` where both meet the tolerance."""

    c_star: np.ndarray
    chi_c: np.ndarray
    c_error: np.ndarray
    chi_c_error: np.ndarray
    ok: np.ndarray
    converged: np.ndarray     #: bracketed and refined to 4ε (``ok`` adds: stated errors within the tolerance)


_FIELDS = ("c_star", "chi_c", "c_error", "chi_c_error", "ok", "converged")

#: A point's c* and χ_c are accepted when their stated errors are below this (relative; c* with a floor).
TOLERANCE = 1e-10
_C_FLOOR = 1e-2


def correlation_fixed_point(series: MehlerSeries, sigma_w2: np.ndarray, sigma_b2: np.ndarray,
                            grid: np.ndarray, *, tolerance: float = TOLERANCE) -> CorrelationFixedPoint:
    """The largest root c* < 1 of 𝓒(c) − c = (σ_w² A(c) + σ_b²)/q − c for each row, and χ_c = σ_w² A′(c*)/q.

    ``grid`` runs from just below 1 down to −1; the first c on it with 𝓒(c) ≥ c and the one before bracket
    c*, and a Newton step (its derivative χ_c − 1 comes from the same series) kept inside the bracket, or a
    bisection where it would leave it, shrinks the bracket to 4ε. The error of c* is the map's error divided
    by |1 − χ_c| (the root's conditioning); χ_c carries its own and A″ times that of c*.
    """
    W, B, q = (np.asarray(a, dtype=np.float64) for a in (sigma_w2, sigma_b2, series.q))
    k = np.arange(series.squares.shape[1])
    g_grid = (W[:, None] * (series.squares @ grid[None, :] ** k[:, None]) + B[:, None]) / q[:, None] - grid
    up = g_grid >= 0
    i = np.maximum(np.where(up.any(axis=1), np.argmax(up, axis=1), grid.size - 1), 1)
    lo, hi = grid[i], grid[i - 1]
    rows = np.arange(q.size)
    bracketed = (g_grid[rows, i] >= 0) & (g_grid[rows, i - 1] < 0)
    x = lo.copy()
    active = bracketed.copy()
    for _ in range(100):
        if not active.any():
            break
        j = np.nonzero(active)[0]
        a, d, _, _ = _horner(series.squares[j], x[j])
        g = (W[j] * a + B[j]) / q[j] - x[j]
        dg = W[j] * d / q[j] - 1.0
        inside = g >= 0
        lo[j[inside]] = x[j[inside]]
        hi[j[~inside]] = x[j[~inside]]
        with np.errstate(divide="ignore", invalid="ignore"):
            step = x[j] - g / dg
        low, high = np.minimum(lo[j], hi[j]), np.maximum(lo[j], hi[j])
        bad = ~np.isfinite(step) | (step <= low) | (step >= high)
        step[bad] = 0.5 * (lo[j][bad] + hi[j][bad])
        done = (np.abs(step - x[j]) <= 4 * _EPS * np.abs(x[j]) + 1e-300) | (g == 0) | \
               (high - low <= 4 * _EPS * np.abs(x[j]))
        x[j] = np.where(g == 0, x[j], step)
        active[j[done]] = False
    converged = bracketed & ~active
    value, value_error = series.cross(x)
    slope, slope_error, curvature = series.slope(x)
    chi = W * slope / q
    with np.errstate(divide="ignore", invalid="ignore"):
        c_error = (W * value_error / q + 4 * _EPS * (B / q + np.abs(x))) / np.abs(1.0 - chi)   # + rounding of g
    chi_error = W * (slope_error + np.abs(curvature) * c_error) / q
    ok = converged & (c_error <= tolerance * np.maximum(np.abs(x), _C_FLOOR)) & (chi_error <= tolerance * chi) & \
        np.isfinite(c_error) & (chi < 1.0)
    return CorrelationFixedPoint(x, chi, c_error, chi_error, ok, converged & np.isfinite(c_error) & (chi < 1.0))


def correlation_fixed_points(kernels, q: np.ndarray, sigma_w2: np.ndarray, sigma_b2: np.ndarray,
                             grid: np.ndarray, *, chunk: int = 8192) -> CorrelationFixedPoint:
    """:func:`correlation_fixed_point` with :data:`TERMS` terms, then :data:`MORE_TERMS` where that was not
    enough; ``chunk`` points at a time (the series of 8192 points take ~60 MB).

    Only for smooth activations (``kernels.smooth``): where φ has a kink the coefficients' quadrature converges
    slowly and its twin estimate can understate the error (hard tanh: χ_c off by 1.3·10⁻⁴ with 2.3·10⁻⁵
    stated), so nothing is accepted and the caller's two-dimensional rule decides.
    """
    q, sigma_w2, sigma_b2 = (np.asarray(a, dtype=np.float64) for a in (q, sigma_w2, sigma_b2))
    if not kernels.smooth:
        return _nothing(q.shape)
    if q.size > chunk:
        parts = [correlation_fixed_points(kernels, q[i:i + chunk], sigma_w2[i:i + chunk], sigma_b2[i:i + chunk],
                                          grid, chunk=chunk) for i in range(0, q.size, chunk)]
        return CorrelationFixedPoint(*(np.concatenate([getattr(p, name) for p in parts])
                                       for name in _FIELDS))
    fp = _solve(kernels, q, sigma_w2, sigma_b2, grid, TERMS, 1024)
    again = np.nonzero(~fp.ok)[0]
    if again.size:
        more = _solve(kernels, q[again], sigma_w2[again], sigma_b2[again], grid, MORE_TERMS, 256)
        for name in _FIELDS:
            getattr(fp, name)[again] = getattr(more, name)
    return fp


def _solve(kernels, q, sigma_w2, sigma_b2, grid, terms: int, chunk: int) -> CorrelationFixedPoint:
    """One pass; where the series itself cannot be formed in float64 (φ times He_k overflows, or φ is not
    finite on a node) nothing is accepted, and the caller's two-dimensional rule decides (and refuses)."""
    try:
        series = mehler_series(kernels, q, terms=terms, chunk=chunk)
    except InvalidParameterError:
        return _nothing(q.shape)
    return correlation_fixed_point(series, sigma_w2, sigma_b2, grid)


def _nothing(shape) -> CorrelationFixedPoint:
    """No point accepted (the caller's two-dimensional rule decides)."""
    nan = np.full(shape, np.nan)
    return CorrelationFixedPoint(nan, nan.copy(), nan.copy(), nan.copy(), np.zeros(shape, dtype=bool),
                                 np.zeros(shape, dtype=bool))


def series_is_better(e, fp: CorrelationFixedPoint, rows: np.ndarray, sigma_w2: np.ndarray, q: np.ndarray
                     ) -> np.ndarray:
    """Whether the series' c* and χ_c (at ``rows`` of ``fp``) state smaller errors than the two-dimensional rule
    of the expectations ``e`` (with its error estimate) states for itself at the same c.

    Near the critical line χ_c → 1 and c* is ill-conditioned (Theorem 8(d)): no float64 method meets 10⁻¹⁰
    there, and the series, whose errors are a few ε of the map before the division by 1 − χ_c, is the
    better of the two.
    """
    c, chi = fp.c_star[rows], fp.chi_c[rows]
    cross_error = e.cross(q, c)[1]
    prime_error = e.prime_cross(q, c)[1]
    c_error = sigma_w2 * cross_error / q / np.abs(1.0 - chi)
    return (fp.c_error[rows] <= c_error) & (fp.chi_c_error[rows] <= sigma_w2 * prime_error)
