"""The mean-field maps of a wide random network (Poole et al. 2016; Schoenholz et al. 2017).

With weights wᵢⱼ ~ N(0, σ_w²/n) and biases bᵢ ~ N(0, σ_b²), the pre-activations of a
wide layer are Gaussian; for one input their variance q and for two inputs their
correlation c evolve layer to layer by (the derivation is in ``proofs/meanfield.md``)

    q ↦ 𝓛(q) = σ_w² E[φ(√q z)²] + σ_b²,
    c ↦ 𝓒(c) = (σ_w² E[φ(u₁) φ(u₂)] + σ_b²) / q*,   u₁ = √q* z₁, u₂ = √q* (c z₁ + √(1−c²) z₂),

and a backward signal's squared length by the factor χ₁ = σ_w² E[φ′(√q* z)²] per layer;
χ_c = σ_w² E[φ′(u₁) φ′(u₂)] is the slope of 𝓒 at c. 𝓛′(q) = σ_w² E[φ φ′ z]/√q (Stein's
lemma turns the usual σ_w² E[φ′² + φ φ″] into a form that needs no φ″, so kinks are fine).

Each function takes an :class:`~gradmath.meanfield.expectations.Expectations` and
returns ``(value, error)`` arrays, the error being the expectations' estimate scaled.
"""

from __future__ import annotations

import numpy as np

from gradmath.meanfield.expectations import Expectations

__all__ = ["length_map", "length_slope", "chi_1", "correlation_map", "chi_c"]


def length_map(e: Expectations, sigma_w2: float, sigma_b2: float, q):
    """𝓛(q) = σ_w² E[φ(√q z)²] + σ_b² and its error estimate."""
    value, err = e.square(np.asarray(q, dtype=np.float64))
    return sigma_w2 * value + sigma_b2, sigma_w2 * err


def length_slope(e: Expectations, sigma_w2: float, q):
    """𝓛′(q) = σ_w² d/dq E[φ(√q z)²], q > 0."""
    value, err = e.stein(np.asarray(q, dtype=np.float64))
    return sigma_w2 * value, sigma_w2 * err


def chi_1(e: Expectations, sigma_w2: float, q):
    """χ₁ = σ_w² E[φ′(√q z)²]: the factor by which a backward signal's squared length changes per layer."""
    value, err = e.prime_square(np.asarray(q, dtype=np.float64))
    return sigma_w2 * value, sigma_w2 * err


def correlation_map(e: Expectations, sigma_w2: float, sigma_b2: float, q, c):
    """𝓒(c) = (σ_w² E[φ(u₁)φ(u₂)] + σ_b²)/q at the length q (normally q*)."""
    q = np.asarray(q, dtype=np.float64)
    value, err = e.cross(q, np.asarray(c, dtype=np.float64))
    return (sigma_w2 * value + sigma_b2) / q, sigma_w2 * err / q


def chi_c(e: Expectations, sigma_w2: float, q, c):
    """χ_c = σ_w² E[φ′(u₁)φ′(u₂)], the slope of 𝓒 at c."""
    value, err = e.prime_cross(np.asarray(q, dtype=np.float64), np.asarray(c, dtype=np.float64))
    return sigma_w2 * value, sigma_w2 * err
