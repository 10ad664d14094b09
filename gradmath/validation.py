"""Checks run at every public boundary, with one style of message.

Messages name the parameter, its value and the constraint, e.g.
``depth=0 must be a positive integer``. Unknown names suggest the nearest known
one with :func:`difflib.get_close_matches`.
"""

from __future__ import annotations

import difflib
import numbers
from collections.abc import Iterable

import numpy as np

from gradmath.errors import (
    InvalidParameterError,
    NonFiniteError,
    UnknownNameError,
)

__all__ = [
    "check_int",
    "check_real",
    "check_choice",
    "check_finite_array",
    "parse_sizes",
    "suggest",
]


def suggest(name: str, known: Iterable[str]) -> str:
    """Return ``" (did you mean 'x'?)"`` for the nearest known name, or ``""``."""
    close = difflib.get_close_matches(str(name), list(known), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def check_int(name: str, value, *, min_value: int | None = None, max_value: int | None = None) -> int:
    """Return ``value`` as an ``int`` after checking its type and range.

    >>> check_int("depth", 3, min_value=1)
    3
    >>> check_int("depth", 0, min_value=1)
    Traceback (most recent call last):
    ...
    gradmath.errors.InvalidParameterError: depth=0 must be an integer >= 1
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise InvalidParameterError(f"{name}={_short(value)} must be an integer")
    value = int(value)
    # str() of an int over 4,300 digits raises ValueError; such a value is only described.
    shown = (str(value) if value.bit_length() <= 200
             else f"{'-' if value < 0 else ''}(an integer of about {int(value.bit_length() * 0.30103)} digits)")
    if min_value is not None and max_value is not None and not min_value <= value <= max_value:
        raise InvalidParameterError(f"{name}={shown} must be an integer in [{min_value}, {max_value}]")
    if min_value is not None and value < min_value:
        raise InvalidParameterError(f"{name}={shown} must be an integer >= {min_value}")
    if max_value is not None and value > max_value:
        raise InvalidParameterError(f"{name}={shown} must be an integer <= {max_value}")
    return value


def _short(value) -> str:
    """``repr(value)``, cut to 60 characters (a huge value would otherwise fill the message)."""
    try:
        text = repr(value)
    except ValueError:  # an int subclass over Python's 4,300-digit limit
        return f"({type(value).__name__})"
    return text if len(text) <= 60 else text[:50] + f"... ({len(text)} characters)"


def check_real(name: str, value, *, min_value: float | None = None, max_value: float | None = None,
               allow_equal: bool = True) -> float:
    """Return ``value`` as a finite ``float`` after checking its range.

    >>> check_real("weight", 100)
    100.0
    >>> check_real("weight", float("nan"))
    Traceback (most recent call last):
    ...
    gradmath.errors.NonFiniteError: weight=nan must be a finite number
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InvalidParameterError(f"{name}={value!r} must be a real number")
    value = float(value)
    if not np.isfinite(value):
        raise NonFiniteError(f"{name}={value} must be a finite number")
    if min_value is not None and (value < min_value or (not allow_equal and value == min_value)):
        op = ">=" if allow_equal else ">"
        raise InvalidParameterError(f"{name}={value:g} must be {op} {min_value:g}")
    if max_value is not None and (value > max_value or (not allow_equal and value == max_value)):
        op = "<=" if allow_equal else "<"
        raise InvalidParameterError(f"{name}={value:g} must be {op} {max_value:g}")
    return value


def check_choice(name: str, value, choices: Iterable[str]) -> str:
    """Return ``value`` if it is one of ``choices``; otherwise name them all.

    >>> check_choice("cost", "quadratic", ["quadratic", "cross-entropy"])
    'quadratic'
    >>> check_choice("cost", "quadratc", ["quadratic", "cross-entropy"])
    Traceback (most recent call last):
    ...
    gradmath.errors.UnknownNameError: cost='quadratc' is not one of 'quadratic', 'cross-entropy' (did you mean 'quadratic'?)
    """
    choices = list(choices)
    if value not in choices:
        listed = ", ".join(repr(c) for c in choices)
        raise UnknownNameError(f"{name}={value!r} is not one of {listed}{suggest(value, choices)}")
    return value


def check_finite_array(name: str, array) -> np.ndarray:
    """Return ``array`` as float64 after checking that every entry is finite.

    The fast check is one reduction; only when it fails does a second pass find
    and name the first bad entry.

    >>> check_finite_array("x", [[0.0, 1.0], [2.0, float("inf")]])
    Traceback (most recent call last):
    ...
    gradmath.errors.NonFiniteError: x has a non-finite value inf at index (1, 1)
    """
    arr = np.asarray(array)
    if arr.dtype.kind not in "biuf":
        raise InvalidParameterError(
            f"{name} has dtype {arr.dtype}, expected real numbers (convert with .astype(float))"
        )
    arr = arr.astype(np.float64, copy=False)
    # A sum is finite only if every term is (it may overflow to inf on huge
    # finite values too, so the slow pass decides).
    with np.errstate(over="ignore", invalid="ignore"):
        fast_ok = bool(np.isfinite(arr.sum()))
    if not fast_ok:
        bad = np.argwhere(~np.isfinite(arr))
        if bad.size:
            index = tuple(int(i) for i in bad[0])
            where = index[0] if len(index) == 1 else index
            raise NonFiniteError(f"{name} has a non-finite value {arr[index]} at index {where}")
    return arr


#: Most digits of one width in :func:`parse_sizes` (every use has a far smaller limit of its own).
MAX_SIZE_DIGITS = 12


def parse_sizes(text: str, *, name: str = "sizes", min_length: int = 2) -> tuple[int, ...]:
    """Parse layer widths such as ``"2,3,2"`` into a tuple of positive ints.

    >>> parse_sizes("64,30,10")
    (64, 30, 10)
    >>> parse_sizes("2,,3")
    Traceback (most recent call last):
    ...
    gradmath.errors.InvalidParameterError: sizes='2,,3' must be comma-separated positive integers of at most 12 ASCII digits, e.g. 2,3,2
    """
    text = str(text)
    shown = repr(text) if len(text) <= 60 else repr(text[:50]) + f"... ({len(text)} characters)"
    parts = [p.strip() for p in text.split(",")]
    # ASCII decimal digits only ('²' and '٣' pass str.isdigit), and few enough for int() and for any limit.
    if not all(p.isascii() and p.isdigit() and len(p) <= MAX_SIZE_DIGITS and int(p) > 0 for p in parts):
        raise InvalidParameterError(
            f"{name}={shown} must be comma-separated positive integers of at most {MAX_SIZE_DIGITS} "
            "ASCII digits, e.g. 2,3,2"
        )
    sizes = tuple(int(p) for p in parts)
    if len(sizes) < min_length:
        raise InvalidParameterError(
            f"{name}={shown} must list at least {min_length} layer widths, e.g. 2,3,2"
        )
    return sizes
