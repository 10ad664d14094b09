"""A drawn network and batch in network2's layout, and how they print in a failure message.

network2 (Nielsen, ``src/network2.py``) stores ``weights[i]`` of shape ``(n_out, n_in)`` and
``biases[i]`` of shape ``(n_out, 1)``, and feeds one example ``x`` of shape ``(n_in, 1)``; a
mini-batch here is the same with one column per example: ``x`` of shape ``(n_in, m)`` and ``y``
of shape ``(n_out, m)``. Layers are numbered as in the proofs: layer 1 is the input, ``weights[0]``
is w², and the output layer is L = ``depth``.

Examples
--------
>>> import numpy as np
>>> net = DrawnNetwork((np.ones((2, 1)), np.ones((1, 2))), (np.zeros((2, 1)), np.zeros((1, 1))))
>>> net.sizes, net.depth
((1, 2, 1), 3)
>>> print(net.describe())
DrawnNetwork(sizes=(1, 2, 1), hidden_activation='sigmoid', output_activation='sigmoid', cost='cross-entropy')
  weights[0] (w², shape (2, 1)) = [[1.], [1.]]
  biases[0] (b², shape (2, 1)) = [[0.], [0.]]
  weights[1] (w³, shape (1, 2)) = [[1., 1.]]
  biases[1] (b³, shape (1, 1)) = [[0.]]
>>> net.to_network()
Network(sizes=(1, 2, 1), hidden_activation='sigmoid', output_activation='sigmoid', cost='cross-entropy')
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from gradmath.activations import Activation, get_activation, resolve_activation
from gradmath.errors import UnknownActivationError
from gradmath.network import LayerShape

__all__ = ["DrawnNetwork", "Batch", "layer_name", "resolve"]

_SUPERSCRIPT = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")


def layer_name(kind: str, index: int) -> str:
    """``weights[i]`` as the proofs write it: ``layer_name("w", 0)`` is ``'w²'``."""
    return f"{kind}{str(index + 2).translate(_SUPERSCRIPT)}"


def resolve(spec: str) -> Activation:
    """A registered activation by name (looked up each time), or an expression parsed once by
    :mod:`gradmath.expressions` (kept, with its lambdified σ and σ′)."""
    try:
        return get_activation(spec)
    except UnknownActivationError:
        return _parsed(spec)


@lru_cache(maxsize=64)
def _parsed(spec: str) -> Activation:
    return resolve_activation(spec)


def _show(array: np.ndarray) -> str:
    text = np.array2string(np.asarray(array), separator=", ", floatmode="unique", max_line_width=10**6)
    return " ".join(text.split())  # one line per array


@dataclass(frozen=True, eq=False)
class DrawnNetwork(LayerShape):
    """Weights ``(n_out, n_in)`` and biases ``(n_out, 1)`` in network2's layout, with activations and a cost.

    Parameters
    ----------
    weights, biases : tuple of arrays
    hidden_activation : str
        A registered activation name or an expression in ``x`` (layers 2, …, L − 1).
    output_activation : str
        The same, or ``"softmax"``, for layer L.
    cost : {"quadratic", "cross-entropy", "log-loss"}
    """

    weights: tuple[np.ndarray, ...]
    biases: tuple[np.ndarray, ...]
    hidden_activation: str = "sigmoid"
    output_activation: str = "sigmoid"
    cost: str = "cross-entropy"

    def activation(self, index: int) -> Activation | None:
        """σ of ``weights[index]``'s layer (``None`` for a softmax output)."""
        if index == len(self.weights) - 1:
            return None if self.output_activation == "softmax" else resolve(self.output_activation)
        return resolve(self.hidden_activation)

    def copies(self) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Fresh writable copies of the weights and biases, so a user's function cannot change ours."""
        return [w.copy() for w in self.weights], [b.copy() for b in self.biases]

    def to_network(self):
        """The same network as a :class:`gradmath.network.Network` (biases flat, activations registered names)."""
        from gradmath.network import Network

        return Network(self.weights, tuple(b[:, 0] for b in self.biases), self.hidden_activation,
                       self.output_activation, self.cost)

    def header(self) -> str:
        return (f"DrawnNetwork(sizes={self.sizes}, hidden_activation={self.hidden_activation!r}, "
                f"output_activation={self.output_activation!r}, cost={self.cost!r})")

    def describe(self) -> str:
        """Every parameter, exactly (shortest round-trip digits), to rebuild the network."""
        lines = [self.header()]
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            lines.append(f"  weights[{i}] ({layer_name('w', i)}, shape {w.shape}) = {_show(w)}")
            lines.append(f"  biases[{i}] ({layer_name('b', i)}, shape {b.shape}) = {_show(b)}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.header()


@dataclass(frozen=True, eq=False)
class Batch:
    """Inputs ``x`` of shape ``(n_in, m)`` and targets ``y`` of shape ``(n_out, m)``, one column per example."""

    x: np.ndarray
    y: np.ndarray

    @property
    def size(self) -> int:
        return self.x.shape[1]

    def rows(self) -> tuple[np.ndarray, np.ndarray]:
        """``(x, y)`` with one row per example, the layout of :mod:`gradmath.backprop` and :mod:`gradmath.bounds`."""
        return np.ascontiguousarray(self.x.T), np.ascontiguousarray(self.y.T)

    def describe(self) -> str:
        return f"  x (shape {self.x.shape}) = {_show(self.x)}\n  y (shape {self.y.shape}) = {_show(self.y)}"
