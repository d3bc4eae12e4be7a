"""The analysis on a Dask cluster (dask.distributed), with the single machine's results.

Optional: a run without an engine never imports Dask. With one
(:func:`open_engine`, ``HOTSPOTS_DASK_SCHEDULER`` or ``hotspots analyse --dask``), the
heavy statistics run partition by partition, the partitions being H3 parent cells
(:mod:`.partition`):

- DBSCAN with a halo of 2·eps and a union–find merge (:mod:`.dbscan`): the same core
  points, clusters, numbers and border points;
- Gi* with global sums first and a k-ring halo per partition, and emerging hot spots
  (monthly Gi* and Mann–Kendall per cell) (:mod:`.gistar`): the same z-scores, the same
  permutation p-values for the same seed, the same classes.

Everything around them (selection, grid counts, hotspot tables, ranking, storing the
run) is the single-machine code, so a Dask run is stored exactly like any other, with
the cluster recorded in its provenance (``execution``).
"""

from __future__ import annotations

from .engine import DaskEngine, LocalEngine, check_address, open_engine
from .partition import DEFAULT_PARENT_RES, PARENT_RES

#: methods whose statistics run on the cluster (hexes only count cells: nothing to spread)
DASK_METHODS = ("dbscan", "gistar", "emerging", "hexes")


def check_method(method: str) -> None:
    """Refuse, with the reason, a method that has no distributed form."""
    if method not in DASK_METHODS:
        raise ValueError(
            f"method {method!r} runs on one machine only: the Dask backend runs "
            f"{', '.join(DASK_METHODS)}; run without --dask / HOTSPOTS_DASK_SCHEDULER"
        )


__all__ = [
    "DASK_METHODS",
    "DEFAULT_PARENT_RES",
    "PARENT_RES",
    "DaskEngine",
    "LocalEngine",
    "check_address",
    "check_method",
    "open_engine",
]
