"""The network model and vectorised backprop: validation, chunking, finite differences."""

from __future__ import annotations

import numpy as np
import pytest

from gradmath.backprop import backprop, cost_per_example, iter_backprop, mean_gradients, prepare_batch
from gradmath.errors import DataError, InvalidParameterError, NonFiniteError, ShapeError, UnknownNameError
from gradmath.network import Network

CASES = [
    ("quadratic", "sigmoid"), ("quadratic", "tanh"), ("quadratic", "softmax"),
    ("cross-entropy", "sigmoid"), ("log-loss", "softmax"),
]


def _targets(rng, cost, n, k):
    y = rng.random((n, k))
    return y / y.sum(axis=1, keepdims=True) if cost == "log-loss" else y


@pytest.mark.parametrize(("cost", "output"), CASES)
@pytest.mark.parametrize("hidden", ["sigmoid", "tanh", "gelu", "softplus"])
def test_deltas_match_central_differences_of_the_cost(cost, output, hidden):
    rng = np.random.default_rng(3)
    net = Network.random((3, 5, 4, 2), seed=1, cost=cost, output_activation=output, hidden_activation=hidden)
    x, y = rng.random((3, 3)), _targets(rng, cost, 3, 2)
    p = backprop(net, x, y)
    h = 1e-6
    for layer in range(2, net.depth + 1):
        for j in range(net.sizes[layer - 1]):
            plus = [b.copy() for b in net.biases]
            minus = [b.copy() for b in net.biases]
            plus[layer - 2][j] += h
            minus[layer - 2][j] -= h
            fd = (cost_per_example(net.with_parameters(net.weights, plus), x, y)
                  - cost_per_example(net.with_parameters(net.weights, minus), x, y)) / (2 * h)
            np.testing.assert_allclose(p.delta(layer)[:, j], fd, rtol=1e-6, atol=1e-9)


def test_chunks_give_the_same_result_as_one_pass():
    rng = np.random.default_rng(0)
    net = Network.random((6, 7, 3), seed=2)
    x, y = rng.random((50, 6)), rng.integers(0, 3, 50)
    whole = backprop(net, x, y)
    for rows, part in iter_backprop(net, x, y, chunk_size=7):
        for d_whole, d_part in zip(whole.deltas, part.deltas):
            np.testing.assert_allclose(d_whole[rows], d_part, rtol=1e-13, atol=1e-300)  # BLAS blocking differs
    gb, gw = mean_gradients(net, x, y, chunk_size=9)
    for i, delta in enumerate(whole.deltas):
        np.testing.assert_allclose(gb[i], delta.mean(axis=0), rtol=1e-12)
        np.testing.assert_allclose(gw[i], delta.T @ whole.activations[i] / 50, rtol=1e-12)


def test_labels_become_one_hot():
    net = Network.random((2, 3), seed=0)
    _, y = prepare_batch(net, np.zeros((2, 2)), np.array([2, 0]))
    np.testing.assert_array_equal(y, [[0, 0, 1], [1, 0, 0]])


def test_extreme_weights_stay_finite():
    net = Network.random((4, 8, 8, 3), seed=0, weight_scale=1e3)
    p = backprop(net, np.ones((2, 4)), np.zeros((2, 3)))
    assert all(np.isfinite(d).all() for d in p.deltas)


@pytest.mark.parametrize(
    ("make", "error", "match"),
    [
        (lambda: Network([], []), ShapeError, "empty"),
        (lambda: Network([np.ones((3, 4)), np.ones((2, 4))], [np.zeros(3), np.zeros(2)]), ShapeError,
         r"layer 3: weight shape \(2, 4\) does not follow a layer of width 3"),
        (lambda: Network([np.ones((3, 4))], [np.zeros(2)]), ShapeError, "bias shape"),
        (lambda: Network([np.array([[1.0, np.nan]])], [np.zeros(1)]), NonFiniteError, r"layer 2 weights .* index \(0, 1\)"),
        (lambda: Network([np.ones((1, 1))], [np.zeros(1)], cost="mse"), UnknownNameError, "cost='mse'"),
        (lambda: Network([np.ones((1, 1))], [np.zeros(1)], hidden_activation="sigmod"), UnknownNameError, "sigmoid"),
        (lambda: Network([np.ones((1, 1))], [np.zeros(1)], output_activation="tanh", cost="cross-entropy"),
         InvalidParameterError, "needs output_activation='sigmoid'"),
        (lambda: Network([np.array([["a"]])], [np.zeros(1)]), InvalidParameterError, "dtype"),
        (lambda: Network.random((3,)), InvalidParameterError, "at least 2"),
    ],
)
def test_invalid_networks(make, error, match):
    with pytest.raises(error, match=match):
        make()


@pytest.mark.parametrize(
    ("x", "y", "error", "match"),
    [
        (np.zeros((2, 5)), np.zeros((2, 2)), ShapeError, "5 columns .* width 3"),
        (np.zeros((2, 3)), np.zeros((3, 2)), ShapeError, "y has shape"),
        (np.full((2, 3), np.inf), np.zeros((2, 2)), NonFiniteError, "x has a non-finite value inf at index"),
        (np.zeros((2, 3)), np.array([0, 5]), DataError, "labels must lie in"),
        (np.zeros((0, 3)), np.zeros((0, 2)), DataError, "no examples"),
    ],
)
def test_invalid_batches(x, y, error, match):
    with pytest.raises(error, match=match):
        backprop(Network.random((3, 2), seed=0), x, y)


def test_binary_labels_for_one_output_unit_are_its_targets():
    net = Network.random((2, 3, 1), seed=0)
    _, y = prepare_batch(net, np.zeros((3, 2)), np.array([0, 1, 1]))
    np.testing.assert_array_equal(y, [[0.0], [1.0], [1.0]])
    with pytest.raises(DataError, match="labels must lie in"):
        prepare_batch(net, np.zeros((2, 2)), np.array([0, 2]))


@pytest.mark.parametrize("name", ["sigmoid", "tanh"])
@pytest.mark.parametrize("buffered", [False, True])
def test_fused_sigma_and_prime_agree_with_the_activation_kernels(name, buffered):
    """The one-exponential kernels of the backward pass, over the whole float range (z < −709.78
    takes the sigmoid's overflow-free fallback), against the activation's own stable kernels."""
    from gradmath.activations import get_activation
    from gradmath.backprop import _FUSED, ChunkBuffers

    z = np.concatenate([np.linspace(-800.0, 800.0, 4001), [-745.2, -709.9, -709.7, 0.0, -0.0, 1e-300, -1e-300]])
    z = np.tile(z, (3, 1)).T  # rows × 3 units
    out = None
    if buffered:
        buffers = ChunkBuffers(z.shape[0])
        view = buffers.take("z", 2, z.shape[0], 3)  # units along rows in memory, as verify_network keeps them
        view[...] = z
        z = view
        out = [buffers.take(kind, 2, z.shape[0], 3) for kind in ("a", "p", "t")]
    act = get_activation(name)
    a, prime = _FUSED[name](z, out)
    tiny = np.finfo(np.float64).tiny
    for got, want in ((a, act.stable_sigma(z)), (prime, act.stable_prime(z))):
        normal = np.abs(want) >= tiny
        np.testing.assert_allclose(got[normal], want[normal], rtol=8 * np.finfo(np.float64).eps, atol=0)
        np.testing.assert_allclose(got[~normal], want[~normal], rtol=0, atol=tiny)  # subnormal or zero
