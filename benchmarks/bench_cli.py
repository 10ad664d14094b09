"""Whole-process times of the command line, beside ``python -c "import numpy"`` in the same run.

Run ``python benchmarks/bench_cli.py [--runs N]``. Each case is a fresh interpreter
(start-up, imports, work and exit included), started N times (default 7) in turn with
the reference, so a machine whose speed drifts moves both alike. It prints the best and
the median wall time of each, the ratio of medians to the reference's, the same for the
CPU time (user + system, steadier on a busy machine), and the goals, met or not by
the median wall and CPU times (on a busy machine wall time waits for a processor):

- ``gradmath --help``, ``gradmath window --help`` and an argument error: under 0.3 s
  (no SymPy, SciPy or NumPy is imported for them);
- ``gradmath window --digits 1000`` cold (an empty result cache each run) and warm
  (replayed from the cache), and ``gradmath gamma --activation tanh`` warm: warm
  under 0.5 s.

The cache is a temporary folder (``GRADMATH_CACHE_DIR``), deleted afterwards; the
gradmath imported is the one beside this file, from bytecode in ``__pycache__`` as an
installed package is (``--no-bytecode`` keeps ``PYTHONDONTWRITEBYTECODE``).
"""

from __future__ import annotations

import argparse
import os
import resource
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


def _wall(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall seconds of one run, and the CPU seconds (user + system) the child used."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


Times = list[tuple[float, float]]


def measure(runs: int, *, bytecode: bool = True) -> list[tuple[str, Times, Times, float | None]]:
    """For each case: its (wall, cpu) times, the reference's taken in turn with them, and the goal."""
    folder = Path(tempfile.mkdtemp(prefix="gradmath-bench-cache-"))
    env = {k: v for k, v in os.environ.items() if k != "GRADMATH_NO_CACHE"}
    if bytecode:  # as installed: modules load from __pycache__ instead of being compiled each run
        env.pop("PYTHONDONTWRITEBYTECODE", None)
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
    walls, cpus = [w for w, _ in every_reference], [c for _, c in every_reference]
    print(f"reference {REFERENCE[0]}: wall best {min(walls):.3f} s, median {statistics.median(walls):.3f} s; "
          f"cpu median {statistics.median(cpus):.3f} s")
    print(f"  {'case':40s} {'wall best':>9s} {'median':>8s} {'÷ numpy':>8s} {'cpu med':>8s} {'÷ numpy':>8s}  goal")
    for name, times, reference, goal in results:
        wall = statistics.median(w for w, _ in times)
        cpu = statistics.median(c for _, c in times)
        wall_ratio = wall / statistics.median(w for w, _ in reference)
        cpu_ratio = cpu / statistics.median(c for _, c in reference)
        verdict = "" if goal is None else (f"< {goal} s: wall {'met' if wall < goal else 'MISSED'}, "
                                           f"cpu {'met' if cpu < goal else 'MISSED'}")
        print(f"  {name:40s} {min(w for w, _ in times):8.3f}s {wall:7.3f}s {wall_ratio:8.2f} {cpu:7.3f}s "
              f"{cpu_ratio:8.2f}  {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="runs of each case (default 7)")
    parser.add_argument("--no-bytecode", dest="bytecode", action="store_false",
                        help="keep PYTHONDONTWRITEBYTECODE if set (every run compiles gradmath's sources)")
    args = parser.parse_args()
    report(measure(max(1, args.runs), bytecode=args.bytecode))


if __name__ == "__main__":
    main()
