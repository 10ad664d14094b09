"""Measured slopes of ln‖δˡ‖ and the settled qˡ from a sweep's store against the mean-field predictions.

The tolerance follows tests/test_meanfield_networks.py: finite width makes each network's slope fluctuate
(ln‖δ‖ accumulates a spread of order Σ 1/n_r, Hanin 2018), so each point is measured on 6 seeds and the mean
over seeds must lie within 5 standard errors of the prediction (the standard error measured from the seeds
themselves; 5 SE leaves a two-sided chance below 10⁻³ even with 6 seeds' t-tails), plus the O(1/n) bias of a
finite layer: 1/n for the slope, 4q*/n for q.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from gradmath.meanfield import mean_field
from gradmath.sweeps import make_grid, run_sweep
from gradmath.sweeps.slopes import fit_slope, measured_slopes, predicted_slopes

WIDTH, DEPTH, SEEDS = 300, 24, 6


def test_fit_slope_is_least_squares_over_the_second_half_without_the_output_layer():
    layers = np.arange(10.0)
    rows = np.vstack([0.3 * layers + 1.0, -0.2 * layers])
    rows[:, -1] = 99.0                       # the output layer: left out
    rows[:, :5] = -50.0                      # the first half: left out
    rows[0, :5] = 0.0
    assert np.allclose(fit_slope(rows, 10), [0.3, -0.2], rtol=0, atol=1e-12)


def test_measured_slopes_and_q_agree_with_mean_field_within_the_finite_width_spread(tmp_path):
    grid = make_grid(activation="tanh,erf(x)", sigma_w2="1.2,2.2", sigma_b2="0.05", depth=str(DEPTH),
                     width=str(WIDTH), seeds=SEEDS, batch=4)
    run_sweep(grid, tmp_path / "s.zarr", engine="serial")
    ds = xr.open_zarr(tmp_path / "s.zarr").load()
    slopes = measured_slopes(ds)
    predicted = predicted_slopes(ds)
    for act in ds["activation"].values:
        for w in ds["sigma_w2"].values:
            at = dict(activation=act, sigma_w2=w, sigma_b2=0.05, depth=DEPTH, width=WIDTH)
            s = slopes.sel(**at).values
            mean, se = s.mean(), s.std(ddof=1) / np.sqrt(s.size)
            expected = float(predicted.sel(**at).values[0])
            # the prediction in the store is the mean-field theory's (checked against mean_field here)
            assert np.isclose(expected, -0.5 * np.log(mean_field(str(act), float(w), 0.05).chi_1), rtol=1e-3)
            assert abs(mean - expected) <= 5 * se + 1.0 / WIDTH, (act, w, mean, se, expected)
            # qˡ over the second half of the layers has settled at q*
            q = ds["q"].sel(**at).values[:, DEPTH // 2:DEPTH]
            q_star = float(ds["q_star"].sel(**at).values[0])
            qm = q.mean(axis=1)
            q_mean, q_se = qm.mean(), qm.std(ddof=1) / np.sqrt(qm.size)
            assert abs(q_mean - q_star) <= 5 * q_se + 4 * q_star / WIDTH, (act, w, q_mean, q_se, q_star)
    # and the two phases are told apart: gradients shrink going back in the ordered phase, grow in the chaotic
    assert (slopes.sel(sigma_w2=1.2).mean("seed") > 0).all() and (slopes.sel(sigma_w2=2.2).mean("seed") < 0).all()
