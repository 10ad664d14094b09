"""`gradmath reproduce` step: mean-field tables, the critical lines and the order/chaos phase diagrams.

Writes under ``meanfield/``: ``points.md``/``points.json`` (q*, c*, χ₁, χ_c and the depth scales at
chosen points), ``critical.md``/``critical.json`` (the critical σ_w² per σ_b²), and for tanh, erf and
sigmoid ``phase-NAME.csv`` (every grid point) and ``phase-NAME.png`` (ξ_c as a colour map with the
critical line, and the trainable-depth estimate 6ξ_c of Schoenholz et al. at σ_b² = 0.05).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gradmath.meanfield import critical_sigma_w2, mean_field
from gradmath.meanfield.phase import phase_diagram
from gradmath.reports.files import save_figure, write_csv, write_json, write_text

__all__ = ["write_artifacts", "POINTS", "DIAGRAMS"]

#: (activation, σ_w², σ_b²) of the points table.
POINTS = (("tanh", 1.5, 0.05), ("tanh", 2.5, 0.05), ("erf(x)", 1.5, 0.05), ("sigmoid", 1.0, 1.0),
          ("relu", 2.0, 0.0), ("relu", 1.0, 0.1), ("x", 0.5, 0.2), ("gelu", 1.0, 0.1))
#: Activation → (σ_w² grid, σ_b² grid) of its phase diagram (sigmoid's σ′ ≤ 1/4 puts its chaos beyond σ_w² = 16).
DIAGRAMS = {
    "tanh": (np.linspace(0.5, 4.0, 15), np.linspace(0.0, 0.5, 11)),
    "erf(x)": (np.linspace(0.5, 4.0, 15), np.linspace(0.0, 0.5, 11)),
    "sigmoid": (np.linspace(20.0, 240.0, 12), np.linspace(0.0, 2.0, 9)),
}
#: network2's initialisation: w ~ N(0, 1/n_in), b ~ N(0, 1), sigmoid.
NETWORK2 = ("sigmoid", 1.0, 1.0)
_CRITICAL_B = (0.0, 0.01, 0.05, 0.1, 0.3, 0.5)
_LINE_B = 0.05


def _slug(name: str) -> str:
    return "erf" if name == "erf(x)" else name


def write_artifacts(out: Path, progress=None) -> list[Path]:
    """Write the mean-field tables and figures under ``out / "meanfield"``."""
    folder = out / "meanfield"
    files = _write_points(folder) + _write_critical(folder)
    for name, (w, b) in DIAGRAMS.items():
        if progress is not None:
            progress(f"meanfield phase diagram: {name}")
        files += _write_diagram(folder, name, w, b)
    return files


def _fmt(value) -> str:
    return "∞" if value is None else f"{value:.6g}"


def _write_points(folder: Path) -> list[Path]:
    points = [mean_field(a, w, b) for a, w, b in POINTS]
    lines = ["Mean-field quantities (proofs/meanfield.md) at chosen points; ∞: a depth scale at criticality, "
             "—: undefined because q* = 0. √χ₁ is the typical factor ‖δˡ‖/‖δˡ⁺¹‖ per layer.", "",
             "| activation | σ_w² | σ_b² | q* | c* | χ₁ | √χ₁ | χ_c | ξ_q | ξ_c | ξ_∇ | phase | method |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|"]
    for p in points:
        c = "—" if p.c_star is None else f"{p.c_star:.6g}"
        chic = "—" if p.chi_c is None else f"{p.chi_c:.6g}"
        xiq = "—" if p.q_star == 0 else _fmt(p.xi_q)
        xic = "—" if p.chi_c is None else _fmt(p.xi_c)
        lines.append(f"| {p.activation} | {p.sigma_w2:g} | {p.sigma_b2:g} | {p.q_star:.6g} | {c} | {p.chi_1:.6g} "
                     f"| {p.gradient_factor:.6g} | {chic} | {xiq} | {xic} | {_fmt(p.xi_grad)} | {p.phase} "
                     f"| {p.method} |")
    n2 = mean_field(*NETWORK2)
    lines += ["", f"At network2's initialisation (sigmoid, σ_w² = 1, σ_b² = 1) a wide random network has "
                  f"√χ₁ = {n2.gradient_factor:.4g}: a gradient shrinks by a factor of about "
                  f"{1 / n2.gradient_factor:.3g} per layer going back (Nielsen's table, quoted, falls by about 5× "
                  "per layer)."]
    return [write_json(folder / "points.json", [p.to_json() for p in points]),
            write_text(folder / "points.md", "\n".join(lines))]


def _write_critical(folder: Path) -> list[Path]:
    rows = [critical_sigma_w2(a, b) for a in ("tanh", "erf(x)", "sigmoid", "relu") for b in _CRITICAL_B]
    lines = ["The critical σ_w² (χ₁ = 1) for each σ_b² (proofs/meanfield.md, Theorem 6); none: no σ_w² reaches "
             "χ₁ = 1 at a finite fixed point.", "",
             "| activation | " + " | ".join(f"σ_b² = {b:g}" for b in _CRITICAL_B) + " |",
             "|---|" + "---:|" * len(_CRITICAL_B)]
    for k in range(0, len(rows), len(_CRITICAL_B)):
        group = rows[k:k + len(_CRITICAL_B)]
        cells = [f"{c.sigma_w2:.10g}" if c.exists else "none" for c in group]
        lines.append(f"| {group[0].activation} | " + " | ".join(cells) + " |")
    return [write_json(folder / "critical.json", [c.to_json() for c in rows]),
            write_text(folder / "critical.md", "\n".join(lines))]


def _write_diagram(folder: Path, name: str, w: np.ndarray, b: np.ndarray) -> list[Path]:
    d = phase_diagram(name, w, b)
    fine_b = np.linspace(float(b[0]), float(b[-1]), 26)
    critical = [critical_sigma_w2(name, float(x)) for x in fine_b]
    line = phase_diagram(name, np.linspace(float(w[0]), float(w[-1]), 29), [_LINE_B])
    header = ["sigma_w2", "sigma_b2", "q_star", "c_star", "chi_1", "chi_c", "xi_c", "phase"]
    fig = _figure(d, fine_b, critical, line)
    slug = _slug(name)
    return [write_csv(folder / f"phase-{slug}.csv", header, d.rows()), save_figure(fig, folder / f"phase-{slug}.png")]


def _figure(d, fine_b, critical, line):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import LogNorm

    fig, (left, right) = plt.subplots(1, 2, figsize=(11.0, 4.2), layout="constrained")
    xi = np.where(np.isfinite(d.xi_c) & (d.xi_c > 0), d.xi_c, np.nan)
    mesh = left.pcolormesh(d.sigma_w2, d.sigma_b2, xi.T, shading="nearest", cmap="viridis",
                           norm=LogNorm(vmin=max(np.nanmin(xi), 0.1), vmax=max(np.nanmax(xi), 1.0)))
    fig.colorbar(mesh, ax=left, label="ξ_c (layers)")
    ws = [c.sigma_w2 if c.exists else np.nan for c in critical]
    left.plot(ws, fine_b, color="white", linewidth=2.0, label="critical line χ₁ = 1")
    left.set_xlim(d.sigma_w2[0], d.sigma_w2[-1])
    left.set_xlabel("σ_w²")
    left.set_ylabel("σ_b²")
    left.set_title(f"{d.activation}: ordered (left) / chaotic (right)")
    left.legend(loc="upper left", fontsize="small")
    depth = 6 * line.xi_c[:, 0]
    right.plot(line.sigma_w2, np.where(np.isfinite(depth) & (depth > 0), depth, np.nan), color="tab:red")
    right.set_yscale("log")
    right.set_xlabel("σ_w²")
    right.set_ylabel("6 ξ_c (layers)")
    right.set_title(f"trainable depth ≈ 6ξ_c at σ_b² = {_LINE_B:g} (Schoenholz et al.)")
    right.grid(True, which="major", alpha=0.3)
    return fig
