"""`gradmath meanfield`: signal propagation in wide random networks (q*, c*, χ₁, χ_c, depth scales, phase)."""

from __future__ import annotations

import argparse

from gradmath.cli._common import EXAMPLE_FORMATTER, add_output_options, emit, integer

EXAMPLES = """examples:
  gradmath meanfield --activation tanh --sigma-w2 1.5 --sigma-b2 0.05
  gradmath meanfield --activation tanh --sigma-w2 1.5 --sigma-b2 0.05 --digits 30 --json
  gradmath meanfield --activation tanh --critical --sigma-b2 0.05       the σ_w² where χ₁ = 1
  gradmath meanfield --activation relu --sigma-w2 2 --sigma-b2 0        ReLU's critical point
  gradmath meanfield --activation "erf(x)" --sigma-w2 3 --sigma-b2 0.05  closed forms (arcsine kernel)
"""


def register(subparsers) -> None:
    """Add the ``meanfield`` subcommand."""
    p = subparsers.add_parser(
        "meanfield", help="mean-field theory: typical per-layer gradient factor, phase, depth scales",
        description="Fixed points q*, c* of the length and correlation maps of a wide random network with "
                    "weights N(0, σ_w²/n) and biases N(0, σ_b²); χ₁ (each layer multiplies a gradient's squared "
                    "length by χ₁), χ_c, the depth scales ξ_q, ξ_c, ξ_∇ and the phase (Poole et al. 2016, "
                    "Schoenholz et al. 2017).",
        epilog=EXAMPLES, formatter_class=EXAMPLE_FORMATTER,
    )
    p.add_argument("--activation", default="tanh", help="a registered name or an expression in x (default tanh)")
    p.add_argument("--sigma-w2", default=None, help="weight variance σ_w² (times 1/n_in), a decimal > 0")
    p.add_argument("--sigma-b2", default="0.05", help="bias variance σ_b², a decimal ≥ 0 (default 0.05)")
    p.add_argument("--critical", action="store_true", help="find the σ_w² where χ₁ = 1 at this σ_b² instead")
    p.add_argument("--digits", type=integer, default=None,
                   help="also compute q*, χ₁ and the depth scales (or the critical σ_w²) to this many digits "
                        "with mpmath (1..200)")
    add_output_options(p)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from gradmath.errors import InvalidParameterError
    from gradmath.meanfield import critical_sigma_w2, mean_field

    if args.critical:
        if args.sigma_w2 is not None:
            raise InvalidParameterError("--critical finds sigma_w2 itself; leave out --sigma-w2")
        c = critical_sigma_w2(args.activation, args.sigma_b2, digits=args.digits)
        emit(args, c.to_json(), _critical_text(c))
        return 0
    if args.sigma_w2 is None:
        raise InvalidParameterError("give --sigma-w2 (or --critical to find it)")
    point = mean_field(args.activation, args.sigma_w2, args.sigma_b2, digits=args.digits)
    emit(args, point.to_json(), _point_text(point))
    return 0


def _num(value) -> str:
    return "∞ (critical)" if value is None else f"{value:.12g}"


def _point_text(p) -> str:
    precise = dict(p.precise)
    rows = [
        ("activation", p.activation), ("sigma_w2, sigma_b2", f"{p.sigma_w2:g}, {p.sigma_b2:g}"),
        ("q*", precise.get("q_star", f"{p.q_star:.12g}")),
        ("c*", "undefined (q* = 0)" if p.c_star is None else precise.get("c_star", f"{p.c_star:.12g}")),
        ("chi_1", precise.get("chi_1", f"{p.chi_1:.12g}")),
        ("chi_c", "undefined (q* = 0)" if p.chi_c is None else precise.get("chi_c", f"{p.chi_c:.12g}")),
        ("xi_q", precise.get("xi_q", _num(p.xi_q))), ("xi_c", precise.get("xi_c", _num(p.xi_c))),
        ("xi_grad = -1/ln chi_1", precise.get("xi_grad", _num(p.xi_grad))),
        ("gradient factor", f"‖δˡ‖/‖δˡ⁺¹‖ ≈ √χ₁ = {p.gradient_factor:.6g} per layer"),
        ("phase", p.phase), ("method", f"{p.method} (estimated error {p.error:.1e})"),
    ]
    width = max(len(k) for k, _ in rows)
    lines = [f"{k:<{width}}  {v}" for k, v in rows]
    lines += [f"note: {n}" for n in p.notes]
    return "\n".join(lines)


def _critical_text(c) -> str:
    if not c.exists:
        return "\n".join([f"{c.activation} at sigma_b2 = {c.sigma_b2:g}: no critical sigma_w2"] +
                         [f"note: {n}" for n in c.notes])
    lines = [f"{c.activation} at sigma_b2 = {c.sigma_b2:g}: critical sigma_w2 = {c.value}",
             f"q* there = {c.q_star:.12g} ({c.method})"]
    return "\n".join(lines + [f"note: {n}" for n in c.notes])
