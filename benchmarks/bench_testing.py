"""check_backprop against torch.autograd.gradcheck on the same 100 drawn networks, in one process.

Goals (issue: property-based tests for everyone's gradients): 100 drawn examples of networks up to
depth 4 and width 8 in under 2 s, and no more than 3× the time ``torch.autograd.gradcheck`` takes
for the same networks and examples.

1. :func:`gradmath.testing.check_backprop` runs network2's ``backprop`` (copied below) on 100 drawn
   networks (sigmoid, cross-entropy; ``max_depth=4``, ``max_width=8``), with every property: the
   mpmath reference with its rounding bound, ∂C/∂w = δaᵀ, bounds (a) and (b), the chain product.
   The cases it draws are recorded.
2. ``torch.autograd.gradcheck`` checks autograd's gradient of the same cost at the same 100
   recorded cases in float64 (central differences, its default tolerances), with
   ``raise_exception=False``; how many it flags (falsely: autograd is right) is printed too.

The check runs once to warm up (imports, SymPy's γ and chain derivations, which are cached), then
both are timed, best of :data:`REPEATS`. Prints the times and the ratio check/gradcheck.

Run: ``python benchmarks/bench_testing.py`` (under a minute).
"""

from __future__ import annotations

import time

import numpy as np

from gradmath.testing import check_backprop

REPEATS = 3
EXAMPLES = 100


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def backprop(weights, biases, x, y):
    """network2's backprop with the cross-entropy cost (Nielsen, src/network2.py)."""
    activation, activations, zs = x, [x], []
    for b, w in zip(biases, weights):
        z = np.dot(w, activation) + b
        zs.append(z)
        activation = sigmoid(z)
        activations.append(activation)
    delta = activations[-1] - y
    nabla_b = [np.zeros(b.shape) for b in biases]
    nabla_w = [np.zeros(w.shape) for w in weights]
    nabla_b[-1], nabla_w[-1] = delta, np.dot(delta, activations[-2].transpose())
    for l in range(2, len(weights) + 1):
        sp = sigmoid(zs[-l]) * (1 - sigmoid(zs[-l]))
        delta = np.dot(weights[-l + 1].transpose(), delta) * sp
        nabla_b[-l], nabla_w[-l] = delta, np.dot(delta, activations[-l - 1].transpose())
    return nabla_b, nabla_w


def run_check(cases: list | None = None) -> float:
    def recording(weights, biases, x, y):
        if cases is not None:
            cases.append(([w.copy() for w in weights], [b.copy() for b in biases], x.copy(), y.copy()))
        return backprop(weights, biases, x, y)

    start = time.perf_counter()
    report = check_backprop(recording, activation="sigmoid", cost="cross-entropy", max_examples=EXAMPLES,
                            max_depth=4, max_width=8, seed=0)
    elapsed = time.perf_counter() - start
    assert report.examples == EXAMPLES
    return elapsed


def run_gradcheck(cases: list) -> tuple[float, int]:
    import torch

    def cost(x, y, *params):
        n = len(params) // 2
        a = x
        for w, b in zip(params[:n], params[n:]):
            a = torch.sigmoid(w @ a + b)
        return -(y * torch.log(a) + (1 - y) * torch.log1p(-a)).sum()

    flagged = 0
    start = time.perf_counter()
    for weights, biases, x, y in cases:
        params = [torch.tensor(p, dtype=torch.float64, requires_grad=True) for p in weights + biases]
        xt, yt = torch.tensor(x), torch.tensor(y)
        ok = torch.autograd.gradcheck(lambda *p: cost(xt, yt, *p), tuple(params), raise_exception=False)
        flagged += not ok
    return time.perf_counter() - start, flagged


def main() -> None:
    import torch

    torch.set_num_threads(1)
    cases: list = []
    cold = run_check()  # first run: imports, γ of the sigmoid, the chain derivations (then cached)
    check_times = []
    for _ in range(REPEATS):
        cases.clear()
        check_times.append(run_check(cases))
    assert len(cases) == EXAMPLES
    sizes = [tuple([w.shape[1] for w in c[0][:1]] + [w.shape[0] for w in c[0]]) for c in cases]
    grad_runs = [run_gradcheck(cases) for _ in range(REPEATS)]
    grad_time, flagged = min(t for t, _ in grad_runs), grad_runs[0][1]
    check_time = min(check_times)
    print(f"networks: {EXAMPLES}, depth {min(map(len, sizes))}..{max(map(len, sizes))}, "
          f"widths up to {max(max(s) for s in sizes)}, parameters up to "
          f"{max(sum(w.size + b.size for w, b in zip(c[0], c[1])) for c in cases)}")
    print(f"check_backprop (all properties, mpmath reference): {check_time:.3f} s  (goal: under 2 s; "
          f"first run in this process {cold:.3f} s)")
    print(f"torch.autograd.gradcheck (float64, same cases):     {grad_time:.3f} s  "
          f"(flagged {flagged} of {EXAMPLES} correct gradients)")
    print(f"ratio check_backprop / gradcheck: {check_time / grad_time:.2f}  (goal: at most 3)")


if __name__ == "__main__":
    main()
