"""What the CLI and the web API share: running analyses on a store, storing runs, and
shaping results for a role."""

from __future__ import annotations

import copy
import hashlib
import json
import threading
import time
import weakref
from dataclasses import dataclass

import shapely

from geodata.crs import WGS84
from geodata.model import RunRecord
from geodata.stores import IncidentQuery, Store
from geodata.taxonomy import DEFAULT_SENSITIVE
from hotspots.analysis import AnalysisParams, AnalysisResult, run_analysis
from hotspots.harm import HarmWeights
from hotspots.provenance import library_versions
from hotspots.ranking import GRAVESHAM_2023, ConcernProfile, RankingWeights
from hotspots.temporal import month_keys

from .security import now_utc


def analyse_store(
    st: Store,
    params: AnalysisParams,
    weights: HarmWeights | None = None,
    concern: ConcernProfile | None = None,
    ranking: RankingWeights | None = None,
) -> AnalysisResult:
    """Run an analysis on the incidents of a store, with its study area and months."""
    incidents = st.query_incidents(
        IncidentQuery(start=params.start, end=params.end, categories=params.categories)
    ).to_pandas()
    stamps = (
        st.query_incidents(
            IncidentQuery(start=params.start, end=params.end, columns=["occurred_at"])
        )
        .column("occurred_at")
        .to_numpy()
    )
    months = sorted(set(month_keys(stamps)))
    district = st.boundaries("district")
    area = shapely.union_all(district.to_crs(WGS84).geometry.to_numpy()) if len(district) else None
    batches = {b.batch_id: b.content_hash for b in st.list_batches()}
    return run_analysis(
        incidents,
        params,
        crs=st.analysis_crs,
        area_lonlat=area,
        months=months,
        batches=batches,
        harm_weights=weights or HarmWeights.default(),
        concern=concern or GRAVESHAM_2023,
        ranking=ranking or RankingWeights(),
    )


def request_key(st: Store, request: dict) -> str:
    """Identifies an analysis request against the data as stored now (for reuse)."""
    batches = sorted((b.batch_id, b.content_hash) for b in st.list_batches())
    body = json.dumps(
        {
            "request": request,
            "batches": batches,
            "libraries": library_versions(),
            "weights": HarmWeights.default().version,
        },
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(body.encode()).hexdigest()


def run_or_reuse(
    st: Store, request: dict, params: AnalysisParams, ranking: RankingWeights | None = None
) -> tuple[RunRecord, bool]:
    """The stored run for an identical request on unchanged data, or a new one (True)."""
    key = request_key(st, request)
    for run in st.list_runs(params.method, limit=1000):
        if run.params.get("request_key") == key:
            found = st.get_run(run.run_id)
            if found is not None:
                return found, False
    result = analyse_store(st, params, ranking=ranking)
    fc = json.loads(result.to_json())
    fc["sensitive_categories"] = sensitive_categories(st, params)
    record = RunRecord(
        run_id=result.run_id,
        method=params.method,
        params={"request": request, "request_key": key},
        provenance=json.loads(json.dumps(result.provenance.to_dict(), default=str)),
        result=fc,
        created_at=now_utc(),
    )
    created = st.save_run(record)
    if not created:  # same run id already stored (same inputs): keep the original
        stored = st.get_run(record.run_id)
        return (stored or record), False
    return record, True


def sensitive_categories(st: Store, params: AnalysisParams) -> list[str]:
    """The categories of the sensitive incidents an analysis used (as flagged at import)."""
    t = st.query_incidents(
        IncidentQuery(
            start=params.start,
            end=params.end,
            categories=params.categories,
            columns=["category", "sensitive"],
        )
    )
    flagged = t.filter(t["sensitive"].fill_null(False)).column("category").to_pylist()
    return sorted(set(flagged))


SUPPRESSED = None


def _reveals_sensitive(props: dict, sensitive: frozenset[str], min_count: int) -> bool:
    """Whether a hotspot would show sensitive incidents as (near enough) points: it holds
    sensitive incidents and fewer than ``min_count`` incidents, or a single place."""
    cats = props.get("categories") or {}
    if not any(cats.get(c) for c in sensitive):
        return False
    return (props.get("count") or 0) < min_count or props.get("distinct_points") == 1


def shape_for_role(fc: dict, role: str, min_count: int) -> dict:
    """A run's FeatureCollection as a role may see it.

    Below ``analyst``, a hotspot holding sensitive incidents (the run's
    ``sensitive_categories``, else the default ones) is withheld when it holds
    fewer than ``min_count`` incidents or one place only, since its shape and
    centroid would show those incidents as points; ``withheld`` says how many.
    ``public`` also gets every count below ``min_count`` suppressed (``null``,
    with ``suppressed: true``), and no street-level top locations with small
    counts; ``analyst`` gets it whole.
    """
    if role == "analyst":
        return fc
    sensitive = frozenset(fc.get("sensitive_categories") or ()) | DEFAULT_SENSITIVE
    features = fc.get("features", [])
    kept = [f for f in features if not _reveals_sensitive(f["properties"], sensitive, min_count)]
    if len(kept) < len(features):
        fc = {**fc, "features": kept, "withheld": {"features": len(features) - len(kept)}}
    if role != "public":
        return fc
    out = copy.deepcopy(fc)
    for f in out.get("features", []):
        p = f["properties"]
        small = p.get("count") is not None and p["count"] < min_count
        if small:
            p["count"] = SUPPRESSED
            p["harm"] = SUPPRESSED
            p["harm_density_per_km2"] = SUPPRESSED
        p["suppressed"] = small
        cats = p.get("categories") or {}
        p["categories"] = {k: (v if v >= min_count else SUPPRESSED) for k, v in cats.items()}
        p["top_locations"] = [loc for loc in p.get("top_locations") or [] if loc[1] >= min_count]
        profile = p.get("profile")
        if profile:
            profile["monthly"] = {
                m: (v if v >= min_count else SUPPRESSED)
                for m, v in profile.get("monthly", {}).items()
            }
            profile["hour_weekday"] = None
    out["suppression"] = {"role": "public", "min_count": min_count}
    return out


@dataclass(frozen=True)
class ShapedRun:
    """A run's GeoJSON as one role sees it, serialised once, with its ETag."""

    body: bytes
    etag: str
    loaded_at: float


class ShapedRunCache:
    """Serialised, role-shaped run GeoJSON per store and (run id, role, threshold).

    A stored run never changes (its id names its inputs), so its body can be served
    again without reading, shaping and serialising it on every request. Entries are
    read again from the store after ``ttl_s`` seconds, so a deleted run stops being
    served within that time; at most ``max_entries`` per store are kept.
    """

    def __init__(self, ttl_s: float = 30.0, max_entries: int = 64) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._lock = threading.Lock()
        self._stores: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    def peek(self, st: Store, run_id: str, role: str, min_count: int) -> ShapedRun | None:
        """The body kept in memory if it is fresh, without touching the store."""
        with self._lock:
            hit = self._stores.get(st, {}).get((run_id, role, min_count))
        return hit if hit is not None and time.monotonic() - hit.loaded_at < self.ttl_s else None

    def get(self, st: Store, run_id: str, role: str, min_count: int) -> ShapedRun | None:
        """The run's body for ``role``, from memory or the store; ``None`` if no such run."""
        key = (run_id, role, min_count)
        hit = self.peek(st, run_id, role, min_count)
        if hit is not None:
            return hit
        with self._lock:
            entries = self._stores.setdefault(st, {})
        run = st.get_run(run_id)
        if run is None:
            with self._lock:
                entries.pop(key, None)
            return None
        body = json.dumps(shape_for_role(run.result, role, min_count), default=str).encode()
        shaped = ShapedRun(body, f'"{hashlib.sha256(body).hexdigest()[:32]}"', time.monotonic())
        with self._lock:
            if len(entries) >= self.max_entries and key not in entries:
                entries.pop(min(entries, key=lambda k: entries[k].loaded_at))
            entries[key] = shaped
        return shaped


#: the web API's cache of hotspot documents (one per process)
SHAPED_RUNS = ShapedRunCache()
