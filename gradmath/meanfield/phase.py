"""The order/chaos phase diagram: every mean-field quantity on a grid of (σ_w², σ_b²), vectorised.

The length map depends on σ_w², σ_b² only through 𝓛(q) = σ_w² S(q) + σ_b² with S(q) = E[φ(√q z)²],
and the correlation map only through q* and c. So the whole grid shares its quadrature nodes:

1. S on the logarithmic q grid of :mod:`gradmath.meanfield.fixed_points`, once; the first crossing of
   σ_w² S(q) + σ_b² − q for every point at once brackets its q*;
2. all brackets are refined together by the Illinois variant of regula falsi (superlinear, never leaves
   its bracket) to a relative width of 4ε;
3. χ₁ and 𝓛′ at every q* in one quadrature each;
4. for the chaotic points only (χ₁ > 1), c* and χ_c from Mehler's series of the correlation map
   (:mod:`gradmath.meanfield.mehler`: one-dimensional integrals, χ_c as the slope of a Newton step);
   where its stated error is above 10⁻¹⁰, c* is bracketed on a grid of c and refined the same way with
   the two-dimensional rule, in chunks that bound its memory.

Each value is what :func:`gradmath.meanfield.mean_field` computes at that point (tests compare them).

>>> d = phase_diagram("tanh", [0.5, 1.5, 2.5], [0.05])
>>> [str(p) for p in d.phase[:, 0]]
['ordered', 'ordered', 'chaotic']
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import dataclasses

import numpy as np

from gradmath.errors import InvalidParameterError
from gradmath.meanfield.expectations import QuadratureExpectations
from gradmath.meanfield.fixed_points import Q_MAX
from gradmath.meanfield.gaussian import GaussianRule
from gradmath.meanfield.mehler import correlation_fixed_points, series_is_better
from gradmath.meanfield.parameters import parse_parameters
from gradmath.meanfield.point import CRITICAL_TOLERANCE, expectations_for

__all__ = ["PhaseDiagram", "phase_diagram", "MAX_GRID_POINTS"]

#: Largest grid accepted (points × the 1-D rule's 800 nodes × 8 bytes ≈ 1.6 GB at the cap, in chunks).
MAX_GRID_POINTS = 250_000
_Q_GRID = np.logspace(-12, np.log10(Q_MAX), 221)
_C_GRID = 1.0 - np.concatenate([np.logspace(-8, 0, 17), [1.5, 2.0]])
_RTOL = 4 * np.finfo(float).eps
_CHUNK = 64
_TINY_Q = 1e-30


@dataclass(frozen=True)
class PhaseDiagram:
    """Mean-field quantities on a grid; arrays are indexed ``[i_w, i_b]`` (σ_w² along axis 0)."""

    activation: str
    sigma_w2: np.ndarray
    sigma_b2: np.ndarray
    q_star: np.ndarray      #: NaN where no finite fixed point exists (phase "unbounded")
    c_star: np.ndarray      #: NaN where q* = 0 or unbounded
    chi_1: np.ndarray
    chi_c: np.ndarray
    length_slope: np.ndarray
    phase: np.ndarray       #: "ordered", "critical", "chaotic" or "unbounded"

    @property
    def xi_c(self) -> np.ndarray:
        """ξ_c = −1/ln χ_c (inf at χ_c = 1, NaN where undefined)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return -1.0 / np.log(self.chi_c)

    def rows(self) -> list[tuple]:
        """One row per grid point, for CSV: σ_w², σ_b², q*, c*, χ₁, χ_c, ξ_c, phase (None for undefined)."""
        out = []
        for i, w in enumerate(self.sigma_w2):
            for j, b in enumerate(self.sigma_b2):
                values = (self.q_star[i, j], self.c_star[i, j], self.chi_1[i, j], self.chi_c[i, j],
                          self.xi_c[i, j])
                out.append((float(w), float(b)) + tuple(None if not np.isfinite(v) else float(v) for v in values)
                           + (str(self.phase[i, j]),))
        return out


def phase_diagram(activation, sigma_w2, sigma_b2, *, progress: Callable[[int, int], None] | None = None
                  ) -> PhaseDiagram:
    """Every mean-field quantity at every (σ_w², σ_b²) of the grid ``sigma_w2 × sigma_b2``."""
    w = np.atleast_1d(np.asarray(sigma_w2, dtype=np.float64))
    b = np.atleast_1d(np.asarray(sigma_b2, dtype=np.float64))
    if w.ndim != 1 or b.ndim != 1 or w.size == 0 or b.size == 0:
        raise InvalidParameterError("sigma_w2 and sigma_b2 must be non-empty lists of values")
    if w.size * b.size > MAX_GRID_POINTS:
        raise InvalidParameterError(f"a grid of {w.size} × {b.size} = {w.size * b.size} points is larger than "
                                    f"the limit of {MAX_GRID_POINTS}; use fewer values")
    for x in w:
        p = parse_parameters(activation, float(x), float(b[0]))
    for x in b:
        parse_parameters(p.activation, float(w[0]), float(x))
    act = p.activation
    e = _light(expectations_for(act), nodes=8, levels=12)
    W, B = (a.ravel() for a in np.meshgrid(w, b, indexing="ij"))
    q = _q_star(e, W, B)
    bounded = np.isfinite(q)
    at = np.where(q > 0, q, _TINY_Q)
    chi = np.full(W.shape, np.nan)
    slope = np.full(W.shape, np.nan)
    chi[bounded] = W[bounded] * e.prime_square(at[bounded])[0]
    positive = bounded & (q > 0)
    slope[positive] = W[positive] * e.stein(q[positive])[0]
    c = np.where(bounded & (q > 0), 1.0, np.nan)
    chic = np.where(positive, chi, np.nan)
    chaotic = np.nonzero(positive & (chi > 1.0))[0]
    rest = chaotic
    if isinstance(e, QuadratureExpectations) and chaotic.size:
        fp = correlation_fixed_points(e.kernels, q[chaotic], W[chaotic], B[chaotic], _C_GRID)
        keep = fp.ok.copy()
        near = np.nonzero(~fp.ok & fp.converged)[0]
        if near.size:                # c* near 1 (χ_c → 1): keep the series where the 2-D rule states more error
            i = chaotic[near]
            keep[near] = series_is_better(dataclasses.replace(e, estimate=True), fp, near, W[i], q[i])
        c[chaotic[keep]], chic[chaotic[keep]] = fp.c_star[keep], fp.chi_c[keep]
        rest = chaotic[~keep]        # where the series' stated error is too large: the two-dimensional rule
    done = chaotic.size - rest.size
    if progress is not None and done:
        progress(done, chaotic.size)
    for start in range(0, rest.size, _CHUNK):
        idx = rest[start:start + _CHUNK]
        c[idx] = _c_star(e, W[idx], B[idx], q[idx])
        chic[idx] = W[idx] * e.prime_cross(q[idx], c[idx])[0]
        if progress is not None:
            progress(done + min(start + _CHUNK, rest.size), chaotic.size)
    phase = np.where(~bounded, "unbounded",
                     np.where(np.abs(chi - 1.0) <= CRITICAL_TOLERANCE, "critical",
                              np.where(chi < 1.0, "ordered", "chaotic")))
    shape = (w.size, b.size)
    return PhaseDiagram(act.name, w, b, q.reshape(shape), c.reshape(shape), chi.reshape(shape),
                        chic.reshape(shape), slope.reshape(shape), phase.reshape(shape))


def _illinois(f, lo: np.ndarray, hi: np.ndarray, f_lo: np.ndarray, f_hi: np.ndarray, *, atol: float,
              max_iter: int = 100) -> np.ndarray:
    """Roots of the vectorised ``f`` (f(lo) > 0 ≥ f(hi)) by the Illinois method, all brackets at once."""
    lo, hi, f_lo, f_hi = (np.array(a, dtype=np.float64) for a in (lo, hi, f_lo, f_hi))
    x = hi.copy()
    side = np.zeros(lo.shape, dtype=np.int8)
    active = np.ones(lo.shape, dtype=bool)
    for _ in range(max_iter):
        if not active.any():
            break
        i = np.nonzero(active)[0]
        with np.errstate(divide="ignore", invalid="ignore"):
            x_i = (lo[i] * f_hi[i] - hi[i] * f_lo[i]) / (f_hi[i] - f_lo[i])
        bad = ~np.isfinite(x_i) | (x_i <= np.minimum(lo[i], hi[i])) | (x_i >= np.maximum(lo[i], hi[i]))
        x_i[bad] = 0.5 * (lo[i][bad] + hi[i][bad])
        f_i = f(x_i, i)
        x[i] = x_i
        same = f_i > 0                       # the root lies between x and hi
        lo_i, hi_i, flo_i, fhi_i, side_i = lo[i], hi[i], f_lo[i], f_hi[i], side[i]
        lo_i[same], flo_i[same] = x_i[same], f_i[same]
        fhi_i[same & (side_i == 1)] *= 0.5   # Illinois: halve the stale end's value
        hi_i[~same], fhi_i[~same] = x_i[~same], f_i[~same]
        flo_i[~same & (side_i == -1)] *= 0.5
        side_i = np.where(same, 1, -1).astype(np.int8)
        lo[i], hi[i], f_lo[i], f_hi[i], side[i] = lo_i, hi_i, flo_i, fhi_i, side_i
        done = (np.abs(hi_i - lo_i) <= _RTOL * np.abs(x_i) + atol) | (f_i == 0)
        active[i[done]] = False
    return x


def _q_star(e, W: np.ndarray, B: np.ndarray) -> np.ndarray:
    """q* for every point (NaN where the length grows without bound, 0 where it dies out)."""
    s = _square_on_grid(e)
    q = np.full(W.shape, np.nan)
    lo_i = np.full(W.shape, -1)
    for start in range(0, W.size, 4096):
        sl = slice(start, start + 4096)
        g = W[sl, None] * s[None, :] + B[sl, None] - _Q_GRID[None, :]
        down = (g <= 0) & np.isfinite(g)
        has = down.any(axis=1)
        first = np.argmax(down, axis=1)
        lo_i[sl] = np.where(has, first, -1)
    dead = (lo_i == 0) & (B == 0)
    q[dead] = 0.0
    todo = np.nonzero(lo_i > 0)[0]
    if todo.size:
        lo, hi = _Q_GRID[lo_i[todo] - 1], _Q_GRID[lo_i[todo]]
        f_lo = W[todo] * s[lo_i[todo] - 1] + B[todo] - lo
        f_hi = W[todo] * s[lo_i[todo]] + B[todo] - hi

        def f(x, i):
            return W[todo][i] * e.square(x)[0] + B[todo][i] - x

        q[todo] = _illinois(f, lo, hi, f_lo, f_hi, atol=1e-300)
    return q


def _square_on_grid(e) -> np.ndarray:
    """S(q) on the q grid; values where the integral does not exist in float64 are NaN (no crossing there)."""
    out = np.full(_Q_GRID.shape, np.nan)
    for start in range(0, _Q_GRID.size, 16):
        part = _Q_GRID[start:start + 16]
        try:
            out[start:start + 16] = e.square(part)[0]
        except InvalidParameterError:
            break                    # larger q diverge too: σ grows faster there
    return out


def _c_star(e, W: np.ndarray, B: np.ndarray, q: np.ndarray) -> np.ndarray:
    """The stable c* < 1 of chaotic points (χ₁ > 1), bracketed on a c grid and refined together.

    The bracket is located with a coarse two-dimensional rule (only signs matter there); its ends are
    re-evaluated with the full rule, and any point whose ends no longer bracket a root is bracketed again
    with the full rule.
    """
    m = W.size

    def g_on_grid(ex, rows):
        C = np.broadcast_to(_C_GRID, (rows.size, _C_GRID.size))
        Q = np.broadcast_to(q[rows, None], C.shape)
        return (W[rows, None] * ex.cross(Q, C)[0] + B[rows, None]) / Q - C

    def bracket(ex, rows):
        g = np.concatenate([g_on_grid(ex, rows[k:k + 4]) for k in range(0, rows.size, 4)])
        up = g >= 0
        k = np.where(up.any(axis=1), np.argmax(up, axis=1), _C_GRID.size - 1)
        return np.maximum(k, 1)

    def f(x, i):
        return (W[i] * e.cross(q[i], x)[0] + B[i]) / q[i] - x

    rows = np.arange(m)
    coarse = _light(e, nodes=4, levels=8)
    if isinstance(coarse, QuadratureExpectations):     # the edge at 0 alone is cheaper and serves to locate
        coarse = dataclasses.replace(coarse, kernels=dataclasses.replace(coarse.kernels, breakpoints=()))
    k = bracket(coarse, rows)
    lo, hi = _C_GRID[k], _C_GRID[k - 1]           # 𝓒 − c ≥ 0 at lo, < 0 at hi (checked with the full rule)
    f_lo, f_hi = f(lo, rows), f(hi, rows)
    wrong = np.nonzero((f_lo < 0) | (f_hi >= 0))[0]
    if wrong.size:
        k[wrong] = bracket(e, wrong)
        lo[wrong], hi[wrong] = _C_GRID[k[wrong]], _C_GRID[k[wrong] - 1]
        f_lo[wrong], f_hi[wrong] = f(lo[wrong], wrong), f(hi[wrong], wrong)
    return _illinois(f, lo, hi, f_lo, f_hi, atol=1e-15)


def _light(e, *, nodes: int, levels: int):
    """The same expectations with a lighter two-dimensional rule and no error estimate.

    (8, 12) keeps the relative error of 𝓒 and χ_c below 2·10⁻¹⁰ for q ≤ 10⁴ (tests/test_meanfield_phase.py);
    (4, 8) is used only to locate brackets, whose ends are then checked with the finer rule.
    """
    if isinstance(e, QuadratureExpectations):
        return dataclasses.replace(e, rule2=GaussianRule(nodes=nodes, levels=levels), estimate=False)
    return e
