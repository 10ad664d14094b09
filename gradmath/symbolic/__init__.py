"""Symbolic derivations with SymPy: the chain product and the matrix form of the gradient.

* :func:`derive_chain`: ∂C/∂b_l and ∂C/∂w_l of the one-neuron-per-layer chain
  (Nielsen's (121)/(122)), any depth, checked exactly and against mpmath;
* :func:`derive_matrix`: δ^l = Σ′(z^l)(w^{l+1})ᵀ … Σ′(z^L) ∇_a C (Nielsen's (124))
  for given layer widths, checked entry by entry.
"""

from gradmath.symbolic.chain import ChainDerivation, Check, derive_chain
from gradmath.symbolic.matrix import MatrixDerivation, derive_matrix

__all__ = ["ChainDerivation", "Check", "MatrixDerivation", "derive_chain", "derive_matrix"]
