"""Expectations over standard Gaussians: E[f(√q z)] and E[f(u₁) g(u₂)] for correlated u₁, u₂.

The mean-field maps (Poole et al. 2016, eq. (3)–(5)) are Gaussian integrals of the
activation. Here they are computed by composite Gauss–Legendre quadrature in the
standard variable z on ``[-Z, Z]`` (Z = 10, so the neglected tails carry less than
2·10⁻²² of the mass times the integrand's growth), on a mesh *graded towards 0*:
panels ``[Z/2^{k+1}, Z/2^k]`` for k = 0 … K−1 and ``[0, Z/2^K]``, mirrored. The grading
keeps the rule accurate for any q from 10⁻⁸ to 10⁸, where f(√q z) changes on the scale
1/√q, and the breakpoint at 0 makes kinks there (ReLU, |x|) harmless.

An activation with kinks or jumps elsewhere (hard tanh at ±1) passes its breakpoints k
(``points``, found symbolically by :mod:`gradmath.meanfield.kernels`): the mesh then has an
edge at every z = k/√q as well, each panel between two such edges split at its midpoint and
graded towards both ends, so that φ is smooth on every panel and the rule converges as fast
as for a smooth activation (and the coarse twin's difference is an honest estimate again).

Every value comes with an error estimate: the difference between the rule and the
same mesh with fewer nodes per panel. It is an estimate (not a bound); tests check it
against mpmath's quadrature at high precision.

>>> import numpy as np
>>> rule = GaussianRule()
>>> float(rule.expect(lambda x: x * x, np.array([2.0]))[0][0])   # E[(√2 z)²] = 2
2.0
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
import functools
from functools import cached_property

import numpy as np

from gradmath.errors import InvalidParameterError

__all__ = ["GaussianRule", "Z_MAX"]

#: Half-width of the integration interval in the standard variable z.
Z_MAX = 10.0
_INV_SQRT_2PI = 1.0 / np.sqrt(2.0 * np.pi)

Kernel = Callable[[np.ndarray], np.ndarray]


@functools.lru_cache(maxsize=128)
def _unit_rule(nodes: int, levels: int) -> tuple[np.ndarray, np.ndarray]:
    """Composite Gauss–Legendre on [0, 1] graded towards 0 (plain weights).

    Panels of width 1/8 on [1/8, 1], then [2^-(k+1), 2^-k] down to 2^-levels, then [0, 2^-levels].
    """
    x, w = np.polynomial.legendre.leggauss(nodes)
    edges = [k / 8.0 for k in range(8, 1, -1)] + [1.0 / 2.0**k for k in range(3, levels + 1)] + [0.0]
    ts, ws = [], []
    for hi, lo in zip(edges[:-1], edges[1:]):
        half, mid = (hi - lo) / 2.0, (hi + lo) / 2.0
        ts.append(mid + half * x)
        ws.append(half * w)
    return np.concatenate(ts), np.concatenate(ws)


def _composite(points: np.ndarray, end: tuple[np.ndarray, np.ndarray], mid: tuple[np.ndarray, np.ndarray]
               ) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and plain weights on [−Z, Z] graded towards each of the sorted ``points`` (..., m).

    The end panels [−Z, p₁] and [p_m, Z] take the unit rule ``end`` (nodes, weights on [0, 1] graded towards 0)
    towards their inner end; each panel [p_i, p_{i+1}] is split at its midpoint and each half takes ``mid``
    towards its own end. Points outside [−Z, Z] are clipped (empty panels get zero weight).
    """
    p = np.clip(points, -Z_MAX, Z_MAX)
    (te, we), (tm, wm) = end, mid
    half = np.diff(p, axis=-1)[..., None] / 2.0
    first, last = p[..., :1], p[..., -1:]
    nodes = [first - (first + Z_MAX) * te, (p[..., :-1, None] + half * tm).reshape(*p.shape[:-1], -1),
             (p[..., 1:, None] - half * tm).reshape(*p.shape[:-1], -1), last + (Z_MAX - last) * te]
    weights = [(first + Z_MAX) * we, (half * wm).reshape(*p.shape[:-1], -1),
               (half * wm).reshape(*p.shape[:-1], -1), (Z_MAX - last) * we]
    return np.concatenate(nodes, axis=-1), np.concatenate(weights, axis=-1)


def _over(points: np.ndarray, q: np.ndarray) -> np.ndarray:
    """k/√q for each breakpoint k (last axis) and each q (leading axes); 0 stays 0 at q = 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        out = points / np.sqrt(q)[..., None]
    return np.where(points == 0.0, 0.0, np.nan_to_num(out, nan=0.0, posinf=Z_MAX, neginf=-Z_MAX))


#: Largest number of nodes evaluated at once by the rules with breakpoints (rows are taken in chunks).
_CHUNK_NODES = 2**21
#: Graded levels of the half-panels between two breakpoints (of the unit rule, whose panels of 1/8 resolve the
#: density). Their width scales with 1/√q like the activation's own features, so a fixed depth serves every q;
#: the outer rule's go deeper where its near-kinks (width s) need it.
_MID_LEVELS = 4
#: The rounding floor of the rules with breakpoints, in units of ε times the largest |integrand|: products
#: (2 roundings) and NumPy's pairwise sums (≤ log₂ of ~10⁴ terms, twice in two dimensions) stay below 32.
_ROUNDING = 32


def _density(z: np.ndarray) -> np.ndarray:
    return _INV_SQRT_2PI * np.exp(-0.5 * z * z)


@functools.lru_cache(maxsize=64)
def _graded_rule(nodes: int, levels: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The symmetric rule in z (weights include the density), and the unit rule it is built from."""
    t, w = _unit_rule(nodes, levels)
    z = np.concatenate([-Z_MAX * t[::-1], Z_MAX * t])
    wt = np.concatenate([w[::-1], w]) * Z_MAX * _density(z)
    return z, wt, t, w


def _finite(values: np.ndarray) -> np.ndarray:
    if not np.all(np.isfinite(values)):
        raise InvalidParameterError(
            "a mean-field integral is not finite in float64 (the activation grows too fast for the Gaussian "
            "weight, or overflows); use an activation that grows at most polynomially or smaller variances")
    return values


@dataclass(frozen=True)
class GaussianRule:
    """A quadrature rule for E over z ~ N(0, 1), with a coarser twin for error estimates.

    Parameters
    ----------
    nodes : int
        Gauss–Legendre nodes per panel (the twin uses ``nodes // 2 + 2``).
    levels : int
        Number of graded panels on each side of 0.
    """

    nodes: int = 12
    levels: int = 24

    @cached_property
    def fine(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        return _graded_rule(self.nodes, self.levels)

    @cached_property
    def coarse(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        return _graded_rule(self.nodes // 2 + 2, self.levels)

    def expect(self, f: Kernel, q: np.ndarray, *, estimate: bool = True,
               points: tuple[float, ...] = (0.0,)) -> tuple[np.ndarray, np.ndarray]:
        """E[f(√q z)] for each q (any shape), and an error estimate of each value (NaN with ``estimate=False``,
        which skips the coarse twin). ``points``: the sorted breakpoints k of f, 0 among them; the mesh has an
        edge at each z = k/√q."""
        q = np.asarray(q, dtype=np.float64)
        if tuple(points) != (0.0,):
            return self._expect_at(f, q, np.asarray(points, dtype=np.float64), estimate)
        values = []
        with np.errstate(over="ignore", invalid="ignore"):   # checked below: no silent inf or NaN
            for z, w, _, _ in (self.fine, self.coarse) if estimate else (self.fine,):
                x = np.sqrt(q)[..., None] * z
                values.append(np.asarray(f(x), dtype=np.float64) @ w)
            if not estimate:
                return _finite(values[0]), np.full(values[0].shape, np.nan)
            return _finite(values[0]), np.abs(values[0] - values[1])

    def _expect_at(self, f: Kernel, q: np.ndarray, points: np.ndarray, estimate: bool):
        """:meth:`expect` with edges at z = k/√q for every breakpoint k (the mesh depends on q).

        The error adds a rounding floor, :data:`_ROUNDING` ε max|f| (the weights sum to 1): the twins can agree
        to the last bit where f is a polynomial on every panel (hard tanh)."""
        flat = q.reshape(-1)
        values = np.empty((3, flat.size))
        for j in range(2 if estimate else 1):
            n = self.nodes if j == 0 else self.nodes // 2 + 2
            end, mid = _unit_rule(n, self.levels), _unit_rule(n, _MID_LEVELS)
            size = 2 * end[0].size + 2 * (points.size - 1) * mid[0].size
            rows = max(1, _CHUNK_NODES // size)
            for start in range(0, flat.size, rows):
                qs = flat[start:start + rows]
                z, wz = _composite(_over(points, qs), end, mid)
                with np.errstate(over="ignore", invalid="ignore"):   # checked below
                    fx = np.asarray(f(np.sqrt(qs)[:, None] * z), dtype=np.float64)
                    values[j, start:start + rows] = (fx * (wz * _density(z))).sum(axis=-1)
                    if j == 0:
                        values[2, start:start + rows] = np.max(np.abs(fx), axis=-1)
        fine = _finite(values[0].reshape(q.shape))
        if not estimate:
            return fine, np.full(q.shape, np.nan)
        floor = _ROUNDING * np.finfo(float).eps * values[2].reshape(q.shape)
        return fine, np.abs(fine - _finite(values[1].reshape(q.shape))) + floor

    def expect2(self, f: Kernel, g: Kernel, q: np.ndarray, c: np.ndarray, *, estimate: bool = True,
                q2: np.ndarray | None = None, points: tuple[float, ...] = (0.0,)) -> tuple[np.ndarray, np.ndarray]:
        """E[f(u₁) g(u₂)] with u₁ = √q z₁, u₂ = √q₂ (c z₁ + √(1−c²) z₂), and an error estimate.

        ``q``, ``c`` (and ``q2``, default ``q``) broadcast against each other; |c| ≤ 1. The inner rule (over z₂) is
        graded towards z₂ = −c z₁/√(1−c²), where u₂ = 0, so a kink of g at 0 sits on a
        panel edge for every z₁. ``estimate=False`` skips the coarse twin (the error is then NaN).
        ``points``: the sorted breakpoints k of f and g, 0 among them; with more than 0 the inner rule has an
        edge where u₂ = k and the outer one where u₁ = k, for every k (see :meth:`_expect2_at`).
        """
        q, c, q2 = np.broadcast_arrays(np.asarray(q, dtype=np.float64), np.asarray(c, dtype=np.float64),
                                       np.asarray(q if q2 is None else q2, dtype=np.float64))
        if tuple(points) != (0.0,):
            return self._expect2_at(f, g, q, c, q2, np.asarray(points, dtype=np.float64), estimate)
        s = np.sqrt(np.maximum(0.0, 1.0 - c * c))[..., None]
        # For 0 < s ≪ 1 the inner integral, as a function of z₁, steps (for a g that jumps at 0) over a width
        # s/|c| around z₁ = 0: grade the outer rule down to that width (at most 2⁻⁶⁰ of Z).
        positive = s[s > 0]
        extra = 0 if positive.size == 0 else int(np.ceil(np.log2(Z_MAX / max(float(positive.min()), 2.0**-60))))
        levels = min(max(self.levels, extra + 2), 64)
        rules = [_graded_rule(self.nodes, levels), _graded_rule(self.nodes // 2 + 2, levels)]
        c = c[..., None]
        values = []
        for z1, w1, t, wt in rules if estimate else rules[:1]:
            with np.errstate(divide="ignore", invalid="ignore"):   # s = 0 is handled by the where
                b = np.where(s > 0, -c * z1 / np.where(s > 0, s, 1.0), Z_MAX)
            b = np.clip(b, -Z_MAX, Z_MAX)[..., None]                    # (..., n1, 1)
            right, left = Z_MAX - b, b + Z_MAX
            z2 = np.concatenate([b - left * t[::-1], b + right * t], axis=-1)
            w2 = np.concatenate([left * wt[::-1], right * wt], axis=-1) * _density(z2)
            u2 = np.sqrt(q2)[..., None, None] * (c[..., None] * z1[:, None] + s[..., None] * z2)
            inner = (np.asarray(g(u2), dtype=np.float64) * w2).sum(axis=-1)        # over z₂
            u1 = np.sqrt(q)[..., None] * z1
            with np.errstate(over="ignore", invalid="ignore"):   # checked below
                values.append((np.asarray(f(u1), dtype=np.float64) * inner) @ w1)
        if not estimate:
            return _finite(values[0]), np.full(values[0].shape, np.nan)
        return _finite(values[0]), np.abs(values[0] - values[1])

    def _expect2_at(self, f: Kernel, g: Kernel, q, c, q2, points: np.ndarray, estimate: bool):
        """:meth:`expect2` with edges at every breakpoint: where u₂ = k in z₂ (each z₁), where u₁ = k in z₁.

        The inner integral is, as a function of z₁, g smoothed over a width s/|c| (s = √(1−c²)) around each
        z₁ = k/(c√q₂): where s is small these near-kinks must sit at outer edges too. With q₂ = q and c > 0
        they lie within s²/√q of the edges at u₁ = k, which the outer grading (down to the width s, row by
        row) resolves; otherwise (q₂ ≠ q, or c < 0) they are added as edges of their own. The error adds a
        rounding floor, :data:`_ROUNDING` ε max|f| max|g|.
        """
        shape = q.shape
        q, c, q2 = q.reshape(-1), c.reshape(-1), q2.reshape(-1)
        s = np.sqrt(np.maximum(0.0, 1.0 - c * c))
        with np.errstate(divide="ignore"):
            extra = np.where(s > 0, np.ceil(np.log2(Z_MAX / np.maximum(s, 2.0**-60))), 0).astype(int)
        need = np.minimum(extra + 2, 64)              # grading depth the outer rule needs near its edges
        near = bool(np.any((s < 0.5) & ((q2 != q) | (c < 0))))
        values = np.zeros((4, q.size))
        m = points.size
        for depth in np.unique(need):
            group = np.nonzero(need == depth)[0]
            for j in range(2 if estimate else 1):
                n = self.nodes if j == 0 else self.nodes // 2 + 2
                end, mid = _unit_rule(n, max(self.levels, int(depth))), _unit_rule(n, _MID_LEVELS)
                deep = _unit_rule(n, max(_MID_LEVELS, int(depth)))
                m1 = 2 * m - 1 if near else m
                n1 = 2 * end[0].size + 2 * (m1 - 1) * deep[0].size
                n2 = 2 * end[0].size + 2 * (m - 1) * mid[0].size
                rows = max(1, _CHUNK_NODES // (n1 * n2))
                for start in range(0, group.size, rows):
                    idx = group[start:start + rows]
                    qa, ca, q2a, sa = q[idx], c[idx, None], q2[idx], s[idx, None]
                    outer = _over(points, qa)
                    if near:
                        outer = np.sort(np.concatenate([outer, _over(points[points != 0], q2a * ca[:, 0] ** 2)
                                                        * np.sign(ca)], axis=-1), axis=-1)
                    z1, w1 = _composite(outer, end, deep)                                 # (n, n1)
                    with np.errstate(divide="ignore", invalid="ignore"):   # s = 0 is handled by the where
                        inner_points = np.where(
                            sa[..., None] > 0,
                            (_over(points, q2a)[:, None, :] - ca[..., None] * z1[..., None])
                            / np.where(sa > 0, sa, 1.0)[..., None], Z_MAX)
                    z2, w2 = _composite(inner_points, end, mid)                           # (n, n1, n2)
                    u2 = np.sqrt(q2a)[:, None, None] * (ca[..., None] * z1[..., None] + sa[..., None] * z2)
                    with np.errstate(over="ignore", invalid="ignore"):   # checked below
                        gx = np.asarray(g(u2), dtype=np.float64)
                        inner = (gx * (w2 * _density(z2))).sum(axis=-1)
                        fx = np.asarray(f(np.sqrt(qa)[:, None] * z1), dtype=np.float64)
                        values[j, idx] = (fx * inner * (w1 * _density(z1))).sum(axis=-1)
                        if j == 0:
                            values[2, idx] = np.max(np.abs(fx), axis=-1)
                            values[3, idx] = np.max(np.abs(gx), axis=(-2, -1))
        fine = _finite(values[0].reshape(shape))
        if not estimate:
            return fine, np.full(shape, np.nan)
        floor = _ROUNDING * np.finfo(float).eps * (values[2] * values[3]).reshape(shape)
        return fine, np.abs(fine - _finite(values[1].reshape(shape))) + floor
