"""Speed of the mean-field phase diagram and of one critical point to 50 digits.

Run ``python benchmarks/bench_meanfield.py [--size N]`` (default N = 200). It prints ratios measured in
this process:

- gradmath's N × N tanh phase diagram (q*, c*, χ₁, χ_c at every point; after a 2 × 2 warm-up) against the
  per-point approach of the reference code (deepchaos): ``scipy.integrate.quad`` for every Gaussian integral
  and plain fixed-point iteration of the length and correlation maps (goal: ≥ 100× faster). The reference
  takes about a second per chaotic point, so it is timed on a uniform random sample of the grid and its mean
  time per point multiplied by N² (an unbiased estimate of the full run; the sample's chaotic fraction is
  printed beside the grid's);
- against a vectorised NumPy Gauss–Hermite quadrature with fixed-point iteration written plainly below
  (goal: gradmath within 2× of it). That plain code is fast but not accurate near the critical line or at
  large q (it is a speed reference only; its errors against gradmath are printed);
- gradmath's diagram against ``mean_field`` (brentq on the two-dimensional graded rule, an independent path
  for c* and χ_c) at a random sample of chaotic points;
- one critical σ_w² of tanh at σ_b² = 0.05 to 50 digits with mpmath (goal: under 1 s).
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np


def reference_point(sw2: float, sb2: float, iterations: int = 200) -> tuple[float, float, float, float]:
    """deepchaos-style: quad for each integral, q* and c* by iterating the maps a fixed number of times,
    then χ₁ and (chaotic points) χ_c at the fixed point: the four values the diagram gives."""
    from scipy import integrate

    def gauss(f):
        return integrate.quad(lambda z: f(z) * math.exp(-z * z / 2), -np.inf, np.inf)[0] / math.sqrt(2 * math.pi)

    q = 1.0
    for _ in range(iterations):
        q_new = sw2 * gauss(lambda z: math.tanh(math.sqrt(q) * z) ** 2) + sb2
        if abs(q_new - q) < 1e-12:
            q = q_new
            break
        q = q_new
    chi = sw2 * gauss(lambda z: (1 - math.tanh(math.sqrt(q) * z) ** 2) ** 2)
    c = 0.5
    if chi > 1:
        for _ in range(20):     # a few iterations of the 2-D map (each a nested quad) already take seconds
            s = math.sqrt(1 - c * c)
            inner = lambda z1: gauss(lambda z2: math.tanh(math.sqrt(q) * (c * z1 + s * z2)))  # noqa: E731
            c = (sw2 * gauss(lambda z1: math.tanh(math.sqrt(q) * z1) * inner(z1)) + sb2) / q
        s = math.sqrt(1 - c * c)
        inner = lambda z1: gauss(lambda z2: 1 - math.tanh(math.sqrt(q) * (c * z1 + s * z2)) ** 2)  # noqa: E731
        chi_c = sw2 * gauss(lambda z1: (1 - math.tanh(math.sqrt(q) * z1) ** 2) * inner(z1))
    else:
        chi_c = chi
    return q, c, chi, chi_c


def plain_numpy(w: np.ndarray, b: np.ndarray, nodes: int = 80, iterations: int = 300, rows: int = 8):
    """A vectorised Gauss–Hermite version: fixed-point iteration on the whole grid at once.

    The 2-D iteration runs only where χ₁ > 1 (elsewhere c* = 1), a few σ_w² rows at a time so that its
    (points × nodes × nodes) arrays fit in memory, and with tanh(u₁) computed once outside the loop.
    """
    x, wt = np.polynomial.hermite_e.hermegauss(nodes)
    wt = wt / wt.sum()
    W, B = np.meshgrid(w, b, indexing="ij")
    q = np.ones_like(W)
    for _ in range(iterations):
        q = W * (np.tanh(np.sqrt(q)[..., None] * x) ** 2 @ wt) + B
    chi = W * ((1 - np.tanh(np.sqrt(q)[..., None] * x) ** 2) ** 2 @ wt)
    c = np.ones_like(W)
    chic = chi.copy()
    z1, z2 = x[:, None], x[None, :]
    w2 = wt[:, None] * wt[None, :]
    chaotic = np.nonzero((chi > 1).ravel())[0]
    for start in range(0, chaotic.size, rows * w.size):
        i = chaotic[start:start + rows * w.size]
        r = np.sqrt(q.ravel()[i])[:, None, None]
        u1 = np.tanh(r * z1)
        ci = np.full(i.size, 0.5)
        for _ in range(30):
            s = np.sqrt(1 - ci * ci)[:, None, None]
            u2 = np.tanh(r * (ci[:, None, None] * z1 + s * z2))
            ci = (W.ravel()[i] * np.sum(u1 * u2 * w2, axis=(-1, -2)) + B.ravel()[i]) / q.ravel()[i]
        s = np.sqrt(1 - ci * ci)[:, None, None]
        d2 = 1 - np.tanh(r * (ci[:, None, None] * z1 + s * z2)) ** 2
        c.ravel()[i] = ci
        chic.ravel()[i] = W.ravel()[i] * np.sum((1 - u1 * u1) * d2 * w2, axis=(-1, -2))
    return q, c, chi, chic


def two_dimensional_c_star(sw2: float, sb2: float, q: float, near: float) -> tuple[float, float]:
    """c* by brentq on the correlation map of the two-dimensional graded rule (gaussian.expect2), and χ_c there."""
    from scipy.optimize import brentq

    from gradmath.activations import get_activation
    from gradmath.meanfield.expectations import QuadratureExpectations
    from gradmath.meanfield.kernels import meanfield_kernels
    from gradmath.meanfield.maps import chi_c, correlation_map

    e = QuadratureExpectations(meanfield_kernels(get_activation("tanh")), estimate=False)

    def g(c):
        return float(correlation_map(e, sw2, sb2, np.array([q]), np.array([c]))[0][0]) - c

    lo, hi = max(-1.0, near - 1e-6), min(1.0 - 1e-15, near + 1e-6)
    c = brentq(g, lo, hi, xtol=1e-15, rtol=1e-15)
    return c, float(chi_c(e, sw2, np.array([q]), np.array([c]))[0][0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=200)
    parser.add_argument("--sample", type=int, default=12, help="reference points timed")
    parser.add_argument("--check", type=int, default=12, help="points recomputed one by one for the accuracy check")
    args = parser.parse_args()
    from gradmath.meanfield import critical_sigma_w2, mean_field
    from gradmath.meanfield.phase import phase_diagram

    n = args.size
    w, b = np.linspace(0.5, 4.0, n), np.linspace(0.0, 0.5, n)
    phase_diagram("tanh", w[[0, -1]], b[[0, -1]])      # warm-up: the kernels compiled, the node tables cached
    start = time.perf_counter()
    d = phase_diagram("tanh", w, b)
    ours = time.perf_counter() - start
    chaotic = d.phase == "chaotic"
    print(f"gradmath {n}×{n} phase diagram: {ours:.2f} s ({chaotic.sum()} chaotic points, "
          f"{chaotic.mean():.0%} of the grid)")

    # The reference costs ~0.1 s per ordered and ~1 s per chaotic point: time a uniform random sample of the
    # grid and multiply its mean by n² (an unbiased estimate of the full run; the chaotic fraction of the
    # sample is printed beside the grid's so a skewed sample shows).
    rng = np.random.default_rng(0)
    picks = [(int(rng.integers(n)), int(rng.integers(n))) for _ in range(args.sample)]
    start = time.perf_counter()
    for i, j in picks:
        reference_point(float(w[i]), float(b[j]))
    per_point = (time.perf_counter() - start) / len(picks)
    reference = per_point * n * n
    sampled = np.mean([chaotic[i, j] for i, j in picks])
    print(f"reference (quad + fixed-point iteration): {per_point:.3f} s per point over {len(picks)} sampled "
          f"points ({sampled:.0%} chaotic), extrapolated {reference:.0f} s for {n}×{n}")

    start = time.perf_counter()
    q, c, chi, chic = plain_numpy(w, b)
    plain = time.perf_counter() - start
    with np.errstate(invalid="ignore", divide="ignore"):
        keep = d.q_star > 1e-6      # where q* = 0 the plain iteration has only crept towards it
        err_q = np.nanmax(np.abs(q[keep] - d.q_star[keep]) / d.q_star[keep])
        err_c = np.nanmax(np.abs(c[chaotic] - d.c_star[chaotic]))
        err_chic = np.nanmax(np.abs(chic[chaotic] / d.chi_c[chaotic] - 1))
    # The machine is shared: time gradmath again after the references and use the slower of its two runs.
    start = time.perf_counter()
    phase_diagram("tanh", w, b)
    again = time.perf_counter() - start
    slow = max(ours, again)
    print(f"plain vectorised Gauss–Hermite: {plain:.2f} s; its largest errors against gradmath: q* {err_q:.1e} "
          f"(relative), c* {err_c:.1e}, χ_c {err_chic:.1e}")
    print(f"gradmath again: {again:.2f} s; with the slower run ({slow:.2f} s): reference / gradmath = "
          f"{reference / slow:.0f}× (goal ≥ 100×), gradmath / plain = {slow / plain:.2f} (goal ≤ 2)")

    # Accuracy: at sampled chaotic points, q* and χ₁ against mean_field, and c*, χ_c against brentq on the
    # two-dimensional graded rule (the path that does not use Mehler's series).
    idx = np.argwhere(chaotic)
    worst = np.zeros(4)
    for i, j in idx[rng.choice(len(idx), size=min(args.check, len(idx)), replace=False)]:
        p = mean_field("tanh", float(w[i]), float(b[j]))
        c2, chic2 = two_dimensional_c_star(float(w[i]), float(b[j]), d.q_star[i, j], d.c_star[i, j])
        worst = np.maximum(worst, [abs(d.q_star[i, j] / p.q_star - 1), abs(d.chi_1[i, j] / p.chi_1 - 1),
                                   abs(d.c_star[i, j] - c2), abs(d.chi_c[i, j] / chic2 - 1)])
    print(f"check at {min(args.check, len(idx))} chaotic points: largest differences q* {worst[0]:.1e}, "
          f"χ₁ {worst[1]:.1e} (relative, against mean_field), c* {worst[2]:.1e} (absolute), χ_c {worst[3]:.1e} "
          "(relative, against brentq on the 2-D rule)")

    critical_sigma_w2("tanh", "0.05", digits=20)   # warm mpmath's quadrature nodes
    start = time.perf_counter()
    value = critical_sigma_w2("tanh", "0.05", digits=50)
    print(f"critical σ_w² of tanh at σ_b² = 0.05 to 50 digits: {value.value} in "
          f"{time.perf_counter() - start:.2f} s (goal < 1 s)")


if __name__ == "__main__":
    main()
