"""gradmath.testing catches the classic backprop bugs, shrinks each to a small network, and passes network2.

``network2_backprop`` below is a faithful copy of ``Network.backprop`` in Nielsen's ``src/network2.py``
(with the cost's ``delta`` inlined); every bug is that function with one classic mistake.
"""

from __future__ import annotations

import numpy as np
import pytest

from gradmath.testing import (
    BackpropMismatch,
    BackpropNotFinite,
    BackpropRaised,
    BackpropShapeError,
    GradientMismatch,
    check_backprop,
    from_batched_numpy,
)

SEED = 20240601  # a fixed seed: each check draws the same networks on every run


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def sigmoid_prime(z):
    return sigmoid(z) * (1 - sigmoid(z))


def softmax(z):
    e = np.exp(z - z.max(axis=0))
    return e / e.sum(axis=0)


def network2_backprop(weights, biases, x, y, *, cost="cross-entropy", output="sigmoid", bug=None):
    """network2's backprop; ``bug`` names one classic mistake to make."""
    nabla_b = [np.zeros(b.shape) for b in biases]
    nabla_w = [np.zeros(w.shape) for w in weights]
    activation = x
    activations = [x]
    zs = []
    for i, (b, w) in enumerate(zip(biases, weights)):
        z = np.dot(w, activation) + b
        zs.append(z)
        activation = softmax(z) if output == "softmax" and i == len(weights) - 1 else sigmoid(z)
        activations.append(activation)
    a = activations[-1]
    if cost == "cross-entropy":  # CrossEntropyCost.delta
        delta = (a - y) * sigmoid_prime(zs[-1]) if bug == "quadratic-delta-with-cross-entropy" else a - y
    elif cost == "log-loss":
        delta = a - y
    elif output == "softmax":  # quadratic cost, softmax output: the Jacobian diag(a) − aaᵀ times a − y
        delta = (a - y) * a * (1 - a) if bug == "softmax-jacobian-diagonal" else a * ((a - y) - np.dot(a.T, a - y))
    else:  # QuadraticCost.delta
        delta = (a - y) if bug == "no-sigma-prime-at-output" else (a - y) * sigmoid_prime(zs[-1])
    nabla_b[-1] = delta
    nabla_w[-1] = np.dot(delta, activations[-2].transpose())
    stop = len(weights) if bug == "off-by-one-in-layer-loop" else len(weights) + 1  # num_layers = len(weights) + 1
    for l in range(2, stop):
        z = zs[-l + 1] if bug == "wrong-layer-activation" else zs[-l]
        sp = 1.0 if bug == "no-sigma-prime-at-hidden" else sigmoid_prime(z)
        w = weights[-l + 1] if bug == "w-instead-of-w-transpose" else weights[-l + 1].transpose()
        delta = np.dot(w, delta) * sp
        nabla_b[-l] = delta
        previous = activations[-l] if bug == "wrong-layer-input" else activations[-l - 1]
        nabla_w[-l] = np.dot(delta, previous.transpose())
    return (nabla_b, nabla_w)


def network2_mini_batch(weights, biases, x, y, *, bug=None):
    """network2's update_mini_batch gradient: the mean of backprop over the batch's columns."""
    m = x.shape[1]
    nabla_b = [np.zeros(b.shape) for b in biases]
    nabla_w = [np.zeros(w.shape) for w in weights]
    for e in range(m):
        db, dw = network2_backprop(weights, biases, x[:, [e]], y[:, [e]])
        nabla_b = [nb + d for nb, d in zip(nabla_b, db)]
        nabla_w = [nw + d for nw, d in zip(nabla_w, dw)]
    bias_divisor = 1 if bug == "bias-gradient-summed" else m
    return [nb / bias_divisor for nb in nabla_b], [nw / m for nw in nabla_w]


BUGS = [  # (bug, cost, output activation)
    ("no-sigma-prime-at-output", "quadratic", None),
    ("no-sigma-prime-at-hidden", "cross-entropy", None),
    ("w-instead-of-w-transpose", "cross-entropy", None),
    ("wrong-layer-activation", "cross-entropy", None),
    ("wrong-layer-input", "quadratic", None),
    ("off-by-one-in-layer-loop", "cross-entropy", None),
    ("quadratic-delta-with-cross-entropy", "cross-entropy", None),
    ("softmax-jacobian-diagonal", "quadratic", "softmax"),
]


def _assert_small(err: BackpropMismatch) -> None:
    """The shrunk network: at most three layers (the input counts) of width at most two."""
    net = err.network
    assert net is not None and net.depth <= 3 and max(net.sizes) <= 2, net.describe()
    assert net.describe() in str(err)  # the message prints the drawn network in full


@pytest.mark.parametrize("bug, cost, output", BUGS, ids=[b for b, _, _ in BUGS])
def test_check_backprop_fails_each_classic_bug_and_shrinks_it(bug, cost, output):
    def backprop(weights, biases, x, y):
        return network2_backprop(weights, biases, x, y, cost=cost, output=output or "sigmoid", bug=bug)

    with pytest.raises(BackpropMismatch) as info:
        check_backprop(backprop, activation="sigmoid", cost=cost, output_activation=output, max_examples=100,
                       seed=SEED)
    _assert_small(info.value)


def test_bias_gradient_summed_not_averaged_fails_through_the_batched_adapter():
    adapter = from_batched_numpy(lambda w, b, x, y: network2_mini_batch(w, b, x, y, bug="bias-gradient-summed"))
    with pytest.raises(GradientMismatch, match=r"∂C/∂b. \(nabla_b\[\d\]\)") as info:
        check_backprop(adapter, activation="sigmoid", cost="cross-entropy", max_examples=100, seed=SEED)
    _assert_small(info.value)
    assert info.value.batch.size >= 2  # one example cannot tell a sum from a mean


@pytest.mark.parametrize("cost, output", [("cross-entropy", None), ("quadratic", None), ("quadratic", "softmax"),
                                          ("log-loss", None)])
def test_network2_backprop_passes(cost, output):
    def backprop(weights, biases, x, y):
        return network2_backprop(weights, biases, x, y, cost=cost, output=output or ("softmax" if cost == "log-loss"
                                                                                      else "sigmoid"))

    report = check_backprop(backprop, activation="sigmoid", cost=cost, output_activation=output, max_examples=60,
                            seed=SEED)
    assert report.examples == 60 and report.properties == ("reference", "outer-product", "bounds", "chain")
    assert report.output_activation == (output or {"log-loss": "softmax"}.get(cost, "sigmoid"))


def test_network2_mini_batch_passes_through_the_batched_adapter():
    report = check_backprop(from_batched_numpy(network2_mini_batch), max_examples=60, seed=SEED)
    assert report.examples == 60


def test_a_function_that_raises_is_named_with_its_line_and_the_network():
    def backprop(weights, biases, x, y):
        raise ValueError("my own mistake")

    with pytest.raises(BackpropRaised, match=r"backprop raised ValueError: my own mistake at .*test_testing.py:\d+ "
                                             r"in backprop: raise ValueError") as info:
        check_backprop(backprop, max_examples=5, seed=SEED)
    assert info.value.network.sizes == (1, 1)  # shrunk to the smallest network: every network raises
    assert "DrawnNetwork(sizes=(1, 1)" in str(info.value)


@pytest.mark.parametrize("result, match", [
    (lambda nb, nw: nb, r"not a pair \(nabla_b, nabla_w\)"),
    (lambda nb, nw: (nb[:-1], nw), r"nabla_b as \d+ arrays; network2's layout needs a list of \d+ arrays"),
    (lambda nb, nw: ([b.ravel() for b in nb], nw), r"nabla_b\[\d\] of shape \(\d+,\), but network2's layout needs"),
    (lambda nb, nw: (nb, [w.T for w in nw]), r"nabla_w\[\d\] of shape .* needs .*the shape of weights\[\d\]"),
    (lambda nb, nw: (nb, [np.array("x")] * len(nw)), r"nabla_w\[0\] that is not an array of numbers"),
])
def test_wrong_shapes_are_named(result, match):
    def backprop(weights, biases, x, y):
        return result(*network2_backprop(weights, biases, x, y))

    with pytest.raises(BackpropShapeError, match=match) as info:
        check_backprop(backprop, max_examples=20, seed=SEED)
    assert "for the drawn network:" in str(info.value)


def test_nan_is_named_with_its_entry():
    def backprop(weights, biases, x, y):
        nabla_b, nabla_w = network2_backprop(weights, biases, x, y)
        nabla_w[0][0, 0] = np.nan
        return nabla_b, nabla_w

    with pytest.raises(BackpropNotFinite, match=r"returned np.float64\(nan\) in nabla_w\[0\] entry \(0, 0\); every gradient"):
        check_backprop(backprop, max_examples=5, seed=SEED)


def test_a_mismatch_message_names_layer_values_tolerance_and_why():
    def backprop(weights, biases, x, y):
        return network2_backprop(weights, biases, x, y, bug="no-sigma-prime-at-hidden")

    with pytest.raises(GradientMismatch) as info:
        check_backprop(backprop, max_examples=100, seed=SEED)
    text = str(info.value)
    assert isinstance(info.value, AssertionError)
    for words in ("∂C/∂", "entry", "but the reference is", "exceeds the tolerance", "mpmath at 30 digits",
                  "first-order bound on float64 rounding", "weights[0]", "x (shape"):
        assert words in text, text


@pytest.mark.parametrize("kwargs, match", [
    ({"cost": "entropy"}, "did you mean 'cross-entropy'"),
    ({"activation": "sigmod"}, "did you mean 'sigmoid'"),
    ({"max_examples": 0}, "max_examples=0"),
    ({"norm": "3"}, "norm"),
    ({"properties": ("speed",)}, "speed"),
    ({"activation": "__import__('os')"}, "not an allowed function"),
])
def test_invalid_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        check_backprop(network2_backprop, **kwargs)
