"""The matrix form (Nielsen's (124)): δ^l entry by entry against direct differentiation and mpmath."""

from __future__ import annotations

import json

import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from gradmath.activations import BUILTIN_ACTIVATIONS
from gradmath.costs import COST_NAMES, Y
from gradmath.errors import InvalidParameterError, UnknownActivationError
from gradmath.symbolic import matrix as mx
from gradmath.symbolic.chain import chain_symbol, derive_chain
from gradmath.symbolic.matrix import MAX_NEURONS, SigmaPrime, derive_matrix


@pytest.mark.parametrize("sizes", [(2, 3, 2), (1, 1), (2, 2, 2, 2), (3, 1, 2)])
@pytest.mark.parametrize("cost", COST_NAMES)
def test_small_networks_verify(sizes, cost):
    m = derive_matrix(sizes, "sigmoid", cost)
    assert m.verified, m.checks
    assert [c.name for c in m.checks] == ["nested", "numeric"]
    assert [d.shape for d in m.deltas] == [(n, 1) for n in sizes[1:]]


@settings(max_examples=30)
@given(sizes=st.lists(st.integers(1, 2), min_size=2, max_size=4), activation=st.sampled_from(BUILTIN_ACTIVATIONS),
       cost=st.sampled_from(COST_NAMES), seed=st.integers(0, 2**16))
def test_random_widths_and_activations_verify(sizes, activation, cost, seed):
    assert derive_matrix(tuple(sizes), activation, cost, seed=seed).verified


def test_one_neuron_per_layer_is_the_chain():
    m = derive_matrix((1, 1, 1, 1), "tanh", "quadratic", verify=False)
    chain = derive_chain(3, 1, "tanh", "quadratic", verify=False)
    names = {}
    for layer in (1, 2, 3):
        names[mx._sym("z", layer, 1)] = chain_symbol("z", layer)
        names[mx._sym("w", layer, 1, 1)] = chain_symbol("w", layer)
    names |= {mx._sym("a", 3, 1): chain_symbol("a", 3), mx._sym("y", 3, 1): Y}
    assert m.explicit(1)[0].xreplace(names) == sp.Mul(*chain.factors)


def test_sigma_prime_is_abstract_until_asked():
    m = derive_matrix((2, 3, 2), verify=False)
    assert m.deltas[0].atoms(SigmaPrime)
    assert not m.explicit(1).atoms(SigmaPrime)
    assert sp.latex(SigmaPrime(sp.Symbol("z"))) == r"\sigma'\left(z\right)"


def test_weight_gradient_is_delta_times_previous_activation():
    m = derive_matrix((2, 3, 2), verify=False)
    g = m.weight_gradient(2)
    assert g.shape == (2, 3)
    assert g[1, 2] == m.deltas[1][1] * mx._sym("a", 1, 3)


def test_numeric_check_catches_a_wrong_entry():
    m = derive_matrix((2, 2, 1), verify=False)
    act, cost = mx.resolve_activation("sigmoid"), mx.get_cost("quadratic")
    assert mx._check_numeric(m.sizes, act, cost, m.deltas, seed=0, digits=30).passed
    wrong = (m.deltas[0].applyfunc(lambda e: 2 * e),) + m.deltas[1:]
    assert not mx._check_numeric(m.sizes, act, cost, wrong, seed=0, digits=30).passed


def test_result_prints_and_serialises():
    m = derive_matrix("2,3,2", "tanh", "cross-entropy")
    payload = json.loads(json.dumps(m.to_json()))
    assert {"sizes", "depth", "activation", "cost", "layers", "verified", "checks"} <= set(payload)
    assert payload["sizes"] == [2, 3, 2] and payload["verified"] is True
    assert [len(layer["delta"]) for layer in payload["layers"]] == [3, 2]
    assert payload["layers"][0]["product_form"] == r"\delta^{1} = \Sigma'(z^{1}) (w^{2})^T \Sigma'(z^{2}) \nabla_a C"
    assert repr(m) == "MatrixDerivation(sizes=(2, 3, 2), activation='tanh', cost='cross-entropy', verified=True)"
    assert "| nested | yes | yes |" in m.to_markdown()
    assert m._repr_latex_().startswith("$$\\begin{aligned}")


@pytest.mark.parametrize(("sizes", "error", "match"), [
    ("2,,3", InvalidParameterError, r"sizes='2,,3' must be comma-separated positive integers"),
    ("a,b", InvalidParameterError, r"must be comma-separated positive integers"),
    ("2", InvalidParameterError, r"must list at least 2 layer widths"),
    ((2, 0, 2), InvalidParameterError, r"sizes=\(2, 0, 2\) must be at least two positive integers"),
    ((3,), InvalidParameterError, r"must be at least two positive integers"),
    (None, InvalidParameterError, r"sizes=None must be at least two positive integers"),
    ((2, MAX_NEURONS, 2), InvalidParameterError, rf"has {MAX_NEURONS + 2} neurons; at most {MAX_NEURONS}"),
    ((2, 2.5), InvalidParameterError, r"sizes=\(2, 2.5\) must be at least two positive integers"),
    ((2, True), InvalidParameterError, r"sizes=\(2, True\) must be at least two positive integers"),
    ((2, 10**5000), InvalidParameterError, r"sizes has a width of about 5000 digits; at most 24 inputs"),
    ((10**5000, 2.5), InvalidParameterError, r"holding an integer of over 4300 digits\) must be at least two"),
    ((0,) * 10**5, InvalidParameterError, r"\.\.\. \(300000 characters\) must be at least two positive"),
    ((10000, 2), InvalidParameterError, r"sizes=10000,2 has 10000 inputs; at most 24"),
    ((1,) * 10, InvalidParameterError, r"has 9 layers after the input; at most 8"),
    ((2, 3, 3, 3, 3, 3), InvalidParameterError, r"about 149,778 terms in the nested check; at most 40,000"),
])
def test_bad_sizes(sizes, error, match):
    with pytest.raises(error, match=match):
        derive_matrix(sizes)


def test_unknown_activation_lists_the_known_ones():
    with pytest.raises(UnknownActivationError, match="known: arctan, gelu"):
        derive_matrix((2, 2), "sigmod")


@pytest.mark.parametrize(("sizes", "activation", "cost"),
                         [((2, 3, 2), "sigmoid", "quadratic"), ((3, 2, 2, 1), "tanh", "quadratic"),
                          ((2, 2, 3), "sigmoid", "cross-entropy")])
def test_weight_gradient_matches_central_differences_of_the_cost(sizes, activation, cost):
    """∂C/∂wˡ = δˡ(aˡ⁻¹)ᵀ, every entry at random parameters, against an mpmath central difference of
    the cost in that weight (30 digits asked, 20 required)."""
    import mpmath
    import numpy as np

    from gradmath.finite_difference import checked_derivative

    m = derive_matrix(sizes, activation, cost, verify=False)
    act, cst = mx.resolve_activation(activation), mx.get_cost(cost)
    rng = np.random.default_rng(11)
    L = len(sizes) - 1
    x, y = rng.uniform(0.1, 0.9, sizes[0]), rng.uniform(0.1, 0.9, sizes[L])
    ws = [rng.standard_normal((sizes[l], sizes[l - 1])) for l in range(1, L + 1)]
    bs = [rng.standard_normal(sizes[l]) for l in range(1, L + 1)]

    def cost_of(weights):
        _, acts = mx._forward(act, x, weights, bs)
        return mpmath.fsum(cst.evaluate_mp(a_j, mpmath.mpf(y_j)) for a_j, y_j in zip(acts[-1], y))

    with mpmath.workdps(50):
        zs, acts = mx._forward(act, x, ws, bs)
        values = {mx._sym("y", L, j + 1): mpmath.mpf(v) for j, v in enumerate(y)}
        values.update({mx._sym("a", 0, k + 1): mpmath.mpf(v) for k, v in enumerate(x)})
        for layer in range(1, L + 1):
            for j in range(sizes[layer]):
                values[mx._sym("z", layer, j + 1)] = zs[layer - 1][j]
                values[mx._sym("a", layer, j + 1)] = acts[layer - 1][j]
                for k in range(sizes[layer - 1]):
                    values[mx._sym("w", layer, j + 1, k + 1)] = mpmath.mpf(ws[layer - 1][j, k])
        prime = sp.diff(act.expression, mx.X)
        for layer in range(1, L + 1):
            gradient = m.weight_gradient(layer).replace(SigmaPrime, lambda z: mx.rename(prime, mx.X, z))
            assert gradient.shape == (sizes[layer], sizes[layer - 1])
            for j in range(sizes[layer]):
                for k in range(sizes[layer - 1]):
                    entry = gradient[j, k]
                    symbols = sorted(entry.free_symbols, key=str)
                    value = sp.lambdify(symbols, entry, modules="mpmath")(*[values[s] for s in symbols])

                    def cost_at(t, layer=layer, j=j, k=k):
                        moved = [[list(map(mpmath.mpf, row)) for row in w] for w in ws]
                        moved[layer - 1][j][k] = t
                        return cost_of(moved)

                    numeric, spread = checked_derivative(cost_at, mpmath.mpf(ws[layer - 1][j, k]), digits=30)
                    assert spread < 1e-20
                    assert abs(numeric - value) <= 1e-20 * max(abs(numeric), abs(value), mpmath.mpf(1e-30))
