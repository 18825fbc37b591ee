"""Fan independent jobs out to Dask distributed workers, or run them serially when Dask is absent.

Why: the expensive parts of a chain are independent (one pix2pix generator per (group, method), one
map-production shard per block of inputs), so they can run on several processes or machines. Dask
distributed is an optional extra (``pip install "dask[distributed]"``); without it every job runs in
this process, in order, with the same retry rule, so results never depend on which path ran.

Scheduler choice (``scheduler=``):

* ``None``: the Dask client already active in this process (``distributed.Client(...)`` made by the
  caller), else serial;
* ``"serial"``: a plain loop in this process;
* ``"local:N"``: a temporary ``LocalCluster`` of N worker processes with one thread each (TensorFlow
  already uses every core of a process, so more threads per worker only contend), closed afterwards;
* anything else: the address of a running Dask scheduler (``"tcp://host:8786"``).

Retries: a job that raises is run again up to ``retries`` times before its error propagates. On Dask
a job whose worker process dies (killed, out of memory, ``os._exit``) is rescheduled on another
worker; for ``"local:N"`` clusters the number of such deaths a job may survive is also ``retries``
(the scheduler's ``allowed-failures``); a remote scheduler keeps its own setting. Jobs must therefore
be idempotent: writing their outputs atomically (see :mod:`pix2pixai.atomic`) makes a re-run safe.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import re
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

from pix2pixai.errors import InputError

Job = TypeVar("Job")
Result = TypeVar("Result")

_LOCAL = re.compile(r"local:(\d+)")


def dask_available() -> bool:
    """True when the optional ``distributed`` package is importable."""
    return importlib.util.find_spec("distributed") is not None


def run_jobs(func: Callable[[Job], Result], jobs: Sequence[Job], *, scheduler: Any = None,
             retries: int = 2) -> list[Result]:
    """Run ``func(job)`` for every job and return the results in job order.

    Parameters
    ----------
    func : a picklable, module-level function of one job (Dask ships it to worker processes).
    jobs : the independent jobs; each is pickled to a worker when Dask is used.
    scheduler : ``None``, ``"serial"``, ``"local:N"``, a scheduler address, or a ``distributed.Client``
        (see the module docstring).
    retries : how many times a failed job is re-run (exception, or on Dask a dead worker) before its
        error is raised.

    Raises
    ------
    InputError : a malformed scheduler, negative ``retries``, or a Dask scheduler asked for without
        the ``distributed`` package installed.
    """
    if retries < 0:
        raise InputError(f"retries={retries}: expected a number >= 0")
    jobs = list(jobs)
    if not jobs:
        return []
    with _client_for(scheduler, retries) as client:
        if client is None:
            return [_with_retries(func, job, retries) for job in jobs]
        futures = client.map(func, jobs, retries=retries, pure=False)
        return client.gather(futures)


def _with_retries(func: Callable[[Job], Result], job: Job, retries: int) -> Result:
    """``func(job)``, re-run after an exception at most ``retries`` times (the last error is raised)."""
    for _ in range(retries):
        with contextlib.suppress(Exception):
            return func(job)
    return func(job)


@contextlib.contextmanager
def _client_for(scheduler: Any, retries: int) -> Iterator[Any]:
    """The Dask client that runs the jobs (None: serial), closing whatever this call started."""
    if scheduler == "serial":
        yield None
        return
    if scheduler is None:
        yield _active_client()
        return
    if not isinstance(scheduler, str):
        yield scheduler  # a distributed.Client owned by the caller
        return
    if not dask_available():
        raise InputError(f"scheduler={scheduler!r} needs Dask distributed: pip install \"dask[distributed]\" "
                         "(or use scheduler='serial')")
    import dask
    from distributed import Client, LocalCluster

    local = _LOCAL.fullmatch(scheduler)
    if local is None and not re.fullmatch(r"(tcp|tls|inproc|ucx|ws|wss)://\S+", scheduler):
        raise InputError(f"scheduler={scheduler!r}: expected 'serial', 'local:N' (N worker processes) or a "
                         "Dask scheduler address like 'tcp://host:8786'")
    if local is None:
        with Client(scheduler) as client:
            yield client
        return
    n_workers = int(local.group(1))
    if n_workers < 1:
        raise InputError(f"scheduler={scheduler!r}: expected at least one worker")
    with dask.config.set({"distributed.scheduler.allowed-failures": retries}), \
            LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True, dashboard_address=":0",
                         silence_logs=logging.ERROR) as cluster, Client(cluster) as client:
        yield client


def _active_client() -> Any:
    """The Dask client the caller made current in this process, or None."""
    if not dask_available():
        return None
    from distributed import default_client

    try:
        return default_client()
    except ValueError:
        return None
