"""Between the device and the host: norms in few kernels, the step's end, one copy, quartiles on the host.

>>> quartiles_and_max(np.array([4.0, 1.0, 3.0, 2.0]))    # as np.quantile's default (linear) method
[1.75, 2.5, 3.25, 4.0]
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["queue_callback", "foreach_norms", "copy_to_host", "quartiles_and_max", "quartiles_and_max_rows",
           "HostLayout", "DELTA_QUANTITIES"]

#: What a step records of the per-example ‖δˡ‖ of each layer, in this order.
DELTA_QUANTITIES = ("delta_norm_q1", "delta_norm_median", "delta_norm_q3", "delta_norm_max")


def copy_to_host(scalars, vectors) -> tuple[np.ndarray, np.ndarray]:
    """0-d ``scalars`` and 1-d ``vectors`` (on one device) as two flat float64 host arrays, with one copy.

    The scalars are stacked and everything is concatenated on the device first (two kernels), so
    a CUDA device syncs once. Half-precision values go through float32 (NumPy has no bfloat16).
    """
    import torch

    parts = ([torch.stack(scalars)] if scalars else []) + list(vectors)
    if not parts:
        return np.zeros(0), np.zeros(0)
    dtypes = {t.dtype for t in parts}
    if len(dtypes) > 1:
        parts = [t.to(torch.float64) for t in parts]
    flat = torch.cat(parts) if len(parts) > 1 else parts[0]
    if flat.dtype in (torch.float16, torch.bfloat16):
        flat = flat.float()
    host = flat.detach().cpu().numpy().astype(np.float64)
    return host[:len(scalars)], host[len(scalars):]


class HostLayout:
    """Where each value of one step lies in the host copy, and how the step's values become its records.

    ``scalar_keys`` are the (layer, quantity) of the step's scalars in copy order: speeds, weight
    gradient norms, dead units and, with the bounds, ``weight_norm_estimate``. ``vector_keys`` are
    the (layer, quantity, size) of its vectors: per-example ``delta`` norms (``size`` examples,
    times ``size`` again when ``mean`` undoes a mean), ``delta_out`` (‖δᴸ‖ per example for the bounds
    when the reduction is unknown) and each hidden layer's ``prime`` part (for the bounds). :attr:`keys` are the recorded (layer, quantity) in order: the scalars as copied, the
    quartiles and maximum of each ``delta``, then with ``bounds`` (a
    :class:`~gradmath.torch.bounds.ChainBounds`) bounds (a) and (b) of each of ``layers``.
    """

    def __init__(self, scalar_keys, vector_keys, *, mean: bool, first: int, last: int, bounds=None, layers=()):
        keys = list(scalar_keys)
        self.ssize = len(keys)
        deltas, found, at = [], {}, 0
        for l, quantity, size in vector_keys:
            if quantity == "delta":
                deltas.append((l, at, size))
            found[(l, quantity)] = (at, size)
            at += size
        self.vsize = at
        self._deltas, self._mean = deltas, mean
        sizes = {size for _, _, size in deltas}
        self._rows = None
        if len(sizes) == 1 and min(sizes) > 0:   # one batch size: all layers' quartiles at once
            n = sizes.pop()
            self._rows = np.array([[start + j for j in range(n)] for _, start, _ in deltas], dtype=np.intp)
            self._scale = np.array([[float(n) if mean else 1.0] for _ in deltas])
        for l, _, _ in deltas:
            keys += [(l, name) for name in DELTA_QUANTITIES]
        self._bounds = None
        index = {key: i for i, key in enumerate(scalar_keys)}
        out = found.get((last, "delta")) or found.get((last, "delta_out"))
        primes = [found.get((l, "prime")) for l in layers[:-1]]
        if bounds is not None and out is not None and all((l, "weight_norm_estimate") in index for l in layers) \
                and (all(primes) or not any(primes)):
            scale = float(out[1]) if mean and (last, "delta") in found else 1.0
            prime = None if not primes or not primes[0] else \
                np.concatenate([np.arange(start, start + size) for start, size in primes])
            self._bounds = (bounds, [index[(l, "weight_norm_estimate")] for l in layers], out, scale, prime,
                            len(layers))
            keys += [(l, "bound_a_estimate") for l in layers] + [(l, "bound_b_estimate") for l in layers]
        self.keys = keys
        self.weight_norm_index = [i for i, (_, q) in enumerate(keys) if q == "weight_norm_estimate"]
        watch = {(first, "speed"), (last, "speed"), (first, "bound_a_estimate"), (last, "bound_a_estimate")}
        self.alert_index = [i for i, key in enumerate(keys) if key in watch or key[1] == "dead_units"]
        self.alert_columns = {keys[i]: i for i in self.alert_index}

    def values(self, scalars: np.ndarray, vectors: np.ndarray) -> np.ndarray:
        """The values of :attr:`keys`, one row per step, from the steps' scalars and vectors (one row each)."""
        parts = [scalars]
        steps = scalars.shape[0]
        if self._rows is not None:
            n = self._rows.shape[1]
            parts.append(quartiles_and_max_rows((vectors[:, self._rows] * self._scale).reshape(-1, n))
                         .reshape(steps, -1))
        elif self._deltas:
            parts.append(np.array([quartiles_and_max(row[start:start + size] * (size if self._mean else 1))
                                   for row in vectors for _, start, size in self._deltas]).reshape(steps, -1))
        if self._bounds is not None:
            bounds, norms, (start, size), scale, prime, count = self._bounds
            parts_ = None if prime is None else vectors[:, prime].reshape(steps, count - 1, -1)
            a, b = bounds.log10_bounds(scalars[:, norms], parts_, vectors[:, start:start + size] * scale)
            with np.errstate(over="ignore"):
                parts += [np.power(10.0, a), np.power(10.0, b)]
        return np.concatenate(parts, axis=1) if len(parts) > 1 else scalars.copy()


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
