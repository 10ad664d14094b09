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
    log10_vector_norms,
    spectral_norm,
    transpose_norm,
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
