"""The five Gaussian expectations every mean-field quantity is made of, by quadrature or in closed form.

For an activation φ and u₁ = √q z₁, u₂ = √q (c z₁ + √(1−c²) z₂) with z₁, z₂ independent N(0, 1):

=================  ==============================
``square(q)``       E[φ(√q z)²]
``prime_square(q)`` E[φ′(√q z)²]
``stein(q)``        E[φ(√q z) φ′(√q z) √q z] / q   (= d/dq E[φ(√q z)²], Stein's lemma)
``cross(q, c)``     E[φ(u₁) φ(u₂)]
``prime_cross(q, c)`` E[φ′(u₁) φ′(u₂)]
=================  ==============================

Each returns ``(value, error)`` as float64 arrays; a closed form's error is 0 beyond rounding.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gradmath.meanfield.gaussian import GaussianRule
from gradmath.meanfield.kernels import MeanFieldKernels

__all__ = ["Expectations", "QuadratureExpectations", "RULE", "RULE2"]

#: The rules the quadratures use unless given others: one-dimensional, and (lighter) two-dimensional.
RULE = GaussianRule()
RULE2 = GaussianRule(nodes=10, levels=16)


class Expectations:
    """Interface: the five expectations of one activation (see the module text)."""

    name: str
    method: str

    def square(self, q):  # pragma: no cover - interface
        raise NotImplementedError

    def prime_square(self, q):  # pragma: no cover - interface
        raise NotImplementedError

    def stein(self, q):  # pragma: no cover - interface
        raise NotImplementedError

    def cross(self, q, c):  # pragma: no cover - interface
        raise NotImplementedError

    def prime_cross(self, q, c):  # pragma: no cover - interface
        raise NotImplementedError

    def check(self, q: float) -> None:
        """Raise when the integrals do not exist at q (nothing to check for a closed form)."""


def _square(values: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):      # an overflow to inf is caught by the rule's finiteness check
        return values * values


@dataclass(frozen=True)
class QuadratureExpectations(Expectations):
    """The expectations by the graded Gauss–Legendre rule of :mod:`gradmath.meanfield.gaussian`."""

    kernels: MeanFieldKernels
    rule: GaussianRule = RULE
    rule2: GaussianRule = RULE2
    method: str = "quadrature"
    estimate: bool = True      #: compute the error estimates (the coarse twins; without them the errors are NaN)

    @property
    def name(self) -> str:
        return self.kernels.name

    def square(self, q):
        return self.rule.expect(lambda x: _square(self.kernels.evaluate(x)), q, estimate=self.estimate,
                                points=self.kernels.edges)

    def prime_square(self, q):
        return self.rule.expect(lambda x: _square(self.kernels.prime(x)), q, estimate=self.estimate,
                                points=self.kernels.edges)

    def stein(self, q):
        q = np.asarray(q, dtype=np.float64)
        value, err = self.rule.expect(lambda x: self.kernels.evaluate(x) * self.kernels.prime(x) * x, q,
                                      estimate=self.estimate, points=self.kernels.edges)
        return value / q, err / q

    def cross(self, q, c):
        return self.rule2.expect2(self.kernels.evaluate, self.kernels.evaluate, q, c, estimate=self.estimate,
                                  points=self.kernels.edges)

    def prime_cross(self, q, c):
        return self.rule2.expect2(self.kernels.prime, self.kernels.prime, q, c, estimate=self.estimate,
                                  points=self.kernels.edges)

    def check(self, q: float) -> None:
        self.kernels.check_tails(q)
