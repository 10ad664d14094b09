"""The point (activation, σ_w², σ_b²) checked once at the boundary and carried as one small object.

σ_w² and σ_b² may be given as numbers or as decimal strings; a string is read as the
decimal it spells (so ``"0.05"`` means 1/20 to every digit asked for, not the float64
nearest it), and never evaluated.

>>> p = parse_parameters("tanh", "1.5", 0.05)
>>> p.sigma_w2, p.sigma_b2_text
(1.5, '0.05')
>>> parse_parameters("tanh", 0.0, 0.05)
Traceback (most recent call last):
...
gradmath.errors.InvalidParameterError: sigma_w2=0 must be > 0
>>> parse_parameters("tanh", "2**10", 0.05)
Traceback (most recent call last):
...
gradmath.errors.InvalidParameterError: sigma_w2='2**10' is not a decimal number such as 1.5 or 2e-3
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from gradmath.errors import InvalidParameterError
from gradmath.validation import check_real

__all__ = ["MeanFieldParameters", "parse_parameters", "parse_decimal", "SIGMA_MAX"]

#: Largest σ_w² and σ_b² accepted (beyond it the fixed point leaves the quadrature's tested range).
SIGMA_MAX = 1e4
_DECIMAL = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d{1,4})?", re.ASCII)  # ASCII: float() takes "５"
_MAX_CHARS = 100


@dataclass(frozen=True)
class MeanFieldParameters:
    activation: object     #: a :class:`gradmath.activations.Activation`
    sigma_w2: float
    sigma_b2: float
    sigma_w2_text: str     #: the decimal the value stands for (for mpmath at any precision)
    sigma_b2_text: str


def parse_decimal(name: str, value) -> tuple[float, str]:
    """``(float, decimal text)`` from a number or a decimal string; anything else is refused."""
    if isinstance(value, str):
        text = value.strip()
        if len(text) > _MAX_CHARS or not _DECIMAL.fullmatch(text):
            shown = value if len(value) <= 40 else value[:40] + "..."
            raise InvalidParameterError(f"{name}={shown!r} is not a decimal number such as 1.5 or 2e-3")
        number = float(text)
        if number == 0:   # 0, or a nonzero decimal below the floats, which finite_float refuses
            from gradmath.numbers import finite_float

            number = finite_float(text, name=name)
        return number, text
    number = check_real(name, value)
    return number, repr(number)


def parse_parameters(activation, sigma_w2, sigma_b2) -> MeanFieldParameters:
    """Resolve the activation (a name, an expression string or an Activation) and check σ_w² > 0, σ_b² ≥ 0."""
    from gradmath.activations import Activation, resolve_activation

    act = activation if isinstance(activation, Activation) else resolve_activation(activation)
    sw2, sw2_text = parse_decimal("sigma_w2", sigma_w2)
    sb2, sb2_text = parse_decimal("sigma_b2", sigma_b2)
    check_real("sigma_w2", sw2, min_value=0.0, allow_equal=False)
    check_real("sigma_b2", sb2, min_value=0.0)
    for name, value in (("sigma_w2", sw2), ("sigma_b2", sb2)):
        check_real(name, value, max_value=SIGMA_MAX)
    return MeanFieldParameters(act, sw2, sb2, sw2_text, sb2_text)
