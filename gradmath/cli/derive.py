"""`gradmath derive`: the chain product (Nielsen's (121)/(122)) and the matrix form (124), derived and checked."""

from __future__ import annotations

import argparse
import sys

from gradmath.cli._common import EXAMPLE_FORMATTER, add_output_options, emit, integer, progress_bar
from gradmath.reports import SEED

FORMATS = ("markdown", "latex", "json")
#: gradmath.costs.COST_NAMES, named here so that ``--help`` need not import SymPy (tests/test_cli.py compares them).
COST_NAMES = ("quadratic", "cross-entropy")

EXAMPLES = """examples:
  gradmath derive chain --depth 4 --layer 1 --activation sigmoid --cost quadratic
  gradmath derive matrix --sizes 2,3,2 --activation tanh --json
"""

CHAIN_EXAMPLES = """examples:
  gradmath derive chain --depth 4 --layer 1 --activation sigmoid --cost quadratic
  gradmath derive chain --depth 3 --activation sigmoid --cost cross-entropy --format latex
  gradmath derive chain --depth 1000 --activation tanh --json
  gradmath derive chain --depth 3 --activation "x/(1+abs(x))"

--json prints one object with the keys depth, layer, activation, cost,
derivative and product_form (LaTeX), verified and checks (each with name,
passed, exact, detail), and more. The exit code is 1 if a check failed.
"""

MATRIX_EXAMPLES = """examples:
  gradmath derive matrix --sizes 2,3,2
  gradmath derive matrix --sizes 2,3,2 --activation tanh --cost cross-entropy --json

--json prints one object with the keys sizes, depth, activation, cost, layers
(each with layer, product_form and delta, LaTeX), verified and checks.
"""


def register(subparsers) -> None:
    """Add ``derive chain`` and ``derive matrix``.

    The limits in the help are written out (importing SymPy to read them would slow ``--help``);
    tests/test_cli_derive.py checks them against :mod:`gradmath.symbolic.chain` and ``matrix``.
    """
    p = subparsers.add_parser(
        "derive", help="derive a gradient symbolically and check it",
        description="Derive ∂C/∂b and ∂C/∂w symbolically (SymPy) and check them exactly and against mpmath.",
        epilog=EXAMPLES, formatter_class=EXAMPLE_FORMATTER,
    )
    p.set_defaults(handler=lambda args: _usage(p))
    sub = p.add_subparsers(dest="what", metavar="WHAT", parser_class=type(p))

    chain = sub.add_parser(
        "chain", help="one neuron per layer: ∂C/∂b_l = σ′(z_l) ∏ w_j σ′(z_j) ∂C/∂a_L",
        description="Derive ∂C/∂b_l and ∂C/∂w_l for the chain a_j = σ(w_j a_{j−1} + b_j) of DEPTH neurons.",
        epilog=CHAIN_EXAMPLES, formatter_class=EXAMPLE_FORMATTER,
    )
    chain.add_argument("--depth", "-L", type=integer, required=True,
                       help="number of layers, 1 ≤ L ≤ 2000 (the work grows faster than L; "
                            "1000 takes about 2 s)")
    chain.add_argument("--layer", "-l", type=integer, default=1, help="the layer l, 1 ≤ l ≤ L (default 1)")
    _add_common(chain, COST_NAMES)
    chain.set_defaults(handler=run_chain)

    matrix = sub.add_parser(
        "matrix", help="δ^l = Σ′(z^l)(w^{l+1})ᵀ … Σ′(z^L) ∇_a C for given widths",
        description="Derive δ^l for every layer of a network with the given widths and check each entry.",
        epilog=MATRIX_EXAMPLES, formatter_class=EXAMPLE_FORMATTER,
    )
    matrix.add_argument("--sizes", required=True,
                        help="layer widths, input first, e.g. 2,3,2: at most 24 inputs, 8 layers and 24 neurons "
                             "after the input, and a nested check of at most 40,000 terms (see "
                             "gradmath.symbolic.matrix.nested_work; its time grows fast with depth)")
    _add_common(matrix, COST_NAMES)
    matrix.set_defaults(handler=run_matrix)


def _add_common(p: argparse.ArgumentParser, cost_names) -> None:
    p.add_argument("--activation", "-a", default="sigmoid",
                   help='a registered name or an expression in x such as "x/(1+abs(x))" (default sigmoid)')
    p.add_argument("--cost", "-c", default="quadratic", help=f"one of {', '.join(cost_names)} (default quadratic)")
    p.add_argument("--seed", type=integer, default=SEED,
                   help=f"seed of the numeric check's random parameters (default {SEED}, gradmath reproduce's, "
                        "so the output is the one in docs/generated/derivations/)")
    p.add_argument("--digits", type=integer, default=30,
                   help="digits the mpmath check asks for, 15 to 1000 (default 30)")
    p.add_argument("--no-verify", dest="verify", action="store_false", help="derive only; make no checks")
    add_output_options(p, formats=FORMATS)


def _usage(p: argparse.ArgumentParser) -> int:
    p.print_help(sys.stderr)
    return 2


def _show(args: argparse.Namespace, result) -> int:
    if args.format == "json":
        args.json = True
    text = result.to_latex() if args.format == "latex" else result.to_markdown()
    emit(args, result.to_json(), text)
    if args.verify and not result.verified:
        failed = ", ".join(c.name for c in result.checks if not c.passed)
        print(f"gradmath derive: check failed: {failed}", file=sys.stderr)
        return 1
    return 0


def run_chain(args: argparse.Namespace) -> int:
    from gradmath.symbolic.chain import derive_chain

    with progress_bar(args, total=4, desc="derive chain", unit="step") as bar:
        result = derive_chain(args.depth, args.layer, args.activation, args.cost, verify=args.verify,
                              seed=args.seed, digits=args.digits, progress=_advance(bar))
    return _show(args, result)


def run_matrix(args: argparse.Namespace) -> int:
    from gradmath.symbolic.matrix import derive_matrix

    with progress_bar(args, desc="derive matrix", unit="entry") as bar:
        result = derive_matrix(args.sizes, args.activation, args.cost, verify=args.verify,
                               seed=args.seed, digits=args.digits, progress=_advance(bar))
    return _show(args, result)


def _advance(bar):
    """A ``progress(done, total)`` callback that moves ``bar`` (a disabled bar ignores it)."""

    def advance(done: int, total: int) -> None:
        if bar.total != total:
            bar.total = total
        bar.update(done - bar.n)

    return advance
