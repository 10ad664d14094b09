"""Figures of a sweep: the measured phase diagram with the theory drawn over it, and measured against predicted slopes.

:func:`phase_figure`: for one activation, 1 − cᴸ (the measured correlation of two inputs' pre-activations at the
last layer, mean over seeds) on the (σ_w², σ_b²) grid: near 0 in the ordered phase, where inputs collapse
together, and large in the chaotic one. Over it the theoretical critical line χ₁ = 1
(:func:`gradmath.meanfield.critical_sigma_w2`) and the contour where the trainable depth 6ξ_c of
Schoenholz et al. equals the network's depth, from the stored χ_c (ξ_c = −1/ln χ_c) on the sweep's own grid.
:func:`slope_figure`: the fitted per-layer slope of ln‖δˡ‖ (:mod:`gradmath.sweeps.slopes`) at every
(activation, σ_w², σ_b²) against −½ ln χ₁, with the spread over seeds as error bars.
"""

from __future__ import annotations

import numpy as np

from gradmath.sweeps.slopes import last_correlation, measured_slopes, predicted_slopes

__all__ = ["phase_figure", "slope_figure"]


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def phase_figure(ds, activation: str, *, depth: int | None = None, width: int | None = None):
    """The measured order/chaos diagram of ``activation`` at one depth and width (default: the largest):
    1 − cᴸ on the left, the measured gradient depth scale 1/|2·slope| of ‖δˡ‖ on the right, with the theory
    (critical line, 6ξ_c = L) drawn over both."""
    from matplotlib.colors import LogNorm

    plt = _pyplot()
    depth = int(ds["depth"].values.max()) if depth is None else depth
    width = int(ds["width"].values.max()) if width is None else width
    at = dict(activation=activation, depth=depth, width=width)
    c = last_correlation(ds).sel(**at).mean("seed")
    slope = measured_slopes(ds).sel(**at).mean("seed")
    w, b = ds["sigma_w2"].values, ds["sigma_b2"].values
    fig, (left, right) = plt.subplots(1, 2, figsize=(11.0, 4.4), layout="constrained")
    one_minus_c = 1.0 - np.asarray(c.transpose("sigma_w2", "sigma_b2"))
    with np.errstate(divide="ignore"):
        scale = 1.0 / np.abs(2.0 * np.asarray(slope.transpose("sigma_w2", "sigma_b2")))
    scale = np.clip(scale, 0.1, 1e4)
    _colour(fig, left, w, b, one_minus_c, cmap="magma", norm=None,
            label=f"1 − cᴸ measured (L = {depth}, width {width})")
    _colour(fig, right, w, b, scale, cmap="viridis", norm=LogNorm(vmin=float(scale.min()), vmax=float(scale.max())),
            label="measured depth scale 1/|2 slope of ln‖δˡ‖| (layers)")
    for ax in (left, right):
        _theory(ds, ax, activation, w, b, depth, width)
        ax.set_xlim(float(w.min()), float(w.max()))
        ax.set_xlabel("σ_w²")
        ax.set_ylabel("σ_b²")
        ax.legend(loc="upper left", fontsize="small", facecolor="0.3", labelcolor="white")
    left.set_title(f"{activation}: measured order (dark) / chaos (bright)")
    right.set_title(f"{activation}: measured gradient depth scale")
    return fig


def _colour(fig, ax, w, b, values, *, cmap, norm, label) -> None:
    if b.size > 1 and w.size > 1:
        art = ax.pcolormesh(w, b, values.T, shading="nearest", cmap=cmap, norm=norm,
                            **({} if norm is not None else {"vmin": 0.0}))
    else:  # a single σ_b² (or σ_w²): points coloured by value
        W, B = np.meshgrid(w, b, indexing="ij")
        art = ax.scatter(W.ravel(), B.ravel(), c=values.ravel(), cmap=cmap, norm=norm, s=60,
                         **({} if norm is not None else {"vmin": 0.0}))
    fig.colorbar(art, ax=ax, label=label)


def _theory(ds, ax, activation, w, b, depth, width) -> None:
    """The critical line χ₁ = 1 and the contour 6ξ_c = L (from the stored χ_c) over ``ax``."""
    from gradmath.meanfield import critical_sigma_w2

    fine_b = np.linspace(float(b.min()), float(b.max()), 21) if b.size > 1 else b
    crit = [critical_sigma_w2(activation, float(x)) for x in fine_b]
    ax.plot([p.sigma_w2 if p.exists else np.nan for p in crit], fine_b, color="cyan", linewidth=2.0,
            marker="" if b.size > 1 else "|", markersize=20, label="critical line χ₁ = 1 (theory)")
    if b.size > 1 and w.size > 1:
        chi_c = np.asarray(ds["chi_c"].sel(activation=activation, depth=depth, width=width).isel(seed=0)
                           .transpose("sigma_w2", "sigma_b2"))
        with np.errstate(divide="ignore", invalid="ignore"):
            six = np.where(np.isfinite(chi_c) & (chi_c > 0), -6.0 / np.log(chi_c), np.nan)
        six = np.where(np.isfinite(six) | np.isnan(chi_c), six, 1e9)     # χ_c = 1: an infinite depth scale
        if np.nanmin(six) < depth < np.nanmax(six):
            ax.contour(w, b, six.T, levels=[depth], colors="white", linestyles="--")
        ax.plot([], [], color="white", linestyle="--", label=f"6ξ_c = {depth} (theory)")


def slope_figure(ds):
    """Measured slope of ln‖δˡ‖ per layer against −½ ln χ₁, one marker per (activation, σ_w², σ_b², depth, width)."""
    plt = _pyplot()
    measured = measured_slopes(ds)
    predicted = predicted_slopes(ds).isel(seed=0)
    mean, spread = measured.mean("seed"), measured.std("seed")
    fig, ax = plt.subplots(figsize=(5.2, 4.6), layout="constrained")
    for name in ds["activation"].values:
        x = np.asarray(predicted.sel(activation=name)).ravel()
        y = np.asarray(mean.sel(activation=name).transpose(*predicted.sel(activation=name).dims)).ravel()
        e = np.asarray(spread.sel(activation=name).transpose(*predicted.sel(activation=name).dims)).ravel()
        ax.errorbar(x, y, yerr=np.nan_to_num(e), fmt="o", markersize=4, capsize=2, label=str(name))
    finite = np.asarray(predicted).ravel()
    finite = finite[np.isfinite(finite)]
    if finite.size:
        lo, hi = float(finite.min()), float(finite.max())
        pad = 0.1 * max(hi - lo, 0.05)
        ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], color="0.5", linewidth=1.0, label="measured = predicted")
    ax.set_xlabel("predicted −½ ln χ₁ per layer")
    ax.set_ylabel("measured slope of ln‖δˡ‖ per layer")
    ax.set_title("gradient growth towards the output: measured vs mean field")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small")
    return fig
