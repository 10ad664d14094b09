"""Timings of the window maximum: digits, certification, and the derivative given to Newton.

Run ``python benchmarks/bench_window.py``. It prints, with mpmath's gmpy2 backend
(this process) and with its pure-Python backend (a child process started with
``MPMATH_NOGMPY=1``, since mpmath picks its backend at import):

- 1000 and 10,000 correct digits of the maximiser and the maximum (goals 0.1 s, 10 s);
- a certified enclosure at 50 digits (goal 0.05 s);
- the ratio of Newton with ``mpmath.diff`` (numeric derivative) to Newton with
  SymPy's W″, at 1000 and 10,000 digits, and of one derivative evaluation.

Times are the best of several runs after one warm-up run, so the one-off SymPy
derivation (cached per activation, about a second) is excluded; it is printed
separately as "cold start".
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time


def _best(fn, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def measure() -> dict:
    import mpmath

    start = time.perf_counter()
    from gradmath.numeric.certify import certify_window_maximum
    from gradmath.numeric.precision import window_maximum

    window_maximum(digits=20)
    certify_window_maximum(digits=20)
    cold = time.perf_counter() - start
    return {
        "backend": mpmath.libmp.BACKEND,
        "cold start (derivation, lambdify)": cold,
        "1000 digits": _best(lambda: window_maximum(digits=1000), 5),
        "10000 digits": _best(lambda: window_maximum(digits=10_000), 2),
        "certified, 50 digits": _best(lambda: certify_window_maximum(digits=50), 5),
        "numeric-derivative Newton, 1000 digits": _best(
            lambda: window_maximum(digits=1000, derivative="numeric"), 5),
        "numeric-derivative Newton, 10000 digits": _best(
            lambda: window_maximum(digits=10_000, derivative="numeric"), 2),
        **_one_derivative(1000),
    }


def _one_derivative(digits: int) -> dict:
    """One evaluation of W″ (SymPy) against one mpmath.diff of W′, at the maximiser."""
    import mpmath

    from gradmath.activations import get_activation
    from gradmath.numeric.precision import _kernels, window_maximum

    _, first, second = _kernels(get_activation("sigmoid"))
    with mpmath.workdps(digits + 10):
        u = mpmath.mpf(window_maximum(digits=digits).argmax_abs_w)
        return {f"W'' by SymPy, one evaluation, {digits} digits": _best(lambda: second(u), 20),
                f"W'' by mpmath.diff, one evaluation, {digits} digits": _best(lambda: mpmath.diff(first, u), 20)}


def _report(result: dict) -> None:
    goals = {"1000 digits": 0.1, "10000 digits": 10.0, "certified, 50 digits": 0.05}
    print(f"mpmath backend: {result['backend']}")
    for key, seconds in result.items():
        if key == "backend":
            continue
        goal = f"  (goal < {goals[key]} s: {'met' if seconds < goals[key] else 'MISSED'})" if key in goals else ""
        print(f"  {key:50s} {seconds:9.4f} s{goal}")
    for digits in ("1000", "10000"):
        ratio = result[f"numeric-derivative Newton, {digits} digits"] / result[f"{digits} digits"]
        print(f"  ratio findroot(mpmath.diff) / findroot(SymPy W″) at {digits} digits: {ratio:.2f}")
    per_call = result["W'' by mpmath.diff, one evaluation, 1000 digits"] / result["W'' by SymPy, one evaluation, 1000 digits"]
    print(f"  ratio per derivative evaluation at 1000 digits: {per_call:.2f} "
          "(precision doubling leaves few full-precision Newton steps, so the whole solve differs less)")


def main() -> int:
    if "--child" in sys.argv:
        json.dump(measure(), sys.stdout)
        return 0
    _report(measure())
    env = {**os.environ, "MPMATH_NOGMPY": "1"}
    done = subprocess.run([sys.executable, __file__, "--child"], env=env, capture_output=True, text=True, check=True)
    _report(json.loads(done.stdout))
    return 0


if __name__ == "__main__":
    sys.exit(main())
