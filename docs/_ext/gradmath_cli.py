"""The command-line reference: the help of every subcommand, as ``gradmath.cli.build_parser()`` prints it.

The page ``cli`` holds the marker ``<!-- cli-reference -->``; when the site is built it is replaced by
one section per subcommand (label ``cli-NAME``) holding that subcommand's ``--help``, so the page
can never drift from the parser.
"""

from __future__ import annotations

import argparse
import os

MARKER = "<!-- cli-reference -->"


def subcommands() -> dict[str, argparse.ArgumentParser]:
    """The subcommands of ``gradmath``, in the parser's order."""
    from gradmath.cli import build_parser

    parser = build_parser()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return {"": parser, **dict(action.choices)}
    return {"": parser}


def _help(parser: argparse.ArgumentParser) -> str:
    saved = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "100"
    try:
        return parser.format_help()
    finally:
        if saved is None:
            os.environ.pop("COLUMNS", None)
        else:
            os.environ["COLUMNS"] = saved


def reference(text: str) -> str:
    """Replace the marker with the help of ``gradmath`` and of each subcommand."""
    parts = []
    for name, parser in subcommands().items():
        label, title = (f"cli-{name}", f"gradmath {name}") if name else ("cli-gradmath", "gradmath")
        parts.append(f"({label})=\n## `{title}`\n\n````text\n{_help(parser).rstrip()}\n````\n")
    return text.replace(MARKER, "\n".join(parts))
