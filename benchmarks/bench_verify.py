"""Speed and memory of the verifier, as ratios measured in one run.

    python benchmarks/bench_verify.py            # a few minutes on 2 cores
    python benchmarks/bench_verify.py --quick    # smaller sizes, for a smoke test

Goals (issue 4):
1. all per-example, per-layer δˡ plus bounds for [784,30,30,30,30,10] on N = 10,000 in at most
   1.2× the time PyTorch autograd (CPU, float64) needs for the same per-example δˡ, each in
   its own process (their thread pools contend otherwise);
2. at least 10× faster than a per-example loop in the style of network2's ``backprop``
   (at least 50× for [1024,1024,1024,1024,10]);
3. on the wide network, 60% or more of the matmul FLOP rate measured in the same run;
4. the spectral norm of a 4096×4096 Gaussian matrix to 1e-12 relative accuracy at least
   10× faster than ``numpy.linalg.norm(ord=2)`` (the Lanczos estimate; the certified upper bound
   that the bounds use, ``spectral_norm_upper``, is timed beside it with its excess over the dense value);
5. peak memory for N = 60,000 (reported).

Where the verifier's time goes on [784,30,30,30,30,10], N = 10,000 (2 cores): the first-layer
products x(w²)ᵀ take about 13 ms of one core, everything else (σ and σ′ from one exponential,
the 30-wide products, the per-row power-of-two scaling, norms and bounds) about 17 ms. Each chunk's
arrays keep the examples along the contiguous axis, so per-example reductions over a layer's units
are vector operations. Because the later layers are narrow, spreading whole chunks over two threads
mostly makes their many short NumPy calls wait for each other's interpreter lock; instead one
thread forms the first products ahead (long BLAS calls that release the lock) while the calling
thread does the rest (``gradmath.bounds.verify._pipelined``). On the wide network every call is
long and whole chunks run on both threads.

The wide goal has a ceiling set by arithmetic: the verifier must do the pass's matrix products,
2·Σ n_{l−1}n_l (forward) + 2·Σ_{l≥3} n_{l−1}n_l (backward) FLOPs per example, so at the machine's
measured matmul rate no code can beat the loop by more than (loop time per example) × rate / FLOPs;
the script prints that ceiling beside the measured speed-up. The spectral norm is bound by memory
bandwidth: each Lanczos step reads the 128 MiB matrix twice (Av and Aᵀu), so its time is the number
of steps times that product; the script prints both.

Every timing is the best of several repeats (the loops' too: a loop that allocates network2's
1024×1024 nabla_w matrices per example varies between about 4 and 10 ms per example from run to run
with the allocator's state, and the best is the fair reference). Each measurement that needs a clean
process runs in a subprocess of this script (``--child NAME``) and prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

import numpy as np

NARROW = (784, 30, 30, 30, 30, 10)
WIDE = (1024, 1024, 1024, 1024, 10)


def _best(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def _problem(sizes, n, seed=0):
    """Weights (network2 initialisation), uniform inputs in [0, 1] and integer labels."""
    from gradmath.network import Network

    net = Network.random(sizes, seed=seed, cost="cross-entropy")
    rng = np.random.default_rng(seed + 1)
    return net, rng.random((n, sizes[0])), rng.integers(0, sizes[-1], n)


# ----- children (one process each) ------------------------------------------------------------
def child_gradmath(sizes, n, repeats):
    from gradmath.bounds import verify_network

    net, x, y = _problem(sizes, n)
    small, xs, ys = _problem((sizes[0], 2, 2), 2)
    verify_network(small, xs, ys)  # derives γ of the sigmoid once (cached for the process)
    start = time.perf_counter()
    verify_network(net, x, y)  # first call: also the weight norms ‖(wʳ)ᵀ‖, kept per network after it
    first = time.perf_counter() - start
    return {"seconds": _best(lambda: verify_network(net, x, y, norm="2"), repeats), "first_seconds": first}


def child_torch(sizes, n, repeats):
    import torch

    net, x, y = _problem(sizes, n)
    xt = torch.from_numpy(x)
    yt = torch.nn.functional.one_hot(torch.from_numpy(y), sizes[-1]).to(torch.float64)
    ws = [torch.from_numpy(np.array(w)) for w in net.weights]
    bs = [torch.from_numpy(np.array(b)) for b in net.biases]

    def deltas():
        a, zs = xt, []
        for i, (w, b) in enumerate(zip(ws, bs)):
            z = torch.addmm(b, a, w.T)
            if i == 0:
                z.requires_grad_(True)  # a leaf, so autograd tracks the rest; no weight gradients
            z.retain_grad()
            zs.append(z)
            a = torch.sigmoid(z)
        cost = torch.nn.functional.binary_cross_entropy_with_logits(zs[-1], yt, reduction="sum")
        cost.backward()  # examples are independent: row e of ∂(ΣC)/∂zˡ is δˡ of example e
        return [z.grad for z in zs]

    deltas()
    return {"seconds": _best(deltas, repeats), "torch": torch.__version__, "threads": torch.get_num_threads()}


def child_loop(sizes, n, repeats, weight_gradients=True):
    """network2's backprop, one example at a time (column vectors), plus ‖δˡ‖ per layer.

    With ``weight_gradients`` it also forms nabla_w = δˡ(aˡ⁻¹)ᵀ as network2's ``backprop`` does
    (the per-example ∂C/∂wˡ that bound (c) is about); without, δˡ only.
    """
    net, x, y = _problem(sizes, n)
    weights = [np.array(w) for w in net.weights]
    biases = [np.array(b).reshape(-1, 1) for b in net.biases]
    targets = np.eye(sizes[-1])[y]

    def sigmoid(z):
        return 1.0 / (1.0 + np.exp(-z))

    def run():
        for e in range(n):
            activation = x[e].reshape(-1, 1)
            activations, zs = [activation], []
            for b, w in zip(biases, weights):
                z = np.dot(w, activation) + b
                zs.append(z)
                activation = sigmoid(z)
                activations.append(activation)
            delta = activations[-1] - targets[e].reshape(-1, 1)  # CrossEntropyCost.delta
            norms = [np.linalg.norm(delta)]
            if weight_gradients:
                nabla_w = [np.dot(delta, activations[-2].transpose())]
            for layer in range(2, len(sizes)):
                sp = sigmoid(zs[-layer]) * (1 - sigmoid(zs[-layer]))
                delta = np.dot(weights[-layer + 1].transpose(), delta) * sp
                norms.append(np.linalg.norm(delta))
                if weight_gradients:
                    nabla_w.append(np.dot(delta, activations[-layer - 1].transpose()))

    with np.errstate(over="ignore"):
        return {"seconds": _best(run, repeats)}


def child_memory(sizes, n, repeats):
    import resource
    import tracemalloc

    from gradmath.bounds import verify_network

    net, x, y = _problem(sizes, n)
    data_bytes = x.nbytes + y.nbytes
    tracemalloc.start()
    report = verify_network(net, x, y)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {"verify_peak_bytes": peak, "data_bytes": data_bytes, "max_rss_bytes": rss, "violations": report.violations}


def child_matmul(sizes, n, repeats):
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((n, sizes[1])), rng.standard_normal((sizes[1], sizes[1]))
    seconds = _best(lambda: a @ b, repeats)
    return {"gflops": 2.0 * n * sizes[1] * sizes[1] / seconds / 1e9}


def child_spectral(sizes, n, repeats):
    from gradmath.norms import spectral_norm, spectral_norm_upper

    a = np.random.default_rng(0).standard_normal((n, n))
    fast = spectral_norm(a, method="lanczos")
    t_fast = _best(lambda: spectral_norm(a, method="lanczos"), repeats)
    start = time.perf_counter()
    certified = spectral_norm_upper(a)  # once: the Gram matrix alone is 2n³ FLOPs
    t_certified = time.perf_counter() - start
    v = np.random.default_rng(1).standard_normal(n)
    t_product = _best(lambda: a.T @ (a @ v), 10)
    start = time.perf_counter()
    dense = float(np.linalg.norm(a, ord=2))
    t_dense = time.perf_counter() - start
    return {"lanczos_seconds": t_fast, "dense_seconds": t_dense, "lanczos": fast.value, "dense": dense,
            "product_seconds": t_product, "certified_seconds": t_certified,
            "certified_relative_excess": (certified - dense) / dense,
            "stated_relative_error": fast.relative_error, "relative_difference": abs(fast.value - dense) / dense}


def child_loop_deltas(sizes, n, repeats):
    return child_loop(sizes, n, repeats, weight_gradients=False)


CHILDREN = {"gradmath": child_gradmath, "torch": child_torch, "loop": child_loop, "loop-deltas": child_loop_deltas,
            "memory": child_memory,
            "matmul": child_matmul, "spectral": child_spectral}


def _run_child(name, sizes, n, repeats):
    cmd = [sys.executable, __file__, "--child", name, "--sizes", ",".join(map(str, sizes)), "--n", str(n),
           "--repeats", str(repeats)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smaller sizes (a smoke test, not the goals)")
    parser.add_argument("--child", choices=sorted(CHILDREN), help=argparse.SUPPRESS)
    parser.add_argument("--sizes", help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--repeats", type=int, default=5, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        sizes = tuple(int(s) for s in args.sizes.split(","))
        print(json.dumps(CHILDREN[args.child](sizes, args.n, args.repeats)))
        return 0

    q = args.quick
    n, n_wide, n_loop_wide = (1000, 500, 50) if q else (10_000, 4000, 200)
    n_spec, n_mem = (1024, 6000) if q else (4096, 60_000)
    rows = []

    ours = _run_child("gradmath", NARROW, n, 7)
    try:
        torch = _run_child("torch", NARROW, n, 7)
    except subprocess.CalledProcessError:
        torch = None
    loop = _run_child("loop", NARROW, n, 3)
    loop_d = _run_child("loop-deltas", NARROW, n, 3)
    print(f"[784,30,30,30,30,10], N = {n}: all per-example δˡ plus bounds (a), (b), (c)")
    print(f"  gradmath verify_network  {ours['seconds']:.4f} s (first call, with the weight norms: "
          f"{ours['first_seconds']:.4f} s)")
    if torch:
        ratio = ours["seconds"] / torch["seconds"]
        print(f"  PyTorch {torch['torch']} autograd δˡ ({torch['threads']} threads)  {torch['seconds']:.4f} s"
              f"   ratio gradmath/torch = {ratio:.2f}, first call {ours['first_seconds'] / torch['seconds']:.2f}"
              "  (goal ≤ 1.2)")
        rows.append(("time vs PyTorch autograd (≤ 1.2)", ratio))
        rows.append(("  the same, first call with weight norms", ours["first_seconds"] / torch["seconds"]))
    else:
        print("  PyTorch: not installed, ratio skipped")
    speedup = loop["seconds"] / ours["seconds"]
    print(f"  network2-style loop      {loop['seconds']:.4f} s   speed-up = {speedup:.1f}×  (goal ≥ 10)")
    print(f"    (the loop without network2's nabla_w outer products: {loop_d['seconds']:.4f} s, "
          f"speed-up {loop_d['seconds'] / ours['seconds']:.1f}×)")
    rows.append(("speed-up vs per-example loop, narrow (≥ 10)", speedup))
    rows.append(("  the same, loop without nabla_w", loop_d["seconds"] / ours["seconds"]))

    wide = _run_child("gradmath", WIDE, n_wide, 3)
    loop_wide = _run_child("loop", WIDE, n_loop_wide, 3)
    loop_wide_d = _run_child("loop-deltas", WIDE, n_loop_wide, 3)
    matmul = _run_child("matmul", WIDE, n_wide, 5)
    per_ex_ours, per_ex_loop = wide["seconds"] / n_wide, loop_wide["seconds"] / n_loop_wide
    flops = 2.0 * n_wide * (sum(a * b for a, b in zip(WIDE[:-1], WIDE[1:]))
                            + sum(a * b for a, b in zip(WIDE[1:-1], WIDE[2:])))
    rate = flops / wide["seconds"] / 1e9
    print(f"[1024,1024,1024,1024,10], N = {n_wide} (loop on {n_loop_wide} examples, compared per example)")
    print(f"  gradmath verify_network  {wide['seconds']:.4f} s = {per_ex_ours * 1e6:.1f} µs/example, "
          f"{rate:.1f} GFLOP/s of matmul work (first call, with three 1024×1024 spectral norms: "
          f"{wide['first_seconds']:.4f} s)")
    ceiling = per_ex_loop * matmul["gflops"] * 1e9 / (flops / n_wide)
    print(f"  network2-style loop      {per_ex_loop * 1e6:.1f} µs/example   speed-up = {per_ex_loop / per_ex_ours:.1f}×"
          f"  (goal ≥ 50; ceiling at the measured matmul rate: {ceiling:.1f}×, since {flops / n_wide / 1e6:.1f} "
          f"MFLOP per example at {matmul['gflops']:.1f} GFLOP/s take {flops / n_wide / matmul['gflops'] / 1e3:.1f} µs)")
    per_ex_loop_d = loop_wide_d["seconds"] / n_loop_wide
    print(f"    (the loop without nabla_w: {per_ex_loop_d * 1e6:.1f} µs/example, speed-up "
          f"{per_ex_loop_d / per_ex_ours:.1f}×; at the full matmul rate the speed-up could be at most "
          f"{per_ex_loop_d * matmul['gflops'] * 1e9 / (flops / n_wide):.1f}×)")
    print(f"  matmul ({n_wide}×1024 @ 1024×1024) {matmul['gflops']:.1f} GFLOP/s   fraction = "
          f"{rate / matmul['gflops']:.2f}  (goal ≥ 0.6)")
    rows.append(("speed-up vs per-example loop, wide (≥ 50)", per_ex_loop / per_ex_ours))
    rows.append(("  ceiling at the measured matmul rate", ceiling))
    rows.append(("  the same, loop without nabla_w", per_ex_loop_d / per_ex_ours))
    rows.append(("fraction of matmul FLOP rate, wide (≥ 0.6)", rate / matmul["gflops"]))
    rows.append(("  the same, first call with weight norms", flops / wide["first_seconds"] / 1e9 / matmul["gflops"]))

    spec = _run_child("spectral", (n_spec,), n_spec, 3)
    spec_ratio = spec["dense_seconds"] / spec["lanczos_seconds"]
    print(f"spectral norm of a {n_spec}×{n_spec} Gaussian matrix")
    print(f"  Lanczos (svds k=1) {spec['lanczos_seconds']:.3f} s, numpy.linalg.norm(ord=2) {spec['dense_seconds']:.3f} s"
          f"   speed-up = {spec_ratio:.1f}×  (goal ≥ 10)")
    print(f"  one product Aᵀ(Av) {spec['product_seconds'] * 1e3:.1f} ms: the Lanczos time is "
          f"{spec['lanczos_seconds'] / spec['product_seconds']:.0f} such products (memory-bound)")
    print(f"  relative difference {spec['relative_difference']:.1e}, stated relative error "
          f"{spec['stated_relative_error']:.1e}  (goal ≤ 1e-12)")
    print(f"  certified upper bound (Cholesky of μI − AᵀA) {spec['certified_seconds']:.3f} s, above the dense "
          f"value by {spec['certified_relative_excess']:.1e} relative (the bounds use this one)")
    rows.append(("spectral norm speed-up vs dense (≥ 10)", spec_ratio))
    rows.append(("certified spectral bound, relative excess", spec["certified_relative_excess"]))
    rows.append(("spectral norm relative difference (≤ 1e-12)", spec["relative_difference"]))

    mem = _run_child("memory", NARROW, n_mem, 1)
    print(f"peak memory, [784,30,30,30,30,10], N = {n_mem}")
    print(f"  data {mem['data_bytes'] / 2**20:.0f} MiB; verify_network's own peak (tracemalloc) "
          f"{mem['verify_peak_bytes'] / 2**20:.0f} MiB; process max RSS {mem['max_rss_bytes'] / 2**20:.0f} MiB "
          f"(goal: well under 1 GiB); violations {mem['violations']}")
    rows.append(("peak RSS MiB, N = 60,000", mem["max_rss_bytes"] / 2**20))

    print("\nsummary")
    for label, value in rows:
        print(f"  {label:<48} {value:.3g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
