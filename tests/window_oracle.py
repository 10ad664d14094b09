"""An independent mpmath computation of the window, for the tests only.

It shares no code with gradmath: σ′ is written by hand in mpmath for each test
activation (not differentiated by SymPy, not lambdified), γ = sup |σ′| is found by
dense sampling refined with :func:`mpmath.findroot` on a numerical σ″, and the
level set {z : |σ′(z)| ≥ c} by dense sampling whose sign changes are refined with
:func:`mpmath.findroot` (bracketing solver). The window width at u = |w| is the
total length of that set divided by u (``proofs/window.md``, part 2); its maximum
over u is found by golden-section search.
"""

from __future__ import annotations

import mpmath

DPS = 30
_GRID = 2001


def sup_abs(prime, tail: float, radius: float = 40.0, grid: int = _GRID):
    """(γ, attained): sup |σ′| from a grid on [−R, R] refined by Newton on (|σ′|)′, and the tails' value."""
    with mpmath.workdps(DPS):
        step = mpmath.mpf(2 * radius) / (grid - 1)
        zs = [-radius + k * step for k in range(grid)]
        k = max(range(grid), key=lambda i: abs(prime(zs[i])))
        best = abs(prime(zs[k]))
        if 0 < k < grid - 1:
            try:
                z = mpmath.findroot(lambda t: mpmath.diff(prime, t), zs[k])
                if abs(z - zs[k]) <= step:
                    best = max(best, abs(prime(z)))
            except (ValueError, ZeroDivisionError):
                pass
        tail = mpmath.mpf(tail)
        interior = 0 < k < grid - 1  # a peak inside the range is attained; a rise to the edge is the tail
        return (best, True) if interior and best >= tail - mpmath.mpf(10) ** -20 else (max(best, tail), False)


def level_intervals(prime, level, radius: float = 40.0, grid: int = _GRID):
    """The intervals of {z ∈ [−R, R] : |σ′(z)| ≥ level}, ends refined by a bracketing findroot."""
    with mpmath.workdps(DPS):
        level = mpmath.mpf(level)
        g = lambda t: abs(prime(t)) - level  # noqa: E731
        step = mpmath.mpf(2 * radius) / (grid - 1)
        zs = [-radius + k * step for k in range(grid)]
        vs = [g(z) for z in zs]
        if vs[0] >= 0 or vs[-1] >= 0:
            return None  # the set runs on past the range: unbounded
        ends = [mpmath.findroot(g, (zs[k], zs[k + 1]), solver="anderson")
                for k in range(grid - 1) if (vs[k] >= 0) != (vs[k + 1] >= 0)]
        return [(ends[i], ends[i + 1]) for i in range(0, len(ends) - 1, 2)]


def width(prime, u, radius: float = 40.0, grid: int = _GRID):
    """Total length of {a : |uσ′(ua)| ≥ 1} (inf when unbounded)."""
    with mpmath.workdps(DPS):
        u = mpmath.mpf(u)
        parts = level_intervals(prime, 1 / u, radius, grid)
        if parts is None:
            return mpmath.inf
        return sum((hi - lo for lo, hi in parts), mpmath.mpf(0)) / u


def argmax_width(prime, lo, hi, steps: int = 60):
    """(argmax u, max width) on [lo, hi] by golden-section search (the width is unimodal there)."""
    with mpmath.workdps(DPS):
        a, b = mpmath.mpf(lo), mpmath.mpf(hi)
        r = (mpmath.sqrt(5) - 1) / 2
        c, d = b - r * (b - a), a + r * (b - a)
        fc, fd = width(prime, c), width(prime, d)
        for _ in range(steps):
            if fc > fd:
                b, d, fd = d, c, fc
                c = b - r * (b - a)
                fc = width(prime, c)
            else:
                a, c, fc = c, d, fd
                d = a + r * (b - a)
                fd = width(prime, d)
        u = (a + b) / 2
        return u, width(prime, u)


def sech2(z):
    return 1 / mpmath.cosh(z) ** 2


#: σ′ written by hand (not derived by SymPy) for the test activations.
PRIMES = {
    "-tanh(x)": lambda z: -sech2(z),
    "-1/(1+exp(-x))": lambda z: -1 / (4 * mpmath.cosh(z / 2) ** 2),
    "x/2-2*tanh(x)": lambda z: mpmath.mpf(1) / 2 - 2 * sech2(z),
    "x/sqrt(1+x**2)": lambda z: (1 + z * z) ** mpmath.mpf(-1.5),
    "x*exp(-x*x)": lambda z: (1 - 2 * z * z) * mpmath.exp(-z * z),
}


def tanh_line(a, b):
    """σ′ of a·tanh(x) + b·x."""
    return lambda z: a * sech2(z) + b
