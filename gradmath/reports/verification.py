"""`gradmath reproduce` step: the bounds checked on a network trained on the embedded digits.

Trains scikit-learn's ``MLPClassifier`` (logistic hidden units, seeded) on the
1,797 digits, converts it with :func:`gradmath.formats.from_sklearn`, verifies it
with :func:`gradmath.bounds.verify_network` in the norms 2, 1 and ∞, and writes
``verification/verification.md`` (tables), ``verification/verification.json``
(the three reports), ``verification/tightness.png`` (tightness per layer) and
``verification/counterexample.md`` (the dual-norm counterexamples for p = ∞ and 1).

Also formats reports for people (:func:`verification_markdown`), for the CLI.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from gradmath.reports import SEED
from gradmath.reports.files import save_figure, write_json, write_text

__all__ = ["write_artifacts", "verification_markdown", "counterexample_text", "train_digits_mlp", "HIDDEN_LAYERS"]

#: Hidden layer widths of the trained digits network (sizes 64, 30, 30, 30, 10).
HIDDEN_LAYERS = (30, 30, 30)
_NORMS = ("2", "1", "inf")


def _fmt(value, spec: str = ".3g") -> str:
    return "—" if value is None or (isinstance(value, float) and not np.isfinite(value)) else format(value, spec)


def verification_markdown(report, *, title: str | None = None) -> str:
    """A Markdown table of one :class:`gradmath.bounds.VerificationReport`."""
    norm = {"2": "spectral (p = 2)", "1": "p = 1", "inf": "p = ∞"}[report.norm]
    lines = []
    if title:
        lines += [f"### {title}", ""]
    lines += [
        f"Norm: {norm}; examples: {report.examples}; violations: {report.violations}.",
        f"Note: {report.notation}. Bound (a) uses γ = {report.gamma_hidden:.6g} for each of the k Σ′"
        f" factors and the output factor {report.output_factor:.6g}"
        + (f" ({report.output_factor_source})" if report.output_factor_source else "")
        + "; bound (b) the example's own max|σ′|.",
        "Bound (c) (rank one): largest relative gap between ‖δaᵀ‖ and ‖δ‖·‖a‖_q "
        + (f"{report.rank_one_max_gap:.1e}." if report.rank_one_max_gap >= 1e-13 else "below 1e-13 (rounding)."),
        "",
        "| layer l (1 = input, L = output) | k (Σ′ factors in (a)) | max ‖δˡ‖ | median ‖δˡ‖ | log10 bound (a) | log10 bound (b) | tightness (a) | tightness (b) | violations |",
        "|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for layer in report.layers:
        lines.append(
            f"| {layer.l} | {layer.exponent} | {_fmt(layer.delta_max)} | {_fmt(layer.delta_median)} | "
            f"{_fmt(layer.log10_bound_gamma, '.3f')} | {_fmt(layer.log10_bound_data, '.3f')} | "
            f"{_fmt(layer.tightness_gamma)} | {_fmt(layer.tightness_data)} | {layer.violations} |"
        )
    return "\n".join(lines)


def counterexample_text(result) -> str:
    """The counterexample of :mod:`gradmath.counterexample` for people (used by the CLI and reproduce)."""
    from gradmath.norms import induced_norm

    p = "∞" if result.norm == "inf" else result.norm
    net = result.network
    w = net.weight(net.depth)
    lines = [
        f"Network {list(net.sizes)}: sigmoid units, cross-entropy cost; x = {result.x.ravel().tolist()}, "
        f"y = {result.y.ravel().tolist()} (layers in the proofs' notation: input layer 1, output layer L).",
        f"w{net.depth} = {w.tolist()}: ‖w{net.depth}‖_{p} = {induced_norm(w, result.norm):g}, "
        f"‖(w{net.depth})ᵀ‖_{p} = {induced_norm(w.T, result.norm):g}.",
        f"measured ‖δ^{result.layer}‖_{p}                  = {result.measured:.12g}",
        f"bound with ‖wʳ‖_{p} (uncorrected)     = {result.uncorrected_bound:.12g}   FAILS by a factor {result.margin:.12g}",
        f"bound with ‖(wʳ)ᵀ‖_{p} (corrected)    = {result.corrected_bound:.12g}   "
        + ("holds" if result.corrected_holds else "VIOLATED"),
    ]
    return "\n".join(lines)


def train_digits_mlp(*, seed: int = SEED, max_iter: int = 300):
    """The digits data set and a seeded ``MLPClassifier`` (logistic hidden units) fitted to it."""
    from sklearn.neural_network import MLPClassifier

    from gradmath.data import load_dataset

    data = load_dataset("digits")
    model = MLPClassifier(hidden_layer_sizes=HIDDEN_LAYERS, activation="logistic", solver="adam",
                          max_iter=max_iter, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning: a fixed budget keeps the run short and repeatable
        with np.errstate(all="ignore"):  # scikit-learn's own arithmetic
            model.fit(data.x, data.y)
    return data, model


def write_artifacts(out: Path, progress=None) -> list[Path]:
    """Write the verification tables, JSON and figure under ``out/verification``."""
    from gradmath.bounds import verify_network
    from gradmath.formats import from_sklearn

    folder = Path(out) / "verification"
    if progress is not None:
        progress("training the digits MLP")
    data, model = train_digits_mlp()
    net = from_sklearn(model)
    accuracy = float(model.score(data.x, data.y))
    reports = []
    for norm in _NORMS:
        if progress is not None:
            progress(f"verifying in norm {norm}")
        reports.append(verify_network(net, data.x, data.y, norm=norm))
    payload = {
        "network": net.to_json(),
        "training": {"model": "sklearn.neural_network.MLPClassifier", "hidden_layer_sizes": list(HIDDEN_LAYERS),
                     "activation": "logistic", "random_state": SEED, "data": "digits",
                     "training_accuracy": round(accuracy, 6)},
        "reports": [r.to_json() for r in reports],
    }
    md = [
        "# The induced-norm bounds on a trained digits network",
        "",
        f"Network {list(net.sizes)} ({net.hidden_activation} hidden units, {net.output_activation} output, "
        f"{net.cost} cost), trained by scikit-learn's MLPClassifier (random_state={SEED}) on the "
        f"{data.x.shape[0]} digits; training accuracy {accuracy:.4f}.",
        "",
    ]
    for r in reports:
        md += [verification_markdown(r, title=f"norm {r.norm}"), ""]
    files = [write_text(folder / "verification.md", "\n".join(md)), write_json(folder / "verification.json", payload)]
    from gradmath.counterexample import build_counterexample

    examples = [build_counterexample(norm, width=4) for norm in ("inf", "1")]
    text = ["Output of `gradmath counterexample --norm inf` and `--norm 1`:", ""]
    for result in examples:
        text += ["```text", counterexample_text(result), "```", ""]
    files.append(write_text(folder / "counterexample.md", "\n".join(text)))
    files.append(_plot(reports, folder / "tightness.png"))
    return files


def _plot(reports, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.6))
    for r, marker in zip(reports, "osd"):
        ls = [layer.l for layer in r.layers]
        for key, style in (("tightness_gamma", "-"), ("tightness_data", "--")):
            values = [getattr(layer, key) for layer in r.layers]
            kind = "(a) γ" if key == "tightness_gamma" else "(b) data"
            ax.plot(ls, [np.log10(v) if v else np.nan for v in values], style, marker=marker,
                    label=f"p = {'∞' if r.norm == 'inf' else r.norm}, {kind}")
    ax.set_xlabel("layer l (input layer 1)")
    ax.set_ylabel("log10 tightness (bound / max ‖δˡ‖)")
    ax.set_xticks([layer.l for layer in reports[0].layers])
    ax.axhline(0.0, color="black", lw=0.6)
    ax.legend(fontsize=7, ncol=2)
    ax.set_title("Bounds (a) and (b) on the trained digits network")
    return save_figure(fig, path)
