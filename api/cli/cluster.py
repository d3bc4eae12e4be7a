"""``--dask`` for the commands that analyse: open the cluster the option or
``HOTSPOTS_DASK_SCHEDULER`` names, with a progress bar fed by the cluster's tasks."""

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
def cluster_engine(settings, dask: str | None, parent_res: int | None) -> Iterator:
    """The open engine (``None``: run here). Its tasks drive a progress bar on stderr
    when stderr is a terminal (stdout, and ``--json``, are left alone)."""
    from ..usecases.compute import engine_spec, open_execution

    spec = engine_spec(settings.compute, dask, parent_res)
    if spec is None:
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from .output import err

    bar = Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,
    )
    tasks: dict[str, int] = {}

    def progress(label: str, done: int, total: int) -> None:
        if label not in tasks:
            tasks[label] = bar.add_task(f"{label} ({spec.scheduler})", total=total)
        bar.update(tasks[label], completed=done, total=total)

    with bar, open_execution(spec, progress) as engine:
        yield engine
