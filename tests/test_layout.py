"""Data flows one way: definitions → symbolic → numeric → verification → reports.

A module imports only from steps before its own. The derivations in ``gradmath/symbolic``
check themselves against :mod:`gradmath.finite_difference`, which sits with the
definitions, never against anything in ``gradmath/numeric`` or later.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "gradmath"
LATER_THAN_SYMBOLIC = ("gradmath.numeric", "gradmath.experiments", "gradmath.reports", "gradmath.reproduce",
                       "gradmath.cli")


def _imported_modules(path: Path) -> set[str]:
    """Every module named by an ``import`` or ``from … import`` anywhere in the file, functions included."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names |= {node.module} | {f"{node.module}.{alias.name}" for alias in node.names}
    return names


@pytest.mark.parametrize("path", sorted(PACKAGE.glob("symbolic/*.py")) + [PACKAGE / "finite_difference.py"],
                         ids=lambda p: p.relative_to(PACKAGE).as_posix())
def test_symbolic_imports_nothing_from_later_steps(path):
    later = sorted(name for name in _imported_modules(path)
                   if any(name == step or name.startswith(step + ".") for step in LATER_THAN_SYMBOLIC))
    assert not later, f"{path.relative_to(PACKAGE)} imports {later}, a step after symbolic/"
