"""The induced-norm bounds on ‖δˡ‖ = ‖∂C/∂bˡ‖ and ‖∂C/∂wˡ‖, per layer and per example, in log10.

Notation of the proofs (``proofs/induced-norm-bounds.md``): layer 1 is the input
layer, L the output layer, l = 2, …, L the weighted layers. By Nielsen's (124),
δˡ = Σ′(zˡ)(wˡ⁺¹)ᵀ ⋯ Σ′(zᴸ⁻¹)(wᴸ)ᵀ δᴸ, and δᴸ = J(aᴸ − y) where J is Σ′(zᴸ)
(quadratic cost, elementwise output), the softmax Jacobian diag(a) − aaᵀ
(quadratic cost, softmax output) or the identity (cross-entropy with sigmoid,
log-loss with softmax). Taking induced p-norms:

(a) ‖δˡ‖ ≤ γ_h^(L−l) · c_out · ∏_{r=l+1}^{L} ‖(wʳ)ᵀ‖ · ‖aᴸ − y‖, with γ_h = sup|σ′| of the
    hidden activation and c_out = sup|σ′| of the output activation, ½ (softmax Jacobian),
    or 1; so the exponent of γ is k = L − l + 1 or L − l;
(b) the same with max_j |σ′(zʳ_j)| of the example in place of each γ;
(c) ‖∂C/∂wˡ‖ = ‖δˡ(aˡ⁻¹)ᵀ‖ ≤ ‖δˡ‖·‖(aˡ⁻¹)ᵀ‖ = ‖δˡ‖·‖aˡ⁻¹‖_q, an equality (rank one,
    ``proofs/rank-one-equality.md``).

For p ≠ 2, ‖(wʳ)ᵀ‖_p = ‖wʳ‖_q with q the dual exponent (:mod:`gradmath.norms`,
``proofs/dual-norm-correction.md``).
Products over depth are sums of log10 values, so a 10,000-layer network gives
finite bounds. Checked by ``tests/test_bounds.py``.

Examples
--------
>>> import numpy as np
>>> from gradmath.network import Network
>>> net = Network.random((4, 5, 5, 3), seed=0, cost="quadratic")
>>> x, y = np.random.default_rng(0).random((20, 4)), np.zeros((20, 3))
>>> report = verify_network(net, x, y, norm="inf")
>>> report.violations, [layer.l for layer in report.layers], [layer.exponent for layer in report.layers]
(0, [2, 3, 4], [3, 2, 1])
>>> all(layer.tightness_gamma >= layer.tightness_data >= 1 for layer in report.layers)
True

A network far too deep for float64 products still gets finite log10 bounds:

>>> deep = Network([np.full((1, 1), 0.5)] * 10_000, [np.zeros(1)] * 10_000, cost="cross-entropy")
>>> r = verify_network(deep, np.ones((1, 1)), np.zeros((1, 1)))
>>> first = r.layers[0]
>>> round(first.log10_bound_gamma), round(first.log10_delta_max), first.delta_max, r.violations
(-9030, -9118, 0.0, 0)
>>> round(first.log10_bound_gamma - first.log10_delta_max)   # measured in log space too (mantissa · 2^exponent)
88
"""

from __future__ import annotations

from collections.abc import Callable
import contextlib
import os
import weakref
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache

import numpy as np
import sympy as sp

from gradmath.activations import Activation, get_activation
from gradmath.backprop import _prepare_batch, _rescale, _scaled_backprop_checked, check_finite_rows, output_residual
from gradmath.network import SOFTMAX, Network
from gradmath.norms import (
    LOG10_2,
    check_norm,
    dual_norm,
    log10_add,
    log10_scaled_norms,
    log10_vector_norms,
    pow10,
    row_max_abs,
    transpose_norm,
)
from gradmath.validation import check_int

__all__ = [
    "verify_network",
    "VerificationReport",
    "LayerBound",
    "sup_abs_prime",
    "exponent",
    "log10_weight_factors",
    "ROUNDING_SLACK_PER_LAYER",
    "SOFTMAX_JACOBIAN_BOUND",
    "NOTATION",
    "softmax_jacobian_factor",
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

#: Said in every report: the layer numbers are the proofs'.
NOTATION = "layers use the proofs' notation: input layer 1, output layer L; l = 2..L are the weighted layers"

#: Examples per report whose weight gradients δˡ(aˡ⁻¹)ᵀ are formed explicitly to check (c).
RANK_ONE_EXAMPLES = 4


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


@dataclass(frozen=True)
class LayerBound:
    """Bounds and measurements for one weighted layer ``l`` (the proofs' numbering).

    ``tightness_*`` is bound / measured, each the largest over the examples
    (``None`` where the measured norm is 0 or the ratio leaves float64).
    """

    l: int
    exponent: int
    delta_max: float
    delta_median: float
    log10_delta_max: float
    log10_bound_gamma: float
    log10_bound_data: float
    tightness_gamma: float | None
    tightness_data: float | None
    violations: int

    def to_json(self) -> dict:
        return {k: _json_float(v) for k, v in self.__dict__.items()}


@dataclass(frozen=True)
class VerificationReport:
    """The result of :func:`verify_network`: per-layer bounds, measurements and violations."""

    norm: str
    examples: int
    violations: int
    layers: tuple[LayerBound, ...]
    network: dict
    gamma_hidden: float
    output_factor: float
    rank_one_max_gap: float
    rounding_slack_per_layer: float = ROUNDING_SLACK_PER_LAYER
    notation: str = NOTATION

    def to_json(self) -> dict:
        return {
            "notation": self.notation,
            "norm": self.norm,
            "examples": self.examples,
            "violations": self.violations,
            "network": self.network,
            "gamma_hidden": self.gamma_hidden,
            "output_factor": self.output_factor,
            "rank_one_max_gap": _json_float(self.rank_one_max_gap),
            "rounding_slack_per_layer": self.rounding_slack_per_layer,
            "layers": [layer.to_json() for layer in self.layers],
        }

    def __repr__(self) -> str:
        return (f"VerificationReport(norm={self.norm!r}, examples={self.examples}, "
                f"layers={len(self.layers)}, violations={self.violations})")


def verify_network(network: Network, x, y, *, norm="2", chunk_size: int | None = None,
                   progress: Callable[[int, int], None] | None = None) -> VerificationReport:
    """Check bounds (a), (b), (c) for every example and every weighted layer.

    Parameters
    ----------
    network : Network
    x : array (N × n_1)
    y : array (N × n_L) or N integer labels
    norm : {"2", "1", "inf"}
        The vector p-norm and the matrix norm it induces.
    chunk_size : int, optional
        Examples per chunk (default: about :data:`VERIFY_CHUNK_BYTES` of activations each).
    progress : callable, optional
        Called as ``progress(done, total)`` after each chunk.

    Returns
    -------
    VerificationReport

    Raises
    ------
    ShapeError, NonFiniteError, DataError, UnknownNameError
    """
    if not isinstance(network, Network):
        from gradmath.errors import InvalidParameterError

        raise InvalidParameterError(f"network={network!r} must be a gradmath Network (see gradmath.formats)")
    norm = check_norm(norm)
    x, y = _prepare_batch(network, x, y, check_x=False)  # x's finiteness: per chunk, below
    with _single_threaded_blas():
        return _verify(network, x, y, norm, chunk_size, progress)


#: Chunks are verified on up to this many threads at once (NumPy and SciPy release the GIL), each
#: with a one-thread BLAS: products such as (N × 30)(30 × 30) are too small to share between BLAS
#: threads, which on a busy 2-core machine mostly wait for each other (3× slower, measured), while
#: whole chunks share well and parallelise the elementwise work too.
MAX_THREADS = 8


#: Default chunk: about this many bytes of activations per chunk (cache-sized; 8 MiB measured
#: fastest on [784, 30, 30, 30, 30, 10]), and at least VERIFY_CHUNK_MIN_ROWS examples.
VERIFY_CHUNK_BYTES = 8 << 20
VERIFY_CHUNK_MIN_ROWS = 256


def _single_threaded_blas():
    controller = _blas_controller()
    if controller is None:  # threadpoolctl comes with scikit-learn; without it BLAS keeps its default
        return contextlib.nullcontext()
    return controller.limit(limits=1, user_api="blas")


@lru_cache(maxsize=1)
def _blas_controller():
    """One scan of the loaded BLAS libraries per process (a scan reads /proc, about a millisecond)."""
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:
        return None
    return ThreadpoolController()


def _chunks(n: int, size: int, workers: int) -> list[slice]:
    """Consecutive row ranges of at most ``size`` rows, their number a multiple of ``workers``."""
    count = -(-n // size)
    if count > 1:
        count = -(-count // workers) * workers
    size = -(-n // min(count, n))
    return [slice(start, min(start + size, n)) for start in range(0, n, size)]


def _verify(network: Network, x: np.ndarray, y: np.ndarray, norm: str, chunk_size, progress) -> VerificationReport:
    n = x.shape[0]
    if chunk_size is None:
        size = max(VERIFY_CHUNK_MIN_ROWS, VERIFY_CHUNK_BYTES // (8 * sum(network.sizes)))
    else:
        size = check_int("chunk_size", chunk_size, min_value=1)
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
    floor = _log10_underflow_floor(network, gamma_part)
    # Rounding of the log10 sums themselves: each of the K terms t carries an error ≤ ε|t|.
    finite_w = np.where(np.isfinite(log_w), np.abs(log_w), 0.0)  # −inf: a zero matrix, nothing to round
    abs_w_suffix = np.concatenate([np.cumsum(finite_w[::-1])[::-1][1:], [0.0]])
    abs_gamma_part = hidden_count * abs(np.log10(gamma_h)) + abs(np.log10(out_gamma)) + abs_w_suffix
    log_eps = LOG_ROUNDING * np.array([L - l + 3 for l in layers], dtype=np.float64)

    caller_errstate = np.geterr()  # worker threads start from NumPy's defaults: use the caller's

    def check_chunk(rows: slice):
        with np.errstate(**caller_errstate):
            return _check_chunk(rows)

    def _check_chunk(rows: slice):
        """Measured log10 ‖δˡ‖, the largest bounds (a), (b) and the violations of one chunk."""
        check_finite_rows("x", x[rows], rows.start)
        p = _scaled_backprop_checked(network, x[rows], y[rows])
        # The residual goes through the same exact power-of-two scaling as δ, so where δᴸ is the
        # residual (cross-entropy, log-loss) measured and bound agree to the last bit.
        res_mantissa, res_exponent = _rescale(output_residual(network, p.activations[-1], y[rows]))
        log_res = log10_scaled_norms(res_mantissa, norm) + res_exponent * LOG10_2
        data_part, abs_data_part = _log10_data_factors(network, p)  # (L − 1) × rows
        abs_res = np.abs(np.where(np.isfinite(log_res), log_res, 0.0))
        measured = np.empty((L - 1, rows.stop - rows.start))
        max_a, max_b = np.empty(L - 1), np.empty(L - 1)
        bad = np.zeros(L - 1, dtype=np.int64)
        for i in range(L - 1):
            m = log10_scaled_norms(p.mantissas[i], norm) + p.exponents[i] * LOG10_2
            b_a = gamma_part[i] + log_res
            b_b = data_part[i] + w_suffix[i] + log_res
            measured[i] = m
            max_a[i], max_b[i] = b_a.max(), b_b.max()
            terms = abs_res + np.where(np.isfinite(m), np.abs(m), 0.0)
            tol_a = slack[i] + log_eps[i] * (abs_gamma_part[i] + terms)
            tol_b = slack[i] + log_eps[i] * (abs_data_part[i] + abs_w_suffix[i] + terms)
            limit = log10_add(np.minimum(b_a + tol_a, b_b + tol_b), floor[i])
            bad[i] = np.count_nonzero(m > limit)
        gap = 0.0
        if rows.start == 0:
            gap, bad_rank_one = _check_rank_one(p, norm, slack)
            bad += bad_rank_one
        return rows, measured, max_a, max_b, bad, gap

    workers = max(1, min(MAX_THREADS, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                         else os.cpu_count() or 1))
    chunks = _chunks(n, size, workers)
    measured = np.empty((L - 1, n))
    max_a = np.full(L - 1, -np.inf)
    max_b = np.full(L - 1, -np.inf)
    violations = np.zeros(L - 1, dtype=np.int64)
    rank_one_gap = 0.0
    with ThreadPoolExecutor(max_workers=min(workers, len(chunks))) as pool:
        for rows, m, a, b, bad, gap in pool.map(check_chunk, chunks):  # in order: repeatable results
            measured[:, rows] = m
            np.maximum(max_a, a, out=max_a)
            np.maximum(max_b, b, out=max_b)
            violations += bad
            rank_one_gap = max(rank_one_gap, gap)
            if progress is not None:
                progress(rows.stop, n)
    results = []
    for i, l in enumerate(layers):
        log_max = float(measured[i].max())
        results.append(LayerBound(
            l=l,
            exponent=exponent(network, l),
            delta_max=pow10(log_max),
            delta_median=pow10(float(np.median(measured[i]))),
            log10_delta_max=log_max,
            log10_bound_gamma=float(max_a[i]),
            log10_bound_data=float(max_b[i]),
            tightness_gamma=_ratio(max_a[i], log_max),
            tightness_data=_ratio(max_b[i], log_max),
            violations=int(violations[i]),
        ))
    return VerificationReport(
        norm=norm, examples=n, violations=int(violations.sum()), layers=tuple(results),
        network=network.to_json(), gamma_hidden=gamma_h, output_factor=out_gamma, rank_one_max_gap=rank_one_gap,
    )


def _log10_underflow_floor(network: Network, gamma_part: np.ndarray) -> np.ndarray:
    """log10 of the absolute floor per layer (see :data:`UNDERFLOW_UNIT`)."""
    later_min = np.minimum.accumulate(np.append(gamma_part, 0.0)[::-1])[::-1][:-1]
    with np.errstate(invalid="ignore"):  # −inf − (−inf): a zero weight matrix, δ exactly 0 there
        amplification = gamma_part - np.minimum(later_min, 0.0)
    amplification = np.where(np.isnan(amplification), -np.inf, amplification)
    count = (network.depth + 1) * (max(network.sizes) + 1) ** 2
    return np.log10(UNDERFLOW_UNIT * count) + amplification


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


def _log10_data_factors(network: Network, p) -> np.ndarray:
    """Row l − 2: Σ_{r=l}^{L} log10 (factor of layer r) per example: max|σ′(zʳ)| for the hidden
    layers, then the output factor (max|σ′(zᴸ)|, max_j 2a_j(1 − a_j) for softmax, or 1)."""
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


def _check_rank_one(p, norm: str, slack: np.ndarray) -> tuple[float, np.ndarray]:
    """Bound (c) on the first examples, with ∂C/∂wˡ = δˡ(aˡ⁻¹)ᵀ formed as a matrix.

    Returns the largest relative gap |‖δaᵀ‖ / (‖δ‖‖a‖_q) − 1| and the violations per layer.
    """
    q = dual_norm(norm)
    k = min(RANK_ONE_EXAMPLES, p.mantissas[0].shape[0])
    gap, bad = 0.0, np.zeros(len(p.mantissas), dtype=np.int64)
    for i, delta in enumerate(p.mantissas):  # the power-of-two scale cancels in the ratio
        a_prev = p.activations[i]
        for e in range(k):
            d, a = delta[e], a_prev[e]
            if not (np.any(d) and np.any(a)):
                continue
            scale_d, scale_a = np.abs(d).max(), np.abs(a).max()
            matrix = np.outer(d / scale_d, a / scale_a)
            explicit = _explicit_induced_norm(matrix, norm)
            log_bound = (log10_vector_norms(d / scale_d, norm)[0] + log10_vector_norms(a / scale_a, q)[0])
            ratio = explicit / 10.0 ** log_bound
            gap = max(gap, abs(ratio - 1.0))
            if np.log10(explicit) > log_bound + slack[i]:
                bad[i] += 1
    return gap, bad


def _explicit_induced_norm(matrix: np.ndarray, norm: str) -> float:
    """The induced norm of an explicit matrix, without using that it has rank one."""
    mags = np.abs(matrix)
    if norm == "1":
        return float(mags.sum(axis=0).max())
    if norm == "inf":
        return float(mags.sum(axis=1).max())
    # p = 2: a rank-one matrix has one non-zero singular value, so ‖M‖₂ = ‖M‖_F; the SVD
    # check of that step is in tests/test_bounds.py (an SVD here would dominate the run time).
    return float(np.sqrt(np.einsum("ij,ij->", matrix, matrix)))


def _ratio(log_bound: float, log_measured: float) -> float | None:
    if not (np.isfinite(log_bound) and np.isfinite(log_measured)):
        return None
    diff = log_bound - log_measured
    if diff > 300:
        return None
    return float(10.0 ** diff)


def _json_float(value):
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value
