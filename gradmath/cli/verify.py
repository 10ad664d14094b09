"""`gradmath verify`: check bounds (a), (b), (c) on a saved network and a data set."""

from __future__ import annotations

import argparse
from pathlib import Path

from gradmath.cli._common import EXAMPLE_FORMATTER, add_output_options, emit, progress_bar

EXAMPLES = """examples:
  gradmath verify net.npz --data digits                 spectral norm, every example
  gradmath verify net.json --data mnist/ --norm inf --examples 10000 --json
  gradmath verify net.safetensors --data data.npz --norm 1 --quiet
  gradmath verify init.npz --meanfield                 worst case (bounds), typical case (mean field), measured

MODEL is a network file; its kind is read from its first bytes:
  .npz or .safetensors written by gradmath     states its activations and cost
  Nielsen's network2 .json                     sigmoid units unless --activation/--output say otherwise
  .skops (skops.io.dump of a fitted MLPClassifier/MLPRegressor; pip install skops)
  .safetensors of a PyTorch state_dict (safetensors.torch.save_file(model.state_dict(), ...)) of
      Linear layers, with what it does not state given as options, e.g.
      gradmath verify model.safetensors --activation relu --cost log-loss   (nn.CrossEntropyLoss on logits)
Pickle and torch.save files are refused. What a file does not state, and was assumed, is printed
as a note (and listed under "model" in --json).
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
    p.add_argument("model", type=Path, metavar="MODEL", help="network file (.npz, network2 .json, .safetensors, .skops)")
    p.add_argument("--data", default="digits", help="'digits' or a data path (default digits)")
    p.add_argument("--norm", default="2", help="vector norm and the matrix norm it induces: 2, 1 or inf (default 2)")
    p.add_argument("--examples", type=int, default=None, metavar="N", help="use the first N examples (default all)")
    p.add_argument("--chunk-size", type=int, default=None, help="examples per chunk (default: up to 1024)")
    p.add_argument("--meanfield", action="store_true",
                   help="also show the mean-field prediction of the typical ‖δˡ‖₂ per hidden layer, for i.i.d. "
                        "weights of the variances the network's layers have (meaningful at initialisation)")
    add_model_options(p)
    add_output_options(p)
    p.set_defaults(handler=run)


def add_model_options(parser, *, activation: bool = True) -> None:
    """``--activation``, ``--output`` and ``--cost``: what a model file does not state.

    With ``activation=False`` the parser's own ``--activation`` is kept and its default becomes
    ``None``, so that a model file's activation is only ever the one given.
    """
    if activation:
        parser.add_argument("--activation", default=None,
                            help="hidden activation of a network2 file (default sigmoid) or of a PyTorch "
                                 "state_dict (required); leaky_relu_0_01 or softplus_beta_2 name PyTorch's "
                                 "LeakyReLU(0.01) and Softplus(beta=2)")
    else:
        parser.set_defaults(activation=None)
    parser.add_argument("--output", default=None,
                        help="output activation of a network2 file (default sigmoid) or a state_dict (implied by "
                             "--cost log-loss: softmax, cross-entropy: sigmoid)")
    parser.add_argument("--cost", default=None,
                        help="cost a state_dict was trained with: log-loss (nn.CrossEntropyLoss on logits), "
                             "cross-entropy (nn.BCEWithLogitsLoss), quadratic")


def load_model(args: argparse.Namespace, path):
    """The :class:`~gradmath.formats.LoadedNetwork` of ``path`` with the options of :func:`add_model_options`."""
    from gradmath.formats import read_network

    return read_network(path, activation=args.activation, output=args.output, cost=args.cost)


def model_notes(loaded) -> str:
    """The loaded model's notes as lines of text, each starting with "note: "."""
    return "".join(f"note: {note}\n" for note in loaded.notes)


def run(args: argparse.Namespace) -> int:
    from gradmath.bounds import verify_network
    from gradmath.data import load_dataset
    from gradmath.norms import check_norm
    from gradmath.reports.verification import verification_markdown
    from gradmath.validation import check_int

    norm = check_norm(args.norm)
    limit = None if args.examples is None else check_int("examples", args.examples, min_value=1)
    loaded = load_model(args, args.model)
    network = loaded.network
    data = load_dataset(args.data, limit=limit)
    if data.x.shape[1] != network.sizes[0]:
        from gradmath.errors import ShapeError

        raise ShapeError(f"data {data.name!r} has {data.x.shape[1]} inputs per example but the network's "
                         f"input layer has width {network.sizes[0]}")
    with progress_bar(args, total=data.x.shape[0], desc="verify", unit="ex") as bar:
        def progress(done: int, total: int) -> None:
            bar.update(done - bar.n)
        report = verify_network(network, data.x, data.y, norm=norm, chunk_size=args.chunk_size, progress=progress)
    text = (f"{network!r} on {data.name} ({data.x.shape[0]} examples)\n" + model_notes(loaded) + "\n"
            + verification_markdown(report))
    payload = {**report.to_json(), "model": loaded.to_json()}
    if args.meanfield:
        from gradmath.meanfield.prediction import predict_delta_norms

        prediction = predict_delta_norms(network, data.x, data.y, chunk_size=args.chunk_size)
        payload["meanfield"] = prediction.to_json()
        text += "\n\n" + _meanfield_text(prediction)
    emit(args, payload, text)
    return 0


def _meanfield_text(p) -> str:
    lines = ["Typical case (mean-field theory, proofs/meanfield.md): RMS over examples of ‖δˡ‖₂ for a random network "
             "whose weights have the variances of this one's, started from the measured output layer; "
             "layers l: input 1, output L.", "",
             "| layer l (1 = input, L = output) | σ_w² of wˡ⁺¹ | measured RMS ‖δˡ‖₂ | mean-field RMS ‖δˡ‖₂ | mean-field / measured |",
             "|---:|---:|---:|---:|---:|"]
    for i, layer in enumerate(p.layers):
        lines.append(f"| {layer} | {p.sigma_w2[i + 1]:.4g} | {p.measured[i]:.4g} | {p.predicted[i]:.4g} "
                     f"| {p.ratio[i]:.3f} |")
    return "\n".join(lines)
