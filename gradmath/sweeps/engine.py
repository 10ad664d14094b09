"""Run a sweep: serially, on a Dask ``LocalCluster``, or on an existing Dask cluster by its scheduler address.

Workers only compute (:func:`gradmath.sweeps.point.run_task`); this process writes each result into the store
as it arrives, so remote workers need no access to the store and a point is stored exactly once. Points already
stored are skipped (``reused``); the rest are submitted a window at a time (bounded memory for 10⁶ points).
A worker that dies is replaced by Dask (its nanny) and its points rerun elsewhere; since each point's random
stream depends only on the point (:mod:`gradmath.sweeps.point`), the store is the same bit for bit whichever
engine ran it, and after any number of interruptions.

>>> import tempfile, pathlib
>>> from gradmath.sweeps.grid import make_grid
>>> g = make_grid(sigma_w2="1,2", depth="3", width="10")
>>> with tempfile.TemporaryDirectory() as d:
...     r = run_sweep(g, pathlib.Path(d) / "s.zarr", engine="serial")
...     again = run_sweep(g, pathlib.Path(d) / "s.zarr", engine="serial")
>>> (r.points, r.computed, r.reused), (again.computed, again.reused)
((2, 2, 0), (0, 2))
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from gradmath.errors import GradmathError, InvalidParameterError, MissingDependencyError
from gradmath.sweeps.grid import FORMAT_VERSION, Grid
from gradmath.sweeps.point import run_task
from gradmath.sweeps.prediction import predict_grid
from gradmath.sweeps.store import open_store

__all__ = ["SweepResult", "run_sweep", "stream", "cluster_client", "SchedulerError", "ENGINES", "SERIAL_SECONDS",
           "CONNECT_TIMEOUT"]

ENGINES = ("auto", "serial", "local")
#: Under ``auto``, work estimated below this many seconds runs serially (a local cluster takes seconds to start).
SERIAL_SECONDS = 5.0
#: Seconds to wait for a scheduler before giving up.
CONNECT_TIMEOUT = 5.0
#: Most workers of a local cluster.
MAX_WORKERS = 512


class SchedulerError(GradmathError, ConnectionError):
    """The scheduler cannot be reached, or its workers run another gradmath."""


@dataclass(frozen=True)
class SweepResult:
    """What a run did: the store, the grid's points, how many were computed now and how many were found stored."""

    store: Path
    points: int
    computed: int
    reused: int
    engine: str
    workers: int
    dashboard: str | None = None
    notes: tuple[str, ...] = ()    #: activations without a mean-field prediction, and why

    def to_json(self) -> dict:
        return {"store": str(self.store), "points": self.points, "computed": self.computed, "reused": self.reused,
                "engine": self.engine, "workers": self.workers, "dashboard": self.dashboard,
                "notes": list(self.notes)}


def run_sweep(grid: Grid, store, *, engine: str = "auto", scheduler: str | None = None, workers: int | None = None,
              progress: Callable[[int, int], None] | None = None,
              dashboard: Callable[[str], None] | None = None,
              connect_timeout: float = CONNECT_TIMEOUT) -> SweepResult:
    """Compute every point of ``grid`` not yet in ``store`` and store it.

    ``engine``: ``"serial"`` (this process), ``"local"`` (a ``LocalCluster`` of ``workers`` processes, default
    one per core) or ``"auto"`` (serial when the points left are estimated under :data:`SERIAL_SECONDS`, else local);
    ``scheduler="tcp://HOST:PORT"`` uses that cluster instead. ``progress(done, total)`` is called after each
    point is stored; ``dashboard(address)`` once, when the cluster has a dashboard.

    Raises
    ------
    SchedulerError
        The scheduler does not answer within ``connect_timeout`` seconds.
    gradmath.sweeps.store.StoreError
        The store belongs to another grid or version, or cannot be written.
    """
    if engine not in ENGINES:
        raise InvalidParameterError(f"engine={engine!r} must be one of {', '.join(ENGINES)}")
    require_sweeps(("dask", "xarray", "zarr"))
    if workers is not None:
        from gradmath.validation import check_int

        workers = check_int("workers", workers, min_value=1, max_value=MAX_WORKERS)
    if scheduler is not None:
        scheduler = _check_address(scheduler)
        _probe(scheduler, connect_timeout)           # before the store is touched
    st = open_store(store, grid)
    done = st.done()
    todo = [index for index in grid.indices() if not done[index]]
    reused = grid.size - len(todo)
    if progress is not None and reused:
        progress(reused, grid.size)
    if not todo:
        return SweepResult(st.path, grid.size, 0, reused, "none", 0)
    count = reused
    predicted, notes = predict_grid(grid)

    def store_one(index, result):
        nonlocal count
        at = tuple(index[:3])
        st.write_point(index, {**result, **{name: predicted[name][at] for name in predicted}})
        count += 1
        if progress is not None:
            progress(count, grid.size)

    if scheduler is None and (engine == "serial" or (engine == "auto" and _serial_is_enough(grid, todo))):
        for index in todo:
            store_one(index, run_task(grid.task(index)))
        return SweepResult(st.path, grid.size, len(todo), reused, "serial", 1, notes=tuple(notes))
    with cluster_client(scheduler, workers, connect_timeout) as (client, kind):
        link = _dashboard(client)
        if link is not None and dashboard is not None:
            dashboard(link)
        nworkers = len(client.scheduler_info().get("workers", {}))
        _run_distributed(client, grid, todo, store_one)
    return SweepResult(st.path, grid.size, len(todo), reused, kind, nworkers, link, tuple(notes))


_ADDRESS = re.compile(r"(tcp|tls)://[A-Za-z0-9._\-]{1,253}:[0-9]{1,5}|(tcp|tls)://\[[0-9A-Fa-f:.]{2,45}\]:[0-9]{1,5}")


def _serial_is_enough(grid: Grid, todo: list) -> bool:
    """True when the points left would take under :data:`SERIAL_SECONDS` on one core (estimated from their
    sizes: about 20 ns a weight to draw and 2 ns a weight and example forward and back, as measured by
    ``benchmarks/bench_sweeps.py`` on a 2-core machine)."""
    depth, width = grid.axis("depth").values, grid.axis("width").values
    per_weight = 2e-8 + 2e-9 * grid.batch
    seconds = sum(depth[i[3]] * width[i[4]] ** 2 for i in todo) * per_weight
    return seconds < SERIAL_SECONDS


def require_sweeps(modules=("dask", "distributed", "xarray", "zarr")) -> None:
    """One line naming the extra to install when Dask, xarray or Zarr is missing."""
    import importlib.util

    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        raise MissingDependencyError(f"sweeps need {', '.join(missing)}: pip install 'gradmath[sweeps]'")


def _check_address(address: str) -> str:
    """``tcp://HOST:PORT`` or ``tls://HOST:PORT`` (IPv6 hosts in brackets), else one line of error."""
    text = str(address).strip()
    if not _ADDRESS.fullmatch(text):
        shown = text if len(text) <= 60 else text[:60] + "..."
        raise InvalidParameterError(f"--scheduler {shown!r} is not an address such as tcp://HOST:PORT")
    return text


@contextlib.contextmanager
def cluster_client(scheduler: str | None, workers: int | None, connect_timeout: float):
    """A Dask client of the scheduler at ``scheduler``, or of a new LocalCluster of ``workers`` processes."""
    require_sweeps(("dask", "distributed"))
    import dask
    from distributed import Client, LocalCluster

    with dask.config.set({"distributed.comm.timeouts.connect": f"{connect_timeout}s",
                          "distributed.scheduler.allowed-failures": 5,
                          # a local scheduler sends each worker its next points ahead (no round trip per task)
                          "distributed.scheduler.worker-saturation": 2.0}):
        if scheduler is not None:
            scheduler = _check_address(scheduler)
            _probe(scheduler, connect_timeout)
            try:
                client = Client(scheduler, timeout=connect_timeout, set_as_default=False)
            except (OSError, TimeoutError) as err:
                raise SchedulerError(f"cannot reach the Dask scheduler at {scheduler} within "
                                     f"{connect_timeout:g} s ({type(err).__name__}); check the address and that the "
                                     "scheduler is running") from None
            try:
                yield client, "scheduler"
            finally:
                client.close()
            return
        n = workers or (os.cpu_count() or 1)
        dashboard = ":0" if _has_dashboard() else None
        cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=dashboard,
                               silence_logs=50)
        try:
            client = Client(cluster, set_as_default=False)
            try:
                yield client, "local"
            finally:
                client.close()
        finally:
            cluster.close()


def _probe(address: str, timeout: float) -> None:
    """Fail at once when a tcp:// address refuses connections (Dask would retry until its timeout)."""
    import socket

    if not address.startswith("tcp://"):
        return
    host, _, port = address[len("tcp://"):].rstrip("/").rpartition(":")
    host = host.strip("[]")
    if not port.isdigit() or not host:
        raise InvalidParameterError(f"--scheduler {address[:60]!r} is not an address such as tcp://HOST:PORT")
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as err:
        raise SchedulerError(f"cannot reach the Dask scheduler at {address} ({err.strerror or type(err).__name__}); "
                             "check the address and that the scheduler is running") from None


def _has_dashboard() -> bool:
    import importlib.util

    return importlib.util.find_spec("bokeh") is not None


def _dashboard(client) -> str | None:
    try:
        if "dashboard" not in client.scheduler_info().get("services", {}):
            return None
        return client.dashboard_link
    except Exception:  # noqa: BLE001 - a dashboard is a convenience
        return None


def _run_distributed(client, grid: Grid, todo: list, store_one) -> None:
    """Every point of ``todo`` through :func:`stream`, checking that the workers run this gradmath."""
    from gradmath import __version__

    expected = f"{__version__}/{FORMAT_VERSION}"

    def check_and_store(index, result):
        if result.get("version") != expected:
            raise SchedulerError(f"the workers run gradmath {result.get('version')}, this process {expected}; "
                                 "install the same version on both")
        store_one(index, result)

    stream(client, run_task, [(index, grid.task(index)) for index in todo], check_and_store, what="point")


def stream(client, function, items: list, on_result, *, what: str = "task", extra=()) -> None:
    """Run ``function(argument, *extra)`` for each ``(label, argument)`` of ``items`` on ``client``'s workers,
    a window of 4 per worker thread at a time, calling ``on_result(label, result)`` in this process as each
    finishes. Tasks still running when this returns or raises (Ctrl-C included) are cancelled."""
    from distributed import KilledWorker, as_completed

    token = uuid.uuid4().hex[:12]
    threads = sum(w.get("nthreads", 1) for w in client.scheduler_info().get("workers", {}).values()) or 1
    window = max(4 * threads, 16)
    pending = iter(items)
    label_of, live = {}, {}
    serial = itertools.count()

    def submit(item):
        label, argument = item
        future = client.submit(function, argument, *extra, key=f"gradmath-{what}-{token}-{next(serial)}",
                               pure=False, retries=1)
        label_of[future.key] = label
        live[future.key] = future
        return future

    first = [submit(item) for _, item in zip(range(window), pending)]
    queue = as_completed(first, loop=client.loop)
    try:
        for future in queue:
            try:
                result = future.result()
            except KilledWorker:
                raise SchedulerError(f"{what} {label_of[future.key]} killed {_allowed_failures()} workers in turn; "
                                     "it needs more memory than a worker has") from None
            on_result(label_of.pop(future.key), result)
            live.pop(future.key).release()
            nxt = next(pending, None)
            if nxt is not None:
                queue.add(submit(nxt))
    finally:
        if live:
            client.cancel(list(live.values()), force=True)


def _allowed_failures() -> int:
    import dask

    return int(dask.config.get("distributed.scheduler.allowed-failures")) + 1
