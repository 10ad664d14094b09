"""Between the device and the host: the step's end, steps packed in rows (norms written straight into them),
one copy, quartiles on the host.

>>> quartiles_and_max(np.array([4.0, 1.0, 3.0, 2.0]))    # as np.quantile's default (linear) method
[1.75, 2.5, 3.25, 4.0]
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["callback_queue", "RowBuffer", "pack", "quartiles_and_max", "quartiles_and_max_rows",
           "HostLayout", "DELTA_QUANTITIES", "BUFFER_ROWS"]

#: What a step records of the per-example ‖δˡ‖ of each layer, in this order.
DELTA_QUANTITIES = ("delta_norm_q1", "delta_norm_median", "delta_norm_q3", "delta_norm_max")


#: Rows of one device buffer (:class:`RowBuffer`); more steps between copies take more buffers.
BUFFER_ROWS = 256


class RowBuffer:
    """Steps of one layout packed on the device, one row each, so that a copy to the host is one transfer.

    A row begins with the norms the step takes once its backward pass has ended: ``direct`` =
    (scalar norms, vector norms) of them, written by the norm kernels straight into the row
    (``out=``), with no kernel to gather them. The step's other values, taken earlier (dead units, the
    bounds' parts, weight norms), follow: its 0-d scalars stacked and its 1-d vectors concatenated
    into the rest of the row, while they are fresh in the cache, instead of being gathered, cold, at
    the copy. :meth:`host` copies rows to the host as float64 (NumPy has no bfloat16).
    """

    def __init__(self, scalar_keys, vector_keys, rows: int, first, dtype, direct: tuple[int, int] = (0, 0)):
        import torch

        self.scalar_keys, self.vector_keys = list(scalar_keys), list(vector_keys)   # of every row
        self.given = (scalar_keys, vector_keys)   # the lists themselves: the same lists again need no comparison
        self.first_dtype, self.device, self.direct = first.dtype, first.device, tuple(direct)
        count = len(self.scalar_keys)
        self.data = torch.empty((rows, count + sum(size for _, _, size in self.vector_keys)), dtype=dtype,
                                device=self.device)
        self.dtype, self.rows, self.used = dtype, rows, 0
        self._sizes = [size for _, _, size in self.vector_keys[:direct[1]]]
        self._cut = (count, direct[0], sum(self._sizes))
        self._views: list = [None] * rows
        self._host: np.ndarray | None = None

    def _row(self, row: int) -> tuple:
        """Views of row ``row``: its direct scalar slots, its direct vector segments, the rest of its scalars and
        the rest of its vectors (made once per row: the buffer is reused after each copy)."""
        views = self._views[row]
        if views is None:
            count, scalars, vectors = self._cut
            heads, tails = self.data[row, :count], self.data[row, count:]
            views = self._views[row] = (heads[:scalars].unbind(0), tails[:vectors].split(self._sizes)
                                        if self._sizes else (), heads[scalars:], tails[vectors:])
        return views

    def append(self, scalars, vectors, norms=(), vector_norms=(), ord_=None) -> int:
        """Pack one step into the next row; returns the row's index. ``norms`` are tensors whose Euclidean norms
        begin the row, ``vector_norms`` 2-d tensors whose row norms (of order ``ord_``, default 2) follow them;
        then the 0-d ``scalars`` and the 1-d ``vectors``."""
        import torch

        row = self.used
        slots, segments, head, tail = self._row(row)
        norm, dtype = torch.linalg.vector_norm, self.dtype
        for t, slot in zip(norms, slots):
            if t.dtype == dtype:
                norm(t, out=slot)
            else:   # a mixed-dtype row is float64: norm's out= takes only the input's dtype
                slot.copy_(norm(t))
        for t, segment in zip(vector_norms, segments):
            if t.dtype == dtype:
                if ord_ is None:
                    norm(t, dim=1, out=segment)
                else:
                    norm(t, ord=ord_, dim=1, out=segment)
            else:
                segment.copy_(norm(t, dim=1) if ord_ is None else norm(t, ord=ord_, dim=1))
        if scalars:
            torch.stack(scalars, out=head)
        if vectors:
            torch.cat(vectors, out=tail)
        self.used = row + 1
        return row

    def host(self, start: int, stop: int) -> np.ndarray:
        """Rows ``start:stop`` as float64 on the host: a view of a host array that the next call overwrites (made
        once per buffer: a new array of this size each copy costs more in page faults than the copy itself)."""
        import torch

        block = self.data[start:stop].detach()
        if block.dtype in (torch.float16, torch.bfloat16):
            block = block.float()
        if self._host is None:
            self._host = np.empty(tuple(self.data.shape), dtype=np.float64)
        out = self._host[:stop - start]
        np.copyto(out, block.cpu().numpy())
        return out


def pack(buffer: RowBuffer | None, scalar_keys, vector_keys, scalars, vectors, copy_every: int, norms=(),
         vector_norms=(), ord_=None):
    """Pack a step's values into ``buffer``, or into a new one when it is full or of another layout.

    ``norms`` and ``vector_norms`` (:meth:`RowBuffer.append`) are taken straight into the row; their keys
    begin ``scalar_keys`` and ``vector_keys``. Returns (buffer, row), or (``buffer``, ``None``) for a step
    with no values.
    """
    if buffer is not None and scalar_keys is buffer.given[0] and vector_keys is buffer.given[1] \
            and buffer.used < buffer.rows and len(norms) == buffer.direct[0] and len(vector_norms) == buffer.direct[1]:
        # the keys of the step that made this buffer (the monitor's usual step): only the first tensor's dtype
        # and device are left to check
        first = norms[0] if norms else vector_norms[0] if vector_norms else scalars[0] if scalars else vectors[0]
        if first.dtype == buffer.first_dtype and first.device == buffer.device:
            return buffer, buffer.append(scalars, vectors, norms, vector_norms, ord_)
    import torch

    if not scalars and not vectors and not norms and not vector_norms:
        return buffer, None
    first = norms[0] if norms else vector_norms[0] if vector_norms else scalars[0] if scalars else vectors[0]
    direct = (len(norms), len(vector_norms))
    if buffer is None or buffer.used == buffer.rows or first.dtype != buffer.first_dtype \
            or first.device != buffer.device or direct != buffer.direct or scalar_keys != buffer.scalar_keys \
            or vector_keys != buffer.vector_keys:   # the keys hold the vectors' sizes
        dtypes = {t.dtype for group in (norms, vector_norms, scalars, vectors) for t in group}
        dtype = first.dtype if len(dtypes) == 1 else torch.float64
        if dtype.is_complex:   # a complex layer's norms are real (of its real counterpart)
            dtype = dtype.to_real()
        buffer = RowBuffer(scalar_keys, vector_keys, min(copy_every, BUFFER_ROWS), first, dtype, direct)
    return buffer, buffer.append(scalars, vectors, norms, vector_norms, ord_)


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
        deltas.sort()   # by layer (the backward pass takes them from the last layer down)
        self._deltas, self._mean = deltas, mean
        sizes = {size for _, _, size in deltas}
        self._rows = None
        if len(sizes) == 1 and min(sizes) > 0:   # one batch size: all layers' quartiles at once
            n = sizes.pop()
            starts = [start for _, start, _ in deltas]
            self._rows = np.array([[start + j for j in range(n)] for start in starts], dtype=np.intp)
            self._scale = float(n) if mean else 1.0
            self._block = None   # the layers' norms as one slice of a row, in backward order (the usual step)
            if starts == list(range(starts[0], starts[0] - n * len(starts), -n)):
                self._block = (starts[-1], starts[0] + n)
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
            if prime is not None and np.array_equal(prime, np.arange(prime[0], prime[0] + prime.size)):
                prime = slice(int(prime[0]), int(prime[0]) + prime.size)   # one block: a view, not a copy
            self._bounds = (bounds, [index[(l, "weight_norm_estimate")] for l in layers], out, scale, prime,
                            len(layers))
            keys += [(l, "bound_a_estimate") for l in layers] + [(l, "bound_b_estimate") for l in layers]
        self.keys = keys
        self.weight_norm_index = [i for i, (_, q) in enumerate(keys) if q == "weight_norm_estimate"]
        column = {key: i for i, key in enumerate(keys)}
        #: (layer, column of bound (b), column of the largest measured ‖δˡ‖) where both are recorded
        self.bound_checks = [(l, column[(l, "bound_b_estimate")], column[(l, "delta_norm_max")]) for l in layers
                             if (l, "bound_b_estimate") in column and (l, "delta_norm_max") in column]
        watch = {(first, "speed"), (last, "speed"), (first, "bound_a_estimate"), (last, "bound_a_estimate")}
        self.alert_index = [i for i, key in enumerate(keys) if key in watch or key[1] == "dead_units"]
        self.alert_columns = {keys[i]: i for i in self.alert_index}

    def values(self, scalars: np.ndarray, vectors: np.ndarray) -> np.ndarray:
        """The values of :attr:`keys`, one row per step, from the steps' scalars and vectors (one row each).

        ``vectors`` is scratch: each layer's per-example norms are sorted in place (a host copy,
        :meth:`RowBuffer.host`)."""
        steps = scalars.shape[0]
        parts, bounds_parts = [scalars], []
        if self._bounds is not None:   # before the sort: the bounds pair each example's values across layers
            bounds, norms, (start, size), scale, prime, count = self._bounds
            parts_ = None if prime is None else vectors[:, prime].reshape(steps, count - 1, -1)
            a, b = bounds.log10_bounds(scalars[:, norms], parts_, vectors[:, start:start + size] * scale)
            with np.errstate(over="ignore"):
                bounds_parts = [np.power(10.0, a), np.power(10.0, b)]
        if self._rows is not None:
            n, layers = self._rows.shape[1], self._rows.shape[0]
            if self._block is not None:   # a view, sorted in place; the layers reversed into the order of the keys
                norms = vectors[:, self._block[0]:self._block[1]].reshape(steps, layers, n)
                found = quartiles_and_max_rows(norms, overwrite=True)[:, ::-1]
            else:
                found = quartiles_and_max_rows(vectors[:, self._rows], overwrite=True)
            found *= self._scale   # a quartile of c·x is c times x's (c > 0; exact for a power of two)
            parts.append(found.reshape(steps, -1))
        elif self._deltas:
            parts.append(np.array([quartiles_and_max(row[start:start + size] * (size if self._mean else 1))
                                   for row in vectors for _, start, size in self._deltas]).reshape(steps, -1))
        parts += bounds_parts
        return np.concatenate(parts, axis=1) if len(parts) > 1 else scalars.copy()


def callback_queue():
    """The autograd engine's ``queue_callback``: a function ``fn`` given to it during a backward pass runs when
    that pass ends (as DistributedDataParallel uses it)."""
    from torch.autograd import Variable

    return Variable._execution_engine.queue_callback


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


def quartiles_and_max_rows(norms: np.ndarray, overwrite: bool = False) -> np.ndarray:
    """:func:`quartiles_and_max` along the last axis of an array, with one sort (the same arithmetic).

    ``overwrite`` sorts ``norms`` in place (no new array of its size). The result has the shape
    of ``norms`` with the last axis replaced by the four values.

    >>> quartiles_and_max_rows(np.array([[4.0, 1.0, 3.0, 2.0], [1.0, np.nan, 0.0, 2.0]])).tolist()
    [[1.75, 2.5, 3.25, 4.0], [nan, nan, nan, nan]]
    """
    if overwrite:
        s = norms
        s.sort(axis=-1)   # NaN sorts last, so the last entry is np.max of the row
    else:
        s = np.sort(norms, axis=-1)
    n = s.shape[-1]
    out = np.empty(s.shape[:-1] + (4,))
    with np.errstate(invalid="ignore"):   # inf − inf in rows that are replaced by NaN below
        for k, q in enumerate((0.25, 0.5, 0.75)):
            position = q * (n - 1)
            lo = int(position)
            t = position - lo
            hi = min(lo + 1, n - 1)
            a, b = s[..., lo], s[..., hi]
            out[..., k] = a + (b - a) * t if t < 0.5 else b - (b - a) * (1 - t)
    out[..., 3] = s[..., -1]
    bad = ~np.isfinite(s[..., -1]) | ~np.isfinite(s[..., 0])   # sorted: a NaN or ±inf is at an end
    out[bad, :3] = math.nan
    return out
