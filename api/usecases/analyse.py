"""What the CLI and the web API share: running analyses on a store and storing runs (with
the restricted view shown below analyst), and a cache of role-shaped run documents."""

from __future__ import annotations

import hashlib
import json
import threading
import time
import weakref
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import shapely
from shapely.geometry import shape

from geodata.coverage import coverage_of, in_months
from geodata.crs import WGS84
from geodata.model import RunRecord
from geodata.stores import IncidentQuery, Store
from geodata.validate import ARTEFACT_FLAG
from hotspots.analysis import ANALYSIS_COLUMNS, AnalysisParams, AnalysisResult
from hotspots.harm import HarmWeights
from hotspots.provenance import StageTimer, library_versions
from hotspots.ranking import GRAVESHAM_2023, ConcernProfile, RankingWeights

from ..disclosure import Disclosure
from ..security import now_utc
from ..worker import run_stoppable
from .compute import analysis_on
from .run_counts import run_counts  # noqa: F401  (its home was here; importers keep working)


def analyse_store(
    st: Store,
    params: AnalysisParams,
    weights: HarmWeights | None = None,
    concern: ConcernProfile | None = None,
    ranking: RankingWeights | None = None,
    *,
    include_sensitive: bool = True,
    include_artefacts: bool = False,
    engine=None,
    progress=None,
) -> AnalysisResult:
    """Run an analysis on the incidents of a store, with its study area and months.

    ``include_sensitive=False`` analyses without the incidents flagged sensitive: the
    restricted view that roles below analyst are shown (:mod:`api.disclosure`).
    ``engine``: an open Dask engine, or an :class:`~api.usecases.compute.EngineSpec` to
    connect to (:mod:`api.usecases.compute`); ``None`` runs here. ``progress(stage,
    seconds)`` hears each stage end (the command line's display)."""
    timer = StageTimer(progress)
    with timer("coverage"):  # the restricted view's months come from the incidents it may use
        covered = coverage_of(st, include_sensitive).covered(
            params.categories, params.start, params.end
        )
    with timer("read"):  # only the columns the analysis reads (the flags for recording places)
        incidents = st.query_incidents(
            IncidentQuery(
                start=params.start,
                end=params.end,
                categories=params.categories,
                include_sensitive=include_sensitive,
                columns=[*ANALYSIS_COLUMNS, "flags"],
                dictionary=True,  # repeated texts as codes (category, source, batch...)
            )
        ).to_pandas()
        pa.default_memory_pool().release_unused()  # the read's buffers: 0.1 GB at 5M
    with timer("months+area"):
        # months a source of these categories lacks are left out, never counted as zero
        listed = in_months(incidents["occurred_at"], covered.months)
        if not listed.all():  # (a copy of every column only when some rows go)
            incidents = incidents.loc[listed]
        places = [] if include_artefacts else artefact_places(incidents)
        incidents, artefacts = without_artefacts(incidents, include_artefacts)
        months = list(covered.months)
        district = st.boundaries("district")
        area = (
            shapely.union_all(district.to_crs(WGS84).geometry.to_numpy()) if len(district) else None
        )
        batches = {b.batch_id: b.content_hash for b in st.list_batches()}
    result = run_stoppable(  # stopped at the request's time limit (api.worker)
        analysis_on,
        engine,
        incidents,
        params,
        crs=st.analysis_crs,
        area_lonlat=area,
        months=months,
        batches=batches,
        harm_weights=weights or HarmWeights.default(),
        concern=concern or GRAVESHAM_2023,
        ranking=ranking or RankingWeights(),
        coverage=covered.to_dict(),
        extra_notes=[artefact_note(artefacts, len(places), include_sensitive)]
        if artefacts
        else None,
        progress=progress,
    )
    if include_sensitive:  # the analyst's view: the places are marked on analysts' maps
        result.artefact_places = places
    # the store's part first, then the analysis's own stages (timing: not in the run id)
    result.provenance.stages = {
        **{k: round(v, 4) for k, v in timer.seconds.items()},
        **result.provenance.stages,
    }
    return result


#: said when incidents at recording places were left out
ARTEFACT_NOTE = (
    "incidents at recording places (e.g. 'On or near Police Station': police.uk puts crimes "
    "recorded at a station on the station's snap point) are left out; include_artefacts "
    "brings them back"
)


def artefact_note(n: int, n_places: int, with_count: bool) -> str:
    """:data:`ARTEFACT_NOTE`, with how many incidents at how many places for the analyst's
    view (``with_count``); the restricted view shown below analyst gives no count, as its
    notes are not passed through the public suppression of small counts."""
    if not with_count:
        return ARTEFACT_NOTE[0].upper() + ARTEFACT_NOTE[1:]
    places = f"{n_places} recording place{'s' if n_places != 1 else ''}"
    text = ARTEFACT_NOTE.replace("incidents at recording places", f"incidents at {places}", 1)
    return f"{n:,} {text}"


def artefact_places(incidents) -> list[dict]:
    """The recording places flagged ``artefact-place`` in ``incidents``, with their
    incident counts: ``[{"lon", "lat", "location", "count"}]``, most incidents first."""
    if "flags" not in incidents or not len(incidents):
        return []
    at = flagged(incidents["flags"])
    if not at.any():
        return []
    sub = incidents.loc[at, ["lon", "lat", "location"]].copy()
    sub["location"] = sub["location"].astype("str").fillna("")
    groups = sub.groupby(["lon", "lat", "location"], sort=False).size().reset_index(name="n")
    groups = groups.sort_values(["n", "location"], ascending=[False, True])
    return [
        {"lon": float(lo), "lat": float(la), "location": str(loc), "count": int(k)}
        for lo, la, loc, k in zip(groups["lon"], groups["lat"], groups["location"], groups["n"])
    ]


def flagged(flags) -> np.ndarray:
    """True where ``flags`` (texts, or a categorical of them) hold the artefact flag."""
    return flags.str.contains(ARTEFACT_FLAG, regex=False, na=False).to_numpy(bool)


def without_artefacts(incidents, include: bool = False):
    """(incidents, how many were left out): those flagged ``artefact-place`` on import are
    dropped unless ``include``."""
    if include or "flags" not in incidents or not len(incidents):
        return incidents, 0
    at = flagged(incidents["flags"])
    return (incidents.loc[~at] if at.any() else incidents), int(at.sum())


def params_from_request(request: dict) -> tuple[AnalysisParams, RankingWeights | None]:
    """The analysis parameters and ranking weights of a stored analysis request (the JSON
    body of ``POST /analyses``, as a run keeps it); :class:`ValueError` naming the field."""
    from hotspots.temporal import month_or_day

    def when(field: str, end: bool):
        text = request.get(field)
        if text is None:
            return None
        value = month_or_day(str(text), end=end)
        if value is None:
            raise ValueError(f"{field}: expected YYYY-MM or YYYY-MM-DD; received {text!r}")
        return value

    cats = request.get("categories")
    params = AnalysisParams(
        method=request.get("method", "dbscan"),
        categories=tuple(cats) if cats else None,
        start=when("from", end=False),
        end=when("to", end=True),
        eps_m=request.get("eps_m"),
        min_samples=request.get("min_samples"),
        min_cluster_size=request.get("min_cluster_size"),
        cluster_selection=request.get("cluster_selection", "leaf"),
        resolution=request.get("resolution"),
        k=request.get("k", 1),
        value=request.get("value", "count"),
        permutations=request.get("permutations", 999) if request.get("permute") else 0,
        fdr=request.get("fdr", False),
        bandwidth_m=request.get("bandwidth_m"),
        cell_m=request.get("cell_m", 50.0),
        seed=request.get("seed", 0),
    )
    weights = request.get("weights")
    return params, (RankingWeights(**weights) if weights else None)


def profiles_from_request(request: dict) -> tuple[HarmWeights | None, ConcernProfile | None]:
    """The harm weights and concern profile a request gives inline (``harm_weights``,
    ``concern``: the shapes of the TOML files ``hotspots analyse`` reads), or ``None``;
    :class:`ValueError` naming the field."""
    weights = request.get("harm_weights")
    concern = request.get("concern")
    return (  # (runs stored before kept only a profile's name: not a mapping)
        HarmWeights.from_mapping(weights, where="harm_weights")
        if isinstance(weights, dict)
        else None,
        ConcernProfile.from_mapping(concern, where="concern")
        if isinstance(concern, dict)
        else None,
    )


#: bumped when what a run stores for disclosure changes
DISCLOSURE_VERSION = 4


def request_key(st: Store, request: dict) -> str:
    """Identifies an analysis request against the data as stored now (for reuse)."""
    batches = sorted((b.batch_id, b.content_hash) for b in st.list_batches())
    body = json.dumps(
        {
            "request": request,
            "batches": batches,
            "libraries": library_versions(),
            "weights": HarmWeights.default().version,
            # runs stored before the restricted view and generalised outlines are not reused
            "disclosure": DISCLOSURE_VERSION,
        },
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(body.encode()).hexdigest()


def run_or_reuse(
    st: Store,
    request: dict,
    params: AnalysisParams,
    ranking: RankingWeights | None = None,
    *,
    weights: HarmWeights | None = None,
    concern: ConcernProfile | None = None,
    engine=None,
    progress=None,
) -> tuple[RunRecord, bool]:
    """The stored run for an identical request on unchanged data, or a new one (True).

    The one way a run is made, whichever door asks (``hotspots analyse``, ``POST
    /analyses``, the demo, a share link's filters). Custom harm ``weights`` and
    ``concern`` profiles are part of the request's identity (their version and name).
    """
    include_artefacts = bool(request.get("include_artefacts"))
    # custom profiles are kept whole in the request, whichever door sent them: part of
    # its identity, and what a share link's filtered re-run uses again
    request = {
        k: v for k, v in request.items() if k not in ("harm_weights", "concern", "concern_profile")
    }
    if weights is not None:
        request["harm_weights"] = weights.to_mapping()
    if concern is not None:
        request["concern"] = concern.to_mapping()
    key = request_key(st, request)
    found = st.run_for_request(key)  # one indexed lookup, however many runs are stored
    if found is not None:
        return found, False
    result = analyse_store(
        st,
        params,
        weights,
        concern,
        ranking,
        include_artefacts=include_artefacts,
        engine=engine,
        progress=progress,
    )
    fc = json.loads(result.to_json())
    fc["sensitive_categories"] = sensitive_categories(st, params)
    if fc["sensitive_categories"]:
        # what roles below analyst see: the same analysis without the sensitive incidents
        restricted = analyse_store(
            st,
            params,
            weights,
            concern,
            ranking,
            include_sensitive=False,
            include_artefacts=include_artefacts,
            engine=engine,
            progress=progress,
        )
        fc["restricted"] = json.loads(restricted.to_json())
    record = RunRecord(
        run_id=result.run_id,
        method=params.method,
        params={"request": request, "request_key": key},
        provenance=json.loads(json.dumps(result.provenance.to_dict(), default=str)),
        result=fc,
        created_at=now_utc(),
    )
    record.params["disclosed"] = disclosed_summary(record)
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


def disclosed_summary(record: RunRecord) -> dict:
    """Each role's figures and bounds of a run under the default disclosure settings,
    kept with the run: listings (``GET /runs``, OGC collections) read no results, so a
    store of many runs lists at once instead of loading and shaping every result."""
    out = {}
    for policy in (Disclosure(role=role) for role in ("analyst", "partner", "public")):
        view = policy.run_view(record.result or {"features": []})
        geoms = [shape(f["geometry"]) for f in view["features"] if f.get("geometry")]
        bbox = [float(v) for v in shapely.total_bounds(geoms)] if geoms else None
        out[policy.counts_key()] = {"counts": list(policy.run_counts(record)), "bbox": bbox}
    return out


@dataclass(frozen=True)
class ShapedRun:
    """A run's GeoJSON as one role sees it, serialised once, with its ETag."""

    body: bytes
    etag: str
    loaded_at: float


class ShapedRunCache:
    """Serialised, role-shaped run GeoJSON per store and (run id, disclosure policy).

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

    def peek(self, st: Store, run_id: str, policy: Disclosure) -> ShapedRun | None:
        """The body kept in memory if it is fresh, without touching the store."""
        with self._lock:
            hit = self._stores.get(st, {}).get((run_id, policy))
        return hit if hit is not None and time.monotonic() - hit.loaded_at < self.ttl_s else None

    def get(self, st: Store, run_id: str, policy: Disclosure) -> ShapedRun | None:
        """The run's body for the policy's role, from memory or the store; ``None`` if no
        such run."""
        key = (run_id, policy)
        hit = self.peek(st, run_id, policy)
        if hit is not None:
            return hit
        with self._lock:
            entries = self._stores.setdefault(st, {})
        run = st.get_run(run_id)
        if run is None:
            with self._lock:
                entries.pop(key, None)
            return None
        body = json.dumps(policy.run_view(run.result), default=str).encode()
        shaped = ShapedRun(body, f'"{hashlib.sha256(body).hexdigest()[:32]}"', time.monotonic())
        with self._lock:
            if len(entries) >= self.max_entries and key not in entries:
                entries.pop(min(entries, key=lambda k: entries[k].loaded_at))
            entries[key] = shaped
        return shaped

    def forget(self, st: Store, run_id: str) -> None:
        """Stop serving ``run_id`` from memory at once (it was deleted), for every role."""
        with self._lock:
            entries = self._stores.get(st, {})
            for key in [k for k in entries if k[0] == run_id]:
                del entries[key]


#: the web API's cache of hotspot documents (one per process)
SHAPED_RUNS = ShapedRunCache()
