"""The README opens with the two set-up commands, and CI runs the second one as written."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _commands():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return re.findall(r"^    \$ (.+)$", text, flags=re.MULTILINE)


def test_readme_opens_with_the_two_setup_commands():
    first, second = _commands()[:2]
    assert first.startswith("pip install") and first.endswith("gradmath reproduce")
    assert second.startswith('pip install -e ".[test]"') and "pytest" in second


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    # .ci/run extracts the first README command starting with pip install -e ".[test]" and runs it.
    assert """sed -n 's/^    \\$ \\(pip install -e "\\.\\[test\\]".*\\)$/\\1/p' README.md""" in ci
    assert 'bash -c "$cmd"' in ci
    selected = [c for c in _commands() if c.startswith('pip install -e ".[test]"')]
    assert selected[0] == _commands()[1]


def test_readme_python_examples_run():
    import doctest

    result = doctest.testfile(str(ROOT / "README.md"), module_relative=False,
                              optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted >= 8
    assert result.failed == 0
