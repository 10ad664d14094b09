"""`gradmath verify`: check bounds (a), (b), (c) on a saved network and a data set."""

from __future__ import annotations

import argparse
from pathlib import Path

from gradmath.cli._common import EXAMPLE_FORMATTER, add_output_options, emit, progress_bar

EXAMPLES = """examples:
  gradmath verify net.npz --data digits                 spectral norm, every example
  gradmath verify net.json --data mnist/ --norm inf --examples 10000 --json
  gradmath verify net.safetensors --data data.npz --norm 1 --quiet

MODEL is a .npz written by gradmath, Nielsen's network2 .json, or a .safetensors file.
--data is 'digits' or a path: an .npz holding x (N × n_in) and y (N × n_out targets or
N integer labels), an MNIST IDX folder or file, or mnist.pkl.gz.
Layers use the proofs' notation: input layer 1, output layer L.
"""


def register(subparsers) -> None:
    """Add the ``verify`` subcommand."""
    p = subparsers.add_parser(
        "verify", help="check the induced-norm gradient bounds on a network and data",
        description="Per layer and per example, check ‖δˡ‖ against bounds (a) γ-based and (b) data-based, "
                    "and the rank-one bound (c) on ‖∂C/∂wˡ‖; report tightness and violations.",
        epilog=EXAMPLES, formatter_class=EXAMPLE_FORMATTER,
    )
    p.add_argument("model", type=Path, metavar="MODEL", help="network file (.npz, network2 .json, .safetensors)")
    p.add_argument("--data", default="digits", help="'digits' or a data path (default digits)")
    p.add_argument("--norm", default="2", help="vector norm and the matrix norm it induces: 2, 1 or inf (default 2)")
    p.add_argument("--examples", type=int, default=None, metavar="N", help="use the first N examples (default all)")
    p.add_argument("--chunk-size", type=int, default=None, help="examples per chunk (default: up to 1024)")
    add_output_options(p)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from gradmath.bounds import verify_network
    from gradmath.data import load_dataset
    from gradmath.formats import load_network
    from gradmath.norms import check_norm
    from gradmath.reports.verification import verification_markdown
    from gradmath.validation import check_int

    norm = check_norm(args.norm)
    limit = None if args.examples is None else check_int("examples", args.examples, min_value=1)
    network = load_network(args.model)
    data = load_dataset(args.data, limit=limit)
    if data.x.shape[1] != network.sizes[0]:
        from gradmath.errors import ShapeError

        raise ShapeError(f"data {data.name!r} has {data.x.shape[1]} inputs per example but the network's "
                         f"input layer has width {network.sizes[0]}")
    with progress_bar(args, total=data.x.shape[0], desc="verify", unit="ex") as bar:
        def progress(done: int, total: int) -> None:
            bar.update(done - bar.n)
        report = verify_network(network, data.x, data.y, norm=norm, chunk_size=args.chunk_size, progress=progress)
    text = f"{network!r} on {data.name} ({data.x.shape[0]} examples)\n\n" + verification_markdown(report)
    emit(args, report.to_json(), text)
    return 0
