"""The sweep's store: an xarray Dataset in Zarr, with coordinates named after the grid's axes, written point by point.

Layout (Zarr format 2, readable by zarr ≥ 2.16 and ``xarray.open_zarr``): dimensions ``activation, sigma_w2,
sigma_b2, depth, width, seed`` (the grid), ``example`` and ``layer`` (1 = the first weighted layer, the proofs'
l = 2). Variables: ``q``, ``c``, ``log_delta_mean`` (grid × layer), ``log_delta`` (grid × example × layer),
``q_star``, ``c_star``, ``chi_1``, ``chi_c`` (grid) and ``done`` (grid; 1 once a point is stored). Each point is
its own chunk of every variable; NaN marks a layer beyond a point's depth, a point not yet computed, or a
prediction that does not exist (no finite fixed point; c* undefined when q* = 0).

Nothing lost, nothing repeated: a point's chunks are written (each file atomically, by a temporary file and a
rename) and only then its ``done`` flag; a SIGINT that arrives meanwhile is held until the flag is written. A
point without its flag is recomputed on the next run, so an interrupted store resumes to the same bytes as an
uninterrupted one. The store is first written in full (metadata, coordinates) into a temporary folder beside it
and renamed into place; its attributes hold the grid's fingerprint and :data:`FORMAT_VERSION`, and a store
whose fingerprint differs (another grid, another version) is refused with one line and left as it is.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import tempfile
import threading
from pathlib import Path

import numpy as np

from gradmath.errors import DataError
from gradmath.sweeps.axes import AXES
from gradmath.sweeps.grid import FORMAT_VERSION, Grid
from gradmath.sweeps.point import EXAMPLE_VARIABLES, LAYER_VARIABLES
from gradmath.sweeps.prediction import POINT_VARIABLES

__all__ = ["SweepStore", "open_store", "StoreError"]

_MARK = "gradmath_sweep"


def _format_2() -> dict:
    """Zarr format 2 (stable for strings, read by zarr 2 and 3); zarr 2 writes nothing else and takes no keyword."""
    import zarr

    return {"zarr_format": 2} if int(zarr.__version__.split(".")[0]) >= 3 else {}


class StoreError(DataError):
    """A store that cannot be used (another grid, another version, not a sweep store, a full disk)."""


def open_store(path, grid: Grid) -> SweepStore:
    """The store at ``path`` for ``grid``: created if absent, checked against ``grid`` if present."""
    path = Path(path)
    if not path.exists() or (path.is_dir() and not any(path.iterdir())):
        _create(path, grid)
    return SweepStore(path, grid)


def _attributes(grid: Grid) -> dict:
    from gradmath import __version__

    return {_MARK: 1, "fingerprint": grid.fingerprint(), "format_version": FORMAT_VERSION,
            "gradmath_version": __version__, "grid": json.dumps(grid.to_json(), sort_keys=True),
            "layer": "1 = the first weighted layer (the proofs' l = 2); NaN beyond a point's depth",
            "NaN": "not computed yet (done = 0), beyond the point's depth, or a prediction that does not exist",
            "random_stream": "numpy SeedSequence(seed, spawn_key=(depth, width, batch))"}


def _create(path: Path, grid: Grid) -> None:
    import dask.array as da
    import xarray as xr

    grid_dims = AXES
    gshape = grid.shape
    one = (1,) * len(gshape)
    k, layers = grid.batch, grid.layers
    variables = {}
    encoding = {}
    for name in LAYER_VARIABLES:
        variables[name] = (grid_dims + ("layer",), da.full(gshape + (layers,), np.nan, chunks=one + (layers,)))
        encoding[name] = {"_FillValue": np.nan}
    for name in EXAMPLE_VARIABLES:
        variables[name] = (grid_dims + ("example", "layer"),
                           da.full(gshape + (k, layers), np.nan, chunks=one + (k, layers)))
        encoding[name] = {"_FillValue": np.nan}
    for name in POINT_VARIABLES:
        variables[name] = (grid_dims, da.full(gshape, np.nan, chunks=one))
        encoding[name] = {"_FillValue": np.nan}
    variables["done"] = (grid_dims, da.zeros(gshape, dtype="i1", chunks=one))
    encoding["done"] = {"_FillValue": None}
    coords = {a.name: np.array(a.values) for a in grid.axes}
    coords["layer"] = np.arange(1, layers + 1)
    coords["example"] = np.arange(k)
    ds = xr.Dataset(variables, coords=coords, attrs=_attributes(grid))
    parent = path.parent if str(path.parent) else Path(".")
    try:
        parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=parent))
        try:
            ds.to_zarr(tmp / "store", mode="w-", compute=False, consolidated=True, encoding=encoding,
                       **_format_2())
            os.replace(tmp / "store", path)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    except OSError as err:
        raise StoreError(f"cannot create the store {path}: {err.strerror or err}") from None


class SweepStore:
    """An open, checked store; :meth:`write_point` stores one point, :meth:`done` says which are stored."""

    def __init__(self, path: Path, grid: Grid):
        import zarr

        self.path, self.grid = Path(path), grid
        try:
            self._group = zarr.open_group(str(self.path), mode="r+", **_format_2())
            attrs = dict(self._group.attrs)
        except Exception:  # noqa: BLE001 - any unreadable folder: refused, untouched
            raise StoreError(f"{self.path} exists and is not a gradmath sweep store; choose another --out "
                             "(nothing was changed)") from None
        if attrs.get(_MARK) != 1:
            raise StoreError(f"{self.path} exists and is not a gradmath sweep store; choose another --out "
                             "(nothing was changed)")
        if attrs.get("format_version") != FORMAT_VERSION or attrs.get("fingerprint") != grid.fingerprint():
            raise StoreError(f"{self.path} holds a sweep of another grid or gradmath version (format "
                             f"{attrs.get('format_version')}, gradmath {attrs.get('gradmath_version')}); rerun with "
                             "that grid, or choose another --out (nothing was changed)")
        self._arrays = {name: self._group[name] for name in
                        LAYER_VARIABLES + EXAMPLE_VARIABLES + POINT_VARIABLES + ("done",)}

    def done(self) -> np.ndarray:
        """A boolean array of the grid's shape: True where a point is fully stored."""
        return np.asarray(self._arrays["done"][...]) == 1

    def write_point(self, index: tuple[int, ...], result: dict) -> None:
        """Store one point's arrays, then its ``done`` flag (SIGINT held until both are written)."""
        try:
            with _hold_interrupts():
                for name in LAYER_VARIABLES + EXAMPLE_VARIABLES + POINT_VARIABLES:
                    self._arrays[name][tuple(index)] = result[name]
                self._arrays["done"][tuple(index)] = 1
        except OSError as err:
            raise StoreError(f"cannot write to the store {self.path}: {err.strerror or err}; free space and run "
                             "the same command again (stored points are kept)") from None

    def dataset(self):
        """The store as an :class:`xarray.Dataset` (lazy)."""
        import xarray as xr

        return xr.open_zarr(str(self.path), consolidated=True)


@contextlib.contextmanager
def _hold_interrupts():
    """Defer SIGINT (Ctrl-C) until the block ends, when called from the main thread; elsewhere do nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught = []
    previous = signal.signal(signal.SIGINT, lambda sig, frame: caught.append(sig))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if caught:
            raise KeyboardInterrupt


