"""``--dask`` for the commands that analyse: open the cluster the option or
``HOTSPOTS_DASK_SCHEDULER`` names (its tasks feed :mod:`api.cli.progress`)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Annotated

import typer

DaskOpt = Annotated[
    str | None,
    typer.Option(
        "--dask",
        help="Run on a Dask cluster: 'local' (worker processes on this machine) or a "
        "scheduler address such as tcp://host:8786 (default: HOTSPOTS_DASK_SCHEDULER; "
        "unset: here). DBSCAN, gistar, emerging and hexes.",
    ),
]
ParentResOpt = Annotated[
    int | None,
    typer.Option(
        "--dask-parent-res",
        help="H3 resolution of the cluster's partitions: 4, 5 or 6 "
        "(default: HOTSPOTS_DASK_PARENT_RES or 5).",
    ),
]


@contextlib.contextmanager
def cluster_engine(settings, dask: str | None, parent_res: int | None, progress=None) -> Iterator:
    """The open engine (``None``: run here); ``progress(label, done, total)`` hears its
    tasks (:class:`api.cli.progress.AnalysisDisplay`)."""
    from ..usecases.compute import engine_spec, open_execution

    with open_execution(engine_spec(settings.compute, dask, parent_res), progress) as engine:
        yield engine
