"""The exceptions gradmath raises.

Every error a user can cause derives from :class:`GradmathError`, and also from
the built-in exception that fits (``ValueError`` for a wrong value, ``TypeError``
for a wrong type), so ``except ValueError`` keeps working. The command line maps
each of them to one line on stderr and exit code 2.
"""

from __future__ import annotations

__all__ = [
    "GradmathError",
    "InvalidParameterError",
    "ShapeError",
    "NonFiniteError",
    "UnknownNameError",
    "UnknownActivationError",
    "ExpressionError",
    "FormatError",
    "DataError",
    "MissingDependencyError",
    "VerificationError",
]


class GradmathError(Exception):
    """Base class of every error gradmath raises on bad input."""


class InvalidParameterError(GradmathError, ValueError):
    """A parameter has a value outside its allowed range (``depth=0``, ``digits=-1``)."""


class ShapeError(GradmathError, ValueError):
    """Arrays whose shapes do not fit together (a weight matrix and the layer before it)."""


class NonFiniteError(GradmathError, ValueError):
    """NaN or infinity where a finite number is needed; the message names the first bad index."""


class UnknownNameError(GradmathError, ValueError):
    """A name that is not known (a cost, a norm, a data set); the message suggests the nearest."""


class UnknownActivationError(UnknownNameError):
    """An activation name that is not registered; the message lists the known ones."""


class ExpressionError(GradmathError, ValueError):
    """A string that is not a valid expression of one variable ``x``."""


class FormatError(GradmathError, ValueError):
    """A file that is truncated, corrupt, of the wrong kind, or holds unknown metadata."""


class DataError(GradmathError, ValueError):
    """A data set that cannot be used (missing path, wrong width, counts that disagree)."""


class MissingDependencyError(GradmathError, ImportError):
    """An optional dependency (torch, safetensors, gmpy2) that a call needs is not installed."""


class VerificationError(GradmathError, AssertionError):
    """A derived result failed one of its independent checks (never expected; please report)."""
