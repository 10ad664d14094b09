"""Bounds (a), (b), (c): never violated on drawn networks, exact where they must be, finite at any depth."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gradmath.activations import BUILTIN_ACTIVATIONS, get_activation
from gradmath.backprop import backprop
from gradmath.bounds import (
    NOTATION,
    ROUNDING_SLACK_PER_LAYER,
    SOFTMAX_JACOBIAN_BOUND,
    exponent,
    softmax_jacobian_factor,
    sup_abs_prime,
    verify_network,
)
from gradmath.errors import DataError, InvalidParameterError, NonFiniteError, ShapeError, UnknownNameError
from gradmath.network import COSTS, SOFTMAX, Network
from gradmath.norms import NORMS, dual_norm, log10_vector_norms
from gradmath.testing.strategies import batches
from gradmath.testing.strategies import networks as drawn_networks

CI = bool(os.environ.get("CI"))
OUTPUTS = {"quadratic": list(BUILTIN_ACTIVATIONS) + [SOFTMAX], "cross-entropy": ["sigmoid"], "log-loss": [SOFTMAX]}
LAYER_KEYS = {"l", "delta_max", "delta_median", "log10_bound_gamma", "log10_bound_data", "tightness_gamma",
              "tightness_data", "violations"}


@st.composite
def networks(draw, max_depth=30, max_width=50):
    """A network of 1..max_depth weighted layers, widths 1..max_width, weight scales 1e-3..1e3, 1..6 examples.

    Built from gradmath.testing.strategies (network2's layout, converted to rows here).
    """
    depth = draw(st.integers(1, max_depth))
    sizes = draw(st.lists(st.integers(1, max_width), min_size=depth + 1, max_size=depth + 1))
    if np.prod(sizes[:2]) * depth > 20_000:  # keep the drawn networks small enough to run thousands
        sizes = [min(s, 8) for s in sizes]
    cost = draw(st.sampled_from(COSTS))
    drawn = draw(drawn_networks(sizes=sizes, hidden_activation=st.sampled_from(BUILTIN_ACTIVATIONS), cost=cost,
                                output_activation=st.sampled_from(OUTPUTS[cost]), weight_scale=10.0 ** draw(st.floats(-3, 3))))
    # for log-loss the targets need not sum to 1: δᴸ = aᴸΣy − y
    batch = draw(batches(drawn, batch_size=st.integers(1, 6), x_scale=10.0 ** draw(st.floats(-2, 2)), one_hot=False))
    x, y = batch.rows()
    return drawn.to_network(), x, y


@settings(max_examples=800 if CI else 150)
@given(networks(), st.sampled_from(NORMS))
def test_bounds_are_never_violated_beyond_rounding(case, norm):
    net, x, y = case
    report = verify_network(net, x, y, norm=norm)
    assert report.violations == 0, report.to_json()
    for layer in report.layers:
        if layer.tightness_gamma is not None and layer.tightness_data is not None:
            assert layer.tightness_gamma >= layer.tightness_data * (1 - 1e-12)  # max|σ′| ≤ γ


@settings(max_examples=200 if CI else 40)
@given(networks(max_depth=6, max_width=12), st.sampled_from(NORMS))
def test_per_example_bound_b_by_direct_products(case, norm):
    """Bound (b) recomputed here as a plain product of norms, for each example and layer."""
    net, x, y = case
    p = backprop(net, x, y)
    L = net.depth
    ord_ = {"2": 2, "1": 1, "inf": np.inf}[norm]
    for e in range(x.shape[0]):
        a_out = p.activations[-1][e]
        residual = a_out * y[e].sum() - y[e] if net.cost == "log-loss" else a_out - y[e]  # ∂C/∂zᴸ for log-loss
        for l in range(2, L + 1):
            factor = np.linalg.norm(residual, ord_)
            for r in range(l, L):
                factor *= np.abs(p.primes[r - 2][e]).max() * np.linalg.norm(net.weight(r + 1).T, ord_)
            if net.cost == "quadratic":
                a = p.activations[-1][e]
                factor *= (2 * a * (1 - a)).max() if net.output_activation == SOFTMAX else np.abs(p.primes[-1][e]).max()
            measured = np.linalg.norm(p.delta(l)[e], ord_)
            if np.isfinite(factor) and factor > 1e-280:
                assert measured <= factor * (1 + 1e-9)


def test_exponent_per_cost_and_output():
    shapes = (3, 4, 4, 4, 2)
    same = Network.random(shapes, cost="quadratic", hidden_activation="tanh", output_activation="tanh")
    assert [exponent(same, l) for l in (2, 5)] == [4, 1]  # the output's σ′ shares γ: the seed's γ^(L−l+1)
    other = Network.random(shapes, cost="quadratic", output_activation="tanh")  # sigmoid hidden, tanh output
    assert [exponent(other, l) for l in (2, 5)] == [3, 0]  # the hidden Σ′ only; tanh's 1 is the output factor
    assert [exponent(Network.random(shapes, cost="cross-entropy"), l) for l in (2, 5)] == [3, 0]
    assert [exponent(Network.random(shapes, cost="log-loss", output_activation="softmax"), l) for l in (2, 5)] == [3, 0]
    soft_quad = Network.random(shapes, cost="quadratic", output_activation="softmax")
    assert exponent(soft_quad, 2) == 3  # the softmax Jacobian contributes ½, not γ
    assert verify_network(soft_quad, np.ones((1, 3)), np.zeros((1, 2))).output_factor == SOFTMAX_JACOBIAN_BOUND


@pytest.mark.parametrize("norm", NORMS)
def test_output_layer_bound_is_exact_where_delta_is_the_residual(norm):
    net = Network.random((5, 6, 3), seed=4, cost="cross-entropy")
    x, y = np.random.default_rng(1).random((9, 5)), np.random.default_rng(2).random((9, 3))
    last = verify_network(net, x, y, norm=norm).layers[-1]
    assert (last.l, last.exponent) == (3, 0)
    assert last.tightness_gamma == pytest.approx(1.0, rel=1e-12)


@pytest.mark.parametrize("norm", NORMS)
def test_softmax_jacobian_norm_is_at_most_one_half(norm):
    rng = np.random.default_rng(0)
    ord_ = {"2": 2, "1": 1, "inf": np.inf}[norm]
    for k in (1, 2, 3, 10):
        for _ in range(50):
            z = rng.standard_normal(k) * rng.choice([0.1, 1, 10])
            a = np.exp(z - z.max())
            a /= a.sum()
            jac = -np.outer(a, a)
            np.fill_diagonal(jac, a * (a.sum() - a))  # a_j(1 − a_j) without cancelling 1 − a_j ...
            j = a.argmax()
            jac[j, j] = a[j] * (a.sum() - a[j] if k == 1 else np.delete(a, j).sum())  # ... even where a_j ≈ 1
            assert np.linalg.norm(jac, ord_) <= softmax_jacobian_factor(a[None])[0] * (1 + 1e-12) + 1e-300
            assert softmax_jacobian_factor(a[None])[0] <= SOFTMAX_JACOBIAN_BOUND
    a = np.array([0.5, 0.5])  # the bound ½ is reached
    assert np.linalg.norm(np.diag(a) - np.outer(a, a), ord_) == pytest.approx(0.5)


@pytest.mark.parametrize("norm", NORMS)
def test_rank_one_equality_for_every_induced_norm_and_frobenius(norm):
    rng = np.random.default_rng(7)
    ord_ = {"2": 2, "1": 1, "inf": np.inf}[norm]
    for m, n in [(1, 1), (3, 5), (30, 64), (10, 1)]:
        d, a = rng.standard_normal(m), rng.standard_normal(n)
        gw = np.outer(d, a)  # ∂C/∂wˡ = δˡ(aˡ⁻¹)ᵀ, BP4
        expected = np.linalg.norm(d, ord_) * np.linalg.norm(a, {"2": 2, "1": np.inf, "inf": 1}[norm])
        assert np.linalg.norm(gw, ord_) == pytest.approx(expected, rel=1e-12)
        assert np.linalg.norm(gw, "fro") == pytest.approx(np.linalg.norm(d) * np.linalg.norm(a), rel=1e-12)


def test_rank_one_bound_with_the_primal_norm_fails_for_infinity():
    """(c) with ‖aˡ⁻¹‖_∞ in place of ‖(aˡ⁻¹)ᵀ‖_∞ = ‖aˡ⁻¹‖_1 is false: δ = (1), a = (1, 1)."""
    gw = np.outer([1.0], [1.0, 1.0])
    assert np.linalg.norm(gw, np.inf) == 2.0 > 1.0 * np.linalg.norm([1.0, 1.0], np.inf)
    assert dual_norm("inf") == "1"


def test_reports_show_the_rank_one_check_and_count_no_violation():
    net = Network.random((6, 5, 4), seed=0)
    for norm in NORMS:
        report = verify_network(net, np.random.default_rng(0).random((8, 6)), np.zeros((8, 4)), norm=norm)
        assert report.rank_one_max_gap < 1e-13 and report.violations == 0


@pytest.mark.parametrize("hidden", BUILTIN_ACTIVATIONS)
def test_sup_abs_prime_is_gamma_for_the_builtins(hidden):
    gamma = get_activation(hidden).gamma
    assert sup_abs_prime(hidden) >= float(gamma.enclosure[1]) * (1 - 1e-15)
    assert sup_abs_prime(hidden) == pytest.approx(float(gamma), rel=1e-15)


def test_ten_thousand_layers_give_finite_log10_bounds():
    depth = 10_000
    net = Network([np.full((2, 2), 0.6)] * depth, [np.zeros(2)] * depth, "sigmoid", "sigmoid", "quadratic")
    report = verify_network(net, np.ones((2, 2)), np.zeros((2, 2)), norm="2")
    first = report.layers[0]
    assert np.isfinite(first.log10_bound_gamma) and np.isfinite(first.log10_bound_data)
    # γ^k ∏‖wᵀ‖ = (¼ · 1.2)^(L−1) · ¼ · ‖a − y‖: about −9000 decades, far past float64.
    expected = (depth - 1) * np.log10(0.25 * 1.2) + np.log10(0.25)
    assert first.log10_bound_gamma == pytest.approx(expected + np.log10(np.linalg.norm(
        backprop(net, np.ones((1, 2)), np.zeros((1, 2))).activations[-1])), rel=1e-9)
    # δ² ≈ 10^-5000 is measured in log space (mantissa · 2^exponent), far below float64's range.
    assert first.delta_max == 0.0 and first.log10_delta_max < -4000 and report.violations == 0
    # equal rows and columns make bound (b) exact here: equality up to the rounding of 20,000 log terms
    assert first.log10_delta_max <= first.log10_bound_data + 1e-11 * abs(first.log10_bound_data) and first.log10_bound_data <= first.log10_bound_gamma
    payload = json.loads(json.dumps(report.to_json(), allow_nan=False))  # strict JSON: no inf, no NaN
    assert payload["layers"][0]["delta_max"] == 0.0


def test_exploding_weights_give_finite_bounds_above_float64():
    depth = 400
    net = Network([np.full((1, 1), 50.0)] * depth, [np.zeros(1)] * depth, "tanh", "tanh", "quadratic")
    report = verify_network(net, np.zeros((1, 1)), np.ones((1, 1)))
    first = report.layers[0]
    assert first.log10_bound_gamma == pytest.approx((depth - 1) * np.log10(50.0), rel=1e-12)
    assert first.log10_delta_max == pytest.approx(first.log10_bound_gamma, rel=1e-12)  # z = 0: the bound is exact
    assert first.delta_max == np.inf and first.to_json()["delta_max"] is None and report.violations == 0


def test_report_json_has_the_documented_keys():
    net = Network.random((4, 3, 3, 2), seed=0)
    report = verify_network(net, np.random.default_rng(0).random((5, 4)), np.array([0, 1, 1, 0, 1]), norm="inf")
    payload = report.to_json()
    assert {"norm", "examples", "violations", "layers"} <= set(payload)
    assert payload["norm"] == "inf" and payload["examples"] == 5 and "input layer 1" in payload["notation"]
    assert [layer["l"] for layer in payload["layers"]] == [2, 3, 4]
    for layer in payload["layers"]:
        assert LAYER_KEYS <= set(layer)
    assert report.layers[0].violations == payload["layers"][0]["violations"]
    assert payload["notation"] == NOTATION


def test_chunks_do_not_change_the_report():
    net = Network.random((5, 7, 3), seed=1, cost="quadratic", output_activation="softmax")
    x, y = np.random.default_rng(0).random((50, 5)), np.random.default_rng(1).integers(0, 3, 50)
    calls = []
    whole = verify_network(net, x, y).to_json()
    parts = verify_network(net, x, y, chunk_size=7, progress=lambda done, total: calls.append((done, total))).to_json()
    assert calls[-1] == (50, 50) and len(calls) == 8
    for a, b in zip(whole["layers"], parts["layers"]):
        for key in ("delta_max", "delta_median", "log10_bound_gamma", "log10_bound_data"):
            assert a[key] == pytest.approx(b[key], rel=1e-12)


def test_slack_is_tied_to_machine_epsilon():
    assert ROUNDING_SLACK_PER_LAYER == 64 * np.finfo(np.float64).eps


def test_zero_residual_means_zero_gradients_and_no_violation():
    net = Network([np.zeros((2, 2)), np.zeros((1, 2))], [np.zeros(2), np.zeros(1)], "relu", "sigmoid", "cross-entropy")
    report = verify_network(net, np.ones((1, 2)), np.full((1, 1), 0.5))
    assert report.violations == 0 and all(layer.delta_max == 0 for layer in report.layers)


def _with_inf_at(shape, index):
    x = np.zeros(shape)
    x[index] = np.inf
    return x


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"norm": "fro"}, UnknownNameError, "norm='fro'"),
        ({"chunk_size": 0}, InvalidParameterError, "chunk_size=0"),
        ({"x": np.zeros((3, 7))}, ShapeError, "7 columns .* width 4"),
        ({"x": np.array([[0.0, np.nan, 0.0, 0.0]]), "y": np.zeros((1, 2))}, NonFiniteError,
         r"x has a non-finite value nan at index \(0, 1\)"),
        ({"x": _with_inf_at((600, 4), (517, 1)), "y": np.zeros((600, 2)), "chunk_size": 100}, NonFiniteError,
         r"non-finite value inf at index \(517, 1\)"),  # found in its chunk, named in the whole batch
        ({"x": np.array([["a", "b", "c", "d"]])}, InvalidParameterError, "dtype"),
        ({"x": np.zeros((0, 4)), "y": np.zeros((0, 2))}, DataError, "no examples"),
        ({"y": np.zeros((3, 5))}, ShapeError, "y has shape"),
        ({"network": "net.npz"}, InvalidParameterError, "must be a gradmath Network"),
    ],
)
def test_invalid_arguments(kwargs, error, match):
    args = {"network": Network.random((4, 2), seed=0), "x": np.zeros((3, 4)), "y": np.zeros((3, 2))}
    args.update(kwargs)
    network, x, y = args.pop("network"), args.pop("x"), args.pop("y")
    with pytest.raises(error, match=match):
        verify_network(network, x, y, **args)


def _cut_off_input(j: int, fill: float = 0.0) -> Network:
    """A network whose input j reaches no unit: column j of w² holds only ``fill`` (zero or subnormal)."""
    net = Network.random((4, 3, 2), seed=0)
    w2 = np.array(net.weights[0])
    w2[:, j] = fill
    return Network([w2, np.array(net.weights[1])], [np.array(b) for b in net.biases])


@pytest.mark.parametrize("fill", [0.0, 5e-324])  # a BLAS may skip 0·inf, or flush subnormals to zero
@pytest.mark.parametrize("bad", [np.inf, -np.inf, np.nan])
def test_non_finite_input_that_reaches_no_unit_is_still_found(fill, bad):
    x = np.zeros((300, 4))
    x[211, 2] = bad
    with pytest.raises(NonFiniteError, match=r"at index \(211, 2\)"):
        verify_network(_cut_off_input(2, fill), x, np.zeros((300, 2)), chunk_size=64)


def test_first_non_finite_input_is_named_under_raising_error_state():
    x = np.zeros((300, 4))
    x[250, 2] = np.inf  # reaches no unit
    x[120, 1] = np.nan  # reaches every unit: found through z², the earlier one is named
    with np.errstate(all="raise"), pytest.raises(NonFiniteError, match=r"nan at index \(120, 1\)"):
        verify_network(_cut_off_input(2), x, np.zeros((300, 2)))


def test_overflowing_first_layer_is_not_taken_for_bad_input():
    net = Network([np.full((2, 2), 1e300), np.ones((1, 2))], [np.zeros(2), np.zeros(1)], "sigmoid", "sigmoid",
                  "cross-entropy")
    with np.errstate(over="ignore"):
        report = verify_network(net, np.full((3, 2), 1e10), np.zeros((3, 1)))
    assert report.examples == 3 and report.violations == 0


def test_measured_norms_are_those_of_the_deltas():
    net = Network.random((3, 4, 2), seed=2, hidden_activation="gelu", output_activation="tanh", cost="quadratic")
    x = np.random.default_rng(3).random((6, 3))
    y = np.zeros((6, 2))
    deltas = backprop(net, x, y).deltas
    for norm in NORMS:
        report = verify_network(net, x, y, norm=norm)
        for layer, d in zip(report.layers, deltas):
            assert layer.delta_max == pytest.approx(10 ** log10_vector_norms(d, norm).max(), rel=1e-14)


def test_pipelined_and_parallel_chunks_give_the_same_report(monkeypatch):
    """Networks whose first product dominates are checked by a pipeline (one thread forms x(w²)ᵀ ahead);
    the report equals the one from chunks spread over threads, bit for bit, and a bad input found by
    the pipeline's worker is named as before."""
    from gradmath.bounds import verify as verify_module

    net = Network.random((40, 6, 5, 3), seed=2, cost="quadratic")
    assert verify_module._first_product_dominates(net)
    assert not verify_module._first_product_dominates(Network.random((5, 7, 3), seed=1))
    rng = np.random.default_rng(4)
    x, y = rng.random((300, 40)) * 3.0, rng.random((300, 3))
    piped = verify_network(net, x, y, chunk_size=16).to_json()
    x_bad = x.copy()
    x_bad[217, 5] = np.nan
    with pytest.raises(NonFiniteError, match=r"at index \(217, 5\)"):
        verify_network(net, x_bad, y, chunk_size=16)
    monkeypatch.setattr(verify_module, "_first_product_dominates", lambda network: False)
    assert verify_network(net, x, y, chunk_size=16).to_json() == piped


@pytest.mark.parametrize("norm", ["2", "1", "inf"])
def test_check_layers_counts_exactly_the_examples_above_a_bound(norm):
    """The per-layer count is not vacuous: examples placed just above min(bound (a), bound (b)) by more
    than the rounding allowance are counted, those at it or within rounding of it are not."""
    from gradmath.bounds.terms import layer_terms

    net = Network.random((6, 5, 4, 3), seed=7, cost="quadratic")
    terms = layer_terms(net, norm)
    rng = np.random.default_rng(0)
    k, layers = 400, net.depth - 1
    log_res = rng.uniform(-3.0, 1.0, k)
    data_part = np.cumsum(np.log10(rng.uniform(0.01, 0.25, (layers, k)))[::-1], axis=0)[::-1]
    abs_data_part = np.cumsum(np.abs(np.log10(rng.uniform(0.01, 0.25, (layers, k))))[::-1], axis=0)[::-1]
    bound = np.minimum(terms.gamma_part[:, None] + log_res, data_part + terms.w_suffix[:, None] + log_res)
    offsets = rng.choice([-1.0, -1e-6, 0.0, 1e-16, 1e-9, 0.5], size=(layers, k))
    measured = bound + offsets
    max_a, max_b, bad = terms.check_layers(measured, log_res, np.abs(log_res), data_part, abs_data_part)
    np.testing.assert_array_equal(bad, (offsets >= 1e-9).sum(axis=1))
    np.testing.assert_allclose(max_a, (terms.gamma_part[:, None] + log_res).max(axis=1), rtol=0, atol=1e-15)
    np.testing.assert_allclose(max_b, (data_part + terms.w_suffix[:, None] + log_res).max(axis=1), rtol=0, atol=1e-15)


@pytest.mark.parametrize("inputs", [40, 2])  # a pipelined network and one checked in parallel chunks
def test_activations_that_overflow_are_named_by_layer(inputs):
    net = Network([np.full((3, inputs), 1e200), np.full((3, 3), 1e200), np.ones((1, 3))],
                  [np.zeros(3), np.zeros(3), np.zeros(1)], "softplus", "sigmoid", "quadratic")
    x, y = np.full((300, inputs), 0.5), np.zeros((300, 1))
    with np.errstate(over="ignore"), pytest.raises(NonFiniteError, match="layer 3: activations overflow float64"):
        verify_network(net, x, y, chunk_size=16)


# ----- the rounding allowance follows the widths (issue: a sum over 10⁶ terms) -------------------------------
def _million_fan_out(c: float, width: int = 10**6) -> Network:
    """Sizes (1, 1, m): one sigmoid unit feeding m outputs through w³ = c·(1, …, 1)ᵀ, cross-entropy cost.

    With x = 0 and y = 0, δ² = ¼ Σ_j c·σ(c/2) = ¼ m c σ(c/2): bound (a) holds with equality for
    p = ∞ (‖w³‖₁ = mc, ‖a³‖_∞ = σ(c/2)), p = 1 (‖w³‖_∞ = c, ‖a³‖₁ = mσ(c/2)) and p = 2 (√m c · √m σ(c/2)),
    while the computed δ² is a float sum of m terms (``proofs/dual-norm-correction.md``).
    """
    return Network([np.ones((1, 1)), np.full((width, 1), c)], [np.zeros(1), np.zeros(width)],
                   "sigmoid", "sigmoid", "cross-entropy")


@pytest.mark.parametrize("c", [0.1, 1.0, 3.3, 1e-3])
@pytest.mark.parametrize("norm", NORMS)
def test_equality_over_a_million_terms_is_no_violation(norm, c):
    net = _million_fan_out(c)
    report = verify_network(net, np.zeros((1, 1)), np.zeros((1, 10**6)), norm=norm)
    first = report.layers[0]
    assert report.violations == 0, report.to_json()["layers"]
    # an equality case: the measured norm is the bound up to the rounding of 10⁶-term sums
    assert abs(first.log10_delta_max - first.log10_bound_gamma) < 1e-9
    assert first.log10_bound_data == pytest.approx(first.log10_bound_gamma, abs=1e-12)
    # the allowance is the derived one, about 2·10⁶u, not a fixed 64ε per layer
    assert 2e-10 < first.rounding_allowance < 3e-10


def test_the_computed_sum_is_within_the_allowance_of_the_exact_one():
    """The measured δ² (a float sum of 10⁶ products) against the same sum in rational arithmetic."""
    from fractions import Fraction

    from gradmath.bounds import log10_rounding_allowance

    for c in (0.1, 3.3):
        net = _million_fan_out(c)
        p = backprop(net, np.zeros((1, 1)), np.zeros((1, 10**6)))
        s = p.activations[-1][0]
        assert np.all(s == s[0])  # every output is σ(c/2), the same float
        exact = Fraction(1, 4) * 10**6 * Fraction(c) * Fraction(float(s[0]))  # σ′(0) = ¼ exactly
        computed = Fraction(float(p.delta(2)[0, 0]))
        allowance = 10.0 ** log10_rounding_allowance(net, "inf")[0][0] - 1
        assert abs(computed - exact) <= Fraction(allowance) * exact


@pytest.mark.parametrize("width, wrong", [(10**6, 1e-8), (1000, 1e-11)])
@pytest.mark.parametrize("norm", NORMS)
def test_a_wrong_delta_beyond_the_allowance_is_reported(monkeypatch, norm, width, wrong):
    """A δ² made too large by a relative ``wrong`` (above the allowance, 2γ_m ≈ 2e-10 or 2e-13) is
    one violation at layer 2; the true δ² on the same equality case is none."""
    from gradmath.bounds import verify as verify_module

    net = _million_fan_out(0.37, width)
    x, y = np.zeros((1, 1)), np.zeros((1, width))
    assert verify_network(net, x, y, norm=norm).violations == 0
    real = verify_module._scaled_backprop_checked

    def wrong_first_delta(*args, **kwargs):
        p = real(*args, **kwargs)
        p.mantissas[0][:] *= 1.0 + wrong
        return p

    monkeypatch.setattr(verify_module, "_scaled_backprop_checked", wrong_first_delta)
    report = verify_network(net, x, y, norm=norm)
    assert report.layers[0].rounding_allowance < wrong / 10
    assert [layer.violations for layer in report.layers] == [1, 0]


# ----- the exponent counts the hidden Σ′ factors; an output activation of its own is a separate factor ------
@pytest.mark.parametrize("norm", NORMS)
def test_an_output_activation_other_than_the_hidden_one_is_its_own_factor(norm):
    net = Network.random((3, 5, 4, 2), seed=3, hidden_activation="tanh", output_activation="sigmoid",
                         cost="quadratic")
    x, y = np.random.default_rng(5).standard_normal((7, 3)), np.random.default_rng(6).random((7, 2))
    report = verify_network(net, x, y, norm=norm)
    assert [layer.exponent for layer in report.layers] == [2, 1, 0]  # L − l hidden tanh factors
    assert (report.gamma_hidden, report.output_factor) == (1.0, 0.25)  # tanh's γ; the sigmoid output's ¼
    assert "'sigmoid', a factor of its own" in report.output_factor_source
    assert report.to_json()["output_factor_source"] == report.output_factor_source
    # bound (a) recomputed: γ_h^k · c_out · ∏ ‖(wʳ)ᵀ‖ · max ‖aᴸ − y‖, in plain NumPy
    ord_ = {"2": 2, "1": 1, "inf": np.inf}[norm]
    a_out = backprop(net, x, y).activations[-1]
    res = np.linalg.norm(a_out - y, ord_, axis=1).max()
    for layer in report.layers:
        weights = np.prod([np.linalg.norm(net.weight(r).T, ord_) for r in range(layer.l + 1, net.depth + 1)])
        expected = report.gamma_hidden ** layer.exponent * 0.25 * weights * res
        assert 10.0 ** layer.log10_bound_gamma == pytest.approx(expected, rel=1e-9)
    assert report.violations == 0
    same = Network.random((3, 5, 4, 2), seed=3, hidden_activation="tanh", output_activation="tanh", cost="quadratic")
    same_report = verify_network(same, x, y, norm=norm)
    assert [layer.exponent for layer in same_report.layers] == [3, 2, 1]  # the seed's γ^(L−l+1)
    assert "counted in k" in same_report.output_factor_source


def test_a_regressor_with_identity_output_counts_only_hidden_factors():
    from sklearn.neural_network import MLPRegressor

    from gradmath.formats import from_sklearn

    rng = np.random.default_rng(0)
    x = rng.standard_normal((40, 3))
    y = np.stack([x[:, 0] - x[:, 1], x[:, 2] ** 2], axis=1)
    model = MLPRegressor(hidden_layer_sizes=(6, 5), activation="tanh", max_iter=50, random_state=0)
    with pytest.warns(Warning):  # ConvergenceWarning: 50 iterations are enough for a network to check
        model.fit(x, y)
    net = from_sklearn(model)
    assert (net.hidden_activation, net.output_activation, net.cost) == ("tanh", "identity", "quadratic")
    report = verify_network(net, x, y, norm="2")
    assert [layer.exponent for layer in report.layers] == [2, 1, 0]
    assert report.output_factor == 1.0 and "'identity', a factor of its own" in report.output_factor_source
    assert report.violations == 0


# ----- proofs/dual-norm-correction.md and proofs/rank-one-equality.md, numerically ----------------------------
@pytest.mark.parametrize("m, c", [(2, 1.0), (5, 0.3), (40, 2.0)])
def test_the_p1_mirror_network_has_output_sigma_of_mc_over_2(m, c):
    """(1, m, 1) with w² = (1, …, 1)ᵀ, w³ = c(1, …, 1), x = 0, y = 0: z³ = mc/2, so δ³ = σ(mc/2) and
    ‖δ²‖₁ = ¼·m·c·σ(mc/2) = ¼·‖(w³)ᵀ‖₁·‖δ³‖₁, m times ¼·‖w³‖₁·‖δ³‖₁."""
    from scipy.special import expit

    net = Network([np.ones((m, 1)), np.full((1, m), c)], [np.zeros(m), np.zeros(1)], "sigmoid", "sigmoid",
                  "cross-entropy")
    p = backprop(net, np.zeros((1, 1)), np.zeros((1, 1)))
    s = expit(m * c / 2)
    assert p.delta(3)[0, 0] == pytest.approx(s, rel=1e-15)
    assert np.abs(p.delta(2)).sum() == pytest.approx(0.25 * m * c * s, rel=1e-14)
    if not np.isclose(expit(c / 2), s):
        assert np.abs(p.delta(2)).sum() != pytest.approx(0.25 * m * c * expit(c / 2), rel=1e-6)
    report = verify_network(net, np.zeros((1, 1)), np.zeros((1, 1)), norm="1")
    assert report.violations == 0 and report.layers[0].tightness_gamma == pytest.approx(1.0, rel=1e-12)


@pytest.mark.parametrize("p", [1.0, 1.25, 1.5, 2.0, 3.0, 7.0, np.inf])
def test_holder_maximiser_attains_the_rank_one_norm_for_every_p(p):
    """x_j = sign(v_j)|v_j|^(q−1) (x = sign(v) for p = ∞, e_j at the largest |v_j| for p = 1) gives
    vᵀx = ‖v‖_q‖x‖_p, hence ‖uvᵀx‖_p = ‖u‖_p‖v‖_q‖x‖_p: the induced norm ‖uvᵀ‖_p is attained."""
    q = np.inf if p == 1 else 1.0 if p == np.inf else p / (p - 1)
    rng = np.random.default_rng(int(10 * min(p, 10)))
    for n in (1, 3, 8, 25):
        u, v = rng.standard_normal(4), rng.standard_normal(n)
        v[rng.random(n) < 0.2] = 0.0  # zeros: x_j = 0 there
        if p == 1:
            x = np.zeros(n)
            j = np.abs(v).argmax()
            x[j] = np.sign(v[j])
        else:
            x = np.sign(v) * np.abs(v) ** (q - 1) if q > 1 else np.sign(v)
        if not x.any():
            continue
        norm_x, norm_v = np.linalg.norm(x, p), np.linalg.norm(v, q)
        assert v @ x == pytest.approx(norm_v * norm_x, rel=1e-12)
        m = np.outer(u, v)
        assert np.linalg.norm(m @ x, p) == pytest.approx(np.linalg.norm(u, p) * norm_v * norm_x, rel=1e-12)
        for _ in range(20):  # and no other direction does better
            other = rng.standard_normal(n)
            bound = np.linalg.norm(u, p) * norm_v * np.linalg.norm(other, p)
            assert np.linalg.norm(m @ other, p) <= bound * (1 + 1e-12)
