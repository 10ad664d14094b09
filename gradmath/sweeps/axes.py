"""One axis of a sweep, parsed once from its command-line text: a value, a comma list, or START:STOP:COUNT.

Numeric axes (σ_w², σ_b²) take decimal numbers only (through :func:`gradmath.meanfield.parameters.parse_decimal`,
never ``eval``); ``START:STOP:COUNT`` is ``numpy.linspace(START, STOP, COUNT)``. Integer axes (depth, width)
take integers, and an activation axis takes names or expressions (checked by
:func:`gradmath.activations.resolve_activation`). Every axis has at most :data:`MAX_AXIS_VALUES` values
and no value twice.

>>> parse_axis("sigma_w2", "1:4:4").values
(1.0, 2.0, 3.0, 4.0)
>>> parse_axis("depth", "10,20").values
(10, 20)
>>> parse_axis("sigma_b2", "1:4:0")
Traceback (most recent call last):
...
gradmath.errors.InvalidParameterError: sigma_b2='1:4:0': COUNT=0 must be an integer in [1, 1000]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gradmath.errors import InvalidParameterError

__all__ = ["Axis", "parse_axis", "AXES", "MAX_AXIS_VALUES", "LIMITS"]

#: Most values on one axis.
MAX_AXIS_VALUES = 1000
#: Longest axis text accepted.
_MAX_TEXT = 4000

#: The grid's axes, in the order of the store's dimensions.
AXES = ("activation", "sigma_w2", "sigma_b2", "depth", "width", "seed")

#: (smallest, largest, smallest allowed) per numeric axis: σ_w² > 0, σ_b² ≥ 0, depth and width ≥ 1.
LIMITS = {
    "sigma_w2": (0.0, 1e6, False),
    "sigma_b2": (0.0, 1e6, True),
    "depth": (1, 1000, True),
    "width": (1, 10_000, True),
    "seed": (0, 2**63 - 1, True),
}


@dataclass(frozen=True)
class Axis:
    """An axis's name and its values (floats, ints or activation names), in the order given."""

    name: str
    values: tuple

    def __len__(self) -> int:
        return len(self.values)

    def to_json(self) -> dict:
        return {"name": self.name, "values": list(self.values)}


def parse_axis(name: str, text) -> Axis:
    """Parse ``text`` (a str, or already a number or a sequence of values) into the axis ``name``."""
    if name not in AXES:
        raise InvalidParameterError(f"unknown axis {name!r}; the axes are {', '.join(AXES)}")
    if isinstance(text, str):
        if len(text) > _MAX_TEXT:
            raise InvalidParameterError(f"{name}: an axis of {len(text)} characters is longer than {_MAX_TEXT}")
        items = _items(name, text)
    elif isinstance(text, (list, tuple)):
        items = [str(v) if name == "activation" else v for v in text]
    else:
        items = [text]
    if not items:
        raise InvalidParameterError(f"{name}: the axis is empty; give a value, a comma list or START:STOP:COUNT")
    if len(items) > MAX_AXIS_VALUES:
        raise InvalidParameterError(f"{name}: {len(items)} values is more than {MAX_AXIS_VALUES}")
    values = tuple(_value(name, v) for v in items)
    if len(set(values)) != len(values):
        raise InvalidParameterError(f"{name}={text!r} repeats a value; give each value once")
    return Axis(name, values)


def _items(name: str, text: str) -> list:
    text = text.strip()
    if name != "activation" and text.count(":") == 2:
        start, stop, count = (part.strip() for part in text.split(":"))
        from gradmath.meanfield.parameters import parse_decimal

        a, _ = parse_decimal(name, start)
        b, _ = parse_decimal(name, stop)
        if not (count.isascii() and count.isdigit() and len(count) <= 6 and 1 <= int(count) <= MAX_AXIS_VALUES):
            raise InvalidParameterError(f"{name}={text!r}: COUNT={count} must be an integer in [1, "
                                        f"{MAX_AXIS_VALUES}]")
        n = int(count)
        if n > 1 and a == b:
            raise InvalidParameterError(f"{name}={text!r}: START equals STOP, so the values repeat")
        values = np.linspace(a, b, n)
        if name in ("depth", "width", "seed"):
            rounded = np.round(values)
            if np.any(rounded != values):
                raise InvalidParameterError(f"{name}={text!r} does not give whole numbers; choose COUNT so it does")
            return [int(v) for v in rounded]
        return [float(v) for v in values]
    if name == "activation":
        return [part.strip() for part in _split_activations(text) if part.strip()]
    return [part.strip() for part in text.split(",") if part.strip()]


def _split_activations(text: str) -> list[str]:
    """Split on commas outside parentheses (an expression may hold commas: ``max(x, 0)``)."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        depth += ch == "("
        depth -= ch == ")"
        if ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return parts


def _value(name: str, value):
    if name == "activation":
        from gradmath.activations import resolve_activation

        return resolve_activation(str(value)).name
    lo, hi, closed = LIMITS[name]
    if name in ("depth", "width", "seed"):
        from gradmath.validation import check_int

        if isinstance(value, str):
            if not (value.isascii() and value.isdigit() and len(value) <= 19):
                raise InvalidParameterError(f"{name}={value!r} must be a whole number such as 30")
            value = int(value)
        return check_int(name, value, min_value=lo if closed else lo + 1, max_value=hi)
    from gradmath.meanfield.parameters import parse_decimal

    number, _ = parse_decimal(name, value)
    if not (number > lo or (closed and number == lo)) or number > hi:
        bound = ">=" if closed else ">"
        raise InvalidParameterError(f"{name}={value!r} must be {bound} {lo:g} and <= {hi:g}")
    return float(number)
