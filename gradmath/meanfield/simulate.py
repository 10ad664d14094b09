"""Measure the mean-field quantities on real random networks, layer by layer.

A network with weights wˡ ~ N(0, σ_w²/n_{l−1}) and biases bˡ ~ N(0, σ_b²) is drawn with
NumPy's ``default_rng(seed)``; two inputs of squared length q⁰ per unit and correlation c⁰
are propagated forward, and a backward signal δᴸ ~ N(0, 1) per unit is propagated back
through the same Σ′ and wᵀ as backpropagation does (δˡ = Σ′(zˡ)(wˡ⁺¹)ᵀδˡ⁺¹, Nielsen (124)).
The result holds, per layer: qˡ = |zˡ|²/n_l for each input, the correlation cˡ of the two
pre-activation vectors, and ln‖δˡ‖ (natural log, so products over depth are sums).

The theory says (proofs/meanfield.md) qˡ → 𝓛ˡ(q⁰), cˡ → 𝓒ˡ(c⁰) and
ln‖δˡ‖ − ln‖δˡ⁺¹‖ ≈ ½ ln χ₁ (whatever the widths), with a finite-width spread of
order Σ 1/n_r in ln‖δ‖² (Hanin 2018). tests/test_meanfield_networks.py compares them.

>>> m = measure_network("tanh", sigma_w2=1.2, sigma_b2=0.05, widths=[200] * 5, seed=0)
>>> m.q.shape, m.log_delta.shape
((5, 2), (5,))
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gradmath.errors import InvalidParameterError
from gradmath.meanfield.parameters import parse_parameters
from gradmath.validation import check_int, check_real

__all__ = ["NetworkMeasurement", "measure_network", "MAX_UNITS"]

#: Largest total number of weights drawn (Σ n_{l−1} n_l): 2·10⁸ float64 = 1.6 GB is the cap.
MAX_UNITS = 200_000_000


@dataclass(frozen=True)
class NetworkMeasurement:
    """Per-layer measurements of one random network.

    Row k of each array is layer l = k + 2 in the proofs' numbering (the input is layer 1, so row 0 is the
    first weighted layer and the last row is the output layer L).
    """

    activation: str
    sigma_w2: float
    sigma_b2: float
    widths: tuple[int, ...]
    seed: int
    q: np.ndarray           #: (depth, 2): qˡ of each of the two inputs
    c: np.ndarray           #: (depth,): correlation of the two pre-activation vectors
    log_delta: np.ndarray   #: (depth,): ln‖δˡ‖ of the first input's backward signal


def measure_network(activation, *, sigma_w2: float, sigma_b2: float, widths, seed: int = 0,
                    q0: float = 1.0, c0: float = 0.5, input_width: int | None = None) -> NetworkMeasurement:
    """Draw one network and measure qˡ, cˡ and ln‖δˡ‖ at every layer."""
    p = parse_parameters(activation, sigma_w2, sigma_b2)
    widths = tuple(check_int("width", int(n) if isinstance(n, (int, np.integer)) else n, min_value=1,
                             max_value=100_000) for n in widths)
    if not widths:
        raise InvalidParameterError("widths must name at least one layer")
    seed = check_int("seed", seed, min_value=0)
    q0 = check_real("q0", q0, min_value=0.0, allow_equal=False)
    c0 = check_real("c0", c0, min_value=-1.0, max_value=1.0)
    n0 = widths[0] if input_width is None else check_int("input_width", input_width, min_value=1, max_value=100_000)
    sizes = (n0,) + widths
    total = sum(a * b for a, b in zip(sizes, sizes[1:]))
    if total > MAX_UNITS:
        raise InvalidParameterError(f"a network of {total} weights is larger than the limit of {MAX_UNITS}")
    rng = np.random.default_rng(seed)
    act = p.activation
    # Two inputs with squared length q0 per unit and correlation c0.
    u = rng.standard_normal((n0, 2))
    u[:, 1] = c0 * u[:, 0] + np.sqrt(1 - c0 * c0) * u[:, 1]
    x = u * np.sqrt(q0 / np.mean(u * u, axis=0))
    weights, primes, q, c = [], [], [], []
    a = x
    for n_in, n_out in zip(sizes, sizes[1:]):
        w = rng.standard_normal((n_out, n_in)) * np.sqrt(p.sigma_w2 / n_in)
        b = rng.standard_normal((n_out, 1)) * np.sqrt(p.sigma_b2)
        z = w @ a + b
        q.append(np.mean(z * z, axis=0))
        # the correlation as the theory defines it, q₁₂/√(q₁₁q₂₂), not centred
        c.append(float(np.mean(z[:, 0] * z[:, 1]) / np.sqrt(q[-1][0] * q[-1][1])))
        weights.append(w)
        primes.append(act.prime(z[:, 0]))
        a = act.sigma(z)
    delta = rng.standard_normal(sizes[-1]) * primes[-1]
    log_delta = np.zeros(len(widths))
    log_norm = float(np.log(np.linalg.norm(delta)))
    log_delta[-1] = log_norm
    delta = delta / np.linalg.norm(delta)
    for layer in range(len(widths) - 2, -1, -1):
        # δˡ = Σ′(zˡ)(wˡ⁺¹)ᵀδˡ⁺¹, kept at unit length; its logarithm accumulates (no underflow at any depth)
        delta = primes[layer] * (weights[layer + 1].T @ delta)
        norm = float(np.linalg.norm(delta))
        log_norm += float(np.log(norm)) if norm > 0 else -np.inf
        log_delta[layer] = log_norm
        if norm == 0:
            log_delta[:layer] = -np.inf
            break
        delta = delta / norm
    return NetworkMeasurement(act.name, p.sigma_w2, p.sigma_b2, widths, seed, np.array(q), np.array(c),
                              np.array(log_delta))
