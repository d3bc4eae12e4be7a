"""The Knox use case: what ``hotspots knox`` and ``POST /knox`` both run.

It reads the incidents of the categories and window, chooses time bands from their
date precision (month-wide for police.uk's month-dated records, else weekly) unless
given, runs :func:`hotspots.nearrepeat.knox` and, when asked, the near-repeat risk
zones at the nearest significant bands, active on ``as_of`` (default: the window's
end, else the latest incident's day). Both doors give the same answer to the same
request; the web API, answering within a request's time limit, also refuses work
beyond ``limits`` (:class:`KnoxLimits`) with a 409 saying what to narrow, and the
command line, which has no such limit, does not.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

import pandas as pd

from geodata.errors import HotspotsError
from geodata.stores import IncidentQuery, Store

from ..worker import run_stoppable
from .evaluation import finite_json

DEFAULT_SPACE_BANDS_M = (0.0, 100.0, 200.0, 400.0, 800.0)


class KnoxError(HotspotsError, ValueError):
    """A Knox test that cannot be run as asked; ``field`` names the parameter."""

    status = 422
    type = "invalid-input"

    def __init__(self, message: str, field: str | None, expected: str, *, status: int = 422):
        super().__init__(message)
        self.status = status  # 409: the stored data cannot answer this request
        self.type = "conflict" if status == 409 else self.type
        self.errors = [{"field": field, "where": "body", "expected": expected}]

    def to_dict(self) -> dict[str, object]:
        return {**super().to_dict(), "errors": self.errors}


@dataclass(frozen=True)
class KnoxLimits:
    """Work a Knox test may take where an answer must come within a time limit."""

    #: incidents matched
    incidents: int = 20_000
    #: close pairs × (permutations + 1): a few seconds on one core
    pair_draws: int = 200_000_000


@dataclass(frozen=True)
class KnoxQuery:
    """A Knox test of near repeats; bands are half-open ``[a, b)`` edges."""

    categories: Sequence[str]
    start: datetime | None = None
    end: datetime | None = None  # exclusive
    space_bands_m: Sequence[float] = DEFAULT_SPACE_BANDS_M
    time_bands_days: Sequence[float] | None = None
    permutations: int = 999
    seed: int = 0
    risk_zones: bool = False
    as_of: date | None = None


def run_knox(store: Store, q: KnoxQuery, limits: KnoxLimits | None = None) -> dict:
    """The Knox test's document (JSON-ready): the table of bands, the categories, window,
    precision and bands used, and with ``q.risk_zones`` the zones (GeoJSON, WGS84)."""
    from hotspots.nearrepeat import DAY_BANDS_DAYS, MONTH_BANDS_DAYS, days_since, knox

    table = store.query_incidents(
        IncidentQuery(
            start=q.start,
            end=q.end,
            categories=list(q.categories),
            columns=["x", "y", "occurred_at", "occurred_precision"],
        )
    ).to_pandas()
    if limits is not None and len(table) > limits.incidents:
        raise KnoxError(
            f"{len(table):,} incidents match; a Knox test here takes at most "
            f"{limits.incidents:,}: narrow the categories or the time window",
            "categories",
            "fewer incidents",
            status=409,
        )
    if len(table) < 2:
        raise KnoxError(
            f"{len(table)} incidents match; a Knox test needs at least two",
            "categories",
            "two or more incidents",
            status=409,
        )
    monthly = bool((table["occurred_precision"] == "month").all())
    bands = list(q.time_bands_days or (MONTH_BANDS_DAYS if monthly else DAY_BANDS_DAYS))
    if limits is not None:
        _check_work(table, max(q.space_bands_m), q.permutations, limits)
    try:
        result = run_stoppable(  # stopped at a request's time limit, if any
            knox,
            table["x"].to_numpy(),
            table["y"].to_numpy(),
            days_since(table["occurred_at"]),
            list(q.space_bands_m),
            bands,
            permutations=q.permutations,
            seed=q.seed,
            what="the Knox test",
        )
    except ValueError as exc:
        name, sep, problem = str(exc).partition(": ")
        raise KnoxError(str(exc), name if sep else None, problem) from None
    doc = finite_json(json.loads(json.dumps(result.to_dict(), default=str)))
    doc["categories"] = list(q.categories)
    doc["window"] = [q.start.isoformat() if q.start else None, q.end.isoformat() if q.end else None]
    doc["month_precision"] = monthly
    doc["time_bands_days"] = bands
    if q.risk_zones:
        doc["risk_zones"] = _zones(store, table, result, q)
    return doc


def _check_work(table: pd.DataFrame, max_distance_m: float, permutations: int, limits) -> None:
    """Refuse (409) a test whose close pairs × permutations would outlast the limit."""
    from scipy.spatial import cKDTree

    tree = cKDTree(table[["x", "y"]].to_numpy())
    pairs = (int(tree.count_neighbors(tree, max_distance_m)) - tree.n) // 2
    if pairs * (permutations + 1) > limits.pair_draws:
        most = max(19, limits.pair_draws // max(pairs, 1) - 1)
        raise KnoxError(
            f"{pairs:,} pairs of incidents lie within {max_distance_m:g} m; with "
            f"{permutations:,} permutations that is more than a Knox test here takes. "
            f"Ask for at most {most:,} permutations, or narrow the categories or window",
            "permutations",
            f"≤ {most:,}",
            status=409,
        )


def _as_of(q: KnoxQuery, table: pd.DataFrame) -> date:
    """The day the zones are active on: asked for, else the window's last day, else the
    latest incident's."""
    if q.as_of is not None:
        return q.as_of
    if q.end is not None:
        return (pd.Timestamp(q.end) - pd.Timedelta(microseconds=1)).date()
    return pd.Timestamp(table["occurred_at"].max()).date()


def _zones(store: Store, table: pd.DataFrame, result, q: KnoxQuery) -> dict:
    from geodata.interventions import to_lonlat_geojson
    from hotspots.nearrepeat import risk_zones

    extent = result.extent()
    as_of = _as_of(q, table)
    zones = {"type": "FeatureCollection", "features": [], "as_of": str(as_of), "extent": None}
    if extent is None:
        zones["note"] = "no significant near-repeat pattern at the nearest bands: no zones"
        return zones
    radius_m, days = extent
    zones["extent"] = {"radius_m": radius_m, "days": days}
    frame = risk_zones(
        table["x"].to_numpy(),
        table["y"].to_numpy(),
        table["occurred_at"],
        as_of=str(as_of),
        radius_m=radius_m,
        days=days,
        crs=store.analysis_crs,
    )
    for i, row in enumerate(frame.itertuples()):
        zones["features"].append(
            {
                "type": "Feature",
                "id": i,
                "geometry": to_lonlat_geojson(row.geometry, store.analysis_crs),
                "properties": {
                    "incidents": int(row.incidents),
                    "first_occurred": str(row.first_occurred),
                    "last_occurred": str(row.last_occurred),
                    "expires": str(row.expires),
                },
            }
        )
    return zones


__all__ = ["DEFAULT_SPACE_BANDS_M", "KnoxError", "KnoxLimits", "KnoxQuery", "run_knox"]
