"""`gradmath counterexample`: a network on which bound (**) with ‖wʳ‖ in place of ‖(wʳ)ᵀ‖ fails."""

from __future__ import annotations

import argparse

from gradmath.cli._common import EXAMPLE_FORMATTER, add_output_options, emit

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
    p.add_argument("--width", type=int, default=4, help="m, the number of equal weights; the margin is m (default 4)")
    p.add_argument("--weight", type=float, default=1.0, help="their value c > 0 (default 1)")
    add_output_options(p)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from gradmath.counterexample import build_counterexample

    result = build_counterexample(args.norm, width=args.width, weight=args.weight)
    p = "∞" if result.norm == "inf" else result.norm
    net = result.network
    lines = [
        f"Network {list(net.sizes)}: sigmoid units, cross-entropy cost; x = {result.x.ravel().tolist()}, "
        f"y = {result.y.ravel().tolist()} (layers in the proofs' notation: input layer 1, output layer L).",
        f"w{net.depth} = {net.weight(net.depth).tolist()}: ‖w{net.depth}‖_{p} = "
        f"{_norm(net.weight(net.depth), result.norm):g}, ‖(w{net.depth})ᵀ‖_{p} = "
        f"{_norm(net.weight(net.depth).T, result.norm):g}.",
        f"measured ‖δ^{result.layer}‖_{p}                  = {result.measured:.12g}",
        f"bound with ‖wʳ‖_{p} (uncorrected)     = {result.uncorrected_bound:.12g}   FAILS by a factor {result.margin:.12g}",
        f"bound with ‖(wʳ)ᵀ‖_{p} (corrected)    = {result.corrected_bound:.12g}   "
        + ("holds" if result.corrected_holds else "VIOLATED"),
    ]
    emit(args, result.to_json(), "\n".join(lines))
    return 0 if result.corrected_holds else 1


def _norm(matrix, norm: str) -> float:
    from gradmath.norms import induced_norm

    return induced_norm(matrix, norm)
