"""Every mean-field quantity at one point (activation, σ_w², σ_b²), as one result object.

>>> p = mean_field("tanh", sigma_w2=1.5, sigma_b2=0.05)
>>> p.phase
'ordered'
>>> round(p.q_star, 6), round(p.chi_1, 6)
(0.418037, 0.938636)
>>> mean_field("relu", sigma_w2=2.0, sigma_b2=0.0).chi_1      # ReLU's critical point (2, 0), exactly
1.0
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from gradmath.meanfield.closed_forms import closed_form_for
from gradmath.meanfield.expectations import Expectations, QuadratureExpectations
from gradmath.meanfield.fixed_points import FixedPoint, c_star, q_star
from gradmath.meanfield.kernels import meanfield_kernels
from gradmath.meanfield.maps import chi_1, chi_c, length_slope
from gradmath.meanfield.parameters import MeanFieldParameters, parse_parameters
from gradmath.validation import check_int

__all__ = ["MeanFieldPoint", "mean_field", "depth_scale", "expectations_for", "point_from", "classify"]

#: Largest ``digits`` accepted for mpmath results.
MAX_DIGITS = 200
#: χ₁ within this of 1 is reported as critical (a few times the quadrature's relative error).
CRITICAL_TOLERANCE = 1e-9
_TINY_Q = 1e-30


def depth_scale(rate: float | None) -> float | None:
    """ξ = −1/ln(rate): the depth over which a quantity changes by a factor e (None when infinite).

    A negative ξ means growth (rate > 1); rate = 1 gives an infinite scale (``None``).

    >>> round(depth_scale(0.5), 6)
    1.442695
    >>> depth_scale(1.0) is None
    True
    """
    if rate is None or rate == 1.0:
        return None
    if rate <= 0.0:
        return 0.0
    return -1.0 / math.log(rate)


@dataclass(frozen=True)
class MeanFieldPoint:
    """q*, c*, χ₁, χ_c and the depth scales at one (activation, σ_w², σ_b²).

    Attributes
    ----------
    q_star, c_star : float or None
        Fixed points of the length and correlation maps (``c_star`` is None when q* = 0).
    chi_1, chi_c : float or None
        Per-layer factors of a backward signal's squared length, and of the correlation map's slope at c*.
    xi_q, xi_c, xi_grad : float or None
        Depth scales −1/ln 𝓛′(q*), −1/ln χ_c, −1/ln χ₁ (None: infinite, at criticality; negative: growth).
    gradient_factor : float
        √χ₁, the typical ratio ‖δˡ‖/‖δˡ⁺¹‖ in a deep network of equal widths.
    phase : str
        ``"ordered"`` (χ₁ < 1), ``"chaotic"`` (χ₁ > 1) or ``"critical"``.
    method : str
        ``"closed form"`` or ``"quadrature"`` (float64, with ``error`` the estimated absolute error), or
        ``"estimate"``: quadrature of an activation whose breakpoints were not found (see ``notes``).
    """

    activation: str
    sigma_w2: float
    sigma_b2: float
    q_star: float
    c_star: float | None
    chi_1: float
    chi_c: float | None
    xi_q: float | None
    xi_c: float | None
    xi_grad: float | None
    phase: str
    method: str
    error: float
    notes: tuple[str, ...] = field(default=())
    digits: int | None = None
    precise: tuple[tuple[str, str], ...] = field(default=())   #: (name, value to ``digits`` digits) pairs

    @property
    def gradient_factor(self) -> float:
        return math.sqrt(self.chi_1)

    def to_json(self) -> dict:
        """A JSON-ready dict (None where a value is infinite or undefined; see ``notes``)."""
        return {
            "activation": self.activation, "sigma_w2": self.sigma_w2, "sigma_b2": self.sigma_b2,
            "q_star": self.q_star, "c_star": self.c_star, "chi_1": self.chi_1, "chi_c": self.chi_c,
            "xi_q": self.xi_q, "xi_c": self.xi_c, "xi_grad": self.xi_grad,
            "gradient_factor": self.gradient_factor, "phase": self.phase, "method": self.method,
            "error": self.error, "notes": list(self.notes), "digits": self.digits,
            "precise": dict(self.precise),
        }

    def __repr__(self) -> str:
        return (f"MeanFieldPoint({self.activation}, σ_w²={self.sigma_w2:g}, σ_b²={self.sigma_b2:g}: "
                f"q*={self.q_star:.6g}, c*={_g(self.c_star)}, χ₁={self.chi_1:.6g}, {self.phase})")


def _g(value: float | None) -> str:
    return "∞/undefined" if value is None else f"{value:.6g}"


def mean_field(activation, sigma_w2: float | str, sigma_b2: float | str, *, digits: int | None = None
               ) -> MeanFieldPoint:
    """All mean-field quantities of ``activation`` at (σ_w², σ_b²), in float64.

    Closed forms are used where gradmath knows them (affine, ReLU, erf(a·x); see
    :mod:`gradmath.meanfield.closed_forms`), Gaussian quadrature otherwise. With
    ``digits``, q*, χ₁, 𝓛′(q*) and the depth scales ξ_q, ξ_∇ are also computed with
    mpmath to that many significant digits (``precise``); c* and χ_c stay float64.

    Raises
    ------
    InvalidParameterError
        σ_w² ≤ 0, σ_b² < 0, values out of range, or no finite fixed point q*.
    NonFiniteError
        NaN or infinite parameters.
    """
    params = parse_parameters(activation, sigma_w2, sigma_b2)
    point = point_from(expectations_for(params.activation), params)
    if digits is None:
        return point
    from gradmath.meanfield.precise import refine_point

    return refine_point(point, params, check_int("digits", digits, min_value=1, max_value=MAX_DIGITS))


def expectations_for(activation) -> Expectations:
    """Closed forms where known, else quadrature of the activation's float64 kernels."""
    exact = closed_form_for(activation)
    if exact is not None:
        return exact
    kernels = meanfield_kernels(activation)
    # breakpoints not found: the rules know only the edge at 0, and their error may miss a kink elsewhere
    return QuadratureExpectations(kernels, method="quadrature" if kernels.breakpoints is not None else "estimate")


def point_from(k: Expectations, p: MeanFieldParameters) -> MeanFieldPoint:
    """Every quantity at ``p`` from the expectations ``k``."""
    sw2, sb2 = p.sigma_w2, p.sigma_b2
    notes = []
    if k.method == "estimate":
        notes.append("estimate: the points where σ or σ′ breaks were not found (an infinite or large set, or no "
                     "time), so the quadrature may miss a kink away from 0 and its error can understate it")
    if hasattr(k, "q_star"):
        fq = FixedPoint(k.q_star(sw2, sb2), 0.0)
    else:
        fq = q_star(k, sw2, sb2)
    q = fq.value
    if fq.note:
        notes.append(fq.note)
    at = np.array([q if q > 0 else _TINY_Q])
    chi, chi_err = chi_1(k, sw2, at)
    chi1 = float(chi[0])
    slope = float(length_slope(k, sw2, at)[0][0])
    error = max(fq.error, float(chi_err[0]))
    if q > 0 and abs(1.0 - slope) > 0:
        error = max(error, fq.error / abs(1.0 - slope))
    phase = classify(chi1)
    if q == 0:
        notes.append("q* = 0: χ₁ is the limit q → 0; c* and χ_c are undefined")
        cst, chic = None, None
    else:
        fc = c_star(k, sw2, sb2, q)
        if fc.note:
            notes.append(fc.note)
        cst = fc.value
        if cst == 1.0:
            chic = chi1
        elif fc.slope is not None:
            chic = fc.slope
            error = max(error, fc.error, fc.slope_error)
        else:
            value, err = chi_c(k, sw2, np.array([q]), np.array([cst]))
            chic = float(value[0])
            error = max(error, fc.error, float(err[0]))
    return MeanFieldPoint(
        activation=p.activation.name, sigma_w2=sw2, sigma_b2=sb2, q_star=q, c_star=cst, chi_1=chi1, chi_c=chic,
        xi_q=depth_scale(slope) if q > 0 else None, xi_c=depth_scale(chic), xi_grad=depth_scale(chi1),
        phase=phase, method=k.method, error=error, notes=tuple(notes),
    )


def classify(chi1: float) -> str:
    """``"ordered"``, ``"critical"`` or ``"chaotic"`` from χ₁."""
    if abs(chi1 - 1.0) <= CRITICAL_TOLERANCE:
        return "critical"
    return "ordered" if chi1 < 1.0 else "chaotic"
