"""gradmath.sweeps on the serial engine: axes, grids, the store, resuming, bad input (no cluster needed)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest

from gradmath.cli import main
from gradmath.errors import GradmathError, InvalidParameterError
from gradmath.sweeps import make_grid, run_sweep
from gradmath.sweeps.axes import MAX_AXIS_VALUES, parse_axis
from gradmath.sweeps.engine import SchedulerError
from gradmath.sweeps.point import measure_point
from gradmath.sweeps.store import StoreError

GRID = dict(activation="tanh", sigma_w2="0.5:1.5:3", sigma_b2="0.05", depth="4,6", width="12", seeds=2, batch=3)


def store_bytes(path: Path) -> dict[str, bytes]:
    """Every file of a store, by relative path: two stores are the same bit for bit iff these are equal."""
    return {p.relative_to(path).as_posix(): p.read_bytes() for p in sorted(Path(path).rglob("*")) if p.is_file()}


@pytest.mark.parametrize("text, values", [
    ("1:4:4", (1.0, 2.0, 3.0, 4.0)), ("0.5", (0.5,)), (" 1, 2.5 ,3e-1", (1.0, 2.5, 0.3)), ([1, 2], (1.0, 2.0)),
])
def test_axis_forms(text, values):
    assert parse_axis("sigma_w2", text).values == values


def test_activation_axis_keeps_commas_inside_an_expression():
    assert parse_axis("activation", "tanh, max(x, 0)").values == ("tanh", "max(x, 0)")


@pytest.mark.parametrize("name, text, words", [
    ("sigma_w2", "", "empty"), ("sigma_w2", " , ", "empty"), ("sigma_w2", "a,b", "not a decimal"),
    ("sigma_w2", "0", "must be >"), ("sigma_b2", "-0.1", "must be >="), ("sigma_w2", "nan", "not a decimal"),
    ("sigma_w2", "1:2:0", "COUNT=0"), ("sigma_w2", "1:2:x", "COUNT=x"), ("sigma_w2", "1,1", "repeats"),
    ("sigma_w2", "1:1:3", "START equals STOP"), ("depth", "0", "in [1, 1000]"), ("depth", "1:4:3", "whole numbers"),
    ("width", "2.5", "whole number"), ("width", "20000", "in [1, 10000]"), ("activation", "tanhh", "unknown activation"),
    ("activation", "__import__('os')", ""), ("sigma_w2", f"1:2:{MAX_AXIS_VALUES + 1}", "COUNT"),
    ("sigma_w2", "1," * 3000, "longer than"),
])
def test_bad_axes_are_refused_with_one_line(name, text, words):
    with pytest.raises(GradmathError) as info:
        parse_axis(name, text)
    assert "\n" not in str(info.value) and words in str(info.value)


def test_grid_limits_are_checked_before_anything_is_allocated():
    with pytest.raises(InvalidParameterError, match="points is more than"):
        make_grid(sigma_w2="1:2:1000", sigma_b2="0:1:1000", seeds=2)
    with pytest.raises(InvalidParameterError, match="weights, more than"):
        make_grid(width="10000", depth="1000")


def test_a_point_is_a_function_of_its_coordinates_only():
    g = make_grid(**GRID)
    a = measure_point(g.task((0, 1, 0, 1, 0, 1)))
    # the same point in a different grid (other axes around it): the same numbers, bit for bit
    h = make_grid(activation="tanh", sigma_w2="1", sigma_b2="0.05", depth="6", width="12", seeds=1, seed=1, batch=3)
    b = measure_point(h.task((0, 0, 0, 0, 0, 0)))
    for key in a:
        assert np.array_equal(a[key][..., :6], b[key], equal_nan=True), key
    # measured per layer: q¹ = σ_w² |x|²/n + mean of b², the first layer's q close to it
    assert a["q"].shape == (6,) and a["log_delta"].shape == (3, 6) and np.all(np.isfinite(a["log_delta"]))


def test_serial_sweep_resumes_and_reports_counts(tmp_path):
    g = make_grid(**GRID)
    calls = []

    def interrupt(done, total):
        calls.append(done)
        if done == 5:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_sweep(g, tmp_path / "a.zarr", engine="serial", progress=interrupt)
    import xarray as xr

    partial = xr.open_zarr(tmp_path / "a.zarr")
    assert int(partial["done"].sum()) == 5                      # exactly the points stored before Ctrl-C
    again = run_sweep(g, tmp_path / "a.zarr", engine="serial")
    assert (again.points, again.computed, again.reused) == (12, 7, 5)
    whole = run_sweep(g, tmp_path / "b.zarr", engine="serial")
    assert whole.computed == 12
    assert store_bytes(tmp_path / "a.zarr") == store_bytes(tmp_path / "b.zarr")
    third = run_sweep(g, tmp_path / "b.zarr", engine="serial")
    assert (third.computed, third.reused) == (0, 12)
    ds = xr.open_zarr(tmp_path / "b.zarr")
    assert list(ds["q"].dims) == ["activation", "sigma_w2", "sigma_b2", "depth", "width", "seed", "layer"]
    assert np.isnan(ds["q"].sel(depth=4).values[..., 4:]).all() and np.isfinite(ds["q"].sel(depth=4).values[..., :4]).all()


def test_a_point_with_data_but_no_done_flag_is_recomputed(tmp_path):
    """An interruption between a point's arrays and its flag: the rerun recomputes and overwrites that point."""
    import zarr

    g = make_grid(**GRID)
    run_sweep(g, tmp_path / "a.zarr", engine="serial")
    reference = store_bytes(tmp_path / "a.zarr")
    group = zarr.open_group(str(tmp_path / "a.zarr"), mode="r+")
    group["q"][0, 1, 0, 0, 0, 1] = 123.0       # a torn point: new data, flag cleared
    group["done"][0, 1, 0, 0, 0, 1] = 0
    r = run_sweep(g, tmp_path / "a.zarr", engine="serial")
    assert (r.computed, r.reused) == (1, 11)
    assert store_bytes(tmp_path / "a.zarr") == reference


def test_cli_json_and_a_store_of_another_grid_is_refused_and_left_intact(tmp_path, capsys):
    args = ["sweep", "--sigma-w2", "1,2", "--depth", "3", "--width", "8", "--out", str(tmp_path), "--json",
            "--no-figures"]
    assert main(args) == 0
    first = json.loads(capsys.readouterr().out)
    assert first["points"] == 2 and first["computed"] == 2 and first["reused"] == 0
    assert first["store"] == str(tmp_path / "sweep.zarr")
    assert main(args) == 0
    assert json.loads(capsys.readouterr().out)["computed"] == 0
    before = store_bytes(tmp_path / "sweep.zarr")
    assert main(["sweep", "--sigma-w2", "1,3", "--depth", "3", "--width", "8", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "another grid" in err
    assert store_bytes(tmp_path / "sweep.zarr") == before


def test_a_store_of_another_version_is_refused(tmp_path, monkeypatch, capsys):
    import gradmath.sweeps.grid as grid_module

    args = ["sweep", "--sigma-w2", "1", "--depth", "2", "--width", "4", "--out", str(tmp_path), "--no-figures"]
    assert main(args) == 0
    before = store_bytes(tmp_path / "sweep.zarr")
    monkeypatch.setattr(grid_module, "FORMAT_VERSION", grid_module.FORMAT_VERSION + 1)
    monkeypatch.setattr("gradmath.sweeps.store.FORMAT_VERSION", grid_module.FORMAT_VERSION)
    capsys.readouterr()
    assert main(args) == 2
    assert "gradmath version" in capsys.readouterr().err
    assert store_bytes(tmp_path / "sweep.zarr") == before


def test_a_folder_that_is_not_a_store_is_refused(tmp_path, capsys):
    (tmp_path / "sweep.zarr").mkdir()
    (tmp_path / "sweep.zarr" / "notes.txt").write_text("mine")
    assert main(["sweep", "--out", str(tmp_path), "--depth", "2", "--width", "4"]) == 2
    assert "not a gradmath sweep store" in capsys.readouterr().err
    assert (tmp_path / "sweep.zarr" / "notes.txt").read_text() == "mine"


def test_a_full_disk_is_one_line_and_keeps_the_stored_points(tmp_path, monkeypatch, capsys):
    import errno

    import zarr

    g = make_grid(**GRID)
    run_sweep(g, tmp_path / "sweep.zarr", engine="serial", progress=None)
    group = zarr.open_group(str(tmp_path / "sweep.zarr"), mode="r+")
    group["done"][0, 0, 0, 0, 0, 0] = 0                     # one point left to compute
    original = zarr.Array.__setitem__

    def full(self, key, value):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(zarr.Array, "__setitem__", full)
    args = ["sweep", "--sigma-w2", "0.5:1.5:3", "--depth", "4,6", "--width", "12", "--seeds", "2", "--batch", "3",
            "--out", str(tmp_path), "--no-figures"]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "No space left" in err
    monkeypatch.setattr(zarr.Array, "__setitem__", original)
    assert int(np.sum(zarr.open_group(str(tmp_path / "sweep.zarr"))["done"][...])) == 11


def test_an_unreachable_scheduler_is_one_line_exit_2_quickly(tmp_path, capsys):
    import socket

    with socket.socket() as s:            # a port that nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    start = time.perf_counter()
    assert main(["sweep", "--out", str(tmp_path / "x"), "--scheduler", f"tcp://127.0.0.1:{port}"]) == 2
    assert time.perf_counter() - start < 5.0
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "cannot reach the Dask scheduler" in err
    assert not (tmp_path / "x").exists()                   # nothing created
    with pytest.raises(InvalidParameterError, match="not an address"):
        run_sweep(make_grid(), tmp_path / "y", scheduler="127.0.0.1")
    assert issubclass(SchedulerError, ConnectionError) and issubclass(StoreError, ValueError)


def test_a_missing_extra_is_named_in_one_line(tmp_path, monkeypatch):
    import importlib.util

    from gradmath.errors import MissingDependencyError

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "zarr" else real(name, *a))
    with pytest.raises(MissingDependencyError, match=r"need zarr: pip install 'gradmath\[sweeps\]'"):
        run_sweep(make_grid(), tmp_path / "s.zarr")
    assert not (tmp_path / "s.zarr").exists()


def test_ctrl_c_on_the_command_line_leaves_a_store_that_resumes_to_the_same_bytes(tmp_path):
    """A real SIGINT to ``python -m gradmath sweep`` part-way: exit 130, every stored point whole, and the
    rerun finishes it to the bytes of an uninterrupted run."""
    import os
    import signal
    import subprocess
    import sys

    axes = ["--sigma-w2", "0.5:1.5:6", "--depth", "30", "--width", "200", "--seeds", "2", "--engine", "serial",
            "--no-figures", "--quiet"]
    root = Path(__file__).resolve().parents[1]
    proc = subprocess.Popen([sys.executable, "-m", "gradmath", "sweep", *axes, "--out", str(tmp_path / "cut")],
                            env={**os.environ, "PYTHONPATH": str(root)}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    flags = tmp_path / "cut" / "sweep.zarr" / "done"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None and len(list(flags.glob("[0-9]*"))) < 3:
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    import xarray as xr

    stored = int(xr.open_zarr(tmp_path / "cut" / "sweep.zarr")["done"].sum())
    assert proc.returncode == 130 and "interrupted" in err and 3 <= stored < 12, (proc.returncode, err, stored)
    assert main(["sweep", *axes, "--out", str(tmp_path / "cut"), "--json"]) == 0
    assert main(["sweep", *axes, "--out", str(tmp_path / "whole")]) == 0
    assert store_bytes(tmp_path / "cut" / "sweep.zarr") == store_bytes(tmp_path / "whole" / "sweep.zarr")


def test_an_activation_without_a_mean_field_prediction_is_measured_with_nan_and_a_note(tmp_path, monkeypatch):
    import xarray as xr

    import gradmath.meanfield.phase as phase

    def refuse(activation, *args, **kwargs):
        raise InvalidParameterError(f"the mean-field integrals of {activation} diverge")

    monkeypatch.setattr(phase, "phase_diagram", refuse)
    r = run_sweep(make_grid(depth="3", width="8"), tmp_path / "s.zarr", engine="serial")
    assert r.notes == ("tanh: no mean-field prediction (the mean-field integrals of tanh diverge)",)
    ds = xr.open_zarr(tmp_path / "s.zarr")
    assert np.isnan(ds["chi_1"].values).all() and np.isfinite(ds["q"].values).all()
