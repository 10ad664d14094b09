"""The point (activation, σ_w², σ_b²) checked once at the boundary and carried as one small object."""

from __future__ import annotations

from dataclasses import dataclass

from gradmath.validation import check_real

__all__ = ["MeanFieldParameters", "parse_parameters", "SIGMA_MAX"]

#: Largest σ_w² and σ_b² accepted (beyond it the fixed point leaves the quadrature's tested range).
SIGMA_MAX = 1e4


@dataclass(frozen=True)
class MeanFieldParameters:
    activation: object     #: a :class:`gradmath.activations.Activation`
    sigma_w2: float
    sigma_b2: float


def parse_parameters(activation, sigma_w2, sigma_b2) -> MeanFieldParameters:
    """Resolve the activation (a name, an expression string or an Activation) and check σ_w² > 0, σ_b² ≥ 0.

    >>> parse_parameters("tanh", 1.5, 0.05).sigma_w2
    1.5
    >>> parse_parameters("tanh", 0.0, 0.05)
    Traceback (most recent call last):
    ...
    gradmath.errors.InvalidParameterError: sigma_w2=0 must be > 0
    """
    from gradmath.activations import Activation, resolve_activation

    act = activation if isinstance(activation, Activation) else resolve_activation(activation)
    sw2 = check_real("sigma_w2", sigma_w2, min_value=0.0, allow_equal=False)
    sb2 = check_real("sigma_b2", sigma_b2, min_value=0.0)
    for name, value in (("sigma_w2", sw2), ("sigma_b2", sb2)):
        check_real(name, value, max_value=SIGMA_MAX)
    return MeanFieldParameters(act, sw2, sb2)
