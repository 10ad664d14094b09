"""Measured against predicted: the per-layer slope of ln‖δˡ‖ and the last layer's correlation, from a store.

Going back one layer multiplies a backward signal's squared length by χ₁ in a wide network at q*
(proofs/meanfield.md), so ln‖δˡ‖ rises by −½ ln χ₁ per layer towards the output. :func:`measured_slopes`
fits that slope by least squares to the mean over examples of ln‖δˡ‖ over the layers from half the depth to
the last hidden layer (the first half lets qˡ settle at q*; the output layer's δᴸ has the cost's statistics,
not the recursion's). The finite-width spread of ln‖δ‖ (Hanin 2018) shows as the spread over seeds.

>>> import numpy as np
>>> fit_slope(np.array([[0.0, 1.0, 2.0, 3.0, 9.0]]), 5)     # rows: points; last layer (the output) left out
array([1.])
"""

from __future__ import annotations

import numpy as np

__all__ = ["fit_slope", "measured_slopes", "predicted_slopes", "last_correlation"]


def fit_slope(log_delta: np.ndarray, depth: int) -> np.ndarray:
    """Least-squares slope per row of ``log_delta[..., layer]`` over layers depth//2 … depth − 2 (0-based)."""
    lo, hi = depth // 2, depth - 1
    if hi - lo < 2:
        lo = max(0, hi - 2)
    y = np.asarray(log_delta)[..., lo:hi]
    x = np.arange(lo, hi, dtype=np.float64)
    x = x - x.mean()
    return (y * x).sum(axis=-1) / (x * x).sum()


def measured_slopes(ds):
    """The fitted slope of the mean over examples of ln‖δˡ‖ at every stored point (an xarray DataArray)."""
    import xarray as xr

    mean = ds["log_delta"].mean("example")
    parts = []
    for d in ds["depth"].values:
        part = mean.sel(depth=[d])
        parts.append(xr.apply_ufunc(lambda a, depth=int(d): fit_slope(a, depth), part, input_core_dims=[["layer"]]))
    return xr.concat(parts, dim="depth").rename("slope")


def predicted_slopes(ds):
    """−½ ln χ₁ at every point (NaN where χ₁ is undefined)."""
    return (-0.5 * np.log(ds["chi_1"])).rename("predicted_slope")


def last_correlation(ds):
    """The measured correlation cᴸ at each point's last layer (its own depth)."""
    import xarray as xr

    parts = [ds["c"].sel(depth=[d]).isel(layer=int(d) - 1) for d in ds["depth"].values]
    return xr.concat(parts, dim="depth").rename("c_last")
