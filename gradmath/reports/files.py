"""Deterministic writers for text, JSON, CSV and PNG artifacts."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

__all__ = ["write_text", "write_json", "write_csv", "save_figure"]


def write_text(path: Path, text: str) -> Path:
    """Write ``text`` with a final newline and Unix line ends."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text.rstrip("\n") + "\n", encoding="utf-8", newline="\n")
    return path


def write_json(path: Path, payload: Any) -> Path:
    """Write ``payload`` as indented JSON (keys in insertion order)."""
    return write_text(path, json.dumps(payload, indent=2, default=str, ensure_ascii=False))


def write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Path:
    """Write a CSV file with ``header`` then ``rows`` (floats as ``repr``)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([repr(v) if isinstance(v, float) else v for v in row])
    return write_text(path, buffer.getvalue())


def save_figure(fig, path: Path) -> Path:
    """Save a matplotlib figure as PNG without metadata that changes between runs."""
    import matplotlib.pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, metadata={"Software": None}, bbox_inches="tight")
    plt.close(fig)
    return path
