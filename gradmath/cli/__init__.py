"""The ``gradmath`` command line: parsing, exit codes and printing only.

Each subcommand lives in its own module with a ``register(subparsers)``
function; everything it prints comes from result objects of the library.
Errors a user can cause (:class:`gradmath.errors.GradmathError`) become one line
on stderr and exit code 2; warnings (NumPy's floating-point ones, say) one line each.

Start-up stays cheap: this module and every ``register`` import no SymPy, SciPy or
NumPy (subcommands import them in their handlers), so ``--help`` and usage errors
are fast. Commands whose output is a function of their arguments alone
(:data:`CACHED_COMMANDS`) replay a stored result when the same query comes again
(:mod:`gradmath.cache`; ``--no-cache`` or ``GRADMATH_NO_CACHE=1`` turn that off).

>>> main(["gamma", "--activation", "sigmod"])   # prints one line on stderr
2
"""

from __future__ import annotations

import argparse
import importlib
import re
import sys
import warnings

from gradmath.cli._common import EXAMPLE_FORMATTER, OneLineParser
from gradmath.errors import GradmathError

__all__ = ["main", "build_parser"]

#: Subcommand modules, in the order ``--help`` lists them.
COMMANDS = ("derive", "window", "exploding", "identity", "verify", "counterexample", "speeds", "gamma", "meanfield",
            "sweep", "reproduce")

#: Commands that read nothing but their arguments and write nothing but stdout and stderr, so that what
#: they print can be replayed from :mod:`gradmath.cache`. A command that reads files or the clock, or
#: writes files, must not be listed.
CACHED_COMMANDS = frozenset({"derive", "window", "exploding", "identity", "counterexample", "gamma"})

#: An activation given by name (anything else is an expression, parsed before the cache is asked).
_NAME = re.compile(r"[a-z][a-z0-9_-]{0,63}")

_NO_CACHE_HELP = "neither read nor store this result in the cache (also GRADMATH_NO_CACHE=1)"

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
    parser.add_argument("--no-cache", action="store_true", default=argparse.SUPPRESS, help=_NO_CACHE_HELP)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=OneLineParser)
    for name in COMMANDS:
        importlib.import_module(f"gradmath.cli.{name}").register(sub)
    for name in sorted(CACHED_COMMANDS):
        for leaf in _leaf_parsers(sub.choices[name]):
            leaf.add_argument("--no-cache", action="store_true", default=argparse.SUPPRESS, help=_NO_CACHE_HELP)
    return parser


def _leaf_parsers(parser: argparse.ArgumentParser):
    """``parser`` itself, or the parsers of its own subcommands (``derive chain``, ``derive matrix``)."""
    children = [action.choices for action in parser._actions if isinstance(action, argparse._SubParsersAction)]
    if not children:
        yield parser
    for choices in children:
        for child in choices.values():
            yield from _leaf_parsers(child)


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
            cache, key = _cache_for(args)
            if key is None:
                return int(handler(args) or 0)
            return run_cached(cache, key, lambda: int(handler(args) or 0))
    except GradmathError as err:
        print(f"gradmath {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("gradmath: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `gradmath ... | head`
        return 0


def _cache_for(args: argparse.Namespace):
    """``(cache, key)`` for a command whose result may be replayed, else ``(None, None)``."""
    if args.command not in CACHED_COMMANDS or getattr(args, "no_cache", False):
        return None, None
    activations = sys.modules.get("gradmath.activations")  # in-process callers may have registered their own
    if activations is not None and (set(activations.activation_names()) - set(activations.BUILTIN_ACTIVATIONS)
                                    - {activations.LINEAR_ACTIVATION}):
        return None, None
    from gradmath.cache import default_cache, result_key

    try:
        cache = default_cache()
    except RuntimeError:  # no home folder to put it in
        return None, None
    if cache is None:
        return None, None
    arguments = {k: v for k, v in vars(args).items() if k not in ("handler", "no_cache")}
    spec = arguments.get("activation")
    if isinstance(spec, str) and not _NAME.fullmatch(spec.strip().lower()):
        # An expression goes through the parser before any lookup; if it refuses it, the command
        # runs uncached and reports the problem itself.
        from gradmath.expressions import parse_expression

        try:
            parse_expression(spec)
        except Exception:  # noqa: BLE001 - any refusal: leave it to the command
            return None, None
    arguments["stdout_isatty"], arguments["stderr_isatty"] = _isatty(sys.stdout), _isatty(sys.stderr)
    try:
        return cache, result_key(args.command, arguments)
    except (OSError, RuntimeError, ValueError, ImportError):  # an unreadable source file, say: run uncached
        return None, None


def run_cached(cache, key, compute) -> int:
    """Replay what a command printed under ``key``, or run ``compute()`` recording it and store it
    if it succeeded (exit 0), printed no progress bar (a carriage return) and nothing it called
    said :func:`gradmath.cache.uncacheable` (a time limit ran out, say)."""
    from gradmath.cache import start_recording, uncacheable_reason

    stored = cache.get(key)
    output = _stored_output(stored)
    if output is not None:
        streams = {1: sys.stdout, 2: sys.stderr}
        for fd, text in output:
            streams[fd].write(text)
        return 0
    record: list[list] = []
    out, err = _Recorder(sys.stdout, 1, record), _Recorder(sys.stderr, 2, record)
    start_recording()
    sys.stdout, sys.stderr = out, err
    try:
        code = compute()
    finally:
        sys.stdout, sys.stderr = out.stream, err.stream
    if (code == 0 and not (out.spoiled or err.spoiled) and uncacheable_reason() is None
            and not any("\r" in text for _, text in record)):
        cache.put(key, {"output": record})
    return code


def _stored_output(stored) -> list | None:
    """The recorded ``[[fd, text], ...]`` of a cache entry, or ``None`` if it is not well formed."""
    output = stored.get("output") if isinstance(stored, dict) else None
    if not isinstance(output, list):
        return None
    for item in output:
        if not (isinstance(item, list) and len(item) == 2 and item[0] in (1, 2) and isinstance(item[1], str)):
            return None
    return output


class _Recorder:
    """A text stream that passes writes through to ``stream`` and records them as ``[fd, text]``.

    Any use beyond ``write``, ``flush``, ``isatty``, ``encoding`` and ``errors`` (a ``buffer``
    or ``fileno``, whose writes it cannot see) marks the recording spoiled, so it is not stored.
    """

    def __init__(self, stream, fd: int, record: list):
        self.stream, self.fd, self.record, self.spoiled = stream, fd, record, False

    def write(self, text: str) -> int:
        if self.record and self.record[-1][0] == self.fd:
            self.record[-1][1] += text
        else:
            self.record.append([self.fd, text])
        return self.stream.write(text)

    def flush(self) -> None:
        self.stream.flush()

    def isatty(self) -> bool:
        return _isatty(self.stream)

    @property
    def encoding(self):
        return getattr(self.stream, "encoding", None)

    @property
    def errors(self):
        return getattr(self.stream, "errors", None)

    def __getattr__(self, name: str):
        self.spoiled = True
        return getattr(self.stream, name)


def _isatty(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


def _one_line_warning(command: str):
    """A ``warnings.showwarning`` that prints ``gradmath COMMAND: warning: MESSAGE`` (no source line)."""

    def show(message, category, filename, lineno, file=None, line=None):
        print(f"gradmath {command}: warning: {message}", file=sys.stderr if file is None else file)

    return show
