"""`gradmath reproduce` step: the γ = sup σ′ table of every built-in activation."""

from __future__ import annotations

from pathlib import Path

from gradmath.activations import BUILTIN_ACTIVATIONS, get_activation
from gradmath.reports.files import write_json, write_text

__all__ = ["gamma_rows", "gamma_markdown", "write_artifacts"]


def gamma_rows(names=BUILTIN_ACTIVATIONS) -> list[dict]:
    """One JSON row per activation: σ, σ′, γ (exact or certified) and its enclosure."""
    rows = []
    for name in names:
        act = get_activation(name)
        rows.append({**act.to_json(), **act.gamma.to_json()})
    return rows


def gamma_markdown(rows: list[dict]) -> str:
    """A Markdown table of :func:`gamma_rows`: γ = sup |σ′| (what the bounds use), sup σ′ and inf σ′.

    A σ′ proven unbounded shows γ = ∞; an estimate shows its enclosure, or, when σ′ is not
    proven bounded (``bounded`` None), its lower bound and "estimate, bound not proven".
    """
    lines = [
        "| activation | σ(x) | γ = sup \\|σ′\\| | value | attained at | sup σ′ | inf σ′ | method |",
        "|---|---|---|---|---|---|---|---|",
    ]
    notes = []
    for r in rows:
        r = {k: (v.replace("|", r"\|") if isinstance(v, str) else v) for k, v in r.items()}
        if r.get("bounded", True) is False:
            exact = "∞ (σ′ unbounded)"
        elif r.get("bounded", True) is None:
            exact = f"≥ {r['enclosure'][0]} (estimate, bound not proven)"
        elif r["gamma_latex"]:
            exact = f"${r['gamma_latex']}$"
        else:
            exact = f"∈ [{r['enclosure'][0]}, {r['enclosure'][1]}]".replace("oo", "∞")
        argmax = r["argmax"].replace("oo", "∞")
        where = argmax if r["attained"] else f"approached as x → {argmax}"
        if r.get("bounded", True) is None:
            where = f"largest sample near x = {argmax}"
        lines.append(
            f"| {r['name']} | ${r['expression_latex']}$ | {exact} | {r['gamma'][:18].replace('oo', '∞')} | {where} "
            f"| {_short(r.get('sup'))} | {_short(r.get('inf'))} | {r['method']} |"
        )
        if r.get("note"):
            notes.append(f"{r['name']}: {r['note']}")
    return "\n".join(lines + ([""] + notes if notes else []))


def _short(extremum: dict | None) -> str:
    if extremum is None:
        return ""
    if extremum["exact"] is not None and extremum["latex"] is not None and len(extremum["exact"]) <= 40:
        return f"${extremum['latex']}$"
    return extremum["value"][:12].replace("oo", "∞")


def write_artifacts(out: Path, progress=None) -> list[Path]:
    """Write ``gamma.json`` and ``gamma.md`` under ``out``."""
    rows = gamma_rows()
    return [write_json(out / "gamma.json", rows), write_text(out / "gamma.md", gamma_markdown(rows))]
