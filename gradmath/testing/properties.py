"""Theorems about gradients as assertions: each raises a :class:`BackpropMismatch` that says why.

Every assertion takes a :class:`~gradmath.testing.drawn.DrawnNetwork`, a
:class:`~gradmath.testing.drawn.Batch` and the gradients to judge, ``nabla_b`` and ``nabla_w`` in
network2's layout (the mean over the batch), and raises an :class:`AssertionError` subclass whose
message names the layer, the measured and expected values, the tolerance and where it comes from,
and the drawn network in full:

* :func:`assert_matches_reference`: equal to the matrix form in mpmath
  (:func:`gradmath.testing.reference.reference_gradients`) within its float64 rounding bound;
* :func:`assert_outer_product`: ∂C/∂wˡ = δˡ(aˡ⁻¹)ᵀ with δˡ = ∂C/∂bˡ (Nielsen's BP4), one example;
* :func:`assert_bounds`: bounds (a) and (b) of :mod:`gradmath.bounds` on ‖∂C/∂bˡ‖ in the chosen norm;
* :func:`assert_chain_product`: for a chain of one neuron per layer, the exact product form of
  :func:`gradmath.symbolic.chain.derive_chain`, evaluated in mpmath.

Examples
--------
>>> import numpy as np
>>> from gradmath.testing.drawn import Batch, DrawnNetwork
>>> net = DrawnNetwork((np.array([[2.0]]),), (np.array([[0.0]]),), cost="cross-entropy")
>>> batch = Batch(np.array([[1.0]]), np.array([[0.0]]))
>>> a = 1 / (1 + np.exp(-2.0))                               # δ = a − y for cross-entropy
>>> assert_matches_reference(net, batch, [np.array([[a]])], [np.array([[a]])])
Reference(sizes=(1, 1), examples=1)
>>> assert_matches_reference(net, batch, [np.array([[a * a * (1 - a)]])], [np.array([[a]])])
Traceback (most recent call last):
...
gradmath.testing.properties.GradientMismatch: ∂C/∂b² (nabla_b[0]) entry (0, 0) is 0.092... but the reference is 0.8807...; ...
"""

from __future__ import annotations

from functools import lru_cache

import mpmath
import numpy as np
import sympy as sp
from scipy.special import logsumexp

from gradmath.bounds import sup_abs_prime
from gradmath.norms import check_norm, log10_add, log10_vector_norms, transpose_norm_upper
from gradmath.testing.drawn import Batch, DrawnNetwork, layer_name
from gradmath.testing.reference import DIGITS, SAFETY, UNIT, Reference, reference_gradients

__all__ = ["BackpropMismatch", "BackpropRaised", "BackpropShapeError", "BackpropNotFinite", "GradientMismatch",
           "OuterProductMismatch", "BoundViolation", "ChainProductMismatch", "assert_matches_reference",
           "assert_outer_product", "assert_bounds", "assert_chain_product", "REFERENCE_WHY"]

_LN10 = float(np.log(10.0))
REFERENCE_WHY = (f"the reference is the matrix form (124) in mpmath at {DIGITS} digits; the tolerance is "
                 f"{SAFETY:g}× the first-order bound on float64 rounding in the forward and backward passes "
                 "(γ_n·Σ|terms| per dot product, with the rounding of σ and σ′ carried through), "
                 "computed beside the reference (gradmath.testing.reference)")


class BackpropMismatch(AssertionError):
    """A user's gradients fail a property; ``network`` and ``batch`` are the drawn case."""

    def __init__(self, message: str, network: DrawnNetwork | None = None, batch: Batch | None = None):
        super().__init__(message)
        self.network, self.batch, self.reason = network, batch, message

    def __str__(self) -> str:  # built when shown, not for each of the shrinker's failing examples
        message = self.reason
        if self.network is not None:
            message += "\nfor the drawn network:\n" + self.network.describe()
            if self.batch is not None:
                message += "\n" + self.batch.describe()
        return message


class BackpropRaised(BackpropMismatch):
    """The user's function raised an exception (its type and message are in the text)."""


class BackpropShapeError(BackpropMismatch):
    """The user's function returned something other than ``(nabla_b, nabla_w)`` of network2's shapes."""


class BackpropNotFinite(BackpropMismatch):
    """The user's function returned NaN or infinity."""


class GradientMismatch(BackpropMismatch):
    """An entry differs from the mpmath reference by more than its rounding bound."""


class OuterProductMismatch(BackpropMismatch):
    """∂C/∂wˡ is not δˡ(aˡ⁻¹)ᵀ."""


class BoundViolation(BackpropMismatch):
    """‖∂C/∂bˡ‖ exceeds bound (a) or (b)."""


class ChainProductMismatch(BackpropMismatch):
    """A one-neuron chain's gradient differs from the exact product form."""


def _worst(measured: np.ndarray, expected: np.ndarray, tolerance: np.ndarray):
    """The entry with the largest |measured − expected| / tolerance, and that ratio."""
    with np.errstate(over="ignore", invalid="ignore"):  # a difference of 1e300 over a tolerance of 1e-296: inf
        ratio = np.abs(measured - expected) / tolerance
    index = np.unravel_index(int(np.argmax(ratio)), ratio.shape)
    return index, float(ratio[index])


def _compare(kind: str, i: int, measured, expected, tolerance, why: str, error: type, net, batch) -> None:
    index, ratio = _worst(np.asarray(measured, dtype=np.float64), expected, tolerance)
    if ratio > 1.0:
        symbol = f"∂C/∂{layer_name(kind, i)} (nabla_{kind}[{i}])"
        m, e, t = float(measured[index]), float(expected[index]), float(tolerance[index])
        raise error(f"{symbol} entry {tuple(int(k) for k in index)} is {m!r} but the reference is {e!r}; "
                    f"|difference| {abs(m - e):.3g} exceeds the tolerance {t:.3g} by {ratio:.3g}×: {why}",
                    net, batch)


def assert_matches_reference(network: DrawnNetwork, batch: Batch, nabla_b, nabla_w, *,
                             reference: Reference | None = None) -> Reference:
    """The gradients equal the mpmath matrix form within float64's rounding bound; returns the reference.

    Layers are compared from the output back, so the message names the last layer where the
    error enters (errors in δ propagate to every earlier layer).
    """
    ref = reference if reference is not None else reference_gradients(network, batch)
    for i in reversed(range(len(network.weights))):
        _compare("b", i, nabla_b[i], ref.nabla_b[i], ref.tolerance_b[i], REFERENCE_WHY, GradientMismatch,
                 network, batch)
        _compare("w", i, nabla_w[i], ref.nabla_w[i], ref.tolerance_w[i], REFERENCE_WHY, GradientMismatch,
                 network, batch)
    return ref


def assert_outer_product(network: DrawnNetwork, batch: Batch, nabla_b, nabla_w, *,
                         reference: Reference | None = None) -> None:
    """∂C/∂wˡ = δˡ(aˡ⁻¹)ᵀ for one example, with δˡ the given ∂C/∂bˡ and aˡ⁻¹ from the forward pass.

    The tolerance is :data:`~gradmath.testing.reference.SAFETY` × (u|δ||a|ᵀ + |δ|ε(a)ᵀ): one rounding of
    each product and the rounding bound ε(a) of the activations. A batch of more than one example is
    skipped (the mean of outer products is no outer product).
    """
    if batch.size != 1:
        return
    ref = reference if reference is not None else reference_gradients(network, batch)
    for i in range(len(network.weights)):
        delta = np.asarray(nabla_b[i], dtype=np.float64)[:, 0]
        a, a_err = ref.activations[i][:, 0], ref.activation_errors[i][:, 0]
        expected = np.outer(delta, a)
        tol = SAFETY * (UNIT * np.abs(expected) + np.outer(np.abs(delta), a_err)) + 2.0 ** -982
        why = (f"BP4: ∂C/∂wˡ = δˡ(aˡ⁻¹)ᵀ with δˡ = nabla_b[{i}] as given and aˡ⁻¹ from the forward pass; the tolerance "
               "allows one rounding per product and the activations' own rounding bound")
        _compare("w", i, nabla_w[i], expected, tol, why, OuterProductMismatch, network, batch)


def assert_bounds(network: DrawnNetwork, batch: Batch, nabla_b, *, norm="2",
                  reference: Reference | None = None) -> None:
    """‖∂C/∂bˡ‖_p ≤ bound (a) and ≤ bound (b) for every layer (``proofs/induced-norm-bounds.md``).

    (a) γ_h^(L−l)·c_out·∏_{r>l}‖(wʳ)ᵀ‖_p·‖aᴸ − y‖_p with γ_h = sup|σ′| (:func:`gradmath.bounds.sup_abs_prime`;
    for registered activations only: γ of an expression takes seconds to certify), c_out = sup|σ′| of the
    output (quadratic cost), ½ (softmax Jacobian) or 1; (b) the same with each example's max_j|σ′(zʳ_j)|.
    For a batch the bound is the mean of the examples' bounds (the norm of a mean is at most the mean
    of the norms). Products are sums of log10; each side is allowed the reference's tolerance.
    """
    ref = reference if reference is not None else reference_gradients(network, batch)
    norm = check_norm(norm)
    L, m = network.depth, batch.size
    log_w = [np.log10(max(transpose_norm_upper(w, norm), 1e-320)) for w in network.weights]
    out = network.activation(L - 2)
    residual = ref.activations[-1] * (batch.y.sum(axis=0) if network.cost == "log-loss" else 1.0) - batch.y
    if network.cost != "quadratic":
        out_gamma, out_data = 0.0, np.zeros(m)
    elif out is None:
        a = ref.activations[-1]
        out_gamma, out_data = np.log10(0.5), np.log10(np.maximum((2 * a * (1 - a)).max(axis=0), 1e-320))
    else:
        out_gamma = _log10_gamma(network.output_activation)
        out_data = np.log10(np.maximum(np.abs(ref.primes[-1]).max(axis=0), 1e-320))
    hidden_gamma = _log10_gamma(network.hidden_activation) if L > 2 else 0.0
    log_res = log10_vector_norms(residual.T, norm)
    for i in range(L - 1):
        later = range(i + 1, L - 1)  # weights[r] for r > i
        w_part = sum(log_w[r] for r in later)
        # the hidden Σ′(zʳ) of layers i, …, L − 3 (indices of weights[]), entry r − 1 for each later weight r
        data = sum(np.log10(np.maximum(np.abs(ref.primes[r - 1]).max(axis=0), 1e-320)) for r in later)
        bounds = {"(b) with each example's max|σ′|": _log10_mean(data + out_data + w_part + log_res)}
        if hidden_gamma is not None and out_gamma is not None:
            bounds["(a) with γ = sup|σ′|"] = _log10_mean((L - 2 - i) * hidden_gamma + out_gamma + w_part + log_res)
        measured = float(log10_vector_norms(np.asarray(nabla_b[i], dtype=np.float64)[:, 0], norm)[0])
        allowance = float(log10_vector_norms(ref.tolerance_b[i][:, 0], norm)[0])
        for name, log_bound in bounds.items():
            limit = float(log10_add(log_bound + np.log10(1 + 64 * UNIT * L), allowance))
            if measured > limit:
                raise BoundViolation(
                    f"‖∂C/∂{layer_name('b', i)}‖_{norm} (nabla_b[{i}]) is 10^{measured:.6f} but bound {name} is "
                    f"10^{log_bound:.6f}; the tolerance 10^{allowance:.3f} is the reference's rounding bound (and "
                    "64u per layer on the bound's product): the bounds hold for every correct gradient "
                    "(proofs/induced-norm-bounds.md)", network, batch)


def _log10_mean(log_values: np.ndarray) -> float:
    """log10 of the mean of 10^v, without leaving float64."""
    return float((logsumexp(np.asarray(log_values) * _LN10) - np.log(len(log_values))) / _LN10)


def _log10_gamma(name: str) -> float | None:
    """log10 sup|σ′| for a registered activation; ``None`` for an expression (γ not certified here)."""
    try:
        return float(np.log10(sup_abs_prime(name)))
    except Exception:  # an expression string, or γ unbounded or only estimated: bound (a) does not apply
        return None


@lru_cache(maxsize=128)
def _chain_functions(depth: int, layer: int, activation: str, cost: str):
    from gradmath.symbolic.chain import chain_symbol, derive_chain
    from gradmath.testing.drawn import resolve

    d = derive_chain(depth, layer, resolve(activation), cost, verify=False)
    symbols = ([chain_symbol("z", j) for j in range(1, depth + 1)] + [chain_symbol("w", j) for j in range(1, depth + 1)]
               + [chain_symbol("a", j) for j in range(0, depth + 1)] + [sp.Symbol("y", real=True)])
    return sp.lambdify(symbols, d.d_bias, "mpmath"), sp.lambdify(symbols, d.d_weight, "mpmath")


def is_chain(network: DrawnNetwork) -> bool:
    """One neuron per layer, one activation throughout and a cost of one output: Nielsen's chain."""
    return (set(network.sizes) == {1} and network.hidden_activation == network.output_activation
            and network.cost in ("quadratic", "cross-entropy"))


def assert_chain_product(network: DrawnNetwork, batch: Batch, nabla_b, nabla_w, *,
                         reference: Reference | None = None) -> None:
    """For a one-neuron chain, ∂C/∂bˡ and ∂C/∂wˡ equal the exact product form (Nielsen's (121)/(122)).

    The product form of :func:`gradmath.symbolic.chain.derive_chain` is evaluated in mpmath with
    enough digits that σ(z) stays distinct from 1 (30 plus |z|·log10 e); the tolerance is the
    reference's rounding bound. Networks that are not chains are skipped.
    """
    if not is_chain(network):
        return
    ref = reference if reference is not None else reference_gradients(network, batch)
    depth, act = network.depth - 1, network.activation(0)
    for i in range(depth):
        f_b, f_w = _chain_functions(depth, i + 1, network.hidden_activation, network.cost)
        values_b, values_w = [], []
        for e in range(batch.size):
            z_top = max(1.0, max(abs(w[0, 0]) for w in network.weights) * 1e3)
            with mpmath.workdps(DIGITS + 10 + int(min(z_top, 5000))):
                a, zs, a_list = mpmath.mpf(float(batch.x[0, e])), [], []
                a_list.append(a)
                for w, b in zip(network.weights, network.biases):
                    zs.append(mpmath.mpf(float(w[0, 0])) * a + mpmath.mpf(float(b[0, 0])))
                    a = act.sigma_mp(zs[-1])
                    a_list.append(a)
                args = zs + [mpmath.mpf(float(w[0, 0])) for w in network.weights] + a_list + [mpmath.mpf(float(batch.y[0, e]))]
                values_b.append(float(f_b(*args)))
                values_w.append(float(f_w(*args)))
        expected_b, expected_w = np.array([[np.mean(values_b)]]), np.array([[np.mean(values_w)]])
        why = (f"the exact product form σ′(z_l)·∏ w_j σ′(z_j)·∂C/∂a_L of derive_chain({depth}, layer={i + 1}) "
               "in mpmath; the tolerance is the reference's float64 rounding bound")
        _compare("b", i, nabla_b[i], expected_b, ref.tolerance_b[i], why, ChainProductMismatch, network, batch)
        _compare("w", i, nabla_w[i], expected_w, ref.tolerance_w[i], why, ChainProductMismatch, network, batch)
