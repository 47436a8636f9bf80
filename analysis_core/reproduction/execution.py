"""Where the reproduction's tasks run: in this process, on a local Dask cluster, or on an existing one.

Every executor has ``map(function, items)`` returning results in the order of ``items``.
Tasks are module-level functions of plain data, so they pickle to any Dask worker; workers
must see the same files (the output folder, the data set, the checkpoints) at the same paths.
"""

from __future__ import annotations

import logging
from typing import Any, Callable

from analysis_core.artifacts.errors import BarlowError
from analysis_core.reproduction.config import check_scheduler


class InProcessExecutor:
    def map(self, function: Callable, items: list) -> list:
        return [function(item) for item in items]

    def describe(self) -> str:
        return "this process"

    def close(self) -> None:
        pass


class DaskExecutor:
    """Tasks through ``dask.distributed``; a worker that dies has its tasks rerun elsewhere."""

    def __init__(self, client, cluster=None, retries: int = 2):
        self.client = client
        self.cluster = cluster
        self.retries = retries

    def map(self, function: Callable, items: list) -> list:
        if not items:
            return []
        # pure=False: a task that writes files must run even if an equal call ran before.
        futures = self.client.map(function, items, pure=False, retries=self.retries)
        return self.client.gather(futures)

    def describe(self) -> str:
        workers = self.client.scheduler_info().get("workers", {})
        threads = sum(w.get("nthreads", 0) for w in workers.values())
        return f"Dask at {self.client.scheduler.address} ({len(workers)} worker(s), {threads} thread(s))"

    def close(self) -> None:
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()


def make_executor(scheduler: str, workers: int = 2, threads_per_worker: int = 1) -> Any:
    """``in-process``, ``local`` (a new LocalCluster of ``workers`` processes) or a scheduler address."""
    scheduler = check_scheduler(scheduler)
    if scheduler == "in-process":
        return InProcessExecutor()
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise BarlowError("running on Dask needs dask.distributed: pip install -e '.[cluster]'") from None
    if scheduler == "local":
        # Each worker process runs one task at a time with torch limited to its threads, so
        # that workers do not fight over the cores.
        cluster = LocalCluster(
            n_workers=workers, threads_per_worker=threads_per_worker, processes=True,
            dashboard_address=None, env={"OMP_NUM_THREADS": str(threads_per_worker)}, silence_logs=logging.ERROR,
        )
        return DaskExecutor(Client(cluster), cluster)
    try:
        client = Client(scheduler, timeout="20s")
    except OSError as exc:
        raise BarlowError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from None
    return DaskExecutor(client)
