"""Speed of gradmath's sweeps on Dask: parallel speed-up, scheduling overhead, and the per-point work.

Run ``python benchmarks/bench_sweeps.py [--workers 2] [--points 24]``. It prints ratios measured in this process:

- a CPU-bound sweep (points of ~0.1–0.3 s: width 400, depth 60, 16 examples) on a ``LocalCluster`` of
  ``--workers`` processes against the serial engine (goal on 2 cores: ≥ 1.7×), end to end (the cluster's
  start included) and with the cluster already started;
- scheduling overhead: ``--points`` × 2 tasks of 0.1 s each (``time.sleep``, so the figure is the scheduler's
  and not the machine's load) through the engine's stream, against the ideal tasks × 0.1 s / workers
  (goal: under 5 %);
- the per-point work itself (forward, backward, per-layer qˡ, cˡ, ln‖δˡ‖) against the verifier's vectorised
  :func:`gradmath.backprop.backprop` on the same network and batch (goal: within 1.5×); drawing the random
  network is timed separately (it is the same for any method that measures a fresh network).

On a machine shared with other work the speed-up cannot reach the goal however good the engine is; the load
average is printed beside the figures.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np


def _sleep(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


def per_point(repeats: int = 9) -> dict:
    from gradmath.backprop import backprop
    from gradmath.sweeps.point import PointTask, _inputs, _network, measure_point, one_thread

    task = PointTask(index=(0,), activation="tanh", sigma_w2=1.5, sigma_b2=0.05, depth=60, width=400, seed=0,
                     batch=16, data="gaussian", c0=0.5, layers=60)
    best = {"point": np.inf, "draw": np.inf, "backprop": np.inf}
    with one_thread():
        for _ in range(repeats):
            t = time.perf_counter()
            measure_point(task)
            best["point"] = min(best["point"], time.perf_counter() - t)
            t = time.perf_counter()
            rng = np.random.default_rng(np.random.SeedSequence(0, spawn_key=(60, 400, 16)))
            x, y = _inputs(task, rng)
            net = _network(task, rng, x.shape[1])
            best["draw"] = min(best["draw"], time.perf_counter() - t)
            t = time.perf_counter()
            backprop(net, x, y)
            best["backprop"] = min(best["backprop"], time.perf_counter() - t)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--points", type=int, default=24)
    args = parser.parse_args()
    from gradmath.sweeps import make_grid, run_sweep
    from gradmath.sweeps.engine import cluster_client, stream
    from gradmath.sweeps.point import run_task

    print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    p = per_point()
    work = p["point"] - p["draw"]
    print(f"per point (width 400, depth 60, 16 examples): {p['point'] * 1e3:.0f} ms in all, of which drawing the "
          f"network {p['draw'] * 1e3:.0f} ms; measuring {work * 1e3:.0f} ms vs backprop {p['backprop'] * 1e3:.0f} ms: "
          f"{work / p['backprop']:.2f}x (goal <= 1.5x)")

    seeds = max(1, args.points // 4)
    grid = make_grid(activation="tanh", sigma_w2="0.8,1.2,1.4,1.6", sigma_b2="0.05", depth="60", width="400",
                     seeds=seeds, batch=16)
    with tempfile.TemporaryDirectory() as d:
        t = time.perf_counter()
        run_sweep(grid, Path(d) / "serial.zarr", engine="serial")
        serial = time.perf_counter() - t
        t = time.perf_counter()
        run_sweep(grid, Path(d) / "local.zarr", engine="local", workers=args.workers)
        local = time.perf_counter() - t
    tasks = [((i,), grid.task((0, i % 4, 0, 0, 0, i // 4))) for i in range(grid.size)]
    with cluster_client(None, args.workers, 5.0) as (client, _):
        client.submit(run_task, tasks[0][1]).result()               # workers warm (imports done)
        t = time.perf_counter()
        stream(client, run_task, tasks, lambda label, result: None)
        warm = time.perf_counter() - t
        n = 2 * args.points
        t = time.perf_counter()
        stream(client, _sleep, [((i,), 0.1) for i in range(n)], lambda label, result: None)
        slept = time.perf_counter() - t
    ideal = n * 0.1 / args.workers
    print(f"sweep of {grid.size} points: serial {serial:.2f} s; local cluster of {args.workers}: {local:.2f} s end to "
          f"end ({serial / local:.2f}x), {warm:.2f} s for the points alone once started ({serial / warm:.2f}x; "
          "goal >= 1.7x)")
    print(f"{n} tasks of 0.1 s on {args.workers} workers: {slept:.2f} s against {ideal:.2f} s ideal: overhead "
          f"{100 * (slept - ideal) / ideal:.1f} % (goal < 5 %)")
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
