"""`gradmath speeds`: each hidden layer's speed of learning, at initialisation and along training."""

from __future__ import annotations

import argparse

from gradmath.cli._common import EXAMPLE_FORMATTER, add_output_options, emit, integer, progress_bar
from gradmath.cli.verify import add_model_options, load_model

EXAMPLES = """examples:
  gradmath speeds                                   digits, [64, 30, 30, 10], 20 seeds
  gradmath speeds --sizes 64,30,30,30,10 --meanfield  beside the mean-field prediction
  gradmath speeds --sizes 64,30,30,30,30,10 --seeds 50 --json
  gradmath speeds --sizes 64,30,30,10 --epochs 500 --bounds
  gradmath speeds --data /usr/share/dataset-fashion-mnist --sizes 784,30,30,30,10
  gradmath speeds --data mnist.pkl.gz --sizes 784,30,30,10
  gradmath speeds --model net.npz --epochs 100     a network saved by gradmath.formats.save_network
  gradmath speeds --model mlp.skops                 a fitted MLPClassifier saved with skops.io.dump
  gradmath speeds --model model.safetensors --activation sigmoid --output sigmoid --cost cross-entropy
                                                    a PyTorch state_dict (see gradmath verify --help)
  gradmath speeds --record run.csv --figure speeds.png
                                                    a record of PyTorch training from gradmath.torch

The speed of hidden layer k (counted from 1, as in the book) is the length of the mean of
dC/db over the first 1000 training examples. Training is full-batch gradient descent on
those examples with eta 0.1 and lambda 5.0, as in Nielsen's chapter 5.

limits (checked before any work): at most 10,000,000 weights and biases, 25,000,000
(example x neuron) values in one pass, and 3e+11 (example x parameter) products
over the whole run (about 5 minutes on 2 cores); a progress bar shows on a terminal and
Ctrl-C stops the run.
"""


def register(subparsers) -> None:
    """Add the ``speeds`` subcommand."""
    # The limits are written out (importing the experiments would slow --help);
    # tests/test_cli_speeds.py checks them against gradmath.experiments.training.
    p = subparsers.add_parser(
        "speeds", help="speed of learning per hidden layer (Nielsen ch. 5), at init and along training",
        description="Each hidden layer's speed of learning ||mean dC/db|| over the first 1000 training "
                    "examples: median and quartiles over random initialisations, and per epoch of training.",
        epilog=EXAMPLES,
        formatter_class=EXAMPLE_FORMATTER,
    )
    p.add_argument("--data", default="digits",
                   help="'digits' (embedded, default), a folder or file of MNIST/Fashion-MNIST IDX files, "
                        "mnist.pkl.gz, or an .npz with x and y")
    p.add_argument("--sizes", default=None,
                   help="layer widths, input first (default: the data's width,30,30,its number of classes); "
                        "at most 10,000,000 weights and biases")
    p.add_argument("--activation", default="sigmoid", help="hidden activation of the random networks "
                                                           "(default sigmoid; the output is sigmoid + cross-entropy)")
    p.add_argument("--seeds", type=integer, default=20,
                   help="random networks at initialisation (default 20, at most 10,000)")
    p.add_argument("--seed", type=integer, default=None, help="first seed (default: gradmath reproduce's seed)")
    p.add_argument("--model", default=None,
                   help="a network trained elsewhere (.npz, network2 .json, .safetensors, .skops; see gradmath "
                        "verify --help) instead of random ones")
    add_model_options(p, activation=False)  # --activation above also fills in what a --model file does not state
    p.add_argument("--epochs", type=integer, default=None,
                   help="also train for this many full-batch epochs (at most 100,000)")
    p.add_argument("--eta", type=float, default=0.1, help="learning rate (default 0.1)")
    p.add_argument("--lmbda", type=float, default=5.0, help="L2 regularisation parameter (default 5.0)")
    p.add_argument("--examples", type=integer, default=1000, help="training examples used (default 1000)")
    p.add_argument("--bounds", action="store_true",
                   help="with --epochs: check the verifier's bounds on every example at every epoch")
    p.add_argument("--scheduler", default=None,
                   help="run the random networks on this Dask scheduler (tcp://HOST:PORT), as gradmath sweep does")
    p.add_argument("--workers", type=integer, default=None,
                   help="run the random networks on a local Dask cluster of this many processes (default: a "
                        "cluster of one per core from 2,000 seeds on, else this process)")
    p.add_argument("--meanfield", action="store_true",
                   help="also predict the speeds at initialisation by mean-field theory (random networks; compare "
                        "with the root mean square over the seeds)")
    from gradmath.cli.speeds_record import add_record_options

    add_record_options(p)
    add_output_options(p)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from gradmath.data import load_dataset
    from gradmath.errors import DataError, InvalidParameterError
    from gradmath.experiments.speeds import BOOK_SOURCE, init_speeds, speed_of_learning, training_speeds
    from gradmath.experiments.training import MAX_EPOCHS, MAX_SEEDS, check_experiment_size
    from gradmath.network import Network
    from gradmath.reports import SEED
    from gradmath.validation import check_int, parse_sizes

    if args.record is not None or args.figure is not None:  # a record of monitored PyTorch training (gradmath.torch)
        from gradmath.cli.speeds_record import run_record

        return run_record(args)
    data = load_dataset(args.data)
    examples = check_int("examples", args.examples, min_value=1)
    if args.model is not None:
        loaded = load_model(args, args.model)
        network = loaded.network
        sizes = network.sizes
        if args.sizes is not None and parse_sizes(args.sizes) != sizes:
            raise InvalidParameterError(f"sizes={args.sizes!r} differs from the model's {list(sizes)}; "
                                        "leave out --sizes with --model")
    else:
        if args.output is not None or args.cost is not None:
            raise InvalidParameterError("--output and --cost describe a --model file; random networks have a "
                                        "sigmoid output with cross-entropy")
        args.activation = args.activation or "sigmoid"
        sizes = (parse_sizes(args.sizes) if args.sizes is not None
                 else (data.n_inputs, 30, 30, data.n_classes))
        if len(sizes) < 3:
            raise InvalidParameterError(f"sizes={args.sizes!r} has no hidden layer, e.g. {data.n_inputs},30,30,10")
    if sizes[0] != data.n_inputs:
        raise DataError(f"sizes={','.join(map(str, sizes))}: the first width {sizes[0]} does not match the "
                        f"{data.n_inputs} inputs of {data.name}")
    if data.y.ndim == 1 and sizes[-1] < data.n_classes:
        raise DataError(f"sizes={','.join(map(str, sizes))}: the output width {sizes[-1]} is less than the "
                        f"{data.n_classes} classes of {data.name}")
    seeds = check_int("seeds", args.seeds, min_value=1, max_value=MAX_SEEDS)
    seed = SEED if args.seed is None else check_int("seed", args.seed, min_value=0)
    epochs = None if args.epochs is None else check_int("epochs", args.epochs, min_value=0, max_value=MAX_EPOCHS)
    if args.bounds and epochs is None:
        raise InvalidParameterError("--bounds needs --epochs (the bounds are checked along training)")
    if args.meanfield and args.model is not None:
        raise InvalidParameterError("--meanfield predicts random networks; for a model file use "
                                    "gradmath verify MODEL --meanfield")
    # The whole run, before any of it starts: the random networks, then the epochs (twice with --bounds).
    passes = (1 if args.model is not None else seeds)
    if epochs is not None:
        passes += (epochs + 1) * (2 if args.bounds else 1)
    check_experiment_size(sizes, min(examples, len(data)), passes, fix="fewer --seeds, --epochs or --examples")

    payload: dict = {"data": data.to_json(), "sizes": list(sizes), "examples": min(examples, len(data))}
    work = (1 if args.model else seeds) + (epochs or 0)
    with progress_bar(args, total=work, desc="speeds", unit="step") as bar:
        if args.model is not None:
            speeds = speed_of_learning(network, data.x, data.y, examples=examples)
            bar.update(1)
            payload["model"] = loaded.to_json()
            payload["speeds"] = [{"layer": k + 1, "speed": float(v)} for k, v in enumerate(speeds)]
        else:
            if args.scheduler is not None or args.workers is not None or seeds >= ENGINE_SEEDS:
                from gradmath.experiments.speeds import InitSpeeds
                from gradmath.sweeps.seeds import init_speed_values

                values = init_speed_values(sizes, data.x, data.y, seeds=seeds, seed=seed,
                                           hidden_activation=args.activation, examples=examples,
                                           scheduler=args.scheduler, workers=args.workers,
                                           progress=lambda done, total: bar.update(done - bar.n))
                init = InitSpeeds(tuple(sizes), seed, values, args.activation)
            else:
                init = init_speeds(sizes, data.x, data.y, seeds=seeds, seed=seed, hidden_activation=args.activation,
                                   examples=examples, progress=lambda done, total: bar.update(1))
            payload.update({k: v for k, v in init.to_json().items() if k in ("hidden_activation", "seeds", "seed")})
            payload["init"] = init.to_json()["init"]
            network = Network.random(sizes, seed=seed, hidden_activation=args.activation)
            if args.meanfield:
                payload["meanfield"] = _meanfield(sizes, data, examples, args.activation, init.values)
        if epochs is not None:
            run_ = training_speeds(network, data.x, data.y, epochs=epochs, eta=args.eta, lmbda=args.lmbda,
                                   examples=examples, bounds=args.bounds,
                                   progress=lambda done, total: bar.update(1))
            training = run_.training.to_json()
            payload["training_parameters"] = {k: training[k] for k in ("epochs", "eta", "lmbda", "examples")}
            payload["training_parameters"]["start"] = ("the model" if args.model else f"the network of seed {seed}")
            payload["training"] = training["speeds"]
            if run_.bounds is not None:
                payload["bounds"] = run_.bounds.to_json()
    book = _book_row(sizes)
    if book is not None and "init" in payload:
        payload["book"] = {"values": list(book), "quoted_from": BOOK_SOURCE}
    emit(args, payload, _text(payload))
    return 0


#: How the tables number layers: the book's hidden layers, and the proofs' and verifier's l beside them.
#: From this many seeds on, the random networks run on a local Dask cluster (gradmath.sweeps.seeds).
ENGINE_SEEDS = 2000

LAYER_NOTE = "hidden layer k: 1 = first hidden layer (network layer l = k + 1, input l = 1, output l = L)"


def _meanfield(sizes, data, examples: int, activation: str, values) -> dict:
    """The mean-field prediction of the speeds (√E‖∂C/∂bˡ‖²) beside the root mean square over the seeds."""
    import numpy as np

    from gradmath.meanfield.nielsen import predict_speeds

    p = predict_speeds(sizes, data.x, data.y, examples=examples, activation=activation)
    return {**p.to_json(), "rms_over_seeds": np.sqrt(np.mean(np.asarray(values) ** 2, axis=0)).tolist(),
            "note": "mean-field prediction of sqrt(E||dC/db^l||^2) for infinite width (proofs/meanfield.md, "
                    "Theorem 7), to compare with rms_over_seeds"}


def _book_row(sizes) -> tuple[float, ...] | None:
    from gradmath.experiments.speeds import BOOK_SPEEDS

    hidden = sizes[1:-1]
    if sizes[-1] == 10 and set(hidden) == {30}:
        return BOOK_SPEEDS.get(len(hidden))
    return None


def _text(payload: dict) -> str:
    data = payload["data"]
    lines = []
    if "init" in payload:
        book = payload.get("book", {}).get("values")
        lines.append(f"speed of learning at initialisation: {data['name']} ({payload['examples']} examples), "
                     f"sizes {payload['sizes']}, {payload['seeds']} seeds from {payload['seed']}")
        lines.append(LAYER_NOTE)
        header = f"{'hidden layer k':>14}  {'median':>9}  {'q1':>9}  {'q3':>9}"
        lines.append(header + ("  book (quoted; one MNIST network)" if book else ""))
        for row in payload["init"]:
            line = f"{row['layer']:>14}  {row['median']:9.4g}  {row['q1']:9.4g}  {row['q3']:9.4g}"
            lines.append(line + (f"  {book[row['layer'] - 1]:9.4g}" if book else ""))
        if "meanfield" in payload:
            mf = payload["meanfield"]
            lines.append("mean-field prediction (√E‖∂C/∂bˡ‖², infinite width) against the RMS over the seeds:")
            lines.append(f"{'hidden layer k':>14}  {'RMS':>9}  {'predicted':>9}  {'± (pairs)':>9}")
            for k, (rms, pred, se) in enumerate(zip(mf["rms_over_seeds"], mf["speeds"], mf["standard_error"])):
                lines.append(f"{k + 1:>14}  {rms:9.4g}  {pred:9.4g}  {se:9.1g}")
    else:
        lines.append(f"speed of learning of {payload['model']['path']} on {data['name']} "
                     f"({payload['examples']} examples), sizes {payload['sizes']}")
        lines += [f"note: {note}" for note in payload["model"]["notes"]]
        lines.append(LAYER_NOTE)
        lines += [f"  hidden layer {row['layer']}: {row['speed']:.4g}" for row in payload["speeds"]]
    if "training" in payload:
        p = payload["training_parameters"]
        lines.append("")
        lines.append(f"training from {p['start']}: {p['epochs']} epochs of full-batch gradient descent, "
                     f"eta {p['eta']}, lambda {p['lmbda']}")
        lines.append(LAYER_NOTE)
        lines.append(f"{'hidden layer k':>14}  {'epoch 0':>9}  {'smallest':>9}  {'last':>9}")
        for row in payload["training"]:
            speeds = row["per_epoch"]
            lines.append(f"{row['layer']:>14}  {speeds[0]:9.4g}  {min(speeds):9.4g}  {speeds[-1]:9.4g}")
    if "bounds" in payload:
        b = payload["bounds"]
        layers = ", ".join(str(row["l"]) for row in b["layers"])
        lines.append(f"bounds checked at {b['epochs_checked']} epochs x {b['examples']} examples x "
                     f"{len(b['layers'])} layers (l = {layers}; l = 1 is the input, l = L the output): "
                     f"{b['violations']} violations")
    return "\n".join(lines)
