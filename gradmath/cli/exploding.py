"""`gradmath exploding`: Nielsen's construction w_j = 100, b_j = −100·a_{j−1}, and its fragility."""

from __future__ import annotations

import argparse

from gradmath.cli._common import EXAMPLE_FORMATTER, add_output_options, emit, integer

EXAMPLES = """examples:
  gradmath exploding --depth 4                      factor 25 per layer: ∂C/∂b1 = 25³ ∂C/∂b4
  gradmath exploding --depth 1000000 --json         log10 of the ratio, no overflow
  gradmath exploding --depth 30 --bias-error 1e-6   one part in a million in every bias destroys it
"""


def register(subparsers) -> None:
    """Add the ``exploding`` subcommand."""
    p = subparsers.add_parser(
        "exploding", help="the exploding-gradient construction (factor w·σ′(0) per layer)",
        description="Verify Nielsen's exploding-gradient construction symbolically and numerically.",
        epilog=EXAMPLES, formatter_class=EXAMPLE_FORMATTER,
    )
    p.add_argument("--depth", type=integer, required=True, help="number of neurons L in the chain")
    p.add_argument("--weight", default="100",
                   help="every weight w_j ≠ 0, exact: a decimal or p/q such as 100, 2.5, 5/2 (default 100)")
    p.add_argument("--activation", default="sigmoid", help="activation (default sigmoid)")
    p.add_argument("--bias-error", default="1e-6",
                   help="bias error ε for the perturbed run, a decimal such as 1e-6; 0 or |ε| ≥ 1e-300 "
                        "(default 1e-6)")
    add_output_options(p)
    p.set_defaults(handler=run)


def _log10_text(value, zero_reason) -> str:
    return f"−∞ ({zero_reason.split(':')[0]}: the product of the factors is 0)" if value is None else str(value)


def run(args: argparse.Namespace) -> int:
    from gradmath.activations import resolve_activation
    from gradmath.numbers import exact_real
    from gradmath.symbolic.exploding import bias_error_factor, exploding_chain, perturbed_chain

    weight, bias_error = args.weight, args.bias_error
    exact_real(weight, name="weight"), exact_real(bias_error, name="bias_error")  # refused before any work
    act = resolve_activation(args.activation)
    r = exploding_chain(args.depth, weight=weight, activation=act)
    f = bias_error_factor(weight=weight, activation=act)
    p = perturbed_chain(depth=min(args.depth, 10_000), bias_error=bias_error, weight=weight, activation=act)
    payload = {**r.to_json(), "bias_error_factor": f.to_json(), "perturbed": p.to_json()}
    numeric = (f"{r.numeric_log10:.12g}" if r.numeric_log10 is not None else "−∞")
    perturbed = "−∞" if p.log10_ratio is None else f"{p.log10_ratio:.6g}"
    text = "\n".join([
        f"chain of {r.depth} {r.activation} neurons, w_j = {r.weight}, b_j = -{r.weight}·a_(j-1)",
        f"every z_j = 0 (SymPy, first {r.check_depth} layers): {r.all_z_zero}",
        f"factor per layer w·σ′(0) = {r.factor}",
        f"log10|∂C/∂b_1 ÷ ∂C/∂b_L| = {_log10_text(r.log10_ratio, r.zero_reason)} "
        f"(float64 forward pass over {r.numeric_depth} layers: {numeric})",
        f"one layer with bias error ε: {f.factor} = {f.series}; "
        + (f"below 1 for |ε| > {f.breakeven}" if f.breakeven != "none"
           else "no single crossing of 1 on 0 ≤ ε ≤ 60"),
        f"every bias off by ε = {p.bias_error:g}, depth {p.depth}: log10|∂C/∂b_1 ÷ ∂C/∂b_L| = {perturbed}"
        + ("" if p.zero_reason is None else f" ({p.zero_reason.split(':')[0]})"),
    ])
    emit(args, payload, text)
    return 0
