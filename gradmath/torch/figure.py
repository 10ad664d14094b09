"""Speed of learning per layer over training, like Nielsen's chapter 5 figures, from any record.

>>> from gradmath.torch.records import Records
>>> r = Records([(s, l, "speed", 10.0 ** (l - 4) / (1 + s)) for s in range(5) for l in (2, 3, 4)])
>>> fig = speeds_figure(r)
>>> [line.get_label() for line in fig.axes[0].get_lines()]
['layer 2 (hidden 1)', 'layer 3 (hidden 2)', 'layer 4 (output)']
"""

from __future__ import annotations

import math

from gradmath.errors import DataError
from gradmath.torch.records import Records

__all__ = ["speeds_figure"]


def speeds_figure(records: Records, *, quantity: str = "speed", title: str | None = None):
    """A matplotlib figure of ``quantity`` (default the speed ‖∂C/∂bˡ‖) per layer against the step, log scale.

    Layers are labelled as the verifier numbers them (l = 2 is the first hidden layer; the
    last is the output). Non-finite values are left out of the lines (the record flags them).
    """
    from matplotlib.figure import Figure  # no pyplot: the caller's backend and figures stay as they are

    series = records.series(quantity)
    if not series:
        raise DataError(f"the record holds no {quantity!r} rows (quantities: "
                        f"{', '.join(sorted({row[2] for row in records.rows})) or 'none'})")
    last = max(series)
    fig = Figure(figsize=(7, 4.2))
    ax = fig.add_subplot()
    for layer, (steps, values) in series.items():
        points = [(s, v) for s, v in zip(steps, values) if math.isfinite(v) and v > 0]
        label = f"layer {layer} ({'output' if layer == last else f'hidden {layer - 1}'})"
        ax.plot([s for s, _ in points], [v for _, v in points], label=label, linewidth=1.2)
    ax.set_yscale("log")
    ax.set_xlabel("training step")
    ax.set_ylabel("‖∂C/∂bˡ‖" if quantity == "speed" else quantity)
    ax.set_title(title or f"{'speed of learning' if quantity == 'speed' else quantity} per layer")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
