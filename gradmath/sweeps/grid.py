"""The grid of a sweep: its axes, what every point shares (batch, data), its size limits and its fingerprint.

A point is one index per axis of :data:`gradmath.sweeps.axes.AXES`; ``Grid.task(index)`` is everything a worker
needs to measure it (:class:`gradmath.sweeps.point.PointTask`). The fingerprint is the SHA-256 of the grid's
canonical JSON together with :data:`FORMAT_VERSION` and gradmath's version, so a store written for another grid
or by another version is recognised and refused (:mod:`gradmath.sweeps.store`).

>>> g = make_grid(activation="tanh", sigma_w2="1:2:3", sigma_b2="0.05", depth="5", width="20", seeds=2)
>>> g.shape, g.size
((1, 3, 1, 1, 1, 2), 6)
>>> g.task((0, 2, 0, 0, 0, 1)).sigma_w2, g.task((0, 2, 0, 0, 0, 1)).seed
(2.0, 1)
"""

from __future__ import annotations

import hashlib
import itertools
import json
from dataclasses import dataclass

import numpy as np

from gradmath.errors import InvalidParameterError
from gradmath.sweeps.axes import AXES, Axis, parse_axis
from gradmath.sweeps.point import DATA_SOURCES, MAX_WEIGHTS, PointTask, input_width
from gradmath.validation import check_choice, check_int, check_real

__all__ = ["Grid", "make_grid", "FORMAT_VERSION", "MAX_POINTS", "MAX_BATCH", "MAX_STORE_VALUES"]

#: Bumped whenever what a point stores, or how it is computed, changes; older stores are then refused.
FORMAT_VERSION = 1
#: Most grid points in one sweep (10⁶: a 100 × 100 (σ_w², σ_b²) grid × 10 seeds × 10 more values).
MAX_POINTS = 1_000_000
#: Most examples in a point's batch.
MAX_BATCH = 1024
#: Most float64 values in one store (points × (examples + 3) × layers): 2·10⁹, 16 GB.
MAX_STORE_VALUES = 2_000_000_000


@dataclass(frozen=True)
class Grid:
    """Axes (in the order of :data:`AXES`) and what every point shares."""

    axes: tuple[Axis, ...]
    batch: int = 8
    data: str = "gaussian"
    c0: float = 0.5

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(len(a) for a in self.axes)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))

    @property
    def layers(self) -> int:
        """The deepest network's number of weighted layers (the store's ``layer`` dimension)."""
        return max(self.axis("depth").values)

    def axis(self, name: str) -> Axis:
        return self.axes[AXES.index(name)]

    def indices(self):
        """Every point's index tuple, in C order (the last axis, seed, fastest)."""
        return itertools.product(*(range(n) for n in self.shape))

    def task(self, index: tuple[int, ...]) -> PointTask:
        values = dict(zip(AXES, (a.values[i] for a, i in zip(self.axes, index))))
        return PointTask(index=tuple(index), batch=self.batch, data=self.data, c0=self.c0, layers=self.layers,
                         **values)

    def to_json(self) -> dict:
        return {"axes": {a.name: list(a.values) for a in self.axes}, "batch": self.batch, "data": self.data,
                "c0": self.c0}

    def fingerprint(self) -> str:
        """SHA-256 of the grid, :data:`FORMAT_VERSION` and gradmath's version."""
        from gradmath import __version__

        text = json.dumps({"grid": self.to_json(), "format": FORMAT_VERSION, "gradmath": __version__},
                          sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()


def make_grid(*, activation="tanh", sigma_w2="1.5", sigma_b2="0.05", depth="30", width="200", seeds: int = 1,
              seed: int = 0, batch: int = 8, data: str = "gaussian", c0: float = 0.5) -> Grid:
    """A checked :class:`Grid`: each axis a value, a comma list or START:STOP:COUNT (text or values).

    ``seeds`` networks per point, with seeds ``seed``, …, ``seed + seeds − 1``. The sizes are checked here,
    before anything is allocated: at most :data:`MAX_POINTS` points, :data:`MAX_BATCH` examples,
    :data:`gradmath.sweeps.point.MAX_WEIGHTS` weights in the largest network and :data:`MAX_STORE_VALUES`
    stored values.
    """
    named = (parse_axis("activation", activation), parse_axis("sigma_w2", sigma_w2),
             parse_axis("sigma_b2", sigma_b2), parse_axis("depth", depth), parse_axis("width", width))
    seeds = check_int("seeds", seeds, min_value=1, max_value=100_000)
    seed = check_int("seed", seed, min_value=0, max_value=2**62)
    axes = named + (Axis("seed", tuple(range(seed, seed + seeds))),)
    grid = Grid(axes, batch=check_int("batch", batch, min_value=2, max_value=MAX_BATCH),
                data=check_choice("data", data, DATA_SOURCES),
                c0=check_real("c0", c0, min_value=0.0, max_value=1.0))
    if grid.size > MAX_POINTS:
        raise InvalidParameterError(f"a grid of {' × '.join(map(str, grid.shape))} = {grid.size} points is more "
                                    f"than {MAX_POINTS}; use fewer values")
    n0 = max(input_width(data, w) for w in grid.axis("width").values)
    widest = max(grid.axis("width").values)
    weights = n0 * widest + (grid.layers - 1) * widest * widest
    if weights > MAX_WEIGHTS:
        raise InvalidParameterError(f"the largest network has {weights} weights, more than {MAX_WEIGHTS}; "
                                    "use smaller --width or --depth")
    stored = grid.size * (grid.batch + 3) * grid.layers
    if stored > MAX_STORE_VALUES:
        raise InvalidParameterError(f"the store would hold {stored} values, more than {MAX_STORE_VALUES}; "
                                    "use fewer points, layers or --batch")
    return grid
