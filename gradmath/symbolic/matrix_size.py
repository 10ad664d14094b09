"""The limits of :func:`gradmath.symbolic.matrix.derive_matrix`, checked before anything is built."""

from __future__ import annotations

import numbers

from gradmath.errors import InvalidParameterError
from gradmath.validation import parse_sizes

__all__ = ["MAX_NEURONS", "MAX_INPUTS", "MAX_DEPTH", "MAX_NESTED_WORK", "check_sizes", "nested_work"]

# The nested check of derive_matrix dominates
# the time, and it grows with depth and width far faster than the number of neurons. Measured on
# a busy 2-core machine, the largest shapes allowed take 15–25 s ((24, 3, 4, 6): 23 s;
# (2, 2, 2, 2, 2, 2, 2): 21 s), while (2, 3, 3, 3, 3, 3), within the older limit of 24 neurons,
# ran over 7 minutes, 25 layers of width 1 took 37 s, and (10000, 2) did not finish.
#: Most neurons after the input layer.
MAX_NEURONS = 24
#: Widest input layer ((400, 9, 1) took 140 s; (24, 12, 1) 6 s).
MAX_INPUTS = 24
#: Most layers L after the input.
MAX_DEPTH = 8
#: Largest :func:`nested_work` (the size of the expanded δ's, nested arguments included).
MAX_NESTED_WORK = 40_000


def check_sizes(sizes) -> tuple[int, ...]:
    """``sizes`` (a string such as ``"2,3,2"`` or a sequence) as a tuple, within every limit above.

    >>> check_sizes("2,3,2")
    (2, 3, 2)
    >>> check_sizes((10000, 2))
    Traceback (most recent call last):
    ...
    gradmath.errors.InvalidParameterError: sizes=10000,2 has 10000 inputs; at most 24 are derived symbolically
    """
    if isinstance(sizes, str):
        sizes = parse_sizes(sizes)
    try:
        sizes = tuple(sizes)
    except TypeError:
        raise InvalidParameterError(
            f"sizes={_short(sizes)} must be at least two positive integers, e.g. 2,3,2") from None
    if not all(isinstance(n, numbers.Integral) and not isinstance(n, bool) for n in sizes):
        raise InvalidParameterError(f"sizes={_short(sizes)} must be at least two positive integers, e.g. 2,3,2")
    sizes = tuple(int(n) for n in sizes)
    if any(n.bit_length() > 40 for n in sizes):   # beyond every limit below, and maybe too long to print
        digits = int(max(n.bit_length() for n in sizes) * 0.30103)
        raise InvalidParameterError(f"sizes has a width of about {digits} digits; at most {MAX_INPUTS} inputs "
                                    f"and {MAX_NEURONS} neurons after them are derived symbolically")
    if len(sizes) < 2 or not all(n > 0 for n in sizes):
        raise InvalidParameterError(f"sizes={_short(sizes)} must be at least two positive integers, e.g. 2,3,2")
    shown = ",".join(map(str, sizes)) if len(sizes) <= 12 else f"{sizes[0]},...,{sizes[-1]} ({len(sizes)} widths)"
    if len(sizes) - 1 > MAX_DEPTH:
        raise InvalidParameterError(
            f"sizes={shown} has {len(sizes) - 1} layers after the input; at most {MAX_DEPTH} are derived symbolically")
    if sizes[0] > MAX_INPUTS:
        raise InvalidParameterError(
            f"sizes={shown} has {sizes[0]} inputs; at most {MAX_INPUTS} are derived symbolically")
    if sum(sizes[1:]) > MAX_NEURONS:
        raise InvalidParameterError(
            f"sizes={shown} has {sum(sizes[1:])} neurons; at most {MAX_NEURONS} are derived symbolically")
    work = nested_work(sizes)
    if work > MAX_NESTED_WORK:
        raise InvalidParameterError(
            f"sizes={shown} would expand to about {work:,} terms in the nested check; at most {MAX_NESTED_WORK:,} "
            "(fewer layers or narrower ones)")
    return sizes


def _short(value) -> str:
    """``repr(value)`` cut to 60 characters (and never an int too long for ``str``)."""
    try:
        text = repr(value)
    except ValueError:
        return f"(a {type(value).__name__} holding an integer of over 4300 digits)"
    return text if len(text) <= 60 else text[:50] + f"... ({len(text)} characters)"


def nested_work(sizes) -> int:
    """An estimate of the nested check's work: Σ_l n_l · P_l · Σ_{k ≥ l} S_k.

    ``P_l = n_{l+1} ⋯ n_L`` counts the terms of an entry of δ^l once expanded (one
    per path to the output), and ``S_k`` the size of the nested argument of
    σ′(z^k): ``S_1 = n_0``, ``S_k = n_{k−1}(1 + S_{k−1})``.

    >>> nested_work((2, 3, 2))
    84
    >>> nested_work((2, 3, 3, 3, 3, 3))      # 15 neurons, yet far beyond the limit
    149778
    """
    L = len(sizes) - 1
    arg = [0] * (L + 1)
    arg[1] = sizes[0]
    for k in range(2, L + 1):
        arg[k] = sizes[k - 1] * (1 + arg[k - 1])
    work, paths = 0, 1
    for layer in range(L, 0, -1):
        work += sizes[layer] * paths * sum(arg[layer:])
        paths *= sizes[layer]
    return work
