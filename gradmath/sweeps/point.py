"""One grid point: draw a random network, run a batch through it, measure every layer, predict by mean field.

The network has ``depth`` weighted layers of ``width`` units, weights wˡ ~ N(0, σ_w²/n_{l−1}) and biases
bˡ ~ N(0, σ_b²), the same activation in every layer and the quadratic cost against random targets
y ~ N(0, 1), so δᴸ = (aᴸ − y) ⊙ σ′(zᴸ) and δˡ = Σ′(zˡ)(wˡ⁺¹)ᵀδˡ⁺¹ going back (Nielsen (124)). The forward
pass, the output error and the power-of-two rescaling are :mod:`gradmath.backprop`'s (as in
:func:`gradmath.backprop.scaled_backprop`), so ‖δˡ‖ can neither overflow nor underflow at any depth.

Per layer (row k is the proofs' layer l = k + 2) it stores: qˡ, the mean over examples of |zˡ|²/n;
cˡ, the mean over pairs of examples of zˡ·zˡ′/√(|zˡ|²|zˡ′|²) (the theory's correlation, not centred);
ln‖δˡ‖ of every example; and ln‖mean over examples of δˡ‖ (the gradient of the batch's mean cost
with respect to bˡ). The mean-field predictions at the same (activation, σ_w², σ_b²) come from
:mod:`gradmath.sweeps.prediction`, once for the whole grid.

Determinism: the random stream is ``SeedSequence(seed, spawn_key=(depth, width, batch))``: it depends on the
point's seed and on the coordinates that fix the shapes drawn, not on where or when the point runs. Points that
differ only in activation, σ_w² or σ_b² scale the same standard normals (common random numbers: differences
across the phase diagram are not blurred by independent draws). BLAS runs on one thread while a point is
computed (:func:`one_thread`), so a sum's order, and hence every bit, does not depend on the machine's
thread count.

>>> r = measure_point(PointTask(index=(0,), activation="tanh", sigma_w2=1.5, sigma_b2=0.05, depth=4, width=50,
...                             seed=0, batch=4, data="gaussian", c0=0.5, layers=5))
>>> r["q"].shape, r["log_delta"].shape, bool(np.isnan(r["q"][-1]))   # one padding layer
((5,), (4, 5), True)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["PointTask", "measure_point", "run_task", "one_thread", "input_width", "registered_name", "DATA_SOURCES",
           "MAX_WEIGHTS", "LAYER_VARIABLES", "EXAMPLE_VARIABLES"]

#: Where a point's inputs come from: Gaussian inputs with unit length per unit and pairwise correlation c0,
#: or the first ``batch`` images of the embedded digits (64 inputs) with their one-hot labels as targets.
DATA_SOURCES = ("gaussian", "digits")
#: Most weights in one network (5·10⁷ float64: 400 MB held by one worker at a time).
MAX_WEIGHTS = 50_000_000

#: What a point stores per layer, per (example, layer), and once.
LAYER_VARIABLES = ("q", "c", "log_delta_mean")
EXAMPLE_VARIABLES = ("log_delta",)


@dataclass(frozen=True)
class PointTask:
    """Everything needed to measure one grid point (small, picklable: it is what a worker receives)."""

    index: tuple[int, ...]
    activation: str
    sigma_w2: float
    sigma_b2: float
    depth: int
    width: int
    seed: int
    batch: int
    data: str
    c0: float
    layers: int     #: the store's layer dimension (the grid's largest depth); deeper rows are NaN


def input_width(data: str, width: int) -> int:
    """The input layer's width: the data's (digits: 64), else the hidden width."""
    return 64 if data == "digits" else width


def one_thread():
    """BLAS (and OpenMP) on one thread: bit-identical results whatever the machine's thread count."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1)


def run_task(task: PointTask) -> dict:
    """:func:`measure_point` on one BLAS thread, with the version that computed it (what Dask workers run)."""
    from gradmath import __version__
    from gradmath.sweeps.grid import FORMAT_VERSION

    from gradmath.errors import GradmathError

    with one_thread():
        try:
            result = measure_point(task)
        except GradmathError as err:     # name the activation as the user wrote it, not by its registered name
            name = registered_name(task.activation)
            raise type(err)(str(err).replace(repr(name), repr(task.activation))) from None
    result["version"] = f"{__version__}/{FORMAT_VERSION}"
    return result


def _inputs(task: PointTask, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    n, k = task.width, task.batch
    if task.data == "digits":
        from gradmath.data import load_dataset

        d = load_dataset("digits", limit=k)
        x = np.asarray(d.x[:k], dtype=np.float64)
        y = np.zeros((x.shape[0], n))
        y[np.arange(x.shape[0]), np.asarray(d.y[:k]) % n] = 1.0
        return x, y
    shared = rng.standard_normal((1, n))
    own = rng.standard_normal((k, n))
    x = np.sqrt(task.c0) * shared + np.sqrt(1.0 - task.c0) * own
    y = rng.standard_normal((k, n))
    return x, y


def _network(task: PointTask, rng: np.random.Generator, n0: int):
    from gradmath.network import Network

    name = registered_name(task.activation)
    sizes = (n0,) + (task.width,) * task.depth
    weights, biases = [], []
    for m, n in zip(sizes, sizes[1:]):
        w = rng.standard_normal((n, m))
        w *= np.sqrt(task.sigma_w2 / m)
        b = rng.standard_normal(n)
        b *= np.sqrt(task.sigma_b2)
        weights.append(w)
        biases.append(b)
    return Network(tuple(weights), tuple(biases), name, name, "quadratic")


def registered_name(spec: str) -> str:
    """A registered activation's name, or a name under which the expression ``spec`` is registered here.

    An expression (``"erf(x)"``) is registered as ``sweep_<12 hex digits of its SHA-256>``, in this process
    and, when a task runs there, in a fresh worker (parsed by :mod:`gradmath.expressions`, never ``eval``).

    >>> registered_name("tanh"), registered_name("erf(x)")
    ('tanh', 'sweep_825163766c8b')
    """
    import hashlib

    from gradmath.activations import activation_names, register_activation, resolve_activation

    key = str(spec).strip().lower()
    if key in activation_names():
        return key
    resolve_activation(spec)                       # parses it, or raises a clear error
    name = "sweep_" + hashlib.sha256(spec.strip().encode()).hexdigest()[:12]
    if name not in activation_names():
        register_activation(name, spec.strip(), description=f"custom: {spec.strip()}")
    return name


def measure_point(task: PointTask) -> dict:
    """Measure one point (see the module's description); arrays padded with NaN to ``task.layers`` layers."""
    from gradmath.backprop import _forward_with_primes, _output_delta, _rescale
    from gradmath.batch import prepare_batch

    rng = np.random.default_rng(np.random.SeedSequence(task.seed, spawn_key=(task.depth, task.width, task.batch)))
    x, y = _inputs(task, rng)
    net = _network(task, rng, x.shape[1])
    x, y = prepare_batch(net, x, y)
    activations, zs, primes = _forward_with_primes(net, x)
    depth, k = task.depth, x.shape[0]
    out = {"q": np.full(task.layers, np.nan), "c": np.full(task.layers, np.nan),
           "log_delta_mean": np.full(task.layers, np.nan), "log_delta": np.full((k, task.layers), np.nan)}
    upper = np.triu_indices(k, 1)
    for i, z in enumerate(zs):
        sq = np.einsum("ij,ij->i", z, z)
        out["q"][i] = sq.mean() / z.shape[1]
        gram = (z @ z.T)[upper]
        out["c"][i] = float(np.mean(gram / np.sqrt(sq[upper[0]] * sq[upper[1]])))
    # Backward, as scaled_backprop: δˡ = mantissa · 2^exponent per example.
    mantissa, exponent = _rescale(_output_delta(net, activations[-1], zs[-1], primes[-1], y))
    _record(out, depth - 1, mantissa, exponent)
    for layer in range(depth - 2, -1, -1):
        delta = mantissa @ net.weights[layer + 1]
        delta *= primes[layer]
        mantissa, shift = _rescale(delta)
        exponent = exponent + shift
        _record(out, layer, mantissa, exponent)
    return out


_LN2 = float(np.log(2.0))


def _record(out: dict, row: int, mantissa: np.ndarray, exponent: np.ndarray) -> None:
    """ln‖δ‖ per example and ln‖mean δ‖ from rows δ_x = mantissa_x · 2^exponent_x."""
    norms = np.sqrt(np.einsum("ij,ij->i", mantissa, mantissa))
    with np.errstate(divide="ignore"):
        out["log_delta"][:, row] = np.log(norms) + exponent * _LN2
    top = int(exponent.max())
    mean = (np.ldexp(mantissa, (exponent - top)[:, None])).mean(axis=0)
    norm = float(np.linalg.norm(mean))
    out["log_delta_mean"][row] = (np.log(norm) if norm > 0 else -np.inf) + top * _LN2
