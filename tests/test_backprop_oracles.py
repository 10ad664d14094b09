"""Per-example δˡ against two independent oracles.

1. mpmath: the cost of each example evaluated at 40 digits with σ from the activation's
   SymPy expression (``sigma_mp``), differentiated by central differences in the biases
   (step 1e-15, truncation error ~1e-30): no code shared with :mod:`gradmath.backprop`.
2. PyTorch autograd in float64 (skipped where torch is absent; CI installs it), on random
   networks and on a network trained on the digits.
"""

from __future__ import annotations

import mpmath
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gradmath.activations import BUILTIN_ACTIVATIONS, get_activation
from gradmath.backprop import backprop, scaled_backprop
from gradmath.network import SOFTMAX, Network

CASES = [("quadratic", "sigmoid"), ("quadratic", "tanh"), ("quadratic", "softmax"), ("quadratic", "gelu"),
         ("cross-entropy", "sigmoid"), ("log-loss", "softmax")]


def _mp_cost(net: Network, x, y, biases) -> mpmath.mpf:
    """C for one example, every operation in mpmath."""
    a = [mpmath.mpf(float(v)) for v in x]
    L = net.depth
    for layer in range(2, L + 1):
        w = net.weight(layer)
        z = [mpmath.fsum(mpmath.mpf(float(w[j, k])) * a[k] for k in range(w.shape[1])) + biases[layer - 2][j]
             for j in range(w.shape[0])]
        if layer == L and net.output_activation == SOFTMAX:
            top = max(z)
            e = [mpmath.exp(v - top) for v in z]
            total = mpmath.fsum(e)
            a = [v / total for v in e]
            log_a = [v - top - mpmath.log(total) for v in z]
        else:
            act = net.activation(layer)
            a = [act.sigma_mp(v) for v in z]
    y = [mpmath.mpf(float(v)) for v in y]
    if net.cost == "quadratic":
        return mpmath.fsum((ai - yi) ** 2 for ai, yi in zip(a, y)) / 2
    if net.cost == "cross-entropy":
        return -mpmath.fsum(yi * mpmath.log(ai) + (1 - yi) * mpmath.log(1 - ai) for ai, yi in zip(a, y))
    return -mpmath.fsum(yi * la for yi, la in zip(y, log_a))


def _mp_deltas(net: Network, x, y, *, h=mpmath.mpf("1e-15")) -> list[np.ndarray]:
    with mpmath.workdps(40):
        base = [[mpmath.mpf(float(v)) for v in b] for b in net.biases]
        out = []
        for i, b in enumerate(base):
            d = []
            for j in range(len(b)):
                plus = [list(v) for v in base]
                minus = [list(v) for v in base]
                plus[i][j] += h
                minus[i][j] -= h
                d.append(float((_mp_cost(net, x, y, plus) - _mp_cost(net, x, y, minus)) / (2 * h)))
            out.append(np.array(d))
    return out


@pytest.mark.parametrize(("cost", "output"), CASES)
@pytest.mark.parametrize("hidden", BUILTIN_ACTIVATIONS)
def test_deltas_match_mpmath_central_differences(cost, output, hidden):
    net = Network.random((3, 4, 3, 3), seed=hash((cost, output, hidden)) % 1000, hidden_activation=hidden,
                         output_activation=output, cost=cost)
    rng = np.random.default_rng(0)
    x, y = rng.random(3) * 2 - 0.5, rng.random(3)
    if cost == "log-loss":
        y /= y.sum()
    deltas = backprop(net, x[None], y[None]).deltas
    for got, expected in zip(deltas, _mp_deltas(net, x, y)):
        # relu: σ′ jumps at 0; a bias step could cross it, but no z here lies within 1e-15 of 0.
        np.testing.assert_allclose(got[0], expected, rtol=1e-10, atol=1e-14 * np.abs(expected).max())


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10**6), st.sampled_from(CASES), st.sampled_from(["sigmoid", "tanh", "softsign", "arctan"]),
       st.lists(st.integers(1, 4), min_size=2, max_size=4), st.floats(0.1, 4.0))
def test_deltas_match_mpmath_on_drawn_networks(seed, case, hidden, sizes, scale):
    cost, output = case
    net = Network.random(sizes, seed=seed, hidden_activation=hidden, output_activation=output, cost=cost,
                         weight_scale=scale)
    rng = np.random.default_rng(seed)
    x, y = rng.standard_normal(sizes[0]), rng.random(sizes[-1])  # log-loss targets need not sum to 1
    deltas = backprop(net, x[None], y[None]).deltas
    for got, expected in zip(deltas, _mp_deltas(net, x, y)):
        scale_ = np.abs(expected).max()
        np.testing.assert_allclose(got[0], expected, rtol=1e-9, atol=1e-12 * scale_ + 1e-300)


def test_scaled_backprop_is_bit_identical_where_nothing_overflows():
    net = Network.random((6, 8, 8, 4), seed=3, hidden_activation="gelu", cost="quadratic", output_activation="softmax")
    x, y = np.random.default_rng(1).random((20, 6)), np.random.default_rng(2).random((20, 4))
    plain = backprop(net, x, y).deltas
    scaled = scaled_backprop(net, x, y)
    for d, m, e in zip(plain, scaled.mantissas, scaled.exponents):
        np.testing.assert_array_equal(np.ldexp(m, e[:, None]), d)


# ----- PyTorch autograd ---------------------------------------------------------------------
def _torch_deltas(net: Network, x: np.ndarray, y: np.ndarray) -> list[np.ndarray]:
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    acts = {"sigmoid": torch.sigmoid, "tanh": torch.tanh, "relu": torch.relu, "silu": F.silu, "gelu": F.gelu,
            "softsign": F.softsign, "arctan": torch.atan,
            "softplus": lambda z: F.softplus(z, beta=1.0, threshold=1e300)}  # no linear cut-off
    a = torch.from_numpy(np.array(x))  # a writable copy
    zs = []
    for layer in range(2, net.depth + 1):
        w = torch.from_numpy(np.array(net.weight(layer)))
        b = torch.from_numpy(np.array(net.bias(layer)))
        z = (a @ w.T + b).requires_grad_(True) if layer == 2 else a @ w.T + b
        z.retain_grad()
        zs.append(z)
        if layer == net.depth and net.output_activation == SOFTMAX:
            a = torch.softmax(z, dim=1)
        else:
            a = acts[net.activation(layer).name](z)
    t = torch.from_numpy(y)
    z_out = zs[-1]
    if net.cost == "quadratic":
        cost = 0.5 * ((a - t) ** 2).sum()
    elif net.cost == "cross-entropy":
        cost = F.binary_cross_entropy_with_logits(z_out, t, reduction="sum")
    else:
        cost = -(t * torch.log_softmax(z_out, dim=1)).sum()
    cost.backward()  # the examples are independent, so ∂(ΣC)/∂zˡ row by row is each δˡ
    return [z.grad.numpy() for z in zs]


def _relative_errors(net, x, y):
    ours = backprop(net, x, y).deltas
    theirs = _torch_deltas(net, x, y)
    out = []
    for d, t in zip(ours, theirs):
        scale = np.linalg.norm(t, axis=1)
        keep = scale > 0
        out.append((np.linalg.norm(d - t, axis=1)[keep] / scale[keep]).max(initial=0.0))
    return out


@pytest.mark.parametrize(("cost", "output"), CASES)
@pytest.mark.parametrize("hidden", BUILTIN_ACTIVATIONS)
def test_deltas_match_torch_autograd_on_random_networks(cost, output, hidden):
    pytest.importorskip("torch")
    net = Network.random((10, 16, 16, 16, 5), seed=7, hidden_activation=hidden, output_activation=output, cost=cost)
    rng = np.random.default_rng(8)
    x, y = rng.random((64, 10)), rng.random((64, 5))
    if cost == "log-loss":
        y /= y.sum(axis=1, keepdims=True)
    assert max(_relative_errors(net, x, y)) < 1e-10


def test_deltas_match_torch_autograd_on_a_trained_digits_network():
    pytest.importorskip("torch")
    from gradmath.formats import from_sklearn
    from gradmath.reports.verification import train_digits_mlp

    data, model = train_digits_mlp(max_iter=60)
    net = from_sklearn(model)
    y = np.eye(10)[data.y]
    assert max(_relative_errors(net, data.x, y)) < 1e-10


def test_softmax_output_is_stable_for_one_hot_outputs():
    """Softmax with quadratic cost near one-hot outputs: torch and mpmath agree with the careful form."""
    net = Network([np.array([[30.0], [0.0]])], [np.zeros(2)], "sigmoid", SOFTMAX, "quadratic")
    x, y = np.array([[1.0]]), np.array([[0.0, 1.0]])
    got = backprop(net, x, y).deltas[0][0]
    expected = _mp_deltas(net, x[0], y[0])[0]
    np.testing.assert_allclose(got, expected, rtol=1e-10)
    assert get_activation("sigmoid").name == "sigmoid"
