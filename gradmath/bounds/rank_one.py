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

#: Entries of explicit matrices formed at once (a few examples' for narrow layers, one at a time for
#: wide ones), so the check stays cache-sized.
_BATCH_ENTRIES = 1 << 16


def check_rank_one(p, norm: str, slack: np.ndarray) -> tuple[float, np.ndarray]:
    """Bound (c) on the first examples of a :class:`gradmath.backprop.ScaledPass`.

    Returns the largest relative gap |‖δaᵀ‖ / (‖δ‖‖a‖_q) − 1| and the violations per layer
    (a log10 ratio above ``slack[i]`` for layer i + 2).
    """
    q = dual_norm(norm)
    k = min(RANK_ONE_EXAMPLES, p.mantissas[0].shape[0])
    gap, bad = 0.0, np.zeros(len(p.mantissas), dtype=np.int64)
    for i, delta in enumerate(p.mantissas):  # the power-of-two scale cancels in the ratio
        d, a = delta[:k], p.activations[i][:k]
        scale_d, scale_a = np.abs(d).max(axis=1), np.abs(a).max(axis=1)
        keep = (scale_d > 0) & (scale_a > 0)  # a zero factor: nothing to compare
        if not keep.any():
            continue
        d, a = d[keep] / scale_d[keep, None], a[keep] / scale_a[keep, None]
        step = max(1, _BATCH_ENTRIES // (d.shape[1] * a.shape[1]))
        explicit = np.concatenate([explicit_induced_norm(d[j:j + step, :, None] * a[j:j + step, None, :], norm)
                                   for j in range(0, d.shape[0], step)])  # one explicit δaᵀ per example
        log_bound = log10_vector_norms(d, norm) + log10_vector_norms(a, q)
        gap = max(gap, float(np.abs(explicit / 10.0 ** log_bound - 1.0).max()))
        bad[i] += int(np.count_nonzero(np.log10(explicit) > log_bound + slack[i]))
    return gap, bad


def explicit_induced_norm(matrix: np.ndarray, norm: str):
    """The induced norm of an explicit matrix, without using that it has rank one (a float; for a
    stack of matrices, one per leading index, an array).

    >>> explicit_induced_norm(np.outer([1.0, -2.0], [3.0, 4.0]), "inf")   # largest row sum
    14.0
    """
    if norm == "1":
        value = np.abs(matrix).sum(axis=-2).max(axis=-1)
    elif norm == "inf":
        value = np.abs(matrix).sum(axis=-1).max(axis=-1)
    else:
        # p = 2: a rank-one matrix has one non-zero singular value, so ‖M‖₂ = ‖M‖_F; the SVD
        # check of that step is in tests/test_bounds.py (an SVD here would dominate the run time).
        value = np.sqrt(np.einsum("...ij,...ij->...", matrix, matrix))
    return float(value) if np.ndim(value) == 0 else value
