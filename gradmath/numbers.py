"""Numbers written as text, read once into an exact rational.

Command-line options and API arguments that arrive as strings (``"100"``,
``"5/2"``, ``"-0.25"``, ``"1e-6"``) are read here by a regular expression and
:class:`fractions.Fraction` of the matched digits: nothing is evaluated, and
SymPy's ``sympify``/``nsimplify`` never see the text. Floats passed from Python
are taken at their exact binary value (``Fraction(0.1)`` is 3602879701896397/2**55),
never rounded through a decimal string.

Limits, checked before any big integer is built: at most :data:`MAX_LENGTH`
characters, and a written decimal exponent of at most :data:`MAX_EXPONENT` in
absolute value (so ``1e999999`` is refused instead of building a million-digit
integer). ``nan``, ``inf`` and ``infinity`` are refused with
:class:`~gradmath.errors.NonFiniteError`.

Examples
--------
>>> parse_decimal("5/2"), parse_decimal("-1.25e-2")
(Fraction(5, 2), Fraction(-1, 80))
>>> exact_rational("100"), exact_rational(0.5), exact_rational(3)
(100, 1/2, 3)
>>> parse_decimal("__import__('os').system('true')", name="weight")
Traceback (most recent call last):
...
gradmath.errors.InvalidParameterError: weight="__import__('os').system('true')" is not a number: write a decimal such as 100, -2.5, 1e-6 or a fraction such as 5/2
>>> parse_decimal("1e999999", name="weight")
Traceback (most recent call last):
...
gradmath.errors.InvalidParameterError: weight='1e999999' has the decimal exponent 999999; the limit is ±1000
>>> exact_rational(float("inf"), name="w1")
Traceback (most recent call last):
...
gradmath.errors.NonFiniteError: w1=inf must be a finite number
"""

from __future__ import annotations

import math
import numbers
import re
from fractions import Fraction

import sympy as sp

from gradmath.errors import InvalidParameterError, NonFiniteError

__all__ = ["MAX_LENGTH", "MAX_EXPONENT", "parse_decimal", "exact_rational", "exact_real", "finite_float"]

#: Longest accepted numeric string, in characters.
MAX_LENGTH = 100
#: Largest accepted |e| in a written exponent such as ``1e-300``.
MAX_EXPONENT = 1000

_DECIMAL = re.compile(r"\s*(?P<sign>[+-]?)(?P<int>\d*)(?:\.(?P<frac>\d*))?(?:[eE](?P<exp>[+-]?\d+))?\s*", re.ASCII)
_NON_FINITE = re.compile(r"\s*[+-]?(nan|inf|infinity)\s*", re.IGNORECASE)
_HINT = "write a decimal such as 100, -2.5, 1e-6 or a fraction such as 5/2"


def _quote(text: str) -> str:
    return repr(text) if len(text) <= 60 else repr(text[:57] + "...")


def _decimal(part: str, name: str, text: str) -> Fraction:
    match = _DECIMAL.fullmatch(part)
    if match is None or not (match["int"] or match["frac"]):
        raise InvalidParameterError(f"{name}={_quote(text)} is not a number: {_HINT}")
    exponent = 0
    if match["exp"] is not None:
        written = match["exp"]
        if len(written.lstrip("+-").lstrip("0")) > len(str(MAX_EXPONENT)) or abs(int(written)) > MAX_EXPONENT:
            raise InvalidParameterError(f"{name}={_quote(text)} has the decimal exponent {written.lstrip('+')}; "
                                        f"the limit is ±{MAX_EXPONENT}")
        exponent = int(written)
    frac = match["frac"] or ""
    mantissa = int((match["int"] or "0") + frac)
    exponent -= len(frac)
    value = Fraction(mantissa * 10**exponent) if exponent >= 0 else Fraction(mantissa, 10**-exponent)
    return -value if match["sign"] == "-" else value


def parse_decimal(text: str, *, name: str = "value") -> Fraction:
    """Read ``text`` (a decimal, optionally with an exponent, or ``p/q`` of two such) as an exact fraction.

    Raises
    ------
    InvalidParameterError
        If ``text`` is not such a number, is longer than :data:`MAX_LENGTH` characters or has a
        written exponent beyond ±:data:`MAX_EXPONENT`.
    NonFiniteError
        For ``nan``, ``inf``, ``infinity`` (any case, any sign).
    """
    if not isinstance(text, str):
        raise InvalidParameterError(f"{name}={text!r} must be a string such as '2.5'")
    if len(text) > MAX_LENGTH:
        raise InvalidParameterError(f"{name} is a string of {len(text)} characters; a number has at most {MAX_LENGTH}")
    if _NON_FINITE.fullmatch(text):
        raise NonFiniteError(f"{name}={text.strip()!r} must be a finite number")
    parts = text.split("/")
    if len(parts) > 2:
        raise InvalidParameterError(f"{name}={_quote(text)} is not a number: {_HINT}")
    numerator = _decimal(parts[0], name, text)
    denominator = _decimal(parts[1], name, text) if len(parts) == 2 else Fraction(1)
    if denominator == 0:
        raise InvalidParameterError(f"{name}={_quote(text)} divides by zero")
    return numerator / denominator


def exact_rational(value, *, name: str = "value") -> sp.Rational:
    """``value`` as an exact SymPy rational: a numeric string (:func:`parse_decimal`), an int,
    a :class:`~fractions.Fraction`, a SymPy rational or float, or a finite Python/NumPy float
    (its exact binary value).

    Raises
    ------
    InvalidParameterError
        For anything else (booleans, other objects, strings that are not numbers).
    NonFiniteError
        For NaN and infinities.
    """
    if isinstance(value, str):
        f = parse_decimal(value, name=name)
        return sp.Rational(f.numerator, f.denominator)
    if isinstance(value, bool) or value is None:
        raise InvalidParameterError(f"{name}={value!r} must be a number")
    if isinstance(value, sp.Basic):
        if value.has(sp.oo, -sp.oo, sp.zoo, sp.nan):
            raise NonFiniteError(f"{name}={value} must be a finite number")
        if isinstance(value, sp.Rational):
            return value
        if isinstance(value, sp.Float):
            if not value.is_finite:
                raise NonFiniteError(f"{name}={value} must be a finite number")
            return sp.Rational(value)
        raise InvalidParameterError(f"{name}={value} must be a rational number (an int, a fraction or a float)")
    if isinstance(value, numbers.Integral):
        return sp.Integer(int(value))
    if isinstance(value, Fraction):
        return sp.Rational(value.numerator, value.denominator)
    if isinstance(value, numbers.Real):
        as_float = float(value)
        if not math.isfinite(as_float):
            raise NonFiniteError(f"{name}={as_float} must be a finite number")
        numerator, denominator = as_float.as_integer_ratio()
        return sp.Rational(numerator, denominator)
    raise InvalidParameterError(f"{name}={value!r} must be a number "
                                "(an int, a float, a fraction or a string such as '2.5')")


def exact_real(value, *, name: str = "value") -> sp.Expr:
    """Like :func:`exact_rational`, and also a finite real SymPy number such as ``sqrt(2)``, kept exact.

    >>> exact_real(sp.sqrt(2)), exact_real("0.1")
    (sqrt(2), 1/10)
    """
    if isinstance(value, sp.Expr) and not isinstance(value, (sp.Rational, sp.Float)):
        if value.has(sp.oo, -sp.oo, sp.zoo, sp.nan):
            raise NonFiniteError(f"{name}={value} must be a finite number")
        if value.free_symbols or not value.is_number or value.is_extended_real is not True:
            raise InvalidParameterError(f"{name}={value} must be a real number without symbols")
        if value.is_finite is not True:
            raise NonFiniteError(f"{name}={value} must be a finite number")
        return value
    return exact_rational(value, name=name)


def finite_float(value, *, name: str = "value") -> float:
    """``value`` (anything :func:`exact_real` takes) as the nearest float64, refused if that overflows.

    >>> finite_float("1e-6"), finite_float("5/2")
    (1e-06, 2.5)
    """
    exact = exact_real(value, name=name)
    try:
        result = float(exact)
    except OverflowError:
        result = math.inf
    if not math.isfinite(result):
        raise InvalidParameterError(f"{name}={_quote(str(value))} is beyond the float64 range (about ±1.8e308)")
    if result == 0 and exact != 0:   # it would be read as 0, which is another value (and may be refused as 0)
        raise InvalidParameterError(f"{name}={_quote(str(value))} is nonzero but below the smallest float64 (about "
                                    "4.9e-324), so it would be read as 0")
    return result
