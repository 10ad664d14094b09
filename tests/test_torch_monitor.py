"""gradmath.torch.GradientMonitor: per-example ‖δˡ‖ and speeds against two independent computations, training
unchanged bit for bit, bounds, and what the monitor does with models and losses it cannot fully measure."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pd = pytest.importorskip("pandas")
from torch import nn  # noqa: E402

from gradmath.backprop import backprop  # noqa: E402
from gradmath.bounds import verify_network  # noqa: E402
from gradmath.errors import FormatError  # noqa: E402
from gradmath.formats import from_torch  # noqa: E402
from gradmath.formats.pytorch import ConversionNote  # noqa: E402
from gradmath.torch import GradientMonitor, MonitorWarning  # noqa: E402

#: float64 agreement of three computations of the same δ (autograd hooks, torch.func, gradmath's backprop):
#: each differs from the exact value by a few ulps per layer of a width-7 network, far inside 1e-10.
RTOL = 1e-10


def _step_keeping_outputs(model, modules: dict, loss_of):
    """One step (zero_grad, forward, backward) that keeps each named module's output zˡ with its ``.grad``,
    ∂C/∂zˡ of the batch (by retain_grad: no second backward pass for a monitor to record)."""
    outputs = {}
    handles = [m.register_forward_hook(lambda m, i, o, k=k: outputs.setdefault(k, o)) for k, m in modules.items()]
    try:
        loss = loss_of()
    finally:
        for handle in handles:
            handle.remove()
    for z in outputs.values():
        z.retain_grad()
    model.zero_grad()
    loss.backward()
    return outputs


def _chain(seed=0, activation=nn.Tanh, sizes=(5, 7, 6, 3), dtype=torch.float64):
    torch.manual_seed(seed)
    mods = []
    for i, (a, b) in enumerate(zip(sizes, sizes[1:])):
        mods.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            mods.append(activation())
    return nn.Sequential(*mods).to(dtype)


def _batch(n=12, n_in=5, classes=3, seed=1, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, n_in, generator=g, dtype=dtype), torch.randint(0, classes, (n,), generator=g)


def _per_example_bias_grads(model, x, y):
    """δˡ of each example's own loss, from torch.func (vmap over grad), independent of the hooks."""
    from torch.func import functional_call, grad, vmap

    params = {k: v.detach() for k, v in model.named_parameters()}

    def loss(p, xi, yi):
        return nn.functional.cross_entropy(functional_call(model, p, (xi[None],)), yi[None])

    grads = vmap(grad(loss), in_dims=(None, 0, 0))(params, x, y)
    return [grads[f"{i}.bias"] for i, m in enumerate(model) if isinstance(m, nn.Linear)]


def _values(frame, step, layer, quantity):
    rows = frame[(frame.step == step) & (frame.layer == layer) & (frame.quantity == quantity)]
    assert len(rows) == 1, (step, layer, quantity)
    return float(rows.value.iloc[0])


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_delta_norms_and_speeds_agree_with_torch_func_and_gradmath_backprop(reduction):
    model, (x, y) = _chain(), _batch()
    loss_fn = nn.CrossEntropyLoss(reduction=reduction)
    with GradientMonitor(model, loss=loss_fn) as monitor:
        model.zero_grad()
        loss_fn(model(x), y).backward()
        bias_grads = [m.bias.grad.clone() for m in model if isinstance(m, nn.Linear)]
    frame = monitor.to_frame()
    per_example = _per_example_bias_grads(model, x, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConversionNote)
        net = from_torch(model, loss=nn.CrossEntropyLoss())
    y_hot = np.eye(3)[y.numpy()]
    deltas = backprop(net, x.numpy(), y_hot).deltas
    for i, l in enumerate((2, 3, 4)):
        oracle = torch.linalg.vector_norm(per_example[i], dim=1).numpy()
        np.testing.assert_allclose(np.linalg.norm(deltas[i], axis=1), oracle, rtol=RTOL)
        for name, q in (("delta_norm_q1", 0.25), ("delta_norm_median", 0.5), ("delta_norm_q3", 0.75)):
            assert _values(frame, 0, l, name) == pytest.approx(np.quantile(oracle, q), rel=RTOL)
        assert _values(frame, 0, l, "delta_norm_max") == pytest.approx(oracle.max(), rel=RTOL)
        # the speed is ‖∂C/∂bˡ‖ of the batch loss: the mean (or sum) of the per-example δ
        summed = per_example[i].sum(0) / (len(x) if reduction == "mean" else 1)
        assert _values(frame, 0, l, "speed") == pytest.approx(float(torch.linalg.vector_norm(summed)), rel=RTOL)
        assert _values(frame, 0, l, "speed") == float(torch.linalg.vector_norm(bias_grads[i]))


def _train(model, x, y, steps, monitor_options=None, seed=None):
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    monitor = GradientMonitor(model, loss=loss_fn, **monitor_options).attach() if monitor_options is not None \
        else None
    if seed is not None:
        torch.manual_seed(seed)
    for step in range(steps):
        opt.zero_grad()
        loss_fn(model(x[step % 3::3]), y[step % 3::3]).backward()
        opt.step()
    if monitor is not None:
        monitor.detach()
        assert monitor.step == steps
    return [p.detach().clone() for p in model.parameters()], monitor


@pytest.mark.parametrize("options", [{}, {"bounds": True}, {"copy_every": 4, "bounds": True, "norm": "inf"}])
def test_training_is_bit_for_bit_the_same_with_the_monitor(options):
    x, y = _batch(n=30)
    plain, _ = _train(_chain(seed=3), x, y, 12)
    watched, monitor = _train(_chain(seed=3), x, y, 12, options)
    assert all(torch.equal(a, b) for a, b in zip(plain, watched))
    assert monitor.messages == [] and len(monitor.records) > 0


@pytest.mark.parametrize("options", [{}, {"bounds": True}])
def test_training_with_spectral_norm_is_bit_for_bit_the_same_with_the_monitor(options):
    # reading module.weight of a spectral_norm layer runs its power iteration, which updates its vectors u, v: the
    # monitor did so when attached (and from_torch with bounds=True), and the trained weights moved by 1e-6
    from torch.nn.utils import parametrizations

    def model():
        chain = _chain(seed=3)
        parametrizations.spectral_norm(chain[2])
        return chain

    x, y = _batch(n=30)
    plain, _ = _train(model(), x, y, 12)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        watched, monitor = _train(model(), x, y, 12, options)
    assert all(torch.equal(a, b) for a, b in zip(plain, watched))
    # said once, and no torch warning of a .grad read from the non-leaf weight the parametrization computes
    assert [str(w.message) for w in caught if "weight is parametrized" in str(w.message)] == [
        "layer 3 (2): weight is parametrized (torch.nn.utils.parametrize, e.g. spectral_norm or weight_norm): the "
        "gradients go to the tensors it is computed from: no weight gradient recorded"]
    assert not [w for w in caught if "not a leaf" in str(w.message) or "measuring failed" in str(w.message)]
    frame = monitor.to_frame()
    assert set(frame[frame.quantity == "weight_grad_norm"].layer) == {2, 4}
    assert set(frame[frame.quantity == "speed"].layer) == {2, 3, 4} and "bound_a_estimate" not in set(frame.quantity)
    if options:
        assert monitor.bounds is None and "layer 3 (2): its weight is not a stored nn.Parameter" in monitor.unbounded[2]


def test_tied_weights_are_said_to_be_shared():
    # two Linear modules holding one weight Parameter: each layer's weight_grad_norm is the shared .grad's, the
    # sum over both uses, not ‖δˡ(aˡ⁻¹)ᵀ‖ of its own use; nothing said so
    model = _chain(sizes=(5, 6, 6, 3))
    tied = nn.Linear(6, 6).double()
    tied.weight = model[2].weight
    model = nn.Sequential(*model[:3], nn.Tanh(), tied, nn.Tanh(), model[4])
    x, y = _batch()
    with pytest.warns(MonitorWarning, match=r"layers 3, 4 share one weight tensor \(tied\): the weight_grad_norm of "
                                            r"each is that of the shared weight's gradient, summed over all its uses"):
        with GradientMonitor(model, loss=nn.CrossEntropyLoss()) as monitor:
            nn.CrossEntropyLoss()(model(x), y).backward()
    frame = monitor.to_frame()
    shared = float(model[2].weight.grad.norm())   # the same float64 tensor's norm: a few ulps apart at most
    assert _values(frame, 0, 3, "weight_grad_norm") == pytest.approx(shared, rel=1e-12)
    assert _values(frame, 0, 4, "weight_grad_norm") == pytest.approx(shared, rel=1e-12)


def test_training_with_dropout_draws_the_same_random_masks():
    x, y = _batch(n=30)

    def model():
        torch.manual_seed(4)
        return nn.Sequential(nn.Linear(5, 9), nn.ReLU(), nn.Dropout(0.3), nn.Linear(9, 3)).double()

    plain, _ = _train(model(), x, y, 8, seed=9)
    with pytest.warns(MonitorWarning, match=r"Dropout\(p=0.3\)"):
        watched, monitor = _train(model(), x, y, 8, {"bounds": True}, seed=9)
    assert all(torch.equal(a, b) for a, b in zip(plain, watched))
    assert set(monitor.unbounded) == {2, 3} and "bound_a_estimate" not in set(monitor.to_frame().quantity)


def _dominant(model, gap=8.0):
    """Give each weight a clear largest singular value, so 30 power iterations converge to ~gap^-60."""
    with torch.no_grad():
        for m in model:
            if isinstance(m, nn.Linear):
                u, s, vt = torch.linalg.svd(m.weight, full_matrices=False)
                s = s.clone()
                s[0] = gap * s[1:].max() if len(s) > 1 else s[0]
                m.weight.copy_(u @ torch.diag(s) @ vt)
    return model


@pytest.mark.parametrize("activation", [nn.Sigmoid, nn.Tanh, nn.ReLU, nn.GELU, None])
@pytest.mark.filterwarnings("ignore:step 0, layer 3. 3 of 6 units are dead")   # ReLU: a dead-units warning, as it should
def test_bounds_match_the_verifier_and_hold(activation):
    if activation is None:   # two Linear layers in a row: the identity between them
        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(5, 7), nn.Linear(7, 6), nn.Linear(6, 3)).double()
    else:
        model = _chain(activation=activation)
    model, (x, y) = _dominant(model), _batch()
    loss_fn = nn.CrossEntropyLoss()
    with GradientMonitor(model, loss=loss_fn, bounds=True) as monitor:
        model.zero_grad()
        loss_fn(model(x), y).backward()
    frame = monitor.to_frame()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConversionNote)
        net = from_torch(model, loss=loss_fn)
    report = verify_network(net, x.numpy(), np.eye(3)[y.numpy()], norm="2")
    linears = [m for m in model if isinstance(m, nn.Linear)]
    for layer in report.layers:
        l = layer.l
        a, b = _values(frame, 0, l, "bound_a_estimate"), _values(frame, 0, l, "bound_b_estimate")
        measured = _values(frame, 0, l, "delta_norm_max")
        # the estimate of ‖w‖₂ converged (gap 8, 30 iterations); the verifier's is certified just above it
        assert a == pytest.approx(10.0 ** layer.log10_bound_gamma, rel=1e-9)
        assert b == pytest.approx(10.0 ** layer.log10_bound_data, rel=1e-9)
        assert measured * (1 - 1e-12) <= b <= a * (1 + 1e-12)
        w = linears[l - 2].weight.detach()
        assert _values(frame, 0, l, "weight_norm_estimate") == pytest.approx(
            float(torch.linalg.matrix_norm(w, ord=2)), rel=1e-12)


def test_warm_started_weight_norms_follow_training():
    model, (x, y) = _dominant(_chain(activation=nn.Sigmoid)), _batch()
    loss_fn = nn.CrossEntropyLoss()
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    weights = []
    with GradientMonitor(model, loss=loss_fn, bounds=True) as monitor:
        for _ in range(5):
            opt.zero_grad()
            loss_fn(model(x), y).backward()
            weights.append(model[2].weight.detach().clone())
            opt.step()
    frame = monitor.to_frame()
    # One product per step with w or wᵀ in turn. Let θ be the angle between the kept unit vector x and the top
    # singular vector on its side. A step's weight change turns that vector by at most η (measured below, the
    # larger of the left and right turns), so θ ≤ θ′ + η; the estimate ‖wx‖ ≥ σ₁ cos θ, a relative error of at
    # most 1 − cos θ, from below; and the product's angle obeys tan θ′_next ≤ (σ₂/σ₁) tan θ.
    svds = [torch.linalg.svd(w) for w in weights]

    def turn(a, b):
        return math.acos(min(1.0, abs(float(a @ b))))

    theta = 0.0   # the first step starts from 60 products: θ below 8⁻⁶⁰
    for step, (u, s, vt) in enumerate(svds):
        exact = float(s[0])
        if step:
            before = svds[step - 1]
            theta += max(turn(u[:, 0], before[0][:, 0]), turn(vt[0], before[2][0]))
        estimate = _values(frame, step, 3, "weight_norm_estimate")
        assert exact * (1 - (1 - math.cos(theta)) - 1e-12) <= estimate <= exact * (1 + 1e-12), step
        theta = math.atan(float(s[1] / s[0]) * math.tan(theta))
    assert 0 < theta < 2e-4   # weights that moved (η ≈ 1e-3 per step) and were followed


def test_models_the_bounds_cannot_handle_still_record_the_measured_part():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 3, 3), nn.ReLU(), nn.Flatten(), nn.Linear(3 * 4 * 4, 8), nn.LayerNorm(8),
                          nn.Tanh(), nn.Linear(8, 2))
    x, y = torch.randn(6, 1, 6, 6), torch.randint(0, 2, (6,))
    with pytest.warns(MonitorWarning, match=r"no bounds for layers 2 \(Conv2d 0\), 3 \(Linear 3\), 4 \(Linear 6\)"):
        monitor = GradientMonitor(model, loss=nn.CrossEntropyLoss(), bounds=True)
    with monitor:
        nn.CrossEntropyLoss()(model(x), y).backward()
    frame = monitor.to_frame()
    assert set(frame.layer) == {2, 3, 4} and "bound_a_estimate" not in set(frame.quantity)
    assert set(monitor.unbounded) == {2, 3, 4} and "Conv2d" in monitor.unbounded[2]
    # the conv layer's per-example δ: one norm over channels and positions, the mean undone
    g = {}
    model[0].register_forward_hook(lambda m, i, o: [o.register_hook(lambda grad: g.setdefault("z", grad))] and None)
    model.zero_grad()
    nn.CrossEntropyLoss()(model(x), y).backward()
    expected = torch.linalg.vector_norm(g["z"].flatten(1), dim=1) * len(x)
    assert _values(frame, 0, 2, "delta_norm_max") == pytest.approx(float(expected.max()), rel=1e-6)
    assert _values(frame, 0, 2, "speed") == pytest.approx(float(model[0].bias.grad.norm()), rel=1e-6)


def test_a_complex_chain_has_no_bound_rather_than_the_bound_of_its_real_part():
    # from_torch kept the real part of complex weights, so bounds=True recorded bounds of another network
    # (bound (b) 1.53 below the measured largest ‖δ²‖ 1.62 at step 0, blamed on weights moving fast)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 5, dtype=torch.complex128), nn.Linear(5, 3, dtype=torch.complex128))
    with pytest.raises(FormatError, match=r"module 0 \(Linear\): parameters of dtype complex128"):
        from_torch(model)
    with pytest.warns(MonitorWarning, match=r"no bounds for layers 2 \(Linear 0\), 3 \(Linear 1\).*complex128"):
        monitor = GradientMonitor(model, bounds=True)
    assert monitor.bounds is None and set(monitor.unbounded) == {2, 3}


def test_a_lazy_chain_not_yet_run_has_no_bound_and_is_measured():
    # from_torch read the uninitialised parameters: GradientMonitor(bounds=True) raised torch's ValueError
    model = nn.Sequential(nn.LazyLinear(7), nn.Tanh(), nn.Linear(7, 3)).double()
    with pytest.raises(FormatError, match=r"module 0 \(LazyLinear\): its parameters are not initialised yet"):
        from_torch(model)
    with pytest.warns(MonitorWarning, match=r"no bounds for layers 2 \(Linear 0\), 3 \(Linear 2\).*not initialised"):
        monitor = GradientMonitor(model, loss=nn.CrossEntropyLoss(), bounds=True)
    x, y = _batch()
    with monitor:
        nn.CrossEntropyLoss()(model(x), y).backward()
    # one float64 vector of 7 entries, its norm in two summation orders: a few ulps (1e-15) apart at most
    assert _values(monitor.to_frame(), 0, 2, "speed") == pytest.approx(float(model[0].bias.grad.norm()), rel=1e-12)


def test_subclasses_of_linear_are_watched_as_linear_layers():
    # a subclass of nn.Linear was taken for a Conv2d: GradientMonitor raised AttributeError (out_channels) on any
    # model holding nn.MultiheadAttention (its out_proj is a NonDynamicallyQuantizableLinear)
    class MyLinear(nn.Linear):
        pass

    def run(model, **options):
        x, y = _batch()
        with GradientMonitor(model, loss=nn.CrossEntropyLoss(), **options) as monitor:
            for _ in range(2):
                model.zero_grad()
                nn.CrossEntropyLoss()(model(x), y).backward()
        return monitor

    plain = _chain()
    sub = _chain()
    for i in (0, 2, 4):
        mine = MyLinear(sub[i].in_features, sub[i].out_features, dtype=torch.float64)
        mine.load_state_dict(sub[i].state_dict())
        sub[i] = mine
    expected, monitor = run(plain, bounds=True), run(sub, bounds=True)
    assert [layer.kind for layer in monitor.layers] == ["Linear"] * 3 and monitor.bounds is not None
    pd.testing.assert_frame_equal(monitor.to_frame(), expected.to_frame())   # the same computation, bit for bit

    class Attention(nn.Module):
        def __init__(self):
            super().__init__()
            self.att = nn.MultiheadAttention(4, 2, batch_first=True)
            self.out = nn.Linear(4, 3)

        def forward(self, x):
            return self.out(self.att(x, x, x)[0].mean(1))

    torch.manual_seed(0)
    model = Attention().double()
    x, y = torch.randn(6, 5, 4, dtype=torch.float64), torch.randint(0, 3, (6,))
    with pytest.warns(MonitorWarning, match="module itself was not called"):
        with GradientMonitor(model, loss=nn.CrossEntropyLoss()) as monitor:
            for _ in range(2):   # said once
                model.zero_grad()
                nn.CrossEntropyLoss()(model(x), y).backward()
    assert [(layer.l, layer.name, layer.kind) for layer in monitor.layers] == [(2, "att.out_proj", "Linear"),
                                                                                (3, "out", "Linear")]
    frame = monitor.to_frame()
    # out_proj's forward is never called (F.multi_head_attention_forward uses its weight): said, not silent
    assert set(frame.layer) == {3} and any(m.startswith("layer 2 (att.out_proj): its parameters got gradients but "
                                                        "the module itself was not called") for m in monitor.messages)
    # one float64 vector of 3 entries, its norm in two summation orders: a few ulps (1e-15) apart at most
    assert _values(frame, 1, 3, "speed") == pytest.approx(float(model.out.bias.grad.norm()), rel=1e-12)


def test_layernorm_chain_has_no_bound_and_says_why():
    model = nn.Sequential(nn.Linear(4, 6), nn.LayerNorm(6), nn.ReLU(), nn.Linear(6, 2))
    with pytest.warns(MonitorWarning, match="LayerNorm"):
        monitor = GradientMonitor(model, bounds=True)
    assert monitor.bounds is None and set(monitor.unbounded) == {2, 3}


def test_an_unknown_reduction_is_said_and_the_rest_is_measured():
    model, (x, y) = _chain(), _batch()
    loss_fn = nn.CrossEntropyLoss(reduction="none")
    with pytest.warns(MonitorWarning, match="reduction='none'.*per-example ‖δˡ‖ is not recorded"):
        monitor = GradientMonitor(model, loss=loss_fn)
    with monitor:
        loss_fn(model(x), y).sum().backward()
    assert set(monitor.to_frame().quantity) == {"speed", "weight_grad_norm"}
    with pytest.raises(ValueError, match="reduction='max'"):
        GradientMonitor(model, reduction="max")
    with pytest.warns(MonitorWarning, match="sum of the weights"):
        GradientMonitor(model, loss=nn.CrossEntropyLoss(weight=torch.ones(3, dtype=torch.float64)))


@pytest.mark.parametrize("options, match", [
    ({"sinks": 5}, "sinks=5 must be a sequence of callables"),   # was TypeError: 'int' object is not iterable
    ({"sinks": [5]}, "sinks: 5 is not callable"),                 # was a failing sink at the first copy
    ({"vanishing_ratio": True}, "vanishing_ratio=True must be a number in"),   # was taken for 1.0
    ({"dead_fraction": False}, "dead_fraction=False must be a number in"),
])
def test_options_of_the_wrong_kind_are_refused_when_the_monitor_is_made(options, match):
    from gradmath.errors import InvalidParameterError

    with pytest.raises(InvalidParameterError, match=match):
        GradientMonitor(_chain(), **options)


def test_frozen_and_biasless_layers():
    model = _chain()
    model[0].bias.requires_grad_(False)
    model[2].weight.requires_grad_(False)
    x, y = _batch()
    with pytest.warns(MonitorWarning, match="frozen"):
        monitor = GradientMonitor(model).attach()
    nn.CrossEntropyLoss()(model(x), y).backward()
    frame = monitor.detach().to_frame()
    per_example = _per_example_bias_grads(model, x, y)
    expected = float(torch.linalg.vector_norm(per_example[0].mean(0)))
    assert _values(frame, 0, 2, "speed") == pytest.approx(expected, rel=RTOL)
    assert frame[(frame.layer == 3) & (frame.quantity == "weight_grad_norm")].empty


def test_a_detached_layer_is_named_not_silently_skipped():
    torch.manual_seed(0)
    head, tail = nn.Linear(5, 4), nn.Linear(4, 3)
    model = nn.ModuleDict({"head": head, "tail": tail})
    x, y = _batch(dtype=torch.float32)
    with pytest.warns(MonitorWarning, match="layer 2: no gradient reached its output at step 0"):
        with GradientMonitor(model) as monitor:
            nn.CrossEntropyLoss()(tail(torch.tanh(head(x)).detach()), y).backward()
    assert set(monitor.to_frame().layer) == {3}


def test_reading_the_records_between_forward_and_backward_loses_nothing():
    model, (x, y) = _chain(), _batch()
    with GradientMonitor(model) as monitor:
        for _ in range(3):
            out = model(x)
            assert len(monitor.to_frame()) == len(monitor.records)   # in the middle of a step
            nn.CrossEntropyLoss()(out, y).backward()
    assert sorted(set(monitor.to_frame().step)) == [0, 1, 2]


def test_copies_to_the_host_every_k_steps_only():
    model, (x, y) = _chain(dtype=torch.float32), _batch(dtype=torch.float32)
    monitor = GradientMonitor(model, copy_every=3).attach()
    counts = []
    for _ in range(7):
        model.zero_grad()
        nn.CrossEntropyLoss()(model(x), y).backward()
        counts.append(len({row[0] for row in monitor.records.rows}))
    # step s is finished when its backward pass ends, and copied with the two before it
    assert counts == [0, 0, 3, 3, 3, 6, 6]
    assert sorted(set(monitor.to_frame().step)) == list(range(7))
    monitor.detach()


@pytest.mark.parametrize("bounds", [False, True])
def test_copying_every_k_steps_records_what_copying_every_step_does(bounds):
    """The host side takes the steps of one copy together (one array, one sort); each row is the same."""
    records = []
    for copy_every in (1, 4):
        model, (x, y) = _chain(activation=nn.Sigmoid), _batch()
        with GradientMonitor(model, copy_every=copy_every, bounds=bounds) as monitor:
            for _ in range(6):
                model.zero_grad()
                nn.CrossEntropyLoss()(model(x), y).backward()
        records.append(monitor.records.rows)
    assert len(records[0]) == len(records[1]) > 0
    assert records[0] == records[1]


def test_quartiles_of_all_rows_at_once_are_those_of_each_row():
    from gradmath.torch.transfer import quartiles_and_max, quartiles_and_max_rows

    rng = np.random.default_rng(3)
    for n in (1, 2, 3, 4, 7, 128):
        norms = rng.exponential(size=(5, n))
        norms[1, 0] = math.nan
        norms[2, -1] = math.inf
        together = quartiles_and_max_rows(norms)
        for row, expected in zip(together.tolist(), (quartiles_and_max(r) for r in norms)):
            assert row == pytest.approx(expected, rel=0, abs=0, nan_ok=True)   # the same arithmetic, bit for bit


def test_a_failing_sink_or_warnings_as_errors_never_stop_training():
    model, (x, y) = _chain(), _batch()

    def broken(rows):
        raise RuntimeError("disk full")

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        monitor = GradientMonitor(model, sinks=[broken]).attach()
        for _ in range(3):
            model.zero_grad()
            nn.CrossEntropyLoss()(model(x * math.nan), y).backward()  # NaN: a warning, turned into an error
        monitor.detach()
    assert any("disk full" in m for m in monitor.messages)
    assert any("not finite" in m for m in monitor.messages)
    assert monitor.step == 3


def test_repr_and_attach_detach():
    model = _chain()
    monitor = GradientMonitor(model)
    assert ", detached," in repr(monitor)
    monitor.attach().attach()   # one forward hook per layer, once
    assert ", attached," in repr(monitor) and len(monitor._handles) == 3
    monitor.detach()
    x, y = _batch()
    nn.CrossEntropyLoss()(model(x), y).backward()
    assert monitor.step == 0 and len(monitor.records) == 0
    with pytest.raises(ValueError, match="no nn.Linear or nn.Conv2d"):
        GradientMonitor(nn.Sequential(nn.ReLU()))
    with pytest.raises(ValueError, match="copy_every"):
        GradientMonitor(model, copy_every=0)


@pytest.mark.parametrize("norm, order", [("1", 1), ("inf", math.inf)])
def test_delta_norms_in_the_one_and_max_norms_agree_with_torch_func(norm, order):
    """norm="1" and "inf" take each example's ‖δˡ‖ in that norm (the speeds stay Euclidean), and bound (b)
    in that norm stays above the largest of them."""
    model, (x, y) = _chain(), _batch()
    loss_fn = nn.CrossEntropyLoss()
    with GradientMonitor(model, loss=loss_fn, norm=norm, bounds=True) as monitor:
        model.zero_grad()
        loss_fn(model(x), y).backward()
        bias_grads = [m.bias.grad.clone() for m in model if isinstance(m, nn.Linear)]
    frame = monitor.to_frame()
    per_example = _per_example_bias_grads(model, x, y)
    for i, l in enumerate((2, 3, 4)):
        oracle = torch.linalg.vector_norm(per_example[i], ord=order, dim=1).numpy()
        assert _values(frame, 0, l, "delta_norm_median") == pytest.approx(np.quantile(oracle, 0.5), rel=RTOL)
        assert _values(frame, 0, l, "delta_norm_max") == pytest.approx(oracle.max(), rel=RTOL)
        assert _values(frame, 0, l, "speed") == float(torch.linalg.vector_norm(bias_grads[i]))
        assert _values(frame, 0, l, "bound_b_estimate") >= oracle.max() * (1 - RTOL)
