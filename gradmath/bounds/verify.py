"""The verifier's driver: the batch in cache-sized chunks on parallel threads, bounds (a), (b), (c) on each.

Each chunk runs the scaled backward pass (:func:`gradmath.backprop.scaled_backprop`), measures
log10 ‖δˡ‖ per example and hands it with the chunk's data factors to
:meth:`gradmath.bounds.terms.LayerTerms.check_layers`; the first chunk also checks bound (c)
(:mod:`gradmath.bounds.rank_one`). Results are gathered in chunk order, so they repeat exactly.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache

import numpy as np

from gradmath.backprop import ChunkBuffers, _rescale, _scaled_backprop_checked, output_residual
from gradmath.batch import _prepare_batch, first_layer_checked
from gradmath.bounds.rank_one import check_rank_one
from gradmath.bounds.report import LayerBound, VerificationReport, tightness
from gradmath.bounds.terms import exponent, layer_terms, log10_data_factors, output_factor_source
from gradmath.network import Network
from gradmath.norms import LOG10_2, check_norm, log10_scaled_norms, pow10
from gradmath.validation import check_int

__all__ = ["verify_network", "MAX_THREADS", "VERIFY_CHUNK_BYTES", "VERIFY_CHUNK_MAX_ROWS", "VERIFY_CHUNK_MIN_ROWS"]

#: Chunks are verified on up to this many threads at once (NumPy and SciPy release the GIL), each
#: with a one-thread BLAS: products such as (N × 30)(30 × 30) are too small to share between BLAS
#: threads, which on a busy 2-core machine mostly wait for each other (3× slower, measured), while
#: whole chunks share well when their NumPy calls are long (wide layers). For narrow later layers
#: see :func:`_first_product_dominates`.
MAX_THREADS = 8

#: Default chunk: at most VERIFY_CHUNK_BYTES of activations and VERIFY_CHUNK_MAX_ROWS examples, and at
#: least VERIFY_CHUNK_MIN_ROWS examples. About a thousand rows measured fastest on both benchmark
#: networks: on [784, 30, 30, 30, 30, 10] fewer NumPy calls per example than smaller chunks while a
#: 30-unit layer's arrays stay cache-sized, on [1024, 1024, 1024, 1024, 10] products large enough
#: for BLAS to run near its full rate (``benchmarks/bench_verify.py``).
VERIFY_CHUNK_BYTES = 32 << 20
VERIFY_CHUNK_MAX_ROWS = 1024
VERIFY_CHUNK_MIN_ROWS = 256


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
        Examples per chunk (default: at most :data:`VERIFY_CHUNK_MAX_ROWS`, and at most about
        :data:`VERIFY_CHUNK_BYTES` of activations each).
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
    x, y = _prepare_batch(network, x, y, check_x=False)  # x's finiteness: per chunk, in the forward pass
    with _single_threaded_blas():
        return _verify(network, x, y, norm, chunk_size, progress)


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
        size = max(VERIFY_CHUNK_MIN_ROWS, min(VERIFY_CHUNK_MAX_ROWS, VERIFY_CHUNK_BYTES // (8 * sum(network.sizes))))
    else:
        size = check_int("chunk_size", chunk_size, min_value=1)
    L = network.depth
    terms = layer_terms(network, norm)
    residual_is_delta = network.cost in ("cross-entropy", "log-loss")  # δᴸ = aᴸ − y (or aᴸΣy − y)
    caller_errstate = np.geterr()  # worker threads start from NumPy's defaults: use the caller's
    local = threading.local()  # each thread's ChunkBuffers, for this call only

    def check_chunk(rows: slice, first_product: np.ndarray | None = None):
        """Measured log10 ‖δˡ‖, the largest bounds (a), (b) and the violations of one chunk."""
        if not hasattr(local, "buffers"):
            local.buffers = ChunkBuffers(rows_per_chunk)  # the chunks' own length: contiguous views
        p = _scaled_backprop_checked(network, x[rows], y[rows], x_offset=rows.start, buffers=local.buffers,
                                     first_product=first_product)
        measured = np.empty((L - 1, rows.stop - rows.start))
        for i in range(L - 1):
            measured[i] = log10_scaled_norms(p.mantissas[i], norm) + p.exponents[i] * LOG10_2
        if residual_is_delta:  # the residual's scaled form is δᴸ's, bit for bit: measured and bound agree
            log_res = measured[L - 2]
        else:  # the residual goes through the same exact power-of-two scaling as δ
            res_mantissa, res_exponent = _rescale(output_residual(network, p.activations[-1], y[rows]))
            log_res = log10_scaled_norms(res_mantissa, norm) + res_exponent * LOG10_2
        data_part, abs_data_part = log10_data_factors(network, p)  # (L − 1) × rows
        abs_res = np.abs(np.where(np.isfinite(log_res), log_res, 0.0))
        max_a, max_b, bad = terms.check_layers(measured, log_res, abs_res, data_part, abs_data_part)
        gap = 0.0
        if rows.start == 0:
            gap, bad_rank_one = check_rank_one(p, norm, terms.rank_one_slack)
            bad += bad_rank_one
        return rows, measured, max_a, max_b, bad, gap

    def first_product(rows: slice, out: np.ndarray) -> np.ndarray:
        with np.errstate(**caller_errstate):
            return first_layer_checked(network, x[rows], rows.start, out=out)

    workers = max(1, min(MAX_THREADS, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                         else os.cpu_count() or 1))
    chunks = _chunks(n, size, workers)
    rows_per_chunk = chunks[0].stop - chunks[0].start
    if workers > 1 and len(chunks) > 1 and _first_product_dominates(network):
        results_in_order = _pipelined(chunks, check_chunk, first_product, (network.sizes[1], rows_per_chunk))
    else:
        results_in_order = _parallel(chunks, check_chunk, caller_errstate, workers)
    measured = np.empty((L - 1, n))
    max_a = np.full(L - 1, -np.inf)
    max_b = np.full(L - 1, -np.inf)
    violations = np.zeros(L - 1, dtype=np.int64)
    rank_one_gap = 0.0
    for rows, m, a, b, bad, gap in results_in_order:
        measured[:, rows] = m
        np.maximum(max_a, a, out=max_a)
        np.maximum(max_b, b, out=max_b)
        violations += bad
        rank_one_gap = max(rank_one_gap, gap)
        if progress is not None:
            progress(rows.stop, n)
    results = []
    log_medians = np.median(measured, axis=1)
    for i, l in enumerate(range(2, L + 1)):
        log_max = float(measured[i].max())
        results.append(LayerBound(
            l=l,
            exponent=exponent(network, l),
            delta_max=pow10(log_max),
            delta_median=pow10(float(log_medians[i])),
            log10_delta_max=log_max,
            log10_bound_gamma=float(max_a[i]),
            log10_bound_data=float(max_b[i]),
            tightness_gamma=tightness(max_a[i], log_max),
            tightness_data=tightness(max_b[i], log_max),
            violations=int(violations[i]),
            rounding_allowance=float(np.expm1(terms.slack[i] * np.log(10.0))),
        ))
    return VerificationReport(
        norm=norm, examples=n, violations=int(violations.sum()), layers=tuple(results), network=network.to_json(),
        gamma_hidden=terms.gamma_hidden, output_factor=terms.output_factor, rank_one_max_gap=rank_one_gap,
        output_factor_source=output_factor_source(network),
    )


def _first_product_dominates(network: Network) -> bool:
    """Whether x(w²)ᵀ is at least half the pass's matrix work (n₁n₂ ≥ 2Σ_{l≥3} n_{l−1}n_l per example).

    Then the later layers are narrow, and their many short NumPy calls would mostly wait for each
    other's interpreter lock on parallel threads: one thread forms the first products, ahead, while
    the calling thread does everything else (:func:`_pipelined`).
    """
    sizes = network.sizes
    later = sum(a * b for a, b in zip(sizes[1:-1], sizes[2:]))
    return sizes[0] * sizes[1] >= 2 * later


#: Chunks whose first product a pipeline forms ahead of the chunk being checked.
PIPELINE_AHEAD = 2


def _pipelined(chunks: list[slice], check_chunk, first_product, shape: tuple[int, int]):
    """Yield ``check_chunk(rows, z)`` in chunk order, each first product z formed on a worker thread.

    The worker runs at most :data:`PIPELINE_AHEAD` chunks ahead, writing into a ring of that many
    arrays plus one (the one being checked); each product is one long BLAS call that releases the
    interpreter lock, so it overlaps the calling thread's work on the earlier chunk.
    """
    ring = [np.empty(shape) for _ in range(PIPELINE_AHEAD + 1)]

    def submit(pool, j):
        rows = chunks[j]
        return pool.submit(first_product, rows, ring[j % len(ring)][:, : rows.stop - rows.start].T)

    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = [submit(pool, j) for j in range(min(PIPELINE_AHEAD, len(chunks)))]
        for j, rows in enumerate(chunks):
            if j + PIPELINE_AHEAD < len(chunks):
                pending.append(submit(pool, j + PIPELINE_AHEAD))
            yield check_chunk(rows, pending.pop(0).result())


def _parallel(chunks: list[slice], check_chunk, caller_errstate: dict, workers: int):
    """Yield ``check_chunk(rows)`` in chunk order, the chunks spread over ``workers`` threads."""

    def run(rows: slice):
        with np.errstate(**caller_errstate):
            return check_chunk(rows)

    with ThreadPoolExecutor(max_workers=min(workers, len(chunks))) as pool:
        yield from pool.map(run, chunks)  # in order: repeatable results
