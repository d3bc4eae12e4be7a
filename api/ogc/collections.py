"""The collections: which a caller may read, their titles, extents and queryables.

A hotspot layer is titled by what it shows — categories, method and period —
(e.g. "Anti-social behaviour — Gi* hot spots, Jan–Apr 2024"), so layers can be
told apart in a GIS; its description adds the run, the creation date and how
many incidents it used. Extents are computed from what the caller may see.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import pyarrow.compute as pc

from geodata.crs import WGS84
from geodata.model import RunRecord
from geodata.taxonomy import BY_SLUG
from hotspots.analysis import METHODS

from ..deps import Caller, require
from ..disclosure import Disclosure
from ..problems import Problem
from ..usecases.analyse import run_counts
from .common import GREGORIAN, iso
from .crs import CRS84, SUPPORTED

RUNS_LISTED = 50
AREAS = {"wards": ("ward", "Wards"), "lsoas": ("lsoa", "LSOAs")}
METHOD_TITLES = {
    "dbscan": "DBSCAN density clusters",
    "hdbscan": "HDBSCAN density clusters",
    "hexes": "H3 hexagon counts",
    "gistar": "Gi* hot spots",
    "emerging": "emerging hot spots",
    "kde": "kernel density hot areas",
}
SHORT_CATEGORIES = {"anti-social-behaviour": "ASB"}


@dataclass
class Collection:
    """One feature collection; ``kind`` is ``incidents``, ``ward``, ``lsoa`` or ``run``."""

    id: str
    title: str
    description: str
    kind: str
    run: RunRecord | None = None


def policy_for(caller: Caller, settings) -> Disclosure:
    """The disclosure policy of the caller's role."""
    return Disclosure.for_role(caller.role, settings)


# -- titles ------------------------------------------------------------------------------------
def category_text(slugs) -> str:
    """Categories as people say them: "ASB", "ASB and Burglary", "ASB, Burglary +3 more"."""
    names = [SHORT_CATEGORIES.get(s) or (BY_SLUG[s].label if s in BY_SLUG else s) for s in slugs]
    if not names:
        return "All incidents"
    if len(names) <= 2:
        return " and ".join(names)
    return f"{names[0]}, {names[1]} +{len(names) - 2} more"


def run_interval(run: RunRecord) -> list | None:
    """[start, end) of the run's data window as RFC 3339 texts, from its provenance."""
    window = (run.provenance or {}).get("window") or {}
    months = window.get("months") or []
    start = iso(window.get("start")) or (iso(months[0] + "-01") if months else None)
    end = iso(window.get("end"))
    if end is None and months:
        y, m = map(int, months[-1].split("-"))
        end = iso(datetime(y + m // 12, m % 12 + 1, 1))
    return [start, end] if start or end else None


def period_text(interval: list | None) -> str:
    """A window as "Jan–Apr 2024", "Nov 2023–Feb 2024" or "Mar 2024" (end exclusive)."""
    if not interval or not interval[0] or not interval[1]:
        return "all dates"
    start = datetime.fromisoformat(interval[0].rstrip("Z"))
    end = datetime.fromisoformat(interval[1].rstrip("Z"))
    last = end - timedelta(microseconds=1)  # the end is exclusive
    if (start.year, start.month) == (last.year, last.month):
        return start.strftime("%b %Y")
    if start.year == last.year:
        return f"{start:%b}–{last:%b %Y}"
    return f"{start:%b %Y}–{last:%b %Y}"


def run_title(run: RunRecord) -> str:
    """What the layer shows: "ASB — Gi* hot spots, Jan–Apr 2024"."""
    cats = category_text((run.provenance or {}).get("categories") or [])
    method = METHOD_TITLES.get(run.method, f"{run.method} hotspots")
    return f"{cats} — {method}, {period_text(run_interval(run))}"


def run_collection(run: RunRecord, latest: bool, policy: Disclosure, store=None) -> Collection:
    """The collection of one run (``latest``: the ``hotspots-<method>`` alias)."""
    prov = run.provenance or {}
    cats = ", ".join(prov.get("categories") or []) or "all categories"
    when = run.created_at.strftime("%Y-%m-%d %H:%M")
    n_incidents = run_counts(store, run, policy)[0]
    shown = "fewer than the public threshold" if n_incidents is None else f"{n_incidents:,}"
    about = (
        f"{METHOD_TITLES.get(run.method, run.method)} ({run.method}) of {cats}, "
        f"{period_text(run_interval(run))}: run {run.run_id}, made {when} UTC from {shown} "
        f"incidents{'' if policy.analyst else ', sensitive ones left out'}; ranked, with "
        "every statistic. The run's time window is the temporal extent; the datetime "
        "parameter is ignored here."
    )
    title = f"{run_title(run)} · made {run.created_at:%-d %b %Y %H:%M}"
    if latest:
        return Collection(f"hotspots-{run.method}", f"Latest: {title}", about, "run", run)
    cid = run.run_id if run.run_id.startswith("run-") else f"run-{run.run_id}"
    return Collection(cid, f"{title} · {run.run_id.removeprefix('run-')[:8]}", about, "run", run)


def incidents_collection(caller: Caller) -> Collection:
    seen = "all incidents" if caller.at_least("analyst") else "non-sensitive incidents"
    return Collection(
        "incidents",
        "Incidents",
        f"Incident points ({seen}), in id order. datetime filters occurred_at "
        "(police.uk times are the first of the month).",
        "incidents",
    )


def area_collection(cid: str) -> Collection:
    kind, title = AREAS[cid]
    return Collection(
        cid,
        title,
        f"{title} with incident counts, rates per 1,000 residents and change on the year "
        "before, for all incidents; datetime restricts the incidents counted. Counts "
        "below the public threshold are null for the public role.",
        kind,
    )


def catalogue(store, caller: Caller, settings) -> list[Collection]:
    """Every collection the caller may read, in listing order."""
    policy = policy_for(caller, settings)
    out = [incidents_collection(caller)] if caller.at_least("partner") else []
    out += [area_collection(c) for c, (k, _) in AREAS.items() if len(store.boundaries(k))]
    for method in METHODS:
        newest = store.list_runs(method, limit=1)
        if newest:
            out.append(run_collection(newest[0], True, policy, store))
    out += [  # hotspot runs only: a day-of-action plan is a list of places, not a layer
        run_collection(r, False, policy, store)
        for r in store.list_runs(None, limit=RUNS_LISTED)
        if r.method in METHODS
    ]
    return out


def find(store, caller: Caller, cid: str, settings) -> Collection:
    """The collection ``cid``, or a 404 problem (also for one the caller may not read)."""
    if cid == "incidents":
        require("partner")(caller)
        return incidents_collection(caller)
    if cid in AREAS and len(store.boundaries(AREAS[cid][0])):
        return area_collection(cid)
    run = None  # without its result: run items are read from the store's rows
    if cid.startswith("hotspots-") and cid[9:] in METHODS:
        run = store.run_rows.latest_header(cid[9:])
    elif cid.startswith("run-"):
        run = store.run_rows.header(cid) or store.run_rows.header(cid[4:])
    if run is None or run.method not in METHODS:
        raise Problem(404, f"no collection {cid!r}; see /ogc/collections")
    return run_collection(run, cid.startswith("hotspots-"), policy_for(caller, settings), store)


# -- extents -----------------------------------------------------------------------------------
def _incident_extent(store, analyst: bool) -> tuple[list | None, list | None]:
    """Bounds and time span of the incidents a role may see; below analyst, sensitive
    incidents are left out and the span is widened to whole months (no exact times).
    From the store's spans (aggregated in SQL), not the incidents themselves."""
    spans = store.incident_spans(include_sensitive=analyst)
    if spans.num_rows == 0:
        return None, None

    def low(c: str):
        return pc.min(spans[c]).as_py()

    def high(c: str):
        return pc.max(spans[c]).as_py()

    bbox = [low("west"), low("south"), high("east"), high("north")]
    first, last = low("first"), high("last")
    if not analyst:
        first = first.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        last = datetime(last.year + (last.month == 12), last.month % 12 + 1, 1)
    return bbox, [iso(first), iso(last)]


def _area_bbox(store, *kinds: str) -> list | None:
    for kind in kinds:
        areas = store.boundaries(kind)
        if len(areas):
            return [float(v) for v in areas.to_crs(WGS84).total_bounds]
    return None


#: bounds of a run's features per (run, created_at, policy): runs are immutable, so the
#: listing asks the store for each once, not per request
_RUN_BOUNDS: dict[tuple, list | None] = {}
_RUN_BOUNDS_KEPT = 512


def _run_bbox(coll: Collection, policy: Disclosure, run_bounds) -> list | None:
    run = coll.run
    key = (run.run_id, run.created_at, policy)
    kept = (run.params or {}).get("disclosed", {}).get(policy.counts_key())
    if kept is not None:  # kept with the run when it was made (api.usecases.analyse)
        return kept["bbox"]
    if key not in _RUN_BOUNDS:
        if len(_RUN_BOUNDS) >= _RUN_BOUNDS_KEPT:
            _RUN_BOUNDS.pop(next(iter(_RUN_BOUNDS)))
        _RUN_BOUNDS[key] = run_bounds(coll)
    return _RUN_BOUNDS[key]


def extent(store, caller: Caller, coll: Collection, cache: dict, run_bounds, settings) -> dict:
    """The collection's extent: bounds of the features the caller may read (CRS84) and
    their time span. ``run_bounds(coll)`` gives the bounds of a run's features as the
    caller sees them (None: none shown), so a bound never outlines a withheld hotspot;
    below analyst, a run with no feature shown gets the study area."""
    if coll.kind == "run":
        bbox = _run_bbox(coll, policy_for(caller, settings), run_bounds)
        if bbox is None:
            bbox = cache.setdefault("study", _area_bbox(store, "district", "ward", "lsoa"))
        interval = run_interval(coll.run)
    else:
        analyst = caller.at_least("analyst")
        if analyst not in cache:
            cache[analyst] = _incident_extent(store, analyst)
        bbox, interval = cache[analyst]
        if coll.kind != "incidents":
            bbox = _area_bbox(store, coll.kind)
    return {
        "spatial": {"bbox": [bbox or [-180.0, -90.0, 180.0, 90.0]], "crs": CRS84},
        "temporal": {"interval": [interval or [None, None]], "trs": GREGORIAN},
    }


def supported_crs() -> list[str]:
    """The CRSs every collection can be read in (Part 2 ``crs`` list)."""
    return list(SUPPORTED)
