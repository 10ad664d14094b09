"""Training patterns beyond one forward and one backward pass per step: gradients accumulated over passes, a graph
kept for a second backward pass, several forward passes in one backward pass, a shared layer, activation
checkpointing, ``torch.autograd.grad``, a deep copy of the model, an empty batch, weights that move fast under the
bounds. A step is one backward pass; each value is that pass's, or it is not recorded and a warning says why."""

from __future__ import annotations

import copy
import math
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("pandas")
from torch import nn  # noqa: E402

from gradmath.torch import GradientMonitor, MonitorWarning  # noqa: E402
from tests.test_torch_monitor import _step_keeping_outputs  # noqa: E402

#: float64 agreement of the same gradients computed in another order by autograd: a few ulps.
RTOL = 1e-12


def _model(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(5, 7), nn.Tanh(), nn.Linear(7, 3)).double()


def _data(n=16):
    g = torch.Generator().manual_seed(1)
    return torch.randn(n, 5, generator=g, dtype=torch.float64), torch.randint(0, 3, (n,), generator=g)


def _value(frame, step, layer, quantity):
    rows = frame[(frame.step == step) & (frame.layer == layer) & (frame.quantity == quantity)].value
    assert len(rows) <= 1
    return float(rows.iloc[0]) if len(rows) else None


def _per_example_max(model, x, y, layer_index):
    """The largest ‖∂Cₙ/∂zˡ‖ over the examples, each example's own loss (a batch of one)."""
    out = []
    for n in range(len(x)):
        kept = {}
        handle = model[layer_index].register_forward_hook(lambda m, i, o: kept.setdefault("z", o))
        loss = nn.functional.cross_entropy(model(x[n:n + 1]), y[n:n + 1])
        handle.remove()
        out.append(float(torch.autograd.grad(loss, kept["z"])[0].norm()))
    return max(out)


def test_accumulated_gradients_give_each_pass_its_own_speed():
    model, (x, y) = _model(), _data()
    ce = nn.CrossEntropyLoss()
    with GradientMonitor(model, loss=ce, copy_every=1) as monitor:
        ce(model(x[:8]), y[:8]).backward()
        first = [p.grad.clone() for p in model.parameters()]
        ce(model(x[8:]), y[8:]).backward()    # no zero_grad: .grad holds both passes now
    frame = monitor.to_frame()
    own = [p.grad - g for p, g in zip(model.parameters(), first)]
    assert _value(frame, 0, 2, "speed") == pytest.approx(float(first[1].norm()), rel=RTOL)
    assert _value(frame, 1, 2, "speed") == pytest.approx(float(own[1].norm()), rel=RTOL)
    assert _value(frame, 1, 3, "weight_grad_norm") == pytest.approx(float(own[2].norm()), rel=RTOL)
    assert _value(frame, 1, 2, "speed") < float(model[0].bias.grad.norm())   # not the accumulated .grad
    assert monitor.messages == []


def test_a_second_backward_pass_through_a_kept_graph_is_a_second_step():
    model, (x, y) = _model(), _data()
    ce = nn.CrossEntropyLoss()
    with GradientMonitor(model, loss=ce, copy_every=1) as monitor:
        loss = ce(model(x), y)
        loss.backward(retain_graph=True)
        loss.backward()
    frame = monitor.to_frame()
    assert monitor.step == 2 and sorted(set(frame.step)) == [0, 1]
    for quantity in ("speed", "weight_grad_norm", "delta_norm_max"):   # the same pass twice: the same values
        assert _value(frame, 1, 2, quantity) == pytest.approx(_value(frame, 0, 2, quantity), rel=RTOL)


def test_several_forward_passes_in_one_backward_pass_are_one_step_and_said():
    model, (x, y) = _model(), _data()
    ce = nn.CrossEntropyLoss()
    with pytest.warns(MonitorWarning, match="reached more than once in one backward pass"):
        with GradientMonitor(model, loss=ce, copy_every=1) as monitor:
            (ce(model(x[:10]), y[:10]) + ce(model(x[10:]), y[10:])).backward()
    frame = monitor.to_frame()
    assert monitor.step == 1 and set(frame.step) == {0}
    # the speed is the whole backward pass's; the ‖δˡ‖ are those of the use reached first: the later forward pass
    assert _value(frame, 0, 2, "speed") == pytest.approx(float(model[0].bias.grad.norm()), rel=RTOL)
    assert _value(frame, 0, 2, "delta_norm_max") == pytest.approx(_per_example_max(model, x[10:], y[10:], 0),
                                                                  rel=1e-10)


def test_a_layer_used_twice_in_a_forward_pass_is_one_step_and_said():
    class Shared(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b, self.c = nn.Linear(5, 6), nn.Linear(6, 6), nn.Linear(6, 3)

        def forward(self, x):
            return self.c(torch.tanh(self.b(torch.tanh(self.b(torch.tanh(self.a(x)))))))

    torch.manual_seed(0)
    model, (x, y) = Shared().double(), _data()
    with pytest.warns(MonitorWarning, match="layer 3: its output was reached more than once"):
        with GradientMonitor(model, loss=nn.CrossEntropyLoss(), copy_every=1) as monitor:
            nn.CrossEntropyLoss()(model(x), y).backward()
    frame = monitor.to_frame()
    assert monitor.step == 1 and set(frame.layer) == {2, 3, 4}
    assert _value(frame, 0, 3, "speed") == pytest.approx(float(model.b.bias.grad.norm()), rel=RTOL)


def test_activation_checkpointing_records_what_the_plain_model_does():
    from torch.utils.checkpoint import checkpoint

    class Checkpointed(nn.Module):
        def __init__(self, net):
            super().__init__()
            self.net = net

        def forward(self, x):
            return self.net[2](checkpoint(self.net[:2], x, use_reentrant=False))

    (x, y), ce = _data(), nn.CrossEntropyLoss()
    frames = []
    for wrap in (lambda m: m, Checkpointed):
        model = wrap(_model())
        with GradientMonitor(model, loss=ce, copy_every=2) as monitor:
            for _ in range(3):
                model.zero_grad()
                ce(model(x), y).backward()
        assert monitor.messages == [] and monitor.step == 3
        frames.append(monitor.to_frame())
    np.testing.assert_allclose(frames[1].value.to_numpy(), frames[0].value.to_numpy(), rtol=RTOL)
    assert list(frames[1].quantity) == list(frames[0].quantity)


def test_gradients_from_autograd_grad_are_said_never_recorded_stale():
    """torch.autograd.grad leaves .grad alone; a .grad set by hand after it belongs to no backward pass."""
    model, (x, y) = _model(), _data(15)
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    ce = nn.CrossEntropyLoss()
    with pytest.warns(MonitorWarning, match=r"layers 2, 3: the backward pass left the parameters' .grad as it was"):
        with GradientMonitor(model, loss=ce, copy_every=1) as monitor:
            for s in range(3):
                grads = torch.autograd.grad(ce(model(x[5 * s:5 * s + 5]), y[5 * s:5 * s + 5]),
                                            list(model.parameters()))
                for p, g in zip(model.parameters(), grads):
                    p.grad = g
                opt.step()
    frame = monitor.to_frame()
    assert "speed" not in set(frame.quantity) and "weight_grad_norm" not in set(frame.quantity)
    assert monitor.step == 3 and "delta_norm_max" in set(frame.quantity)


def test_a_deep_copy_of_the_model_is_not_recorded():
    model, (x, y) = _model(), _data()
    ce = nn.CrossEntropyLoss()
    with GradientMonitor(model, loss=ce, copy_every=1) as monitor:
        ce(model(x), y).backward()
        twin = copy.deepcopy(model)   # copies the forward hooks too
        ce(twin(x[:6]), y[:6]).backward()
    ce(twin(x[:6]), y[:6]).backward()   # after detaching
    assert monitor.step == 1 and set(monitor.to_frame().step) == {0}


def test_an_empty_batch_is_a_step_without_per_example_values():
    model, (x, y) = _model(), _data()
    ce = nn.CrossEntropyLoss(reduction="sum")   # an empty batch's loss is 0: harmless to training
    with GradientMonitor(model, loss=ce, copy_every=1) as monitor:
        for n in (8, 0, 8, 8):
            model.zero_grad()
            ce(model(x[:n]), y[:n]).backward()
    frame = monitor.to_frame()
    assert monitor.messages == [] and sorted(set(frame.step)) == [0, 1, 2, 3]
    assert "delta_norm_max" not in set(frame[frame.step == 1].quantity)
    assert _value(frame, 1, 2, "speed") == 0.0 and _value(frame, 3, 2, "delta_norm_max") > 0


def test_bounds_below_the_measured_norm_are_said_and_the_estimates_start_afresh():
    """Weights that move fast (lr 0.5, momentum 0.9) outrun one power step per training step."""
    torch.manual_seed(2)
    net = nn.Sequential(nn.Linear(10, 16), nn.Tanh(), nn.Linear(16, 16), nn.Tanh(), nn.Linear(16, 16), nn.Tanh(),
                        nn.Linear(16, 4)).double()
    g = torch.Generator().manual_seed(1)
    x, y = torch.randn(200, 10, generator=g, dtype=torch.float64), torch.randint(0, 4, (200,), generator=g)
    opt = torch.optim.SGD(net.parameters(), lr=0.5, momentum=0.9)
    ce = nn.CrossEntropyLoss()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with GradientMonitor(net, loss=ce, bounds=True, copy_every=1) as monitor:
            for s in range(40):
                i = (s * 13) % 180
                opt.zero_grad()
                ce(net(x[i:i + 20]), y[i:i + 20]).backward()
                opt.step()
    said = [str(w.message) for w in caught if issubclass(w.category, MonitorWarning)]
    assert any("is below the measured largest ‖δˡ‖" in m for m in said)
    frame = monitor.to_frame().pivot_table(index=["step", "layer"], columns="quantity", values="value")
    ratio = frame.delta_norm_max / frame.bound_b_estimate
    # each lag is caught at its copy (every step here) and the next step starts from 30 power iterations
    low = ratio[ratio > 1 + 1e-5]
    later = [(s, l) for s, l in low.index if (s - 1, l) in low.index]
    assert len(low) < len(ratio) / 4 and not later and not math.isnan(ratio.max())


class _Branches(nn.Module):
    """Two Linear layers of one shape side by side, run in an order that the caller picks each forward pass:
    autograd reaches the one made last first, so the order in which their ∂C/∂zˡ arrive changes with it."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(3)
        self.left, self.right, self.out = nn.Linear(5, 4), nn.Linear(5, 4), nn.Linear(4, 3)
        self.double()
        self.flip = False

    def forward(self, x):
        if self.flip:
            right = self.right(x)
            left = self.left(x)
        else:
            left = self.left(x)
            right = self.right(x)
        return self.out(torch.tanh(left) + torch.sin(right))


def test_layers_reached_in_another_order_keep_their_own_norms():
    """Steps whose ∂C/∂zˡ have the same shapes but arrive in another order are not taken for the usual step:
    each layer's largest ‖δˡ‖ is its own (against a hook on each layer's output)."""
    model, (x, y) = _Branches(), _data()
    ce = nn.CrossEntropyLoss()
    expected = []
    with GradientMonitor(model, loss=ce, copy_every=4) as monitor:
        for step in range(4):
            model.flip = step % 2 == 1
            outputs = _step_keeping_outputs(model, {"left": model.left, "right": model.right}, lambda: ce(model(x), y))
            expected.append({name: float(torch.linalg.vector_norm(z.grad * len(x), dim=1).max())
                             for name, z in outputs.items()})
    frame = monitor.to_frame()
    layer = {m: layer.l for layer in monitor.layers for m in (layer.module,)}
    for step, values in enumerate(expected):
        for name, value in values.items():
            found = _value(frame, step, layer[getattr(model, name)], "delta_norm_max")
            assert found == pytest.approx(value, rel=RTOL)
