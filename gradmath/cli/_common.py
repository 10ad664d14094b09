"""Pieces shared by the subcommands: the parser class, output and progress."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

__all__ = ["OneLineParser", "add_output_options", "emit", "progress_bar", "EXAMPLE_FORMATTER", "integer"]

EXAMPLE_FORMATTER = argparse.RawDescriptionHelpFormatter


class OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one line (plus exit code 2)."""

    def error(self, message: str):  # noqa: D401 - argparse API
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def add_output_options(parser: argparse.ArgumentParser, *, formats: tuple[str, ...] = ()) -> None:
    """Add ``--json`` and ``--quiet`` (and ``--format`` when ``formats`` is given)."""
    parser.add_argument("--json", action="store_true", help="print exactly one JSON object on stdout")
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress or notes on stderr")
    if formats:
        parser.add_argument("--format", choices=formats, default=formats[0],
                            help=f"output format for people (default {formats[0]})")


def emit(args: argparse.Namespace, payload: dict[str, Any], text: str) -> None:
    """Print ``payload`` as JSON when ``--json`` was given, else ``text``.

    The JSON is strict: a NaN or infinity in ``payload`` raises ``ValueError`` (a bug: results
    carry non-finite values as ``null`` with a reason, or as strings), never an ``Infinity`` token.
    """
    if getattr(args, "json", False):
        json.dump(payload, sys.stdout, indent=2, sort_keys=False, default=str, allow_nan=False)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(text.rstrip("\n") + "\n")


def progress_bar(args: argparse.Namespace, *, total: int | None = None, desc: str = "", unit: str = "it"):
    """A tqdm progress bar on stderr; off under ``--quiet`` and when stderr is not a terminal.

    A disabled bar accepts every call and prints nothing (its count ``n`` stays 0).
    """
    from tqdm.auto import tqdm

    quiet = bool(getattr(args, "quiet", False))
    stderr = sys.stderr
    try:
        terminal = bool(stderr.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        terminal = False
    return tqdm(total=total, desc=desc, unit=unit, file=stderr, disable=quiet or not terminal, leave=False,
                dynamic_ncols=True)


def integer(text: str) -> int:
    """An argparse ``type`` for integers: ASCII digits only, at most 12 of them, shown short when refused.

    (``int`` takes '٣' and '５', and fails past 4,300 digits with a message that repeats them all.)
    """
    stripped = text.strip()
    digits = stripped[1:] if stripped[:1] in "+-" else stripped
    if not (digits.isascii() and digits.isdigit() and len(digits) <= 12):
        shown = repr(text) if len(text) <= 30 else repr(text[:20]) + f"... ({len(text)} characters)"
        raise argparse.ArgumentTypeError(f"{shown} is not an integer of at most 12 ASCII digits")
    return int(stripped)
