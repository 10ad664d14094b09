"""Adapters (PyTorch, batched NumPy, JAX), custom activations, and the strategies' limits."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from hypothesis import find, given
from hypothesis import strategies as st

from gradmath.errors import InvalidParameterError, MissingDependencyError
from gradmath.expressions import parse_expression
from gradmath.gamma.hypotheses import check_defined_on_reals
from gradmath.testing import BackpropMismatch, GradientMismatch, check_backprop, from_jax, from_torch
from gradmath.testing.strategies import (
    BIAS_SCALES,
    MAX_DEPTH,
    WEIGHT_SCALES,
    activations,
    batches,
    custom_activations,
    networks,
)

SEED = 7


def _half_squared_error(a, y):
    """network2's quadratic cost ½‖a − y‖², summed over the outputs and averaged over the batch."""
    return 0.5 * ((a - y) ** 2).sum(dim=1).mean()


def test_torch_adapter_passes_a_correct_sequential():
    torch = pytest.importorskip("torch")
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Sigmoid(), torch.nn.Linear(4, 2), torch.nn.Sigmoid())
    adapter = from_torch(model, _half_squared_error)
    assert adapter.sizes == (3, 4, 2)
    report = check_backprop(adapter, activation="sigmoid", cost="quadratic", max_examples=40, seed=SEED)
    assert report.examples == 40
    assert model[0].weight.dtype == torch.float32  # the user's module is not changed (a float64 copy is used)


def test_torch_adapter_passes_softmax_with_log_loss():
    torch = pytest.importorskip("torch")
    model = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.Sigmoid(), torch.nn.Linear(3, 3))

    def log_loss(z, y):  # −Σ y ln softmax(z), averaged over the batch
        return -(y * torch.log_softmax(z, dim=1)).sum(dim=1).mean()

    report = check_backprop(from_torch(model, log_loss), cost="log-loss", max_examples=30, seed=SEED)
    assert report.output_activation == "softmax"


@pytest.mark.parametrize("wrong", ["tanh-hidden-layer", "mean-squared-error-loss"])
def test_torch_adapter_fails_a_wrong_model(wrong):
    torch = pytest.importorskip("torch")
    hidden = torch.nn.Tanh() if wrong == "tanh-hidden-layer" else torch.nn.Sigmoid()
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), hidden, torch.nn.Linear(4, 3), torch.nn.Sigmoid())
    # MSELoss(reduction="mean") also divides by the 3 outputs and drops network2's ½: 2/3 of the gradient
    # (with 2 outputs the two slips cancel)
    loss = torch.nn.MSELoss() if wrong == "mean-squared-error-loss" else _half_squared_error
    with pytest.raises(GradientMismatch, match="but the reference is") as info:
        check_backprop(from_torch(model, loss), activation="sigmoid", cost="quadratic", max_examples=40, seed=SEED)
    assert info.value.network.sizes == (3, 4, 3)  # the module's shape is fixed; the values shrink


def test_torch_adapter_refuses_models_it_cannot_fill():
    torch = pytest.importorskip("torch")
    with pytest.raises(InvalidParameterError, match="no nn.Linear"):
        from_torch(torch.nn.Sequential(torch.nn.Sigmoid()), _half_squared_error)
    with pytest.raises(InvalidParameterError, match="needs a bias"):
        from_torch(torch.nn.Sequential(torch.nn.Linear(2, 2, bias=False)), _half_squared_error)
    with pytest.raises(InvalidParameterError, match="torch.nn.Module"):
        from_torch(lambda x: x, _half_squared_error)


@pytest.mark.parametrize("module, adapter", [("jax", from_jax), ("torch", from_torch)])
def test_a_missing_framework_is_one_clear_error(monkeypatch, module, adapter):
    monkeypatch.setitem(sys.modules, module, None)  # import fails as if not installed
    args = (lambda w, b, x, y: 0.0,) if module == "jax" else (object(), _half_squared_error)
    with pytest.raises(MissingDependencyError, match=f"needs .*not installed; install it with pip install {module}"):
        adapter(*args)


def _atan_backprop(weights, biases, x, y, prime=lambda z: 1.0 / (1.0 + z * z)):
    """network2's backprop with σ = arctan and the quadratic cost."""
    activations, zs = [x], []
    for b, w in zip(biases, weights):
        zs.append(w @ activations[-1] + b)
        activations.append(np.arctan(zs[-1]))
    delta = (activations[-1] - y) * prime(zs[-1])
    nabla_b, nabla_w = [delta], [delta @ activations[-2].T]
    for l in range(2, len(weights) + 1):
        delta = (weights[-l + 1].T @ delta) * prime(zs[-l])
        nabla_b.insert(0, delta)
        nabla_w.insert(0, delta @ activations[-l - 1].T)
    return nabla_b, nabla_w


def test_an_activation_given_as_an_expression():
    report = check_backprop(_atan_backprop, activation="atan(x)", cost="quadratic", max_examples=40, seed=SEED)
    assert report.activation == "atan(x)"
    wrong = lambda w, b, x, y: _atan_backprop(w, b, x, y, prime=lambda z: 1.0 / (1.0 + z) ** 2)  # noqa: E731
    with pytest.raises(BackpropMismatch):
        check_backprop(wrong, activation="atan(x)", cost="quadratic", max_examples=40, seed=SEED)


def _relu_backprop(weights, biases, x, y):
    activations, zs = [x], []
    for b, w in zip(biases, weights):
        zs.append(w @ activations[-1] + b)
        activations.append(np.maximum(zs[-1], 0.0))
    delta = (activations[-1] - y) * (zs[-1] > 0)
    nabla_b, nabla_w = [delta], [delta @ activations[-2].T]
    for l in range(2, len(weights) + 1):
        delta = (weights[-l + 1].T @ delta) * (zs[-l] > 0)
        nabla_b.insert(0, delta)
        nabla_w.insert(0, delta @ activations[-l - 1].T)
    return nabla_b, nabla_w


def test_relu_with_its_kink_passes():
    report = check_backprop(_relu_backprop, activation="relu", cost="quadratic", max_examples=60, seed=SEED)
    assert report.examples == 60


@given(custom_activations())
def test_drawn_expressions_meet_the_hypotheses(text):
    expr = parse_expression(text)
    check_defined_on_reals(expr)  # raises if not
    assert expr.free_symbols


@given(networks(max_depth=5, max_width=3, hidden_activation=activations(), cost="quadratic")
       .flatmap(lambda net: st.tuples(st.just(net), batches(net, batch_size=st.integers(1, 3)))))
def test_drawn_networks_keep_their_limits_and_layout(case):
    net, batch = case
    assert 2 <= net.depth <= 5 and all(1 <= n <= 3 for n in net.sizes)
    for w, b, (n_in, n_out) in zip(net.weights, net.biases, zip(net.sizes, net.sizes[1:])):
        assert w.shape == (n_out, n_in) and b.shape == (n_out, 1)
        assert np.all(np.abs(w) <= 2 * max(WEIGHT_SCALES) / np.sqrt(n_in)) and np.all(np.abs(b) <= max(BIAS_SCALES))
    assert batch.x.shape[0] == net.sizes[0] and batch.y.shape == (net.sizes[-1], batch.size)
    assert np.all((0 <= batch.y) & (batch.y <= 1))


@pytest.mark.parametrize("kwargs, match", [
    ({"max_depth": 1}, "max_depth=1"),
    ({"max_depth": MAX_DEPTH + 1}, f"max_depth={MAX_DEPTH + 1}"),
    ({"max_width": 10**6}, "max_width=1000000"),
    ({"sizes": (3,)}, "depth=1"),
    ({"cost": "log-loss", "output_activation": "sigmoid"}, "needs output_activation='softmax'"),
])
def test_strategy_limits_are_checked(kwargs, match):
    with pytest.raises(InvalidParameterError, match=match):
        find(networks(**kwargs), lambda net: True)


def _linear_backprop(weights, biases, x, y):
    """network2's backprop with σ(x) = 3x and the quadratic cost: every factor 3, nothing saturates."""
    activations, zs = [x], []
    for b, w in zip(biases, weights):
        zs.append(w @ activations[-1] + b)
        activations.append(3 * zs[-1])
    delta = (activations[-1] - y) * 3
    nabla_b, nabla_w = [delta], [delta @ activations[-2].T]
    for l in range(2, len(weights) + 1):
        delta = (weights[-l + 1].T @ delta) * 3
        nabla_b.insert(0, delta)
        nabla_w.insert(0, delta @ activations[-l - 1].T)
    return nabla_b, nabla_w


def test_deep_networks_with_huge_weights_stay_inside_float64_or_are_left_out():
    """Gradients near 1e300 are judged in log space; those past float64's range are not drawn (no overflow error)."""
    with np.errstate(all="raise", under="ignore"):
        report = check_backprop(_linear_backprop, activation="3*x", cost="quadratic", max_examples=30, max_depth=30,
                                max_width=3, weight_scale=1e3, seed=SEED)
    assert report.examples == 30


def test_torch_cross_entropy_through_logits_passes_and_through_a_sigmoid_output_fails_at_saturation():
    """binary_cross_entropy on σ(z) divides by a(1 − a), clamped at 1e-12: a saturated unit loses its gradient."""
    torch = pytest.importorskip("torch")
    functional = torch.nn.functional
    logits = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Sigmoid(), torch.nn.Linear(2, 1))
    loss = lambda z, y: functional.binary_cross_entropy_with_logits(z, y, reduction="sum") / len(z)  # noqa: E731
    check_backprop(from_torch(logits, loss), cost="cross-entropy", max_examples=40, seed=SEED)
    sigmoid_out = torch.nn.Sequential(*logits, torch.nn.Sigmoid())
    loss = lambda a, y: functional.binary_cross_entropy(a, y, reduction="sum") / len(a)  # noqa: E731
    with pytest.raises(GradientMismatch) as info:
        check_backprop(from_torch(sigmoid_out, loss), cost="cross-entropy", max_examples=100, seed=SEED,
                       bias_scale=40.0)
    net = info.value.network
    assert max(np.abs(b).max() for b in net.biases) > 10  # found where a bias saturates a unit
