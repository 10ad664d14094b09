"""The monitor's warnings fire on a vanishing gradient, a NaN batch and dead ReLU units, not on a healthy network."""

from __future__ import annotations

import warnings

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from gradmath.torch import GradientMonitor, GradientWarning  # noqa: E402


def _mlp(activation, depth, width=30, n_in=16, n_out=4, seed=0, critical=False):
    torch.manual_seed(seed)
    mods, n = [], n_in
    for _ in range(depth):
        linear = nn.Linear(n, width)
        if critical:   # He initialisation, σ_w² = 2, σ_b² = 0: χ₁ = 1 for ReLU (the critical point)
            nn.init.kaiming_normal_(linear.weight, nonlinearity="relu")
            nn.init.zeros_(linear.bias)
        mods += [linear, activation()]
        n = width
    mods.append(nn.Linear(n, n_out))
    return nn.Sequential(*mods).double()


def _run(model, x, y, steps=3, **options):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with GradientMonitor(model, loss=nn.CrossEntropyLoss(), **options) as monitor:
            for _ in range(steps):
                model.zero_grad()
                nn.CrossEntropyLoss()(model(x), y).backward()
    return monitor, [str(w.message) for w in caught if issubclass(w.category, GradientWarning)]


def _data(n=64, n_in=16, seed=1):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, n_in, generator=g, dtype=torch.float64), torch.randint(0, 4, (n,), generator=g)


def test_vanishing_sigmoid_network_warns_once_with_ratio_bound_and_mean_field():
    x, y = _data()
    monitor, messages = _run(_mlp(nn.Sigmoid, 6), x, y, bounds=True)
    assert len(messages) == 1, messages   # once per condition, although every step meets it
    message = messages[0]
    frame = monitor.to_frame()
    speed = frame[(frame.step == 0) & (frame.quantity == "speed")].set_index("layer").value
    ratio = speed[2] / speed[8]
    assert ratio < 0.01
    assert message.startswith(f"step 0, layer 2: the first layer learns {ratio:.3g} times as fast as layer 8")
    assert "bound (a) allowed" in message and "mean-field theory at initialisation" in message
    assert "ordered phase" in message


def test_healthy_critical_relu_network_does_not_warn():
    x, y = _data()
    monitor, messages = _run(_mlp(nn.ReLU, 6, critical=True), x, y, bounds=True)
    assert messages == [] and monitor.messages == []
    frame = monitor.to_frame()
    assert set(frame[frame.quantity == "dead_units"].value) <= {0.0, 1.0, 2.0}


def test_a_nan_batch_warns_and_flags_the_rows():
    x, y = _data()
    x[3, 5] = float("nan")
    monitor, messages = _run(_mlp(nn.Tanh, 2), x, y, steps=2)
    assert len(messages) == 3    # once per layer, not per step
    assert messages[0].startswith("step 0, layer 2: ") and "not finite" in messages[0]
    frame = monitor.to_frame()
    flagged = frame[frame.quantity == "nonfinite"]
    assert set(zip(flagged.step, flagged.layer)) == {(s, l) for s in (0, 1) for l in (2, 3, 4)}


def test_dead_relu_units_warn_with_the_count():
    x, y = _data()
    model = _mlp(nn.ReLU, 3)
    with torch.no_grad():
        model[2].bias.fill_(-100.0)   # layer 3's inputs are never positive: all 30 units dead
    monitor, messages = _run(model, x, y)
    assert [m for m in messages if "dead" in m] == [
        "step 0, layer 3: 30 of 30 units are dead (σ′ = 0 for every example of the batch), so their weights and "
        "biases get no gradient; lower the learning rate, use a leaky activation or a smaller negative bias"]
    frame = monitor.to_frame()
    dead = frame[(frame.quantity == "dead_units") & (frame.layer == 3)].value
    assert list(dead) == [30.0, 30.0, 30.0]
