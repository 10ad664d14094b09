"""`gradmath reproduce` step: the output of a few commands, for the README.

Each command runs through :func:`gradmath.cli.main` in this process, with
stdout captured; ``examples.md`` shows the command and what it printed, so the
README's examples are real output, regenerated with everything else.
"""

from __future__ import annotations

import contextlib
import io
import shlex
from pathlib import Path

from gradmath.errors import VerificationError
from gradmath.reports.files import write_text

__all__ = ["EXAMPLES", "run_example", "write_artifacts"]

#: (file name, command line) of each example.
EXAMPLES: tuple[tuple[str, str], ...] = (
    ("window.md", "gradmath window --digits 40 --certify"),
    ("exploding.md", "gradmath exploding --depth 10"),
    ("speeds.md", "gradmath speeds --data digits --sizes 64,30,30,30,10 --seeds 20 --quiet"),
    ("counterexample.md", "gradmath counterexample --norm inf"),
)


def run_example(command: str) -> str:
    """Run one ``gradmath ...`` command line in this process and return what it printed."""
    from gradmath.cli import main

    argv = shlex.split(command)[1:]
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(io.StringIO()):
        code = main(argv)
    if code != 0:
        raise VerificationError(f"example {command!r} exited with code {code}")
    return buffer.getvalue().rstrip("\n")


def write_artifacts(out: Path, progress=None) -> list[Path]:
    """Write ``examples/<name>.md`` for each of :data:`EXAMPLES`."""
    files = []
    for name, command in EXAMPLES:
        if progress is not None:
            progress(command)
        text = f"```console\n$ {command}\n{run_example(command)}\n```"
        files.append(write_text(out / "examples" / name, text))
    return files
