"""The network model: weight matrices, biases, activations and a cost, validated once.

Notation follows the proofs and the Stack Exchange answer: layer 1 is the input
layer and layer L the output layer; wˡ (shape n_l × n_{l−1}) and bˡ feed layer
l, so the weighted layers are l = 2, …, L and ``weights[0]`` is w².

Examples
--------
>>> net = Network.random((4, 3, 2), seed=0)
>>> net.sizes, net.depth
((4, 3, 2), 3)
>>> net.weight(2).shape
(3, 4)
>>> import numpy as np
>>> Network([np.ones((3, 4)), np.ones((2, 4))], [np.zeros(3), np.zeros(2)])
Traceback (most recent call last):
...
gradmath.errors.ShapeError: layer 3: weight shape (2, 4) does not follow a layer of width 3 (expected (2, 3))
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from gradmath.activations import Activation, activation_names, get_activation
from gradmath.errors import InvalidParameterError, ShapeError
from gradmath.validation import check_choice, check_finite_array, check_int

__all__ = ["Network", "LayerShape", "COSTS", "SOFTMAX", "compatible_outputs"]

SOFTMAX = "softmax"

#: Costs per example: quadratic ½‖aᴸ − y‖², cross-entropy −Σ[y ln a + (1−y) ln(1−a)],
#: log-loss −Σ y ln softmax(zᴸ).
COSTS = ("quadratic", "cross-entropy", "log-loss")


def compatible_outputs(cost: str) -> tuple[str, ...] | None:
    """Output activations a cost accepts (``None``: any registered one or softmax)."""
    return {"quadratic": None, "cross-entropy": ("sigmoid",), "log-loss": (SOFTMAX,)}[cost]


class LayerShape:
    """``sizes`` and ``depth`` of anything that holds ``weights`` (w², …, wᴸ, each of shape (n_l, n_{l−1}))."""

    weights: tuple

    @property
    def sizes(self) -> tuple[int, ...]:
        """Layer widths (n_1, …, n_L), input first."""
        return (self.weights[0].shape[1],) + tuple(w.shape[0] for w in self.weights)

    @property
    def depth(self) -> int:
        """L, the number of layers counting the input layer."""
        return len(self.weights) + 1


@dataclass(frozen=True, eq=False)
class Network(LayerShape):
    """A fully connected network, validated on construction.

    Parameters
    ----------
    weights : sequence of arrays
        ``weights[i]`` is w^(i+2), of shape (n_{i+2}, n_{i+1}).
    biases : sequence of arrays
        ``biases[i]`` is b^(i+2), of shape (n_{i+2},).
    hidden_activation : str
        A registered activation for layers 2, …, L−1.
    output_activation : str
        A registered activation or ``"softmax"`` for layer L.
    cost : {"quadratic", "cross-entropy", "log-loss"}
        Cross-entropy needs a sigmoid output, log-loss a softmax output.

    Raises
    ------
    ShapeError, NonFiniteError, InvalidParameterError, UnknownNameError
    """

    weights: tuple[np.ndarray, ...]
    biases: tuple[np.ndarray, ...]
    hidden_activation: str = "sigmoid"
    output_activation: str = "sigmoid"
    cost: str = "quadratic"

    def __post_init__(self):
        if len(self.weights) == 0:
            raise ShapeError("the network is empty: give at least one weight matrix")
        if len(self.weights) != len(self.biases):
            raise ShapeError(f"{len(self.weights)} weight matrices but {len(self.biases)} bias vectors")
        weights, biases = [], []
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            layer = i + 2
            w = check_finite_array(f"layer {layer} weights", w)
            b = check_finite_array(f"layer {layer} biases", b)
            if w.ndim != 2:
                raise ShapeError(f"layer {layer}: weights must be a matrix, got shape {w.shape}")
            if b.ndim == 2 and 1 in b.shape:  # network2 stores biases as column vectors
                b = b.reshape(-1)
            if b.shape != (w.shape[0],):
                raise ShapeError(f"layer {layer}: bias shape {b.shape} does not match weight shape {w.shape} "
                                 f"(expected ({w.shape[0]},))")
            if weights and w.shape[1] != weights[-1].shape[0]:
                expected = (w.shape[0], weights[-1].shape[0])
                raise ShapeError(f"layer {layer}: weight shape {w.shape} does not follow a layer of width "
                                 f"{weights[-1].shape[0]} (expected {expected})")
            if 0 in w.shape:
                raise ShapeError(f"layer {layer}: weight shape {w.shape} has a zero width")
            w, b = w.copy(), b.copy()
            w.flags.writeable = False
            b.flags.writeable = False
            weights.append(w)
            biases.append(b)
        object.__setattr__(self, "weights", tuple(weights))
        object.__setattr__(self, "biases", tuple(biases))
        check_choice("cost", self.cost, COSTS)
        get_activation(self.hidden_activation)
        if self.output_activation != SOFTMAX:
            try:
                get_activation(self.output_activation)
            except Exception as err:
                raise type(err)(f"{err}; or 'softmax' for the output layer") from err
        allowed = compatible_outputs(self.cost)
        if allowed is not None and self.output_activation not in allowed:
            raise InvalidParameterError(
                f"cost={self.cost!r} needs output_activation={allowed[0]!r}, got {self.output_activation!r}"
            )

    # ----- construction -----------------------------------------------------
    @classmethod
    def random(cls, sizes: Sequence[int], *, seed: int | np.random.Generator | None = 0,
               hidden_activation: str = "sigmoid", output_activation: str = "sigmoid",
               cost: str = "cross-entropy", weight_scale: float = 1.0) -> Network:
        """network2's initialisation: w ~ N(0, weight_scale²/n_in), b ~ N(0, 1).

        Draws in network2's order (all biases, then all weights) from
        :func:`numpy.random.default_rng` seeded with ``seed``.
        """
        sizes = tuple(check_int("size", s, min_value=1) for s in sizes)
        if len(sizes) < 2:
            raise InvalidParameterError(f"sizes={sizes} must list at least 2 layer widths, e.g. (64, 30, 10)")
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        biases = [rng.standard_normal(n) for n in sizes[1:]]
        weights = [rng.standard_normal((n, m)) * (weight_scale / np.sqrt(m)) for m, n in zip(sizes[:-1], sizes[1:])]
        return cls(tuple(weights), tuple(biases), hidden_activation, output_activation, cost)

    def with_parameters(self, weights: Sequence[np.ndarray], biases: Sequence[np.ndarray]) -> Network:
        """The same architecture, activations and cost with new parameters."""
        return Network(tuple(weights), tuple(biases), self.hidden_activation, self.output_activation, self.cost)

    # ----- shape ------------------------------------------------------------
    def weight(self, layer: int) -> np.ndarray:
        """wˡ for ``layer`` in 2, …, L."""
        return self.weights[self._index(layer)]

    def bias(self, layer: int) -> np.ndarray:
        """bˡ for ``layer`` in 2, …, L."""
        return self.biases[self._index(layer)]

    def activation(self, layer: int) -> Activation | None:
        """σ of ``layer`` (``None`` for a softmax output layer)."""
        index = self._index(layer)
        if index == len(self.weights) - 1:
            return None if self.output_activation == SOFTMAX else get_activation(self.output_activation)
        return get_activation(self.hidden_activation)

    def _index(self, layer: int) -> int:
        layer = check_int("layer", layer, min_value=2, max_value=self.depth)
        return layer - 2

    def to_json(self) -> dict:
        """Architecture and metadata (no parameters)."""
        return {"sizes": list(self.sizes), "hidden_activation": self.hidden_activation,
                "output_activation": self.output_activation, "cost": self.cost}

    def __repr__(self) -> str:
        return (f"Network(sizes={self.sizes}, hidden_activation={self.hidden_activation!r}, "
                f"output_activation={self.output_activation!r}, cost={self.cost!r})")


def known_outputs() -> list[str]:
    """Names accepted as an output activation."""
    return activation_names() + [SOFTMAX]
