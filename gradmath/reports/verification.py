"""`gradmath reproduce` step: verification artifacts (not yet available in this version)."""

from __future__ import annotations

from pathlib import Path


def write_artifacts(out: Path, progress=None) -> list[Path]:
    """Write this step's artifacts under ``out`` and return their paths."""
    return []
