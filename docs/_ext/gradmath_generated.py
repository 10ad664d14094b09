"""Generated content in the site, by inclusion: what ``gradmath reproduce`` wrote into ``docs/generated/``.

A page of ``docs/`` holds each generated table as a block between ``<!-- generated: NAME -->`` and
``<!-- end generated -->`` (so the Markdown reads well on a code host; ``gradmath.reports.embed``
keeps it equal to the file). In the site the block is replaced by an ``include`` of
``docs/generated/NAME`` itself; a block that differs from its file (stale) or names a file that
does not exist is a warning naming the page and the line, so ``sphinx-build -W`` fails.

The page ``artifacts`` lists every generated file: the Markdown included, the LaTeX derivations
shown as source, the figures as images, the data as downloads.
"""

from __future__ import annotations

import re
from pathlib import Path

from sphinx.util import logging

logger = logging.getLogger(__name__)

_BLOCK = re.compile(r"(<!-- generated: (?P<name>[\w./-]+) -->\n)(?P<body>.*?)(\n?<!-- end generated -->)", re.S)
MARKER = "<!-- artifacts -->"


def include_blocks(text: str, page: Path, generated: Path) -> str:
    """Each generated block replaced by an include of its file; stale and missing files are warnings."""

    def repl(m: re.Match) -> str:
        name, line = m.group("name"), text[:m.start()].count("\n") + 1
        source = generated / name
        if not source.is_file():
            logger.warning(f"{page.name} embeds {name}, which docs/generated/ does not hold; run gradmath reproduce",
                           location=f"{page}:{line}")
            return m.group(0)
        if source.read_text(encoding="utf-8").strip("\n") != m.group("body").strip("\n"):
            logger.warning(f"{page.name}: the block {name} differs from docs/generated/{name} (stale); "
                           "run gradmath reproduce, then python -m gradmath.reports.embed", location=f"{page}:{line}")
        # One level down, so a generated file's own title does not become a second title of the page.
        return f"{m.group(1)}\n```{{include}} generated/{name}\n:heading-offset: 1\n```\n\n<!-- end generated -->"

    return _BLOCK.sub(repl, text)


def _slug(path: str) -> str:
    return "generated-" + re.sub(r"[^a-z0-9]+", "-", path.lower()).strip("-")


def artifacts_page(text: str, generated: Path) -> str:
    """Replace the marker with one section per generated file."""
    parts = []
    for path in sorted(p for p in generated.rglob("*") if p.is_file()):
        rel = path.relative_to(generated).as_posix()
        head = f"({_slug(rel)})=\n### `docs/generated/{rel}`\n"
        if path.suffix == ".md":
            continue  # a page of its own, in the table of contents below
        if path.suffix == ".tex":
            body = f"```{{literalinclude}} generated/{rel}\n:language: latex\n```"
        elif path.suffix == ".png":
            body = f"```{{image}} generated/{rel}\n:alt: {rel}\n```"
        else:
            body = f"{{download}}`{rel} <generated/{rel}>`"
        parts.append(f"{head}\n{body}\n")
    pages = sorted(p.relative_to(generated).with_suffix("").as_posix() for p in generated.rglob("*.md"))
    toc = "```{toctree}\n:maxdepth: 1\n:caption: Markdown\n\n" + "\n".join(f"generated/{p}" for p in pages) + "\n```\n"
    return text.replace(MARKER, toc + "\n## Other files\n\n" + "\n".join(parts))
