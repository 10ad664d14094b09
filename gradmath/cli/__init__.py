"""The ``gradmath`` command line: parsing, exit codes and printing only.

Each subcommand lives in its own module with a ``register(subparsers)``
function; everything it prints comes from result objects of the library.
Errors a user can cause (:class:`gradmath.errors.GradmathError`) become one line
on stderr and exit code 2; warnings (NumPy's floating-point ones, say) one line each.

>>> main(["gamma", "--activation", "sigmod"])   # prints one line on stderr
2
"""

from __future__ import annotations

import importlib
import sys
import warnings

from gradmath.cli._common import EXAMPLE_FORMATTER, OneLineParser
from gradmath.errors import GradmathError

__all__ = ["main", "build_parser"]

#: Subcommand modules, in the order ``--help`` lists them.
COMMANDS = ("derive", "window", "exploding", "identity", "verify", "counterexample", "speeds", "gamma", "meanfield",
            "reproduce")

_EPILOG = """examples:
  gradmath reproduce                      regenerate every artifact into docs/generated/
  gradmath derive chain --depth 4 --layer 1 --activation sigmoid --cost quadratic
  gradmath window --digits 50 --certify --json
"""


def build_parser() -> OneLineParser:
    """The top-level parser with every subcommand registered."""
    from gradmath import __version__

    parser = OneLineParser(
        prog="gradmath",
        description="The mathematics of unstable gradients in deep networks: derived, certified, checked.",
        epilog=_EPILOG,
        formatter_class=EXAMPLE_FORMATTER,
    )
    parser.add_argument("--version", action="version", version=f"gradmath {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=OneLineParser)
    for name in COMMANDS:
        importlib.import_module(f"gradmath.cli.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line on ``argv`` (default ``sys.argv[1:]``) and return the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # argparse: --help (0) or a usage error (2)
        return int(exit_.code or 0)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        with warnings.catch_warnings():  # restores showwarning afterwards
            warnings.showwarning = _one_line_warning(args.command)
            return int(handler(args) or 0)
    except GradmathError as err:
        print(f"gradmath {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("gradmath: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `gradmath ... | head`
        return 0


def _one_line_warning(command: str):
    """A ``warnings.showwarning`` that prints ``gradmath COMMAND: warning: MESSAGE`` (no source line)."""

    def show(message, category, filename, lineno, file=None, line=None):
        print(f"gradmath {command}: warning: {message}", file=sys.stderr if file is None else file)

    return show
