"""High-precision central differences with mpmath: the independent numeric check.

A symbolic derivative is checked here against nothing but values of the
function itself: ``(f(x + h) − f(x − h)) / 2h`` evaluated at a precision high
enough that the subtraction loses nothing that matters. No derivative formula is
used, so the check shares no code with the derivation it checks.

This is the derivative by its definition, a difference quotient, and it sits with
the other definitions (:mod:`gradmath.activations`, :mod:`gradmath.costs`): it imports
nothing of gradmath but :mod:`gradmath.validation`, so the derivations in
:mod:`gradmath.symbolic` can check themselves against it without reaching forward
into :mod:`gradmath.numeric`.

The precision needed depends on how much smaller ``f′`` is than ``f``: a
vanishing gradient of 10⁻⁶⁰⁰ under a cost of order 1 cancels 600 leading digits
in ``f(x + h) − f(x − h)``. ``lost_digits`` says how many to carry for that; too
few gives noise, which :func:`central_difference` cannot detect by itself, so
:func:`checked_derivative` evaluates twice at different precisions and steps and
reports how far the two agree.

Precision is raised only inside :func:`mpmath.workdps`; results are rounded back
to the caller's precision.

Examples
--------
>>> import mpmath
>>> f = lambda x: 1 + mpmath.mpf(10) ** -40 * mpmath.sin(x)
>>> with mpmath.workdps(20):
...     print(mpmath.nstr(central_difference(f, 0, digits=20), 5))        # the 1e-40 is lost
...     print(mpmath.nstr(central_difference(f, 0, digits=20, lost_digits=40), 5))
0.0
1.0e-40
>>> with mpmath.workdps(30):
...     value, spread = checked_derivative(mpmath.exp, 1, digits=30)
...     print(mpmath.nstr(value, 12), spread < mpmath.mpf(10) ** -25)
2.71828182846 True
"""

from __future__ import annotations

from collections.abc import Callable

import mpmath

from gradmath.validation import check_int

__all__ = ["central_difference", "checked_derivative"]

#: Digits of headroom above ``digits`` kept inside the evaluation, for the
#: rounding errors that accumulate over many operations (one per layer).
GUARD_DIGITS = 10


def central_difference(f: Callable, x, *, digits: int = 30, lost_digits: int = 0) -> mpmath.mpf:
    """``f′(x)`` by a central difference, to about ``digits`` significant digits.

    Parameters
    ----------
    f : callable
        A function of one ``mpf`` returning an ``mpf``, evaluated at the working
        precision in force when it is called.
    x : number
        The point; converted with :func:`mpmath.mpf` inside the raised precision.
    digits : int
        Significant digits wanted.
    lost_digits : int
        Extra digits to carry because ``|f′| ≪ |f|`` (about ``log10(|f| / |f′|)``).

    Returns
    -------
    mpmath.mpf
        Rounded to the caller's precision.

    Notes
    -----
    The step is ``h = 10^-k`` with ``k = digits // 2 + 8``: the truncation error
    ``h² f‴ / 6`` is then about ``10^-(digits + 16)`` relative to ``f‴ / f′``, and the
    working precision ``digits + k + lost_digits + GUARD_DIGITS`` leaves the
    rounding error of the difference below ``10^-digits`` relative to ``f′``.
    """
    digits = check_int("digits", digits, min_value=5, max_value=100_000)
    lost_digits = check_int("lost_digits", lost_digits, min_value=0, max_value=1_000_000)
    k = digits // 2 + 8
    with mpmath.workdps(digits + k + lost_digits + GUARD_DIGITS):
        x = mpmath.mpf(x)
        h = mpmath.mpf(10) ** -k
        d = (f(x + h) - f(x - h)) / (2 * h)
    return +d


def checked_derivative(f: Callable, x, *, digits: int = 30, lost_digits: int = 0) -> tuple[mpmath.mpf, mpmath.mpf]:
    """``f′(x)`` twice, the second time with ``digits`` more precision and a smaller step.

    Returns
    -------
    value : mpmath.mpf
        The more precise of the two estimates.
    spread : mpmath.mpf
        ``|d₁ − d₂| / max(|d₂|, tiny)``: near ``10^-digits`` when the precision was
        enough, near 1 when the first estimate was noise. Zero when both are
        exactly zero (a function that does not depend on ``x`` near it).
    """
    first = central_difference(f, x, digits=digits, lost_digits=lost_digits)
    second = central_difference(f, x, digits=digits + 8, lost_digits=lost_digits + digits)
    if first == second:
        return second, mpmath.mpf(0)
    scale = abs(second) if second != 0 else abs(first)
    return second, abs(first - second) / scale
