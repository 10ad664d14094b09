"""The monitor's three warnings, each once per condition and layer, with the measured value and the reason.

1. **vanishing**: the first layer's speed ‖∂C/∂b²‖ falls below ``vanishing_ratio`` times the
   last layer's ‖∂C/∂bᴸ‖; the message gives the ratio, what bound (a) allowed (γ_h^(L−2)∏‖(wʳ)ᵀ‖,
   when the bounds run) and, at the first step, the mean-field prediction χ₁^((L−2)/2).
2. **not finite**: a measured norm is NaN or infinite (a NaN in the batch, an overflow); the
   rows are kept, flagged with ``nonfinite``.
3. **dead units**: at least ``dead_fraction`` of a layer's units have σ′ = 0 for every example of
   the batch (ReLU units whose input is never positive), so their weights receive no gradient.

(This module is not called ``warnings``: that would hide the standard library's module from
any script run in this folder.)

>>> values = {(2, "speed"): 1e-4, (4, "speed"): 1.0}
>>> [key for key, _ in step_alerts(7, values, first=2, last=4, widths={}, vanishing_ratio=0.01, dead_fraction=0.5)]
[('vanishing', 2)]
"""

from __future__ import annotations

import math

import numpy as np

from gradmath.errors import GradmathError

__all__ = ["GradientWarning", "Alerts", "step_alerts", "meanfield_sentence"]


class GradientWarning(UserWarning):
    """A layer stopped learning, a norm is not finite, or a layer's units are dead."""


class Alerts:
    """What a monitor has warned of, and the check of the steps of one copy (all of them at once first).

    ``layers`` are the watched layers (:func:`~gradmath.torch.layers.watched_layers`), ``widths`` their
    numbers of units; ``hidden_activation`` names the chain's activation for the mean-field sentence
    (``None``: no sentence).
    """

    def __init__(self, layers, widths: dict, vanishing_ratio: float, dead_fraction: float,
                 hidden_activation: str | None = None):
        self.layers, self.widths = layers, widths
        self.first, self.last = layers[0].l, layers[-1].l
        self.vanishing_ratio, self.dead_fraction = vanishing_ratio, dead_fraction
        self.hidden_activation = hidden_activation
        self.warned: set = set()

    def candidates(self, columns: dict, values: np.ndarray) -> np.ndarray:
        """Per step (row of ``values``), whether a vanishing or dead-units condition not yet warned of may
        hold; ``columns`` maps (layer, quantity) to a column. A cheap filter before :meth:`check`."""
        maybe = np.zeros(values.shape[0], dtype=bool)
        first, last = (self.first, "speed"), (self.last, "speed")
        if first in columns and last in columns and ("vanishing", self.first) not in self.warned:
            maybe |= values[:, columns[first]] < self.vanishing_ratio * values[:, columns[last]]
        for (l, q), i in columns.items():
            if q == "dead_units" and ("dead", l) not in self.warned:
                maybe |= (values[:, i] > 0) & (values[:, i] >= self.dead_fraction * self.widths.get(l, 0))
        return maybe

    def check(self, step: int, values: dict) -> list[str]:
        """The messages of the conditions met at ``step`` that were not warned of before (now they are)."""
        first, last = self.first, self.last
        bound_ratio = None
        if (first, "bound_a_estimate") in values and (last, "bound_a_estimate") in values:
            a_first, a_last = values[(first, "bound_a_estimate")], values[(last, "bound_a_estimate")]
            bound_ratio = a_first / a_last if a_last > 0 else None
        meanfield = None
        if step == 0 and self.hidden_activation is not None and len(self.layers) >= 3:
            meanfield = lambda: meanfield_sentence(self.layers, self.hidden_activation)  # noqa: E731
        new = []
        for key, message in step_alerts(step, values, first=first, last=last, widths=self.widths,
                                        vanishing_ratio=self.vanishing_ratio, dead_fraction=self.dead_fraction,
                                        bound_ratio=bound_ratio, meanfield=meanfield):
            if key not in self.warned:
                self.warned.add(key)
                new.append(message)
        return new


def step_alerts(step: int, values: dict, *, first: int, last: int, widths: dict, vanishing_ratio: float,
                dead_fraction: float, bound_ratio: float | None = None, meanfield=None) -> list[tuple[tuple, str]]:
    """The conditions met at ``step``: a list of ((kind, layer), message).

    ``values`` maps (layer, quantity) to the step's host values; ``widths`` maps a layer to its
    number of units; ``bound_ratio`` is bound (a)'s allowance for layer ``first`` relative to
    ‖δᴸ‖ at this step; ``meanfield`` a callable giving a sentence on the mean-field prediction.
    """
    found = []
    for (layer, quantity), value in sorted(values.items()):
        if not math.isfinite(value):
            found.append((("nonfinite", layer), f"step {step}, layer {layer}: {quantity} is {value} (not finite); "
                          "a NaN or infinity in the batch, the loss or the weights, or an overflow; the rows of "
                          "this step are flagged 'nonfinite'"))
    for (layer, quantity), value in sorted(values.items()):
        width = widths.get(layer)
        if quantity == "dead_units" and width and value >= dead_fraction * width and value > 0:
            found.append((("dead", layer), f"step {step}, layer {layer}: {int(value)} of {width} units are dead "
                          "(σ′ = 0 for every example of the batch), so their weights and biases get no gradient; "
                          "lower the learning rate, use a leaky activation or a smaller negative bias"))
    s_first, s_last = values.get((first, "speed")), values.get((last, "speed"))
    if first != last and s_first is not None and s_last is not None and math.isfinite(s_first) \
            and math.isfinite(s_last) and s_last > 0 and s_first < vanishing_ratio * s_last:
        message = (f"step {step}, layer {first}: the first layer learns {s_first / s_last:.3g} times as fast as "
                   f"layer {last} (‖∂C/∂b^{first}‖ = {s_first:.3g}, ‖∂C/∂b^{last}‖ = {s_last:.3g}; warned below "
                   f"{vanishing_ratio:g}): a vanishing gradient")
        if bound_ratio is not None and math.isfinite(bound_ratio):
            message += (f"; bound (a) allowed ‖δ^{first}‖ up to {bound_ratio:.3g} × ‖δ^{last}‖ "
                        "(γ_h^(L−2)·∏‖(wʳ)ᵀ‖, weight norms estimated)")
        if meanfield is not None:
            sentence = meanfield()
            if sentence:
                message += "; " + sentence
        found.append((("vanishing", first), message))
    return found


def meanfield_sentence(layers, hidden_activation: str) -> str:
    """What mean-field theory predicts for the first/last speed ratio at initialisation (infinite width,
    i.i.d. weights), from the hidden layers' σ_w² and σ_b² now; empty where the theory gives nothing."""
    import torch

    from gradmath.meanfield import mean_field

    with torch.no_grad():
        hidden = layers[1:-1]
        sw2 = float(np.mean([w.shape[1] * float((w.double() ** 2).mean()) for w in
                             (layer.module.weight.detach() for layer in hidden)]))
        sb2 = float(np.mean([float((layer.module.bias.detach().double() ** 2).mean())
                             for layer in hidden if layer.module.bias is not None] or [0.0]))
    try:
        point = mean_field(hidden_activation, sw2, max(sb2, 0.0))
    except GradmathError:
        return ""
    depth = len(layers) - 1
    return (f"mean-field theory at initialisation (σ_w² ≈ {sw2:.3g}, σ_b² ≈ {sb2:.3g}, "
            f"{hidden_activation}) predicts a factor √χ₁ = {point.gradient_factor:.3g} per layer, "
            f"about {point.gradient_factor ** depth:.3g} over {depth} layers ({point.phase} phase)")
