"""`gradmath window`: where |wσ′(wa+b)| ≥ 1 can hold, its widest point, to any digits, certified."""

from __future__ import annotations

import argparse

from gradmath.cli._common import EXAMPLE_FORMATTER, add_output_options, emit, integer

EXAMPLES = """examples:
  gradmath window                                   sigmoid: min |w|, maximiser and maximum width
  gradmath window --digits 1000 --json              1000 digits, as decimal strings
  gradmath window --digits 50 --certify             a rigorous enclosure [lo, hi] of the maximum
  gradmath window --activation tanh --abs-w 0.5     width 0 with the reason
  gradmath window --activation="-tanh(x)"           tanh's window: only |σ′| counts
"""


def register(subparsers) -> None:
    """Add the ``window`` subcommand."""
    p = subparsers.add_parser(
        "window", help="the window of inputs where |wσ′(wa+b)| ≥ 1 (Nielsen's problem)",
        description="Minimal |w|, window width and its maximum over |w|, derived with SymPy, "
                    "computed with mpmath, optionally certified with interval arithmetic.",
        epilog=EXAMPLES, formatter_class=EXAMPLE_FORMATTER,
    )
    p.add_argument("--activation", default="sigmoid", help="a registered name or an expression in x (default sigmoid)")
    p.add_argument("--digits", type=integer, default=15,
                   help="significant digits of maximiser and maximum (1..100000; 1..4000 with --certify)")
    p.add_argument("--certify", action="store_true", help="add a rigorous enclosure [lo, hi] of the maximum")
    p.add_argument("--abs-w", default=None, help="also report the width at this |w|, a decimal such as 0.5 or 1e3")
    add_output_options(p)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from gradmath.activations import resolve_activation
    from gradmath.numbers import finite_float
    from gradmath.reports.window import window_row

    # read as a decimal (gradmath.numbers), not by float(), which takes '５', '1_0' and turns 1e400 into inf
    abs_w = None if args.abs_w is None else finite_float(args.abs_w, name="abs_w")
    act = resolve_activation(args.activation)
    row = window_row(act, digits=args.digits, certify=args.certify, abs_w=abs_w)
    emit(args, row, _text(row))
    return 0


_METHODS = {"numeric": "no closed form (measured numerically)", "unbounded": "unbounded once non-empty"}


def _text(row: dict) -> str:
    lines = [f"activation        {row['activation']}",
             f"gamma = sup|σ′|   {row['gamma']}",
             f"min |w| = 1/γ     {row['min_abs_w']}",
             f"width(|w|)        {row['width'] or _METHODS.get(row['method'], row['method'])}"]
    if row.get("gamma_attained") is False:
        lines.append("                  (γ is approached, not attained: at |w| = 1/γ the window is empty)")
    if row["unbounded_from"] is not None:
        lines.append(f"unbounded from    |w| {'≥' if row['unbounded_inclusive'] else '>'} {row['unbounded_from']}")
    lines += [f"argmax |w|        {row['argmax_abs_w'] or '—'}", f"max width         {row['max_width']}"]
    if "reason" in row:
        lines.append(f"                  ({row['reason']})")
    elif row.get("maximum_method", "").startswith("scipy"):
        lines.append(f"                  ({row['maximum_method']})")
    if "enclosure" in row:
        lo, hi = row["enclosure"]
        lines.append(f"certified         max width ∈ [{lo}, {hi}] ({row['certificate']['method']})")
    if "at_abs_w" in row:
        at = row["at_abs_w"]
        lines.append(f"width at |w|={at['abs_w']}  {at['width']} ({at['reason']})")
    return "\n".join(lines)
