"""TensorBoard scalars through ``torch.utils.tensorboard``: one chart per quantity, every layer in it.

Each value goes in as the scalar ``<quantity>/layer <l>`` at its training step, and a custom
layout (the "Custom Scalars" tab) draws one multi-line chart per quantity, so a model of 50
layers gives a handful of charts, not 50 panels per parameter.

>>> import tempfile
>>> from gradmath.torch.records import Records
>>> with tempfile.TemporaryDirectory() as folder:
...     sink = TensorBoardSink(folder)
...     sink([(0, 2, "speed", 0.5), (0, 3, "speed", 1.5)])
...     sink.close()
...     sorted(read_scalars(folder))
['speed/layer 2', 'speed/layer 3']
"""

from __future__ import annotations

from gradmath.torch.records import Records

__all__ = ["TensorBoardSink", "write_records", "read_scalars", "tag"]

#: The quantities that get a chart in the custom layout, in this order (others are written too).
CHARTS = ("speed", "delta_norm_median", "delta_norm_max", "weight_grad_norm", "bound_a_estimate",
          "bound_b_estimate", "weight_norm_estimate", "dead_units", "nonfinite")


def tag(quantity: str, layer: int) -> str:
    """The scalar's tag: ``speed/layer 2``."""
    return f"{quantity}/layer {layer}"


class TensorBoardSink:
    """A monitor sink (``GradientMonitor(..., sinks=[TensorBoardSink(logdir)])``) writing the rows it is given.

    ``writer`` is a folder or an existing ``torch.utils.tensorboard.SummaryWriter`` (the sink
    then shares it and does not close it).
    """

    def __init__(self, writer, *, prefix: str = "gradmath"):
        from torch.utils.tensorboard import SummaryWriter

        self._own = not isinstance(writer, SummaryWriter)
        self.writer = SummaryWriter(str(writer)) if self._own else writer
        self.prefix = prefix
        self._layout = False

    def __call__(self, rows) -> None:
        if not self._layout:
            charts = {q: ["Multiline", [f"^{q}/layer "]] for q in CHARTS}
            self.writer.add_custom_scalars({self.prefix: charts})
            self._layout = True
        for step, layer, quantity, value in rows:
            self.writer.add_scalar(tag(quantity, layer), value, global_step=step)

    def close(self) -> None:
        self.writer.flush()
        if self._own:
            self.writer.close()


def write_records(records: Records, writer) -> None:
    """Write every row of ``records`` to TensorBoard (a folder or a ``SummaryWriter``)."""
    sink = TensorBoardSink(writer)
    sink(records.rows)
    sink.close()


def read_scalars(folder) -> dict[str, list[tuple[int, float]]]:
    """The scalars of the event files in ``folder``: tag → [(step, value)] (with TensorBoard's reader)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(folder), size_guidance={"scalars": 0})
    acc.Reload()
    return {name: [(e.step, e.value) for e in acc.Scalars(name)] for name in acc.Tags()["scalars"]}
