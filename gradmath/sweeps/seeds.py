"""Many-seed experiments through the sweep engine: Nielsen's speeds at initialisation for thousands of seeds.

:func:`init_speed_values` computes what :func:`gradmath.experiments.speeds.init_speeds` computes (the speed of
learning of each hidden layer of ``Network.random(sizes, seed=seed + s)``) with one task per block of seeds on
a Dask ``LocalCluster`` or an existing scheduler. The data go to the workers once (``scatter``); each task runs
with BLAS on one thread, so a seed's speeds do not depend on where it ran.

>>> import numpy as np
>>> from gradmath.data import load_dataset
>>> d = load_dataset("digits", limit=200)
>>> v = init_speed_values((64, 30, 30, 10), d.x, d.y, seeds=4, seed=1, engine="serial")
>>> v.shape
(4, 2)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from gradmath.sweeps.point import one_thread

__all__ = ["init_speed_values", "BLOCK"]

#: Seeds per task: enough work per task (tens of ms) that scheduling costs little.
BLOCK = 25


def _block(job: tuple, data) -> np.ndarray:
    from gradmath.experiments.speeds import speed_of_learning
    from gradmath.network import Network

    sizes, first, count, activation, examples = job
    x, y = data
    with one_thread():
        return np.array([speed_of_learning(Network.random(sizes, seed=first + s, hidden_activation=activation),
                                           x, y, examples=examples) for s in range(count)])


def init_speed_values(sizes: Sequence[int], x, y, *, seeds: int, seed: int = 0, hidden_activation: str = "sigmoid",
                      examples: int = 1000, engine: str = "local", scheduler: str | None = None,
                      workers: int | None = None, progress: Callable[[int, int], None] | None = None) -> np.ndarray:
    """``values[s, k]``: the speed of hidden layer k + 1 of the network of seed ``seed + s`` (as ``init_speeds``)."""
    from gradmath.experiments.training import MAX_SEEDS, check_experiment_size
    from gradmath.sweeps.engine import CONNECT_TIMEOUT, cluster_client, stream
    from gradmath.validation import check_int

    seeds = check_int("seeds", seeds, min_value=1, max_value=MAX_SEEDS)
    seed = check_int("seed", seed, min_value=0)
    check_experiment_size(sizes, min(examples, len(x)), seeds, fix="fewer seeds or examples")
    n = min(examples, len(x))
    x, y = np.ascontiguousarray(np.asarray(x)[:n]), np.asarray(y)[:n]
    jobs = [(start, (tuple(sizes), seed + start, min(BLOCK, seeds - start), hidden_activation, examples))
            for start in range(0, seeds, BLOCK)]
    out: list = [None] * seeds
    done = 0

    def keep(start, values):
        nonlocal done
        out[start:start + len(values)] = list(values)
        done += len(values)
        if progress is not None:
            progress(done, seeds)

    if engine == "serial" and scheduler is None:
        for start, job in jobs:
            keep(start, _block(job, (x, y)))
    else:
        with cluster_client(scheduler, workers, CONNECT_TIMEOUT) as (client, _):
            data = client.scatter((x, y), broadcast=True)
            stream(client, _block, jobs, keep, what="seeds", extra=(data,))
    return np.array(out)
