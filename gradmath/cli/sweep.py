"""`gradmath sweep`: a grid of random networks measured layer by layer, on Dask, into a resumable Zarr store."""

from __future__ import annotations

import argparse
import sys

from gradmath.cli._common import EXAMPLE_FORMATTER, add_output_options, emit, integer, progress_bar

EXAMPLES = """examples:
  gradmath sweep --activation tanh --sigma-w2 1:4:16 --sigma-b2 0.05 --depth 30 --width 200 --seeds 2 --out sw
  gradmath sweep --activation "tanh,erf(x)" --sigma-w2 0.5:4:8 --sigma-b2 0:0.5:6 --out phase --json
  gradmath sweep ... --scheduler tcp://scheduler:8786        on an existing Dask cluster
  gradmath sweep ... --engine serial                       in this process only

An axis is one value, a comma list, or START:STOP:COUNT (numpy.linspace). The store is
OUT/sweep.zarr (open it with xarray.open_zarr); the figures OUT/phase-NAME.png and
OUT/slopes.png. Running the same command again resumes: stored points are reused,
and the final store is the same bit for bit. A store of another grid is refused.

limits (checked before any work): at most 1000 values an axis, 1,000,000 points,
50,000,000 weights in the largest network and 2e9 stored values; --scheduler waits
5 s for the scheduler.
"""


def register(subparsers) -> None:
    """Add the ``sweep`` subcommand."""
    p = subparsers.add_parser(
        "sweep", help="measure qˡ, cˡ, ‖δˡ‖ of random networks over a grid, on Dask, into Zarr",
        description="Sweep a grid of activation × σ_w² × σ_b² × depth × width × seed: draw a random network at "
                    "every point, run a batch through it, store every layer's qˡ, cˡ and ln‖δˡ‖ beside the "
                    "mean-field prediction, and draw the measured phase diagram and slopes.",
        epilog=EXAMPLES, formatter_class=EXAMPLE_FORMATTER)
    p.add_argument("--activation", default="tanh", help="activation(s): names or expressions, comma separated")
    p.add_argument("--sigma-w2", default="1.5", help="σ_w² axis (> 0), e.g. 1:4:16")
    p.add_argument("--sigma-b2", default="0.05", help="σ_b² axis (≥ 0)")
    p.add_argument("--depth", default="30", help="weighted layers per network (axis; at most 1000)")
    p.add_argument("--width", default="200", help="units per layer (axis; at most 10,000)")
    p.add_argument("--seeds", type=integer, default=1, help="random networks per point (default 1)")
    p.add_argument("--seed", type=integer, default=0, help="first seed (default 0)")
    p.add_argument("--batch", type=integer, default=8, help="examples run through each network (default 8)")
    p.add_argument("--data", default="gaussian", choices=("gaussian", "digits"),
                   help="inputs: Gaussian with pairwise correlation 0.5 (default), or the embedded digits")
    p.add_argument("--out", required=True, help="output folder (the store is OUT/sweep.zarr)")
    p.add_argument("--scheduler", default=None, help="a Dask scheduler's address, tcp://HOST:PORT")
    p.add_argument("--engine", default="auto", choices=("auto", "serial", "local"),
                   help="without --scheduler: serial, a local cluster, or auto (serial for tiny grids)")
    p.add_argument("--workers", type=integer, default=None, help="local cluster processes (default: one per core)")
    p.add_argument("--no-figures", action="store_true", help="store the measurements only")
    add_output_options(p)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from gradmath.errors import InvalidParameterError
    from gradmath.sweeps import make_grid, run_sweep

    if not str(args.out).strip():
        raise InvalidParameterError("--out must name a folder")
    grid = make_grid(activation=args.activation, sigma_w2=args.sigma_w2, sigma_b2=args.sigma_b2, depth=args.depth,
                     width=args.width, seeds=args.seeds, seed=args.seed, batch=args.batch, data=args.data)
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise InvalidParameterError(f"--out {args.out} is a file; give a folder")

    def dashboard(link: str) -> None:
        if not args.quiet:
            print(f"gradmath sweep: Dask dashboard at {link}", file=sys.stderr)

    with progress_bar(args, total=grid.size, desc="sweep", unit="point") as bar:
        def progress(done: int, total: int) -> None:
            bar.update(done - bar.n)

        result = run_sweep(grid, out / "sweep.zarr", engine=args.engine, scheduler=args.scheduler,
                           workers=args.workers, progress=progress, dashboard=dashboard)
    payload = result.to_json()
    if not args.quiet:
        for note in result.notes:
            print(f"gradmath sweep: note: {note}", file=sys.stderr)
    payload["figures"] = [] if args.no_figures else [str(p) for p in write_figures(result.store, out)]
    emit(args, payload, _text(payload))
    return 0


def write_figures(store, out) -> list:
    """The phase diagram of each activation and the slopes figure, as PNG files in ``out``."""
    import xarray as xr

    from gradmath.reports.files import save_figure
    from gradmath.sweeps.figures import phase_figure, slope_figure

    ds = xr.open_zarr(str(store), consolidated=True).load()
    files = []
    for name in ds["activation"].values:
        slug = "".join(ch if ch.isalnum() else "_" for ch in str(name)).strip("_")[:40] or "activation"
        files.append(save_figure(phase_figure(ds, str(name)), out / f"phase-{slug}.png"))
    files.append(save_figure(slope_figure(ds), out / "slopes.png"))
    return files


def _text(payload: dict) -> str:
    lines = [f"store: {payload['store']}",
             f"points: {payload['points']} ({payload['computed']} computed now, {payload['reused']} already stored)",
             f"engine: {payload['engine']}" + (f", {payload['workers']} workers" if payload["workers"] else "")]
    lines += [f"figure: {f}" for f in payload["figures"]]
    lines.append("open with: xarray.open_zarr(STORE)")
    return "\n".join(lines)
