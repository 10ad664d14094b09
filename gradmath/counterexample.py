"""A network on which bound (**) fails when ‖wʳ‖ is written for ‖(wʳ)ᵀ‖ (p = 1 or ∞).

The seed's step ‖(wʳ)ᵀ‖ = ‖wʳ‖ holds for the spectral norm only. For p = ∞,
‖Aᵀ‖_∞ = ‖A‖_1 (largest column sum) while ‖A‖_∞ is the largest row sum; a
column of m equal weights has row sums c and column sum m·c. Built here
(``proofs/dual-norm-correction.md``), with sizes (1, 1, m) for p = ∞ and
(1, m, 1) for p = 1, input 0 so that z² = 0 and σ′(z²) = γ = ¼, a sigmoid output
and the cross-entropy cost (δᴸ = aᴸ − y), and targets 0:

    δ² = σ′(0)·(w³)ᵀδ³ = ¼·m·c·a³ (p = ∞),

so the measured ‖δ²‖ is m times the uncorrected bound ¼·‖w³‖·‖a³ − y‖ and equals
the corrected one ¼·‖(w³)ᵀ‖·‖a³ − y‖. The measured value comes from
:func:`gradmath.backprop.backprop`, the corrected bound from
:func:`gradmath.bounds.verify_network`.

Examples
--------
>>> result = build_counterexample("inf", width=5)
>>> round(result.margin, 12), result.corrected_holds
(5.0, True)
>>> build_counterexample("2")
Traceback (most recent call last):
...
gradmath.errors.InvalidParameterError: norm='2' has no counterexample: ‖Aᵀ‖₂ = ‖A‖₂ (the singular values of A and Aᵀ agree); use --norm 1 or --norm inf
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from gradmath.backprop import backprop, output_residual, prepare_batch
from gradmath.bounds import output_factor, sup_abs_prime, verify_network
from gradmath.errors import InvalidParameterError
from gradmath.network import Network
from gradmath.norms import check_norm, induced_norm, log10_vector_norms
from gradmath.numbers import exact_rational
from gradmath.validation import check_int

__all__ = ["Counterexample", "build_counterexample", "log10_uncorrected_bound", "WEIGHT_RANGE"]

#: The weights c that :func:`build_counterexample` takes: [1e-100, 1e100], so that every quantity it
#: reports (up to ¼·m·c with m ≤ 10,000) is a finite float64.
WEIGHT_RANGE = (Fraction(1, 10**100), Fraction(10**100))


@dataclass(frozen=True, eq=False)
class Counterexample:
    """A network, one example, and bound (**) for δ at ``layer`` written both ways.

    ``margin`` = measured / uncorrected bound (> 1: the uncorrected bound fails);
    ``corrected_holds`` is :func:`gradmath.bounds.verify_network` finding no violation.
    """

    norm: str
    network: Network
    x: np.ndarray
    y: np.ndarray
    layer: int
    measured: float
    uncorrected_bound: float
    corrected_bound: float
    corrected_holds: bool

    @property
    def margin(self) -> float:
        return self.measured / self.uncorrected_bound

    def to_json(self) -> dict:
        return {
            "notation": "layers use the proofs' notation: input layer 1, output layer L",
            "norm": self.norm,
            "network": self.network.to_json(),
            "weights": {f"w{l}": self.network.weight(l).tolist() for l in range(2, self.network.depth + 1)},
            "biases": {f"b{l}": self.network.bias(l).tolist() for l in range(2, self.network.depth + 1)},
            "x": self.x.tolist(),
            "y": self.y.tolist(),
            "layer": self.layer,
            "measured": self.measured,
            "uncorrected_bound": self.uncorrected_bound,
            "corrected_bound": self.corrected_bound,
            "margin": self.margin,
            "corrected_holds": self.corrected_holds,
        }

    def __repr__(self) -> str:
        return (f"Counterexample(norm={self.norm!r}, sizes={self.network.sizes}, layer={self.layer}, "
                f"margin={self.margin:.6g}, corrected_holds={self.corrected_holds})")


def log10_uncorrected_bound(network: Network, x, y, *, layer: int, norm="inf") -> np.ndarray:
    """Per example, log10 of bound (**) with ‖wʳ‖_p written where ‖(wʳ)ᵀ‖_p belongs.

    γ_h^(L−l) · c_out · ∏_{r=l+1}^{L} ‖wʳ‖_p · ‖aᴸ − y‖_p, γ_h and the output factor as in
    :func:`gradmath.bounds.verify_network`; only the weight factors differ.
    """
    norm = check_norm(norm)
    x, y = prepare_batch(network, x, y)
    p = backprop(network, x, y)
    L = network.depth
    log_res = log10_vector_norms(output_residual(network, p.activations[-1], y), norm)
    hidden = L - layer  # the hidden Σ′ factors, each bounded by γ_h; the output layer's factor is c_out
    log_gamma = hidden * np.log10(sup_abs_prime(network.hidden_activation)) + np.log10(output_factor(network))
    log_w = sum(np.log10(induced_norm(network.weight(r), norm)) for r in range(layer + 1, L + 1))
    return log_gamma + log_w + log_res


def build_counterexample(norm="inf", *, width: int = 4, weight: float = 1.0) -> Counterexample:
    """Build the network above and measure how far the uncorrected bound fails.

    Parameters
    ----------
    norm : {"inf", "1"}
    width : int
        m ≥ 2, the number of equal weights in w³; the margin is m.
    weight : float, int or numeric string
        c > 0, their value, in :data:`WEIGHT_RANGE` (a string such as ``"0.5"`` is read by
        :func:`gradmath.numbers.exact_rational`, never evaluated).
    """
    norm = check_norm(norm)
    if norm == "2":
        raise InvalidParameterError(
            "norm='2' has no counterexample: ‖Aᵀ‖₂ = ‖A‖₂ (the singular values of A and Aᵀ agree); "
            "use --norm 1 or --norm inf")
    m = check_int("width", width, min_value=2, max_value=10_000)
    exact = exact_rational(weight, name="weight")
    shown = f"{weight:g}" if isinstance(weight, float) else str(weight)
    if exact <= 0:
        raise InvalidParameterError(f"weight={shown} must be > 0")
    if not WEIGHT_RANGE[0] <= exact <= WEIGHT_RANGE[1]:
        raise InvalidParameterError(f"weight={shown} must be in [1e-100, 1e100] (the bounds and δ must stay "
                                    "finite in float64)")
    c = float(exact)
    if norm == "inf":  # one unit feeding m outputs: w³ is a column
        sizes, w3 = (1, 1, m), np.full((m, 1), c)
    else:  # m units feeding one output: w³ is a row
        sizes, w3 = (1, m, 1), np.full((1, m), c)
    net = Network((np.ones((sizes[1], 1)), w3), (np.zeros(sizes[1]), np.zeros(sizes[2])),
                  "sigmoid", "sigmoid", "cross-entropy")
    x, y = np.zeros((1, 1)), np.zeros((1, sizes[2]))
    layer = 2
    measured = float(10.0 ** log10_vector_norms(backprop(net, x, y).delta(layer), norm)[0])
    uncorrected = float(10.0 ** log10_uncorrected_bound(net, x, y, layer=layer, norm=norm)[0])
    report = verify_network(net, x, y, norm=norm)
    corrected = float(10.0 ** report.layers[0].log10_bound_gamma)
    return Counterexample(norm=norm, network=net, x=x, y=y, layer=layer, measured=measured,
                          uncorrected_bound=uncorrected, corrected_bound=corrected,
                          corrected_holds=report.violations == 0)
