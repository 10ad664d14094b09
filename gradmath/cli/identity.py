"""`gradmath identity`: the identity neuron w₂σ(w₁x + b) ≈ x + c and its error bound."""

from __future__ import annotations

import argparse

from gradmath.cli._common import EXAMPLE_FORMATTER, add_output_options, emit, integer

EXAMPLES = """examples:
  gradmath identity --w1 0.01                       b = -w1/2, w2 = 4/w1, error ≤ w1²/96
  gradmath identity --w1 0.5 --points 10001 --json
"""


def register(subparsers) -> None:
    """Add the ``identity`` subcommand."""
    p = subparsers.add_parser(
        "identity", help="the identity neuron w₂σ(w₁x+b) ≈ x (Nielsen's problem) with its error bound",
        description="Choose b and w₂ for a given w₁, state the error bound and check it on a grid of [0, 1].",
        epilog=EXAMPLES, formatter_class=EXAMPLE_FORMATTER,
    )
    p.add_argument("--w1", required=True,
                   help="the input weight w₁ > 0, a decimal such as 0.01 or 1e-15 in [1e-100, 1e100] (small is accurate)")
    p.add_argument("--points", type=integer, default=2001, help="grid points in [0, 1] (default 2001)")
    add_output_options(p)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    import sys

    from gradmath.numbers import exact_rational
    from gradmath.symbolic.identity import check_identity_bound, derive_identity

    exact_rational(args.w1, name="w1")  # refused before any work
    c = check_identity_bound(args.w1, points=args.points)
    d = derive_identity()
    w1 = c.w1
    payload = {**d.to_json(), "w1": repr(w1), "b_value": repr(-w1 / 2), "w2_value": repr(4 / w1),
               "offset_value": repr(2 / w1 - 0.5), "check": c.to_json()}
    text = "\n".join([
        f"w1 = {w1:g}: b = -w1/2 = {-w1 / 2:g}, w2 = 4/w1 = {4 / w1:g}",
        f"w2·σ(w1·x + b) = x + c + R with c = {d.offset} = {2 / w1 - 0.5:g} (absorbed by the next bias)",
        f"|R| ≤ {d.bound_in_delta} ≤ {d.bound} = {c.bound:.6g}   (x = 1/2 + Δ)",
        f"max |R| on {c.points} grid points (interval arithmetic, {c.digits} digits): {c.max_error:.6g}  "
        f"bound holds: {c.holds}",
    ])
    emit(args, payload, text)
    if not c.holds:
        print(f"gradmath identity: the bound w1²/96 FAILS at w1 = {args.w1} (certified by interval arithmetic); "
              "please report", file=sys.stderr)
        return 1
    return 0
