"""The activation's σ and σ′ as the mean-field integrals need them, with the checks that make the integrals exist.

The maps of :mod:`gradmath.meanfield.maps` integrate σ(√q z)² and σ′(√q z)² against
the Gaussian density. They exist when σ is defined on all of ℝ and grows slower than
the Gaussian tail decays; :func:`meanfield_kernels` refuses activations whose values
are not finite on the quadrature nodes or whose integrand has not decayed at the
edge of the rule (|z| = 10), naming the activation and the q at which it failed.

They also carry σ's *breakpoints*: the points of ℝ where σ or σ′ may fail to be smooth
(:func:`breakpoints`), found symbolically once, so that the quadrature rules put a panel
edge at each of them (hard tanh: ±1) and converge, with an honest error estimate, as for a
smooth activation. ``None`` when they could not be found (an infinite or large set, or
SymPy ran out of time): the rules then fall back to the single edge at 0 and the results
are labelled estimates.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from gradmath.errors import InvalidParameterError, NonFiniteError
from gradmath.meanfield.gaussian import Z_MAX

__all__ = ["MeanFieldKernels", "meanfield_kernels", "is_smooth", "breakpoints", "exact_breakpoints", "MAX_BREAKPOINTS"]

#: The integrand at |z| = Z_MAX must be this small relative to the integral (the neglected tail).
_TAIL_FRACTION = 1e-12
#: At most this many breakpoints are put on panel edges; a larger (or infinite) set is not searched further.
MAX_BREAKPOINTS = 16
#: CPU seconds SymPy may spend finding the breakpoints of one activation.
BREAKPOINT_SECONDS = 5.0


@dataclass(frozen=True)
class MeanFieldKernels:
    """σ and σ′ in float64 for one activation, refusing values that would make an integral diverge."""

    name: str
    sigma: Callable[[np.ndarray], np.ndarray]
    prime: Callable[[np.ndarray], np.ndarray]
    smooth: bool = False     #: σ is built from analytic functions only (see :func:`is_smooth`)
    #: the sorted points of ℝ where σ or σ′ may break (see :func:`breakpoints`); None: not found
    breakpoints: tuple[float, ...] | None = ()

    @property
    def edges(self) -> tuple[float, ...]:
        """The breakpoints and 0, sorted: where the quadrature rules put panel edges (in u = √q z)."""
        return tuple(sorted({0.0, *(self.breakpoints or ())}))

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

    smooth = is_smooth(act.expression)
    points = () if smooth else breakpoints(act.expression, act.derivative)
    return MeanFieldKernels(act.name, sigma, prime, smooth, points)


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


_CACHE: dict = {}


def breakpoints(*exprs) -> tuple[float, ...] | None:
    """The real points where the SymPy expressions (σ and σ′) may fail to be smooth, sorted, as floats.

    Collected from the tree: the boundaries of each Piecewise condition, the zeros of the argument of
    Abs, Heaviside and sign, of a − b for Max/Min(a, b), and of the base of a fractional power; each
    solved with :func:`sympy.solveset` over ℝ within :data:`BREAKPOINT_SECONDS` of CPU time. ``None``
    when a set is not finite, has more than :data:`MAX_BREAKPOINTS` points, contains floor, ceiling,
    frac or Mod, or was not found in time (or off the main thread, where no timer can stop SymPy, unless
    every equation is a polynomial). A point that is not a real break only adds a panel edge.

    >>> from gradmath.expressions import X
    >>> import sympy as sp
    >>> breakpoints(sp.Max(-1, sp.Min(1, X))), breakpoints(sp.Abs(X - 2) + sp.Heaviside(X)), breakpoints(sp.tanh(X))
    ((-1.0, 1.0), (0.0, 2.0), ())
    >>> breakpoints(sp.Abs(sp.sin(X))) is None      # infinitely many
    True
    """
    found = exact_breakpoints(*exprs)
    return None if found is None else tuple(sorted({float(v) + 0.0 for v in found}))


def exact_breakpoints(*exprs) -> tuple | None:
    """The breakpoints of :func:`breakpoints` as exact SymPy numbers (for quadrature at any precision)."""
    key = tuple(exprs)
    if key not in _CACHE:
        found = _find(exprs)
        if found is _TIMEOUT:
            return None
        if len(_CACHE) >= 256:       # a stated limit on what a long session of custom activations keeps
            _CACHE.clear()
        _CACHE[key] = found
    return _CACHE[key]


_TIMEOUT = object()


class _OutOfTime(Exception):
    pass


def _equations(exprs) -> list | None:
    import sympy as sp
    from gradmath.expressions import X

    out = []
    for expr in exprs:
        for node in sp.preorder_traversal(expr):
            if not isinstance(node, sp.Basic) or X not in node.free_symbols:
                continue
            if isinstance(node, (sp.floor, sp.ceiling, sp.frac, sp.Mod)):
                return None
            if isinstance(node, sp.Piecewise):
                for _, cond in node.args:
                    out += [r.lhs - r.rhs for r in cond.atoms(sp.core.relational.Relational)]
            elif isinstance(node, (sp.Abs, sp.Heaviside, sp.sign, sp.DiracDelta)):
                out.append(node.args[0])
            elif isinstance(node, (sp.Max, sp.Min)):
                out += [a - b for i, a in enumerate(node.args) for b in node.args[i + 1:]]
            elif isinstance(node, sp.Pow) and not (node.exp.is_integer or node.base.is_positive):
                out.append(node.base)
    return [e for e in dict.fromkeys(out) if X in e.free_symbols]


def _find(exprs):
    import math

    import sympy as sp
    from gradmath.cputime import cpu_time_limit, timer_usable
    from gradmath.expressions import X

    equations = _equations(exprs)
    if equations is None:
        return None
    if not equations:
        return ()
    polynomial = all(e.is_polynomial(X) for e in equations)
    if not timer_usable() and not polynomial:
        return _TIMEOUT
    points: dict = {}                                # exact value by its float, to count distinct points
    try:
        with cpu_time_limit(BREAKPOINT_SECONDS, _OutOfTime) if timer_usable() else _nothing():
            for e in equations:
                if polynomial:
                    poly = sp.Poly(e, X)
                    roots = [] if poly.is_zero else sp.real_roots(poly)
                    if poly.is_zero:
                        return None
                else:
                    roots = sp.solveset(e, X, domain=sp.S.Reals)
                    if not isinstance(roots, sp.FiniteSet):
                        return None
                for r in roots:
                    value = complex(sp.N(r, 30))
                    if value.imag != 0 or not math.isfinite(value.real):
                        return None
                    points.setdefault(float(value.real) + 0.0, r)
                if len(points) > MAX_BREAKPOINTS:
                    return None
    except _OutOfTime:
        return _TIMEOUT
    return tuple(points[k] for k in sorted(points))


class _nothing:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False
