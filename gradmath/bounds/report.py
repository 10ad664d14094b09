"""The verifier's result objects: one :class:`LayerBound` per weighted layer inside a :class:`VerificationReport`."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gradmath.bounds.terms import ROUNDING_SLACK_PER_LAYER

__all__ = ["LayerBound", "VerificationReport", "NOTATION", "tightness"]

#: Said in every report: the layer numbers are the proofs'.
NOTATION = "layers use the proofs' notation: input layer 1, output layer L; l = 2..L are the weighted layers"


@dataclass(frozen=True)
class LayerBound:
    """Bounds and measurements for one weighted layer ``l`` (the proofs' numbering).

    ``tightness_*`` is bound / measured, each the largest over the examples
    (``None`` where the measured norm is 0 or the ratio leaves float64). ``exponent`` is k, the
    power of γ_h in bound (a): the hidden Σ′ factors, plus the output's when the output activation
    is the hidden one; otherwise the output layer contributes the report's ``output_factor``.
    ``rounding_allowance`` is the relative excess over a bound that rounding can explain
    (:func:`gradmath.bounds.log10_rounding_allowance`); only more counts as a violation.
    """

    l: int
    exponent: int
    delta_max: float
    delta_median: float
    log10_delta_max: float
    log10_bound_gamma: float
    log10_bound_data: float
    tightness_gamma: float | None
    tightness_data: float | None
    violations: int
    rounding_allowance: float = 0.0

    def to_json(self) -> dict:
        return {k: _json_float(v) for k, v in self.__dict__.items()}


@dataclass(frozen=True)
class VerificationReport:
    """The result of :func:`gradmath.bounds.verify_network`: per-layer bounds, measurements and violations."""

    norm: str
    examples: int
    violations: int
    layers: tuple[LayerBound, ...]
    network: dict
    gamma_hidden: float
    output_factor: float
    rank_one_max_gap: float
    output_factor_source: str = ""
    rounding_slack_per_layer: float = ROUNDING_SLACK_PER_LAYER
    notation: str = NOTATION

    def to_json(self) -> dict:
        return {
            "notation": self.notation,
            "norm": self.norm,
            "examples": self.examples,
            "violations": self.violations,
            "network": self.network,
            "gamma_hidden": self.gamma_hidden,
            "output_factor": self.output_factor,
            "output_factor_source": self.output_factor_source,
            "rank_one_max_gap": _json_float(self.rank_one_max_gap),
            "rounding_slack_per_layer": self.rounding_slack_per_layer,
            "layers": [layer.to_json() for layer in self.layers],
        }

    def __repr__(self) -> str:
        return (f"VerificationReport(norm={self.norm!r}, examples={self.examples}, "
                f"layers={len(self.layers)}, violations={self.violations})")


def tightness(log_bound: float, log_measured: float) -> float | None:
    """bound / measured from their log10 values; ``None`` where either is not finite or the ratio leaves float64.

    >>> tightness(1.0, 0.0), tightness(0.0, float("-inf")), tightness(400.0, 0.0)
    (10.0, None, None)
    """
    if not (np.isfinite(log_bound) and np.isfinite(log_measured)):
        return None
    diff = log_bound - log_measured
    if diff > 300:
        return None
    return float(10.0 ** diff)


def _json_float(value):
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value
