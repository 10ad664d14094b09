"""Property-based tests for anyone's backprop: strategies, properties as assertions, :func:`check_backprop`.

* :mod:`~gradmath.testing.strategies`: Hypothesis strategies for networks in network2's layout,
  activations (built-in and drawn expressions), costs and batches, shrinking to the smallest network;
* :mod:`~gradmath.testing.properties`: the reference (the matrix form in mpmath), ∂C/∂w = δaᵀ, bounds
  (a) and (b), and the exact chain product, each an assertion raising a :class:`BackpropMismatch`;
* :mod:`~gradmath.testing.check`: :func:`check_backprop`, all of them against a user's function;
* :mod:`~gradmath.testing.adapters`: a batched NumPy function, a PyTorch module with a loss, a JAX function;
* :mod:`~gradmath.testing.plugin`: a pytest plugin with Hypothesis profiles ``gradmath-quick`` and
  ``gradmath-thorough``.

Hypothesis is needed (``pip install gradmath[testing]``). Docs: ``docs/testing.md``.
"""

from __future__ import annotations

from gradmath.testing.adapters import from_batched_numpy, from_jax, from_torch
from gradmath.testing.check import CheckReport, check_backprop
from gradmath.testing.drawn import Batch, DrawnNetwork
from gradmath.testing.properties import (
    BackpropMismatch,
    BackpropNotFinite,
    BackpropRaised,
    BackpropShapeError,
    BoundViolation,
    ChainProductMismatch,
    GradientMismatch,
    OuterProductMismatch,
)

__all__ = ["check_backprop", "CheckReport", "from_batched_numpy", "from_torch", "from_jax", "DrawnNetwork", "Batch",
           "BackpropMismatch", "BackpropRaised", "BackpropShapeError", "BackpropNotFinite", "GradientMismatch",
           "OuterProductMismatch", "BoundViolation", "ChainProductMismatch"]
