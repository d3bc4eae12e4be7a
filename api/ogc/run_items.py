"""Items of run collections, read from the store's rows (:mod:`geodata.stores.run_rows`).

A run's features are shaped by the caller's disclosure policy
(:meth:`api.disclosure.Disclosure.run_view`) once, when a view is first read, and
written as rows; every request after that selects, filters and pages those rows
in SQL, so no request loads or shapes the run's whole result. The view key names
everything the shaping depends on — the rules' version :data:`VIEW_RULES` and the
policy's :meth:`~api.disclosure.Disclosure.counts_key` (role, public threshold,
rounding, ``min_places``, sensitive categories) — so a role never reads another
role's view, and a change of settings makes a new view instead of serving an old
one. Filters and bboxes only ever see the disclosed features.

Paging is by keyset: a cursor holds the position of the last feature of the page
in the view. ``numberMatched`` is exact on every page.
"""

from __future__ import annotations

from dataclasses import replace
from functools import partial

from geodata.stores.run_rows import RunFeatureQuery, RunView

from ..disclosure import Disclosure
from ..filters import invalid
from .collections import policy_for
from .crs import box_in_crs84, features_to_crs
from .filters import matches
from .queryables import property_schemas

#: the version of the shaping (``Disclosure.run_view`` and the properties' schemas kept
#: with a view): raise it when either changes what a role is shown, and views are made anew
VIEW_RULES = 1
CURSOR_HELP = "the cursor of a next link of this collection, unchanged"


def view_key(policy: Disclosure) -> str:
    """The key of the view a policy is shown (not its id secret: run features carry
    no incident ids)."""
    return f"rules-{VIEW_RULES}/{policy.counts_key()}"


def run_view(store, policy: Disclosure, run) -> tuple[str, RunView]:
    """The key and the stored view of ``run`` for ``policy``, made now if missing (a new
    run, or one stored before run features were rows)."""
    key = view_key(policy)
    found = store.run_rows.view(run.run_id, key)
    if found is not None:
        return key, found
    full = run if run.result else store.get_run(run.run_id)
    features: list[dict] = []
    if full is not None and full.result:
        fc = policy.run_view(full.result)
        features = [{**f, "id": str(f.get("id"))} for f in fc.get("features", [])]
    meta = {"properties": property_schemas(features)}
    return key, store.run_rows.save_view(run.run_id, key, features, meta)


def run_bbox(store, settings, caller, run) -> list | None:
    """Bounds (CRS84) of the run's features the caller is shown; None if it is shown none."""
    return run_view(store, policy_for(caller, settings), run)[1].bbox


def run_properties(store, settings, caller, run) -> dict:
    """The properties of the run's features as the caller is shown them (their schemas)."""
    return run_view(store, policy_for(caller, settings), run)[1].meta["properties"]


def run_page(store, settings, caller, run, sel) -> tuple[list[dict], int | None, int | None]:
    """One page of the run's features for the caller (``sel``: :class:`.items.Selection`):
    the features in ``sel.crs``, how many match, and the key of the last when more follow."""
    if sel.after is not None and (not isinstance(sel.after, int) or isinstance(sel.after, bool)):
        raise invalid("cursor", CURSOR_HELP, sel.after, type="invalid-cursor")
    key, view = run_view(store, policy_for(caller, settings), run)
    q = RunFeatureQuery(
        run.run_id,
        key,
        within=None if sel.bbox is None else box_in_crs84(sel.bbox, sel.bbox_crs),
        condition=None if sel.filter is None else sel.filter.tree,
        refine=None if sel.filter is None else partial(matches, sel.filter),
        after=sel.after,
        offset=sel.offset,
        limit=sel.limit + 1,
    )
    rows = store.run_rows.page(q)
    more = len(rows) > sel.limit
    rows = rows[: sel.limit]
    if q.within is None and q.condition is None:
        matched = view.n_features
    elif sel.count:
        matched = store.run_rows.count(replace(q, after=None))
    else:  # a tile: nobody reads the count
        matched = None
    last = rows[-1][0] if more and rows else None
    return features_to_crs([f for _, f in rows], sel.crs), matched, last


def run_feature(store, settings, caller, run, fid: str) -> dict | None:
    """The feature ``fid`` of the run as the caller is shown it (CRS84), or None."""
    key, _ = run_view(store, policy_for(caller, settings), run)
    return store.run_rows.feature(run.run_id, key, fid)
