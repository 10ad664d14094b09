"""Structured chain derivation against naive ``sympy.diff`` of the nested expression.

Prints, for the sigmoid chain with quadratic cost and l = 1:

* at L = 16, 32, 64: the time of ``sympy.diff`` of the fully nested cost by b_1
  (the naive way), the time of :func:`gradmath.symbolic.chain.derive_chain`
  without and with its checks, the ratios naive/structured, and both expression sizes;
* at L = 250, 500, 1000: derive + verify time and expression size (linear in L),
  with Python's recursion limit untouched.

SymPy's cache is cleared before every timing; the structured times are the best of three
(the naive one runs once). Naive differentiation recurses once
per layer, so this process (and only this process) raises the recursion limit
and runs it in a thread with a larger stack.

Run: ``python benchmarks/bench_chain.py`` (about a minute).
"""

from __future__ import annotations

import sys
import threading
import time

import sympy as sp
from sympy.core.cache import clear_cache

from gradmath.activations import get_activation
from gradmath.costs import get_cost
from gradmath.expressions import X
from gradmath.symbolic.chain import chain_symbol, derive_chain


def tree_size(expr: sp.Basic) -> int:
    """Nodes of the expression tree (shared subtrees counted every time they occur), without recursion."""
    sizes: dict = {}
    stack = [(expr, False)]
    while stack:
        node, ready = stack.pop()
        if node in sizes:
            continue
        if ready:
            sizes[node] = 1 + sum(sizes[a] for a in node.args)
        else:
            stack.append((node, True))
            stack.extend((a, False) for a in node.args if a not in sizes)
    return sizes[expr]


def naive(depth: int) -> tuple[float, int]:
    """Time of sympy.diff of C(σ(w_L σ(… σ(w_1 a_0 + b_1) …) + b_L)) by b_1, and the result's size."""
    sigma = get_activation("sigmoid").expression
    a = chain_symbol("a", 0)
    for j in range(1, depth + 1):
        a = sigma.xreplace({X: chain_symbol("w", j) * a + chain_symbol("b", j)})
    cost = get_cost("quadratic").at(a)
    clear_cache()
    start = time.perf_counter()
    derivative = sp.diff(cost, chain_symbol("b", 1))
    elapsed = time.perf_counter() - start
    return elapsed, tree_size(derivative)


def structured(depth: int, *, verify: bool, repeat: int = 3) -> tuple[float, int]:
    """Best of ``repeat`` times of derive_chain (cache cleared before each), and the derivative's size."""
    best = float("inf")
    for _ in range(repeat):
        clear_cache()
        start = time.perf_counter()
        result = derive_chain(depth, 1, "sigmoid", "quadratic", verify=verify)
        best = min(best, time.perf_counter() - start)
        if verify and not result.verified:
            raise SystemExit(f"depth {depth}: a check failed: {result.checks}")
    return best, result.size


def in_big_stack(func, *args):
    """Run ``func`` in a thread with a 512 MiB stack and a raised recursion limit."""
    box: list = []
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(200_000)
    threading.stack_size(512 * 1024 * 1024)
    try:
        thread = threading.Thread(target=lambda: box.append(func(*args)))
        thread.start()
        thread.join()
    finally:
        sys.setrecursionlimit(old)
        threading.stack_size(0)
    return box[0]


def main() -> None:
    get_activation("sigmoid").derivative  # warm the activation's own derivation
    derive_chain(2, verify=True)          # and the imports
    print("sigmoid chain, quadratic cost, l = 1; times in seconds")
    print(f"{'L':>5} {'naive diff':>11} {'derive':>9} {'derive+verify':>14} {'naive/derive':>13} "
          f"{'naive/(d+v)':>12} {'naive size':>11} {'size':>7}")
    for depth in (16, 32, 64):
        t_naive, s_naive = in_big_stack(naive, depth)
        t_derive, size = structured(depth, verify=False)
        t_full, _ = structured(depth, verify=True)
        print(f"{depth:>5} {t_naive:>11.3f} {t_derive:>9.4f} {t_full:>14.3f} {t_naive / t_derive:>13.0f} "
              f"{t_naive / t_full:>12.1f} {s_naive:>11} {size:>7}")
    limit = sys.getrecursionlimit()
    print(f"\nrecursion limit {limit} (unchanged)")
    print(f"{'L':>5} {'derive+verify':>14} {'size':>7} {'size/L':>7}")
    for depth in (250, 500, 1000):
        t_full, size = structured(depth, verify=True)
        print(f"{depth:>5} {t_full:>14.3f} {size:>7} {size / depth:>7.2f}")
    assert sys.getrecursionlimit() == limit


if __name__ == "__main__":
    main()
