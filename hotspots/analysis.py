"""One analysis run: select incidents, find hotspots by a method, profile and rank them.

:func:`run_analysis` is what the CLI (``hotspots analyse``) and the API call.
It takes incidents as a DataFrame with the columns of
``geodata.model.INCIDENT_SCHEMA`` (as a store returns them) and returns an
:class:`AnalysisResult` whose hotspots are ranked in the partnership's terms
and carry their provenance.

Methods and what a "hotspot" is for each:

``dbscan`` / ``hdbscan``
    a density cluster of incidents (metres, projected CRS), at patrol scale
    unless its scales are given (:mod:`hotspots.cluster_scale`);
``hexes``
    an H3 cell, by incident count;
``gistar``
    an H3 cell whose Getis-Ord Gi* class is hot at ≥ 95 % (``min_gi_bin``);
``emerging``
    an H3 cell in one of the hot emerging categories (new, consecutive,
    intensifying, persistent, diminishing, sporadic, oscillating, historical);
    for both, a hot cell with fewer incidents of its own than the mean cell with
    any is hot only through its neighbours: kept in ``surroundings``, not ranked
    (:mod:`hotspots.surroundings`);
``kde``
    a connected part of the densest ``kde_top_share`` of the density surface.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geodata.crs import xy_to_lonlat
from geodata.taxonomy import validate_slugs

from .codes import starts_with
from .emerging import _mk_rows
from .finders import clusters, grid, kde
from .harm import HarmWeights
from .provenance import Provenance, StageTimer
from .ranking import GRAVESHAM_2023, ConcernProfile, RankingWeights, rank_hotspots
from .temporal import month_keys, month_positions, temporal_profile

METHODS = ("dbscan", "hdbscan", "hexes", "gistar", "emerging", "kde")
#: sources whose locations are anonymised before publication (police.uk snap points)
ANONYMISED_SOURCES = ("police-uk/",)
PROFILE_LIMIT = 200  # temporal profiles for this many top-ranked hotspots
#: the incident columns :func:`run_analysis` reads (a store read asks for these only)
ANALYSIS_COLUMNS = (
    "x", "y", "lon", "lat", "category", "occurred_at", "occurred_precision", "location",
    "batch_id", "source",
)  # fmt: skip


@dataclass(frozen=True)
class AnalysisParams:
    """What to analyse and how. ``None`` for a scale parameter means: choose from the data."""

    method: str = "dbscan"
    categories: tuple[str, ...] | None = None
    start: datetime | None = None  # inclusive
    end: datetime | None = None  # exclusive
    eps_m: float | None = None
    min_samples: int | None = None
    min_cluster_size: int | None = None
    cluster_selection: str = "leaf"  # HDBSCAN: "leaf" (smallest dense places) or "eom"
    resolution: int | None = None
    k: int = 1
    value: str = "count"  # what Gi* and hexes measure: "count" or "harm"
    permutations: int = 0
    fdr: bool = False
    min_gi_bin: int = 2
    bandwidth_m: float | None = None
    cell_m: float = 50.0
    kde_top_share: float = 0.05
    seed: int = 0
    top: int | None = None

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}; got {self.method!r}")
        if self.categories is not None:
            validate_slugs(self.categories)
        if self.value not in ("count", "harm"):
            raise ValueError(f"value must be 'count' or 'harm'; got {self.value!r}")
        if self.start and self.end and self.start >= self.end:
            raise ValueError(f"start {self.start} must be before end {self.end}")
        if (self.min_samples is not None and self.min_samples < 1) or self.k < 1:
            raise ValueError("min_samples >= 1 and k >= 1 are required")
        if self.cluster_selection not in ("eom", "leaf"):
            raise ValueError(
                f"cluster_selection must be 'eom' or 'leaf'; got {self.cluster_selection!r}"
            )
        if self.min_cluster_size is not None and self.min_cluster_size < 2:
            raise ValueError(f"min_cluster_size must be >= 2; got {self.min_cluster_size}")
        if self.permutations < 0:
            raise ValueError(f"permutations must be >= 0; got {self.permutations}")

    def method_parameters(self) -> dict:
        keys = {
            "dbscan": ("eps_m", "min_samples"),
            "hdbscan": ("min_cluster_size", "min_samples", "cluster_selection"),
            "hexes": ("resolution", "value"),
            "gistar": ("resolution", "k", "value", "permutations", "fdr", "min_gi_bin"),
            "emerging": ("resolution", "k", "value", "permutations"),
            "kde": ("bandwidth_m", "cell_m", "kde_top_share"),
        }[self.method]
        return {k: getattr(self, k) for k in keys}


@dataclass
class AnalysisResult:
    provenance: Provenance
    hotspots: gpd.GeoDataFrame  # ranked; geometry in the analysis CRS
    crs: str
    cells: gpd.GeoDataFrame | None = None  # every grid cell with its statistics (grid methods)
    surface: object | None = None  # DensitySurface (kde)
    profiles: dict = field(default_factory=dict)  # hotspot id -> TemporalProfile dict
    notes: list[str] = field(default_factory=list)
    #: hotspot id -> generalised outline (:mod:`hotspots.generalise`) as GeoJSON, with its
    #: area and centroid: what roles below analyst are shown instead of the exact shape
    outlines: dict = field(default_factory=dict)
    #: grid cells hot only through their neighbours (:mod:`hotspots.surroundings`): not
    #: hotspots, not ranked; shown apart on analysts' maps
    surroundings: gpd.GeoDataFrame | None = None
    #: recording places left out (e.g. police stations), as ``[{"lon", "lat", "location",
    #: "count"}]``, set by the caller that left them out; analysts' maps mark them
    artefact_places: list = field(default_factory=list)

    @property
    def run_id(self) -> str:
        return self.provenance.run_id

    def hotspots_lonlat(self) -> gpd.GeoDataFrame:
        return self.hotspots.to_crs("EPSG:4326")

    def to_geojson(self) -> dict:
        """FeatureCollection of the ranked hotspots (WGS84, lon/lat) with every statistic."""
        gdf = self.hotspots_lonlat()
        features = []
        for rec, geom in zip(gdf.drop(columns="geometry").to_dict("records"), gdf.geometry):
            props = {k: _plain(v) for k, v in rec.items()}
            props["profile"] = self.profiles.get(rec["hotspot_id"])
            feature = {
                "type": "Feature",
                "id": rec["hotspot_id"],
                "geometry": shapely.geometry.mapping(geom),
                "properties": props,
            }
            if rec["hotspot_id"] in self.outlines:
                feature["generalised"] = self.outlines[rec["hotspot_id"]]
            features.append(feature)
        from .surroundings import to_feature_collection

        doc = {
            "type": "FeatureCollection",
            "features": features,
            "run_id": self.run_id,
            "provenance": self.provenance.to_dict(),
            "notes": self.notes,
        }
        surroundings = to_feature_collection(self.surroundings)
        if surroundings:
            doc["surroundings"] = surroundings
        if self.artefact_places:
            doc["artefact_places"] = self.artefact_places
        return doc

    def to_json(self) -> str:
        return json.dumps(self.to_geojson(), default=_plain)


def _plain(v):
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, pd.Timestamp | datetime):
        return v.isoformat()
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, float) and np.isnan(v):
        return None
    return v


def category_window_mask(
    incidents: pd.DataFrame,
    categories: tuple[str, ...] | list[str] | None,
    start: datetime | None,
    end: datetime | None,
) -> np.ndarray:
    """True for the incidents in ``categories`` (all when ``None``) dated in [start, end).

    Either end may be ``None`` (open). Shared by the analysis and the planner.
    """
    keep = np.ones(len(incidents), bool)
    if categories is not None:
        keep &= incidents["category"].isin(categories).to_numpy()
    at = incidents["occurred_at"]
    if start is not None:
        keep &= (at >= pd.Timestamp(start)).to_numpy()
    if end is not None:
        keep &= (at < pd.Timestamp(end)).to_numpy()
    return keep


def select(incidents: pd.DataFrame, params: AnalysisParams) -> pd.DataFrame:
    """Incidents in the window and categories of ``params``."""
    keep = category_window_mask(incidents, params.categories, params.start, params.end)
    if keep.all():  # a new frame on the same columns (copy on write): no copy of the rows
        return incidents.reset_index(drop=True)
    return incidents.loc[keep].reset_index(drop=True)


def run_analysis(
    incidents: pd.DataFrame,
    params: AnalysisParams,
    *,
    crs: str = "EPSG:27700",
    area_lonlat: shapely.Geometry | None = None,
    months: list[str] | None = None,
    batches: dict[str, str] | None = None,
    harm_weights: HarmWeights | None = None,
    concern: ConcernProfile = GRAVESHAM_2023,
    ranking: RankingWeights | None = None,
    coverage: dict | None = None,
    extra_notes: list[str] | None = None,
    engine=None,
    progress=None,
) -> AnalysisResult:
    """Find, profile and rank hotspots.

    Parameters
    ----------
    incidents : columns of ``INCIDENT_SCHEMA`` (at least x, y, lon, lat,
        category, occurred_at, occurred_precision, location, batch_id).
    area_lonlat : the study area (WGS84), for grids filled with empty cells.
    months : months with data (``YYYY-MM``) in the window, of any category;
        months without data are excluded from trends, never counted as zero.
        Default: the months present in ``incidents``.
    batches : batch id → content hash of the batches the incidents came from.
    coverage : what the months stand on (``geodata.coverage.Covered.to_dict``):
        its ``skipped`` months and ``sources`` are recorded in the provenance's
        window and its note added to the run's notes.
    extra_notes : sentences about how the incidents were chosen, for the notes.
    engine : a :class:`hotspots.scaleout.DaskEngine` to run DBSCAN, Gi* and emerging hot
        spots on a Dask cluster, partition by partition (the same result as one machine,
        :mod:`hotspots.scaleout`); ``None`` runs everything here.
    progress : called as ``progress(stage, seconds)`` as each stage ends (the stages of
        ``provenance.stages``), e.g. the command line's progress display.
    """
    if engine is not None:
        from .scaleout import check_method

        check_method(params.method)
    harm_weights = harm_weights or HarmWeights.default()
    ranking = ranking or RankingWeights()
    timer = StageTimer(progress)
    with timer("select"):
        data = select(incidents, params)
    with timer("harm"):
        data["harm"] = harm_weights.weigh(data["category"])
    with timer("months"):
        months = (
            sorted(months) if months is not None else sorted(set(month_keys(data["occurred_at"])))
        )
    automatic: dict[str, dict] = {}
    notes: list[str] = [coverage["note"]] if coverage and coverage.get("note") else []
    notes += list(extra_notes or [])
    if data.empty:
        notes.append("no incidents match the categories and window")

    finder = {"dbscan": clusters, "hdbscan": clusters, "kde": kde}.get(params.method, grid)
    # the finder times its own stages (grid, statistics, hotspot table, ...)
    hotspots, cells, surface, params = finder(
        data, params, crs, area_lonlat, months, automatic, notes, timer=timer, engine=engine
    )

    # Monthly series, trend and profiles per hotspot, vectorised over hotspots
    hs_of = hotspots.attrs.pop("hs_of", np.full(len(data), -1))
    n_h, n_m = len(hotspots), len(months)
    with timer("outlines"):
        outlines = _generalised(data, hotspots, hs_of, params.method, crs)
    with timer("trend+rank"):
        at = data["occurred_at"].to_numpy()
        m_of = month_positions(at, months)
        ok = (hs_of >= 0) & (m_of >= 0)
        monthly = np.bincount(hs_of[ok] * n_m + m_of[ok], minlength=n_h * n_m).reshape(n_h, n_m)
        trend = np.full(n_h, np.nan)
        if n_h and n_m >= 3:
            trend = _mk_rows(monthly.astype(float))[2]
        ranked = rank_hotspots(hotspots, trend_z=trend, concern=concern, weights=ranking).table
        if params.top is not None:
            ranked = ranked.head(params.top)
    profiles = {}
    with timer("profiles"):
        if n_h:
            # Only the two columns a profile reads, as arrays: no take of the whole frame.
            precision = short_strings(data["occurred_precision"])
            position = {h: i for i, h in enumerate(hotspots["hotspot_id"])}
            order = np.argsort(hs_of, kind="stable")
            starts = np.searchsorted(hs_of[order], np.arange(n_h + 1))
            for hid in ranked["hotspot_id"].head(PROFILE_LIMIT):
                i = position[hid]
                rows = order[starts[i] : starts[i + 1]]
                profiles[hid] = temporal_profile(at[rows], precision[rows], months).to_dict()
            if n_h > PROFILE_LIMIT:
                notes.append(f"temporal profiles are given for the top {PROFILE_LIMIT} hotspots")
        ranked = gpd.GeoDataFrame(ranked, geometry="geometry", crs=crs)

    used = sorted(set(data["batch_id"].unique())) if "batch_id" in data else []
    prov = Provenance(
        method=params.method,
        parameters=params.method_parameters(),
        automatic=automatic,
        window={
            "start": params.start,
            "end": params.end,
            "months": months,
            **(
                {"skipped": coverage.get("skipped", {}), "sources": coverage.get("sources", [])}
                if coverage
                else {}
            ),
        },
        categories=list(params.categories) if params.categories else None,
        batches={b: (batches or {}).get(b, "") for b in used},
        weights_version=harm_weights.identity(),
        concern_profile=concern.identity(),
        ranking_weights=ranking.normalised(),
        seed=params.seed,
        n_incidents=len(data),
        stages={k: round(v, 4) for k, v in timer.seconds.items()},
        execution=engine.describe() if engine is not None else {"backend": "local"},
    )
    ranked.insert(0, "run_id", prov.run_id)
    surroundings = cells.attrs.pop("surroundings", None) if cells is not None else None
    return AnalysisResult(
        prov, ranked, crs, cells, surface, profiles, notes, outlines, surroundings
    )


def short_strings(values: pd.Series) -> np.ndarray:
    """A column of a few distinct short strings (e.g. ``occurred_precision``) as a NumPy
    unicode array, missing values as ``""``: one conversion per distinct value, not a
    Python string per row."""
    codes, uniques = pd.factorize(values)
    table = np.array([*(str(u) for u in uniques), ""])
    return table[codes]  # code -1 (missing) → the last entry, ""


def _generalised(data, hotspots, hs_of, method: str, crs: str) -> dict:
    """Distinct places per hotspot (set on ``hotspots``) and each hotspot's generalised
    outline for roles below analyst: H3 cells for clusters and density areas, the cell
    itself for grid methods."""
    from .generalise import cell_outlines, distinct_places, places_of

    n = len(hotspots)
    if not n:
        return {}
    places = places_of(data["lat"].to_numpy(float), data["lon"].to_numpy(float), hs_of)
    hotspots["distinct_points"] = distinct_places(places, n)
    # places anonymised at source (police.uk snap points stand for several addresses)
    if "source" in data:
        snapped = starts_with(data["source"], ANONYMISED_SOURCES)
    else:
        snapped = np.zeros(len(data), bool)
    hotspots["snap_points"] = distinct_places(places, n, among=snapped)
    if method in ("hexes", "gistar", "emerging"):
        geoms = gpd.GeoSeries(hotspots.geometry.to_numpy(), crs=crs)
    else:
        geoms = gpd.GeoSeries(cell_outlines(places, n), crs="EPSG:4326").to_crs(crs)
    area = geoms.area.to_numpy()
    centre = geoms.centroid
    c_lon, c_lat = xy_to_lonlat(centre.x.to_numpy(), centre.y.to_numpy(), crs)
    # GeoJSON written by GEOS for every outline at once (shortest round-trip digits)
    lonlat = geoms.to_crs("EPSG:4326").to_numpy()
    drawn = shapely.to_geojson(np.where(shapely.is_empty(lonlat), None, lonlat))
    out = {}
    for i, hid in enumerate(hotspots["hotspot_id"]):
        if drawn[i] is None:
            continue
        out[str(hid)] = {
            "geometry": json.loads(drawn[i]),
            "area_m2": float(area[i]),
            "centroid": [round(float(c_lon[i]), 6), round(float(c_lat[i]), 6)],
        }
    return out


__all__ = [
    "ANALYSIS_COLUMNS",
    "METHODS",
    "AnalysisParams",
    "AnalysisResult",
    "run_analysis",
    "select",
]
