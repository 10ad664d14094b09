"""Bound (c): ‖∂C/∂wˡ‖ = ‖δˡ(aˡ⁻¹)ᵀ‖ ≤ ‖δˡ‖·‖aˡ⁻¹‖_q, checked with the outer product formed explicitly.

For the spectral and Frobenius norms the bound is an equality, because δˡ(aˡ⁻¹)ᵀ has
rank one (``proofs/rank-one-equality.md``). The check shares nothing with the
factored form except the vectors: it builds the matrix and takes its induced norm
from the definition (column sums, row sums, or ‖M‖_F = ‖M‖₂ for rank one).
"""

from __future__ import annotations

import numpy as np

from gradmath.norms import dual_norm, log10_vector_norms

__all__ = ["RANK_ONE_EXAMPLES", "check_rank_one", "explicit_induced_norm"]

#: Examples per report whose weight gradients δˡ(aˡ⁻¹)ᵀ are formed explicitly to check (c).
RANK_ONE_EXAMPLES = 4


def check_rank_one(p, norm: str, slack: np.ndarray) -> tuple[float, np.ndarray]:
    """Bound (c) on the first examples of a :class:`gradmath.backprop.ScaledPass`.

    Returns the largest relative gap |‖δaᵀ‖ / (‖δ‖‖a‖_q) − 1| and the violations per layer
    (a log10 ratio above ``slack[i]`` for layer i + 2).
    """
    q = dual_norm(norm)
    k = min(RANK_ONE_EXAMPLES, p.mantissas[0].shape[0])
    gap, bad = 0.0, np.zeros(len(p.mantissas), dtype=np.int64)
    for i, delta in enumerate(p.mantissas):  # the power-of-two scale cancels in the ratio
        a_prev = p.activations[i]
        for e in range(k):
            d, a = delta[e], a_prev[e]
            if not (np.any(d) and np.any(a)):
                continue
            scale_d, scale_a = np.abs(d).max(), np.abs(a).max()
            matrix = np.outer(d / scale_d, a / scale_a)
            explicit = explicit_induced_norm(matrix, norm)
            log_bound = (log10_vector_norms(d / scale_d, norm)[0] + log10_vector_norms(a / scale_a, q)[0])
            ratio = explicit / 10.0 ** log_bound
            gap = max(gap, abs(ratio - 1.0))
            if np.log10(explicit) > log_bound + slack[i]:
                bad[i] += 1
    return gap, bad


def explicit_induced_norm(matrix: np.ndarray, norm: str) -> float:
    """The induced norm of an explicit matrix, without using that it has rank one.

    >>> explicit_induced_norm(np.outer([1.0, -2.0], [3.0, 4.0]), "inf")   # largest row sum
    14.0
    """
    mags = np.abs(matrix)
    if norm == "1":
        return float(mags.sum(axis=0).max())
    if norm == "inf":
        return float(mags.sum(axis=1).max())
    # p = 2: a rank-one matrix has one non-zero singular value, so ‖M‖₂ = ‖M‖_F; the SVD
    # check of that step is in tests/test_bounds.py (an SVD here would dominate the run time).
    return float(np.sqrt(np.einsum("ij,ij->", matrix, matrix)))
