"""`gradmath reproduce` step: the window table, the width-versus-|w| plot, derivations, exploding, identity.

Everything is written under ``out/window/`` from result objects; numbers are
decimal strings from mpmath or ``repr`` of floats, so reruns are byte-identical.

>>> row = window_row("softsign", digits=5)
>>> row["min_abs_w"], row["argmax_abs_w"], row["max_width"]
('1.0000', '4.0000', '0.50000')
"""

from __future__ import annotations

import math
from pathlib import Path

import mpmath
import numpy as np

from gradmath.activations import BUILTIN_ACTIVATIONS, get_activation
from gradmath.reports.files import save_figure, write_csv, write_json, write_text

__all__ = ["window_row", "window_rows", "window_markdown", "write_artifacts"]

_TABLE_DIGITS = 30
_CURVES = ("sigmoid", "tanh", "arctan", "softsign", "gelu", "silu")


def window_row(activation, *, digits: int = 15, certify: bool = False, abs_w: float | None = None) -> dict:
    """One activation's window: γ, min |w|, the width formula, its maximiser and maximum (strings).

    Raises
    ------
    InvalidParameterError
        For ``digits`` outside [1, 100000], or [1, 4000] with ``certify`` (checked first, whatever
        the activation); or an activation where the window does not apply (σ′ unbounded, γ = ∞, or
        not proven bounded), with the reason.
    """
    from gradmath.numeric.certify import certify_window_maximum, check_certify_digits
    from gradmath.numeric.optimise import maximise_window, window_width
    from gradmath.numeric.precision import check_digits, format_decimal, window_maximum
    from gradmath.symbolic.window import derive_window

    digits = check_certify_digits(digits) if certify else check_digits(digits)
    act = get_activation(activation)
    d = derive_window(act)
    d.require_applicable()  # σ′ unbounded: one line saying the window does not apply
    with mpmath.workdps(digits + 10):
        gamma = format_decimal(mpmath.mpf(d.gamma_value), min(digits, 30))
        min_w = format_decimal(mpmath.mpf(d.min_abs_w_value), min(digits, 30))
    row = {"activation": act.name, "gamma": gamma, "min_abs_w": min_w,
           "width": None if d.width is None else str(d.width),
           "width_latex": None if d.width is None else d.to_latex(), "method": d.method,
           "unbounded_from": None if d.unbounded_from is None else str(d.unbounded_from),
           "unbounded_inclusive": d.unbounded_inclusive}
    if not d.gamma_attained:
        row["gamma_attained"] = False  # at |w| = 1/γ exactly the window is empty
    if d.unbounded_from is not None:
        row.update(argmax_abs_w=None, max_width="inf",
                   reason=f"the window is unbounded for |w| {'≥' if d.unbounded_inclusive else '>'} "
                          f"{d.unbounded_from}: no maximum")
    elif d.width is None:  # bounded but no closed form: float64 only
        scipy = maximise_window(act)
        row.update(argmax_abs_w=repr(scipy.argmax_abs_w), max_width=repr(scipy.max_width),
                   maximum_method="scipy (float64; no closed form, so no more digits)",
                   scipy={"argmax_abs_w": repr(scipy.argmax_abs_w), "max_width": repr(scipy.max_width)})
        if certify:
            certify_window_maximum(act, digits=digits)  # raises: nothing to certify without a closed form
    else:
        precise = window_maximum(act, digits=digits)
        scipy = maximise_window(act)
        row.update(argmax_abs_w=precise.argmax_abs_w, max_width=precise.max_width, maximum_method=precise.method,
                   scipy={"argmax_abs_w": repr(scipy.argmax_abs_w), "max_width": repr(scipy.max_width)})
        if certify:
            c = certify_window_maximum(act, digits=digits)
            row.update(enclosure=list(c.enclosure), certificate=c.to_json())
    if abs_w is not None:
        row["at_abs_w"] = window_width(act, abs_w).to_json()
    return row


def window_rows(names=BUILTIN_ACTIVATIONS, *, digits: int = _TABLE_DIGITS) -> list[dict]:
    """The table rows for ``names``; certified wherever a maximum exists."""
    from gradmath.symbolic.window import derive_window

    return [window_row(name, digits=digits, certify=derive_window(name).unbounded_from is None and
                       derive_window(name).width is not None) for name in names]


def window_markdown(rows: list[dict]) -> str:
    """Nielsen's exercise answered: how wide can the window get, per activation."""
    lines = ["| activation | γ = sup \\|σ′\\| | min \\|w\\| = 1/γ | window width W(\\|w\\|) | argmax \\|w\\| | max width |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        parts = [f"${r['width_latex']}$" if r["width_latex"] else
                 {"numeric": "no closed form (measured)", "unbounded": ""}.get(r["method"], r["method"])]
        if r["unbounded_from"] is not None:
            op = "≥" if r["unbounded_inclusive"] else ">"
            parts.append(f"unbounded for \\|w\\| {op} {r['unbounded_from']}")
        formula = "; ".join(p for p in parts if p)
        argmax = r["argmax_abs_w"][:18] if r["argmax_abs_w"] else "—"
        top = r["max_width"][:18] if r["max_width"] != "inf" else "∞ (unbounded)"
        lines.append(f"| {r['activation']} | {r['gamma'][:12]} | {r['min_abs_w'][:12]} | {formula} | {argmax} | {top} |")
    return "\n".join(lines)


def _curves():
    from gradmath.numeric.optimise import window_width

    grid = np.round(np.geomspace(0.5, 64.0, 241), 12)
    header = ["abs_w", *_CURVES]
    rows = [[float(u), *(window_width(name, float(u)).width for name in _CURVES)] for u in grid]
    return header, rows


def _plot(header, rows, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    data = np.array(rows, dtype=float)
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for k, name in enumerate(header[1:], start=1):
        y = np.where(np.isfinite(data[:, k]), data[:, k], np.nan)
        ax.plot(data[:, 0], y, label=name)
    ax.set_xscale("log")
    ax.set_ylim(0, 1.15)  # GELU and SiLU grow without bound as |w| → 1; the bounded curves stay below 1
    ax.set_xlabel("|w|")
    ax.set_ylabel("width of {a : |wσ′(wa+b)| ≥ 1}")
    ax.set_title("Window width versus |w| (GELU, SiLU: unbounded from |w| = 1)")
    ax.legend()
    ax.grid(True, which="both", alpha=0.3)
    return save_figure(fig, path)


def write_artifacts(out: Path, progress=None) -> list[Path]:
    """Write the window table, plot and data, derivations, exploding and identity results under ``out/window``."""
    from gradmath.numeric.precision import window_maximum
    from gradmath.symbolic.exploding import bias_error_factor, exploding_chain, perturbed_chain
    from gradmath.symbolic.identity import check_identity_bound, derive_identity
    from gradmath.symbolic.window import derive_window, sigmoid_simplification, tanh_relation

    folder = Path(out) / "window"
    say = progress or (lambda message: None)
    files: list[Path] = []
    say("window: table")
    rows = window_rows()
    files += [write_json(folder / "table.json", rows), write_text(folder / "table.md", window_markdown(rows))]
    say("window: width curves")
    header, data = _curves()
    files.append(write_csv(folder / "width.csv", header,
                           ([("inf" if math.isinf(v) else v) for v in row] for row in data)))
    files.append(_plot(header, data, folder / "width.png"))
    say("window: derivations")
    simplification, relation = sigmoid_simplification(), tanh_relation()
    derivations = {"sigmoid_simplification": simplification.to_json(), "tanh_relation": relation.to_json(),
                   "activations": [derive_window(n).to_json() for n in BUILTIN_ACTIVATIONS]}
    files.append(write_json(folder / "derivations.json", derivations))
    files.append(write_text(folder / "derivations.md", _derivations_markdown(simplification, relation)))
    m = window_maximum("sigmoid", digits=1000)
    files.append(write_json(folder / "sigmoid-maximum-1000-digits.json", m.to_json()))
    files.append(write_text(folder / "maximum.md", _maximum_markdown(rows[0], m)))
    say("window: exploding and identity")
    exploding = {"chains": [exploding_chain(L).to_json() for L in (4, 100, 10**6)],
                 "bias_error_factor": bias_error_factor().to_json(),
                 "perturbed": [perturbed_chain(depth=30, bias_error=e).to_json()
                               for e in (0.0, 1e-12, 1e-9, 1e-6, 1e-3)]}
    files.append(write_json(folder / "exploding.json", exploding))
    files.append(write_text(folder / "exploding.md", _exploding_markdown(exploding)))
    identity = {"derivation": derive_identity().to_json(),
                "checks": [check_identity_bound(w).to_json() for w in (1e-3, 0.01, 0.1, 1.0, 3.0)]}
    files.append(write_json(folder / "identity.json", identity))
    files.append(write_text(folder / "identity.md", _identity_markdown(identity)))
    return files


def _derivations_markdown(simplification, relation) -> str:
    parts = ["## The sigmoid window, from SymPy's solution to eq. (123)", "", simplification.to_markdown(), "",
             "## tanh and the sigmoid", ""]
    parts += [f"- {s}: {'holds' if ok else 'FAILS'} (SymPy)" for s, ok in relation.checks]
    parts.append(f"- largest numeric difference at 50 digits: {relation.max_numeric_difference}")
    return "\n".join(parts)


def _maximum_markdown(row: dict, thousand) -> str:
    sig50 = window_row("sigmoid", digits=50, certify=True)
    lo, hi = sig50["enclosure"]
    return "\n".join([
        "| quantity | value |", "|---|---|",
        f"| SciPy (float64): argmax \\|w\\| | {row['scipy']['argmax_abs_w']} |",
        f"| SciPy (float64): max width | {row['scipy']['max_width']} |",
        f"| mpmath, 50 digits: argmax \\|w\\| | {sig50['argmax_abs_w']} |",
        f"| mpmath, 50 digits: max width | {sig50['max_width']} |",
        f"| certified: max width ∈ | [{lo}, {hi}] |",
        f"| certified: boxes evaluated | {sig50['certificate']['boxes']} |",
        f"| 1000 digits: last 20 digits of the max width | …{thousand.max_width[-20:]} |",
    ])


def _exploding_markdown(exploding: dict) -> str:
    lines = ["| depth L | factor w·σ′(0) | z_j = 0 (SymPy, first layers) | log10(∂C/∂b₁ ÷ ∂C/∂b_L) "
             "| float64 forward pass: layers, log10 |", "|---|---|---|---|---|"]
    for c in exploding["chains"]:
        lines.append(f"| {c['depth']} | {c['factor']} | {c['all_z_zero']} ({c['check_depth']}) | {c['log10_ratio']} | "
                     f"{c['numeric_depth']}: {float(c['numeric_log10']):.12g} |")
    f = exploding["bias_error_factor"]
    lines += ["", f"One layer with bias error ε: w·σ′(ε) = `{f['factor']}` = `{f['series']}`; "
              f"below 1 for |ε| > {f['breakeven_abs_error']}.", "",
              "| bias error ε (every layer) | log10(∂C/∂b₁ ÷ ∂C/∂b₃₀) |", "|---|---|"]
    lines += [f"| {float(p['bias_error']):g} | {float(p['log10_ratio']):.6g} |" for p in exploding["perturbed"]]
    return "\n".join(lines)


def _identity_markdown(identity: dict) -> str:
    d = identity["derivation"]
    lines = [f"b = `{d['bias']}`, w₂ = `{d['w2']}`, offset c = `{d['offset']}`, sup|σ‴| = {d['third_derivative_sup']}, "
             f"|R| ≤ `{d['bound_in_delta']}` ≤ `{d['bound']}`.", "",
             "| w₁ | max \\|R\\| on the grid (40 digits) | bound w₁²/96 | ratio | holds |", "|---|---|---|---|---|"]
    for c in identity["checks"]:
        err, bound = float(c["max_error"]), float(c["bound"])
        lines.append(f"| {float(c['w1']):g} | {err:.6g} | {bound:.6g} | {err / bound:.6f} | {c['holds']} |")
    return "\n".join(lines)
