"""Where an analysis runs: here, or on the Dask cluster the settings name.

``HOTSPOTS_DASK_SCHEDULER`` (or ``hotspots analyse --dask``) sends DBSCAN, Gi* and
emerging hot spots to a Dask cluster (:mod:`hotspots.scaleout`); the run is the same
and is stored the same way, with the cluster in its provenance. An :class:`EngineSpec`
is what travels (it can be pickled into the service's stoppable worker process, which
connects to the scheduler itself); :func:`open_execution` turns it into an engine.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from geodata.errors import ConfigurationError


@dataclass(frozen=True)
class EngineSpec:
    """A Dask scheduler address (or ``local``) and the partitioning."""

    scheduler: str
    parent_res: int = 5


def engine_spec(
    compute, override: str | None = None, parent_res: int | None = None, *, service=False
):
    """The :class:`EngineSpec` of the compute settings (``override``: the command line's
    ``--dask``), or ``None`` to run here. The service (``service=True``) needs a scheduler
    address: ``local`` would start a cluster of processes inside each request's worker."""
    from hotspots.scaleout.engine import check_address
    from hotspots.scaleout.partition import check_parent_res

    address = override if override is not None else compute.dask_scheduler
    if not address:
        return None
    if service and address.strip() == "local":
        raise ConfigurationError(
            "HOTSPOTS_DASK_SCHEDULER=local starts a cluster for one command; the service "
            "needs a running scheduler's address (tcp://scheduler:8786)"
        )
    try:
        return EngineSpec(
            check_address(address),
            check_parent_res(parent_res if parent_res is not None else compute.dask_parent_res),
        )
    except ValueError as exc:
        raise ConfigurationError(str(exc)) from exc


@contextlib.contextmanager
def open_execution(spec, progress: Callable[[str, int, int], None] | None = None) -> Iterator:
    """An open engine for ``spec`` (closed on exit), or ``None`` for ``spec=None``. An
    engine already open is passed through (the command line opens one for the analyst's
    and the restricted view of a run)."""
    if spec is None or not isinstance(spec, EngineSpec):
        yield spec
        return
    from hotspots.scaleout import open_engine

    engine = open_engine(spec.scheduler, progress, parent_res=spec.parent_res)
    try:
        opened = engine.__enter__()
    except OSError as exc:  # the scheduler is not there: say which and what to do
        raise ConfigurationError(str(exc)) from exc
    try:
        yield opened
    finally:
        engine.__exit__(None, None, None)


def analysis_on(execution, incidents, params, **kwargs):
    """:func:`hotspots.analysis.run_analysis` on the engine ``execution`` opens. A method
    with no distributed form (HDBSCAN, KDE) runs here, and its notes say so."""
    from hotspots.analysis import run_analysis
    from hotspots.scaleout import DASK_METHODS

    if execution is not None and params.method not in DASK_METHODS:
        note = f"{params.method} has no distributed form: it ran on one machine, not on Dask"
        kwargs["extra_notes"] = [*(kwargs.get("extra_notes") or []), note]
        execution = None
    with open_execution(execution) as engine:
        return run_analysis(incidents, params, engine=engine, **kwargs)
