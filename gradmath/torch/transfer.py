"""Between the device and the host: norms in few kernels, the step's end, one copy, quartiles on the host.

>>> quartiles_and_max(np.array([4.0, 1.0, 3.0, 2.0]))    # as np.quantile's default (linear) method
[1.75, 2.5, 3.25, 4.0]
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["queue_callback", "foreach_norms", "copy_to_host", "quartiles_and_max"]


def copy_to_host(tensors) -> np.ndarray:
    """The tensors (0-d or 1-d, on one device) flattened in order into one float64 array, with one copy.

    Scalars are stacked and vectors concatenated on the device first, so a CUDA device syncs once.
    """
    import torch

    if not tensors:
        return np.zeros(0)
    if len({t.dtype for t in tensors}) > 1:
        tensors = [t.to(torch.float64) for t in tensors]
    scalars = [t for t in tensors if t.dim() == 0]
    vectors = [t for t in tensors if t.dim() != 0]
    parts = ([torch.stack(scalars)] if scalars else []) + vectors
    both = torch.cat(parts).cpu().numpy().astype(np.float64)
    host = np.empty(both.shape[0])
    at, at_s, at_v = 0, 0, len(scalars)
    for t in tensors:   # back to the order given
        if t.dim() == 0:
            host[at] = both[at_s]
            at_s += 1
            at += 1
        else:
            n = t.numel()
            host[at:at + n] = both[at_v:at_v + n]
            at_v += n
            at += n
    return host


def queue_callback(fn) -> None:
    """Run ``fn`` when the current backward pass ends (as DistributedDataParallel does)."""
    from torch.autograd import Variable

    Variable._execution_engine.queue_callback(fn)


def foreach_norms(tensors) -> list:
    """Euclidean norms of the tensors, in one foreach kernel where PyTorch has it."""
    import torch

    if not tensors:
        return []
    if hasattr(torch, "_foreach_norm"):
        return list(torch._foreach_norm(tensors))
    return [torch.linalg.vector_norm(t) for t in tensors]


def quartiles_and_max(norms: np.ndarray) -> list[float]:
    """Quartiles (NumPy's default linear interpolation, as np.quantile) and the maximum of a batch's ‖δˡ‖.

    One sort instead of three np.quantile calls; NaN quartiles when any norm is NaN or infinite.
    """
    s = np.sort(norms)
    n = s.shape[0]
    if not np.isfinite(s).all():
        return [math.nan, math.nan, math.nan, float(np.max(norms))]
    out = []
    for q in (0.25, 0.5, 0.75):
        position = q * (n - 1)
        lo = int(position)
        t = position - lo
        hi = min(lo + 1, n - 1)
        a, b = float(s[lo]), float(s[hi])
        out.append(a + (b - a) * t if t < 0.5 else b - (b - a) * (1 - t))
    out.append(float(s[-1]))
    return out
