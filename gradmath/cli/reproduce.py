"""`gradmath reproduce`: regenerate every derived artifact."""

from __future__ import annotations

import argparse
from gradmath.cli._common import EXAMPLE_FORMATTER, add_output_options, emit, progress_bar

EXAMPLES = """examples:
  gradmath reproduce                       everything into docs/generated/
  gradmath reproduce --out /tmp/gm --steps gamma,window --json

With --steps, manifest.json keeps the entries of the other steps from earlier runs
(each whose file is unchanged) and adds this run's.
"""


def register(subparsers) -> None:
    """Add the ``reproduce`` subcommand."""
    from gradmath.reproduce import DEFAULT_OUT, STEPS

    p = subparsers.add_parser(
        "reproduce", help="regenerate every derivation, table and figure",
        description="Regenerate every derived artifact (byte-identical on rerun) with a manifest.",
        epilog=EXAMPLES, formatter_class=EXAMPLE_FORMATTER,
    )
    p.add_argument("--out", default=str(DEFAULT_OUT),
                   help=f"output folder, created if missing (default {DEFAULT_OUT}); files are written only "
                        "into real folders under it, never through a symbolic link")
    p.add_argument("--steps", default=None,
                   help="comma-separated subset of: " + ", ".join(name for name, _ in STEPS))
    add_output_options(p)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from gradmath.reproduce import STEPS, reproduce, resolve_steps

    steps = None if args.steps is None else [s.strip() for s in args.steps.split(",") if s.strip()]
    if steps == []:
        from gradmath.errors import InvalidParameterError

        raise InvalidParameterError(f"steps={args.steps!r} names no step; choose from "
                                    + ", ".join(name for name, _ in STEPS))
    total = len(resolve_steps(steps))
    with progress_bar(args, total=total, desc="reproduce", unit="step") as bar:
        started: list[str] = []

        def progress(message: str) -> None:
            if message in dict(STEPS):  # a new step: count the one before as done
                if started:
                    bar.update(1)
                started.append(message)
                bar.set_description(f"reproduce: {message}")
            else:  # a step's own finer message
                bar.set_postfix_str(message)
        result = reproduce(args.out, steps=steps, progress=progress)
        bar.update(total - bar.n)
    lines = [f"wrote {len(result.files)} files under {result.out}:"]
    lines += [f"  {p.relative_to(result.out)}" for p in result.files]
    emit(args, result.to_json(), "\n".join(lines))
    return 0
