"""The one-dimensional mean-field integrals with mpmath, at any working precision.

:class:`MpExpectations` integrates with :func:`mpmath.quad` (tanh–sinh, with its error
estimate) over z ∈ (−∞, ∞) split at 0 (and at ±1/√q when q > 4, and at k/√q for each breakpoint k of φ,
exact to the working precision: see :func:`gradmath.meanfield.kernels.exact_breakpoints`), evaluating
φ and φ′ once per node for all the integrals at one q, and e^{−z²/2} once per node for every q. Used for single points
and the critical line when ``digits`` is asked for; the tests compare it with the
float64 quadrature and the closed forms.
"""

from __future__ import annotations

import dataclasses

import mpmath
import sympy as sp

from gradmath.errors import InvalidParameterError

__all__ = ["MpExpectations", "refine_point", "GUARD_DIGITS"]

#: Working digits beyond those asked for: the quadrature's own error estimate keeps it a few digits below
#: the working precision, and results are accepted only when the residual is below 10^−(digits+2).
GUARD_DIGITS = 6

_POINTS = [-mpmath.inf, 0, mpmath.inf]


class MpExpectations:
    """E[φ(√q z)²], E[φ′(√q z)²] and E[φ φ′ √q z]/q at the caller's mpmath precision.

    >>> from gradmath.activations import get_activation
    >>> with mpmath.workdps(30):
    ...     square, prime_square, stein = MpExpectations(get_activation("relu"))(mpmath.mpf(2))
    ...     print(mpmath.nstr(square, 20), mpmath.nstr(prime_square, 20))
    1.0 0.5
    """

    def __init__(self, activation):
        from gradmath.meanfield.kernels import exact_breakpoints, is_smooth

        self.sigma, self.prime = activation.sigma_mp, activation.prime_mp
        self._gauss: dict = {}
        found = () if is_smooth(activation.expression) else exact_breakpoints(activation.expression,
                                                                              activation.derivative)
        if found is None:
            raise InvalidParameterError(
                f"activation {activation.name!r}: the points where σ or σ′ breaks were not found, so no digits "
                "can be promised; drop --digits (the float64 result is labelled an estimate)")
        self.breaks = [mpmath.mpf(str(sp.N(k, mpmath.mp.dps + 10))) for k in found if k != 0]

    def _density(self, z):
        d = self._gauss.get(z)
        if d is None:
            d = self._gauss[z] = mpmath.exp(-z * z / 2)
        return d

    def __call__(self, q):
        """The three expectations at q > 0 (a tuple of mpf)."""
        r, memo = mpmath.sqrt(q), {}

        def values(z):
            v = memo.get(z)
            if v is None:
                x, density = r * z, self._density(z)
                s, p = self.sigma(x), self.prime(x)
                v = memo[z] = (s * s * density, p * p * density, s * p * x * density)
            return v

        norm = 1 / mpmath.sqrt(2 * mpmath.pi)
        # φ(√q z) changes on the scale 1/√q in z: split there too when that is finer than the Gaussian's own
        points = _POINTS if r <= 2 else [-mpmath.inf, -1 / r, 0, 1 / r, mpmath.inf]
        if self.breaks:     # panel ends at the kinks, so that tanh–sinh converges (and its estimate holds)
            points = sorted(set(points) | {k / r for k in self.breaks})
        return tuple(norm * mpmath.quad(lambda z, i=i: values(z)[i], points) for i in range(2)) + \
            (norm * mpmath.quad(lambda z: values(z)[2], points) / q,)


def refine_point(point, params, digits: int):
    """``point`` with q*, χ₁, 𝓛′(q*), ξ_q and ξ_∇ recomputed to ``digits`` digits (its ``precise`` field)."""
    act = params.activation
    with mpmath.workdps(digits + GUARD_DIGITS):
        sw2, sb2 = mpmath.mpf(params.sigma_w2_text), mpmath.mpf(params.sigma_b2_text)
        mp = MpExpectations(act)
        if point.q_star == 0:
            q = mpmath.mpf(0)
            chi = sw2 * act.prime_mp(q) ** 2
            slope, residual = None, mpmath.mpf(0)
        else:
            def g(t):
                return sw2 * mp(t)[0] + sb2 - t

            q0 = mpmath.mpf(point.q_star)
            try:
                q = mpmath.findroot(g, (q0, q0 * (1 + mpmath.mpf(2) ** -40)), tol=mpmath.mpf(10) ** (-digits - 3),
                                    maxsteps=12, verify=False)
            except (ValueError, ZeroDivisionError) as err:
                raise InvalidParameterError(f"q* of {act.name!r} did not converge to {digits} digits: {err}; "
                                            "try fewer digits") from err
            square, prime_square, stein = mp(q)
            residual = abs(sw2 * square + sb2 - q)
            chi, slope = sw2 * prime_square, sw2 * stein
        if residual > mpmath.mpf(10) ** (-digits - 2) * max(1, abs(q)):
            raise InvalidParameterError(f"q* of {act.name!r} did not converge to {digits} digits "
                                        f"(residual {mpmath.nstr(residual, 3)}); try fewer digits")
        values = [("q_star", q), ("chi_1", chi), ("xi_grad", None if chi == 1 else -1 / mpmath.log(chi))]
        if slope is not None:
            values += [("length_slope", slope), ("xi_q", None if slope == 1 else -1 / mpmath.log(slope))]
        if point.c_star == 1.0:
            values += [("c_star", mpmath.mpf(1)), ("chi_c", chi),
                       ("xi_c", None if chi == 1 else -1 / mpmath.log(chi))]
        precise = tuple((name, "oo" if v is None else mpmath.nstr(v, digits)) for name, v in values)
    return dataclasses.replace(point, digits=digits, precise=precise,
                               notes=point.notes + (f"precise values by mpmath at {digits + GUARD_DIGITS} working digits",))
