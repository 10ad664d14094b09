"""Sweeps at scale: grids of random networks measured layer by layer, on Dask, stored in Zarr, resumable.

A sweep is a grid over activation, σ_w², σ_b², depth, width and seed (:mod:`gradmath.sweeps.grid`, each axis
parsed by :mod:`gradmath.sweeps.axes`). Every point draws a random network and measures qˡ, cˡ and ‖δˡ‖
(:mod:`gradmath.sweeps.point`) beside the mean-field prediction (:mod:`gradmath.sweeps.prediction`); the engine
(:mod:`gradmath.sweeps.engine`) runs the points serially, on a Dask ``LocalCluster`` or on any Dask scheduler and
writes each into an xarray-readable Zarr store (:mod:`gradmath.sweeps.store`) as it finishes. A rerun resumes,
and the store is the same bit for bit whatever ran it. :mod:`gradmath.sweeps.figures` draws the measured phase
diagram and the measured against predicted slopes.
"""

from gradmath.sweeps.engine import SweepResult, run_sweep
from gradmath.sweeps.grid import Grid, make_grid

__all__ = ["Grid", "make_grid", "run_sweep", "SweepResult"]
