"""Every test a proof names under "Checked by" exists, in the file the proof names."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PROOFS = sorted(p for p in (ROOT / "proofs").glob("*.md") if p.name != "README.md")


def _test_names(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {n.name for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}


@pytest.mark.parametrize("proof", PROOFS, ids=lambda p: p.name)
def test_checked_by_names_real_tests(proof):
    text = proof.read_text(encoding="utf-8")
    assert re.search(r"(?im)^#+\s*checked by", text), f"{proof.name} has no 'Checked by' section"
    section = re.split(r"(?im)^#+\s*checked by.*$", text, maxsplit=1)[1]
    current, named = None, 0
    for token in re.findall(r"`([^`]+)`", section):
        file_match = re.fullmatch(r"(tests/test_\w+\.py)(?:::(\w+))?", token)
        if file_match:
            current = ROOT / file_match.group(1)
            assert current.is_file(), f"{proof.name} names {token}, which does not exist"
            if file_match.group(2):
                assert file_match.group(2) in _test_names(current), f"{proof.name}: {token} not found"
                named += 1
        elif re.fullmatch(r"test_\w+", token) and current is not None:
            assert token in _test_names(current), f"{proof.name}: {token} not in {current.name}"
            named += 1
    assert named > 0, f"{proof.name} names no test"
