"""Every generated block in README.md and docs/ equals the file `gradmath reproduce` wrote."""

from __future__ import annotations

from pathlib import Path

import pytest

from gradmath.reports.embed import DOCUMENTS, embedded_blocks

ROOT = Path(__file__).resolve().parents[1]
GENERATED = ROOT / "docs" / "generated"
DOCS = sorted(p for pattern in DOCUMENTS for p in ROOT.glob(pattern))


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_generated_blocks_match_the_generated_files(doc):
    for block in embedded_blocks(doc.read_text(encoding="utf-8")):
        source = GENERATED / block.name
        assert source.is_file(), f"{doc.name} embeds {block.name}, which gradmath reproduce did not write"
        assert block.body == source.read_text(encoding="utf-8").strip("\n"), (
            f"{doc.name}: block {block.name} is stale; run gradmath reproduce, then python -m gradmath.reports.embed"
        )


def test_committed_generated_tables_are_what_reproduce_writes_now(tmp_path):
    # The Markdown that README.md and docs/ embed must be current: regenerate it and compare.
    from gradmath.reproduce import reproduce

    reproduce(tmp_path)
    fresh = {p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.md")}
    committed = {p.relative_to(GENERATED).as_posix() for p in GENERATED.rglob("*.md")}
    assert fresh == committed
    for name in sorted(fresh):
        assert (tmp_path / name).read_text(encoding="utf-8") == (GENERATED / name).read_text(encoding="utf-8"), (
            f"docs/generated/{name} is stale: run gradmath reproduce"
        )
