"""The examples in the docs and proofs run as doctests, as ``python -m doctest -o ELLIPSIS -o NORMALIZE_WHITESPACE``.

A Markdown code block must end its last expected output with a blank line before the closing
fence; otherwise doctest reads the fence as part of the expected output. That mistake is named
on its own, before the doctest runs, so its message says what to fix.
"""

from __future__ import annotations

import doctest
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# Every Markdown page of the site's sources (docs/proofs/ holds only stubs written by the site's build).
FILES = sorted([*(p for p in ROOT.glob("docs/**/*.md") if not p.relative_to(ROOT / "docs").parts[0].startswith(
    ("proofs", "_build"))), *ROOT.glob("proofs/*.md"), ROOT / "README.md"])
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def test_the_files_are_found():
    names = {p.relative_to(ROOT).as_posix() for p in FILES}
    assert {"README.md", "docs/activations.md", "docs/window.md", "docs/verifier.md",
            "proofs/chain-product.md"} <= names


def _fence_right_after_output(text: str) -> list[int]:
    """Line numbers of closing fences that directly follow a doctest's expected output."""
    lines, bad, block = text.split("\n"), [], None
    for i, line in enumerate(lines):
        if line.lstrip().startswith("```"):
            if block is None:
                block = i
                continue
            body = lines[block + 1:i]
            if any(b.lstrip().startswith(">>>") for b in body) and body and body[-1].strip() \
                    and not re.match(r"\s*(>>>|\.\.\.)", body[-1]):
                bad.append(i + 1)
            block = None
    return bad


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_doctests_in_docs_pass(path, monkeypatch):
    import gradmath.activations

    # A page may register an activation; that stays inside this test (the registry is put back after).
    monkeypatch.setattr(gradmath.activations, "_REGISTRY", dict(gradmath.activations._REGISTRY))
    text = path.read_text(encoding="utf-8")
    bad = _fence_right_after_output(text)
    assert not bad, f"{path.name}: a closing ``` right after expected output on lines {bad}; add a blank line"
    result = doctest.testfile(str(path), module_relative=False, optionflags=FLAGS, verbose=False,
                              encoding="utf-8")
    assert result.failed == 0, f"{path.name}: {result.failed} of {result.attempted} examples failed"
    if ">>> " in text:
        assert result.attempted > 0


def test_the_fence_check_finds_the_mistake():
    assert _fence_right_after_output("```python\n>>> 1 + 1\n2\n```\n") == [4]
    assert _fence_right_after_output("```python\n>>> 1 + 1\n2\n\n```\n") == []
    assert _fence_right_after_output("```python\n>>> x = 1\n```\n") == []
