"""Nielsen's network2 training, vectorised: full-batch or mini-batch SGD with L2 regularisation.

One step on a mini-batch of m examples out of a training set of n (network2's
``update_mini_batch``; the L2-regularised rule of Nielsen ch. 3):

    wˡ → (1 − ηλ/n) wˡ − (η/m) Σₓ δˡ(aˡ⁻¹)ᵀ,        bˡ → bˡ − (η/m) Σₓ δˡ.

The gradients come from one fused forward and backward pass over the whole
mini-batch (rows are examples), the same recursion as :mod:`gradmath.backprop`
(δˡ = σ′(zˡ) ⊙ (wˡ⁺¹)ᵀδˡ⁺¹), written here without the per-call validation so
that 500 epochs stay cheap; the tests check it against
:func:`gradmath.backprop.mean_gradients`. For sigmoid layers σ′(zˡ) = aˡ(1 − aˡ).

While training, the *speed of learning* of every hidden layer is recorded
before each epoch and after the last: ‖mean over the first 1,000 training
examples of ∂C/∂bˡ‖ (Nielsen ch. 5, "The vanishing gradient problem").
In full-batch training on at most 1,000 examples those are the very gradients
of the step, so recording them costs nothing.

Examples
--------
>>> from gradmath.data import load_dataset
>>> from gradmath.network import Network
>>> d = load_dataset("digits", limit=200)
>>> net = Network.random((64, 30, 30, 10), seed=1)
>>> result = train(net, d.x, d.y, epochs=3, eta=0.1, lmbda=5.0)
>>> result
TrainingResult(sizes=(64, 30, 30, 10), epochs=3, eta=0.1, lmbda=5.0, mini_batch_size=200, examples=200)
>>> result.speeds.shape          # (epochs + 1) records × 2 hidden layers
(4, 2)
>>> bool((result.speeds[:, 0] < result.speeds[:, 1]).all())   # the first hidden layer is slower
True
>>> train(net, d.x, d.y, epochs=1, mini_batch_size=0)
Traceback (most recent call last):
...
gradmath.errors.InvalidParameterError: mini_batch_size=0 must be an integer >= 1
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from gradmath.backprop import output_error, prepare_batch
from gradmath.errors import InvalidParameterError, NonFiniteError
from gradmath.network import Network
from gradmath.validation import check_int, check_real

__all__ = ["TrainingResult", "train", "fused_gradients", "small_blas", "SPEED_EXAMPLES", "check_experiment_size",
           "MAX_PARAMETERS", "MAX_ACTIVATIONS", "MAX_WORK", "MAX_SEEDS", "MAX_EPOCHS"]

#: Nielsen measures the speed of learning on the first 1,000 training images.
SPEED_EXAMPLES = 1000

# Limits of an experiment, checked before anything is allocated. Measured on a 2-core machine
# shared with other work: a forward and backward pass runs about 10⁹ (example × parameter)
# products a second ([784, 2000, 2000, 10], 5.6·10⁶ parameters, 1,000 examples: 4 s a pass).
#: Most weights and biases in one network: 80 MB of float64, about 10 s a pass over 1,000 examples.
MAX_PARAMETERS = 10_000_000
#: Most (example × neuron) values in one pass: 200 MB per copy of the activations.
MAX_ACTIVATIONS = 25_000_000
#: Most (example × parameter) products over all passes of one run: about 5 minutes at 10⁹ a second.
MAX_WORK = 300_000_000_000
#: Most random networks in one :func:`gradmath.experiments.speeds.init_speeds`.
MAX_SEEDS = 10_000
#: Most epochs in one :func:`train` (the book trains for 500).
MAX_EPOCHS = 100_000

#: Below this many multiply-adds per matrix product, BLAS threads cost more than
#: they save (measured: 500 epochs of a [64, 30, 30, 30, 30, 10] network on 1,000
#: examples run about 8× faster on one thread than on two busy cores).
_THREADED_PRODUCT = 1 << 24


def check_experiment_size(sizes, rows: int, passes: int, *, fix: str = "fewer seeds or epochs") -> int:
    """Refuse an experiment beyond :data:`MAX_PARAMETERS`, :data:`MAX_ACTIVATIONS` or :data:`MAX_WORK`.

    ``passes`` forward and backward passes over ``rows`` examples of a network of
    widths ``sizes``; ``fix`` names what to lower. Returns the number of parameters.

    >>> check_experiment_size((784, 30, 30, 10), rows=1000, passes=501)
    24790
    >>> check_experiment_size((64, 10**6, 10), rows=1000, passes=1)
    Traceback (most recent call last):
    ...
    gradmath.errors.InvalidParameterError: sizes=64,1000000,10 has 75,000,010 weights and biases; at most 10,000,000 (narrower or fewer layers)
    """
    sizes = [check_int("width", n, min_value=1, max_value=MAX_PARAMETERS) for n in sizes]
    shown = ",".join(map(str, sizes)) if len(sizes) <= 12 else f"{sizes[0]},...,{sizes[-1]} ({len(sizes)} widths)"
    parameters = sum(n_out * (n_in + 1) for n_in, n_out in zip(sizes, sizes[1:]))
    if parameters > MAX_PARAMETERS:
        raise InvalidParameterError(f"sizes={shown} has {parameters:,} weights and biases; "
                                    f"at most {MAX_PARAMETERS:,} (narrower or fewer layers)")
    values = rows * sum(sizes)
    if values > MAX_ACTIVATIONS:
        raise InvalidParameterError(f"{rows:,} examples × {sum(sizes):,} neurons = {values:,} values in one pass; "
                                    f"at most {MAX_ACTIVATIONS:,} (fewer examples or narrower layers)")
    work = passes * rows * parameters
    if work > MAX_WORK:
        raise InvalidParameterError(f"{passes:,} passes × {rows:,} examples × {parameters:,} parameters = {work:.2e} "
                                    f"products; at most {MAX_WORK:.0e}, about 5 minutes ({fix})")
    return parameters


def small_blas(rows: int, network: Network):
    """A context in which BLAS runs on one thread when ``rows`` examples make only small products."""
    if rows * max(network.sizes) ** 2 >= _THREADED_PRODUCT:
        return contextlib.nullcontext()
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="blas")


@dataclass(frozen=True, eq=False)
class TrainingResult:
    """The trained network and the speed of learning of each hidden layer at every epoch.

    ``speeds[e, k]`` is the speed of hidden layer k + 1 (the book's numbering:
    the first hidden layer is 1, i.e. network layer l = k + 2) after ``e``
    epochs; row 0 is the initial network.
    """

    network: Network
    speeds: np.ndarray
    epochs: int
    eta: float
    lmbda: float
    mini_batch_size: int
    examples: int
    seed: int

    @property
    def hidden_layers(self) -> list[int]:
        """Hidden layers counted from 1, as in the book."""
        return list(range(1, self.speeds.shape[1] + 1))

    def to_json(self) -> dict:
        return {
            "sizes": list(self.network.sizes), "epochs": self.epochs, "eta": self.eta, "lmbda": self.lmbda,
            "mini_batch_size": self.mini_batch_size, "examples": self.examples, "seed": self.seed,
            "speeds": [{"layer": k, "per_epoch": self.speeds[:, k - 1].tolist()} for k in self.hidden_layers],
        }

    def __repr__(self) -> str:
        return (f"TrainingResult(sizes={self.network.sizes}, epochs={self.epochs}, eta={self.eta}, "
                f"lmbda={self.lmbda}, mini_batch_size={self.mini_batch_size}, examples={self.examples})")


def fused_gradients(network: Network, weights, biases, x: np.ndarray, y: np.ndarray
                    ) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """∂C/∂bˡ and ∂C/∂wˡ of the mean cost over the rows of ``x`` (already checked), l = 2, …, L.

    ``network`` supplies the activations and the cost; ``weights`` and
    ``biases`` are its parameters as plain arrays (they change while training).
    """
    depth = len(weights) + 1
    sigmoid_hidden = network.hidden_activation == "sigmoid"
    cross_entropy = network.cost == "cross-entropy"      # sigmoid output: σ′ cancels, δᴸ = aᴸ − y
    activations, zs = [x], []
    a = x
    for i, (w, b) in enumerate(zip(weights, biases)):
        z = a @ w.T
        z += b
        if (sigmoid_hidden if i + 2 < depth else cross_entropy):
            a = _sigmoid_in_place(z)   # zˡ is not needed again: σ′ comes from aˡ, δᴸ from aᴸ
            zs.append(None)
        else:
            act = network.activation(i + 2)
            a = _softmax(z) if act is None else act.sigma(z)
            zs.append(z)
        activations.append(a)
    m = x.shape[0]
    if cross_entropy:
        delta = activations[-1] - y
    else:
        delta = output_error(network, activations[-1], zs[-1], y)
    delta *= 1.0 / m        # every δˡ below is then already divided by m (the recursion is linear)
    ones = np.ones(m)       # a product is several times faster than .sum(axis=0) here
    grad_b, grad_w = [None] * len(weights), [None] * len(weights)
    for i in range(len(weights) - 1, -1, -1):
        grad_b[i] = ones @ delta
        grad_w[i] = delta.T @ activations[i]
        if i > 0:
            delta = delta @ weights[i]
            if sigmoid_hidden:      # σ′(z) = σ(z)(1 − σ(z))
                prime = 1.0 - activations[i]
                prime *= activations[i]
            else:
                prime = network.activation(i + 1).prime(zs[i - 1])
            delta *= prime
    return grad_b, grad_w


def _sigmoid_in_place(z: np.ndarray) -> np.ndarray:
    """σ(z) = (1 + tanh(z/2))/2, overwriting ``z``: finite for every finite z, absolute error
    within a few ulps of 1, and about 2× faster than :func:`scipy.special.expit` here.
    (Relative accuracy is lost where σ(z) < 1e-16; the speeds and steps need only absolute.)"""
    a = z
    a *= 0.5
    np.tanh(a, out=a)
    a *= 0.5
    a += 0.5
    return a


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _hidden_speeds(grad_b: list[np.ndarray]) -> np.ndarray:
    return np.array([np.sqrt(g @ g) for g in grad_b[:-1]])


def train(network: Network, x, y, *, epochs: int, eta: float = 0.1, lmbda: float = 0.0,
          mini_batch_size: int | None = None, seed: int = 0, speed_examples: int = SPEED_EXAMPLES,
          callback: Callable[[int, Network], None] | None = None,
          progress: Callable[[int, int], None] | None = None) -> TrainingResult:
    """Train ``network`` by network2's SGD and record the hidden layers' speeds of learning.

    Parameters
    ----------
    network : Network
        The starting point (not modified).
    x, y : array_like
        Training inputs (n × n_1) and targets (n × n_L, or n integer labels).
    epochs : int
        Passes over the training set, at most :data:`MAX_EPOCHS`; the whole run is
        refused beyond :data:`MAX_WORK` (see :func:`check_experiment_size`).
    eta, lmbda : float
        Learning rate η > 0 and L2 parameter λ ≥ 0 (weight decay 1 − ηλ/n).
    mini_batch_size : int, optional
        Examples per step; ``None`` (default) means full-batch gradient descent.
    seed : int
        Seeds the shuffle before each epoch of mini-batch SGD (full batch needs none).
    speed_examples : int
        The speed of learning is measured on the first ``speed_examples`` training examples.
    callback : callable, optional
        ``callback(epoch, network)`` for the initial network (epoch 0) and after every epoch.
    progress : callable, optional
        ``progress(done, total)`` after every epoch.

    Returns
    -------
    TrainingResult

    Raises
    ------
    InvalidParameterError
        A bad ``epochs``, ``eta``, ``lmbda``, ``seed`` or ``mini_batch_size``, or a run
        beyond the limits of :func:`check_experiment_size`.
    """
    epochs = check_int("epochs", epochs, min_value=0, max_value=MAX_EPOCHS)
    x, y = prepare_batch(network, x, y)
    eta = check_real("eta", eta, min_value=0.0, allow_equal=False)
    lmbda = check_real("lmbda", lmbda, min_value=0.0)
    seed = check_int("seed", seed)
    speed_examples = check_int("speed_examples", speed_examples, min_value=1)
    n = x.shape[0]
    check_experiment_size(network.sizes, n, (epochs + 1) * (2 if speed_examples < n else 1),
                          fix="fewer epochs or examples")
    m = n if mini_batch_size is None else min(check_int("mini_batch_size", mini_batch_size, min_value=1), n)
    full_batch = m == n
    speed_x, speed_y = x[:speed_examples], y[:speed_examples]
    shared = full_batch and speed_examples >= n      # the step's gradients are the speed's gradients
    weights = [w.copy() for w in network.weights]
    biases = [b.copy() for b in network.biases]
    decay = 1.0 - eta * lmbda / n
    rng = np.random.default_rng(seed)
    speeds = np.empty((epochs + 1, network.depth - 2))

    def snapshot() -> Network:
        return network.with_parameters(weights, biases)

    # overflow in a diverging run is found by _check_diverged after each epoch, and said there once
    with small_blas(m, network), np.errstate(over="ignore", invalid="ignore"):
        for epoch in range(epochs + 1):
            if epoch > 0:
                _check_diverged(weights, biases, epoch, eta, lmbda)
            if callback is not None:
                callback(epoch, network if epoch == 0 else snapshot())
            if shared and epoch < epochs:
                grad_b, grad_w = fused_gradients(network, weights, biases, x, y)
                speeds[epoch] = _hidden_speeds(grad_b)
                _step(weights, biases, grad_b, grad_w, eta, decay)
            else:
                speeds[epoch] = _hidden_speeds(fused_gradients(network, weights, biases, speed_x, speed_y)[0])
                if epoch == epochs:
                    break
                order = None if full_batch else rng.permutation(n)
                for start in range(0, n, m):
                    rows = slice(None) if order is None else order[start:start + m]
                    grad_b, grad_w = fused_gradients(network, weights, biases, x[rows], y[rows])
                    _step(weights, biases, grad_b, grad_w, eta, decay)
            if progress is not None:
                progress(epoch + 1, epochs)
    return TrainingResult(snapshot(), speeds, epochs, eta, lmbda, m, n, seed)


def _check_diverged(weights, biases, epoch: int, eta: float, lmbda: float) -> None:
    """Refuse a run whose parameters left the floats in ``epoch`` (the step size is too large for them)."""
    for l, (w, b) in enumerate(zip(weights, biases), start=2):
        if not (np.isfinite(w).all() and np.isfinite(b).all()):
            raise NonFiniteError(f"training diverged in epoch {epoch}: layer {l}'s parameters are no longer finite "
                                 f"(eta={eta:g}, lmbda={lmbda:g}); use a smaller eta or lmbda")


def _step(weights, biases, grad_b, grad_w, eta: float, decay: float) -> None:
    """One network2 update in place: w ← decay·w − η ∇w, b ← b − η ∇b (gradients are means)."""
    for w, b, gw, gb in zip(weights, biases, grad_w, grad_b):
        if decay != 1.0:
            w *= decay
        w -= eta * gw
        b -= eta * gb
