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
])
def test_bad_sizes(sizes, error, match):
    with pytest.raises(error, match=match):
        derive_matrix(sizes)


def test_unknown_activation_lists_the_known_ones():
    with pytest.raises(UnknownActivationError, match="known: arctan, gelu"):
        derive_matrix((2, 2), "sigmod")
