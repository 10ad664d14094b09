"""The example of ``docs/torch.md``: a sigmoid and a ReLU network trained on the digits with the monitor on.

The sigmoid network starts from PyTorch's default initialisation (weights U(±1/√n), σ_w² = 1/3),
deep in mean-field theory's ordered phase: its first layer learns hundreds of times slower than
its last, and the monitor warns so. The ReLU network starts at the critical point (He
initialisation, σ_w² = 2, σ_b² = 0, χ₁ = 1), and its layers learn at comparable speeds.

``python -m gradmath.torch.digits OUT`` writes ``OUT/<name>.csv`` (the records) and
``OUT/<name>.png`` (speed per layer over training) for both networks; ``--data FOLDER`` uses
Fashion-MNIST's IDX files instead of the embedded digits (never downloaded).

>>> runs = train_both(epochs=1, hidden=(12, 12), limit=200, batch_size=50)
>>> [(run.name, run.monitor.step) for run in runs]
[('sigmoid-default-init', 4), ('relu-critical-init', 4)]
"""

from __future__ import annotations

import argparse
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

from gradmath.validation import check_int

__all__ = ["train_digits", "train_both", "DigitsRun", "main"]


@dataclass(frozen=True, eq=False)
class DigitsRun:
    """One trained network: its name, the monitor (records, messages) and the first/last speed ratio per step."""

    name: str
    monitor: object
    accuracy: float

    def speed_ratios(self) -> list[float]:
        """‖∂C/∂b²‖ / ‖∂C/∂bᴸ‖ at every step."""
        series = self.monitor.records.series("speed")
        first, last = series[min(series)][1], series[max(series)][1]
        return [a / b for a, b in zip(first, last)]


def train_digits(activation: str = "sigmoid", *, critical: bool = False, hidden=(30, 30, 30, 30), epochs: int = 10,
                 batch_size: int = 32, lr: float = 0.1, seed: int = 0, data: str = "digits",
                 limit: int | None = None, copy_every: int = 10, bounds: bool = True) -> DigitsRun:
    """Train a classifier with the monitor on, by mini-batch SGD with cross-entropy (float32, CPU)."""
    import torch
    from torch import nn

    from gradmath.data import load_dataset
    from gradmath.torch.monitor import GradientMonitor

    epochs = check_int("epochs", epochs, min_value=1, max_value=10_000)
    batch_size = check_int("batch_size", batch_size, min_value=1, max_value=100_000)
    dataset = load_dataset(data, limit=limit)
    x = torch.tensor(dataset.x, dtype=torch.float32)
    y = torch.tensor(dataset.y, dtype=torch.int64)
    act = {"sigmoid": nn.Sigmoid, "relu": nn.ReLU, "tanh": nn.Tanh}[activation]
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    mods, n = [], dataset.n_inputs
    for width in hidden:
        linear = nn.Linear(n, width)
        if critical:
            nn.init.kaiming_normal_(linear.weight, nonlinearity="relu", generator=generator)
            nn.init.zeros_(linear.bias)
        mods += [linear, act()]
        n = width
    mods.append(nn.Linear(n, dataset.n_classes))
    model = nn.Sequential(*mods)
    loss_fn = nn.CrossEntropyLoss()
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    name = f"{activation}-{'critical' if critical else 'default'}-init"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # the messages stay in monitor.messages
        with GradientMonitor(model, loss=loss_fn, copy_every=copy_every, bounds=bounds) as monitor:
            for _ in range(epochs):
                order = torch.randperm(len(x), generator=generator)
                for start in range(0, len(x), batch_size):
                    batch = order[start:start + batch_size]
                    opt.zero_grad()
                    loss_fn(model(x[batch]), y[batch]).backward()
                    opt.step()
    with torch.no_grad():
        accuracy = float((model(x).argmax(1) == y).double().mean())
    return DigitsRun(name, monitor, accuracy)


def train_both(**options) -> list[DigitsRun]:
    """The sigmoid network at PyTorch's default initialisation and the ReLU network at the critical one."""
    return [train_digits("sigmoid", **options), train_digits("relu", critical=True, **options)]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gradmath.torch.digits", description=__doc__.split("\n\n")[0])
    parser.add_argument("out", help="folder for the records (.csv) and figures (.png)")
    parser.add_argument("--data", default="digits", help="'digits' (embedded) or a folder of Fashion-MNIST IDX files")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--limit", type=int, default=None, help="use the first LIMIT examples")
    args = parser.parse_args(argv)
    from gradmath.reports.files import save_figure
    from gradmath.torch.figure import speeds_figure

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for run in train_both(epochs=args.epochs, data=args.data, limit=args.limit):
        run.monitor.records.to_csv(out / f"{run.name}.csv")
        save_figure(speeds_figure(run.monitor.records, title=run.name), out / f"{run.name}.png")
        ratios = run.speed_ratios()
        print(f"{run.name}: accuracy {run.accuracy:.3f}; first/last layer speed ratio {ratios[0]:.3g} at step 0, "
              f"{ratios[-1]:.3g} at step {len(ratios) - 1}")
        for message in run.monitor.messages:
            print(f"  warning: {message}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
