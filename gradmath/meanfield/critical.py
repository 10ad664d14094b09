"""The critical line: the σ_w² at which χ₁ = 1 for a given σ_b², in float64 or to any number of digits.

At a point of the critical line q = q* and χ₁ = 1, i.e. 𝓛(q) = q and σ_w² E[φ′(√q z)²] = 1.
Eliminating σ_w² = 1/E[φ′²] leaves one equation in q alone (proofs/meanfield.md):

    h(q) = q − σ_b² − E[φ(√q z)²] / E[φ′(√q z)²] = 0,

solved by bracketing (float64) and then, for ``digits``, by :func:`mpmath.findroot` on
mpmath quadratures at ``digits + 6`` working digits, started from the float64 root.
With σ_b² = 0 and φ(0) = 0 the root is q = 0 and σ_w² = 1/φ′(0)² (tanh: 1).
Where h has no root (ReLU or a linear activation with σ_b² > 0) there is no critical
point and the result says so.

>>> round(critical_sigma_w2("tanh", 0.05).sigma_w2, 8)
1.76095464
>>> critical_sigma_w2("relu", 0.0).sigma_w2
2.0
>>> critical_sigma_w2("relu", 0.1).exists
False
"""

from __future__ import annotations

from dataclasses import dataclass, field

import mpmath
import numpy as np
from scipy.optimize import brentq

from gradmath.errors import InvalidParameterError
from gradmath.meanfield.fixed_points import Q_MAX
from gradmath.meanfield.parameters import parse_parameters
from gradmath.meanfield.point import MAX_DIGITS, expectations_for
from gradmath.meanfield.precise import GUARD_DIGITS, MpExpectations
from gradmath.validation import check_int

__all__ = ["CriticalPoint", "critical_sigma_w2", "MAX_DIGITS"]

_GRID = np.logspace(-12, np.log10(Q_MAX), 221)


@dataclass(frozen=True)
class CriticalPoint:
    """The critical σ_w² at one σ_b² (``exists`` False when χ₁ = 1 is never reached)."""

    activation: str
    sigma_b2: float
    exists: bool
    sigma_w2: float | None
    q_star: float | None
    value: str | None           #: σ_w² to ``digits`` significant digits (or float64's 17)
    digits: int | None
    method: str
    notes: tuple[str, ...] = field(default=())

    def to_json(self) -> dict:
        return {"activation": self.activation, "sigma_b2": self.sigma_b2, "critical_sigma_w2": self.sigma_w2,
                "critical_sigma_w2_digits": self.value, "q_star": self.q_star, "exists": self.exists,
                "digits": self.digits, "method": self.method, "notes": list(self.notes)}

    def __repr__(self) -> str:
        if not self.exists:
            return f"CriticalPoint({self.activation}, σ_b²={self.sigma_b2:g}: none)"
        return f"CriticalPoint({self.activation}, σ_b²={self.sigma_b2:g}: σ_w²={self.value})"


def critical_sigma_w2(activation, sigma_b2: float | str, *, digits: int | None = None) -> CriticalPoint:
    """The σ_w² where χ₁ = 1 at ``sigma_b2`` (float64, or ``digits`` significant digits with mpmath)."""
    p = parse_parameters(activation, 1.0, sigma_b2)
    if digits is not None:
        digits = check_int("digits", digits, min_value=1, max_value=MAX_DIGITS)
    e = expectations_for(p.activation)
    sb2, name = p.sigma_b2, p.activation.name
    phi0 = float(p.activation.sigma(np.array(0.0)))
    prime0 = float(p.activation.prime(np.array(0.0)))
    if sb2 == 0.0 and phi0 == 0.0 and prime0 != 0.0:
        note = "σ_b² = 0 and φ(0) = 0: the critical point has q* = 0 and σ_w² = 1/φ′(0)²"
        if digits is None:
            w = 1.0 / prime0**2
            return CriticalPoint(name, sb2, True, w, 0.0, repr(w), None, e.method, (note,))
        with mpmath.workdps(digits + GUARD_DIGITS):
            w = 1 / p.activation.prime_mp(mpmath.mpf(0)) ** 2
            return CriticalPoint(name, sb2, True, float(w), 0.0, mpmath.nstr(w, digits), digits, "mpmath", (note,))

    def h(q):
        q = np.asarray(q, dtype=np.float64)
        return q - sb2 - e.square(q)[0] / e.prime_square(q)[0]

    values = h(_GRID)
    up = np.nonzero(values >= 0)[0]
    if up.size == 0 or up[0] == 0 and values[0] > 0:
        why = ("χ₁ = 1 needs q* = σ_b² + E[φ²]/E[φ′²], which no q ≤ "
               f"{Q_MAX:g} satisfies (ReLU and linear activations: only at σ_b² = 0)")
        return CriticalPoint(name, sb2, False, None, None, None, digits, e.method, (why,))
    i = int(up[0])
    if values[i] == 0.0:
        q = 0.0 if i == 0 else float(_GRID[i])
    else:
        q = brentq(lambda t: float(h(np.array([t]))[0]), float(_GRID[i - 1]), float(_GRID[i]),
                   xtol=1e-300, rtol=4 * np.finfo(float).eps, maxiter=200)
    w = 1.0 / float(e.prime_square(np.array([q]))[0][0])
    if digits is None:
        return CriticalPoint(name, sb2, True, w, q, repr(w), None, e.method)
    return _refine(p.activation, sb2, p.sigma_b2_text, q, digits)


def _refine(act, sigma_b2: float, sigma_b2_text: str, q0: float, digits: int) -> CriticalPoint:
    """The root of h to ``digits`` digits by mpmath quadrature and findroot, started at the float64 root."""
    with mpmath.workdps(digits + GUARD_DIGITS):
        sb2 = mpmath.mpf(sigma_b2_text)

        mp = MpExpectations(act)

        def h(q):
            square, prime_square, _ = mp(q)
            return q - sb2 - square / prime_square

        try:
            q = mpmath.findroot(h, (mpmath.mpf(q0), mpmath.mpf(q0) * (1 + mpmath.mpf(2) ** -40)),
                                tol=mpmath.mpf(10) ** (-digits - 3), maxsteps=12, verify=False)
        except (ValueError, ZeroDivisionError) as err:
            raise InvalidParameterError(f"the critical point of {act.name!r} did not converge to {digits} digits: "
                                        f"{err}; try fewer digits") from err
        square, prime_square, _ = mp(q)
        w, check = 1 / prime_square, abs(q - sb2 - square / prime_square)
        if check > mpmath.mpf(10) ** (-digits - 2) * max(1, abs(q)):
            raise InvalidParameterError(f"the critical point of {act.name!r} did not converge to {digits} digits "
                                        f"(residual {mpmath.nstr(check, 3)}); try fewer digits")
        return CriticalPoint(act.name, sigma_b2, True, float(w), float(q), mpmath.nstr(w, digits), digits, "mpmath",
                             (f"h(q*) = {mpmath.nstr(check, 3)} at {digits + GUARD_DIGITS} working digits",))
