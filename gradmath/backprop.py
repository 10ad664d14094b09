"""Vectorised forward and backward passes over a batch, in float64, in chunks.

For every example and every weighted layer l = 2, …, L this computes
δˡ = ∂C/∂zˡ = ∂C/∂bˡ by the recursion δˡ = Σ′(zˡ)(wˡ⁺¹)ᵀδˡ⁺¹ (Nielsen's BP2,
the matrix form (124)), with rows as examples: ``delta[l] = σ′(z[l]) * (delta[l+1] @ w[l+1])``.
The per-example weight gradient is the outer product δˡ(aˡ⁻¹)ᵀ (BP4).

Examples
--------
>>> import numpy as np
>>> from gradmath.network import Network
>>> net = Network.random((3, 4, 2), seed=1, cost="quadratic")
>>> x, y = np.full((5, 3), 0.5), np.zeros((5, 2))
>>> p = backprop(net, x, y)
>>> [d.shape for d in p.deltas]       # δ², δ³ for 5 examples
[(5, 4), (5, 2)]
>>> gb, gw = mean_gradients(net, x, y)
>>> np.allclose(gb[0], p.deltas[0].mean(axis=0))
True
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from scipy.special import log_expit, logsumexp

from gradmath.batch import first_layer_checked, prepare_batch
from gradmath.errors import NonFiniteError
from gradmath.network import SOFTMAX, Network
from gradmath.validation import check_int

__all__ = [
    "Pass",
    "forward",
    "output_error",
    "backprop",
    "iter_backprop",
    "mean_gradients",
    "cost_per_example",
    "prepare_batch",
    "default_chunk_size",
    "scaled_backprop",
    "ScaledPass",
    "softmax_jacobian_times",
    "output_residual",
]

#: Floats held per chunk by default (about 64 MiB per array family).
_CHUNK_FLOATS = 1 << 23


@dataclass(frozen=True, eq=False)
class Pass:
    """Forward and backward results for one batch (rows are examples).

    ``activations[0]`` is a¹ = x and ``activations[i]`` is a^(i+1);
    ``weighted_inputs[i]`` and ``deltas[i]`` are z^(i+2) and δ^(i+2);
    ``primes[i]`` is σ′(z^(i+2)) for the layers with an elementwise activation
    (all but a softmax output layer, whose entry is ``None``).
    """

    activations: tuple[np.ndarray, ...]
    weighted_inputs: tuple[np.ndarray, ...]
    deltas: tuple[np.ndarray, ...]
    primes: tuple[np.ndarray | None, ...] = ()

    def delta(self, layer: int) -> np.ndarray:
        """δˡ (= ∂C/∂bˡ per example) for ``layer`` in 2, …, L."""
        return self.deltas[layer - 2]


def default_chunk_size(network: Network) -> int:
    """Examples per chunk so that each chunk's arrays stay near 64 MiB."""
    return max(1, _CHUNK_FLOATS // (2 * sum(network.sizes)))


def forward(network: Network, x: np.ndarray) -> tuple[tuple[np.ndarray, ...], tuple[np.ndarray, ...]]:
    """Return (activations a¹…aᴸ, weighted inputs z²…zᴸ) for the rows of ``x`` (already checked)."""
    activations, zs = [x], []
    a = x
    for layer in range(2, network.depth + 1):
        z = a @ network.weight(layer).T
        z += network.bias(layer)
        act = network.activation(layer)
        if act is None:
            a = _softmax(z)
        elif act.stable_sigma is not None:  # built-in kernels: finite for finite z, no checking pass needed
            a = act.stable_sigma(z)
        else:
            a = act.sigma(z)
        zs.append(z)
        activations.append(a)
    return tuple(activations), tuple(zs)


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def output_error(network: Network, a_out: np.ndarray, z_out: np.ndarray, y: np.ndarray) -> np.ndarray:
    """δᴸ = ∂C/∂zᴸ per example for the network's cost and output activation.

    quadratic: (aᴸ − y) ⊙ σ′(zᴸ), or the softmax Jacobian applied to aᴸ − y;
    cross-entropy with sigmoid: aᴸ − y (σ′ cancels); log-loss with softmax:
    aᴸ·Σⱼyⱼ − y, which is aᴸ − y for targets that sum to 1 (one-hot labels).
    """
    residual = output_residual(network, a_out, y)
    if network.cost in ("cross-entropy", "log-loss"):
        return residual
    if network.output_activation == SOFTMAX:
        return softmax_jacobian_times(a_out, residual)
    return residual * network.activation(network.depth).prime(z_out)


def output_residual(network: Network, a_out: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The vector the output layer's Jacobian acts on: aᴸ − y, or aᴸ·Σⱼyⱼ − y for log-loss.

    For log-loss ∂C/∂zᴸ_k = a_k Σⱼ yⱼ − y_k exactly; one-hot rows sum to exactly 1.0,
    so there it is aᴸ − y bit for bit.

    >>> net = Network([np.zeros((2, 1))], [np.zeros(2)], "sigmoid", "softmax", "log-loss")
    >>> output_residual(net, np.array([[0.5, 0.5]]), np.array([[2.0, 0.0]]))   # targets summing to 2
    array([[-1.,  1.]])
    """
    if network.cost == "log-loss":
        return a_out * y.sum(axis=1, keepdims=True) - y
    return a_out - y


def softmax_jacobian_times(a: np.ndarray, g: np.ndarray) -> np.ndarray:
    """(diag(a) − aaᵀ) g per row, accurate relative to a_j(1 − a_j)‖g‖ even when a is nearly one-hot.

    Written as δ_j = a_j Σ_{i≠j} a_i (g_j − g_i): the sums Σ_{i≠j} a_i and Σ_{i≠j} a_i g_i are
    formed without the cancellation in 1 − a_j (direct sums at each row's largest a_j,
    where a_j may be within rounding of 1; elsewhere 1 − a_j ≥ ½ and subtraction is safe).

    >>> a = np.array([[1 - 1e-12, 1e-12]]); g = np.array([[1.0, 0.0]])
    >>> softmax_jacobian_times(a, g)          # exact: ±(1 − 1e-12)·1e-12
    array([[ 1.e-12, -1.e-12]])
    """
    n, k = a.shape
    rows = np.arange(n)
    top = a.argmax(axis=1)
    others = a.sum(axis=1, keepdims=True) - a
    weighted = np.einsum("ij,ij->i", a, g)[:, None] - a * g
    if k > 1:
        rest = a.copy()
        rest[rows, top] = 0.0
        others[rows, top] = rest.sum(axis=1)
        weighted[rows, top] = np.einsum("ij,ij->i", rest, g)
    else:
        others[:] = 0.0
        weighted[:] = 0.0
    return a * (g * others - weighted)


def backprop(network: Network, x, y) -> Pass:
    """Forward and backward pass for all rows of ``x`` at once (see :func:`iter_backprop` for chunks)."""
    x, y = prepare_batch(network, x, y)
    return _backprop_checked(network, x, y)


def _backprop_checked(network: Network, x: np.ndarray, y: np.ndarray) -> Pass:
    activations, zs, primes = _forward_with_primes(network, x)
    delta = _output_delta(network, activations[-1], zs[-1], primes[-1], y)
    deltas = [delta]
    for layer in range(network.depth - 1, 1, -1):  # BP2: δˡ = ((wˡ⁺¹)ᵀδˡ⁺¹) ⊙ σ′(zˡ)
        delta = delta @ network.weight(layer + 1)
        delta *= primes[layer - 2]
        deltas.append(delta)
    deltas.reverse()
    return Pass(activations, zs, tuple(deltas), tuple(primes))


class ChunkBuffers:
    """Arrays that one thread reuses from chunk to chunk (chunks of at most ``rows`` examples).

    Fresh per-chunk arrays of a few hundred KiB each can be returned to the system when freed and
    faulted in again for the next chunk; reusing them avoids that (``benchmarks/bench_verify.py``).

    Each array is stored unit by unit (``width × rows``, C order) and handed out as its transpose,
    an ``rows × width`` view with examples along the contiguous axis: the same values and shapes as
    row-per-example arrays, but a reduction over a narrow layer's units per example
    (``max(axis=1)``, norms) then runs as ``width`` vector operations instead of one short loop
    per example, about ten times faster for 30 units (measured in ``benchmarks/bench_verify.py``).

    >>> b = ChunkBuffers(4)
    >>> v = b.take("z", 2, 3, 5)
    >>> v.shape, v.flags.f_contiguous
    ((3, 5), False)
    >>> b.take("z", 2, 4, 5).flags.f_contiguous
    True
    """

    def __init__(self, rows: int):
        self.rows = rows
        self._arrays: dict = {}

    def take(self, kind: str, index: int, rows: int, width: int) -> np.ndarray:
        """The first ``rows`` rows of the buffer ``(kind, index)``, ``width`` columns wide (a transposed view)."""
        key = (kind, index, width)
        if key not in self._arrays:
            self._arrays[key] = np.empty((width, self.rows))
        return self._arrays[key][:, :rows].T


def _forward_with_primes(network: Network, x: np.ndarray, x_offset: int | None = None,
                         buffers: ChunkBuffers | None = None, first_product: np.ndarray | None = None):
    """Activations, weighted inputs and σ′(zˡ) in one sweep (σ and σ′ of the built-in sigmoid and
    tanh share one exponential; they agree with the activation's own kernels to a few ulps).

    With ``x_offset``, x's finiteness is checked here, from z² (see :func:`gradmath.batch.first_layer_checked`),
    and a bad entry is named with its row counted from ``x_offset``. With ``buffers``, zˡ, aˡ
    and σ′(zˡ) of the built-in kernels are written into them (valid until the next chunk).
    With ``first_product``, x(w²)ᵀ already formed (and x checked) elsewhere: z² is that plus b²,
    in place.
    """
    activations, zs, primes = [x], [], []
    a = x
    k = x.shape[0]
    weights, biases, sizes = network.weights, network.biases, network.sizes
    for layer in range(2, network.depth + 1):
        i = layer - 2
        width = sizes[i + 1]
        out = None if buffers is None else [buffers.take(kind, layer, k, width) for kind in ("z", "a", "p", "t")]
        if i == 0 and first_product is not None:
            z = first_product
        elif i == 0 and x_offset is not None:
            z = first_layer_checked(network, x, x_offset, out=None if out is None else out[0])
        else:
            z = np.matmul(a, weights[i].T, out=None if out is None else out[0])
        z += biases[i]
        act = network.activation(layer)
        if act is None:
            a, prime = _softmax(z), None
        elif act.name in _FUSED and act.stable_prime is not None:
            a, prime = _FUSED[act.name](z, None if out is None else out[1:])
        else:
            a = act.stable_sigma(z) if act.stable_sigma is not None else act.sigma(z)
            prime = act.prime(z)
        if not np.isfinite(a.sum()):
            raise NonFiniteError(f"layer {layer}: activations overflow float64 (weights too large for this input)")
        zs.append(z)
        activations.append(a)
        primes.append(prime)
    return tuple(activations), tuple(zs), primes


def _sigmoid_and_prime(z: np.ndarray, out=None) -> tuple[np.ndarray, np.ndarray]:
    """σ(z) = 1/(1 + e^{−z}) and σ′(z) = e^{−z}σ(z)² from one exponential, without cancellation.

    Both are accurate to a few ulps wherever e^{−z} is finite (z > −709.78); where it overflows
    (σ(z) is subnormal there) the whole array is recomputed by :func:`_sigmoid_and_prime_symmetric`,
    which never overflows. ``out``: three arrays shaped like z for σ, σ′ and a temporary (else new ones).

    >>> a, p = _sigmoid_and_prime(np.array([0.0, 40.0, -40.0, -720.0]))
    >>> a.tolist() == [0.5, 1.0, float(np.exp(-40.0) / (1 + np.exp(-40.0))), float(np.exp(-720.0))]
    True
    >>> bool(abs(p[1] / np.exp(-40.0) - 1) < 1e-15), float(p[3]) == float(np.exp(-720.0))
    (True, True)
    """
    a, p = (None, None) if out is None else out[:2]
    with np.errstate(over="ignore", invalid="ignore"):  # e^{−z} = inf for z < −709.78: handled below
        p = np.negative(z, out=p)
        np.exp(p, out=p)
        a = np.add(p, 1.0, out=a)
        np.reciprocal(a, out=a)  # σ(z)
        p *= a  # σ(−z) = e^{−z}σ(z); inf·0 = NaN where e^{−z} overflowed
        p *= a  # σ′ = σ(z)σ(−z)
    if not np.isfinite(p.sum()):  # NaN only from an overflowed e^{−z} (or a NaN in z)
        return _sigmoid_and_prime_symmetric(z, out)
    return a, p


def _sigmoid_and_prime_symmetric(z: np.ndarray, out=None) -> tuple[np.ndarray, np.ndarray]:
    """σ(z) and σ′(z) = σ(z)σ(−z) from t = e^{−|z|}: σ(±|z|) = 1/(1 + t) and t/(1 + t); no overflow.

    ``out``: three arrays shaped like z for σ, σ′ and a temporary (else new ones).
    """
    a, t, r = (None, None, None) if out is None else out
    t = np.abs(z, out=t)
    np.negative(t, out=t)
    np.exp(t, out=t)
    r = np.add(t, 1.0, out=r)
    np.reciprocal(r, out=r)  # σ(|z|)
    t *= r  # σ(−|z|)
    if a is None:
        a = np.where(z >= 0, r, t)
    else:
        np.copyto(a, t)
        np.copyto(a, r, where=z >= 0)
    t *= r  # σ′ = σ(|z|)σ(−|z|)
    return a, t


def _tanh_and_prime(z: np.ndarray, out=None) -> tuple[np.ndarray, np.ndarray]:
    """tanh z and sech² z = 4t/(1 + t)² with t = e^{−2|z|} (1 − tanh² would cancel for large |z|).

    ``out``: three arrays shaped like z for tanh, sech² and a temporary (else new ones).
    """
    a, t, r = (None, None, None) if out is None else out
    t = np.abs(z, out=t)
    t *= -2.0
    np.exp(t, out=t)
    r = np.add(t, 1.0, out=r)
    np.reciprocal(r, out=r)
    t *= r
    t *= r
    t *= 4.0
    return np.tanh(z, out=a), t


_FUSED = {"sigmoid": _sigmoid_and_prime, "tanh": _tanh_and_prime}


def _output_delta(network: Network, a_out, z_out, prime_out, y) -> np.ndarray:
    residual = output_residual(network, a_out, y)
    if network.cost in ("cross-entropy", "log-loss"):
        return residual
    if prime_out is None:
        return output_error(network, a_out, z_out, y)
    residual *= prime_out
    return residual


@dataclass(frozen=True, eq=False)
class ScaledPass:
    """A pass whose δˡ rows are kept as mantissa · 2^exponent, so depth cannot overflow or underflow them.

    ``mantissas[i]`` has rows scaled by powers of two (exact) to a largest entry in
    [½, 1) (or all zero); ``exponents[i]`` holds one integer per row, and
    δ^(i+2) = mantissas[i] · 2^exponents[i][:, None] wherever that is a float64.
    """

    activations: tuple[np.ndarray, ...]
    primes: tuple[np.ndarray | None, ...]
    mantissas: tuple[np.ndarray, ...]
    exponents: tuple[np.ndarray, ...]


def scaled_backprop(network: Network, x, y) -> ScaledPass:
    """The backward pass of :func:`backprop` with each δˡ row rescaled by a power of two after every layer.

    Scaling by 2ᵏ is exact, so wherever :func:`backprop` neither overflows nor
    underflows its δˡ equal mantissa · 2^exponent bit for bit; at depths where it
    would, these stay representable.

    >>> import numpy as np
    >>> deep = Network([np.full((1, 1), 4.0)] * 2000, [np.zeros(1)] * 2000, "tanh", "tanh", "quadratic")
    >>> sp = scaled_backprop(deep, np.zeros((1, 1)), np.ones((1, 1)))
    >>> int(sp.exponents[0][0]), float(sp.mantissas[0][0, 0])   # δ² = −4¹⁹⁹⁹ = −0.5 · 2³⁹⁹⁹
    (3999, -0.5)
    """
    x, y = prepare_batch(network, x, y)
    return _scaled_backprop_checked(network, x, y)


def _scaled_backprop_checked(network: Network, x: np.ndarray, y: np.ndarray, *, x_offset: int | None = None,
                             buffers: ChunkBuffers | None = None,
                             first_product: np.ndarray | None = None) -> ScaledPass:
    """:func:`scaled_backprop` of checked inputs; with ``x_offset``, x's finiteness is checked on the way;
    with ``buffers``, the arrays of the pass are written into them (valid until the next chunk);
    with ``first_product``, x(w²)ᵀ formed elsewhere is used (and overwritten by z²)."""
    activations, zs, primes = _forward_with_primes(network, x, x_offset, buffers, first_product)
    mantissa, exponent = _rescale(_output_delta(network, activations[-1], zs[-1], primes[-1], y))
    mantissas, exponents = [mantissa], [exponent]
    k = x.shape[0]
    weights, sizes = network.weights, network.sizes
    for layer in range(network.depth - 1, 1, -1):
        out = None if buffers is None else buffers.take("delta", layer, k, sizes[layer - 1])
        delta = np.matmul(mantissa, weights[layer - 1], out=out)  # wˡ⁺¹
        delta *= primes[layer - 2]
        mantissa, shift = _rescale(delta)
        exponent = exponent + shift
        mantissas.append(mantissa)
        exponents.append(exponent)
    mantissas.reverse()
    exponents.reverse()
    return ScaledPass(activations, tuple(primes), tuple(mantissas), tuple(exponents))


def _rescale(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """rows = mantissa · 2^e per row (in place), with the row's largest |entry| of mantissa in [½, 1)."""
    largest = np.maximum(rows.max(axis=1), -rows.min(axis=1))
    _, e = np.frexp(largest)
    np.ldexp(rows, -e[:, None], out=rows)
    return rows, e.astype(np.int64)


def iter_backprop(network: Network, x, y, *, chunk_size: int | None = None) -> Iterator[tuple[slice, Pass]]:
    """Yield ``(rows, Pass)`` for consecutive chunks of the batch, so memory stays bounded."""
    x, y = prepare_batch(network, x, y)
    size = default_chunk_size(network) if chunk_size is None else check_int("chunk_size", chunk_size, min_value=1)
    for start in range(0, x.shape[0], size):
        rows = slice(start, min(start + size, x.shape[0]))
        yield rows, _backprop_checked(network, x[rows], y[rows])


def mean_gradients(network: Network, x, y, *, chunk_size: int | None = None
                   ) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """∂C/∂bˡ and ∂C/∂wˡ of the mean cost over the batch, for l = 2, …, L."""
    x, y = prepare_batch(network, x, y)
    n = x.shape[0]
    grad_b = [np.zeros_like(b) for b in network.biases]
    grad_w = [np.zeros_like(w) for w in network.weights]
    for _, p in iter_backprop(network, x, y, chunk_size=chunk_size):
        for i, delta in enumerate(p.deltas):
            grad_b[i] += delta.sum(axis=0)
            grad_w[i] += delta.T @ p.activations[i]
    return [g / n for g in grad_b], [g / n for g in grad_w]


def cost_per_example(network: Network, x, y) -> np.ndarray:
    """The cost of each example, computed stably from zᴸ for cross-entropy and log-loss."""
    x, y = prepare_batch(network, x, y)
    activations, zs = forward(network, x)
    a, z = activations[-1], zs[-1]
    if network.cost == "quadratic":
        return 0.5 * np.sum((a - y) ** 2, axis=1)
    if network.cost == "cross-entropy":
        # ln a = log σ(z), ln(1 − a) = log σ(−z): finite for every finite z.
        return -np.sum(y * log_expit(z) + (1 - y) * log_expit(-z), axis=1)
    return -np.sum(y * (z - logsumexp(z, axis=1, keepdims=True)), axis=1)
