"""The uncorrected bound (‖wʳ‖ for ‖(wʳ)ᵀ‖) fails for p = 1 and ∞; the corrected one holds."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import find, given, settings
from hypothesis import strategies as st

from gradmath.backprop import backprop
from gradmath.bounds import verify_network
from gradmath.counterexample import build_counterexample, log10_uncorrected_bound
from gradmath.errors import InvalidParameterError, NonFiniteError, UnknownNameError
from gradmath.network import Network
from gradmath.norms import log10_vector_norms


@given(st.sampled_from(["inf", "1"]), st.integers(2, 60), st.floats(1e-3, 1e3))
def test_the_margin_is_the_width_and_the_corrected_bound_is_exact(norm, width, weight):
    result = build_counterexample(norm, width=width, weight=weight)
    assert result.margin == pytest.approx(width, rel=1e-12)
    assert result.corrected_holds
    assert result.measured == pytest.approx(result.corrected_bound, rel=1e-12)  # tight: equality
    assert result.measured > result.uncorrected_bound


def test_to_json_holds_the_whole_network():
    payload = build_counterexample("inf", width=3).to_json()
    assert payload["margin"] == pytest.approx(3.0) and payload["weights"]["w3"] == [[1.0], [1.0], [1.0]]
    assert "input layer 1" in payload["notation"]


@pytest.mark.parametrize(("kwargs", "error", "match"), [
    ({"norm": "2"}, InvalidParameterError, "no counterexample"),
    ({"norm": "fro"}, UnknownNameError, "norm='fro'"),
    ({"norm": "inf", "width": 1}, InvalidParameterError, "width=1"),
    ({"norm": "inf", "weight": 0.0}, InvalidParameterError, "weight=0"),
    ({"norm": "inf", "weight": 1e308}, InvalidParameterError, r"\[1e-100, 1e100\]"),
    ({"norm": "1", "weight": "1e-101"}, InvalidParameterError, r"\[1e-100, 1e100\]"),
    ({"norm": "inf", "weight": "inf"}, NonFiniteError, "finite"),
    ({"norm": "inf", "weight": "2**3"}, InvalidParameterError, "not a number"),
])
def test_invalid_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        build_counterexample(**kwargs)


def _violates_uncorrected(case) -> bool:
    net, x, y, norm = case
    measured = log10_vector_norms(backprop(net, x, y).delta(2), norm)
    return bool(np.any(measured > log10_uncorrected_bound(net, x, y, layer=2, norm=norm) + 1e-9))


@st.composite
def small_networks(draw, norm):
    sizes = draw(st.lists(st.integers(1, 6), min_size=3, max_size=4))
    seed = draw(st.integers(0, 10**6))
    net = Network.random(sizes, seed=seed, cost="cross-entropy", weight_scale=draw(st.floats(0.5, 5.0)))
    rng = np.random.default_rng(seed)
    return net, rng.standard_normal((1, sizes[0])), rng.random((1, sizes[-1])), norm


@pytest.mark.parametrize("norm", ["inf", "1"])
def test_hypothesis_finds_a_violation_of_the_uncorrected_bound_on_its_own(norm):
    case = find(small_networks(norm), _violates_uncorrected, settings=settings(max_examples=2000, database=None))
    net, x, y, _ = case
    assert verify_network(net, x, y, norm=norm).violations == 0  # the corrected bound holds on it


@settings(max_examples=100, deadline=None)
@given(small_networks("2"))
def test_for_the_spectral_norm_both_forms_agree(case):
    net, x, y, norm = case
    corrected = verify_network(net, x, y, norm=norm).layers[0].log10_bound_gamma
    assert log10_uncorrected_bound(net, x, y, layer=2, norm=norm)[0] == pytest.approx(corrected, abs=1e-12)


@pytest.mark.parametrize("norm", ["inf", "1"])
@pytest.mark.parametrize("weight", ["1e-100", "1e100"])
def test_the_ends_of_the_weight_range_stay_finite(norm, weight):
    result = build_counterexample(norm, width=10_000, weight=weight)
    values = [result.measured, result.uncorrected_bound, result.corrected_bound, result.margin]
    assert all(np.isfinite(values)) and result.margin == pytest.approx(10_000, rel=1e-12)
    assert result.corrected_holds


def test_cli_refuses_a_weight_that_would_overflow(capsys):
    from gradmath.cli import main

    assert main(["counterexample", "--weight", "1e308", "--json"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "weight=1e308 must be in [1e-100, 1e100]" in captured.err
