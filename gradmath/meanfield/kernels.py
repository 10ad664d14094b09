"""The activation's σ and σ′ as the mean-field integrals need them, with the checks that make the integrals exist.

The maps of :mod:`gradmath.meanfield.maps` integrate σ(√q z)² and σ′(√q z)² against
the Gaussian density. They exist when σ is defined on all of ℝ and grows slower than
the Gaussian tail decays; :func:`meanfield_kernels` refuses activations whose values
are not finite on the quadrature nodes or whose integrand has not decayed at the
edge of the rule (|z| = 10), naming the activation and the q at which it failed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from gradmath.errors import InvalidParameterError, NonFiniteError
from gradmath.meanfield.gaussian import Z_MAX

__all__ = ["MeanFieldKernels", "meanfield_kernels", "is_smooth"]

#: The integrand at |z| = Z_MAX must be this small relative to the integral (the neglected tail).
_TAIL_FRACTION = 1e-12


@dataclass(frozen=True)
class MeanFieldKernels:
    """σ and σ′ in float64 for one activation, refusing values that would make an integral diverge."""

    name: str
    sigma: Callable[[np.ndarray], np.ndarray]
    prime: Callable[[np.ndarray], np.ndarray]
    smooth: bool = False     #: σ is built from analytic functions only (see :func:`is_smooth`)

    def check_tails(self, q: float) -> None:
        """Raise :class:`InvalidParameterError` when σ(√q z)² has not decayed at |z| = Z_MAX."""
        z = np.array([-Z_MAX, -Z_MAX / 2.0, 0.0, Z_MAX / 2.0, Z_MAX])
        x = np.sqrt(q) * z
        values = self.evaluate(x, q)
        density = np.exp(-0.5 * z * z)
        edge = max(values[0] ** 2 * density[0], values[-1] ** 2 * density[-1])
        bulk = float(np.max(values**2 * density)) + 1e-300
        if edge > _TAIL_FRACTION * bulk:
            raise InvalidParameterError(
                f"activation {self.name!r}: the mean-field integrals do not converge at q={q:.6g} "
                "(σ grows too fast for the Gaussian tail); use an activation that grows at most "
                "polynomially, or smaller sigma_w2/sigma_b2"
            )

    def evaluate(self, x: np.ndarray, q: float | None = None) -> np.ndarray:
        try:
            return self.sigma(x)
        except NonFiniteError as err:
            raise InvalidParameterError(
                f"activation {self.name!r}: the mean-field integrals need σ finite on all of ℝ ({err})"
            ) from err


def meanfield_kernels(activation) -> MeanFieldKernels:
    """The float64 kernels of ``activation`` (an :class:`~gradmath.activations.Activation`).

    The hypotheses come first: σ defined and differentiable on all of ℝ
    (:func:`gradmath.gamma.hypotheses.check_defined_on_reals`), else :class:`InvalidParameterError`.
    """
    from gradmath.errors import ExpressionError
    from gradmath.gamma.hypotheses import check_defined_on_reals

    act = activation
    try:
        check_defined_on_reals(act.expression, "σ")
        check_defined_on_reals(act.derivative, "σ′")
    except ExpressionError as err:
        raise InvalidParameterError(f"activation {act.name!r} (mean field): {err}") from err

    def sigma(x):
        return act.sigma(x)

    def prime(x):
        try:
            return act.prime(x)
        except NonFiniteError as err:
            raise InvalidParameterError(
                f"activation {act.name!r}: the mean-field integrals need σ′ finite on all of ℝ ({err})"
            ) from err

    return MeanFieldKernels(act.name, sigma, prime, is_smooth(act.expression))


def is_smooth(expr) -> bool:
    """True when the SymPy expression has no piece that can break smoothness on ℝ: no Piecewise, Abs, Max, Min,
    Heaviside, sign, floor, ceiling, frac, Mod or DiracDelta, and no fractional power of a base that may vanish.

    Structural only (no simplification); ``False`` is the safe answer.

    >>> from gradmath.expressions import X
    >>> import sympy as sp
    >>> is_smooth(sp.tanh(X)), is_smooth(sp.Max(-1, sp.Min(1, X))), is_smooth(sp.cbrt(X)), is_smooth(sp.sqrt(1 + X**2))
    (True, False, False, True)
    """
    import sympy as sp

    if expr.has(sp.Piecewise, sp.Abs, sp.Max, sp.Min, sp.Heaviside, sp.sign, sp.floor, sp.ceiling, sp.frac,
                sp.Mod, sp.DiracDelta):
        return False
    return all(p.exp.is_integer or p.base.is_positive for p in expr.atoms(sp.Pow))
