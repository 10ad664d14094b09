"""gradmath.experiments.training: network2's SGD, checked against independent computations."""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from gradmath.backprop import mean_gradients, prepare_batch
from gradmath.data import load_dataset
from gradmath.errors import GradmathError
from gradmath.experiments.training import fused_gradients, train
from gradmath.network import Network

COMBINATIONS = [("sigmoid", "sigmoid", "cross-entropy"), ("tanh", "sigmoid", "cross-entropy"),
                ("sigmoid", "sigmoid", "quadratic"), ("relu", "softmax", "log-loss"), ("silu", "tanh", "quadratic")]


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", limit=120)


@settings(max_examples=40)
@given(sizes=st.lists(st.integers(1, 9), min_size=2, max_size=5), seed=st.integers(0, 2**32 - 1),
       combination=st.sampled_from(COMBINATIONS), rows=st.integers(1, 17))
@example(sizes=[1, 1], seed=0, combination=COMBINATIONS[0], rows=1)
def test_fused_gradients_match_mean_gradients(sizes, seed, combination, rows):
    hidden, output, cost = combination
    net = Network.random(sizes, seed=seed, hidden_activation=hidden, output_activation=output, cost=cost)
    rng = np.random.default_rng(seed)
    x = rng.random((rows, sizes[0]))
    y = rng.integers(0, sizes[-1], rows) if output != "tanh" else rng.random((rows, sizes[-1]))
    x, y = prepare_batch(net, x, y)
    expected_b, expected_w = mean_gradients(net, x, y)
    got_b, got_w = fused_gradients(net, net.weights, net.biases, x, y)
    for expected, got in zip(expected_b + expected_w, got_b + got_w):
        # Same arithmetic up to the order of sums and σ = (1 + tanh(z/2))/2 against expit.
        np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-15)


def _network2_sgd(net: Network, x, y, *, epochs, eta, lmbda, mini_batch_size, seed):
    """network2.SGD written as the book writes it: per example, column vectors, sums then means."""
    ws = [np.array(w) for w in net.weights]
    bs = [np.array(b).reshape(-1, 1) for b in net.biases]
    targets = np.eye(net.sizes[-1])[y]
    n = len(x)
    rng = np.random.default_rng(seed)
    sigmoid = lambda z: 1.0 / (1.0 + np.exp(-z))  # noqa: E731 - the book's definition
    for _ in range(epochs):
        order = np.arange(n) if mini_batch_size >= n else rng.permutation(n)
        for start in range(0, n, mini_batch_size):
            batch = order[start:start + mini_batch_size]
            nabla_b = [np.zeros_like(b) for b in bs]
            nabla_w = [np.zeros_like(w) for w in ws]
            for j in batch:
                activation, activations, zs = x[j].reshape(-1, 1), [x[j].reshape(-1, 1)], []
                for w, b in zip(ws, bs):
                    z = w @ activation + b
                    zs.append(z)
                    activation = sigmoid(z)
                    activations.append(activation)
                delta = activations[-1] - targets[j].reshape(-1, 1)   # CrossEntropyCost.delta
                nabla_b[-1] += delta
                nabla_w[-1] += delta @ activations[-2].T
                for k in range(2, len(ws) + 1):
                    sp = sigmoid(zs[-k]) * (1 - sigmoid(zs[-k]))
                    delta = (ws[-k + 1].T @ delta) * sp
                    nabla_b[-k] += delta
                    nabla_w[-k] += delta @ activations[-k - 1].T
            m = len(batch)
            ws = [(1 - eta * (lmbda / n)) * w - (eta / m) * nw for w, nw in zip(ws, nabla_w)]
            bs = [b - (eta / m) * nb for b, nb in zip(bs, nabla_b)]
    return ws, [b.ravel() for b in bs]


@pytest.mark.parametrize("mini_batch_size", [None, 10, 37])
def test_train_matches_network2_written_per_example(digits, mini_batch_size):
    x, y = digits.x[:60], digits.y[:60]
    net = Network.random((64, 12, 9, 10), seed=5)
    result = train(net, x, y, epochs=3, eta=0.5, lmbda=5.0, mini_batch_size=mini_batch_size, seed=11)
    with np.errstate(over="ignore"):  # the book's 1/(1 + e^−z) overflows harmlessly for very negative z
        ws, bs = _network2_sgd(net, x, y, epochs=3, eta=0.5, lmbda=5.0,
                               mini_batch_size=mini_batch_size or 60, seed=11)
    for got, expected in zip(result.network.weights + result.network.biases, ws + bs):
        np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-13)


def test_full_batch_matches_pytorch_autograd(digits):
    torch = pytest.importorskip("torch")
    net = Network.random((64, 20, 15, 10), seed=8)
    result = train(net, digits.x, digits.y, epochs=4, eta=0.1, lmbda=5.0)
    x = torch.tensor(digits.x)
    y = torch.nn.functional.one_hot(torch.tensor(digits.y), 10).double()
    ws = [torch.tensor(w, requires_grad=True) for w in net.weights]
    bs = [torch.tensor(b, requires_grad=True) for b in net.biases]
    n, speeds = len(x), []
    for _ in range(5):
        a = x
        for w, b in zip(ws, bs):
            a = torch.sigmoid(a @ w.T + b)
        cost = torch.nn.functional.binary_cross_entropy(a, y, reduction="sum") / n
        for p in ws + bs:
            p.grad = None
        cost.backward()
        speeds.append([float(b.grad.norm()) for b in bs[:-1]])
        with torch.no_grad():
            for w in ws:
                w.mul_(1 - 0.1 * 5.0 / n).sub_(0.1 * w.grad)
            for b in bs:
                b.sub_(0.1 * b.grad)
    np.testing.assert_allclose(result.speeds, speeds, rtol=1e-9)


def test_speeds_are_bias_gradient_norms_on_the_first_examples(digits):
    net = Network.random((64, 10, 10, 10, 10), seed=3)
    result = train(net, digits.x, digits.y, epochs=2, mini_batch_size=30, speed_examples=50, seed=1)
    for epoch, network in enumerate([net, None, result.network]):
        if network is None:
            continue
        grad_b, _ = mean_gradients(network, digits.x[:50], digits.y[:50])
        np.testing.assert_allclose(result.speeds[epoch], [np.linalg.norm(g) for g in grad_b[:-1]], rtol=1e-10)


def test_full_batch_speeds_reuse_the_step_gradients(digits):
    net = Network.random((64, 10, 10, 10), seed=4)
    networks = []
    shared = train(net, digits.x, digits.y, epochs=5, lmbda=5.0, callback=lambda e, n: networks.append(n))
    for epoch, network in enumerate(networks):
        grad_b, _ = mean_gradients(network, digits.x, digits.y)
        np.testing.assert_allclose(shared.speeds[epoch], [np.linalg.norm(g) for g in grad_b[:-1]], rtol=1e-10)
    separate = train(net, digits.x, digits.y, epochs=5, lmbda=5.0, speed_examples=len(digits) - 1)
    for a, b in zip(shared.network.weights, separate.network.weights):
        assert np.array_equal(a, b)   # the same steps, measured on a different set
    assert not np.allclose(shared.speeds, separate.speeds)


@pytest.mark.parametrize("mini_batch_size", [None, 16])
def test_training_is_deterministic_for_a_seed(digits, mini_batch_size):
    net = Network.random((64, 10, 10, 10), seed=6)
    runs = [train(net, digits.x, digits.y, epochs=3, lmbda=5.0, mini_batch_size=mini_batch_size, seed=2)
            for _ in range(2)]
    assert np.array_equal(runs[0].speeds, runs[1].speeds)
    for a, b in zip(runs[0].network.weights, runs[1].network.weights):
        assert np.array_equal(a, b)
    other = train(net, digits.x, digits.y, epochs=3, lmbda=5.0, mini_batch_size=mini_batch_size, seed=3)
    assert np.array_equal(other.speeds, runs[0].speeds) == (mini_batch_size is None)


def test_network_is_not_modified_and_callback_sees_every_epoch(digits):
    net = Network.random((64, 10, 10), seed=7)
    before = [w.copy() for w in net.weights]
    seen, done = [], []
    result = train(net, digits.x, digits.y, epochs=3, callback=lambda e, n: seen.append((e, n)),
                   progress=lambda d, t: done.append((d, t)))
    assert [e for e, _ in seen] == [0, 1, 2, 3] and seen[0][1] is net
    assert np.array_equal(seen[-1][1].weights[0], result.network.weights[0])
    assert done == [(1, 3), (2, 3), (3, 3)]
    assert all(np.array_equal(a, b) for a, b in zip(before, net.weights))
    assert result.to_json()["speeds"][0]["layer"] == 1 and len(result.to_json()["speeds"][0]["per_epoch"]) == 4


@pytest.mark.parametrize("kwargs, match", [
    ({"epochs": -1}, "epochs=-1"),
    ({"epochs": 1, "eta": 0.0}, "eta=0"),
    ({"epochs": 1, "lmbda": -1.0}, "lmbda=-1"),
    ({"epochs": 1, "mini_batch_size": 0}, "mini_batch_size=0"),
    ({"epochs": 1.5}, "epochs=1.5"),
    ({"epochs": 1, "speed_examples": 0}, "speed_examples=0"),
])
def test_invalid_arguments(digits, kwargs, match):
    with pytest.raises(GradmathError, match=match):
        train(Network.random((64, 5, 10), seed=0), digits.x, digits.y, **kwargs)


def test_limits_are_checked_before_training(digits):
    """Beyond MAX_EPOCHS, or MAX_WORK over the run, train refuses at once (nothing allocated per epoch)."""
    import tracemalloc

    from gradmath.experiments.training import MAX_EPOCHS, MAX_WORK

    net = Network.random((64, 5, 10), seed=0)
    with pytest.raises(GradmathError, match=rf"epochs=10000000 must be an integer in \[0, {MAX_EPOCHS}\]"):
        train(net, digits.x, digits.y, epochs=10**7)
    wide = Network.random((64, 2000, 10), seed=0)        # 150,010 parameters
    n = digits.x.shape[0]
    epochs = MAX_WORK // (n * 150_010)                   # (epochs + 1) passes over n rows: just past the limit
    assert (epochs + 1) * n * 150_010 > MAX_WORK >= epochs * n * 150_010
    tracemalloc.start()
    try:
        with pytest.raises(GradmathError, match=r"passes × 120 examples × 150,010 parameters = .* at most 3e\+11"):
            train(wide, digits.x, digits.y, epochs=epochs)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1_000_000          # not even the (epochs + 1) × layers table of speeds was made


@pytest.mark.parametrize("eta, lmbda", [(1e308, 5.0), (0.1, 1e308)])   # weight decay 1 − ηλ/n far below −1
def test_a_diverging_run_is_refused_naming_the_epoch_and_the_step_size(digits, eta, lmbda):
    """A step size that takes the parameters out of the floats is one NonFiniteError after that epoch, not a
    snapshot with NaN weights (or an error that blames the weights), and no NumPy warning on the way."""
    import warnings

    from gradmath.errors import NonFiniteError

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(NonFiniteError, match=r"training diverged in epoch \d+: layer \d's parameters are no "
                                                 r"longer finite " + re.escape(f"(eta={eta:g}, lmbda={lmbda:g})")):
            train(Network.random((64, 5, 10), seed=0), digits.x, digits.y, epochs=3, eta=eta, lmbda=lmbda)


def test_wrong_input_width(digits):
    with pytest.raises(GradmathError, match="64 columns but the network's input layer has width 784"):
        train(Network.random((784, 5, 10), seed=0), digits.x, digits.y, epochs=1)
