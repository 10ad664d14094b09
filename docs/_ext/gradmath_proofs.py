"""The proofs in ``proofs/*.md`` as pages of the site, with numbered statements and links to their tests.

``proofs/`` stays plain Markdown that reads well on a code host. When the site is built, each
``proofs/NAME.md`` is read as the page ``proofs/NAME`` (a one-line stub is written under
``docs/proofs/`` so that Sphinx finds it) and rewritten on the way in:

- the ``## Statement`` section becomes a numbered ``prf:theorem`` labelled ``NAME``, a bold
  ``**Corollary (…).**`` or ``**Definition (…).**`` paragraph a block of that kind labelled
  ``NAME-corollary-1`` …, a heading ``## Lemma 3 (…)`` a lemma labelled ``NAME-lemma-3`` with its
  ``*Proof.*`` in a ``prf:proof``; the ``## Proof`` section a ``prf:proof``;
- "Theorem 5" in the text becomes a reference to the statement labelled ``NAME-theorem-5``;
- every test named under "Checked by" becomes a link to its source in the site (see
  ``gradmath_tests``); a test that does not exist is a warning naming the proof and the line,
  so ``sphinx-build -W`` fails;
- a backquoted ``gradmath SUBCOMMAND …`` becomes a link to that subcommand's help.
"""

from __future__ import annotations

import re
from pathlib import Path

from sphinx.util import logging

logger = logging.getLogger(__name__)

KINDS = ("theorem", "lemma", "corollary", "proposition", "definition")
STUB = "<!-- This page is rendered from proofs/{name}.md when the site is built; edit that file. -->\n"
_NUMBERED = re.compile(r"^##\s+(Theorem|Lemma|Corollary|Proposition|Definition)\s+(\d+)\s*(?:\((.*)\))?\s*$")
_BOLD_LEAD = re.compile(r"^\*\*(Theorem|Lemma|Corollary|Proposition|Definition)\s*(?:\((.*?)\))?\.\*\*\s*(.*)$")
_TOKEN = re.compile(r"`([^`]+)`")


def proof_files(root: Path) -> list[Path]:
    """The proofs, README excepted."""
    return sorted(p for p in (root / "proofs").glob("*.md") if p.name != "README.md")


def write_stubs(srcdir: Path, root: Path) -> None:
    """One stub page per proof under ``docs/proofs/`` (rewritten only when it changes), stale ones removed."""
    folder = srcdir / "proofs"
    folder.mkdir(exist_ok=True)
    wanted = {p.stem: STUB.format(name=p.stem) for p in proof_files(root)}
    wanted["index"] = STUB.format(name="README")
    for name, text in wanted.items():
        stub = folder / f"{name}.md"
        if not stub.is_file() or stub.read_text(encoding="utf-8") != text:
            stub.write_text(text, encoding="utf-8")
    for stub in folder.glob("*.md"):
        if stub.stem not in wanted:
            stub.unlink()


def _fence(kind: str, label: str, title: str, body: list[str]) -> list[str]:
    head = f"::::{{prf:{kind}}} {title}".rstrip()
    opts = [f":label: {label}"] if label else []
    return ["", head, *opts, "", *body, "::::", ""]


def _split_bold(body: list[str]) -> list[tuple[str | None, str, list[str]]]:
    """Split a section body at paragraphs that open with a bold **Kind (title).** lead."""
    parts: list[tuple[str | None, str, list[str]]] = [(None, "", [])]
    for i, line in enumerate(body):
        m = _BOLD_LEAD.match(line)
        if m and (i == 0 or not body[i - 1].strip()):
            parts.append((m.group(1).lower(), m.group(2) or "", [m.group(3)] if m.group(3) else []))
        else:
            parts[-1][2].append(line)
    return parts


def render_proof(text: str, name: str) -> tuple[str, list[str]]:
    """The MyST text of the page for ``proofs/NAME.md``, and the statement labels it defines."""
    lines = text.split("\n")
    sections: list[tuple[str, list[str]]] = [("", [])]
    for line in lines:
        if line.startswith("## "):
            sections.append((line, []))
        else:
            sections[-1][1].append(line)
    out: list[str] = []
    labels: list[str] = []
    counts: dict[str, int] = {}

    def block(kind: str, title: str, body: list[str], label: str | None = None) -> list[str]:
        if label is None:
            counts[kind] = counts.get(kind, 0) + 1
            label = name if kind == "theorem" and name not in labels else f"{name}-{kind}-{counts[kind]}"
        labels.append(label)
        return _fence(kind, label, title, body)

    for heading, body in sections:
        numbered = _NUMBERED.match(heading)
        title = heading[3:].strip()
        if numbered:
            kind, number, sub = numbered.group(1).lower(), numbered.group(2), numbered.group(3) or ""
            cut = next((i for i, b in enumerate(body) if b.startswith("*Proof.*")), len(body))
            out += block(kind, sub, body[:cut], label=f"{name}-{kind}-{number}")
            if cut < len(body):
                rest = [body[cut][len("*Proof.*"):].lstrip(), *body[cut + 1:]]
                out += _fence("proof", "", "", rest)
            continue
        if heading:
            out.append(heading)
        if title == "Proof":
            out += _fence("proof", "", "", body)
        elif title.lower().startswith("checked by"):
            out += body  # links are made by _link_tests
        else:
            for i, (kind, sub, part) in enumerate(_split_bold(body)):
                if kind is None and title == "Statement" and any(p.strip() for p in part):
                    out += block("theorem", "", part)
                elif kind is None:
                    out += part
                else:
                    out += block(kind, sub, part)
    return "\n".join(out), labels


def _refer_to_statements(text: str, name: str, labels: list[str]) -> str:
    """'Theorem 5' in prose → a reference to the statement labelled NAME-theorem-5 on this page."""

    def ref(m: re.Match) -> str:
        label = f"{name}-{m.group(1).lower()}-{m.group(2)}"
        return f"{{prf:ref}}`{label}`" if label in labels else m.group(0)

    kept = []
    for line in text.split("\n"):
        kept.append(line if line.startswith(("::::", "#")) else re.sub(
            r"\b(Theorem|Lemma|Corollary|Proposition|Definition) (\d+)\b", ref, line))
    return "\n".join(kept)


def _test_names(path: Path) -> set[str]:
    import ast

    return {n.name for n in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}


def link_tests(text: str, proof: Path, root: Path, found: set[str]) -> str:
    """Turn the backquoted tests of the "Checked by" section into links; warn on a test that does not exist."""
    match = re.search(r"(?im)^#+\s*checked by.*$", text)
    if not match:
        logger.warning(f"{proof.name} has no 'Checked by' section", location=f"{proof}:1")
        return text
    head, section = text[:match.end()], text[match.end():]
    original = re.search(r"(?im)^#+\s*checked by.*$", proof.read_text(encoding="utf-8"))
    offset_line = proof.read_text(encoding="utf-8")[:original.end()].count("\n") + 1 if original else 1
    current: Path | None = None
    names: dict[Path, set[str]] = {}

    def repl(m: re.Match) -> str:
        nonlocal current
        token = m.group(1)
        line = offset_line + section[:m.start()].count("\n")
        file_match = re.fullmatch(r"(tests/test_\w+\.py)(?:::(\w+))?", token)
        if file_match:
            current = root / file_match.group(1)
            if not current.is_file():
                logger.warning(f"{proof.name} names {file_match.group(1)}, which does not exist",
                               location=f"{proof}:{line}")
                current = None
                return m.group(0)
            found.add(file_match.group(1))
            func = file_match.group(2)
        elif re.fullmatch(r"test_\w+", token) and current is not None:
            func = token
        else:
            return m.group(0)
        if func and func not in names.setdefault(current, _test_names(current)):
            logger.warning(f"{proof.name} names {func}, which is not in {current.relative_to(root).as_posix()}",
                           location=f"{proof}:{line}")
            return m.group(0)
        target = current.relative_to(root).as_posix() + (f"::{func}" if func else "")
        return f"{{gradmath-test}}`{token} <{target}>`"

    return head + _TOKEN.sub(repl, section)


def link_commands(text: str, commands: set[str]) -> str:
    """A backquoted ``gradmath SUBCOMMAND …`` → a link to the subcommand's help on the command-line page."""

    def repl(m: re.Match) -> str:
        cmd = re.fullmatch(r"gradmath ([a-z]+)\b.*", m.group(1))
        if not cmd or cmd.group(1) not in commands or "<" in m.group(1):
            return m.group(0)
        return f"{{ref}}`{m.group(1)} <cli-{cmd.group(1)}>`"

    out, in_code = [], False
    for line in text.split("\n"):
        if line.lstrip().startswith("```"):
            in_code = not in_code
        out.append(line if in_code or line.startswith("    ") else _TOKEN.sub(repl, line))
    return "\n".join(out)


def fix_links(text: str) -> str:
    """Links between the two folders as the site lays them out; a bracket that only looks like a link is escaped."""
    text = re.sub(r"\]\(\.\./docs/([\w./#-]+)\)", r"](../\1)", text)

    def literal(m: re.Match) -> str:
        target = m.group(2)
        if re.search(r"[./#:]", target):
            return m.group(0)
        return "\\[" + m.group(1) + "\\](" + target + ")"

    return re.sub(r"\[([^\]\n]*)\]\(([^)\s]*)\)", literal, text)


def render_index(readme: str, names: list[str]) -> str:
    """proofs/README.md with a numbered table of contents: its own order first, then any proof it omits."""
    listed = [n for n in re.findall(r"\]\(([\w-]+)\.md\)", readme) if n in names]
    order = listed + [n for n in names if n not in listed]
    toc = ["", "```{toctree}", ":numbered: 1", ":hidden:", "", *order, "```", ""]
    return readme + "\n" + "\n".join(toc)
