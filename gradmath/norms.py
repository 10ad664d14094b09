"""Vector norms and induced matrix norms for p = 2, 1, ∞, in log10 where values can leave float64.

The induced norm of a matrix A is ‖A‖_p = sup ‖Ax‖_p / ‖x‖_p. For p = 1 it is the
largest absolute column sum, for p = ∞ the largest absolute row sum, and for
p = 2 the largest singular value. The bound (**) of the Stack Exchange answer
needs ‖(wʳ)ᵀ‖_p, and ‖Aᵀ‖_p = ‖A‖_q with q the dual exponent (1/p + 1/q = 1):
the step ‖Aᵀ‖ = ‖A‖ holds for p = 2 only (``proofs/dual-norm-correction.md``).

Examples
--------
>>> import numpy as np
>>> w = np.ones((3, 1))                 # one unit feeding three
>>> induced_norm(w, "inf"), transpose_norm(w, "inf")
(1.0, 3.0)
>>> dual_norm("1"), dual_norm("inf"), dual_norm("2")
('inf', '1', '2')
>>> round(float(log10_vector_norms(np.array([[3e300, 4e300]]), "2")[0]), 12)   # no overflow
300.698970004336
>>> spectral_norm(np.diag([3.0, 4.0])).value
4.0
>>> 4.0 <= spectral_norm_upper(np.diag([3.0, 4.0])) < 4.0 * (1 + 1e-14)   # certified: never below ‖A‖₂
True
>>> check_norm("fro")
Traceback (most recent call last):
...
gradmath.errors.UnknownNameError: norm='fro' is not one of '2', '1', 'inf'
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gradmath.validation import check_choice

__all__ = [
    "NORMS",
    "check_norm",
    "dual_norm",
    "log10_vector_norms",
    "induced_norm",
    "transpose_norm",
    "spectral_norm",
    "SpectralNorm",
    "spectral_norm_upper",
    "induced_norm_upper",
    "transpose_norm_upper",
    "rounding_gamma",
    "UNIT_ROUNDOFF",
    "CERTIFIED_GRAM_LIMIT",
    "DENSE_SVD_LIMIT",
    "log10_add",
    "log10_scaled_norms",
    "row_max_abs",
    "pow10",
    "LOG10_2",
]

#: The norms the verifier supports, as spelt on the command line.
NORMS = ("2", "1", "inf")

#: Matrices with min(shape) up to this size get a dense SVD (LAPACK); larger ones Lanczos.
DENSE_SVD_LIMIT = 512

_EPS = np.finfo(np.float64).eps

#: u = 2⁻⁵³, the unit roundoff of float64 (ε/2): fl(x ∘ y) = (x ∘ y)(1 + θ), |θ| ≤ u, away from underflow.
UNIT_ROUNDOFF = 2.0 ** -53
_ALIASES = {"2": "2", "1": "1", "inf": "inf", "∞": "inf", "2.0": "2", "1.0": "1"}


def check_norm(norm) -> str:
    """Return ``norm`` spelt as one of :data:`NORMS` (``2``, ``1``, ``np.inf`` and strings accepted)."""
    if isinstance(norm, (int, float)) and not isinstance(norm, bool):
        key = "inf" if norm == np.inf else str(int(norm)) if float(norm).is_integer() else str(norm)
    else:
        key = _ALIASES.get(str(norm).strip().lower(), str(norm))
    return check_choice("norm", key, NORMS)


def dual_norm(norm) -> str:
    """The dual exponent q with 1/p + 1/q = 1: 2 ↔ 2, 1 ↔ ∞."""
    return {"2": "2", "1": "inf", "inf": "1"}[check_norm(norm)]


def log10_vector_norms(rows: np.ndarray, norm) -> np.ndarray:
    """log10 ‖row‖_p for each row of ``rows`` (−inf for a zero row), without overflow or underflow.

    Each row is scaled by its largest absolute entry m before the 2-norm is
    taken, so ‖v‖₂ = m·‖v/m‖₂ stays finite for entries near 1e±300.
    """
    norm = check_norm(norm)
    rows = np.asarray(rows, dtype=np.float64)
    if rows.ndim == 1:
        rows = rows.reshape(1, -1)
    mags = np.abs(rows)
    m = mags.max(axis=1)
    with np.errstate(divide="ignore"):  # log10(0) = −inf marks a zero row
        log_m = np.log10(m)
    if norm == "inf":
        return log_m
    safe = np.where(m > 0, m, 1.0)[:, None]
    scaled = mags / safe
    inner = scaled.sum(axis=1) if norm == "1" else np.sqrt(np.einsum("ij,ij->i", scaled, scaled))
    with np.errstate(divide="ignore"):
        return np.where(m > 0, log_m + np.log10(np.where(m > 0, inner, 1.0)), -np.inf)


@dataclass(frozen=True)
class SpectralNorm:
    """The largest singular value of a matrix, with a stated accuracy.

    Attributes
    ----------
    value : float
        The estimate σ̂.
    error : float
        An absolute error estimate: some singular value lies in [σ̂ − error, σ̂ + error].
        For the dense SVD this is the usual size of LAPACK's backward error (4n·ε·σ̂, not a
        proven bound); for
        Lanczos it is the residual bound of the converged singular triplet plus the
        typical rounding in computing those residuals.
    method : str
        ``"svd"`` (LAPACK) or ``"lanczos"`` (ARPACK through :func:`scipy.sparse.linalg.svds`).

    Lanczos from a random start converges to the largest singular value except
    on a set of start vectors of measure zero; the residual bound certifies
    that σ̂ is a singular value to within ``error``, not that it is the largest.
    So this is an estimate of ‖A‖₂; the bounds use the certified
    :func:`spectral_norm_upper` instead.
    """

    value: float
    error: float
    method: str

    @property
    def upper(self) -> float:
        """σ̂ + error: above some singular value's upper end, not necessarily the largest's."""
        return self.value + self.error

    @property
    def relative_error(self) -> float:
        return self.error / self.value if self.value else 0.0

    def to_json(self) -> dict:
        return {"value": self.value, "error": self.error, "method": self.method}


def spectral_norm(matrix: np.ndarray, *, method: str | None = None, seed: int = 0) -> SpectralNorm:
    """‖A‖₂, the largest singular value: dense SVD for small matrices, Lanczos for large ones.

    Parameters
    ----------
    matrix : array (m × n)
    method : {"svd", "lanczos"}, optional
        Default: ``"svd"`` when min(m, n) ≤ :data:`DENSE_SVD_LIMIT`, else ``"lanczos"``.
    seed : int
        Seeds the Lanczos start vector, so results repeat exactly.

    Notes
    -----
    Lanczos runs ARPACK to machine precision (``tol=0``) on AᵀA with 32 Lanczos
    vectors, then measures the residuals r₁ = Av − σ̂u and r₂ = Aᵀu − σ̂v of the
    returned unit vectors: an eigenvalue of [[0, A], [Aᵀ, 0]], hence a singular
    value of A, lies within √((‖r₁‖² + ‖r₂‖²)/2) of σ̂. On a 4096 × 4096 Gaussian
    matrix the stated error is near 1e-14 relative and the difference from LAPACK's
    dense SVD smaller still (``benchmarks/bench_verify.py`` prints both).
    Fixed-step power iteration would leave errors near 1e-3 there, because the
    top singular values of such matrices are close together.
    """
    a = np.asarray(matrix, dtype=np.float64)
    if a.ndim != 2 or 0 in a.shape:
        from gradmath.errors import ShapeError

        raise ShapeError(f"spectral_norm needs a non-empty matrix, got shape {a.shape}")
    if method is None:
        method = "svd" if min(a.shape) <= DENSE_SVD_LIMIT else "lanczos"
    method = check_choice("method", method, ("svd", "lanczos"))
    if method == "svd" or min(a.shape) < 3:
        s = float(np.linalg.svd(a, compute_uv=False)[0])
        return SpectralNorm(s, 4.0 * max(a.shape) * _EPS * s, "svd")
    from scipy.sparse.linalg import svds

    n = min(a.shape)
    v0 = np.random.default_rng(seed).standard_normal(n)
    u, s, vt = svds(a, k=1, tol=0, ncv=min(n, 32), v0=v0)
    u, sigma, v = u[:, 0], float(s[0]), vt[0]
    r1 = np.linalg.norm(a @ v - sigma * u)
    r2 = np.linalg.norm(a.T @ u - sigma * v)
    # The residual bound, plus the typical size of the rounding in forming the residuals
    # (√(m + n)·ε·σ̂; the worst case, (m + n)·ε·σ̂, is about 1e-12 relative at 4096 × 4096).
    error = float(np.sqrt((r1 * r1 + r2 * r2) / 2.0)) + 2.0 * np.sqrt(sum(a.shape)) * _EPS * sigma
    return SpectralNorm(sigma, error, "lanczos")


def rounding_gamma(n) -> float:
    """Higham's γ_n = nu/(1 − nu) (u = 2⁻⁵³), rounded up; ``n`` may be an integer array.

    A float64 dot product or sum of n terms, in any order of summation and with or without
    fused multiply-adds, is off by at most γ_n Σ|xᵢyᵢ| (Higham, *Accuracy and Stability of
    Numerical Algorithms*, 2nd ed., §3.1, away from underflow).

    >>> rounding_gamma(1) > 1.1e-16, round(rounding_gamma(10**6) / 1.1102230246251565e-10, 6)
    (True, 1.0)
    """
    nu = np.multiply(n, UNIT_ROUNDOFF)
    if np.any(nu >= 0.5):
        return np.inf if np.ndim(nu) == 0 else np.where(nu >= 0.5, np.inf, _up(nu / (1.0 - nu), 2))
    value = _up(nu / (1.0 - nu), 2)
    return float(value) if np.ndim(value) == 0 else value


def _up(value, ops: int):
    """A float no smaller than the exact result of ``ops`` rounded operations that gave ``value`` (≥ 0)."""
    return np.nextafter(np.multiply(value, 1.0 + 2.0 * (ops + 1) * UNIT_ROUNDOFF), np.inf)


#: :func:`spectral_norm_upper` forms the n × n Gram matrix of the smaller side n up to this size (128 MiB,
#: about 2·4096³ FLOPs with the factorisation); above it, it returns the rigorous but loose
#: min(‖A‖_F, √(‖A‖₁‖A‖_∞)) rather than allocate more.
CERTIFIED_GRAM_LIMIT = 4096

#: Cholesky attempts of :func:`spectral_norm_upper` (each with a shift 16 times the last) before it
#: takes the eigenvalues of the Gram matrix for a new estimate.
_SHIFT_TRIES = 6

#: An absolute allowance, in the units of the rescaled Gram matrix (λ_max near 1), for rounding that
#: underflows (gradual underflow adds at most 2⁻¹⁰⁷⁴ per operation); counted per entry touched.
_UNDERFLOW_ALLOWANCE = 2.0 ** -1000


def spectral_norm_upper(matrix: np.ndarray, *, estimate: float | None = None) -> float:
    """A certified upper bound on ‖A‖₂, the largest singular value, from a Cholesky factorisation.

    With G = AᵀA (the smaller side, n × n, formed over m terms) and a trial μ a little above the
    estimate σ̂² (Lanczos on Ĝ, or ``estimate``), floating-point Cholesky runs on
    μI − Ĝ. If it completes, the computed factor R̂ satisfies R̂ᵀR̂ = μI − Ĝ + ΔA with
    |ΔA| ≤ γ_{n+1}|R̂ᵀ||R̂| (Higham, Thm 10.3, any order of the inner sums), so
    λ_min(μI − Ĝ) ≥ −γ_{n+1} tr(μI − Ĝ)/(1 − γ_{n+1}), and |Ĝ − G| ≤ γ_m|A|ᵀ|A| gives
    ‖Ĝ − G‖₂ ≤ γ_m‖A‖_F². Hence

        ‖A‖₂² = λ_max(G) ≤ μ + u·max|μ − Ĝᵢᵢ| + γ_{n+1} tr(μI − Ĝ)/(1 − γ_{n+1}) + γ_m‖A‖_F²,

    every term rounded up (``proofs/induced-norm-bounds.md``). Unlike the residual of a
    Lanczos triplet, which shows that *some* singular value is near σ̂, a completed
    factorisation shows that *none* is above the bound. The excess over ‖A‖₂ is about
    (n² + m·‖A‖_F²/‖A‖₂²)u relative: below 1e-10 up to 1024 × 1024. Where no shift near σ̂
    works (σ̂ was not the largest), the largest eigenvalue of Ĝ becomes the estimate; should that
    fail too, min(‖A‖_F, √(‖A‖₁‖A‖_∞)), rounded up, is returned (rigorous, loose); so it is for
    both sides above :data:`CERTIFIED_GRAM_LIMIT`. The cost is about mn² + n³/3 FLOPs.

    >>> a = np.array([[1.0, 2.0], [3.0, 4.0]])
    >>> exact = float(np.sqrt(15 + np.sqrt(221)))     # σ₁² = 15 + √221
    >>> 0 <= spectral_norm_upper(a) - exact < 1e-13
    True
    >>> 0 <= spectral_norm_upper(a, estimate=0.4) - exact < 1e-13   # a wrong estimate is found out
    True
    """
    a = np.asarray(matrix, dtype=np.float64)
    if a.ndim != 2 or 0 in a.shape:
        from gradmath.errors import ShapeError

        raise ShapeError(f"spectral_norm_upper needs a non-empty matrix, got shape {a.shape}")
    largest = float(np.abs(a).max())
    if largest == 0.0:
        return 0.0
    if a.shape[0] < a.shape[1]:
        a = a.T  # ‖Aᵀ‖₂ = ‖A‖₂; the Gram matrix on the smaller side
    m, n = a.shape
    _, e = np.frexp(largest)
    a = np.ldexp(a, -int(e))  # exact: largest |entry| in [½, 1), so ‖A‖₂ ∈ [½, √(mn)]
    frobenius2 = float(_up(np.einsum("ij,ij->", a, a), 1) * (1.0 + rounding_gamma(m * n)))
    bound = None
    if n <= CERTIFIED_GRAM_LIMIT:
        gram = a.T @ a
        estimate = _gram_estimate(gram) if estimate is None else float(np.ldexp(estimate, -int(e)))
        fixed = _up(rounding_gamma(m) * frobenius2 + _UNDERFLOW_ALLOWANCE * (m + n + 2) ** 2, 2)
        bound = _certify(gram, estimate, fixed)
        if bound is None:  # the estimate was not the largest singular value
            bound = _certify(gram, float(np.sqrt(max(np.linalg.eigvalsh(gram)[-1], 0.0))), fixed)
    if bound is None:
        column, row = np.abs(a).sum(axis=0).max(), np.abs(a).sum(axis=1).max()
        crude = min(frobenius2, float(_up(column * row, 1) * (1.0 + rounding_gamma(max(m, n))) ** 2))
        bound = float(_up(np.sqrt(crude), 1))
    return float(np.ldexp(bound, int(e)))


def _gram_estimate(gram: np.ndarray) -> float:
    """√λ_max of the Gram matrix, an estimate: LAPACK for small n, else Lanczos (ARPACK) on the Gram matrix."""
    n = gram.shape[0]
    if n <= _GRAM_LANCZOS_FROM:
        return float(np.sqrt(max(np.linalg.eigvalsh(gram)[-1], 0.0)))
    from scipy.sparse.linalg import ArpackError, eigsh

    try:
        top = eigsh(gram, k=1, which="LA", tol=0, ncv=min(n, 32), v0=np.random.default_rng(0).standard_normal(n),
                    return_eigenvectors=False)[0]
    except ArpackError:  # includes ArpackNoConvergence
        top = np.linalg.eigvalsh(gram)[-1]
    return float(np.sqrt(max(top, 0.0)))


#: Gram matrices up to this size get their estimate from LAPACK's eigenvalues, larger ones from Lanczos.
_GRAM_LANCZOS_FROM = 64


def _certify(gram: np.ndarray, estimate: float, fixed: float) -> float | None:
    """√(the bound above) for the first shift whose Cholesky factorisation completes, or None."""
    n = gram.shape[0]
    g_n1 = rounding_gamma(n + 1)
    tau = 4.0 * (n + 1) * UNIT_ROUNDOFF + 2e-15  # the estimate's own error is near 1e-15 relative
    for _ in range(_SHIFT_TRIES):
        mu = float(_up(estimate * estimate * (1.0 + tau), 2))
        shifted = -gram
        shifted[np.diag_indices(n)] += mu
        try:
            factor = np.linalg.cholesky(shifted)
        except np.linalg.LinAlgError:
            factor = None
        if factor is not None and np.isfinite(factor).all():
            diag = np.abs(np.diag(shifted))
            trace = float(_up(diag.sum(), 1) * (1.0 + rounding_gamma(n)))
            total = (mu + UNIT_ROUNDOFF * float(diag.max()) + float(_up(g_n1 * trace / (1.0 - g_n1), 3))
                     + fixed)
            return float(_up(np.sqrt(_up(total, 4)), 1))
        tau *= 16.0
    return None


def induced_norm(matrix: np.ndarray, norm) -> float:
    """‖A‖_p induced by the vector p-norm (for p = 2 the certified :func:`spectral_norm_upper`).

    >>> induced_norm(np.array([[1.0, -2.0], [3.0, 4.0]]), "1")   # largest column sum
    6.0
    >>> induced_norm(np.array([[1.0, -2.0], [3.0, 4.0]]), "inf")  # largest row sum
    7.0
    """
    norm = check_norm(norm)
    a = np.abs(np.asarray(matrix, dtype=np.float64))
    if norm == "1":
        return float(a.sum(axis=0).max())
    if norm == "inf":
        return float(a.sum(axis=1).max())
    return spectral_norm_upper(matrix)


def induced_norm_upper(matrix: np.ndarray, norm) -> float:
    """A float no smaller than the exact ‖A‖_p of the float matrix: the computed column or row sum
    times 1 + γ_k (k terms), or :func:`spectral_norm_upper`. The bounds use these.

    >>> from fractions import Fraction
    >>> column = np.full((10**6, 1), 0.1)
    >>> exact = 10**6 * Fraction(0.1)                  # the float 0.1, a million times, exactly
    >>> exact <= Fraction(induced_norm_upper(column, "1")) < exact * (1 + Fraction(1, 10**9))
    True
    """
    norm = check_norm(norm)
    if norm == "2":
        return spectral_norm_upper(matrix)
    a = np.asarray(matrix, dtype=np.float64)
    terms = a.shape[0] if norm == "1" else a.shape[1]
    return float(_up(induced_norm(a, norm), 1) * (1.0 + rounding_gamma(terms)))


def transpose_norm(matrix: np.ndarray, norm) -> float:
    """‖Aᵀ‖_p = ‖A‖_q, q the dual exponent (the factor bound (**) needs for each wʳ)."""
    return induced_norm(matrix, dual_norm(norm))


def transpose_norm_upper(matrix: np.ndarray, norm) -> float:
    """:func:`induced_norm_upper` of A in the dual norm: a certified upper bound on ‖Aᵀ‖_p."""
    return induced_norm_upper(matrix, dual_norm(norm))


_LN10 = float(np.log(10.0))

#: log10 2, to turn a power-of-two exponent into decades.
LOG10_2 = float(np.log10(2.0))


def log10_add(x, y):
    """log10(10^x + 10^y) without leaving float64.

    >>> round(float(log10_add(-400.0, -400.0)), 6)   # 2·10^-400
    -399.69897
    """
    return np.logaddexp(np.multiply(x, _LN10), np.multiply(y, _LN10)) / _LN10


def log10_scaled_norms(mantissa: np.ndarray, norm: str) -> np.ndarray:
    """log10 ‖row‖ of rows already scaled to a largest |entry| in [½, 1) (or zero): no rescaling needed."""
    with np.errstate(divide="ignore"):  # a zero row: −inf
        if norm == "2":
            return 0.5 * np.log10(np.einsum("ij,ij->i", mantissa, mantissa))
        mags = np.abs(mantissa)
        return np.log10(mags.max(axis=1) if norm == "inf" else mags.sum(axis=1))


def row_max_abs(rows: np.ndarray) -> np.ndarray:
    """max_j |row_j| per row, from two reductions (no |rows| temporary)."""
    return np.maximum(rows.max(axis=1), -rows.min(axis=1))


def pow10(log_value: float) -> float:
    """10^x as a float: 0.0 below float64's range, inf above it (shown as null in JSON)."""
    with np.errstate(over="ignore", under="ignore"):
        return float(np.power(10.0, log_value))
