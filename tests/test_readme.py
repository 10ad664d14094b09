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
    pattern = re.search(r"sed -n '(.+)' README\.md", ci).group(1)
    # The sed pattern picks exactly the README's second command.
    regex = pattern[len("s/"):].split("/\\1/")[0].replace("\\(", "(").replace("\\)", ")").replace("\\$", "$")
    regex = regex.replace("\\.", ".").replace(".\\[", r"\.\[")
    matches = [c for c in _commands() if re.fullmatch(r'pip install -e "\.\[test\]".*', c)]
    assert matches and matches[0] == _commands()[1]
    assert "bash -c \"$cmd\"" in ci
