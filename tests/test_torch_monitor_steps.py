"""How the monitor carries steps from the device to the host: rows packed in device buffers, batches of
another size, more steps between copies than one buffer holds, an activation that works in place, half
precision, the power steps of the weight norms, and a restart after a NaN."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("pandas")
from torch import nn  # noqa: E402

from gradmath.torch import GradientMonitor, MonitorWarning  # noqa: E402
from gradmath.torch.alerts import GradientWarning  # noqa: E402
from gradmath.torch import transfer  # noqa: E402
from tests.test_torch_monitor import _chain, _step_keeping_outputs  # noqa: E402

#: float64 agreement of the same δ from two hook placements (the same autograd kernels): a few ulps.
RTOL = 1e-12


def _data(n=30, dtype=torch.float64):
    g = torch.Generator().manual_seed(1)
    return torch.randn(n, 5, generator=g, dtype=dtype), torch.randint(0, 3, (n,), generator=g)


def _train(model, batches, **options):
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    loss_fn = nn.CrossEntropyLoss()
    with GradientMonitor(model, loss=loss_fn, **options) as monitor:
        for x, y in batches:
            opt.zero_grad()
            loss_fn(model(x), y).backward()
            opt.step()
    return monitor


def _batches(sizes, dtype=torch.float64):
    x, y = _data(sum(sizes), dtype)
    out, at = [], 0
    for n in sizes:
        out.append((x[at:at + n], y[at:at + n]))
        at += n
    return out


@pytest.mark.parametrize("bounds", [False, True])
def test_batches_of_another_size_between_copies_give_the_rows_of_copying_every_step(bounds):
    """A smaller last batch is another layout: a new buffer; the copy takes each run of rows on its own."""
    sizes = [8, 8, 5, 8, 3, 3, 8]
    every_step = _train(_chain(activation=nn.Sigmoid), _batches(sizes), copy_every=1, bounds=bounds)
    together = _train(_chain(activation=nn.Sigmoid), _batches(sizes), copy_every=5, bounds=bounds)
    assert every_step.records.rows == together.records.rows
    frame = together.to_frame()
    assert sorted(set(frame.step)) == list(range(len(sizes)))
    # the quartiles of a 5-example step are those of its 5 norms: each δ is at most the largest
    step2 = frame[(frame.step == 2) & (frame.layer == 2)].set_index("quantity").value
    assert step2["delta_norm_q1"] <= step2["delta_norm_median"] <= step2["delta_norm_q3"] <= step2["delta_norm_max"]


def test_more_steps_between_copies_than_one_buffer_holds(monkeypatch):
    monkeypatch.setattr(transfer, "BUFFER_ROWS", 3)
    sizes = [6] * 10
    every_step = _train(_chain(), _batches(sizes), copy_every=1, bounds=True)
    together = _train(_chain(), _batches(sizes), copy_every=7, bounds=True)
    assert every_step.records.rows == together.records.rows and len(together.records) > 0


def test_an_activation_in_place_does_not_change_delta():
    """nn.ReLU(inplace=True) overwrites zˡ; the pre-hook on zˡ's node still sees ∂C/∂zˡ, not ∂C/∂σ(zˡ)."""
    batches = _batches([12, 12])
    plain = _train(_chain(activation=nn.ReLU), batches, copy_every=1).to_frame()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # a dead-units warning may come, as in the twin
        in_place = _train(_chain(activation=lambda: nn.ReLU(inplace=True)), batches, copy_every=1).to_frame()
    assert len(plain) == len(in_place)
    np.testing.assert_allclose(in_place.value.to_numpy(), plain.value.to_numpy(), rtol=RTOL)
    assert list(in_place.quantity) == list(plain.quantity)


def test_half_precision_training_is_recorded():
    """bfloat16 values go through float32 on their way to NumPy; they agree with float64 to bfloat16's precision."""
    batches64 = _batches([16, 16])
    batches16 = [(x.to(torch.bfloat16), y) for x, y in batches64]
    exact = _train(_chain(), batches64).to_frame()
    half = _train(_chain(dtype=torch.bfloat16), batches16).to_frame()
    assert list(half.quantity) == list(exact.quantity) and np.isfinite(half.value).all()
    first = (half.step == 0).to_numpy()   # after one step the two trainings part ways a little
    # bfloat16 rounds to 2⁻⁸ relative. A value here passes through at most 16 roundings (the casts of the weights
    # and inputs, three layers' products and activations forward, their gradients backward, the norm), so its
    # relative error is below 16 · 2⁻⁸ to first order
    np.testing.assert_allclose(half.value.to_numpy()[first], exact.value.to_numpy()[first], rtol=16 * 2.0 ** -8)


def test_power_steps_and_a_restart_after_a_nan_weight():
    model = _chain(activation=nn.Sigmoid)
    with torch.no_grad():   # a clear top singular value (σ₂/σ₁ = 1/8): 60 products of a cold start converge fully
        w = model[2].weight
        u, s, vt = torch.linalg.svd(w, full_matrices=False)
        s = s.clone()
        s[0] = 8 * s[1]
        w.copy_(u @ torch.diag(s) @ vt)
    x, y = _data()
    loss_fn = nn.CrossEntropyLoss()
    with pytest.raises(ValueError, match="power_steps"):
        GradientMonitor(model, bounds=True, power_steps=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # the NaN step warns, as it should
        with GradientMonitor(model, loss=loss_fn, bounds=True, power_steps=2, copy_every=1) as monitor:
            for step in range(4):
                saved = model[2].weight.detach().clone()
                if step == 1:
                    with torch.no_grad():
                        model[2].weight[0, 0] = math.nan
                model.zero_grad()
                loss_fn(model(x), y).backward()
                with torch.no_grad():
                    model[2].weight.copy_(saved)
    frame = monitor.to_frame()
    norms = frame[(frame.quantity == "weight_norm_estimate") & (frame.layer == 3)].set_index("step").value
    exact = float(torch.linalg.matrix_norm(model[2].weight.detach(), ord=2))
    assert math.isnan(norms[1])                              # the NaN step, flagged
    assert set(frame[frame.quantity == "nonfinite"].step) == {1}
    # after it the vectors start afresh (60 products; the weights no longer change): the estimate is back, from
    # below, its error (1 − cos θ with tan θ shrinking eightfold per product) far under float64's rounding
    for step in (0, 2, 3):
        assert norms[step] <= exact * (1 + 1e-12) and norms[step] == pytest.approx(exact, rel=1e-12)


@pytest.mark.filterwarnings("ignore:Using backward\\(\\) with create_graph=True")   # PyTorch's, on the cycle
def test_a_backward_pass_that_builds_a_graph_is_recorded_as_any_other():
    """backward(create_graph=True) (a gradient penalty, say): the norms stay out of the new graph."""
    model, (x, y) = _chain(), _data()
    loss_fn = nn.CrossEntropyLoss()
    with GradientMonitor(model, loss=loss_fn, copy_every=1) as monitor:
        loss_fn(model(x), y).backward(create_graph=True)
    model.zero_grad(set_to_none=True)   # breaks the cycle between the parameters and their gradients
    with GradientMonitor(model, loss=loss_fn, copy_every=1) as plain:
        model.zero_grad()
        loss_fn(model(x), y).backward()
    assert monitor.messages == [] and monitor.records.rows == plain.records.rows


def test_a_copy_that_fails_is_switched_off_and_nothing_piles_up(monkeypatch):
    model, (x, y) = _chain(), _data()
    loss_fn = nn.CrossEntropyLoss()
    monitor = GradientMonitor(model, loss=loss_fn, copy_every=2)

    def broken(self, plan, steps, values):
        raise RuntimeError("host side broken")

    monkeypatch.setattr(GradientMonitor, "_record", broken)
    with pytest.warns(UserWarning, match="copy: measuring failed .*host side broken"):
        with monitor:
            for _ in range(9):
                model.zero_grad()
                loss_fn(model(x), y).backward()
    assert monitor.step == 9 and len(monitor._pending) <= 2 and monitor._buffer.used <= 2


def test_mixed_precision_under_autocast_is_recorded():
    """Under CPU autocast the layers' outputs (and ∂C/∂zˡ) are bfloat16 and the parameters float32: one step
    packs values of both dtypes (into a float64 row); they agree with float32 training to bfloat16's precision."""
    model32, batches = _chain(dtype=torch.float32), _batches([16, 16], dtype=torch.float32)
    exact = _train(_chain(dtype=torch.float32), batches, copy_every=1).to_frame()
    loss_fn = nn.CrossEntropyLoss()
    with GradientMonitor(model32, loss=loss_fn, bounds=True, copy_every=1) as monitor:
        x, y = batches[0]
        with torch.autocast("cpu", dtype=torch.bfloat16):
            loss = loss_fn(model32(x), y)
        loss.backward()
    frame = monitor.to_frame()
    assert monitor.messages == [] and np.isfinite(frame.value).all()
    assert monitor._buffer.data.dtype == torch.float64
    for quantity in ("speed", "weight_grad_norm", "delta_norm_median"):
        got = frame[(frame.quantity == quantity)].set_index("layer").value
        want = exact[(exact.step == 0) & (exact.quantity == quantity)].set_index("layer").value
        # as in the bfloat16 test: at most 16 roundings to 2⁻⁸ on the way
        np.testing.assert_allclose(got.sort_index(), want.sort_index(), rtol=16 * 2.0 ** -8)


def test_quartiles_sorted_in_place_along_the_last_axis_are_those_of_each_row():
    rng = np.random.default_rng(5)
    norms = rng.exponential(size=(3, 4, 9))
    norms[0, 1, 2], norms[2, 3, 0] = math.nan, math.inf
    expected = [[transfer.quartiles_and_max(row) for row in layer] for layer in norms]
    scratch = norms.copy()
    got = transfer.quartiles_and_max_rows(scratch, overwrite=True)
    assert got.shape == (3, 4, 4)
    np.testing.assert_array_equal(got, expected)   # the same arithmetic, bit for bit (NaN where NaN)
    np.testing.assert_array_equal(scratch, np.sort(norms, axis=-1))   # sorted in place
    np.testing.assert_array_equal(transfer.quartiles_and_max_rows(norms), expected)


def test_the_layers_norms_as_one_slice_give_the_values_of_a_gather():
    """The usual step's per-example norms lie in backward order, one slice of the row (taken as a view); any
    other order is gathered. Both give the same values, for a mean (×N) and a sum."""
    rng = np.random.default_rng(7)
    n, layers, steps = 6, (1, 2, 3), 4
    norms = {l: rng.exponential(size=(steps, n)) for l in layers}
    for mean in (True, False):
        found = []
        for order in ((3, 2, 1), (2, 3, 1)):   # backward order (one slice), another (a gather)
            plan = transfer.HostLayout([(1, "speed")], [(l, "delta", n) for l in order], mean=mean, first=1, last=3)
            assert (plan._block is not None) == (order == (3, 2, 1))
            vectors = np.concatenate([norms[l] for l in order], axis=1)
            found.append(plan.values(np.ones((steps, 1)), vectors))
        scale = n if mean else 1
        expected = [[1.0] + [v for l in layers for v in transfer.quartiles_and_max(norms[l][i] * scale)]
                    for i in range(steps)]
        for values in found:   # scaled after the quartiles, not before: a few roundings of float64 apart
            np.testing.assert_allclose(values, expected, rtol=1e-15, atol=0)


def test_norms_taken_straight_into_a_row_of_another_dtype():
    """A row of mixed dtypes is float64: a norm kernel writes only its input's dtype, so a bfloat16 or float32
    norm is taken and then copied in."""
    g = torch.Generator().manual_seed(2)
    w32, d16 = torch.randn(4, 3, generator=g), torch.randn(5, 3, generator=g).to(torch.bfloat16)
    s64 = torch.tensor(2.5, dtype=torch.float64)
    buffer, row = transfer.pack(None, [(1, "weight_grad_norm"), (1, "dead_units")], [(1, "delta", 5)], [s64], [], 3,
                                norms=[w32], vector_norms=[d16])
    assert buffer.data.dtype == torch.float64 and row == 0
    host = buffer.host(0, 1)[0]
    assert host[0] == pytest.approx(float(torch.linalg.vector_norm(w32)), rel=1e-7)
    assert host[1] == 2.5
    assert host[2:].tolist() == pytest.approx(torch.linalg.vector_norm(d16, dim=1).double().tolist(), rel=0)


@pytest.mark.parametrize("bounds", [False, True])
def test_a_model_cast_to_another_dtype_mid_run_gets_rows_of_that_dtype(bounds):
    """The usual step reuses the last one's keys and buffer; a cast of the model keeps the keys but not the
    dtype, so its steps go to a buffer of their own and each speed is the norm of that step's bias gradient."""
    model = _chain(activation=nn.Sigmoid)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    loss_fn = nn.CrossEntropyLoss()
    expected = []
    with GradientMonitor(model, loss=loss_fn, copy_every=6, bounds=bounds) as monitor:
        for step, (x, y) in enumerate(_batches([8] * 6)):
            if step == 3:
                model.float()
            opt.zero_grad()
            loss_fn(model(x.to(next(model.parameters()).dtype)), y).backward()
            expected.append(float(torch.linalg.vector_norm(model[0].bias.grad)))
            opt.step()
    frame = monitor.to_frame()
    speeds = frame[(frame.layer == 2) & (frame.quantity == "speed")].sort_values("step").value.tolist()
    assert speeds == expected   # the same norm kernel in the same dtype, then widened to float64: exact
    assert not monitor.messages or all("failed" not in m for m in monitor.messages)


@pytest.mark.parametrize("bounds", [False, True])
def test_an_unbatched_example_is_a_batch_of_one(bounds):
    """nn.Linear called on one 1-d example (no batch axis): ∂C/∂zˡ is 1-d, taken as a batch of one; the batched
    steps after it are recorded as usual (a 1-d δ used to switch the monitor off for the rest of the run)."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 6), nn.ReLU(), nn.Linear(6, 3)).double()
    ce = nn.CrossEntropyLoss()
    (x, y), expected = _data(9), []
    with warnings.catch_warnings():
        warnings.simplefilter("error", MonitorWarning)   # nothing switched off, nothing to say
        warnings.simplefilter("ignore", GradientWarning)   # one example: half its ReLU units are dead on it
        with GradientMonitor(model, loss=ce, bounds=bounds, copy_every=2) as monitor:
            for xs, ys in ((x[0], y[0]), (x[1:], y[1:]), (x[2], y[2])):
                outputs = _step_keeping_outputs(model, {2: model[0], 3: model[2]},
                                                lambda xs=xs, ys=ys: ce(model(xs), ys))
                n = 1 if xs.dim() == 1 else len(xs)
                expected.append({l: (float(torch.linalg.vector_norm(z.grad.reshape(n, -1) * n, dim=1).max()),
                                     float(torch.linalg.vector_norm(model[0 if l == 2 else 2].bias.grad)))
                                 for l, z in outputs.items()})
    frame = monitor.to_frame()
    for step, values in enumerate(expected):
        for l, (delta_max, speed) in values.items():
            rows = frame[(frame.step == step) & (frame.layer == l)].set_index("quantity").value
            assert rows["delta_norm_max"] == pytest.approx(delta_max, rel=RTOL)
            assert rows["speed"] == pytest.approx(speed, rel=RTOL)
            if bounds:
                assert rows["bound_b_estimate"] >= rows["delta_norm_max"] * (1 - RTOL)


def test_a_complex_layer_is_recorded_with_real_norms():
    """Complex weights: the norms are real, so the row is of the real counterpart dtype (a complex row refused the
    norm kernels' real output and switched the monitor off)."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 5, dtype=torch.complex128), nn.Tanh(), nn.Linear(5, 3, dtype=torch.complex128))
    g = torch.Generator().manual_seed(4)
    x = torch.complex(torch.randn(6, 4, generator=g, dtype=torch.float64),
                      torch.randn(6, 4, generator=g, dtype=torch.float64))
    with warnings.catch_warnings():
        warnings.simplefilter("error", MonitorWarning)
        with GradientMonitor(model, reduction="sum", copy_every=1) as monitor:
            outputs = _step_keeping_outputs(model, {"z": model[0]}, lambda: (model(x).abs() ** 2).sum())
    frame = monitor.to_frame()
    rows = frame[(frame.step == 0) & (frame.layer == 2)].set_index("quantity").value
    assert rows["speed"] == pytest.approx(float(torch.linalg.vector_norm(model[0].bias.grad)), rel=RTOL)
    assert rows["weight_grad_norm"] == pytest.approx(float(torch.linalg.vector_norm(model[0].weight.grad)), rel=RTOL)
    assert rows["delta_norm_max"] == pytest.approx(float(torch.linalg.vector_norm(outputs["z"].grad, dim=1).max()),
                                                   rel=RTOL)
