"""gradmath.sweeps on real Dask clusters on localhost: the same store, bit for bit, as the serial engine.

A ``LocalCluster`` of 2 worker processes; a ``dask scheduler`` and two ``dask worker`` processes started as
subprocesses on 127.0.0.1 and reached by ``--scheduler``; one of those workers killed mid-sweep (its nanny
starts a new one and its points rerun); a sweep interrupted on the cluster and resumed serially.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from gradmath.cli import main
from gradmath.sweeps import make_grid, run_sweep
from tests.test_sweeps import store_bytes

pytest.importorskip("distributed")

# σ_w² in tanh's ordered phase (critical σ_w² = 1.76 at σ_b² = 0.05): the prediction needs no c* solve, so
# the tests spend their time on the cluster, not on quadrature.
GRID = dict(activation="tanh,erf(x)", sigma_w2="0.5:1.5:3", sigma_b2="0.05", depth="5", width="16", seeds=2, batch=3)
#: Points slow enough (tens of ms each) that a worker can be killed while some are still to run, and more of
#: them (24) than the engine keeps in flight on 2 workers (16), so the window refills.
SLOW = dict(activation="tanh", sigma_w2="0.5:1.5:8", sigma_b2="0.05", depth="30", width="200", seeds=3, batch=8)
CLI = ["--activation", "tanh,erf(x)", "--sigma-w2", "0.5:1.5:3", "--sigma-b2", "0.05", "--depth", "5", "--width", "16",
       "--seeds", "2", "--batch", "3"]


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The serial engine's stores of GRID and SLOW."""
    root = tmp_path_factory.mktemp("serial")
    run_sweep(make_grid(**GRID), root / "grid.zarr", engine="serial")
    run_sweep(make_grid(**SLOW), root / "slow.zarr", engine="serial")
    return {"grid": store_bytes(root / "grid.zarr"), "slow": store_bytes(root / "slow.zarr")}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def scheduler():
    """A scheduler and two single-threaded workers (each under a nanny) as separate processes on localhost."""
    from distributed import Client

    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    dask = [sys.executable, "-c", "from dask.cli import run_cli; run_cli()"]   # `dask` of this Python
    procs = [subprocess.Popen(dask + ["scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    for _ in range(2):
        procs.append(subprocess.Popen(dask + ["worker", address, "--nworkers", "1", "--nthreads", "1",
                                              "--host", "127.0.0.1", "--no-dashboard"],
                                      env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    try:
        with Client(address, timeout=60) as client:
            client.wait_for_workers(2, timeout=60)
        yield address
    finally:
        for p in procs[::-1]:
            p.terminate()
        for p in procs[::-1]:
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def test_local_cluster_of_two_workers_writes_the_serial_store(tmp_path, reference):
    r = run_sweep(make_grid(**GRID), tmp_path / "s.zarr", engine="local", workers=2)
    assert (r.engine, r.workers, r.computed) == ("local", 2, 12)
    assert store_bytes(tmp_path / "s.zarr") == reference["grid"]


def test_remote_scheduler_by_address_writes_the_serial_store(tmp_path, reference, scheduler, capsys):
    assert main(["sweep", *CLI, "--out", str(tmp_path), "--scheduler", scheduler, "--json", "--no-figures"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["engine"], out["workers"], out["points"], out["computed"]) == ("scheduler", 2, 12, 12)
    assert store_bytes(tmp_path / "sweep.zarr") == reference["grid"]


def test_interrupted_on_the_cluster_then_resumed_serially(tmp_path, reference, scheduler):
    def stop(done, total):
        if done == 4:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_sweep(make_grid(**GRID), tmp_path / "s.zarr", scheduler=scheduler, progress=stop)
    r = run_sweep(make_grid(**GRID), tmp_path / "s.zarr", engine="serial")
    assert (r.computed, r.reused) == (8, 4)
    assert store_bytes(tmp_path / "s.zarr") == reference["grid"]


def test_a_worker_killed_mid_sweep_is_replaced_and_the_store_is_the_same(tmp_path, reference, scheduler):
    from distributed import Client

    killed = []
    with Client(scheduler, timeout=30) as client:
        def kill_one(done, total):
            if done == 2 and not killed:
                pids = client.run(os.getpid)            # {worker address: pid of the worker process}
                pid = sorted(pids.values())[0]
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)

        r = run_sweep(make_grid(**SLOW), tmp_path / "s.zarr", scheduler=scheduler, progress=kill_one)
        assert killed and r.computed == 24
        assert store_bytes(tmp_path / "s.zarr") == reference["slow"]
        client.wait_for_workers(2, timeout=30)          # the nanny started a new worker
        assert killed[0] not in client.run(os.getpid).values()


def test_speeds_with_many_seeds_through_the_engine_equal_the_serial_speeds(scheduler, capsys):
    args = ["speeds", "--seeds", "30", "--examples", "300", "--json", "--quiet"]     # 2 tasks of ≤ 25 seeds
    assert main(args) == 0
    serial = json.loads(capsys.readouterr().out)
    assert main(args + ["--scheduler", scheduler]) == 0
    remote = json.loads(capsys.readouterr().out)
    assert remote["init"] == serial["init"] and remote["seeds"] == 30
