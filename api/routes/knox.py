"""Knox tests of near repeats: pairs of incidents close in space and time against
Monte Carlo chance, optionally with near-repeat risk zones (analysts only).

Bad input is a 422 problem naming the field; a test the stored data makes too large
for one request is a 409 saying what to narrow.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from ..deps import AnalystDep, SettingsDep, StoreDep
from ..filters import parse_categories, parse_window
from ..params import Bool, CategorySlug, Day, Int, MonthOrDay, Num, distinct_sorted
from ..usecases.knox import DEFAULT_SPACE_BANDS_M, KnoxLimits, KnoxQuery, run_knox

router = APIRouter(tags=["evaluation"])
#: a Knox test must answer within the request's time limit
KNOX_LIMITS = KnoxLimits()


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
    as_of: Day | None = Field(
        None,
        description="risk zones active on this day (default: the window's last day, else the "
        "latest incident's)",
    )


@router.post(
    "/knox",
    operation_id="create_knox_test",
    summary="Knox test of near repeats, with Monte Carlo p-values and optional risk zones",
)
def create_knox_test(
    body: KnoxRequest, store: StoreDep, settings: SettingsDep, caller: AnalystDep
) -> dict:
    window = parse_window(body.date_from, body.date_to, None, settings, where="body")
    cats = parse_categories(",".join(body.categories), "body")
    query = KnoxQuery(
        categories=cats,
        start=window.start,
        end=window.end,
        space_bands_m=body.space_bands_m,
        time_bands_days=body.time_bands_days,
        permutations=body.permutations,
        seed=body.seed,
        risk_zones=body.risk_zones,
        as_of=body.as_of,
    )
    return run_knox(store, query, KNOX_LIMITS)
