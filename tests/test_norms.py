"""Induced norms, dual exponents, log-space vector norms and the Lanczos spectral norm."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from gradmath.errors import ShapeError, UnknownNameError
from gradmath.norms import (
    NORMS,
    check_norm,
    dual_norm,
    induced_norm,
    induced_norm_upper,
    log10_vector_norms,
    rounding_gamma,
    spectral_norm,
    spectral_norm_upper,
    transpose_norm,
    transpose_norm_upper,
)

_ORD = {"2": 2, "1": 1, "inf": np.inf}
# NumPy's references square the entries, so keep them away from underflow.
_finite = st.floats(-1e3, 1e3, allow_nan=False).filter(lambda v: v == 0 or abs(v) > 1e-100)
matrices = st.tuples(st.integers(1, 12), st.integers(1, 12)).flatmap(lambda s: arrays(np.float64, s, elements=_finite))


@given(matrices, st.sampled_from(NORMS))
@example(np.ones((3, 1)), "inf")
def test_induced_norms_match_numpy(a, norm):
    expected = np.linalg.norm(a, _ORD[norm])
    assert induced_norm(a, norm) == pytest.approx(expected, rel=1e-12, abs=1e-300)


@given(matrices, st.sampled_from(NORMS))
def test_transpose_norm_is_the_dual_norm(a, norm):
    assert transpose_norm(a, norm) == pytest.approx(np.linalg.norm(a.T, _ORD[norm]), rel=1e-12, abs=1e-300)


def test_transpose_changes_the_norm_only_for_p_other_than_2():
    column = np.ones((5, 1))
    assert (induced_norm(column, "inf"), transpose_norm(column, "inf")) == (1.0, 5.0)
    assert (induced_norm(column, "1"), transpose_norm(column, "1")) == (5.0, 1.0)
    assert induced_norm(column, "2") == pytest.approx(transpose_norm(column, "2"), rel=1e-15)


@pytest.mark.parametrize(("given_", "spelt", "dual"), [
    ("2", "2", "2"), (2, "2", "2"), ("1", "1", "inf"), (1, "1", "inf"), ("inf", "inf", "1"), (np.inf, "inf", "1"),
    ("INF", "inf", "1"), ("∞", "inf", "1"),
])
def test_norm_spellings(given_, spelt, dual):
    assert check_norm(given_) == spelt and dual_norm(given_) == dual


@pytest.mark.parametrize("bad", ["fro", "3", 3, "nuc", "", None])
def test_unknown_norms_are_refused(bad):
    with pytest.raises(UnknownNameError, match="norm=.* is not one of '2', '1', 'inf'"):
        check_norm(bad)


@given(arrays(np.float64, st.tuples(st.integers(1, 5), st.integers(1, 20)), elements=_finite), st.sampled_from(NORMS))
def test_log10_vector_norms_match_numpy(rows, norm):
    expected = np.linalg.norm(rows, _ORD[norm], axis=1)
    got = log10_vector_norms(rows, norm)
    zero = expected == 0
    assert np.all(np.isneginf(got[zero]))
    np.testing.assert_allclose(10.0 ** got[~zero], expected[~zero], rtol=1e-13)


@pytest.mark.parametrize("norm", NORMS)
@pytest.mark.parametrize("scale", [1e-320, 1e-300, 1e300])
def test_log10_vector_norms_neither_overflow_nor_underflow(norm, scale):
    got = log10_vector_norms(np.array([[3.0, 4.0]]) * scale, norm)[0]
    exact = {"2": 5.0, "1": 7.0, "inf": 4.0}[norm]
    assert np.isfinite(got)
    # 1e-320 is subnormal: 3e-320 and 4e-320 carry only a few significant bits.
    assert got == pytest.approx(np.log10(exact) + np.log10(scale), abs=1e-3 if scale < 1e-310 else 1e-12)


def test_lanczos_spectral_norm_is_accurate_and_says_how_accurate():
    rng = np.random.default_rng(5)
    a = rng.standard_normal((700, 600))
    dense = np.linalg.svd(a, compute_uv=False)[0]
    fast = spectral_norm(a, method="lanczos")
    assert fast.method == "lanczos"
    assert abs(fast.value - dense) <= fast.error  # the stated accuracy covers the true error
    assert fast.relative_error < 1e-12
    assert fast.upper >= dense
    assert spectral_norm(a, method="lanczos").value == fast.value  # seeded start: repeatable


def test_large_matrices_default_to_lanczos_small_to_svd():
    assert spectral_norm(np.eye(3)).method == "svd"
    big = np.random.default_rng(0).standard_normal((520, 520))
    assert spectral_norm(big).method == "lanczos"


@pytest.mark.parametrize("bad", [np.zeros((0, 3)), np.zeros(3)])
def test_spectral_norm_needs_a_matrix(bad):
    with pytest.raises(ShapeError, match="non-empty matrix"):
        spectral_norm(bad)


# ----- the certified spectral bound ------------------------------------------------------------------------
def _positive_definite_exactly(m) -> bool:
    """Whether the symmetric rational matrix m is positive definite: all LDLᵀ pivots > 0, in exact arithmetic."""
    m = [row[:] for row in m]
    n = len(m)
    for k in range(n):
        if m[k][k] <= 0:
            return False
        for i in range(k + 1, n):
            f = m[i][k] / m[k][k]
            for j in range(k, n):
                m[i][j] -= f * m[k][j]
    return True


def _certified_in_rationals(a: np.ndarray, upper: float) -> bool:
    """upper² I − AᵀA positive definite in exact rational arithmetic, so ‖A‖₂ < upper."""
    from fractions import Fraction

    rows = [[Fraction(float(v)) for v in row] for row in (a if a.shape[0] >= a.shape[1] else a.T)]
    n = len(rows[0])
    u2 = Fraction(upper) ** 2
    gram = [[sum(r[i] * r[j] for r in rows) for j in range(n)] for i in range(n)]
    return _positive_definite_exactly([[(u2 if i == j else 0) - gram[i][j] for j in range(n)] for i in range(n)])


_structured = st.sampled_from(["gaussian", "rank-one", "clustered", "nonnegative", "tiny-and-huge"])


@given(st.integers(1, 6), st.integers(1, 6), _structured, st.floats(-200, 200), st.integers(0, 2**32 - 1))
@example(2, 2, "clustered", 0.0, 0)
def test_spectral_norm_upper_is_never_below_and_barely_above(m, n, kind, log_scale, seed):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((m, n))
    if kind == "rank-one":
        a = np.outer(rng.standard_normal(m), rng.standard_normal(n)) + 1e-12 * a
    elif kind == "clustered":  # top singular values within 1e-14 of each other: Lanczos cannot tell them apart
        q1, _ = np.linalg.qr(rng.standard_normal((m, m)))
        q2, _ = np.linalg.qr(rng.standard_normal((n, n)))
        s = np.zeros((m, n))
        np.fill_diagonal(s, 1.0 - 1e-14 * np.arange(min(m, n)))
        a = q1 @ s @ q2
    elif kind == "nonnegative":
        a = np.abs(a)
    elif kind == "tiny-and-huge":
        a = a * 10.0 ** rng.uniform(-150, 150, a.shape)
    a = a * 2.0 ** round(log_scale)  # exact scaling across float64's range
    upper = spectral_norm_upper(a)
    assert _certified_in_rationals(a, upper)
    reference = np.linalg.svd(a, compute_uv=False)[0]
    assert upper <= reference * (1 + 1e-12) + 1e-300


def test_spectral_norm_upper_finds_out_a_wrong_estimate_and_has_a_last_resort(monkeypatch):
    import gradmath.norms as norms

    a = np.diag([5.0, 3.0, 1.0]) + 0.01
    sigma = np.linalg.svd(a, compute_uv=False)[0]
    fine = spectral_norm_upper(a, estimate=1.0)  # a singular value near 1: Lanczos could stop there
    assert _certified_in_rationals(a, fine) and fine <= sigma * (1 + 1e-13)
    monkeypatch.setattr(norms, "_certify", lambda gram, estimate, fixed: None)
    crude = spectral_norm_upper(a)  # min(‖A‖_F, √(‖A‖₁‖A‖_∞)), rounded up
    assert _certified_in_rationals(a, crude) and sigma < crude <= np.linalg.norm(a, "fro") * (1 + 1e-12)


@pytest.mark.parametrize("shape", [(300, 300), (784, 30), (64, 512), (1000, 1)])
def test_spectral_norm_upper_is_tight_on_larger_matrices(shape):
    a = np.random.default_rng(sum(shape)).standard_normal(shape)
    reference = np.linalg.svd(a, compute_uv=False)[0]
    upper = spectral_norm_upper(a)
    # the derived excess is about (n² + m‖A‖_F²/‖A‖₂²)u, n = min(shape): below 2e-11 at these sizes
    assert reference <= upper <= reference * (1 + 2e-11)
    assert upper >= spectral_norm(a).value  # an estimate: never above the certified bound by more than it errs


def test_induced_norm_upper_covers_the_rounding_of_long_sums():
    from fractions import Fraction

    column = np.full((10**5, 1), 0.1)
    exact = 10**5 * Fraction(0.1)
    for norm, value in (("1", exact), ("inf", Fraction(0.1)), ("2", None)):
        upper = induced_norm_upper(column, norm)
        if value is None:  # ‖column‖₂ = 0.1·√(10⁵): upper² ≥ the exact squared norm
            assert Fraction(upper) ** 2 >= 10**5 * Fraction(0.1) ** 2
        else:
            assert value <= Fraction(upper) <= value * (1 + Fraction(1, 10**10))
    assert transpose_norm_upper(column, "inf") == induced_norm_upper(column, "1")
    assert rounding_gamma(10**5) == pytest.approx(10**5 * 2.0**-53, rel=1e-10)


def test_above_the_gram_limit_the_bound_is_the_crude_certified_one(monkeypatch):
    import gradmath.norms as norms

    a = np.random.default_rng(3).standard_normal((40, 30))
    monkeypatch.setattr(norms, "CERTIFIED_GRAM_LIMIT", 20)  # as if both sides were above 4096
    crude = spectral_norm_upper(a)
    expected = min(np.linalg.norm(a, "fro"), np.sqrt(np.linalg.norm(a, 1) * np.linalg.norm(a, np.inf)))
    assert crude == pytest.approx(expected, rel=1e-12) and crude >= expected
    small = a[:6, :5]  # below the limit: the tight Cholesky certificate still
    assert np.linalg.svd(small, compute_uv=False)[0] <= spectral_norm_upper(small) <= np.linalg.svd(
        small, compute_uv=False)[0] * (1 + 1e-13)
