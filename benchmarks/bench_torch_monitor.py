"""Benchmark: the cost of gradmath.torch.GradientMonitor on a training loop, as ratios in one process.

An MLP [784, 100, 100, 100, 100, 10] (sigmoid, float32, CPU) trained by SGD on batches of 128
random examples. PyTorch runs on one thread (``--threads``), its faster setting for matrices this
small. Two settings:

**A plain training loop**, for ``--rounds`` rounds. Each round builds every variant afresh (its
own model, optimiser and monitor), warms each up for ``--warm`` steps (a full copy cycle, so that
one-off work is done), then the instances take turns, ``--chunk`` steps each, ``--chunks``
times, in an order that turns from round to round; an instance's time is its fastest chunk
(CPU time of the process, ``time.process_time``). With the default chunk of 50 steps each chunk
holds exactly one copy to the host of the default monitor. A variant's ratio is the median over
the rounds of its time over ``plain``'s in the same round: fresh models
each round put the tensors at new addresses, whose luck in the caches moved one fixed
instance's time by several percent, and pairing within a round cancels a machine that is busy
for a while. The best ratio is printed beside the median.

* ``plain``: the training loop alone (the reference);
* ``monitor``: GradientMonitor with its defaults, recording every step (speeds, per-example ‖δˡ‖
  quartiles, weight-gradient norms, dead units), copied to the host every 50 steps;
* ``monitor-k1``: the same, copied to the host (and its warnings checked) after every step;
* ``monitor+bounds``: the monitor with bounds (a) and (b) every step (copied every 50 steps);
* ``grad_norm``: Lightning's ``lightning.pytorch.utilities.grad_norm`` every step, its values
  read as floats: the least that logging it every step costs;
* ``floor``: the least any hook-based recorder of the monitor's default quantities does, written
  here without checks, keys or warnings: a forward hook per layer that puts a pre-hook on the
  output's autograd node, and at the end of the backward pass one norm kernel per parameter gradient
  and one per-example norm kernel per layer, each writing straight into a row of a preallocated
  buffer (``out=``; measured faster than one ``torch._foreach_norm`` and a stack); every 50 steps one
  transfer and one sort for the quartiles.

**Lightning** (``--lightning-steps``, 0 to skip): ``Trainer.fit`` for that many steps with a
TensorBoardLogger, logging every step, timed whole (the trainer's set-up included) and best of
``--lightning-repeats``:

* ``lightning``: the LightningModule alone;
* ``lightning+grad_norm``: ``self.log_dict(grad_norm(self.net, norm_type=2))`` in
  ``on_before_optimizer_step``, as Lightning's documentation shows;
* ``lightning+monitor``: :class:`gradmath.torch.lightning.GradientMonitorCallback`, its records
  sent to the same logger at each copy.

Goals: monitor ≤ 1.10 × plain and no slower than logging grad_norm every step; monitor+bounds
≤ 1.25 × plain.

    python benchmarks/bench_torch_monitor.py [--rounds 30] [--chunks 3] [--chunk 50] [--lightning-steps 200]
        [--variants monitor,floor] [--width 100] [--json]
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import tempfile
import time
import warnings

import numpy as np

SIZES = (784, 100, 100, 100, 100, 10)
BATCH = 128


def _net(torch, nn):
    torch.manual_seed(0)
    mods = []
    for i, (a, b) in enumerate(zip(SIZES, SIZES[1:])):
        mods.append(nn.Linear(a, b))
        if i < len(SIZES) - 2:
            mods.append(nn.Sigmoid())
    return nn.Sequential(*mods)


class _Runner:
    """One variant of the plain loop: its own model, optimiser and (maybe) monitor, trained chunk by chunk."""

    def __init__(self, variant, torch, nn, batches, loss_fn, grad_norm):
        from gradmath.torch import GradientMonitor

        self.model = _net(torch, nn)
        self.opt = torch.optim.SGD(self.model.parameters(), lr=0.05)
        self.batches, self.loss_fn, self.step = batches, loss_fn, 0
        self.after_backward = None
        self.monitor = None
        if variant.startswith("monitor"):
            options = {"bounds": variant == "monitor+bounds"}
            if variant == "monitor-k1":
                options["copy_every"] = 1
            self.monitor = GradientMonitor(self.model, loss=loss_fn, **options).attach()
        elif variant == "floor":
            self.floor = _Floor(torch, self.model)
        elif variant == "grad_norm":
            model = self.model
            self.after_backward = lambda: {k: float(v) for k, v in grad_norm(model, norm_type=2).items()}

    def train(self, steps: int) -> float:
        """CPU seconds per step of ``steps`` steps."""
        model, opt, loss_fn, after = self.model, self.opt, self.loss_fn, self.after_backward
        start = time.process_time()
        for _ in range(steps):
            x, y = self.batches[self.step % len(self.batches)]
            self.step += 1
            opt.zero_grad()
            loss_fn(model(x), y).backward()
            if after is not None:
                after()
            opt.step()
        return (time.process_time() - start) / steps


class _Floor:
    """The ``floor`` variant: the monitor's default measurements with nothing else (see the module's text)."""

    def __init__(self, torch, model, rows: int = 50):
        from torch.autograd import Variable

        linears = [m for m in model if isinstance(m, torch.nn.Linear)]
        self.params = [p for m in linears for p in (m.bias, m.weight)]
        self.torch, self.grads, self.queued, self.row, self.engine = torch, [], False, 0, Variable._execution_engine
        n = len(self.params)
        self.buffer = torch.empty((rows, n + BATCH * len(linears)))
        # per row: a 0-d slot per parameter and a segment per layer, written by the norm kernels (out=)
        self.slots = [(self.buffer[i, :n].unbind(0), self.buffer[i, n:].split(BATCH)) for i in range(rows)]
        self.host = np.empty(tuple(self.buffer.shape))   # reused: a new array each copy costs page faults
        for m in linears:
            m.register_forward_hook(self._forward)

    def _forward(self, module, inputs, z):
        z.grad_fn.register_prehook(self._pre)

    def _pre(self, grads):
        self.grads.append(grads[0])
        if not self.queued:
            self.queued = True
            self.engine.queue_callback(self._end)

    def _end(self):
        torch = self.torch
        norm, (slots, segments) = torch.linalg.vector_norm, self.slots[self.row]
        with torch.no_grad():
            for p, slot in zip(self.params, slots):
                norm(p.grad, out=slot)
            for g, segment in zip(self.grads, segments):
                norm(g, dim=1, out=segment)
        self.grads, self.queued, self.row = [], False, self.row + 1
        if self.row == len(self.slots):
            np.copyto(self.host, self.buffer.numpy())
            self.host[:, len(self.params):].reshape(-1, BATCH).sort(axis=1)
            self.row = 0


def _loop(args, torch, nn) -> dict:
    try:
        from lightning.pytorch.utilities import grad_norm
    except ImportError:  # pragma: no cover
        grad_norm = None
    g = torch.Generator().manual_seed(1)
    batches = [(torch.randn(BATCH, SIZES[0], generator=g), torch.randint(0, 10, (BATCH,), generator=g))
               for _ in range(16)]
    loss_fn = nn.CrossEntropyLoss()
    variants = ["plain", "monitor", "monitor-k1", "monitor+bounds", "floor"] + (["grad_norm"] if grad_norm else [])
    if args.variants:
        variants = ["plain"] + [v for v in variants if v in args.variants and v != "plain"]
    times = {v: [] for v in variants}
    for round_ in range(args.rounds):
        runners = {v: _Runner(v, torch, nn, batches, loss_fn, grad_norm) for v in variants}
        for runner in runners.values():   # imports, γ of the sigmoid, a first copy, its one-off warning sentence
            runner.train(args.warm)
        turn = round_ % len(variants)
        best = {v: math.inf for v in variants}
        for _ in range(args.chunks):   # the instances take turns; each keeps its fastest chunk
            for v in variants[turn:] + variants[:turn]:
                best[v] = min(best[v], runners[v].train(args.chunk))
        for v in variants:
            times[v].append(best[v])
    ratios = {v: [t / p for t, p in zip(times[v], times["plain"])] for v in variants}
    return {"cpu_ms_per_step": {v: statistics.median(times[v]) * 1e3 for v in variants},
            "ratio_to_plain": {v: statistics.median(ratios[v]) for v in variants},
            "best_ratio_to_plain": {v: min(ratios[v]) for v in variants}}


def _lightning(args, torch, nn) -> dict | None:
    try:
        import lightning.pytorch as pl
        from lightning.pytorch.loggers import TensorBoardLogger
        from lightning.pytorch.utilities import grad_norm
    except ImportError:  # pragma: no cover
        return None
    import logging

    from gradmath.torch.lightning import GradientMonitorCallback

    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    g = torch.Generator().manual_seed(1)
    data = torch.utils.data.TensorDataset(torch.randn(BATCH * 16, SIZES[0], generator=g),
                                          torch.randint(0, 10, (BATCH * 16,), generator=g))

    class Module(pl.LightningModule):
        def __init__(self, log_grad_norm: bool):
            super().__init__()
            self.net, self.loss, self.log_grad_norm = _net(torch, nn), nn.CrossEntropyLoss(), log_grad_norm

        def training_step(self, batch, index):
            x, y = batch
            return self.loss(self.net(x), y)

        def on_before_optimizer_step(self, optimizer):
            if self.log_grad_norm:
                self.log_dict(grad_norm(self.net, norm_type=2))

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.05)

    def fit(variant: str, steps: int) -> float:
        callbacks = [GradientMonitorCallback(module="net", loss=nn.CrossEntropyLoss())] \
            if variant == "lightning+monitor" else []
        with tempfile.TemporaryDirectory() as folder:
            trainer = pl.Trainer(max_steps=steps, logger=TensorBoardLogger(folder), log_every_n_steps=1,
                                 enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                                 callbacks=callbacks, accelerator="cpu", devices=1)
            module = Module(variant == "lightning+grad_norm")
            loader = torch.utils.data.DataLoader(data, batch_size=BATCH)
            start = time.process_time()
            trainer.fit(module, loader)
            return (time.process_time() - start) / steps

    variants = ["lightning", "lightning+grad_norm", "lightning+monitor"]
    for v in variants:
        fit(v, 10)
    times = {v: [] for v in variants}
    for _ in range(args.lightning_repeats):
        for v in variants:
            times[v].append(fit(v, args.lightning_steps))
    best = {v: min(ts) for v, ts in times.items()}
    return {"steps": args.lightning_steps, "cpu_ms_per_step": {v: best[v] * 1e3 for v in variants},
            "ratio_to_plain": {v: best[v] / best["lightning"] for v in variants}}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=30, help="rounds, each with every variant built afresh")
    parser.add_argument("--chunks", type=int, default=3, help="timed chunks of each instance per round")
    parser.add_argument("--chunk", type=int, default=50, help="steps per variant and round")
    parser.add_argument("--warm", type=int, default=60, help="untimed steps of each variant first")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (0: PyTorch's default)")
    parser.add_argument("--lightning-steps", type=int, default=200, help="0 skips the Lightning setting")
    parser.add_argument("--lightning-repeats", type=int, default=3)
    parser.add_argument("--width", type=int, default=100,
                        help="hidden width of the four hidden layers (the goals are for 100)")
    parser.add_argument("--variants", type=lambda text: text.split(","), default=None,
                        help="comma-separated variants of the plain loop to run (plain always runs; default all)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    global SIZES
    SIZES = (SIZES[0],) + (args.width,) * (len(SIZES) - 2) + (SIZES[-1],)

    import torch
    from torch import nn

    if args.threads:
        torch.set_num_threads(args.threads)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        loop = _loop(args, torch, nn)
        lightning = _lightning(args, torch, nn) if args.lightning_steps > 0 else None
    ratios = loop["ratio_to_plain"]
    goals = {}
    if args.width == 100:   # the goals are stated for the MLP of width 100
        if "monitor" in ratios:
            goals["monitor <= 1.10"] = ratios["monitor"] <= 1.10
        if "monitor+bounds" in ratios:
            goals["monitor+bounds <= 1.25"] = ratios["monitor+bounds"] <= 1.25
    if "grad_norm" in ratios and "monitor" in ratios:
        goals["monitor <= grad_norm (loop)"] = ratios["monitor"] <= ratios["grad_norm"]
    if lightning is not None:
        lr = lightning["ratio_to_plain"]
        goals["monitor <= grad_norm (Lightning)"] = lr["lightning+monitor"] <= lr["lightning+grad_norm"]
    result = {"sizes": list(SIZES), "batch": BATCH, "rounds": args.rounds, "chunks": args.chunks, "chunk": args.chunk,
              "threads": torch.get_num_threads(), "loop": loop, "lightning": lightning, "goals": goals}
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"MLP {list(SIZES)}, batch {BATCH}, {torch.get_num_threads()} thread(s); plain loop: medians over "
          f"{args.rounds} rounds, every variant built afresh each round and timed by its best of {args.chunks} "
          f"chunks of {args.chunk} steps")
    for v, ms in loop["cpu_ms_per_step"].items():
        print(f"  {v:22s} {ms:7.3f} CPU ms/step   {ratios[v]:5.3f} x plain "
              f"(best round: {loop['best_ratio_to_plain'][v]:5.3f} x)")
    if lightning is not None:
        print(f"Lightning Trainer.fit, {lightning['steps']} steps, TensorBoardLogger, best of {args.lightning_repeats}")
        for v, ms in lightning["cpu_ms_per_step"].items():
            print(f"  {v:22s} {ms:7.3f} CPU ms/step   {lightning['ratio_to_plain'][v]:5.3f} x lightning")
    for goal, met in goals.items():
        print(f"  goal {goal}: {'met' if met else 'NOT met'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
