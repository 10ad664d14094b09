"""`gradmath speeds --record FILE`: the speed of learning per layer from a record of monitored training.

A record is what :class:`gradmath.torch.GradientMonitor` writes (``Records.to_csv`` or
``to_jsonl``): rows (step, layer, quantity, value). This prints each layer's first, smallest and
last speed and, with ``--figure``, draws them over training (:func:`gradmath.torch.figure.speeds_figure`).
"""

from __future__ import annotations

import argparse
import math


def add_record_options(parser: argparse.ArgumentParser) -> None:
    """Add ``--record`` and ``--figure`` to the ``speeds`` parser."""
    parser.add_argument("--record", default=None, metavar="FILE",
                        help="a record of monitored PyTorch training (.csv or .jsonl from gradmath.torch; at most "
                             "256 MiB): print and draw its speeds instead of running an experiment")
    parser.add_argument("--figure", default=None, metavar="PNG",
                        help="with --record: draw the speed of learning per layer over training into this PNG")


def run_record(args: argparse.Namespace) -> int:
    """Print (and draw) the speeds of ``args.record``."""
    from gradmath.cli._common import emit
    from gradmath.errors import DataError, InvalidParameterError
    from gradmath.torch.records import read_records

    if args.record is None:
        raise InvalidParameterError("--figure draws the speeds of a --record FILE; give --record")
    records = read_records(args.record)
    series = records.series("speed")
    if not series:
        raise DataError(f"{args.record}: the record holds no 'speed' rows (write it with GradientMonitor's "
                        "records.to_csv or to_jsonl)")
    payload = {"record": str(args.record), "steps": len({s for steps, _ in series.values() for s in steps}),
               "speeds": [{"layer": layer, "steps": steps, "values": [v if math.isfinite(v) else None for v in values]}
                          for layer, (steps, values) in series.items()]}
    if args.figure is not None:
        if not str(args.figure).lower().endswith(".png"):
            raise InvalidParameterError(f"--figure {args.figure!r}: give a .png path")
        from gradmath.reports.files import save_figure
        from gradmath.torch.figure import speeds_figure
        from pathlib import Path

        save_figure(speeds_figure(records), Path(args.figure))
        payload["figure"] = str(args.figure)
    emit(args, payload, _text(payload, last=max(series)))
    return 0


def _text(payload: dict, *, last: int) -> str:
    lines = [f"speed of learning ‖∂C/∂bˡ‖ per layer in {payload['record']} ({payload['steps']} steps; "
             "layer l as the verifier numbers it, l = 2 the first hidden layer)",
             f"{'layer':>14}  {'first':>9}  {'smallest':>9}  {'last':>9}"]
    for row in payload["speeds"]:
        finite = [v for v in row["values"] if v is not None]
        name = f"layer {row['layer']}" + (" (out)" if row["layer"] == last else "")
        if finite:
            lines.append(f"{name:>14}  {finite[0]:9.4g}  {min(finite):9.4g}  {finite[-1]:9.4g}")
        else:
            lines.append(f"{name:>14}  no finite value")
    if "figure" in payload:
        lines.append(f"figure: {payload['figure']}")
    return "\n".join(lines)
