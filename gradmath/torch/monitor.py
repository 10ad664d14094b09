"""GradientMonitor: per-layer speed of learning, per-example ‖δˡ‖ and the bounds, recorded live from PyTorch.

A step is one backward pass through the model. During it the monitor's hooks measure, on
the device and without a host sync: ‖∂C/∂bˡ‖ and ‖∂C/∂wˡ‖ (hooks run after each parameter's
gradient is accumulated), ‖δˡ‖ per example (a hook on each layer's output zˡ, the
gradient there times N for ``reduction="mean"``), ReLU units that are dead on the whole batch,
and with ``bounds=True`` bounds (a) and (b) (:mod:`gradmath.torch.bounds`). Every
``copy_every`` steps the values go to the host in one copy, become rows of
:class:`~gradmath.torch.records.Records` and are checked (:mod:`gradmath.torch.alerts`).

The monitor never raises from a hook: a measurement that fails is reported as a
:class:`MonitorWarning` and switched off, and the training goes on unchanged. The hooks
read gradients and return nothing, and no random generator is drawn from, so the trained
parameters are bit for bit those of the same run without the monitor.

>>> import torch
>>> from torch import nn
>>> _ = torch.manual_seed(0)
>>> model = nn.Sequential(nn.Linear(4, 8), nn.Sigmoid(), nn.Linear(8, 3))
>>> x, y = torch.randn(16, 4), torch.randint(0, 3, (16,))
>>> with GradientMonitor(model, loss=nn.CrossEntropyLoss()) as monitor:
...     for _ in range(3):
...         model.zero_grad()
...         nn.CrossEntropyLoss()(model(x), y).backward()
>>> frame = monitor.to_frame()
>>> sorted(frame["quantity"].unique())
['delta_norm_max', 'delta_norm_median', 'delta_norm_q1', 'delta_norm_q3', 'speed', 'weight_grad_norm']
>>> sorted(frame["layer"].unique().tolist()), sorted(frame["step"].unique().tolist())
([2, 3], [0, 1, 2])
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from gradmath.errors import InvalidParameterError
from gradmath.norms import check_norm
from gradmath.torch.alerts import GradientWarning, meanfield_sentence, step_alerts
from gradmath.torch.bounds import BOUND_QUANTITIES, chain_bounds
from gradmath.torch.layers import batch_scale, watched_layers
from gradmath.torch.records import Records
from gradmath.torch.transfer import HostLayout, copy_to_host, foreach_norms, queue_callback
from gradmath.validation import check_int

__all__ = ["GradientMonitor", "MonitorWarning", "MAX_COPY_EVERY"]

#: Largest ``copy_every`` (steps held on the device between copies to the host).
MAX_COPY_EVERY = 100_000


class MonitorWarning(UserWarning):
    """Something the monitor cannot measure (an unknown reduction, a layer with no bound, a failed hook)."""


class _Pass:
    """What one forward and backward pass left on the device."""

    __slots__ = ("entries", "zs", "forwarded", "backward", "batch", "grads", "done")

    def __init__(self):
        self.entries: list[tuple[int, str, object]] = []   # (layer, quantity, device tensor)
        self.zs: dict[int, object] = {}           # zˡ of the hidden layers, for max_j |σ′(zˡ_j)| (bounds)
        self.forwarded: set[int] = set()
        self.backward = False
        self.done = False
        self.batch: dict[int, int] = {}
        self.grads: dict[int, object] = {}       # ∂C/∂zˡ of the batch, until the backward pass ends


class GradientMonitor:
    """Watch every ``nn.Linear`` and ``nn.Conv2d`` of ``model`` while it trains.

    Parameters
    ----------
    model : torch.nn.Module
    loss : torch.nn.Module, optional
        The loss the model is trained with; its ``reduction`` says how to recover per-example δ.
    reduction : {"mean", "sum"}, optional
        Overrides the loss's; default the loss's, else PyTorch's default ``"mean"``.
    copy_every : int
        Steps kept on the device between copies to the host (default 1).
    bounds : bool
        Also estimate bounds (a) and (b) per layer and step (chain models only; the others get
        a :class:`MonitorWarning` naming the layers without a bound, and are measured as usual).
    norm : {"2", "1", "inf"}
        The norm of ‖δˡ‖ and of the bounds (speeds are always Euclidean, as Nielsen's).
    vanishing_ratio, dead_fraction : float
        Thresholds of the warnings (:mod:`gradmath.torch.alerts`).
    sinks : sequence of callables
        Each is called with the new rows after every copy (e.g. :class:`~gradmath.torch.tensorboard.TensorBoardSink`).
    """

    def __init__(self, model, *, loss=None, reduction: str | None = None, copy_every: int = 1, bounds: bool = False,
                 norm="2", power_iterations: int = 1, vanishing_ratio: float = 0.01, dead_fraction: float = 0.5,
                 sinks=()):
        from gradmath.formats.pytorch import _import_torch

        _import_torch()
        self.model = model
        self.copy_every = check_int("copy_every", copy_every, min_value=1, max_value=MAX_COPY_EVERY)
        self.norm = check_norm(norm)
        self._ord = {"2": 2.0, "1": 1.0, "inf": math.inf}[self.norm]
        for name, value in (("vanishing_ratio", vanishing_ratio), ("dead_fraction", dead_fraction)):
            if not (isinstance(value, (int, float)) and 0 < value <= 1):
                raise InvalidParameterError(f"{name}={value!r} must be a number in (0, 1]")
        self.vanishing_ratio, self.dead_fraction = float(vanishing_ratio), float(dead_fraction)
        self.records = Records()
        self.messages: list[str] = []
        self.sinks = list(sinks)
        self.layers = watched_layers(model)
        if not self.layers:
            raise InvalidParameterError(f"{type(model).__name__} has no nn.Linear or nn.Conv2d layer to watch")
        self.reduction: str | None
        try:
            self.reduction = batch_scale(loss, reduction)
        except InvalidParameterError as err:
            if reduction is not None:
                raise
            self.reduction = None
            self._note(f"{err}; per-example ‖δˡ‖ is not recorded, speeds and weight gradients are")
        self.unbounded: dict[int, str] = {}
        self.bounds = None
        if bounds:
            check_int("power_iterations", power_iterations, min_value=1, max_value=1000)
            self.bounds, reason = chain_bounds(model, self.layers, self.norm, power_iterations)
            if self.bounds is None:
                self.unbounded = {layer.l: reason for layer in self.layers}
                names = ", ".join(f"{layer.l} ({layer.kind} {layer.name})" for layer in self.layers)
                self._note(f"no bounds for layers {names}: {reason}; their measured norms are recorded")
        self._widths = {layer.l: _units(layer) for layer in self.layers}
        self.step = 0
        self._pass: _Pass | None = None
        self._pending: list[tuple[int, _Pass]] = []
        self._handles: list = []
        self._warned: set = set()
        self._plans: dict = {}
        self._failed: set[str] = set()

    # ----- attaching ---------------------------------------------------------------
    def attach(self) -> GradientMonitor:
        """Register the hooks (idempotent): one forward hook per layer, which hooks the layer's output."""
        if self._handles:
            return self
        self._params = [(layer.l, q, p) for layer in self.layers
                        for q, p in (("speed", layer.module.bias), ("weight_grad_norm", layer.module.weight))
                        if p is not None and p.requires_grad]
        self._param_layers = [l for l, _, _ in self._params]
        self._param_quantities = [q for _, q, _ in self._params]
        self._speed_layers = {l for l, q, _ in self._params if q == "speed"}
        for layer in self.layers:
            self._handles.append(layer.module.register_forward_hook(self._forward_hook(layer)))
            bias, weight = layer.module.bias, layer.module.weight
            if bias is None:
                self._note(f"layer {layer.l} ({layer.name}) has no bias: its speed is ‖Σₙ ∂C/∂zˡ‖, the gradient "
                           "a bias would get")
            elif not bias.requires_grad:
                self._note(f"layer {layer.l} ({layer.name}): bias is frozen (requires_grad=False): its speed is "
                           "‖Σₙ ∂C/∂zˡ‖, the gradient the bias would get")
            if not weight.requires_grad:
                self._note(f"layer {layer.l} ({layer.name}): weight is frozen (requires_grad=False): no weight "
                           "gradient recorded")
        return self

    def detach(self) -> GradientMonitor:
        """Copy what is left to the host and remove every hook."""
        for handle in self._handles:
            handle.remove()
        self._handles = []
        self.flush()
        return self

    def __enter__(self) -> GradientMonitor:
        return self.attach()

    def __exit__(self, *exc) -> None:
        self.detach()

    def __repr__(self) -> str:
        state = "attached" if self._handles else "detached"
        return (f"GradientMonitor({len(self.layers)} layers, {self.step} steps, {state}, "
                f"reduction={self.reduction!r}, bounds={'on' if self.bounds else 'off'})")

    # ----- results ----------------------------------------------------------------
    def flush(self) -> Records:
        """Finish the current step (if its backward pass ran) and copy every pending value to the host.

        A pass whose forward ran but whose backward has not yet is kept: called between the two,
        this loses nothing.
        """
        if self._pass is not None and self._pass.backward:
            self._guard("flush", self._finish_pass)
        self._guard("copy", self._copy)
        return self.records

    def to_frame(self):
        """The records so far as a pandas DataFrame (columns ``step``, ``layer``, ``quantity``, ``value``)."""
        return self.flush().to_frame()

    # ----- hooks (each guarded: a failure becomes a warning, never an exception) ----------
    def _forward_hook(self, layer):
        import torch

        what, failed = f"layer {layer.l} forward", self._failed

        def hook(module, inputs, output):   # self._guard inlined: this runs for every layer and step
            if torch.is_grad_enabled() and isinstance(output, torch.Tensor) and output.requires_grad \
                    and what not in failed:
                try:
                    self._on_forward(layer, output)
                except Exception as err:  # a monitor must not stop the training it watches
                    self._fail(what, err)
        return hook

    def _on_forward(self, layer, z) -> None:
        import torch

        current = self._pass
        if current is None or current.backward or layer.l in current.forwarded:
            self._finish_pass()
            current = self._pass = _Pass()
        current.forwarded.add(layer.l)
        if self.bounds is not None and layer is not self.layers[-1]:
            # zˡ is kept (autograd keeps it too until the backward pass has gone through it); the weight norms
            # and max|σ′| are taken for all layers together when δᴸ is known: the weights are those of the
            # forward pass then (autograd refuses a backward pass through weights changed in place)
            current.zs[layer.l] = z.detach()
        if layer.activation == "ReLU":
            with torch.no_grad():
                zd = z.detach()
                top = (zd.reshape(-1, zd.shape[-1]).amax(0) if layer.kind == "Linear"
                       else zd.transpose(0, 1).reshape(zd.shape[1], -1).amax(1))
                current.entries.append((layer.l, "dead_units", (top <= 0).sum(dtype=zd.dtype)))
        z.register_hook(self._delta_hook(layer.l, current))

    def _delta_hook(self, l: int, owner: _Pass):
        def hook(grad):
            # only a reference here; the norms are taken once the backward pass has finished
            owner.grads[l] = grad
            if not owner.backward:
                owner.backward = True
                self._guard("step", queue_callback, lambda: self._guard("step", self._end_backward, owner))
        return hook

    def _end_backward(self, owner: _Pass) -> None:
        """At the end of the backward pass: the step's norms, on the device, then the step is done."""
        import torch

        with torch.no_grad():
            grads = [p.grad for _, _, p in self._params]
            if len(owner.grads) == len(self.layers) and all(g is not None for g in grads):   # the usual step
                owner.entries += zip(self._param_layers, self._param_quantities, foreach_norms(grads))
                have_speed = self._speed_layers
            else:
                params = [(l, q, p) for l, q, p in self._params if p.grad is not None and l in owner.grads]
                norms = foreach_norms([p.grad for _, _, p in params])
                owner.entries += ((l, q, value) for (l, q, _), value in zip(params, norms))
                have_speed = {l for l, q, _ in params if q == "speed"}
            for layer in self.layers:
                g = owner.grads.get(layer.l)
                if g is None:
                    continue
                if layer.l not in have_speed:   # no trainable bias: the gradient a bias would get
                    units = 1 if layer.kind == "Conv2d" else g.dim() - 1
                    summed = g.sum(dim=tuple(d for d in range(g.dim()) if d != units))
                    owner.entries.append((layer.l, "speed", torch.linalg.vector_norm(summed)))
                if self.reduction is None and self.bounds is None:
                    continue
                per_example = torch.linalg.vector_norm(g.flatten(1) if g.dim() > 2 else g, ord=self._ord, dim=1)
                owner.batch[layer.l] = g.shape[0]
                if self.reduction is not None:
                    owner.entries.append((layer.l, "delta", per_example))
                if layer is self.layers[-1] and self.bounds is not None:
                    self._guard("bounds", self._bound_step, owner, per_example)
        for l in sorted(owner.forwarded - set(owner.grads)):
            self._note(f"layer {l}: no gradient reached its output at step {self.step} (detached from the loss "
                       "or unused); nothing is recorded for it then")
        owner.grads = {}
        self._complete(owner)

    # ----- steps -------------------------------------------------------------------
    def _finish_pass(self) -> None:
        """Leave the current pass: a step if its backward pass ran, else (an evaluation with gradients on) dropped."""
        current, self._pass = self._pass, None
        if current is not None and current.backward:
            self._complete(current)

    def _complete(self, current: _Pass) -> None:
        if current.done:
            return
        current.done = True
        if self._pass is current:
            self._pass = None
        current.zs, current.grads = {}, {}
        self._pending.append((self.step, current))
        self.step += 1
        if len(self._pending) >= self.copy_every:
            self._copy()

    def _bound_step(self, current: _Pass, delta_out) -> None:
        """Bounds (a), (b) once δᴸ is known (the first gradient of the backward pass)."""
        import torch

        with torch.no_grad():
            n = delta_out.shape[0]
            scale = math.log10(n) if self.reduction == "mean" else 0.0
            norms = dict(zip((layer.l for layer in self.layers), self.bounds.weight_norms()))
            parts = self.bounds.prime_parts(current.zs) if len(self.layers) > 1 else None
            logs = self.bounds.combine(norms, parts, torch.log10(delta_out) + scale)
        for i, quantity in enumerate(BOUND_QUANTITIES):
            current.entries.append((0, quantity, logs[i]))

    def _copy(self) -> None:
        pending, self._pending = self._pending, []
        if not pending:
            return
        host = copy_to_host([t for _, p in pending for _, _, t in p.entries])  # the one copy
        rows, at, first = [], 0, 0
        with np.errstate(all="ignore"):  # the caller's error state must not turn a NaN into an exception here
            while first < len(pending):   # steps of one layout together: one array each
                plan = self._plan(pending[first][1])
                end = first + 1
                while end < len(pending) and self._plan(pending[end][1]) is plan:
                    end += 1
                steps = [step for step, _ in pending[first:end]]
                size = plan.size * len(steps)
                values = plan.values(host[at:at + size].reshape(len(steps), plan.size))
                at, first = at + size, end
                rows += self._rows(plan, steps, values)
        self.records.extend(rows)
        for sink in self.sinks:
            self._guard("sink", sink, rows)

    def _rows(self, plan: HostLayout, steps: list, values: np.ndarray) -> list:
        """The records of steps of one layout (``values`` one row per step), with their alerts."""
        keys, rows = plan.keys, []
        finite = np.isfinite(values).all(axis=1).tolist()
        for step, listed, ok in zip(steps, values.tolist(), finite):
            rows += [(step, l, q, v) for (l, q), v in zip(keys, listed)]
            small = {keys[i]: listed[i] for i in plan.alert_index}
            if not ok:
                bad = [i for i, v in enumerate(listed) if not math.isfinite(v)]
                small.update((keys[i], listed[i]) for i in bad)
                rows += [(step, l, "nonfinite", 1.0) for l in sorted({keys[i][0] for i in bad})]
            if self.bounds is not None:
                for i in plan.weight_norm_index:   # NaN or a zero matrix: the next step starts afresh
                    if not (listed[i] > 0 and math.isfinite(listed[i])):
                        self.bounds.restart(keys[i][0])
            if not ok or self._may_alert(small):
                self._alerts(step, small)
        return rows

    def _plan(self, p: _Pass) -> HostLayout:
        """Where each recorded value of a pass lies in the host copy (cached: a pass's layout repeats)."""
        count = len(self.layers)
        key = tuple((l, q, p.batch[l] if q == "delta" else count if l == 0 else 1) for l, q, _ in p.entries)
        plan = self._plans.get(key)
        if plan is None:
            if len(self._plans) > 64:
                self._plans.clear()
            plan = self._plans[key] = HostLayout(key, [layer.l for layer in self.layers], self.reduction == "mean",
                                                 self.layers[0].l, self.layers[-1].l)
        return plan

    def _may_alert(self, values: dict) -> bool:
        """Whether a vanishing or dead-units condition not yet warned of may hold (a cheap filter before
        :meth:`_alerts`, which words the messages)."""
        first, warned = self.layers[0].l, self._warned
        s_first, s_last = values.get((first, "speed")), values.get((self.layers[-1].l, "speed"))
        if s_first is not None and s_last is not None and s_first < self.vanishing_ratio * s_last \
                and ("vanishing", first) not in warned:
            return True
        return any(q == "dead_units" and v > 0 and v >= self.dead_fraction * self._widths.get(l, 0)
                   and ("dead", l) not in warned for (l, q), v in values.items())

    def _alerts(self, step: int, values: dict) -> None:
        first, last = self.layers[0].l, self.layers[-1].l
        widths = self._widths
        bound_ratio = None
        if (first, "bound_a_estimate") in values and (last, "bound_a_estimate") in values:
            a_first, a_last = values[(first, "bound_a_estimate")], values[(last, "bound_a_estimate")]
            bound_ratio = a_first / a_last if a_last > 0 else None
        meanfield = (lambda: self._meanfield_sentence()) if step == 0 else None
        for key, message in step_alerts(step, values, first=first, last=last, widths=widths,
                                        vanishing_ratio=self.vanishing_ratio, dead_fraction=self.dead_fraction,
                                        bound_ratio=bound_ratio, meanfield=meanfield):
            if key not in self._warned:
                self._warned.add(key)
                self.messages.append(message)
                _warn(message, GradientWarning)

    def _meanfield_sentence(self) -> str:
        """What mean-field theory predicts for the ratio at initialisation (infinite width, i.i.d. weights)."""
        if self.bounds is None or len(self.layers) < 3:
            return ""
        return meanfield_sentence(self.layers, self.bounds.hidden_activation)

    # ----- never crash the training loop ---------------------------------------------
    def _guard(self, what: str, fn, *args):
        if what in self._failed:
            return None
        try:
            return fn(*args)
        except Exception as err:  # a monitor must not stop the training it watches
            self._fail(what, err)
            return None

    def _fail(self, what: str, err: Exception) -> None:
        self._failed.add(what)
        self._note(f"{what}: measuring failed ({type(err).__name__}: {err}); switched off, training goes on")

    def _note(self, message: str) -> None:
        if message not in self.messages:
            self.messages.append(message)
            _warn(message, MonitorWarning)


def _units(layer) -> int:
    module = layer.module
    return int(module.out_features if layer.kind == "Linear" else module.out_channels)


def _warn(message: str, category) -> None:
    try:
        warnings.warn(message, category, stacklevel=3)
    except Exception:  # warnings turned into errors: the message stays in monitor.messages
        pass
