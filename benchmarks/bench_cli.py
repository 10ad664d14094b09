"""Whole-process times of the command line, beside ``python -c "import numpy"`` in the same run.

Run ``python benchmarks/bench_cli.py [--runs N]``. Each case is a fresh interpreter
(start-up, imports, work and exit included), started N times (default 7) in turn with
the reference, so a machine whose speed drifts moves both alike. It prints the best and
the median wall time of each, the ratio of medians to the reference's, and the goal:

- ``gradmath --help``, ``gradmath window --help`` and an argument error: under 0.3 s
  (no SymPy, SciPy or NumPy is imported for them);
- ``gradmath window --digits 1000`` cold (an empty result cache each run) and warm
  (replayed from the cache), and ``gradmath gamma --activation tanh`` warm: warm
  under 0.5 s.

The cache is a temporary folder (``GRADMATH_CACHE_DIR``), deleted afterwards; the
gradmath imported is the one beside this file.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ("python -c 'import numpy'", [sys.executable, "-c", "import numpy"])
GRADMATH = [sys.executable, "-m", "gradmath"]

#: (name, arguments, cache state, goal in seconds or None)
CASES = (
    ("gradmath --help", ["--help"], "warm", 0.3),
    ("gradmath window --help", ["window", "--help"], "warm", 0.3),
    ("argument error (window --digits many)", ["window", "--digits", "many"], "warm", 0.3),
    ("window --digits 1000, cold", ["window", "--digits", "1000"], "cold", None),
    ("window --digits 1000, warm", ["window", "--digits", "1000"], "warm", 0.5),
    ("gamma --activation tanh, warm", ["gamma", "--activation", "tanh"], "warm", 0.5),
)


def _wall(command: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - start


def measure(runs: int) -> list[tuple[str, list[float], list[float], float | None]]:
    """For each case: its wall times, the reference's wall times taken in turn with them, and the goal."""
    folder = Path(tempfile.mkdtemp(prefix="gradmath-bench-cache-"))
    env = {k: v for k, v in os.environ.items() if k != "GRADMATH_NO_CACHE"}
    env.update(PYTHONPATH=str(ROOT) + os.pathsep + env.get("PYTHONPATH", ""), GRADMATH_CACHE_DIR=str(folder))
    results = []
    try:
        for name, arguments, state, goal in CASES:
            command = GRADMATH + arguments
            if state == "warm":
                _wall(command, env)  # fills the cache (and the OS's file cache)
            times, reference = [], []
            for _ in range(runs):
                if state == "cold":
                    shutil.rmtree(folder, ignore_errors=True)
                times.append(_wall(command, env))
                reference.append(_wall(REFERENCE[1], env))
            results.append((name, times, reference, goal))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return results


def report(results) -> None:
    every_reference = [t for _, _, reference, _ in results for t in reference]
    print(f"reference {REFERENCE[0]}: best {min(every_reference):.3f} s, "
          f"median {statistics.median(every_reference):.3f} s")
    print(f"  {'case':42s} {'best':>8s} {'median':>8s} {'÷ numpy':>8s}  goal")
    for name, times, reference, goal in results:
        median = statistics.median(times)
        ratio = median / statistics.median(reference)
        verdict = "" if goal is None else f"< {goal} s: {'met' if median < goal else 'MISSED'}"
        print(f"  {name:42s} {min(times):7.3f}s {median:7.3f}s {ratio:8.2f}  {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="runs of each case (default 7)")
    args = parser.parse_args()
    report(measure(max(1, args.runs)))


if __name__ == "__main__":
    main()
