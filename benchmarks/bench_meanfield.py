"""Speed of the mean-field phase diagram and of one critical point to 50 digits.

Run ``python benchmarks/bench_meanfield.py [--size N]`` (default N = 200). It prints ratios measured in
this process:

- gradmath's N × N tanh phase diagram (q*, c*, χ₁, χ_c at every point) against the per-point approach of
  the reference code (deepchaos): ``scipy.integrate.quad`` for every Gaussian integral and plain fixed-point
  iteration of the length and correlation maps (goal: ≥ 100× faster). The reference takes minutes per
  hundred points, so it is timed on a random sample of points and its per-point time multiplied out;
- against a vectorised NumPy Gauss–Hermite quadrature with fixed-point iteration written plainly below
  (goal: gradmath within 2× of it). That plain code is fast but not accurate near the critical line or at
  large q (it is a speed reference only; its error is printed);
- one critical σ_w² of tanh at σ_b² = 0.05 to 50 digits with mpmath (goal: under 1 s).
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np


def reference_point(sw2: float, sb2: float, iterations: int = 200) -> tuple[float, float]:
    """deepchaos-style: quad for each integral, q* and c* by iterating the maps a fixed number of times."""
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
    return q, chi


def plain_numpy(w: np.ndarray, b: np.ndarray, nodes: int = 80, iterations: int = 300):
    """A vectorised Gauss–Hermite version: fixed-point iteration on the whole grid at once."""
    x, wt = np.polynomial.hermite_e.hermegauss(nodes)
    wt = wt / wt.sum()
    W, B = np.meshgrid(w, b, indexing="ij")
    q = np.ones_like(W)
    for _ in range(iterations):
        q = W * (np.tanh(np.sqrt(q)[..., None] * x) ** 2 @ wt) + B
    chi = W * ((1 - np.tanh(np.sqrt(q)[..., None] * x) ** 2) ** 2 @ wt)
    c = np.full_like(W, 0.5)
    z1, z2 = x[:, None], x[None, :]
    w2 = wt[:, None] * wt[None, :]
    for _ in range(30):
        s = np.sqrt(1 - c * c)
        r = np.sqrt(q)[..., None, None]
        u1 = np.tanh(r * z1)
        u2 = np.tanh(r * (c[..., None, None] * z1 + s[..., None, None] * z2))
        c = np.where(chi > 1, (W * np.sum(u1 * u2 * w2, axis=(-1, -2)) + B) / q, 1.0)
    return q, c, chi


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=200)
    parser.add_argument("--sample", type=int, default=6, help="reference points timed")
    args = parser.parse_args()
    from gradmath.meanfield import critical_sigma_w2, mean_field
    from gradmath.meanfield.phase import phase_diagram

    n = args.size
    w, b = np.linspace(0.5, 4.0, n), np.linspace(0.0, 0.5, n)
    start = time.perf_counter()
    d = phase_diagram("tanh", w, b)
    ours = time.perf_counter() - start
    print(f"gradmath {n}×{n} phase diagram: {ours:.2f} s ({(d.phase == 'chaotic').sum()} chaotic points)")

    rng = np.random.default_rng(0)
    picks = [(float(rng.choice(w)), float(rng.choice(b))) for _ in range(args.sample)]
    start = time.perf_counter()
    for sw2, sb2 in picks:
        reference_point(sw2, sb2)
    per_point = (time.perf_counter() - start) / len(picks)
    reference = per_point * n * n
    print(f"reference (quad + fixed-point iteration): {per_point:.3f} s per point, {reference:.0f} s for "
          f"{n}×{n} (from {len(picks)} sampled points); ratio {reference / ours:.0f}× (goal ≥ 100×)")

    start = time.perf_counter()
    q, c, chi = plain_numpy(w, b)
    plain = time.perf_counter() - start
    with np.errstate(invalid="ignore", divide="ignore"):
        keep = d.q_star > 1e-6      # where q* = 0 the plain iteration has only crept towards it
        err_q = np.nanmax(np.abs(q[keep] - d.q_star[keep]) / d.q_star[keep])
    print(f"plain vectorised Gauss–Hermite: {plain:.2f} s; gradmath / plain = {ours / plain:.2f} (goal ≤ 2); "
          f"its largest relative error in q* = {err_q:.1e}")
    p = mean_field("tanh", 2.5, 0.05)
    i, j = np.argmin(abs(w - 2.5)), np.argmin(abs(b - 0.05))
    print(f"check: one point by mean_field vs the diagram at (2.5, 0.05): q* {p.q_star:.15g} vs {d.q_star[i, j]:.15g}"
          if (w[i], b[j]) == (2.5, 0.05) else "check: (2.5, 0.05) is not on this grid")

    critical_sigma_w2("tanh", "0.05", digits=20)   # warm mpmath's quadrature nodes
    start = time.perf_counter()
    value = critical_sigma_w2("tanh", "0.05", digits=50)
    print(f"critical σ_w² of tanh at σ_b² = 0.05 to 50 digits: {value.value} in "
          f"{time.perf_counter() - start:.2f} s (goal < 1 s)")


if __name__ == "__main__":
    main()
