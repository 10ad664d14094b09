"""Between the device and the host: norms in few kernels, the step's end, one copy, quartiles on the host.

>>> quartiles_and_max(np.array([4.0, 1.0, 3.0, 2.0]))    # as np.quantile's default (linear) method
[1.75, 2.5, 3.25, 4.0]
"""

from __future__ import annotations

import math

import numpy as np

from gradmath.torch.bounds import BOUND_QUANTITIES

__all__ = ["queue_callback", "foreach_norms", "copy_to_host", "quartiles_and_max", "quartiles_and_max_rows",
           "HostLayout", "DELTA_QUANTITIES"]

#: What a step records of the per-example ‖δˡ‖ of each layer, in this order.
DELTA_QUANTITIES = ("delta_norm_q1", "delta_norm_median", "delta_norm_q3", "delta_norm_max")


def copy_to_host(tensors) -> np.ndarray:
    """The tensors (0-d or 1-d, on one device) flattened in order into one float64 array, with one copy.

    They are concatenated on the device first (one kernel), so a CUDA device syncs once.
    """
    import torch

    if not tensors:
        return np.zeros(0)
    if len({t.dtype for t in tensors}) > 1:
        tensors = [t.to(torch.float64) for t in tensors]
    flat = torch.cat(torch.atleast_1d(list(tensors)))
    return flat.cpu().numpy().astype(np.float64)


class HostLayout:
    """Where each value of one step lies in the host copy, and how it becomes the step's records.

    ``entries`` are the step's (layer, quantity, size) in copy order: scalars, per-example
    ``delta`` norms (``size`` examples; times ``size`` again when ``mean`` undoes a mean) and,
    with layer 0, log10 bound values for each of ``layers``. :attr:`keys` are the recorded
    (layer, quantity) in order: scalars and bounds as copied, then the quartiles and maximum of
    each ``delta``; :meth:`values` turns the step's slice of the copy into the values of the keys.
    """

    def __init__(self, entries, layers, mean: bool, first: int, last: int):
        keys, take, deltas, at = [], [], [], 0
        powers = []
        for l, quantity, size in entries:
            if quantity == "delta":
                deltas.append((l, at, size))
            elif quantity in BOUND_QUANTITIES:
                for i, layer in enumerate(layers):
                    powers.append(len(keys))
                    keys.append((layer, quantity))
                    take.append(at + i)
            else:
                keys.append((l, quantity))
                take.append(at)
            at += size
        self.size = at
        self._take = np.array(take, dtype=np.intp)
        self._powers = np.array(powers, dtype=np.intp)
        self._deltas = deltas
        sizes = {size for _, _, size in deltas}
        self._rows = None
        if len(sizes) == 1 and min(sizes) > 0:   # one batch size: all layers' quartiles at once
            n = sizes.pop()
            self._rows = np.array([[start + j for j in range(n)] for _, start, _ in deltas], dtype=np.intp)
            self._scale = np.array([[float(n) if mean else 1.0] for _ in deltas])
        for l, _, _ in deltas:
            keys += [(l, name) for name in DELTA_QUANTITIES]
        self.keys = keys
        self.weight_norm_index = [i for i, (_, q) in enumerate(keys) if q == "weight_norm_estimate"]
        watch = {(first, "speed"), (last, "speed"), (first, "bound_a_estimate"), (last, "bound_a_estimate")}
        self.alert_index = [i for i, key in enumerate(keys) if key in watch or key[1] == "dead_units"]
        self._mean = mean

    def values(self, block: np.ndarray) -> np.ndarray:
        """The values of :attr:`keys`, one row per step, from the steps' slices of the host copy (one row each)."""
        head = block[:, self._take]
        if self._powers.size:
            head[:, self._powers] = np.power(10.0, head[:, self._powers])
        if not self._deltas:
            return head
        if self._rows is not None:
            n = self._rows.shape[1]
            tail = quartiles_and_max_rows((block[:, self._rows] * self._scale).reshape(-1, n))
        else:
            tail = np.array([quartiles_and_max(row[start:start + size] * (size if self._mean else 1))
                             for row in block for _, start, size in self._deltas])
        return np.concatenate([head, tail.reshape(block.shape[0], -1)], axis=1)


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


def quartiles_and_max_rows(norms: np.ndarray) -> np.ndarray:
    """:func:`quartiles_and_max` of each row of a 2-D array, with one sort (the same arithmetic).

    >>> quartiles_and_max_rows(np.array([[4.0, 1.0, 3.0, 2.0], [1.0, np.nan, 0.0, 2.0]])).tolist()
    [[1.75, 2.5, 3.25, 4.0], [nan, nan, nan, nan]]
    """
    s = np.sort(norms, axis=1)   # NaN sorts last, so the last column is np.max of the row
    n = s.shape[1]
    out = np.empty((s.shape[0], 4))
    with np.errstate(invalid="ignore"):   # inf − inf in rows that are replaced by NaN below
        for k, q in enumerate((0.25, 0.5, 0.75)):
            position = q * (n - 1)
            lo = int(position)
            t = position - lo
            hi = min(lo + 1, n - 1)
            a, b = s[:, lo], s[:, hi]
            out[:, k] = a + (b - a) * t if t < 0.5 else b - (b - a) * (1 - t)
    out[:, 3] = s[:, -1]
    bad = ~np.isfinite(s).all(axis=1)
    out[bad, :3] = math.nan
    return out
