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
    """A Markdown table of :func:`gamma_rows`."""
    lines = [
        "| activation | σ(x) | γ = sup σ′ | value | attained at | method |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        r = {k: (v.replace("|", r"\|") if isinstance(v, str) else v) for k, v in r.items()}
        exact = f"${r['gamma_latex']}$" if r["gamma_latex"] else f"∈ [{r['enclosure'][0]}, {r['enclosure'][1]}]"
        argmax = r["argmax"].replace("oo", "∞")
        where = argmax if r["attained"] else f"approached as x → {argmax}"
        lines.append(
            f"| {r['name']} | ${r['expression_latex']}$ | {exact} | {r['gamma'][:18]} | {where} | {r['method']} |"
        )
    return "\n".join(lines)


def write_artifacts(out: Path, progress=None) -> list[Path]:
    """Write ``gamma.json`` and ``gamma.md`` under ``out``."""
    rows = gamma_rows()
    return [write_json(out / "gamma.json", rows), write_text(out / "gamma.md", gamma_markdown(rows))]
