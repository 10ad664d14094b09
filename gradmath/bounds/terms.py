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
from gradmath.errors import InvalidParameterError, UnknownActivationError
from gradmath.network import SOFTMAX, Network
from gradmath.norms import (
    UNIT_ROUNDOFF,
    check_norm,
    log10_add,
    rounding_gamma,
    row_max_abs,
    transpose_norm_upper,
)

__all__ = [
    "ROUNDING_SLACK_PER_LAYER",
    "LOG_ROUNDING",
    "UNDERFLOW_UNIT",
    "SOFTMAX_JACOBIAN_BOUND",
    "sup_abs_prime",
    "exponent",
    "output_factor",
    "output_factor_source",
    "log10_weight_factors",
    "log10_rounding_allowance",
    "softmax_jacobian_factor",
    "log10_data_factors",
    "LayerTerms",
    "layer_terms",
]

#: Relative allowance per backward step for the elementwise work that does not grow with the
#: widths: σ′ evaluated (the fused kernels agree with the activation to a few ulps, 8ε tested), the
#: product with it, the output layer's residual; 64ε covers that with room. The sums over a layer's
#: width are allowed for separately, by γ_n (:func:`log10_rounding_allowance`).
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
_LN10 = float(np.log(10.0))


@lru_cache(maxsize=None)
def _sup_abs_prime(name: str, expression) -> float:
    act = get_activation(name) if expression is None else Activation(name, expression)
    gamma = act.gamma                      # γ = sup |σ′| (gradmath.gamma), with its rigorous enclosure
    if gamma.bounded is False:
        raise InvalidParameterError(
            f"bound (a) needs a finite γ = sup|σ′|, but σ′ of activation {act.name!r} is unbounded; "
            "bound (a) does not apply (use an activation with bounded σ′)")
    if gamma.method == "estimate":   # bounded None (not proven bounded) or a sampled value
        proven = "" if gamma.bounded else ", and σ′ is not proven bounded"
        raise InvalidParameterError(
            f"bound (a) needs a proven upper bound of γ = sup|σ′|, but for activation {act.name!r} it is only "
            f"estimated ({gamma.value}){proven}; bound (a) does not apply")
    return _float_at_least(gamma)


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
    try:
        registered = get_activation(act.name) is act
    except UnknownActivationError:   # an Activation made from an expression and never registered
        registered = False
    return _sup_abs_prime(act.name, None if registered else act.expression)


def exponent(network: Network, layer: int) -> int:
    """k, the number of γ_h factors in bound (a) for δ at ``layer``: the L − l hidden Σ′, plus the
    output's when it has the hidden activation (quadratic cost); any other output factor is
    :func:`output_factor`, apart from k.

    >>> from gradmath.network import Network
    >>> exponent(Network.random((2, 3, 3, 1), cost="quadratic"), 2)   # sigmoid throughout: γ^(L−l+1)
    3
    >>> exponent(Network.random((2, 3, 3, 1), output_activation="tanh", cost="quadratic"), 2)
    2
    >>> exponent(Network.random((2, 3, 3, 1), cost="cross-entropy"), 2)
    2
    """
    L = network.depth
    return L - layer + (1 if _output_shares_gamma(network) else 0)


def _output_has_sigma_prime(network: Network) -> bool:
    return network.cost == "quadratic" and network.output_activation != SOFTMAX


def _output_shares_gamma(network: Network) -> bool:
    """Whether the output's Σ′(zᴸ) is bounded by the hidden γ (same activation): then k counts it."""
    return _output_has_sigma_prime(network) and network.output_activation == network.hidden_activation


def output_factor(network: Network) -> float:
    """c_out of bound (a): sup|σ′| of the output activation (quadratic cost), ½ for a softmax
    Jacobian, or 1 where δᴸ is the residual (cross-entropy with sigmoid, log-loss with softmax).

    >>> from gradmath.network import Network
    >>> net = Network.random((2, 3, 1), hidden_activation="tanh", output_activation="sigmoid", cost="quadratic")
    >>> output_factor(net)
    0.25
    """
    if network.cost != "quadratic":
        return 1.0
    if network.output_activation == SOFTMAX:
        return SOFTMAX_JACOBIAN_BOUND
    return sup_abs_prime(network.output_activation)


def output_factor_source(network: Network) -> str:
    """What :func:`output_factor` is, in words, and whether the exponent k already counts it.

    >>> from gradmath.network import Network
    >>> output_factor_source(Network.random((2, 3, 1), output_activation="tanh", cost="quadratic"))
    "sup|σ′| of the output activation 'tanh', a factor of its own (k counts the hidden Σ′ only)"
    """
    if network.cost != "quadratic":
        return f"δᴸ = aᴸ − y for the {network.cost} cost, no Σ′(zᴸ)"
    if network.output_activation == SOFTMAX:
        return "the bound ½ on the softmax Jacobian diag(a) − aaᵀ, not counted in k"
    if _output_shares_gamma(network):
        return f"sup|σ′| of the output activation {network.output_activation!r}, the hidden γ, counted in k"
    return (f"sup|σ′| of the output activation {network.output_activation!r}, a factor of its own "
            "(k counts the hidden Σ′ only)")


def log10_weight_factors(network: Network, norm="2") -> np.ndarray:
    """log10 ‖(wʳ)ᵀ‖_p for r = 2, …, L (entry r − 2); the dual norm of wʳ for p ≠ 2.

    A :class:`Network` is immutable (its arrays are read-only), so the factors are
    computed once per network and norm and kept while the network lives.
    """
    norm = check_norm(norm)
    cached = _WEIGHT_FACTORS.setdefault(network, {})
    if norm not in cached:
        with np.errstate(divide="ignore"):
            cached[norm] = np.log10([transpose_norm_upper(w, norm) for w in network.weights])
        cached[norm].flags.writeable = False
    return cached[norm]


_WEIGHT_FACTORS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def log10_rounding_allowance(network: Network, norm="2") -> tuple[np.ndarray, np.ndarray]:
    """log10 of the relative rounding allowed per layer l = 2, …, L (entry l − 2): for ‖δˡ‖ against
    bounds (a), (b), and for ‖δˡ(aˡ⁻¹)ᵀ‖ against ‖δˡ‖‖aˡ⁻¹‖_q in bound (c).

    Derived in ``proofs/induced-norm-bounds.md`` (*Rounding*) from Higham's γ_n = nu/(1 − nu): the
    computed δʳ⁻¹ = fl(σ′ ⊙ fl((wʳ)ᵀδʳ)) has ‖δʳ⁻¹‖ ≤ max|σ′|(1 + u)(‖(wʳ)ᵀ‖ + γ_{n_r}‖|wʳ|ᵀ‖)‖δʳ‖,
    and ‖|wʳ|ᵀ‖_p = ‖(wʳ)ᵀ‖_p for p = 1, ∞, ‖|wʳ|‖₂ ≤ min(‖wʳ‖_F, √(‖wʳ‖₁‖wʳ‖_∞)) for p = 2. So
    the allowance for layer l is the product over r = l + 1, …, L of
    (1 + 64ε)(1 + γ_{n_r}‖|wʳ|ᵀ‖/‖(wʳ)ᵀ‖), times 1 + 64ε for the output layer's δᴸ
    (1 + 64ε + 8γ_{n_L} where it is a softmax Jacobian times the residual), times
    (1 + γ_{n_l+1})(1 + γ_{n_L+1}) for the two vector norms compared. A sum over 10⁶ terms thus
    gets about 10⁶u ≈ 1.1e-10, where a fixed 64ε per layer would not do.

    >>> from gradmath.network import Network
    >>> net = Network([np.ones((1, 1)), np.ones((10**6, 1))], [np.zeros(1), np.zeros(10**6)])
    >>> delta, rank_one = log10_rounding_allowance(net, "inf")
    >>> [f"{10.0 ** v - 1:.1e}" for v in delta]   # (wᵀδ sums 10⁶ terms, ‖aᴸ − y‖ too) and (two 10⁶-term norms)
    ['2.2e-10', '2.2e-10']
    """
    norm = check_norm(norm)
    cached = _WEIGHT_FACTORS.setdefault(network, {})
    key = ("rounding", norm)
    if key not in cached:
        cached[key] = _rounding_allowance(network, norm)
        for array in cached[key]:
            array.flags.writeable = False
    return cached[key]


def _log10_1p(x):
    return np.log1p(x) / _LN10


def _rounding_allowance(network: Network, norm: str) -> tuple[np.ndarray, np.ndarray]:
    sizes = np.array(network.sizes, dtype=np.float64)
    log_w = log10_weight_factors(network, norm)
    kappa = np.ones(network.depth - 1)
    if norm == "2":  # ‖|w|‖₂ / ‖w‖₂, at most √rank
        for i, w in enumerate(network.weights):
            kappa[i] = _abs_spectral_ratio(w, log_w[i])
    # step r (entry r − 2): δʳ⁻¹ from δʳ, a sum over the n_r rows of wʳ
    step = _log10_1p(ROUNDING_SLACK_PER_LAYER) + _log10_1p(rounding_gamma(sizes[1:]) * kappa)
    later_steps = np.concatenate([np.cumsum(step[::-1])[::-1][1:], [0.0]])  # Σ_{r=l+1}^{L}
    n_out, widths, previous = sizes[-1], sizes[1:], sizes[:-1]
    jacobian = network.cost == "quadratic" and network.output_activation == SOFTMAX  # sums over n_L in δᴸ
    output = _log10_1p(ROUNDING_SLACK_PER_LAYER + (8.0 * rounding_gamma(n_out) if jacobian else 0.0))
    norms = _log10_1p(rounding_gamma(widths + 1.0)) + _log10_1p(rounding_gamma(n_out + 1.0))
    delta = later_steps + output + norms
    rank_one = _log10_1p(16.0 * UNIT_ROUNDOFF + 2.0 * rounding_gamma(widths * previous)
                         + 2.0 * rounding_gamma(widths) + 2.0 * rounding_gamma(previous))
    return delta, rank_one


def _abs_spectral_ratio(w: np.ndarray, log_norm: float) -> float:
    """An upper bound on ‖|w|‖₂ / u with 10^log_norm = u ≥ ‖w‖₂ (0 for a zero matrix), with margin."""
    if not np.isfinite(log_norm):
        return 0.0
    a = np.abs(w)
    largest = float(a.max())
    scaled = a / largest  # the ratio is scale-free; this keeps the sums finite
    with np.errstate(divide="ignore"):
        frobenius = 0.5 * np.log10(np.einsum("ij,ij->", scaled, scaled))
        mixed = 0.5 * (np.log10(scaled.sum(axis=0).max()) + np.log10(scaled.sum(axis=1).max()))
    ratio = 10.0 ** (min(frobenius, mixed) + np.log10(largest) - log_norm)
    return float(ratio * (1.0 + 1e-6))  # far above the rounding of these few sums and logs


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
    rounding of δ itself and ``rank_one_slack`` that of bound (c)'s two sides
    (:func:`log10_rounding_allowance`), and ``floor`` the absolute floor for subnormal values
    (:data:`UNDERFLOW_UNIT`), all in log10.
    """

    gamma_hidden: float
    output_factor: float
    gamma_part: np.ndarray
    w_suffix: np.ndarray
    abs_gamma_part: np.ndarray
    abs_w_suffix: np.ndarray
    slack: np.ndarray
    rank_one_slack: np.ndarray
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
    out_gamma = output_factor(network)
    hidden_count = np.array([L - l for l in layers], dtype=np.float64)
    gamma_part = hidden_count * np.log10(gamma_h) + np.log10(out_gamma) + w_suffix
    slack, rank_one_slack = log10_rounding_allowance(network, norm)
    # Rounding of the log10 sums themselves: each of the K terms t carries an error ≤ ε|t|.
    finite_w = np.where(np.isfinite(log_w), np.abs(log_w), 0.0)  # −inf: a zero matrix, nothing to round
    abs_w_suffix = np.concatenate([np.cumsum(finite_w[::-1])[::-1][1:], [0.0]])
    abs_gamma_part = hidden_count * abs(np.log10(gamma_h)) + abs(np.log10(out_gamma)) + abs_w_suffix
    log_eps = LOG_ROUNDING * np.array([L - l + 3 for l in layers], dtype=np.float64)
    return LayerTerms(
        gamma_hidden=gamma_h, output_factor=out_gamma, gamma_part=gamma_part, w_suffix=w_suffix,
        abs_gamma_part=abs_gamma_part, abs_w_suffix=abs_w_suffix, slack=slack, rank_one_slack=rank_one_slack,
        log_eps=log_eps,
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
