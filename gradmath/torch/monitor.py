"""GradientMonitor: per-layer speed of learning, per-example ‖δˡ‖ and the bounds, recorded live from PyTorch.

A step is one backward pass through the model. A forward hook on each watched layer puts a
pre-hook on the autograd node of its output zˡ, which sees ∂C/∂zˡ of the batch. When the backward
pass ends, the monitor takes on the device, without a host sync, ‖∂C/∂bˡ‖ and ‖∂C/∂wˡ‖ of each
layer and ‖δˡ‖ per example (∂C/∂zˡ times N for ``reduction="mean"``), each norm kernel writing
straight into the step's row of a device buffer (:mod:`gradmath.torch.steps`); with
``bounds=True`` also what bounds (a) and (b) need (:mod:`gradmath.torch.bounds`), and ReLU units
dead on the whole batch are counted in the forward pass; these join the row too. Every
``copy_every`` steps the rows go to the host in one transfer, become
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
from contextlib import nullcontext
from functools import partial
from itertools import repeat
from operator import is_, is_not
from typing import NamedTuple

import numpy as np

from gradmath.errors import InvalidParameterError
from gradmath.norms import check_norm
from gradmath.torch.alerts import Alerts, GradientWarning
from gradmath.torch.bounds import chain_bounds, examples
from gradmath.torch.layers import batch_scale, stored_tensor, watched_layers
from gradmath.torch.records import Records
from gradmath.torch.steps import Step, host_groups
from gradmath.torch.transfer import HostLayout, callback_queue, pack
from gradmath.validation import check_int

__all__ = ["GradientMonitor", "MonitorWarning", "COPY_EVERY", "MAX_COPY_EVERY"]

#: Largest ``copy_every`` (steps held on the device between copies to the host).
MAX_COPY_EVERY = 100_000

#: Default ``copy_every``: Lightning's default logging interval (``log_every_n_steps``). Every step is
#: recorded; the values reach the host, the records, the sinks and the warnings at each copy.
COPY_EVERY = 50


_NO_CONTEXT = nullcontext()   # reusable


class _UsualStep(NamedTuple):
    """What the next step must match to take the last usual step's keys and buffer as they are."""

    layers: list             # the layers in the order the backward pass reached them (same shapes, other order:
    #                          other keys)
    shapes: list             # the shapes of their ∂C/∂zˡ (None where not kept)
    hooked_scalar_keys: list  # the keys the hooks gave (dead units, the bounds' parts)
    hooked_vector_keys: list
    scalar_keys: list        # the step's keys, never changed after
    vector_keys: list


class MonitorWarning(UserWarning):
    """Something the monitor cannot measure (an unknown reduction, a layer with no bound, a failed hook)."""


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
        Steps kept on the device between copies to the host (default :data:`COPY_EVERY`, 50). Every
        step is recorded; the records, sinks and warnings are updated at each copy, and
        :meth:`flush` (or :meth:`to_frame`, or detaching) copies what is pending at any time.
    bounds : bool
        Also estimate bounds (a) and (b) per layer and step (chain models only; the others get
        a :class:`MonitorWarning` naming the layers without a bound, and are measured as usual).
    norm : {"2", "1", "inf"}
        The norm of ‖δˡ‖ and of the bounds (speeds are always Euclidean, as Nielsen's).
    power_steps : int
        Matrix–vector products per layer and step of the warm-started power iteration that estimates
        ‖wʳ‖₂ for the bounds (default 1; two make one power iteration).
    vanishing_ratio, dead_fraction : float
        Thresholds of the warnings (:mod:`gradmath.torch.alerts`).
    sinks : sequence of callables
        Each is called with the new rows after every copy (e.g. :class:`~gradmath.torch.tensorboard.TensorBoardSink`).
    """

    def __init__(self, model, *, loss=None, reduction: str | None = None, copy_every: int = COPY_EVERY, bounds: bool = False,
                 norm="2", power_steps: int = 1, vanishing_ratio: float = 0.01, dead_fraction: float = 0.5,
                 sinks=()):
        from gradmath.formats.pytorch import _import_torch

        _import_torch()
        self.model = model
        self.copy_every = check_int("copy_every", copy_every, min_value=1, max_value=MAX_COPY_EVERY)
        self.norm = check_norm(norm)
        self._ord = {"2": 2.0, "1": 1.0, "inf": math.inf}[self.norm]
        self._row_ord = None if self.norm == "2" else self._ord   # of the per-example norms (None: Euclidean)
        for name, value in (("vanishing_ratio", vanishing_ratio), ("dead_fraction", dead_fraction)):
            if isinstance(value, bool) or not (isinstance(value, (int, float)) and 0 < value <= 1):
                raise InvalidParameterError(f"{name}={value!r} must be a number in (0, 1]")
        self.vanishing_ratio, self.dead_fraction = float(vanishing_ratio), float(dead_fraction)
        self.records = Records()
        self.messages: list[str] = []
        try:
            self.sinks = list(sinks)
        except TypeError:
            raise InvalidParameterError(f"sinks={sinks!r} must be a sequence of callables (each called with the new "
                                        "rows after every copy)") from None
        for sink in self.sinks:
            if not callable(sink):
                raise InvalidParameterError(f"sinks: {sink!r} is not callable; a sink is called with the new rows "
                                            "after every copy (e.g. TensorBoardSink(log_dir))")
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
            check_int("power_steps", power_steps, min_value=1, max_value=1000)
            self.bounds, reason = chain_bounds(model, self.layers, self.norm, power_steps)
            if self.bounds is None:
                self.unbounded = {layer.l: reason for layer in self.layers}
                names = ", ".join(f"{layer.l} ({layer.kind} {layer.name})" for layer in self.layers)
                self._note(f"no bounds for layers {names}: {reason}; their measured norms are recorded")
        self._alerts = Alerts(self.layers, {layer.l: _units(layer) for layer in self.layers}, self.vanishing_ratio,
                              self.dead_fraction, None if self.bounds is None else self.bounds.hidden_activation)
        self._per_example = self.reduction is not None
        self.step = 0
        self._backward: Step | None = None      # the step of the backward pass under way
        self._forwarded: set[int] = set()        # layers whose forward ran since the last step ended
        self._usual: _UsualStep | None = None
        self._pending: list[tuple[int, Step]] = []
        self._handles: list = []
        self._plans: dict = {}
        self._buffer = None
        self._failed: set[str] = set()
        self._said: set = set()

    # ----- attaching ---------------------------------------------------------------
    def attach(self) -> GradientMonitor:
        """Register the hooks (idempotent): one forward hook per layer, which puts a pre-hook on the autograd node
        of the layer's output at each step."""
        if self._handles:
            return self
        stored = {(layer.l, name): stored_tensor(layer.module, name) for layer in self.layers
                  for name in ("bias", "weight")}   # (not module.weight: that would run a parametrization)
        self._params = [(layer.l, q, p) for layer in self.layers
                        for q, (p, _) in (("speed", stored[layer.l, "bias"]),
                                          ("weight_grad_norm", stored[layer.l, "weight"]))
                        if p is not None and p.requires_grad]
        shared: dict = {}
        for l, q, p in self._params:
            shared.setdefault((q, id(p)), []).append(l)
        for (q, _), ls in shared.items():
            if len(ls) > 1:   # tied weights (e.g. an encoder's and a decoder's): one .grad, the sum over the uses
                what = "weight" if q == "weight_grad_norm" else "bias"
                self._note(f"layers {', '.join(map(str, ls))} share one {what} tensor (tied): the {q} of each is "
                           f"that of the shared {what}'s gradient, summed over all its uses")
        self._param_keys = [(l, q) for l, q, _ in self._params]
        self._param_tensors = [p for _, _, p in self._params]
        import torch

        self._queue = callback_queue()
        self._no_grad, self._grad_enabled, self._vector_norm = torch.no_grad, torch.is_grad_enabled, \
            torch.linalg.vector_norm
        self._graph_task = getattr(torch._C, "_current_graph_task_id", lambda: -1)
        self._norm_keys = [(layer.l, "weight_norm_estimate") for layer in self.layers]
        speed_layers = {l for l, q, _ in self._params if q == "speed"}
        # per layer, what the end of a backward pass takes from ∂C/∂zˡ: (l, name, per-example norms?, their
        # quantity, the speed (no trainable bias)?, Conv2d?)
        self._backward_plan = {layer.l: (layer.l, f"layer {layer.l} backward",
                                         self._per_example or (self.bounds is not None and layer is self.layers[-1]),
                                         "delta" if self._per_example else "delta_out", layer.l not in speed_layers,
                                         layer.kind == "Conv2d")
                               for layer in self.layers}
        for layer in self.layers:
            self._handles.append(layer.module.register_forward_hook(self._forward_hook(layer)))
            (bias, bias_why), (weight, weight_why) = stored[layer.l, "bias"], stored[layer.l, "weight"]
            if bias_why:
                self._note(f"layer {layer.l} ({layer.name}): bias is {bias_why}: its speed is ‖Σₙ ∂C/∂zˡ‖, the "
                           "gradient the bias would get")
            elif bias is None:
                self._note(f"layer {layer.l} ({layer.name}) has no bias: its speed is ‖Σₙ ∂C/∂zˡ‖, the gradient "
                           "a bias would get")
            elif not bias.requires_grad:
                self._note(f"layer {layer.l} ({layer.name}): bias is frozen (requires_grad=False): its speed is "
                           "‖Σₙ ∂C/∂zˡ‖, the gradient the bias would get")
            if weight_why:
                self._note(f"layer {layer.l} ({layer.name}): weight is {weight_why}: no weight gradient recorded")
            elif weight is not None and not weight.requires_grad:
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
        """Copy every finished step to the host (a step finishes when its backward pass ends, so called between a
        forward and a backward pass this loses nothing)."""
        self._guard("copy", self._copy)
        return self.records

    def to_frame(self):
        """The records so far as a pandas DataFrame (columns ``step``, ``layer``, ``quantity``, ``value``)."""
        return self.flush().to_frame()

    # ----- hooks (each guarded: a failure becomes a warning, never an exception) ----------
    def _forward_hook(self, layer):
        """A forward hook that puts a pre-hook on zˡ's autograd node, with what the forward pass gives of zˡ."""
        import torch

        l, what, failed, watched, forwarded = layer.l, f"layer {layer.l} forward", self._failed, layer.module, \
            self._forwarded
        grad_enabled, tensor = torch.is_grad_enabled, torch.Tensor
        in_backward = getattr(torch._C, "_current_graph_task_id", lambda: -1)
        prime = self.bounds.prime_function(layer) if self.bounds is not None and layer is not self.layers[-1] \
            else None
        relu = layer.activation == "ReLU"
        # the layer's pre-hook: (output_nr, part, dead) are bound at each step (a partial is cheaper to make than
        # a closure), or once for the common step
        delta_hook = partial(self._on_delta, l, self._backward_plan[l][1],
                             self._backward_plan[l][2] or self._backward_plan[l][4])
        usual = partial(delta_hook, 0, None, None)

        def hook(module, inputs, z):   # self._guard inlined: this runs for every layer and step
            # not a copy of the model (copy.deepcopy copies the hooks), not a forward recomputed inside a
            # backward pass (activation checkpointing): its gradient reaches the original node's pre-hook
            if module is not watched or what in failed or in_backward() != -1:
                return
            node = getattr(z, "grad_fn", None)   # its pre-hook sees ∂C/∂zˡ, as a hook on zˡ would, with less work
            if node is None and not (grad_enabled() and isinstance(z, tensor) and z.requires_grad):
                return
            try:
                forwarded.add(l)
                part = prime(z) if prime is not None else None   # for max_j |σ′(zˡ_j)|, while zˡ is in the cache
                dead = self._dead_units(layer, z) if relu else None
                if node is None:
                    z.register_hook(partial(delta_hook, None, part, dead))
                elif part is None and dead is None and z.output_nr == 0:
                    node.register_prehook(usual)
                else:
                    node.register_prehook(partial(delta_hook, z.output_nr, part, dead))
            except Exception as err:  # a monitor must not stop the training it watches
                self._fail(what, err)
        return hook

    @staticmethod
    def _dead_units(layer, z):
        """How many units of a ReLU layer have zˡ ≤ 0 for every example (from ``z.detach()``: nothing enters the
        autograd graph)."""
        zd = z.detach()
        top = (zd.reshape(-1, zd.shape[-1]).amax(0) if layer.kind == "Linear"
               else zd.transpose(0, 1).reshape(zd.shape[1], -1).amax(1))
        return (top <= 0).sum(dtype=zd.dtype)

    def _on_delta(self, l: int, what: str, keep: bool, output_nr, part, dead, grad) -> None:
        """The pre-hook (bound to its layer with :func:`functools.partial`) that sees ∂C/∂zˡ of the batch in a
        backward pass. A step is one backward pass: the first pre-hook of a pass opens it and asks for
        :meth:`_end_backward` at the pass's end; ∂C/∂zˡ is kept for then (when ``keep``) with the forward pass's
        ``part`` (bounds) and ``dead`` units. Only a reference is kept here: the norms are taken once the pass
        has ended (taken here, between autograd's kernels, they cost more)."""
        g = grad if output_nr is None else grad[output_nr]
        if g is None or what in self._failed:   # an output of a node with several that got no gradient
            return
        try:
            step, task = self._backward, self._graph_task()
            if step is None or step.task != task:   # (a pass that raised never ended: its step is dropped)
                step = self._backward = self._open_step(task)
                try:
                    self._queue(partial(self._guard, "step", self._end_backward, step))
                except Exception:
                    self._backward = None
                    raise
            got = step.got
            if l in got:
                self._note(f"layer {l}: its output was reached more than once in one backward pass (a layer used "
                           "twice in a forward pass, or the losses of several forward passes summed); its ‖δˡ‖ are "
                           "those of the use the backward pass reached first, its speed and weight gradient those "
                           "of all uses")
                return
            got[l] = g if keep else None
            if part is not None:
                step.vectors.append(part)
                step.vector_keys.append((l, "prime", part.shape[0]))
            if dead is not None:
                step.scalars.append(dead)
                step.scalar_keys.append((l, "dead_units"))
        except Exception as err:  # a monitor must not stop the training it watches
            self._fail(what, err)

    def _open_step(self, task: int) -> Step:
        """A new step, at the first pre-hook of a backward pass. Where a watched parameter's ``.grad`` is already
        set (gradients accumulated over several passes, or ``zero_grad(set_to_none=False)``), a copy is kept so
        that the step records the gradient of its own pass."""
        step = Step()
        step.task = task
        grads = [p.grad for p in self._param_tensors]
        if not all(map(is_, grads, repeat(None))):
            step.before = [None if g is None else (g, g._version, g.detach().clone()) for g in grads]
        return step

    def _end_backward(self, owner: Step) -> None:
        """At the end of the backward pass: the step's norms, on the device, taken straight into its row; the step
        is done."""
        self._backward = None
        # autograd runs this with gradients off unless backward(create_graph=True); then the norms must not
        # join the graph
        with self._no_grad() if self._grad_enabled() else _NO_CONTEXT:
            grads = [p.grad for p in self._param_tensors]
            got = owner.got
            if owner.before is None and len(got) == len(self.layers) and all(map(is_not, grads, repeat(None))):
                # the usual step: every layer reached, .grad as it is; with the layers in the same order, of the
                # same shapes and with the same keys as the last one, it takes its keys and its buffer as they are
                usual = self._usual
                if usual is not None:
                    rows = list(got.values())
                    if list(got) == usual.layers and [None if g is None else g.shape for g in rows] == usual.shapes \
                            and owner.scalar_keys == usual.hooked_scalar_keys \
                            and owner.vector_keys == usual.hooked_vector_keys \
                            and (self.bounds is None or self._guard("bounds", self._bound_step, owner, False)):
                        owner.scalar_keys, owner.vector_keys = usual.scalar_keys, usual.vector_keys
                        self._forwarded.clear()   # every layer was reached
                        self._complete(owner, grads, [g for g in rows if g is not None])
                        return
                keys, own = self._param_keys, grads
            else:
                keys, own = self._own_gradients(owner, grads)
            shapes = [None if g is None else g.shape for g in got.values()]
            hooked = (list(owner.scalar_keys), list(owner.vector_keys))
            plan, norm = self._backward_plan, self._vector_norm
            rows, row_keys, simple = [], [], True   # per-example ‖δˡ‖: the norms of the rows of ∂C/∂zˡ
            for l, g in got.items():
                if g is None:
                    continue
                _, _, per_example, quantity, summed, conv = plan[l]
                if per_example and g.shape[0] > 0:
                    rows.append(g if g.dim() == 2 else examples(g))
                    row_keys.append((l, quantity, rows[-1].shape[0]))
                    simple = simple and g.dim() == 2
                if summed:   # no trainable bias: the speed is the gradient a bias would get
                    units = 1 if conv else g.dim() - 1   # Conv2d: channels; Linear: the last dimension
                    owner.scalars.append(norm(g.sum(dim=tuple(d for d in range(g.dim()) if d != units))))
                    owner.scalar_keys.append((l, "speed"))
                    simple = False
            owner.before = None
            if self.bounds is not None and self.layers[-1].l in got:
                self._guard("bounds", self._bound_step, owner)
            owner.scalar_keys[:0], owner.vector_keys[:0] = keys, row_keys
            forwarded = set(self._forwarded)
            self._forwarded.clear()
            if not forwarded <= got.keys():
                for l in sorted(forwarded - got.keys()):
                    self._note(f"layer {l}: no gradient reached its output at step {self.step} (detached from "
                               "the loss or unused); nothing is recorded for it then")
            # the next step with these shapes and keys takes the usual path (every ∂C/∂zˡ 2-d, none summed)
            self._usual = _UsualStep(list(got), shapes, *hooked, owner.scalar_keys, owner.vector_keys) \
                if simple and keys is self._param_keys and len(rows) == sum(g is not None for g in got.values()) \
                else None
            self._complete(owner, own, rows)

    def _own_gradients(self, owner: Step, grads) -> tuple[list, list]:
        """The keys and gradients of this backward pass's parameters, where the usual step's shortcut (``.grad``
        as it is) does not hold: the difference from a ``.grad`` set before the pass, nothing for a ``.grad``
        the pass did not touch (``torch.autograd.grad``), nothing for layers the pass did not reach."""
        keys, own, before, untouched = [], [], owner.before or [None] * len(grads), set()
        for (l, q, _), g, was in zip(self._params, grads, before):
            if l not in owner.got:
                if g is not None and l not in self._forwarded and ("not called", l) not in self._said \
                        and f"layer {l} forward" not in self._failed \
                        and (was is None or g is not was[0] or g._version != was[1]):
                    self._said.add(("not called", l))
                    name = next(layer.name for layer in self.layers if layer.l == l)
                    self._note(f"layer {l} ({name}): its parameters got gradients but the module itself was not "
                               "called (its weight used directly, as nn.MultiheadAttention does with out_proj): "
                               "nothing is recorded for it")
                continue
            if g is None or (was is not None and g is was[0] and g._version == was[1]):
                untouched.add(l)
                continue
            keys.append((l, q))
            own.append(g if was is None else g - was[2])
        if untouched:
            self._note(f"layers {', '.join(map(str, sorted(untouched)))}: the backward pass left the parameters' "
                       ".grad as it was (torch.autograd.grad computes gradients without accumulating them): their "
                       "speeds and weight gradient norms are not recorded then")
        return keys, own

    def _complete(self, current: Step, norms=(), rows=()) -> None:
        """The step is done: its values into the next row of a device buffer (a copy is then one transfer), with
        the Euclidean norms of ``norms`` and the row norms of ``rows`` taken straight into it."""
        if current.done:
            return
        current.done = True
        if "pack" not in self._failed:
            try:
                self._buffer, current.row = pack(self._buffer, current.scalar_keys, current.vector_keys,
                                                 current.scalars, current.vectors, self.copy_every, norms, rows,
                                                 self._row_ord)
                current.buffer = self._buffer
            except Exception as err:  # a monitor must not stop the training it watches
                self._fail("pack", err)
        current.scalars, current.vectors, current.got = [], [], {}   # the step's ∂C/∂zˡ are let go
        self._pending.append((self.step, current))
        self.step += 1
        if len(self._pending) >= self.copy_every:
            if "copy" in self._failed:   # switched off: nothing may pile up on the device
                self._pending = []
                if self._buffer is not None:
                    self._buffer.used = 0
            else:
                self._guard("copy", self._copy)

    def _bound_step(self, current: Step, keys: bool = True) -> bool:
        """The weight norms the bounds need, on the device, of the weights the backward pass went through (autograd
        refuses one through weights changed in place); the prime parts were taken in the forward pass, and the
        rest is done on the host at the copy (:meth:`~gradmath.torch.bounds.ChainBounds.log10_bounds`). Called
        with gradients off (:meth:`_end_backward`); ``keys=False`` leaves the step's keys to the caller."""
        current.scalars += self.bounds.weight_norms()
        if keys:
            current.scalar_keys += self._norm_keys
        return True

    def _copy(self) -> None:
        pending, self._pending = self._pending, []
        if not pending:
            return
        blocks = []
        with np.errstate(all="ignore"):  # the caller's error state must not turn a NaN into an exception here
            for head, steps, block in host_groups(pending):
                plan = self._plan(head)
                values = plan.values(block[:, :plan.ssize], block[:, plan.ssize:])
                blocks.append(self._record(plan, steps, values))
        if self._buffer is not None:
            self._buffer.used = 0   # every row was copied: the buffer is reused
        if self.sinks:
            rows = [row for block in blocks for row in block.rows()]
            for sink in self.sinks:
                self._guard("sink", sink, rows)

    def _record(self, plan: HostLayout, steps: list, values: np.ndarray):
        """Record the steps of one layout (``values`` one row per step) as one block, and check their alerts."""
        keys = plan.keys
        finite = np.isfinite(values).all(axis=1)
        flags = {}
        for i in np.flatnonzero(~finite).tolist():
            flags[i] = sorted({keys[j][0] for j, v in enumerate(values[i].tolist()) if not math.isfinite(v)})
        block = self.records.add_block(steps, keys, values, flags)
        if self.bounds is not None and plan.weight_norm_index:   # NaN or a zero matrix: the next step starts afresh
            for i, value in zip(plan.weight_norm_index, values[-1, plan.weight_norm_index].tolist()):
                if not (value > 0 and math.isfinite(value)):
                    self.bounds.restart(keys[i][0])
            self._check_bounds(plan, steps, values)
        alerts, columns = self._alerts, plan.alert_columns
        for i in np.flatnonzero(~finite | alerts.candidates(columns, values)).tolist():
            if finite[i] and not alerts.candidates(columns, values[i:i + 1])[0]:   # warned of at an earlier step
                continue
            listed = values[i].tolist()
            small = {keys[j]: listed[j] for j in plan.alert_index}
            small.update((keys[j], v) for j, v in enumerate(listed) if not math.isfinite(v))
            for message in alerts.check(steps[i], small):
                self.messages.append(message)
                _warn(message, GradientWarning)
        return block

    def _check_bounds(self, plan: HostLayout, steps: list, values: np.ndarray) -> None:
        """Bound (b) below the measured largest ‖δˡ‖ (beyond float32's rounding) means the estimates of ‖wʳ‖₂ lag
        weights that move faster than the warm-started power steps follow: say so once, and start them afresh."""
        for l, b, d in plan.bound_checks:
            low = np.flatnonzero(values[:, b] < values[:, d] * (1 - 1e-5))
            if low.size:
                i = int(low[0])
                self.bounds.restart(l)
                if ("bound lag", l) in self._said:
                    continue
                self._said.add(("bound lag", l))
                self._note(f"layer {l}: bound (b)'s estimate {values[i, b]:.4g} at step {steps[i]} is below the "
                           f"measured largest ‖δˡ‖ {values[i, d]:.4g}: the estimates of the weight norms lag "
                           "weights that move fast; they start afresh (power_steps=2 or more keeps them closer)")

    def _plan(self, p: Step) -> HostLayout:
        """Where each recorded value of a pass lies in the host copy (cached: a pass's layout repeats)."""
        key = p.layout()
        plan = self._plans.get(key)
        if plan is None:
            if len(self._plans) > 64:
                self._plans.clear()
            plan = self._plans[key] = HostLayout(*key, mean=self.reduction == "mean", first=self.layers[0].l,
                                                 last=self.layers[-1].l, bounds=self.bounds,
                                                 layers=[layer.l for layer in self.layers])
        return plan

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
