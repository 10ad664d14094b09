"""Benchmark: Nielsen's training runs in gradmath against PyTorch autograd, and `gradmath reproduce`.

For 2, 3 and 4 hidden layers of 30 on the first 1,000 digits images: 500 epochs of
full-batch gradient descent (η = 0.1, λ = 5.0) recording every hidden layer's
speed of learning at every epoch, once with :func:`gradmath.experiments.training.train`
and once with PyTorch autograd (CPU, float64) from the same initial network. Each
side runs in its own subprocess; the time is the best of ``--repeats`` runs after a
warm-up, imports and data loading excluded. PyTorch runs on one thread, its faster
setting for matrices this small (say ``--torch-threads 0`` for its default). The
speeds of both sides are compared, so the two do the same work. Goal: ratio ≤ 1.5.

Then it times the whole ``gradmath reproduce`` into a temporary folder (goal < 120 s).

    python benchmarks/bench_training.py [--repeats 5] [--skip-reproduce]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time

EPOCHS, ETA, LMBDA, EXAMPLES, SEED = 500, 0.1, 5.0, 1000, 20240531


def _setup(k: int):
    from gradmath.data import load_dataset
    from gradmath.network import Network

    data = load_dataset("digits", limit=EXAMPLES)
    return data, Network.random((64,) + (30,) * k + (10,), seed=SEED)


def worker_gradmath(k: int, repeats: int) -> dict:
    from gradmath.experiments.training import train

    data, net = _setup(k)
    train(net, data.x, data.y, epochs=5, eta=ETA, lmbda=LMBDA)   # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = train(net, data.x, data.y, epochs=EPOCHS, eta=ETA, lmbda=LMBDA)
        times.append(time.perf_counter() - start)
    return {"seconds": min(times), "speeds": result.speeds[:-1].tolist()}


def worker_torch(k: int, repeats: int, threads: int) -> dict:
    import torch

    if threads:
        torch.set_num_threads(threads)
    data, net = _setup(k)
    x = torch.tensor(data.x, dtype=torch.float64)
    y = torch.nn.functional.one_hot(torch.tensor(data.y), 10).to(torch.float64)
    n = x.shape[0]

    def run(epochs: int) -> torch.Tensor:
        ws = [torch.tensor(w, requires_grad=True) for w in net.weights]
        bs = [torch.tensor(b, requires_grad=True) for b in net.biases]
        speeds = torch.empty(epochs, len(bs) - 1, dtype=torch.float64)
        for epoch in range(epochs):
            a = x
            for w, b in zip(ws, bs):
                a = torch.sigmoid(torch.addmm(b, a, w.T))
            cost = torch.nn.functional.binary_cross_entropy(a, y, reduction="sum") / n
            for p in ws + bs:
                p.grad = None
            cost.backward()
            with torch.no_grad():
                speeds[epoch] = torch.stack([torch.linalg.vector_norm(b.grad) for b in bs[:-1]])
                for w in ws:
                    w.mul_(1 - ETA * LMBDA / n).sub_(w.grad, alpha=ETA)
                for b in bs:
                    b.sub_(b.grad, alpha=ETA)
        return speeds

    run(5)   # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        speeds = run(EPOCHS)
        times.append(time.perf_counter() - start)
    return {"seconds": min(times), "speeds": speeds.tolist(), "threads": torch.get_num_threads()}


def _subprocess(*argv: str) -> dict:
    out = subprocess.run([sys.executable, __file__, *argv], check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--torch-threads", type=int, default=1, help="0 leaves PyTorch's default")
    parser.add_argument("--skip-reproduce", action="store_true")
    parser.add_argument("--worker", choices=("gradmath", "torch"), help=argparse.SUPPRESS)
    parser.add_argument("--k", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker == "gradmath":
        print(json.dumps(worker_gradmath(args.k, args.repeats)))
        return 0
    if args.worker == "torch":
        print(json.dumps(worker_torch(args.k, args.repeats, args.torch_threads)))
        return 0

    import numpy as np

    print(f"{EPOCHS} epochs, full batch on {EXAMPLES} digits images, speeds recorded every epoch; "
          f"best of {args.repeats}")
    print(f"{'hidden layers':>13}  {'gradmath s':>10}  {'pytorch s':>10}  {'ratio':>6}  {'max rel. diff of speeds':>24}")
    worst = 0.0
    for k in (2, 3, 4):
        ours = _subprocess("--worker", "gradmath", "--k", str(k), "--repeats", str(args.repeats))
        theirs = _subprocess("--worker", "torch", "--k", str(k), "--repeats", str(args.repeats),
                             "--torch-threads", str(args.torch_threads))
        diff = float(np.max(np.abs(np.array(ours["speeds"]) / np.array(theirs["speeds"]) - 1)))
        ratio = ours["seconds"] / theirs["seconds"]
        worst = max(worst, ratio)
        print(f"{k:>13}  {ours['seconds']:10.3f}  {theirs['seconds']:10.3f}  {ratio:6.2f}  {diff:24.1e}")
    print(f"worst ratio {worst:.2f} (goal <= 1.5); PyTorch threads: {theirs['threads']}")
    if not args.skip_reproduce:
        with tempfile.TemporaryDirectory() as folder:
            start = time.perf_counter()
            subprocess.run([sys.executable, "-m", "gradmath", "reproduce", "--out", folder, "--quiet"],
                           check=True, stdout=subprocess.DEVNULL)
            seconds = time.perf_counter() - start
            start = time.perf_counter()
            subprocess.run([sys.executable, "-m", "gradmath", "reproduce", "--out", folder, "--quiet",
                            "--steps", "speeds"], check=True, stdout=subprocess.DEVNULL)
            step = time.perf_counter() - start
        print(f"gradmath reproduce: {seconds:.1f} s in all (goal < 120 s); the speeds step alone: {step:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
