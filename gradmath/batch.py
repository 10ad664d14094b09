"""A batch entering the network: inputs x (N × n_1) and targets y checked and converted, x's finiteness named by index.

>>> import numpy as np
>>> from gradmath.network import Network
>>> net = Network.random((3, 2), seed=0, cost="log-loss", output_activation="softmax")
>>> x, y = prepare_batch(net, np.zeros((2, 3)), np.array([1, 0]))   # integer labels become one-hot rows
>>> y
array([[0., 1.],
       [1., 0.]])
>>> prepare_batch(net, np.array([[0.0, np.inf, 0.0]]), np.array([0]))
Traceback (most recent call last):
...
gradmath.errors.NonFiniteError: x has a non-finite value inf at index (0, 1)
"""

from __future__ import annotations

import weakref

import numpy as np

from gradmath.errors import DataError, NonFiniteError, ShapeError
from gradmath.network import Network
from gradmath.validation import check_finite_array

__all__ = ["prepare_batch", "check_finite_rows", "first_layer_checked"]


def prepare_batch(network: Network, x, y) -> tuple[np.ndarray, np.ndarray]:
    """Check and convert inputs ``x`` (N × n_1) and targets ``y`` (N × n_L, or N integer labels).

    Integer labels become one-hot rows (0/1 labels for a network with one output
    unit become its targets). Raises :class:`ShapeError` or :class:`NonFiniteError`
    naming the problem.
    """
    return _prepare_batch(network, x, y, check_x=True)


def _prepare_batch(network: Network, x, y, *, check_x: bool) -> tuple[np.ndarray, np.ndarray]:
    """:func:`prepare_batch`; with ``check_x=False`` the caller checks x's finiteness itself
    (chunk by chunk, with :func:`check_finite_rows`, while the rows are in cache)."""
    x = check_finite_array("x", x) if check_x else _as_float_array("x", x)
    if x.ndim == 1:
        x = x.reshape(1, -1)
    if x.ndim != 2:
        raise ShapeError(f"x must be a matrix of examples × inputs, got shape {x.shape}")
    n_in, n_out = network.sizes[0], network.sizes[-1]
    if x.shape[1] != n_in:
        raise ShapeError(f"x has {x.shape[1]} columns but the network's input layer has width {n_in}")
    if x.shape[0] == 0:
        raise DataError("x holds no examples")
    y_arr = np.asarray(y)
    if y_arr.ndim == 1 and y_arr.dtype.kind in "iu" and n_out == 1 and y_arr.size and 0 <= y_arr.min() <= y_arr.max() <= 1:
        y_arr = y_arr.astype(np.float64)  # 0/1 labels for a single output unit are its targets
    if y_arr.ndim == 1 and y_arr.dtype.kind in "iu":
        if y_arr.shape[0] != x.shape[0]:
            raise ShapeError(f"{y_arr.shape[0]} labels for {x.shape[0]} examples")
        if y_arr.size and (y_arr.min() < 0 or y_arr.max() >= n_out):
            raise DataError(f"labels must lie in [0, {n_out - 1}] for an output layer of width {n_out}, "
                            f"found {int(y_arr.min())}..{int(y_arr.max())}")
        onehot = np.zeros((x.shape[0], n_out))
        onehot[np.arange(x.shape[0]), y_arr] = 1.0
        return x, onehot
    y_arr = check_finite_array("y", y_arr)
    if y_arr.ndim == 1 and n_out == 1:
        y_arr = y_arr.reshape(-1, 1)
    if y_arr.ndim == 1 and x.shape[0] == 1:
        y_arr = y_arr.reshape(1, -1)
    if y_arr.shape != (x.shape[0], n_out):
        raise ShapeError(f"y has shape {y_arr.shape}, expected ({x.shape[0]}, {n_out}) or {x.shape[0]} integer labels")
    return x, y_arr


def _as_float_array(name: str, array) -> np.ndarray:
    arr = np.asarray(array)
    if arr.dtype.kind not in "biuf":
        check_finite_array(name, arr[:0])  # the dtype message
    return arr.astype(np.float64, copy=False)


def check_finite_rows(name: str, rows: np.ndarray, offset: int = 0, *, columns: np.ndarray | None = None) -> None:
    """Raise :class:`NonFiniteError` naming the first non-finite entry of ``rows`` (row numbers from ``offset``).

    With ``columns``, only those columns are checked (the first bad entry among them is named).
    """
    part = rows if columns is None else rows[:, columns]
    with np.errstate(over="ignore", invalid="ignore"):  # a sum is finite only if every term is, or it overflowed
        ok = bool(np.isfinite(part.sum()))
    if not ok:
        bad = np.argwhere(~np.isfinite(part))
        if bad.size:
            i, j = (int(v) for v in bad[0])
            j = j if columns is None else int(columns[j])
            raise NonFiniteError(f"{name} has a non-finite value {rows[i, j]} at index ({offset + i}, {j})")


def first_layer_checked(network: Network, x: np.ndarray, x_offset: int, *, out: np.ndarray | None = None) -> np.ndarray:
    """x(w²)ᵀ, raising :class:`NonFiniteError` for a NaN or inf in x without a separate pass over x.

    A non-finite x_ij reaches every z_k with w_kj ≠ 0: the product x_ij·w_kj is ±inf or NaN, and
    a sum with an infinite or NaN term is never finite. A BLAS may skip products with a zero
    weight (0·inf would be NaN), and might treat subnormal weights as zero, so the columns j
    without a normal-sized weight are checked in x directly. Only when z is not finite is x
    searched for the entry to name (an overflow of finite values lands there too, then goes on).
    """
    w = network.weights[0]
    with np.errstate(invalid="ignore"):  # inf − inf or 0·inf from a bad x entry: named below, not warned
        z = np.matmul(x, w.T, out=out)
    with np.errstate(over="ignore", invalid="ignore"):  # a sum is finite only if every term is, or it overflowed
        finite = bool(np.isfinite(z.sum()))
    if not finite:
        check_finite_rows("x", x, x_offset)
        z = np.matmul(x, w.T, out=out)  # x is finite: the weights overflow; again under the caller's error state
    unreached = _unreached_inputs(network)
    if unreached.size:
        check_finite_rows("x", x, x_offset, columns=unreached)
    return z


def _unreached_inputs(network: Network) -> np.ndarray:
    """The columns of w² with no entry of normal size (|w_kj| < 2⁻¹⁰²² for every k); kept per network."""
    if network not in _UNREACHED:
        w = network.weights[0]
        _UNREACHED[network] = np.flatnonzero(~(np.abs(w) >= np.finfo(np.float64).tiny).any(axis=0))
    return _UNREACHED[network]


_UNREACHED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
