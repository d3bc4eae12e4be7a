"""Where an analysis runs: in this process, or on a Dask cluster (dask.distributed).

:class:`LocalEngine` runs every partition's task here, one after the other (the
tests' reference, and what a run without a scheduler would be). :class:`DaskEngine`
sends them to a cluster: an existing scheduler (``tcp://host:8786``) or, for
``"local"``, a :class:`distributed.LocalCluster` of worker processes on this machine.

Both offer three things the distributed algorithms need:

``share(*arrays)``
    arrays every task reads (the grid's ids and values), sent once to every worker;
``hold(obj)``
    one partition's data as a task of its own, so Dask can recompute it on another
    worker if the one holding it dies (a scattered array would be lost with it);
``load(fn, *args)``
    one partition read on a worker (e.g. from a GeoParquet export), likewise;
``map(fn, args, label)``
    one task per argument tuple, results in order, each completion reported to the
    ``progress`` callback as ``(label, done, total)``.

A worker killed mid-run: its tasks (and the partitions it held) are run again on the
workers left, by Dask's own rescheduling, and the result is the same.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from typing import Any

from .partition import DEFAULT_PARENT_RES, cell_slices, check_parent_res

Progress = Callable[[str, int, int], None]

#: Dask's defaults for a local cluster on a 2-core machine: one single-threaded worker
#: process per core (the kernels are NumPy/numba: threads would share the GIL's gaps only)
LOCAL_WORKERS = 2
LOCAL_MEMORY = "3GB"


class _Partitioned:
    """What both engines share: the partitioning (H3 parent resolution)."""

    parent_res: int = DEFAULT_PARENT_RES

    def cell_partitions(self, ids):
        """Slices of a sorted grid (int64 H3 ids), one per parent cell."""
        return cell_slices(ids, self.parent_res)


class LocalEngine(_Partitioned):
    """Every task in this process, in order (the distributed algorithms' reference)."""

    name = "local"

    def __init__(self, progress: Progress | None = None, parent_res: int = DEFAULT_PARENT_RES):
        self.progress = progress
        self.parent_res = check_parent_res(parent_res)

    def share(self, *arrays):
        return arrays

    def hold(self, obj):
        return obj

    def load(self, fn: Callable, *args):
        return fn(*args)

    def map(self, fn: Callable, args: Sequence[tuple], label: str) -> list:
        out = []
        for i, a in enumerate(args):
            out.append(fn(*a))
            if self.progress:
                self.progress(label, i + 1, len(args))
        return out

    def describe(self) -> dict:
        return {"backend": "local", "partitions": f"H3 parent res {self.parent_res}"}


def _identity(obj):
    return obj


class DaskEngine(_Partitioned):
    """Tasks on a Dask cluster through a :class:`distributed.Client`."""

    name = "dask"

    def __init__(
        self,
        client,
        progress: Progress | None = None,
        address: str = "",
        parent_res: int = DEFAULT_PARENT_RES,
    ) -> None:
        self.client = client
        self.progress = progress
        self.address = address
        self.parent_res = check_parent_res(parent_res)

    def share(self, *arrays):
        return tuple(self.client.scatter(a, broadcast=True, hash=False) for a in arrays)

    def hold(self, obj):
        import dask

        # The partition travels inside its task on purpose (Dask warns above 10 MB): the
        # scheduler keeps it, so a partition lost with its worker is made again elsewhere.
        with dask.config.set({"distributed.admin.large-graph-warning-threshold": "1GB"}):
            return self.client.submit(_identity, obj, key=f"part-{uuid.uuid4().hex}", pure=False)

    def load(self, fn: Callable, *args):
        """``fn(*args)`` as a task whose result stays on a worker (e.g. a partition read
        from files: made again from them if that worker dies)."""
        return self.client.submit(fn, *args, key=f"load-{uuid.uuid4().hex}", pure=False)

    def map(self, fn: Callable, args: Sequence[tuple], label: str) -> list:
        from distributed import as_completed

        tag = uuid.uuid4().hex[:8]
        futures = [
            self.client.submit(fn, *a, key=f"{fn.__name__}-{tag}-{i}", pure=False)
            for i, a in enumerate(args)
        ]
        for done, _ in enumerate(as_completed(futures), start=1):
            if self.progress:
                self.progress(label, done, len(futures))
        return self.client.gather(futures)

    def describe(self) -> dict:
        info = self.client.scheduler_info()
        workers = info.get("workers", {})
        return {
            "backend": "dask",
            "scheduler": self.address,
            "workers": len(workers),
            "threads": sum(int(w.get("nthreads", 0)) for w in workers.values()),
            "memory_limit_per_worker": max(
                (int(w.get("memory_limit", 0)) for w in workers.values()), default=0
            ),
            "partitions": f"H3 parent res {self.parent_res}",
        }


def check_address(spec: str) -> str:
    """``local`` or a scheduler address ``tcp://host:port`` (also ``tls://``, ``ucx://``)."""
    spec = (spec or "").strip()
    if spec == "local" or ("://" in spec and spec.split("://", 1)[1]):
        return spec
    raise ValueError(
        "Dask scheduler: expected 'local' (a cluster of worker processes on this machine) "
        f"or an address such as tcp://scheduler:8786, got {spec!r}"
    )


class open_engine:
    """``with open_engine("local" | "tcp://…", progress) as engine:`` a :class:`DaskEngine`
    whose client (and, for ``local``, cluster) is closed on exit."""

    def __init__(
        self,
        spec: str,
        progress: Progress | None = None,
        *,
        workers: int = LOCAL_WORKERS,
        memory_limit: str = LOCAL_MEMORY,
        parent_res: int = DEFAULT_PARENT_RES,
    ) -> None:
        self.spec = check_address(spec)
        self.parent_res = check_parent_res(parent_res)
        self.progress = progress
        self.workers = workers
        self.memory_limit = memory_limit
        self._cluster: Any = None
        self._client: Any = None

    def __enter__(self) -> DaskEngine:
        from distributed import Client, LocalCluster

        if self.spec == "local":
            self._cluster = LocalCluster(
                n_workers=self.workers,
                threads_per_worker=1,
                memory_limit=self.memory_limit,
                processes=True,
                dashboard_address=":0",
            )
            self._client = Client(self._cluster)
            address = self._cluster.scheduler_address
        else:
            try:
                self._client = Client(self.spec, timeout="5s")
            except (OSError, TimeoutError) as exc:
                raise ConnectionError(
                    f"Dask scheduler {self.spec}: not reachable ({exc}); start one "
                    "(`dask scheduler`, or `docker compose up scheduler worker`), or run "
                    "without HOTSPOTS_DASK_SCHEDULER / --dask"
                ) from exc
            address = self.spec
        return DaskEngine(self._client, self.progress, address, self.parent_res)

    def __exit__(self, *exc) -> None:
        if self._client is not None:
            self._client.close()
        if self._cluster is not None:
            self._cluster.close()
