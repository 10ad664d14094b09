"""Keep generated tables in README.md and docs/ identical to the files `gradmath reproduce` wrote.

A Markdown file marks a generated block with two comments::

    <!-- generated: speeds/speeds.md -->
    ...contents of docs/generated/speeds/speeds.md...
    <!-- end generated -->

:func:`embedded_blocks` lists the blocks, :func:`refresh` rewrites them from the
generated folder; the tests check that every block equals its file, so no
number in the docs is typed by hand. Run ``python -m gradmath.reports.embed``
after ``gradmath reproduce`` to refresh them.

>>> text = "a\\n<!-- generated: gamma.md -->\\nold\\n<!-- end generated -->\\n"
>>> [(b.name, b.body) for b in embedded_blocks(text)]
[('gamma.md', 'old')]
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Block", "embedded_blocks", "refresh", "DOCUMENTS"]

_BLOCK = re.compile(r"(<!-- generated: (?P<name>[\w./-]+) -->\n)(?P<body>.*?)(\n?<!-- end generated -->)", re.S)

#: The documents that may hold generated blocks, relative to the repository root.
DOCUMENTS = ("README.md", "docs/*.md")


@dataclass(frozen=True)
class Block:
    """One generated block: the generated file's name (relative to the folder) and the text now there."""

    name: str
    body: str


def embedded_blocks(text: str) -> list[Block]:
    """The generated blocks of a Markdown text, in order."""
    return [Block(m.group("name"), m.group("body").strip("\n")) for m in _BLOCK.finditer(text)]


def refresh(root: Path, generated: Path) -> list[Path]:
    """Rewrite every generated block under ``root`` from ``generated``; return the files changed."""
    changed = []
    for pattern in DOCUMENTS:
        for doc in sorted(root.glob(pattern)):
            text = doc.read_text(encoding="utf-8")

            def fill(m: re.Match) -> str:
                body = (generated / m.group("name")).read_text(encoding="utf-8").strip("\n")
                return f"{m.group(1)}{body}\n<!-- end generated -->"

            new = _BLOCK.sub(fill, text)
            if new != text:
                doc.write_text(new, encoding="utf-8")
                changed.append(doc)
    return changed


if __name__ == "__main__":  # pragma: no cover - maintainer's tool
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(".")
    for path in refresh(root, root / "docs" / "generated"):
        print(f"refreshed {path}")
