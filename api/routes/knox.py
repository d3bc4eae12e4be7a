"""Knox tests of near repeats: pairs of incidents close in space and time against
Monte Carlo chance, optionally with near-repeat risk zones (analysts only).

Bad input is a 422 problem naming the field; a test the stored data makes too large
for one request is a 409 saying what to narrow.
"""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from geodata.stores import IncidentQuery

from ..deps import AnalystDep, SettingsDep, StoreDep
from ..evaluation_design import finite_json
from ..filters import parse_categories, parse_window
from ..params import Bool, CategorySlug, Day, Int, MonthOrDay, Num, distinct_sorted
from ..problems import Problem
from ..worker import run_stoppable

router = APIRouter(tags=["evaluation"])


DEFAULT_SPACE_BANDS_M = (0.0, 100.0, 200.0, 400.0, 800.0)
MAX_KNOX_INCIDENTS = 20_000
#: close pairs × (permutations + 1) a Knox test may take here: a few seconds on one
#: core, well within the request time limit
MAX_KNOX_PAIR_DRAWS = 200_000_000


def _check_knox_work(table, max_distance_m: float, permutations: int) -> None:
    """Refuse (409) a Knox test whose pairs × permutations would outlast the request."""
    from scipy.spatial import cKDTree

    xy = table[["x", "y"]].to_numpy()
    pairs = (int(cKDTree(xy).count_neighbors(cKDTree(xy), max_distance_m)) - len(xy)) // 2
    if pairs * (permutations + 1) > MAX_KNOX_PAIR_DRAWS:
        most = max(19, MAX_KNOX_PAIR_DRAWS // max(pairs, 1) - 1)
        raise Problem(
            409,
            f"{pairs:,} pairs of incidents lie within {max_distance_m:g} m; with "
            f"{permutations:,} permutations that is more than a Knox test here takes. "
            f"Ask for at most {most:,} permutations, or narrow the categories or window",
            errors=[{"field": "permutations", "where": "body", "expected": f"≤ {most:,}"}],
        )


class KnoxRequest(BaseModel):
    """A Knox test of near repeats for chosen categories; bands are half-open ``[a, b)``."""

    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "categories": ["burglary"],
                    "from": "2022-01",
                    "to": "2022-12",
                    "space_bands_m": [0, 100, 200, 400, 800],
                    "permutations": 999,
                    "risk_zones": True,
                }
            ]
        },
    )

    categories: list[CategorySlug] = Field(
        ..., min_length=1, description="category slugs, e.g. burglary"
    )
    date_from: MonthOrDay | None = Field(None, alias="from")
    date_to: MonthOrDay | None = Field(None, alias="to", description="inclusive")
    space_bands_m: Annotated[
        list[Annotated[Num, Field(ge=0, le=100_000)]], AfterValidator(distinct_sorted)
    ] = Field(
        default_factory=lambda: list(DEFAULT_SPACE_BANDS_M),
        min_length=2,
        max_length=20,
        json_schema_extra={"uniqueItems": True},
        description="distinct edges in metres (sorted); band k is [e[k], e[k+1])",
    )
    time_bands_days: (
        Annotated[list[Annotated[Num, Field(ge=0, le=36_600)]], AfterValidator(distinct_sorted)]
        | None
    ) = Field(
        None,
        min_length=2,
        max_length=20,
        json_schema_extra={"uniqueItems": True},
        description="distinct edges in days (sorted); default month-wide bands for police.uk "
        "(month-dated) data, else weekly",
    )
    permutations: Int = Field(999, ge=19, le=9999)
    seed: Int = Field(0, ge=0, le=2**31 - 1)
    risk_zones: Bool = Field(False, description="also return near-repeat risk zones (GeoJSON)")
    as_of: Day | None = Field(None, description="risk zones active on this day (default: end)")


@router.post(
    "/knox",
    operation_id="create_knox_test",
    summary="Knox test of near repeats, with Monte Carlo p-values and optional risk zones",
)
def create_knox_test(
    body: KnoxRequest, store: StoreDep, settings: SettingsDep, caller: AnalystDep
) -> dict:
    from hotspots.nearrepeat import DAY_BANDS_DAYS, MONTH_BANDS_DAYS, days_since, knox, risk_zones

    window = parse_window(body.date_from, body.date_to, None, settings, where="body")
    cats = parse_categories(",".join(body.categories), "body")
    table = store.query_incidents(
        IncidentQuery(
            start=window.start,
            end=window.end,
            categories=cats,
            columns=["x", "y", "occurred_at", "occurred_precision"],
        )
    ).to_pandas()
    if len(table) > MAX_KNOX_INCIDENTS:  # 409: the stored data cannot answer this request
        raise Problem(
            409,
            f"{len(table):,} incidents match; a Knox test here takes at most "
            f"{MAX_KNOX_INCIDENTS:,}: narrow the categories or the time window",
            errors=[{"field": "categories", "where": "body", "expected": "fewer incidents"}],
        )
    if len(table) < 2:
        raise Problem(
            409,
            f"{len(table)} incidents match; a Knox test needs at least two",
            errors=[{"field": "categories", "where": "body", "expected": "two or more incidents"}],
        )
    bands = body.time_bands_days
    if bands is None:
        monthly = (table["occurred_precision"] == "month").all()
        bands = list(MONTH_BANDS_DAYS if monthly else DAY_BANDS_DAYS)
    _check_knox_work(table, max(body.space_bands_m), body.permutations)
    try:
        result = run_stoppable(  # stopped at the request's time limit
            knox,
            table["x"].to_numpy(),
            table["y"].to_numpy(),
            days_since(table["occurred_at"]),
            body.space_bands_m,
            bands,
            permutations=body.permutations,
            seed=body.seed,
            what="the Knox test",
        )
    except ValueError as exc:
        name, sep, problem = str(exc).partition(": ")
        raise Problem(
            422,
            str(exc),
            errors=[{"field": name if sep else None, "where": "body", "expected": problem}],
        ) from None
    doc = finite_json(json.loads(json.dumps(result.to_dict(), default=str)))
    doc["categories"] = cats
    doc["window"] = [
        window.start.isoformat() if window.start else None,
        window.end.isoformat() if window.end else None,
    ]
    if body.risk_zones:
        doc["risk_zones"] = _risk_zones(store, table, result, body, window, risk_zones)
    return doc


def _risk_zones(store, table, result, body: KnoxRequest, window, risk_zones) -> dict:
    from geodata.interventions import to_lonlat_geojson

    extent = result.extent()
    as_of = body.as_of or (window.end.date() if window.end else table["occurred_at"].max().date())
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
