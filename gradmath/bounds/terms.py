"""The arithmetic of bounds (a) and (b) per weighted layer, in log10, with the rounding allowed on each.

Bound (a) for layer l is γ_h^(L−l) · c_out · ∏_{r=l+1}^{L} ‖(wʳ)ᵀ‖ · ‖aᴸ − y‖, bound (b) the
same with each example's max_j |σ′(zʳ_j)| in place of each γ (``proofs/induced-norm-bounds.md``).
:func:`layer_terms` computes once per network and norm everything that does not depend on
the examples; :meth:`LayerTerms.check_layers` adds an example batch's part and counts the
measured norms above the bounds.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache

import numpy as np
import sympy as sp

from gradmath.activations import Activation, get_activation
from gradmath.network import SOFTMAX, Network
from gradmath.norms import check_norm, log10_add, row_max_abs, transpose_norm

__all__ = [
    "ROUNDING_SLACK_PER_LAYER",
    "LOG_ROUNDING",
    "UNDERFLOW_UNIT",
    "SOFTMAX_JACOBIAN_BOUND",
    "sup_abs_prime",
    "exponent",
    "log10_weight_factors",
    "softmax_jacobian_factor",
    "log10_data_factors",
    "LayerTerms",
    "layer_terms",
]

#: Relative slack per layer allowed when a measured norm is compared with a bound: the
#: computed δˡ passes through L − l + 1 rounded products, each off by a few ε relative to
#: the norms in the bound; 64ε per layer covers that with room. A measured value counts
#: as a violation only above bound · (1 + ROUNDING_SLACK_PER_LAYER · (L − l + 2)).
ROUNDING_SLACK_PER_LAYER = 64 * float(np.finfo(np.float64).eps)

#: Relative error of one float64 log10 or addition, applied to the sum of the absolute
#: values of the log10 terms that make up a bound (a sum of K logs is off by ≤ Kε·Σ|terms|).
LOG_ROUNDING = 4 * float(np.finfo(np.float64).eps)

#: Absolute error one rounding can leave once values are subnormal (gradual underflow):
#: there relative error is unbounded, so each comparison also allows an absolute floor
#: UNDERFLOW_UNIT · (L + 1)(n_max + 1)² amplified by the largest factor the bound allows
#: between a later layer and this one. It matters only for norms below ~1e-290.
UNDERFLOW_UNIT = 2.0 ** -1074

#: ‖diag(a) − aaᵀ‖_p ≤ max_j 2a_j(1 − a_j) ≤ ½ for p = 1, 2, ∞ (``proofs/induced-norm-bounds.md``).
SOFTMAX_JACOBIAN_BOUND = 0.5

_EPS = float(np.finfo(np.float64).eps)


@lru_cache(maxsize=None)
def _sup_abs_prime(name: str, expression) -> float:
    act = get_activation(name) if expression is None else Activation(name, expression)
    negated = Activation(f"{act.name}-negated", -act.expression)  # its γ is −inf σ′
    return max(_float_at_least(act.gamma), _float_at_least(negated.gamma))


def _float_at_least(gamma) -> float:
    """The exact γ when it is a float, else the smallest float ≥ the enclosure's upper end."""
    if gamma.exact is not None:
        value = float(gamma.exact)
        if bool(sp.Rational(value) >= gamma.exact):
            return value
    upper = Fraction(gamma.enclosure[1])
    value = float(upper)
    return value if Fraction(value) >= upper else float(np.nextafter(value, np.inf))


def sup_abs_prime(activation) -> float:
    """sup |σ′| as a float no smaller than the rigorous enclosure's upper end.

    This is γ in bound (a). The seed's γ = sup σ′ suffices when σ′ ≥ −sup σ′
    (true of every built-in activation: GELU's σ′ dips to −0.129, below γ = 1.129);
    the verifier takes the larger of sup σ′ and sup(−σ′) so custom activations are safe too.

    >>> sup_abs_prime("sigmoid"), sup_abs_prime("tanh")
    (0.25, 1.0)
    """
    act = get_activation(activation)
    key_expr = None if get_activation(act.name) is act else act.expression
    return _sup_abs_prime(act.name, key_expr)


def exponent(network: Network, layer: int) -> int:
    """k, the number of γ factors in bound (a) for δ at ``layer`` (L − l + 1 or L − l).

    >>> from gradmath.network import Network
    >>> exponent(Network.random((2, 3, 3, 1), cost="quadratic"), 2)
    3
    >>> exponent(Network.random((2, 3, 3, 1), cost="cross-entropy"), 2)
    2
    """
    L = network.depth
    return L - layer + (1 if _output_has_sigma_prime(network) else 0)


def _output_has_sigma_prime(network: Network) -> bool:
    return network.cost == "quadratic" and network.output_activation != SOFTMAX


def log10_weight_factors(network: Network, norm="2") -> np.ndarray:
    """log10 ‖(wʳ)ᵀ‖_p for r = 2, …, L (entry r − 2); the dual norm of wʳ for p ≠ 2.

    A :class:`Network` is immutable (its arrays are read-only), so the factors are
    computed once per network and norm and kept while the network lives.
    """
    norm = check_norm(norm)
    cached = _WEIGHT_FACTORS.setdefault(network, {})
    if norm not in cached:
        with np.errstate(divide="ignore"):
            cached[norm] = np.log10([transpose_norm(w, norm) for w in network.weights])
        cached[norm].flags.writeable = False
    return cached[norm]


_WEIGHT_FACTORS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def softmax_jacobian_factor(a: np.ndarray) -> np.ndarray:
    """max_j 2a_j(1 − a_j) per row: ‖diag(a) − aaᵀ‖_p for p = 1, ∞ and an upper bound for p = 2.

    1 − a_j is summed from the other entries at the row's largest a_j, where
    subtracting from 1 would cancel.

    >>> softmax_jacobian_factor(np.array([[0.5, 0.5], [1 - 2**-40, 2**-40]]))
    array([5.0000000e-01, 1.8189894e-12])
    """
    rows = np.arange(a.shape[0])
    top = a.argmax(axis=1)
    others = a.sum(axis=1, keepdims=True) - a
    rest = a.copy()
    rest[rows, top] = 0.0
    others[rows, top] = rest.sum(axis=1)
    return (2.0 * a * others).max(axis=1)


def log10_data_factors(network: Network, p) -> tuple[np.ndarray, np.ndarray]:
    """Row l − 2: Σ_{r=l}^{L} log10 (factor of layer r) per example: max|σ′(zʳ)| for the hidden
    layers, then the output factor (max|σ′(zᴸ)|, max_j 2a_j(1 − a_j) for softmax, or 1);
    and the same sums of the terms' absolute values (for the rounding allowance)."""
    L = network.depth
    logs = np.zeros((L - 1, p.mantissas[0].shape[0]))
    with np.errstate(divide="ignore"):
        for i in range(L - 2):
            logs[i] = np.log10(row_max_abs(p.primes[i]))
        if network.cost == "quadratic":
            if network.output_activation == SOFTMAX:
                logs[L - 2] = np.log10(softmax_jacobian_factor(p.activations[-1]))
            else:
                logs[L - 2] = np.log10(row_max_abs(p.primes[-1]))
    finite = np.where(np.isfinite(logs), np.abs(logs), 0.0)
    return np.cumsum(logs[::-1], axis=0)[::-1], np.cumsum(finite[::-1], axis=0)[::-1]


@dataclass(frozen=True, eq=False)
class LayerTerms:
    """The example-independent parts of bounds (a) and (b), entry i for layer l = i + 2.

    ``gamma_part`` is log10 of γ_h^(L−l) · c_out · ∏_{r>l} ‖(wʳ)ᵀ‖ and ``w_suffix`` of the weight
    product alone; ``abs_*`` are the sums of the absolute values of their log10 terms, from which
    the rounding of the sums is allowed for (``log_eps`` per unit); ``slack`` is the relative
    rounding of δ itself (:data:`ROUNDING_SLACK_PER_LAYER`) and ``floor`` the absolute floor for
    subnormal values (:data:`UNDERFLOW_UNIT`), both in log10.
    """

    gamma_hidden: float
    output_factor: float
    gamma_part: np.ndarray
    w_suffix: np.ndarray
    abs_gamma_part: np.ndarray
    abs_w_suffix: np.ndarray
    slack: np.ndarray
    log_eps: np.ndarray
    floor: np.ndarray

    def check_layers(self, measured: np.ndarray, log_res: np.ndarray, abs_res: np.ndarray,
                     data_part: np.ndarray, abs_data_part: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per layer, the largest bounds (a) and (b) over the examples and how many ``measured`` exceed them.

        ``measured`` ((L − 1) × examples) holds log10 ‖δˡ‖ in row l − 2; ``log_res`` is log10 ‖aᴸ − y‖
        per example, ``abs_res`` |log_res| (0 where not finite); ``data_part`` and ``abs_data_part``
        are :func:`log10_data_factors`. Returns three arrays of length L − 1.
        """
        b_a = self.gamma_part[:, None] + log_res
        b_b = data_part + self.w_suffix[:, None]
        b_b += log_res
        # Every tolerance below is at least slack (≥ 0), rounding is monotone, and log10_add(v, floor)
        # ≥ v up to the rounding of v·ln10/ln10 (within 2ε|v|), so an example at or below
        # v(1 − 4ε) − 1e-300 with v = min(b_a, b_b) + slack cannot be a violation; only the rest (none,
        # usually; an output layer whose bound is its measured value passes on the slack) go through
        # the full test. NaN anywhere: full test.
        with np.errstate(invalid="ignore"):  # inf − inf: NaN, so those examples take the full test
            low = np.minimum(b_a, b_b)
            low += self.slack[:, None]
            low -= _LOW_MARGIN * np.abs(low) + 1e-300
            layer, example = np.nonzero(~(measured <= low))
        bad = np.zeros(len(self.gamma_part), dtype=np.int64)
        if layer.size:
            m, a, b = measured[layer, example], b_a[layer, example], b_b[layer, example]
            terms = abs_res[example] + np.where(np.isfinite(m), np.abs(m), 0.0)
            tol_a = self.slack[layer] + self.log_eps[layer] * (self.abs_gamma_part[layer] + terms)
            tol_b = self.slack[layer] + self.log_eps[layer] * (abs_data_part[layer, example]
                                                               + self.abs_w_suffix[layer] + terms)
            limit = log10_add(np.minimum(a + tol_a, b + tol_b), self.floor[layer])
            bad += np.bincount(layer[m > limit], minlength=len(bad))
        return b_a.max(axis=1), b_b.max(axis=1), bad


#: Relative margin of the fast no-violation test in :meth:`LayerTerms.check_layers` (twice the 2ε needed).
_LOW_MARGIN = 4 * _EPS


def layer_terms(network: Network, norm: str) -> LayerTerms:
    """The :class:`LayerTerms` of ``network`` in ``norm`` (already checked with :func:`check_norm`)."""
    L = network.depth
    layers = range(2, L + 1)
    log_w = log10_weight_factors(network, norm)
    # W_suffix[l − 2] = Σ_{r=l+1}^{L} log10 ‖(wʳ)ᵀ‖
    w_suffix = np.concatenate([np.cumsum(log_w[::-1])[::-1][1:], [0.0]])
    gamma_h = sup_abs_prime(network.hidden_activation) if L > 2 else 1.0
    if network.cost != "quadratic":
        out_gamma = 1.0
    elif network.output_activation == SOFTMAX:
        out_gamma = SOFTMAX_JACOBIAN_BOUND
    else:
        out_gamma = sup_abs_prime(network.output_activation)
    hidden_count = np.array([L - l for l in layers], dtype=np.float64)
    gamma_part = hidden_count * np.log10(gamma_h) + np.log10(out_gamma) + w_suffix
    slack = np.log10(1.0 + ROUNDING_SLACK_PER_LAYER * np.array([L - l + 2 for l in layers], dtype=np.float64))
    # Rounding of the log10 sums themselves: each of the K terms t carries an error ≤ ε|t|.
    finite_w = np.where(np.isfinite(log_w), np.abs(log_w), 0.0)  # −inf: a zero matrix, nothing to round
    abs_w_suffix = np.concatenate([np.cumsum(finite_w[::-1])[::-1][1:], [0.0]])
    abs_gamma_part = hidden_count * abs(np.log10(gamma_h)) + abs(np.log10(out_gamma)) + abs_w_suffix
    log_eps = LOG_ROUNDING * np.array([L - l + 3 for l in layers], dtype=np.float64)
    return LayerTerms(
        gamma_hidden=gamma_h, output_factor=out_gamma, gamma_part=gamma_part, w_suffix=w_suffix,
        abs_gamma_part=abs_gamma_part, abs_w_suffix=abs_w_suffix, slack=slack, log_eps=log_eps,
        floor=_log10_underflow_floor(network, gamma_part),
    )


def _log10_underflow_floor(network: Network, gamma_part: np.ndarray) -> np.ndarray:
    """log10 of the absolute floor per layer (see :data:`UNDERFLOW_UNIT`)."""
    later_min = np.minimum.accumulate(np.append(gamma_part, 0.0)[::-1])[::-1][:-1]
    with np.errstate(invalid="ignore"):  # −inf − (−inf): a zero weight matrix, δ exactly 0 there
        amplification = gamma_part - np.minimum(later_min, 0.0)
    amplification = np.where(np.isnan(amplification), -np.inf, amplification)
    count = (network.depth + 1) * (max(network.sizes) + 1) ** 2
    return np.log10(UNDERFLOW_UNIT * count) + amplification
