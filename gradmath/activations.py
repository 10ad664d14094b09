"""Activations, each defined once as a SymPy expression in ``x``.

Everything else is derived from that one expression: the derivative σ′, the
supremum γ = sup |σ′| with sup σ′ and inf σ′ (:mod:`gradmath.gamma`), and NumPy and mpmath functions for
σ and σ′ built by :func:`sympy.lambdify` from the same expression. The built-in
activations also carry hand-written NumPy kernels that stay finite and silent for
any float64 input (sigmoid through :func:`scipy.special.expit`); the tests check
each kernel against the lambdified derivation.

ReLU is ``Piecewise((0, x <= 0), (x, True))``, so σ′(0) = 0 in every path: SymPy's
derivative, the mpmath function built from it, and the NumPy kernel ``(z > 0)`` (the
convention of PyTorch). γ = sup |σ′| is 1 whichever value σ′(0) takes.

Examples
--------
>>> sig = get_activation("sigmoid")
>>> sig.expression
1/(1 + exp(-x))
>>> sig.derivative
exp(-x)/(1 + exp(-x))**2
>>> float(sig.prime(0.0))
0.25
>>> float(sig.prime(-1e4)), float(sig.sigma(1e4))   # no overflow warning, no NaN
(0.0, 1.0)
>>> act = register_activation("mysoftsign", "x/(1+abs(x))")
>>> float(act.prime(1.0))
0.25
>>> get_activation("sigmod")
Traceback (most recent call last):
...
gradmath.errors.UnknownActivationError: unknown activation 'sigmod' (did you mean 'sigmoid'?); known: arctan, gelu, ...
>>> unregister_activation("mysoftsign")
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property

import mpmath
import numpy as np
import sympy as sp
from scipy.special import erfc, expit

from gradmath.errors import ExpressionError, InvalidParameterError, NonFiniteError, UnknownActivationError
from gradmath.expressions import X, parse_expression, summarise
from gradmath.validation import suggest

__all__ = [
    "Activation",
    "get_activation",
    "register_activation",
    "unregister_activation",
    "activation_names",
    "BUILTIN_ACTIVATIONS",
]

NumpyKernel = Callable[[np.ndarray], np.ndarray]


def _expression_in_x(expression) -> sp.Expr:
    if isinstance(expression, str):
        return parse_expression(expression)
    if not isinstance(expression, sp.Expr):
        raise ExpressionError(f"expression={expression!r} must be a string or a SymPy expression")
    symbols = expression.free_symbols
    return expression if not symbols or symbols == {X} else _to_x(expression)


def _to_x(expr: sp.Expr) -> sp.Expr:
    symbols = expr.free_symbols
    if len(symbols) != 1:
        raise ExpressionError(f"expression {expr} must depend on exactly one symbol, found {sorted(map(str, symbols))}")
    (s,) = symbols
    return expr.subs(s, X)




@dataclass(frozen=True)
class Activation:
    """An activation σ given by one SymPy expression in :data:`gradmath.expressions.X`.

    Parameters
    ----------
    name : str
        Registry name (lower case, e.g. ``"sigmoid"``).
    expression : sympy.Expr or str
        σ(x) as a SymPy expression in one symbol (taken as the real ``x``), or a string, parsed by
        :func:`gradmath.expressions.parse_expression` (never by ``sympify``).
    description : str
        One line for tables.
    stable_sigma, stable_prime : callable, optional
        Hand-written NumPy kernels that avoid overflow; checked against the
        derivation by the tests. Custom activations use the lambdified expression.
    """

    name: str
    expression: sp.Expr
    description: str = ""
    stable_sigma: NumpyKernel | None = field(default=None, repr=False, compare=False)
    stable_prime: NumpyKernel | None = field(default=None, repr=False, compare=False)

    def __post_init__(self):
        # σ′ is taken with respect to the real symbol X: a string, or an expression in another symbol
        # called x, would give σ′ = 0 (and SymPy would parse the string with sympify)
        object.__setattr__(self, "expression", _expression_in_x(self.expression))

    # ----- symbolic -------------------------------------------------------
    @cached_property
    def derivative(self) -> sp.Expr:
        """σ′(x), by :func:`sympy.diff` of the expression."""
        return sp.diff(self.expression, X)

    @cached_property
    def second_derivative(self) -> sp.Expr:
        """σ″(x), used to locate the supremum of σ′."""
        return sp.diff(self.derivative, X)

    @cached_property
    def gamma(self):
        """γ = sup |σ′|, with ``.sup`` and ``.inf``, as a :class:`gradmath.gamma.GammaResult`.

        Exact, certified, or labelled an estimate; ``bounded`` is False (γ = ∞) when σ′ is
        unbounded. Raises :class:`ExpressionError` when σ is not differentiable on all of ℝ.
        """
        from gradmath.gamma import derive_gamma

        return derive_gamma(self)

    # ----- numeric (NumPy) ------------------------------------------------
    @cached_property
    def _lambdified(self) -> tuple[Callable, Callable]:
        modules = [{"erf": _np_erf, "erfc": erfc, "Heaviside": _np_heaviside}, "numpy"]
        sigma = sp.lambdify(X, _for_numeric(self.expression), modules=modules)
        prime = sp.lambdify(X, _for_numeric(self.derivative), modules=modules)
        return sigma, prime

    def sigma(self, z) -> np.ndarray:
        """σ(z) elementwise in float64; raises :class:`NonFiniteError` rather than return NaN."""
        return self._evaluate(self.stable_sigma or self._lambdified[0], z, "sigma")

    def prime(self, z) -> np.ndarray:
        """σ′(z) elementwise in float64; raises :class:`NonFiniteError` rather than return NaN."""
        return self._evaluate(self.stable_prime or self._lambdified[1], z, "derivative")

    def _evaluate(self, kernel: Callable, z, what: str) -> np.ndarray:
        z = np.asarray(z, dtype=np.float64)
        with np.errstate(all="ignore"):  # overflow inside a kernel is checked below
            out = np.asarray(kernel(z), dtype=np.float64)
        if out.shape != z.shape:
            out = np.broadcast_to(out, z.shape).copy()
        finite_in = np.isfinite(z)
        bad = finite_in & ~np.isfinite(out)
        if bad.any():
            at = z[bad].flat[0]
            raise NonFiniteError(
                f"activation {self.name!r}: {what} is not finite at z={at!r}; "
                "the expression overflows there (rewrite it in a stable form)"
            )
        return out

    # ----- numeric (mpmath) -----------------------------------------------
    @cached_property
    def sigma_mp(self) -> Callable:
        """σ as an mpmath function of one ``mpf`` (at the caller's working precision)."""
        return sp.lambdify(X, _for_mpmath(self.expression), modules="mpmath")

    @cached_property
    def prime_mp(self) -> Callable:
        """σ′ as an mpmath function of one ``mpf``."""
        return sp.lambdify(X, _for_mpmath(self.derivative), modules="mpmath")

    @cached_property
    def sigma_mp_guarded(self) -> Callable:
        """:attr:`sigma_mp` that raises OverflowError rather than hang (:func:`guarded_mpmath`)."""
        return guarded_mpmath(_for_mpmath(self.expression))

    @cached_property
    def prime_mp_guarded(self) -> Callable:
        """:attr:`prime_mp` that raises OverflowError rather than hang (:func:`guarded_mpmath`)."""
        return guarded_mpmath(_for_mpmath(self.derivative))

    # ----- printing -------------------------------------------------------
    def _repr_latex_(self) -> str:
        return f"$\\sigma(x) = {sp.latex(self.expression)}$"

    def to_json(self) -> dict:
        """A JSON-ready summary: name, expression and derivative (LaTeX and plain)."""
        return summarise(self.name, self.expression, self.derivative)


#: mpmath evaluates exp(t) (and sinh, cosh, erfc, b**t) in time and memory that grow with |t|: fast up to
#: |t| = 2**1000, hours or a MemoryError by 2**100000, an OverflowError beyond. A larger argument is refused.
MAX_MP_EXP_ARGUMENT = mpmath.mpf(2) ** 1000


def _exp_argument(t):
    if isinstance(t, mpmath.mpf) and abs(t) > MAX_MP_EXP_ARGUMENT:
        raise OverflowError(f"exp argument {mpmath.nstr(t, 5)} beyond 2**1000")
    return t


def _guarded_power(base, exponent):
    """base**exponent where the exponent depends on a variable: refused as exp(exponent·ln|base|) would be."""
    if base != 0:
        _exp_argument(mpmath.mpf(exponent) * mpmath.log(abs(mpmath.mpf(base))))
    return mpmath.power(base, exponent)


_GUARDED_MP = {
    "exp": lambda t: mpmath.exp(_exp_argument(t)),
    "sinh": lambda t: mpmath.sinh(_exp_argument(t)),
    "cosh": lambda t: mpmath.cosh(_exp_argument(t)),
    "erfc": lambda t: mpmath.erfc(_exp_argument(t)),
    "guarded_power": _guarded_power,
}


def guarded_mpmath(expr: sp.Expr, symbols=(X,)) -> Callable:
    """``expr`` lambdified for mpmath, raising OverflowError instead of evaluating exp (sinh, cosh, erfc, or a
    power with a variable in the exponent) of an argument beyond 2**1000, where mpmath would hang."""
    power = sp.Function("guarded_power")
    expr = expr.replace(lambda e: e.is_Pow and bool(e.exp.free_symbols), lambda e: power(e.base, e.exp))
    return sp.lambdify(symbols, expr, modules=[_GUARDED_MP, "mpmath"])


def _np_erf(z):
    from scipy.special import erf

    return erf(z)


def _np_heaviside(z, h0=0.0):
    return np.heaviside(z, h0)


def _for_numeric(expr: sp.Expr) -> sp.Expr:
    """Piecewise forms lambdify to ``numpy.select``; Abs, Max, sign stay as they are."""
    return expr.rewrite(sp.Piecewise) if expr.has(sp.Heaviside) else expr


def _for_mpmath(expr: sp.Expr) -> sp.Expr:
    return expr.rewrite(sp.Piecewise) if expr.has(sp.Heaviside, sp.Max, sp.Min) else expr


# ----- built-in stable kernels ---------------------------------------------
_SQRT2 = math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


def _sigmoid_prime(z):
    return expit(z) * expit(-z)


def _tanh_prime(z):
    # sech²(z) = 4 σ(2z) σ(−2z): no cosh overflow.
    return 4.0 * expit(2.0 * z) * expit(-2.0 * z)


def _gelu(z):
    return 0.5 * z * erfc(-z / _SQRT2)


def _gelu_prime(z):
    return 0.5 * erfc(-z / _SQRT2) + z * np.exp(-0.5 * z * z) * _INV_SQRT_2PI


def _silu_prime(z):
    return expit(z) * (1.0 + z * expit(-z))


def _builtin() -> dict[str, Activation]:
    defs = [
        ("sigmoid", 1 / (1 + sp.exp(-X)), "logistic sigmoid 1/(1+e^-x)", expit, _sigmoid_prime),
        ("tanh", sp.tanh(X), "hyperbolic tangent", np.tanh, _tanh_prime),
        ("softplus", sp.log(1 + sp.exp(X)), "softplus ln(1+e^x)", lambda z: np.logaddexp(0.0, z), expit),
        ("arctan", sp.atan(X), "arctangent", np.arctan, lambda z: 1.0 / (1.0 + z * z)),
        ("softsign", X / (1 + sp.Abs(X)), "softsign x/(1+|x|)",
         lambda z: z / (1.0 + np.abs(z)), lambda z: 1.0 / (1.0 + np.abs(z)) ** 2),
        ("gelu", X * (1 + sp.erf(X / sp.sqrt(2))) / 2, "GELU, exact erf form", _gelu, _gelu_prime),
        ("silu", X / (1 + sp.exp(-X)), "SiLU (swish) x·sigmoid(x)", lambda z: z * expit(z), _silu_prime),
        # ReLU's σ′(0) is 0 in every path (SymPy's piece x ≤ 0, mpmath from it, NumPy's z > 0), as in PyTorch.
        ("relu", sp.Piecewise((0, X <= 0), (X, True)), "rectified linear max(0,x); σ′(0) = 0",
         lambda z: np.maximum(z, 0.0), lambda z: (z > 0).astype(np.float64)),
    ]
    return {name: Activation(name, expr, desc, s, p) for name, expr, desc, s, p in defs}


BUILTIN_ACTIVATIONS: tuple[str, ...] = tuple(_builtin())
_REGISTRY: dict[str, Activation] = _builtin()
#: σ(x) = x for linear layers (scikit-learn's "identity", PyTorch logits, Linear→Linear): built in, so
#: such networks load in any process, but left out of BUILTIN_ACTIVATIONS's tables (γ = 1, no window).
LINEAR_ACTIVATION = "identity"
_REGISTRY[LINEAR_ACTIVATION] = Activation(LINEAR_ACTIVATION, X, "identity x (linear layer); σ′ = 1",
                                          lambda z: np.array(z, dtype=np.float64), np.ones_like)


def activation_names() -> list[str]:
    """Names of all registered activations, sorted."""
    return sorted(_REGISTRY)


def get_activation(name: str | Activation) -> Activation:
    """Return the registered activation called ``name`` (an :class:`Activation` passes through)."""
    if isinstance(name, Activation):
        return name
    key = str(name).strip().lower()
    if key in _REGISTRY:
        return _REGISTRY[key]
    raise UnknownActivationError(
        f"unknown activation {name!r}{suggest(key, _REGISTRY)}; known: {', '.join(activation_names())}"
    )


def register_activation(name: str, expression: str | sp.Expr, *, description: str = "",
                        overwrite: bool = False) -> Activation:
    """Register a custom activation from a SymPy expression in ``x`` or a string.

    Strings are parsed by :func:`gradmath.expressions.parse_expression`, never by
    ``eval``. Built-in names cannot be replaced.

    Raises
    ------
    ExpressionError
        If the expression is not a real function of ``x`` alone.
    InvalidParameterError
        If the name is taken (pass ``overwrite=True`` for a custom one) or not an identifier.
    """
    key = str(name).strip().lower()
    if not key.replace("-", "_").isidentifier():
        raise InvalidParameterError(f"name={name!r} must be a word such as 'mysoftsign'")
    if key in BUILTIN_ACTIVATIONS or key == LINEAR_ACTIVATION:
        raise InvalidParameterError(f"name={name!r} is a built-in activation and cannot be replaced")
    if key in _REGISTRY and not overwrite:
        raise InvalidParameterError(f"name={name!r} is already registered (pass overwrite=True)")
    expr = _expression_in_x(expression)
    activation = Activation(key, expr, description or str(expr))
    _REGISTRY[key] = activation
    return activation


def unregister_activation(name: str) -> None:
    """Remove a custom activation (built-in ones stay)."""
    key = str(name).strip().lower()
    if key in BUILTIN_ACTIVATIONS or key == LINEAR_ACTIVATION:
        raise InvalidParameterError(f"name={name!r} is a built-in activation and cannot be removed")
    if key not in _REGISTRY:
        raise UnknownActivationError(f"unknown activation {name!r}; known: {', '.join(activation_names())}")
    del _REGISTRY[key]


def check_no_dirac_delta(activation: Activation) -> Activation:
    """``activation`` if its σ′ is a function; :class:`ExpressionError` if SymPy's σ′ has a Dirac delta.

    ``sign`` or ``Heaviside`` in σ (``x*Heaviside(x)``, ``x*sign(x)``) gives σ′ a term such as
    ``x*DiracDelta(x)``, which no NumPy or mpmath function evaluates; the chain rule is refused
    for it as γ is (:mod:`gradmath.gamma.hypotheses`).
    """
    delta = next((n for n in sp.preorder_traversal(activation.derivative) if isinstance(n, sp.DiracDelta)), None)
    if delta is not None:
        raise ExpressionError(
            f"activation {activation.name!r}: σ′ = {_shown(activation.derivative)} has a Dirac delta {delta} "
            "(σ jumps there, or SymPy cannot show it does not); use a continuous form such as max(0, x) or abs(x)")
    return activation


def _shown(expr: sp.Expr) -> str:
    text = str(expr)
    return text if len(text) <= 60 else text[:57] + "..."


def resolve_activation(spec: str) -> Activation:
    """A registered name, or else an expression string registered under that string.

    Used by the command line, where ``--activation "x/(1+abs(x))"`` is allowed.
    """
    key = str(spec).strip().lower()
    if key in _REGISTRY:
        return _REGISTRY[key]
    if any(c in spec for c in "()+-*/^") or spec.strip() == "x":
        expr = parse_expression(spec)
        activation = Activation(spec.strip(), expr, f"custom: {spec.strip()}")
        return activation
    return get_activation(spec)
