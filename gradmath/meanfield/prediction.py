"""The typical ‖δˡ‖ of a network at initialisation, predicted by mean-field theory, beside the measured one.

For a network whose weights wˡ look like i.i.d. draws of variance σ_w²⁽ˡ⁾/n_{l−1} and biases of variance
σ_b²⁽ˡ⁾ (estimated from the network itself: σ_w²⁽ˡ⁾ = n_{l−1}·mean((wˡ)²), σ_b²⁽ˡ⁾ = mean((bˡ)²), or
given), each example's pre-activation variances follow the length map from its own input,

    q²(x) = σ_w²⁽²⁾‖x‖²/n₁ + σ_b²⁽²⁾,   qˡ⁺¹(x) = σ_w²⁽ˡ⁺¹⁾ E[φ(√qˡ(x) z)²] + σ_b²⁽ˡ⁺¹⁾,

and going back each hidden layer multiplies E‖δ‖² by χ₁ˡ(x) = σ_w²⁽ˡ⁺¹⁾ E[φ′(√qˡ(x) z)²]
(proofs/meanfield.md, Theorem 2). Anchored at the measured ‖δᴸ(x)‖ of the output layer, the prediction for
hidden layer l is the root mean square over examples of ‖δᴸ(x)‖ ∏_{r=l}^{L−1} √χ₁ʳ(x). It is the
Euclidean norm's typical value for a random network of infinite width: the worst-case bounds of
:mod:`gradmath.bounds` hold for every network; this says what a random one does. For a trained network
the weights are no longer i.i.d. and the prediction is only a reference.

Layers use the proofs' numbering: input layer 1, hidden layers 2 … L − 1, output L.

>>> from gradmath.data import load_dataset
>>> from gradmath.network import Network
>>> d = load_dataset("digits", limit=500)
>>> r = predict_delta_norms(Network.random((64, 30, 30, 10), seed=0, cost="cross-entropy"), d.x, d.y)
>>> r.layers
(2, 3)
>>> [f"{m:.2g}" for m in r.predicted]
['0.088', '0.41']
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gradmath.errors import InvalidParameterError
from gradmath.meanfield.gaussian import GaussianRule
from gradmath.meanfield.kernels import meanfield_kernels

__all__ = ["DeltaPrediction", "predict_delta_norms"]

_RULE = GaussianRule(nodes=8, levels=16)


@dataclass(frozen=True)
class DeltaPrediction:
    """Measured and predicted RMS over examples of ‖δˡ‖₂ for the hidden layers ``layers``."""

    layers: tuple[int, ...]
    sigma_w2: tuple[float, ...]    #: σ_w²⁽ˡ⁾ of layers 2 … L (estimated from the weights, or given)
    sigma_b2: tuple[float, ...]
    measured: np.ndarray
    predicted: np.ndarray
    output_rms: float              #: the measured RMS ‖δᴸ‖ the prediction starts from

    @property
    def ratio(self) -> np.ndarray:
        """predicted / measured per hidden layer."""
        return self.predicted / self.measured

    def to_json(self) -> dict:
        return {"layers": list(self.layers), "sigma_w2": list(self.sigma_w2), "sigma_b2": list(self.sigma_b2),
                "measured_rms": self.measured.tolist(), "predicted_rms": self.predicted.tolist(),
                "output_rms": self.output_rms, "norm": "2",
                "note": "mean-field prediction for i.i.d. weights of the variances shown (proofs/meanfield.md)"}


def predict_delta_norms(network, x, y, *, sigma_w2=None, sigma_b2=None, chunk_size: int | None = None
                        ) -> DeltaPrediction:
    """Measured and mean-field RMS ‖δˡ‖₂ of every hidden layer of ``network`` on ``(x, y)``.

    ``sigma_w2``/``sigma_b2``: one number for every layer, or ``None`` to estimate each layer's from its
    weights and biases.
    """
    from gradmath.backprop import iter_backprop
    from gradmath.batch import prepare_batch

    depth = network.depth
    if depth < 3:
        raise InvalidParameterError("the network has no hidden layer to predict")
    sw2 = tuple(_variance("sigma_w2", sigma_w2, network.weight(l).shape[1] * float(np.mean(network.weight(l) ** 2)))
                for l in range(2, depth + 1))
    sb2 = tuple(_variance("sigma_b2", sigma_b2, float(np.mean(network.bias(l) ** 2))) for l in range(2, depth + 1))
    x, y = prepare_batch(network, x, y)
    hidden = meanfield_kernels(network.activation(2))
    # measured: Σ over examples of ‖δˡ‖² for l = 2 … L
    sums = np.zeros(depth - 1)
    out_sq = np.empty(x.shape[0])
    for rows, p in iter_backprop(network, x, y, chunk_size=chunk_size):
        for i, delta in enumerate(p.deltas):
            sums[i] += float(np.einsum("ij,ij->", delta, delta))
        out_sq[rows] = np.einsum("ij,ij->i", p.deltas[-1], p.deltas[-1])
    measured = np.sqrt(sums[:-1] / x.shape[0])
    # predicted: the length map per example, then χ₁ back from the output
    q = [sw2[0] * np.einsum("ij,ij->i", x, x) / x.shape[1] + sb2[0]]           # layer 2
    for i in range(1, depth - 2):
        q.append(sw2[i] * _RULE.expect(lambda t: hidden.evaluate(t) ** 2, q[-1], points=hidden.edges)[0] + sb2[i])
    log_factor = np.zeros(x.shape[0])                                          # ln ∏ χ₁ from l to L − 1
    predicted = np.empty(depth - 2)
    for i in range(depth - 3, -1, -1):                                         # hidden layers L − 1 … 2
        chi = sw2[i + 1] * _RULE.expect(lambda t: hidden.prime(t) ** 2, q[i], points=hidden.edges)[0]
        with np.errstate(divide="ignore"):
            log_factor += np.log(chi)
        predicted[i] = np.sqrt(np.mean(out_sq * np.exp(log_factor)))
    return DeltaPrediction(tuple(range(2, depth)), sw2, sb2, measured, predicted,
                           float(np.sqrt(out_sq.mean())))


def _variance(name: str, given, estimate: float) -> float:
    if given is None:
        return estimate
    from gradmath.validation import check_real

    return check_real(name, given, min_value=0.0)
