"""The mean-field prediction at every (activation, σ_w², σ_b²) of a grid, vectorised, once per sweep.

:func:`gradmath.meanfield.phase.phase_diagram` computes q*, c*, χ₁ and χ_c on the whole (σ_w², σ_b²) grid of
each activation at once (what :func:`gradmath.meanfield.mean_field` gives point by point, tested there); the
engine adds them to each point as it is stored, so workers never compute them. NaN marks a prediction that
does not exist: no finite fixed point q* (phase "unbounded"), c* undefined at q* = 0, or an activation whose
mean-field integrals gradmath cannot evaluate (the reason is returned in ``notes``, and the
sweep's result and ``--json`` carry it).

>>> from gradmath.sweeps.grid import make_grid
>>> p, notes = predict_grid(make_grid(activation="tanh", sigma_w2="1.5,2.5", sigma_b2="0.05"))
>>> p["chi_1"].shape, [round(float(v), 4) for v in p["chi_1"][0, :, 0]], notes
((1, 2, 1), [0.9386, 1.1335], [])
"""

from __future__ import annotations

import numpy as np

from gradmath.errors import GradmathError
from gradmath.sweeps.grid import Grid

__all__ = ["predict_grid", "POINT_VARIABLES"]

#: What the prediction stores once per point.
POINT_VARIABLES = ("q_star", "c_star", "chi_1", "chi_c")


def predict_grid(grid: Grid) -> tuple[dict[str, np.ndarray], list[str]]:
    """``({name: array[activation, sigma_w2, sigma_b2]}, notes)`` for the names of :data:`POINT_VARIABLES`."""
    from gradmath.meanfield.phase import phase_diagram

    acts, ws, bs = (grid.axis(n).values for n in ("activation", "sigma_w2", "sigma_b2"))
    out = {name: np.full((len(acts), len(ws), len(bs)), np.nan) for name in POINT_VARIABLES}
    notes = []
    for i, name in enumerate(acts):
        try:
            d = phase_diagram(name, np.array(ws), np.array(bs))
        except GradmathError as err:
            notes.append(f"{name}: no mean-field prediction ({err})")
            continue
        for key in POINT_VARIABLES:
            out[key][i] = getattr(d, key)
    return out, notes
