"""`gradmath counterexample`: a network on which bound (**) with ‖wʳ‖ in place of ‖(wʳ)ᵀ‖ fails."""

from __future__ import annotations

import argparse

from gradmath.cli._common import EXAMPLE_FORMATTER, add_output_options, emit, integer

EXAMPLES = """examples:
  gradmath counterexample --norm inf              a (1, 1, 4) sigmoid network, margin 4
  gradmath counterexample --norm 1 --width 10 --json

For p = 2 there is none: the spectral norms of A and Aᵀ agree.
"""


def register(subparsers) -> None:
    """Add the ``counterexample`` subcommand."""
    p = subparsers.add_parser(
        "counterexample", help="show bound (**) failing when ‖wʳ‖ is written for ‖(wʳ)ᵀ‖ (p = 1, ∞)",
        description="Build a small network on which the bound written with ‖wʳ‖_p instead of ‖(wʳ)ᵀ‖_p fails, "
                    "print by how much, and show the corrected bound holding on the same network.",
        epilog=EXAMPLES, formatter_class=EXAMPLE_FORMATTER,
    )
    p.add_argument("--norm", default="inf", help="1 or inf (default inf)")
    p.add_argument("--width", type=integer, default=4, help="m, the number of equal weights; the margin is m (default 4)")
    p.add_argument("--weight", default="1",
                   help="their value c, a decimal in [1e-100, 1e100] such as 0.5 or 1e-3 (default 1)")
    add_output_options(p)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from gradmath.counterexample import build_counterexample
    from gradmath.reports.verification import counterexample_text

    result = build_counterexample(args.norm, width=args.width, weight=args.weight)
    emit(args, result.to_json(), counterexample_text(result))
    return 0 if result.corrected_holds else 1
