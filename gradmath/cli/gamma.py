"""`gradmath gamma`: γ = sup |σ′|, with sup σ′ and inf σ′, for one or every activation."""

from __future__ import annotations

import argparse

from gradmath.cli._common import EXAMPLE_FORMATTER, add_output_options, emit

EXAMPLES = """examples:
  gradmath gamma                          the table for every built-in activation
  gradmath gamma --activation silu --json
  gradmath gamma --activation "x/(1+abs(x))"
  gradmath gamma --activation "x**3"         γ = ∞ (σ′ unbounded), exit 0
  gradmath gamma --activation "sqrt(x)"      refused: σ is not defined for x < 0, exit 2
"""


def register(subparsers) -> None:
    """Add the ``gamma`` subcommand."""
    p = subparsers.add_parser(
        "gamma", help="γ = sup |σ′| (and sup σ′, inf σ′), exact, certified or estimated, per activation",
        description="Derive γ = sup |σ′|, sup σ′ and inf σ′ from the activation's SymPy definition. "
                    "σ must be differentiable on all of ℝ; an unbounded σ′ gives γ = ∞.",
        epilog=EXAMPLES, formatter_class=EXAMPLE_FORMATTER,
    )
    p.add_argument("--activation", default=None, help="a registered name or an expression in x (default: all)")
    add_output_options(p)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from gradmath.activations import BUILTIN_ACTIVATIONS, resolve_activation
    from gradmath.reports.gamma_table import gamma_markdown

    acts = [resolve_activation(args.activation)] if args.activation else [resolve_activation(n) for n in BUILTIN_ACTIVATIONS]
    rows = [{**a.to_json(), **a.gamma.to_json()} for a in acts]
    payload = rows[0] if args.activation else {"activations": rows}
    emit(args, payload, gamma_markdown(rows))
    return 0
