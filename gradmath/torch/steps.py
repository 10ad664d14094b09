"""One step of a monitored training, from its forward pass to its row on the host.

A :class:`Step` is one backward pass; it gathers what the pass (and the forward pass it went back
through) leaves on the device: 0-d ``scalars``
(speeds, weight-gradient norms, dead units, weight norms) and 1-d ``vectors`` (per-example norms,
the bounds' prime parts), each with its key, (layer, quantity) and (layer, quantity, size), in the
order they were taken. When the step is complete its values are packed into the next row of a
device buffer (:func:`gradmath.torch.transfer.pack`) and the step keeps only the keys and where
its row lies. :func:`host_groups` takes pending steps to the host, one transfer per run of
consecutive rows of one buffer (one layout).
"""

from __future__ import annotations

__all__ = ["Step", "host_groups"]


class Step:
    """What one forward and backward pass left on the device, with the keys of its values
    (:class:`~gradmath.torch.transfer.HostLayout`)."""

    __slots__ = ("scalars", "scalar_keys", "vectors", "vector_keys", "got", "before", "done", "buffer", "row", "task")

    def __init__(self):
        self.scalars: list = []
        self.scalar_keys: list[tuple[int, str]] = []
        self.vectors: list = []
        self.vector_keys: list[tuple[int, str, int]] = []
        self.done = False
        self.task = -1                           # the autograd graph task of the backward pass
        self.got: dict = {}                      # the layers whose ∂C/∂zˡ the backward pass reached, in the order
        #                                          reached: ∂C/∂zˡ where its norms are taken when the pass ends, else None
        self.before = None                       # per parameter: (.grad, its version, a copy) set before the pass
        self.buffer, self.row = None, None       # where the step's values were packed (transfer.RowBuffer)

    def layout(self) -> tuple:
        return tuple(self.scalar_keys), tuple(self.vector_keys)


def host_groups(pending):
    """For pending ``(step number, Step)`` pairs, in order: (first Step, step numbers, host rows) per run of
    consecutive rows of one buffer; steps with nothing recorded are passed over."""
    head = pending[0][1] if pending else None
    if head is not None and head.row is not None and pending[-1][1].buffer is head.buffer \
            and pending[-1][1].row == head.row + len(pending) - 1:
        # all in one buffer, in consecutive rows (a buffer's rows are filled in order and a buffer is never
        # returned to once left, so the first and last steps say it of those between)
        yield head, [number for number, _ in pending], head.buffer.host(head.row, head.row + len(pending))
        return
    first = 0
    while first < len(pending):
        head = pending[first][1]
        end = first + 1
        if head.row is None:   # a step with nothing to record (or whose packing failed)
            first = end
            continue
        while end < len(pending) and pending[end][1].buffer is head.buffer \
                and pending[end][1].row == head.row + (end - first):
            end += 1
        yield head, [number for number, _ in pending[first:end]], head.buffer.host(head.row, head.row + end - first)
        first = end
