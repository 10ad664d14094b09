"""Benchmark: the cost of gradmath.torch.GradientMonitor on a training loop, as ratios in one process.

An MLP [784, 100, 100, 100, 100, 10] (sigmoid, float32, CPU) trained by SGD on batches of 128
random examples, timed in these variants, interleaved round by round so that a busy machine
slows them alike; each time is the best of ``--repeats`` rounds of ``--steps`` steps, in CPU time of
the process (``time.process_time``; wall-clock ratios are printed beside them):

* ``plain``: the training loop alone (the reference);
* ``monitor``: GradientMonitor with its defaults, recording every step (speeds, per-example ‖δˡ‖
  quartiles, weight-gradient norms, dead units), copied to the host every 50 steps;
* ``monitor-k1``: the same, copied to the host (and its warnings checked) after every step;
* ``grad_norm``: Lightning's ``lightning.pytorch.utilities.grad_norm`` every step, its values
  read as floats (what logging them every step does);
* ``monitor+bounds``: the monitor with bounds (a) and (b) every step (copied every 50 steps).

Goals: monitor ≤ 1.10 × plain and no slower than grad_norm; monitor+bounds ≤ 1.25 × plain.
PyTorch runs on one thread (``--threads``), its faster setting for matrices this small.

    python benchmarks/bench_torch_monitor.py [--steps 200] [--repeats 5] [--json]
"""

from __future__ import annotations

import argparse
import json
import time
import warnings

SIZES = (784, 100, 100, 100, 100, 10)
BATCH = 128


def _model(torch, nn):
    torch.manual_seed(0)
    mods = []
    for i, (a, b) in enumerate(zip(SIZES, SIZES[1:])):
        mods.append(nn.Linear(a, b))
        if i < len(SIZES) - 2:
            mods.append(nn.Sigmoid())
    return nn.Sequential(*mods)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--warm", type=int, default=50, help="untimed steps at the start of each run")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (0: PyTorch's default)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    import torch
    from torch import nn

    from gradmath.torch import GradientMonitor

    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        from lightning.pytorch.utilities import grad_norm
    except ImportError:  # pragma: no cover
        grad_norm = None
    g = torch.Generator().manual_seed(1)
    batches = [(torch.randn(BATCH, SIZES[0], generator=g), torch.randint(0, 10, (BATCH,), generator=g))
               for _ in range(16)]
    loss_fn = nn.CrossEntropyLoss()

    def run(variant: str, steps: int, warm: int) -> tuple[float, float]:
        model = _model(torch, nn)
        opt = torch.optim.SGD(model.parameters(), lr=0.05)
        monitor = None
        if variant.startswith("monitor"):
            monitor = GradientMonitor(model, loss=loss_fn, bounds=variant == "monitor+bounds",
                                      **({"copy_every": 1} if variant == "monitor-k1" else {})).attach()

        def train(first: int, count: int) -> None:
            for step in range(first, first + count):
                x, y = batches[step % len(batches)]
                opt.zero_grad()
                loss_fn(model(x), y).backward()
                if variant == "grad_norm":
                    _ = {k: float(v) for k, v in grad_norm(model, norm_type=2).items()}
                opt.step()

        train(0, warm)    # untimed: the first copy's one-off work (a warning's mean-field sentence)
        start, cpu = time.perf_counter(), time.process_time()
        train(warm, steps)
        if monitor is not None:
            monitor.detach()   # the last copy is timed
        elapsed = (time.perf_counter() - start, time.process_time() - cpu)
        if monitor is not None:
            assert monitor.step == warm + steps
        return elapsed

    variants = ["plain", "monitor", "monitor-k1", "monitor+bounds"] + (["grad_norm"] if grad_norm else [])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for variant in variants:       # warm-up: imports, γ of the sigmoid (derived once per process)
            run(variant, 5, 0)
        times = {v: [] for v in variants}
        for _ in range(args.repeats):
            for variant in variants:
                times[variant].append(run(variant, args.steps, args.warm))
    wall = {v: min(t[0] for t in ts) for v, ts in times.items()}
    best = {v: min(t[1] for t in ts) for v, ts in times.items()}   # CPU time of this process: less shaken by others
    per_step = {v: best[v] / args.steps * 1e3 for v in variants}
    ratios = {v: best[v] / best["plain"] for v in variants}
    wall_ratios = {v: wall[v] / wall["plain"] for v in variants}
    result = {"sizes": list(SIZES), "batch": BATCH, "steps": args.steps, "repeats": args.repeats,
              "threads": torch.get_num_threads(), "cpu_ms_per_step": per_step, "ratio_to_plain": ratios,
              "wall_ratio_to_plain": wall_ratios,
              "goals": {"monitor <= 1.10": ratios["monitor"] <= 1.10,
                        "monitor+bounds <= 1.25": ratios["monitor+bounds"] <= 1.25,
                        "monitor <= grad_norm": ("grad_norm" in best and best["monitor"] <= best["grad_norm"])}}
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"MLP {list(SIZES)}, batch {BATCH}, {args.steps} steps, best of {args.repeats}, "
              f"{result['threads']} thread(s)")
        for v in variants:
            print(f"  {v:15s} {per_step[v]:7.3f} CPU ms/step   {ratios[v]:5.3f} x plain (wall: {wall_ratios[v]:5.3f} x)")
        for goal, met in result["goals"].items():
            print(f"  goal {goal}: {'met' if met else 'NOT met'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
