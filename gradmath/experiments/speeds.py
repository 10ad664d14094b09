"""Nielsen's speed of learning, per hidden layer, at initialisation and along training.

The speed of learning of hidden layer k (the book counts hidden layers from 1;
it is network layer l = k + 1 in the proofs' numbering, input layer 1) is

    ‖∂C/∂bˡ‖ with ∂C/∂bˡ = (1/n) Σₓ δˡₓ over the first n = 1,000 training examples

(Nielsen ch. 5, "The vanishing gradient problem"; δˡ from BP2, the matrix form
(124)). At initialisation it varies from one random network to the next, so
:func:`init_speeds` reports the median and quartiles over many seeds; during
training, :func:`training_speeds` records it before every epoch of full-batch
gradient descent (η = 0.1, λ = 5.0, 500 epochs in the book) and checks the
verifier's per-example bounds on ‖δˡ‖ (:func:`gradmath.bounds.verify_network`)
at every epoch, recording how tight they are.

Examples
--------
>>> from gradmath.data import load_dataset
>>> d = load_dataset("digits")
>>> init = init_speeds((64, 30, 30, 30, 10), d.x, d.y, seeds=20, seed=1)
>>> init
InitSpeeds(sizes=(64, 30, 30, 30, 10), seeds=20, median=[0.012, 0.057, 0.3])
>>> bool((init.median[:-1] < init.median[1:]).all())   # earlier hidden layers learn more slowly
True

The book's values are one network on 28×28 MNIST; ours are medians over seeds
on 8×8 digits, and the spread between seeds is wide:

>>> BOOK_SPEEDS[3]
(0.012, 0.06, 0.283)
>>> [f"{lo:.3f}..{hi:.3f}" for lo, hi in zip(init.q1, init.q3)]
['0.011..0.014', '0.053..0.068', '0.258..0.335']
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from gradmath.backprop import mean_gradients, prepare_batch
from gradmath.experiments.training import (
    MAX_EPOCHS,
    MAX_SEEDS,
    SPEED_EXAMPLES,
    TrainingResult,
    check_experiment_size,
    small_blas,
    train,
)
from gradmath.network import Network
from gradmath.validation import check_int

__all__ = [
    "BOOK_SPEEDS",
    "BOOK_SOURCE",
    "speed_of_learning",
    "init_speeds",
    "InitSpeeds",
    "training_speeds",
    "SpeedTrajectory",
    "BoundsTrajectory",
]

#: Quoted from the book, not computed: speeds of learning of hidden layers 1, 2, … just after
#: initialisation of one [784, 30, …, 30, 10] network on MNIST, keyed by the number of hidden layers.
BOOK_SPEEDS: dict[int, tuple[float, ...]] = {
    2: (0.07, 0.31),
    3: (0.012, 0.060, 0.283),
    4: (0.003, 0.017, 0.070, 0.285),
}
BOOK_SOURCE = ("Nielsen, Neural Networks and Deep Learning, ch. 5, 'The vanishing gradient problem' "
               "(one network [784, 30, ..., 30, 10] on MNIST, just after initialisation)")


def speed_of_learning(network: Network, x, y, *, examples: int = SPEED_EXAMPLES) -> np.ndarray:
    """‖mean ∂C/∂bˡ‖ over the first ``examples`` rows for each hidden layer (hidden layer 1 first).

    >>> import numpy as np
    >>> net = Network.random((3, 4, 4, 2), seed=0)
    >>> speed_of_learning(net, np.full((5, 3), 0.5), np.array([0, 1, 0, 1, 1])).round(3)
    array([0.008, 0.05 ])
    """
    examples = check_int("examples", examples, min_value=1)
    x, y = prepare_batch(network, x, y)
    check_experiment_size(network.sizes, min(examples, x.shape[0]), 1, fix="fewer examples")
    with small_blas(min(examples, x.shape[0]), network):
        grad_b, _ = mean_gradients(network, x[:examples], y[:examples])
    return np.array([np.linalg.norm(g) for g in grad_b[:-1]])


@dataclass(frozen=True, eq=False)
class InitSpeeds:
    """Speeds of learning at initialisation: ``values[s, k]`` for seed ``seed + s`` and hidden layer k + 1."""

    sizes: tuple[int, ...]
    seed: int
    values: np.ndarray
    hidden_activation: str = "sigmoid"

    @property
    def seeds(self) -> int:
        return self.values.shape[0]

    @property
    def median(self) -> np.ndarray:
        return np.median(self.values, axis=0)

    @property
    def q1(self) -> np.ndarray:
        return np.quantile(self.values, 0.25, axis=0)

    @property
    def q3(self) -> np.ndarray:
        return np.quantile(self.values, 0.75, axis=0)

    def to_json(self) -> dict:
        lo, hi = self.values.min(axis=0), self.values.max(axis=0)
        return {
            "sizes": list(self.sizes), "hidden_activation": self.hidden_activation,
            "seeds": self.seeds, "seed": self.seed,
            "init": [{"layer": k + 1, "median": float(self.median[k]), "q1": float(self.q1[k]),
                      "q3": float(self.q3[k]), "min": float(lo[k]), "max": float(hi[k])}
                     for k in range(self.values.shape[1])],
        }

    def __repr__(self) -> str:
        median = [float(f"{v:.2g}") for v in self.median]
        return f"InitSpeeds(sizes={self.sizes}, seeds={self.seeds}, median={median})"


def init_speeds(sizes: Sequence[int], x, y, *, seeds: int = 20, seed: int = 0,
                hidden_activation: str = "sigmoid", examples: int = SPEED_EXAMPLES,
                progress: Callable[[int, int], None] | None = None) -> InitSpeeds:
    """Speeds of learning of network2-initialised networks with seeds ``seed``, …, ``seed + seeds − 1``.

    Each network is :meth:`Network.random` (w ~ N(0, 1/n_in), b ~ N(0, 1)) with
    a sigmoid output and the cross-entropy cost. At most :data:`MAX_SEEDS` seeds,
    and the whole run within the limits of
    :func:`gradmath.experiments.training.check_experiment_size` (checked before
    the first network is made; :class:`InvalidParameterError` otherwise):

    >>> init_speeds((64, 10**6, 10), np.zeros((5, 64)), np.zeros(5, dtype=int))
    Traceback (most recent call last):
    ...
    gradmath.errors.InvalidParameterError: sizes=64,1000000,10 has 75,000,010 weights and biases; at most 10,000,000 (narrower or fewer layers)
    """
    seeds = check_int("seeds", seeds, min_value=1, max_value=MAX_SEEDS)
    seed = check_int("seed", seed, min_value=0)
    examples = check_int("examples", examples, min_value=1)
    check_experiment_size(sizes, min(examples, len(x)), seeds, fix="fewer seeds or examples")
    values = []
    for s in range(seeds):
        net = Network.random(sizes, seed=seed + s, hidden_activation=hidden_activation)
        values.append(speed_of_learning(net, x, y, examples=examples))
        if progress is not None:
            progress(s + 1, seeds)
    return InitSpeeds(tuple(net.sizes), seed, np.array(values), hidden_activation)


@dataclass(frozen=True, eq=False)
class BoundsTrajectory:
    """The verifier's bounds at every epoch: ``tightness_*[e, i]`` for epoch e and layer ``layers[i]``.

    ``layers`` are the proofs' l = 2, …, L (hidden layer k is l = k + 1; l = L is
    the output layer). Tightness is bound / measured for the example where ‖δˡ‖ is
    largest (NaN where that norm is 0); ``violations[e, i]`` counts examples
    whose ‖δˡ‖ exceeds a bound.
    """

    layers: tuple[int, ...]
    norm: str
    examples: int
    tightness_gamma: np.ndarray
    tightness_data: np.ndarray
    violations: np.ndarray

    @property
    def total_violations(self) -> int:
        return int(self.violations.sum())

    def to_json(self) -> dict:
        def column(a, i):
            return [None if not np.isfinite(v) else float(v) for v in a[:, i]]

        return {
            "norm": self.norm, "examples": self.examples, "epochs_checked": int(self.violations.shape[0]),
            "checks": int(self.violations.size * self.examples), "violations": self.total_violations,
            "layers": [{"l": l, "violations": int(self.violations[:, i].sum()),
                        "tightness_gamma": column(self.tightness_gamma, i),
                        "tightness_data": column(self.tightness_data, i)} for i, l in enumerate(self.layers)],
        }


@dataclass(frozen=True, eq=False)
class SpeedTrajectory:
    """Speeds along full-batch training and, when checked, the bounds at every epoch."""

    training: TrainingResult
    bounds: BoundsTrajectory | None

    def to_json(self) -> dict:
        payload = {"training": self.training.to_json()}
        if self.bounds is not None:
            payload["bounds"] = self.bounds.to_json()
        return payload


def training_speeds(network: Network, x, y, *, epochs: int = 500, eta: float = 0.1, lmbda: float = 5.0,
                    examples: int = SPEED_EXAMPLES, bounds: bool = True, norm: str = "2",
                    progress: Callable[[int, int], None] | None = None) -> SpeedTrajectory:
    """Full-batch gradient descent on the first ``examples`` rows, the book's experiment.

    With ``bounds``, :func:`gradmath.bounds.verify_network` checks every
    example's ‖δˡ‖ against the bounds at the initial network and after every epoch.
    """
    examples = check_int("examples", examples, min_value=1)
    epochs = check_int("epochs", epochs, min_value=0, max_value=MAX_EPOCHS)
    x, y = prepare_batch(network, x, y)
    x, y = x[:examples], y[:examples]
    if bounds:  # the bounds are one more pass per epoch
        check_experiment_size(network.sizes, x.shape[0], 2 * (epochs + 1), fix="fewer epochs or examples")
    records: list = []

    def check_bounds(epoch: int, net: Network) -> None:
        from gradmath.bounds import verify_network

        with small_blas(x.shape[0], net):
            records.append(verify_network(net, x, y, norm=norm))

    callback = check_bounds if bounds else None

    result = train(network, x, y, epochs=epochs, eta=eta, lmbda=lmbda, callback=callback, progress=progress)
    if not bounds:
        return SpeedTrajectory(result, None)

    def table(field: str) -> np.ndarray:
        return np.array([[np.nan if getattr(b, field) is None else getattr(b, field) for b in r.layers]
                         for r in records], dtype=float)

    trajectory = BoundsTrajectory(
        layers=tuple(b.l for b in records[0].layers), norm=records[0].norm, examples=x.shape[0],
        tightness_gamma=table("tightness_gamma"), tightness_data=table("tightness_data"),
        violations=table("violations").astype(np.int64),
    )
    return SpeedTrajectory(result, trajectory)
