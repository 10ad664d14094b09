"""The induced-norm bounds on ‖δˡ‖ = ‖∂C/∂bˡ‖ and ‖∂C/∂wˡ‖, per layer and per example, in log10.

Notation of the proofs (``proofs/induced-norm-bounds.md``): layer 1 is the input
layer, L the output layer, l = 2, …, L the weighted layers. By Nielsen's (124),
δˡ = Σ′(zˡ)(wˡ⁺¹)ᵀ ⋯ Σ′(zᴸ⁻¹)(wᴸ)ᵀ δᴸ, and δᴸ = J(aᴸ − y) where J is Σ′(zᴸ)
(quadratic cost, elementwise output), the softmax Jacobian diag(a) − aaᵀ
(quadratic cost, softmax output) or the identity (cross-entropy with sigmoid,
log-loss with softmax). Taking induced p-norms:

(a) ‖δˡ‖ ≤ γ_h^(L−l) · c_out · ∏_{r=l+1}^{L} ‖(wʳ)ᵀ‖ · ‖aᴸ − y‖, with γ_h = sup|σ′| of the
    hidden activation and c_out = sup|σ′| of the output activation, ½ (softmax Jacobian),
    or 1; the exponent k counts the factors bounded by γ_h: L − l, or L − l + 1 when the
    output activation is the hidden one (c_out = γ_h), the seed's (**); otherwise the
    report names c_out as a factor of its own (``output_factor_source``);
(b) the same with max_j |σ′(zʳ_j)| of the example in place of each γ;
(c) ‖∂C/∂wˡ‖ = ‖δˡ(aˡ⁻¹)ᵀ‖ ≤ ‖δˡ‖·‖(aˡ⁻¹)ᵀ‖ = ‖δˡ‖·‖aˡ⁻¹‖_q, an equality (rank one,
    ``proofs/rank-one-equality.md``).

For p ≠ 2, ‖(wʳ)ᵀ‖_p = ‖wʳ‖_q with q the dual exponent (:mod:`gradmath.norms`,
``proofs/dual-norm-correction.md``); every weight factor is a certified upper bound
(:func:`gradmath.norms.induced_norm_upper`; for p = 2 :func:`gradmath.norms.spectral_norm_upper`),
and a measured norm counts as a violation only beyond the rounding allowance, which grows
with the widths (:func:`log10_rounding_allowance`).
Products over depth are sums of log10 values, so a 10,000-layer network gives
finite bounds. Checked by ``tests/test_bounds.py``.

The pieces: :mod:`~gradmath.bounds.terms` (γ, the exponents, the weight and data factors, the
tolerances, one layer's comparison), :mod:`~gradmath.bounds.rank_one` (bound (c)),
:mod:`~gradmath.bounds.report` (the result objects) and :mod:`~gradmath.bounds.verify` (the
chunked, threaded driver, :func:`verify_network`).

Examples
--------
>>> import numpy as np
>>> from gradmath.network import Network
>>> net = Network.random((4, 5, 5, 3), seed=0, cost="quadratic")
>>> x, y = np.random.default_rng(0).random((20, 4)), np.zeros((20, 3))
>>> report = verify_network(net, x, y, norm="inf")
>>> report.violations, [layer.l for layer in report.layers], [layer.exponent for layer in report.layers]
(0, [2, 3, 4], [3, 2, 1])
>>> all(layer.tightness_gamma >= layer.tightness_data >= 1 for layer in report.layers)
True

A network far too deep for float64 products still gets finite log10 bounds:

>>> deep = Network([np.full((1, 1), 0.5)] * 10_000, [np.zeros(1)] * 10_000, cost="cross-entropy")
>>> r = verify_network(deep, np.ones((1, 1)), np.zeros((1, 1)))
>>> first = r.layers[0]
>>> round(first.log10_bound_gamma), round(first.log10_delta_max), first.delta_max, r.violations
(-9030, -9118, 0.0, 0)
>>> round(first.log10_bound_gamma - first.log10_delta_max)   # measured in log space too (mantissa · 2^exponent)
88
"""

from __future__ import annotations

from gradmath.bounds.report import NOTATION, LayerBound, VerificationReport
from gradmath.bounds.terms import (
    ROUNDING_SLACK_PER_LAYER,
    SOFTMAX_JACOBIAN_BOUND,
    exponent,
    log10_rounding_allowance,
    log10_weight_factors,
    output_factor,
    output_factor_source,
    softmax_jacobian_factor,
    sup_abs_prime,
)
from gradmath.bounds.verify import verify_network

__all__ = [
    "verify_network",
    "VerificationReport",
    "LayerBound",
    "sup_abs_prime",
    "exponent",
    "output_factor",
    "output_factor_source",
    "log10_weight_factors",
    "log10_rounding_allowance",
    "ROUNDING_SLACK_PER_LAYER",
    "SOFTMAX_JACOBIAN_BOUND",
    "NOTATION",
    "softmax_jacobian_factor",
]
