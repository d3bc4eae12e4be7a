"""How many incidents and hotspots a stored run shows to a role, for run listings.

Listings (``GET /runs``, OGC collections, ``hotspots runs``) read no results: the
figures kept with a run at save time (:func:`api.usecases.analyse.disclosed_summary`) are
used, else the run is read once and the figures are kept per run and policy (a run
never changes: its id names its inputs). Light on purpose: ``hotspots runs`` imports
this, not the analysis stack.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from geodata.model import RunRecord
    from geodata.stores import Store

    from ..disclosure import Disclosure

_RUN_COUNTS: dict = {}
_RUN_COUNTS_LOCK = threading.Lock()


def run_counts(st: Store | None, run: RunRecord, policy: Disclosure) -> tuple[int | None, int]:
    """(incidents, hotspots) of a run as the policy's role may see them.

    A listed run carries no result (listings stay light), so it is read once; a run
    never changes (its id names its inputs), so the figures are kept per run and policy.
    """
    kept = (run.params or {}).get("disclosed", {}).get(policy.counts_key())
    if kept is not None:
        return kept["counts"][0], kept["counts"][1]
    key = (run.run_id, policy)
    with _RUN_COUNTS_LOCK:
        hit = _RUN_COUNTS.get(key)
    if hit is not None:
        return hit
    full = run if run.result or st is None else (st.get_run(run.run_id) or run)
    counts = policy.run_counts(full)
    with _RUN_COUNTS_LOCK:
        if len(_RUN_COUNTS) > 4096:
            _RUN_COUNTS.clear()
        _RUN_COUNTS[key] = counts
    return counts
