"""Closed forms of the Gaussian expectations for the activations where they are known.

- affine φ(x) = a x + b: E[φ²] = a²q + b², E[φ(u₁)φ(u₂)] = a²qc + b², E[φ′²] = E[φ′φ′] = a²;
- ReLU φ(x) = max(0, x) (the arc-cosine kernel of degree 1 and 0, Cho & Saul 2009):
  E[φ²] = q/2, E[φ(u₁)φ(u₂)] = q(√(1−c²) + (π − arccos c) c)/(2π), E[φ′²] = 1/2,
  E[φ′(u₁)φ′(u₂)] = (π − arccos c)/(2π);
- φ(x) = β erf(a x) (the arcsine kernel, Williams 1998): E[φ(u₁)φ(u₂)] = (2β²/π) arcsin(2a²qc/(1+2a²q)),
  E[φ′(u₁)φ′(u₂)] = (4β²a²/π) / √((1+2a²q)² − 4a⁴q²c²).

Each is derived in ``proofs/meanfield.md`` and checked against the quadrature and
against mpmath in ``tests/test_meanfield.py``. They are recognised from the activation's
SymPy expression by its structure only (no simplification that could run long).

>>> from gradmath.activations import get_activation
>>> closed_form_for(get_activation("relu")).name
'relu'
>>> closed_form_for(get_activation("tanh")) is None
True
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import sympy as sp

from gradmath.errors import InvalidParameterError
from gradmath.expressions import X
from gradmath.meanfield.expectations import Expectations

__all__ = ["closed_form_for", "Affine", "ReLU", "ScaledErf"]


def _pair(q, c) -> tuple[np.ndarray, np.ndarray]:
    """q and c as float64 arrays of one broadcast shape."""
    return np.broadcast_arrays(np.asarray(q, dtype=np.float64), np.asarray(c, dtype=np.float64))


def _zero(q):
    return np.zeros_like(np.asarray(q, dtype=np.float64))


def _linear_fixed_point(name: str, sigma_w2: float, sigma_b2: float, slope: float, feed: float, slope_text: str,
                        fix: str) -> float:
    """The fixed point of the linear length map q ↦ slope·q + feed: feed/(1 − slope), 0, or a refusal."""
    if feed == 0 and slope <= 1:
        return 0.0
    if slope >= 1:
        raise InvalidParameterError(
            f"activation {name!r}: no finite fixed point q* for sigma_w2={sigma_w2:g}, sigma_b2={sigma_b2:g}: "
            f"the length grows by {slope_text} = {slope:g} ≥ 1 per layer; {fix}")
    return feed / (1.0 - slope)


@dataclass(frozen=True)
class Affine(Expectations):
    """φ(x) = a x + b."""

    name: str
    a: float
    b: float
    method: str = "closed form"

    def square(self, q):
        q = np.asarray(q, dtype=np.float64)
        return self.a**2 * q + self.b**2, _zero(q)

    def prime_square(self, q):
        return self.a**2 + _zero(q), _zero(q)

    def stein(self, q):
        return self.a**2 + _zero(q), _zero(q)

    def cross(self, q, c):
        q, c = _pair(q, c)
        return self.a**2 * q * c + self.b**2, _zero(q)

    def prime_cross(self, q, c):
        q, c = _pair(q, c)
        return self.a**2 + _zero(q), _zero(q)

    def q_star(self, sigma_w2: float, sigma_b2: float) -> float:
        """q* = (σ_w² b² + σ_b²)/(1 − σ_w² a²), or 0 when nothing feeds the length."""
        return _linear_fixed_point(self.name, sigma_w2, sigma_b2, sigma_w2 * self.a**2,
                                   sigma_w2 * self.b**2 + sigma_b2, "sigma_w2·a²", "use a smaller sigma_w2")


@dataclass(frozen=True)
class ReLU(Expectations):
    """φ(x) = max(0, x)."""

    name: str = "relu"
    method: str = "closed form"

    def square(self, q):
        q = np.asarray(q, dtype=np.float64)
        return q / 2.0, _zero(q)

    def prime_square(self, q):
        return 0.5 + _zero(q), _zero(q)

    def stein(self, q):
        return 0.5 + _zero(q), _zero(q)

    def cross(self, q, c):
        q, c = _pair(q, c)
        c = np.clip(c, -1.0, 1.0)
        return q * (np.sqrt(1.0 - c * c) + (np.pi - np.arccos(c)) * c) / (2.0 * np.pi), _zero(q)

    def prime_cross(self, q, c):
        q, c = _pair(q, c)
        return (np.pi - np.arccos(np.clip(c, -1.0, 1.0))) / (2.0 * np.pi) + _zero(q), _zero(q)

    def q_star(self, sigma_w2: float, sigma_b2: float) -> float:
        """q* = σ_b²/(1 − σ_w²/2) for σ_w² < 2; 0 at σ_b² = 0, σ_w² ≤ 2."""
        return _linear_fixed_point(self.name, sigma_w2, sigma_b2, sigma_w2 / 2.0, sigma_b2, "sigma_w2/2",
                                   "ReLU's only critical point is (2, 0); use sigma_w2 < 2")


@dataclass(frozen=True)
class ScaledErf(Expectations):
    """φ(x) = β erf(a x), a > 0."""

    name: str
    a: float
    beta: float
    method: str = "closed form"

    def square(self, q):
        return self.cross(q, 1.0)

    def prime_square(self, q):
        q = np.asarray(q, dtype=np.float64)
        a2 = self.a**2
        return 4.0 * self.beta**2 * a2 / np.pi / np.sqrt(1.0 + 4.0 * a2 * q), _zero(q)

    def stein(self, q):
        q = np.asarray(q, dtype=np.float64)
        a2 = self.a**2
        d = 2.0 * a2 / ((1.0 + 2.0 * a2 * q) * np.sqrt(1.0 + 4.0 * a2 * q))
        return 2.0 * self.beta**2 / np.pi * d, _zero(q)

    def cross(self, q, c):
        q, c = _pair(q, c)
        a2 = self.a**2
        return 2.0 * self.beta**2 / np.pi * np.arcsin(2.0 * a2 * q * c / (1.0 + 2.0 * a2 * q)), _zero(q)

    def prime_cross(self, q, c):
        q, c = _pair(q, c)
        a2 = self.a**2
        det = (1.0 + 2.0 * a2 * q) ** 2 - 4.0 * a2 * a2 * q * q * c * c
        return 4.0 * self.beta**2 * a2 / np.pi / np.sqrt(det), _zero(q)


_RELU_FORMS = (sp.Piecewise((0, X < 0), (X, True)), sp.Piecewise((0, X <= 0), (X, True)), sp.Max(0, X),
               (X + sp.Abs(X)) / 2)


def closed_form_for(activation) -> Expectations | None:
    """The closed-form expectations of ``activation``, or ``None`` when gradmath knows none."""
    from gradmath.activations import get_activation

    expr = activation.expression
    if expr == get_activation("relu").expression or any(expr == form for form in _RELU_FORMS):
        return ReLU(activation.name)
    if expr.is_polynomial(X) and sp.degree(expr, X) == 1:
        a, b = sp.Poly(expr, X).all_coeffs()
        if a.is_real and b.is_real:
            return Affine(activation.name, float(a), float(b))
    beta, rest = expr.as_coeff_Mul()
    if isinstance(rest, sp.erf) and beta != 0:
        a = sp.Poly(rest.args[0], X) if rest.args[0].is_polynomial(X) else None
        if a is not None and a.degree() == 1 and a.all_coeffs()[1] == 0:
            slope = float(a.all_coeffs()[0])
            # φ(x) = β erf(a x) = (β sign a) erf(|a| x)
            return ScaledErf(activation.name, abs(slope), float(beta) * math.copysign(1.0, slope))
    return None
