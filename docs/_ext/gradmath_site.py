"""The Sphinx extension behind gradmath's site: reads proofs/, docs/generated/ and the parser at build time.

Every page is rewritten as it is read (``source-read``), never in its file:

- ``proofs/NAME`` ← ``proofs/NAME.md`` (``gradmath_proofs``), ``proofs/index`` ← ``proofs/README.md``;
- a page of ``docs/`` has its generated blocks replaced by includes of ``docs/generated/``
  (``gradmath_generated``), links into ``../proofs/`` pointed at the proof pages, and backquoted
  ``gradmath SUBCOMMAND`` linked to the command-line reference (``gradmath_cli``);
- the test files become pages of their own (``gradmath_tests``) and MathJax 3 is copied next to
  the pages (``gradmath_mathjax``).
"""

from __future__ import annotations

import re
from pathlib import Path

import gradmath_cli
import gradmath_generated
import gradmath_proofs
import gradmath_tests
from sphinx.util import logging

logger = logging.getLogger(__name__)


def _builder_inited(app):
    root = Path(app.config.gradmath_root)
    gradmath_proofs.write_stubs(Path(app.srcdir), root)
    for name in app.config.gradmath_proof_generated:
        if not (root / "proofs" / f"{name}.md").is_file():
            logger.warning(f"gradmath_proof_generated names proofs/{name}.md, which does not exist",
                           location=str(Path(app.confdir) / "conf.py"))


def _docs_links(text: str) -> str:
    text = re.sub(r"\]\(\.\./proofs/README\.md\)", "](proofs/index.md)", text)
    text = text.replace("](generated/)", "](artifacts.md)")
    return re.sub(r"\]\(\.\./proofs/([\w-]+\.md(?:#[\w-]+)?)\)", r"](proofs/\1)", text)


def _cite(text: str, citations: dict[str, str]) -> str:
    """Author–year mentions (outside code) → citations of the bibliography."""
    if not citations:
        return text
    pattern = re.compile(r"\b(" + "|".join(re.escape(k) for k in sorted(citations, key=len, reverse=True)) + r")\b")
    out, in_code = [], False
    for line in text.split("\n"):
        if line.lstrip().startswith(("```", "````")):
            in_code = not in_code
        if in_code or line.startswith("    ") or line.startswith("::::") or line.startswith("#"):
            out.append(line)
            continue
        parts = re.split(r"(`[^`]*`)", line)
        out.append("".join(p if i % 2 else pattern.sub(lambda m: f"{{cite:t}}`{citations[m.group(1)]}`", p)
                           for i, p in enumerate(parts)))
    return "\n".join(out)


def _reproduced(name: str, files: list[str], srcdir: Path, proof: Path) -> str:
    """The section that includes what `gradmath reproduce` writes for this proof."""
    if not files:
        return ""
    parts = ["", "## What `gradmath reproduce` writes for it", "",
             "Regenerated, byte for byte, by {ref}`gradmath reproduce <cli-reproduce>`:", ""]
    for rel in files:
        if not (srcdir / "generated" / rel).is_file():
            logger.warning(f"gradmath_proof_generated names generated/{rel} for {proof.name}, which does not exist",
                           location=f"{proof}:1")
            continue
        parts += [f"From [`docs/generated/{rel}`](../generated/{rel}):", "",
                  f"```{{include}} ../generated/{rel}", ":heading-offset: 2", "```", ""]
    return "\n".join(parts)


def _guide_pages(text: str, srcdir: Path) -> str:
    """A page of docs/ that no table of contents of the index names goes into the Guide's, at its end."""
    listed = set(re.findall(r"(?m)^([\w/.-]+)$", text))
    missing = sorted(p.stem for p in srcdir.glob("*.md") if p.stem != "index" and p.stem not in listed)
    if not missing:
        return text
    head, sep, rest = text.partition(":caption: Guide\n")
    if not sep:
        return text
    body, fence, tail = rest.partition("```")
    return head + sep + body.rstrip("\n") + "\n" + "\n".join(missing) + "\n" + fence + tail


def _source_read(app, docname, source):
    root, srcdir = Path(app.config.gradmath_root), Path(app.srcdir)
    if docname == "index":
        source[0] = _guide_pages(source[0], srcdir)
    commands = set(gradmath_cli.subcommands()) - {""}
    if docname == "proofs/index":
        readme = root / "proofs" / "README.md"
        app.env.note_dependency(str(readme))
        names = [p.stem for p in gradmath_proofs.proof_files(root)]
        source[0] = gradmath_proofs.render_index(readme.read_text(encoding="utf-8"), names)
    elif docname.startswith("proofs/"):
        proof = root / "proofs" / f"{docname.split('/', 1)[1]}.md"
        app.env.note_dependency(str(proof))
        name = proof.stem
        text, labels = gradmath_proofs.render_proof(proof.read_text(encoding="utf-8"), name)
        text = gradmath_proofs._refer_to_statements(text, name, labels)
        found: set[str] = set()
        text = gradmath_proofs.link_tests(text, proof, root, found)
        for test in found:
            app.env.note_dependency(str(root / test))
        text = gradmath_proofs.link_commands(text, commands)
        text = _cite(gradmath_proofs.fix_links(text), app.config.gradmath_citations)
        source[0] = text + _reproduced(name, app.config.gradmath_proof_generated.get(name, []), srcdir, proof)
    elif docname.startswith("generated/"):
        rel = docname.split("/", 1)[1]
        if not source[0].lstrip().startswith("# "):
            source[0] = f"# `docs/generated/{rel}.md`\n\n" + source[0]
    else:
        page = Path(app.env.doc2path(docname))
        text = gradmath_generated.include_blocks(source[0], page, srcdir / "generated")
        text = gradmath_proofs.link_commands(_docs_links(text), commands)
        text = _cite(text, app.config.gradmath_citations)
        if gradmath_cli.MARKER in text:
            text = gradmath_cli.reference(text)
        if gradmath_generated.MARKER in text:
            text = gradmath_generated.artifacts_page(text, srcdir / "generated")
        source[0] = text


def _outdated(app, env, added, changed, removed):
    """A page added or removed changes the tables of contents that are made when the index pages are read."""
    again = []
    if any(d.startswith("proofs/") for d in added | removed):
        again.append("proofs/index")
    if any("/" not in d for d in added | removed):
        again.append("index")
    return again


def setup(app):
    app.add_config_value("gradmath_proof_generated", {}, "env")
    app.add_config_value("gradmath_citations", {}, "env")
    app.add_config_value("gradmath_root", str(Path(__file__).resolve().parents[2]), "env")
    app.add_role("gradmath-test", gradmath_tests.test_role)
    app.connect("builder-inited", _builder_inited)
    app.connect("source-read", _source_read)
    app.connect("env-get-outdated", _outdated)
    app.connect("html-collect-pages", gradmath_tests.collect_pages)
    app.setup_extension("gradmath_mathjax")
    app.setup_extension("gradmath_api")
    return {"parallel_read_safe": True, "parallel_write_safe": True}
