"""What an analysis is asked for, whichever door asks: the body of ``POST /analyses``
(declared exactly in the OpenAPI document), the demo's analyses and a run's stored
request — with the harm weights and community-concern profiles it may carry inline
(the same shapes as the TOML files ``hotspots analyse --harm-weights / --concern``
reads: ``hotspots.harm.HarmWeights.from_mapping``,
``hotspots.ranking.ConcernProfile.from_mapping``)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..params import JSON_NUMBER, LINE, TEXT, Bool, CategorySlug, Int, MonthOrDay, Num


class HarmWeightEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    weight: Num = Field(..., ge=0, le=1_000_000)
    provisional: Bool = False
    reasoning: str = Field("", max_length=2000, pattern=TEXT)


class HarmWeightsBody(BaseModel):
    """A harm-weight table: categories left out weigh 1 (and are listed in the run)."""

    model_config = ConfigDict(extra="forbid")

    version: str = Field(..., min_length=1, max_length=120, pattern=LINE)
    unit: str = Field("", max_length=120, pattern=LINE)
    weights: dict[CategorySlug, HarmWeightEntry] = Field(..., min_length=1)


class ConcernTheme(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(..., min_length=1, max_length=120, pattern=LINE)
    first_choice_pct: Num = Field(..., ge=0, le=100)
    second_choice_pct: Num | None = Field(None, ge=0, le=100)
    categories: list[CategorySlug] = Field(..., min_length=1, max_length=64)


class ConcernBody(BaseModel):
    """What residents said worries them (e.g. a consultation's first and second choices)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(..., min_length=1, max_length=120, pattern=LINE)
    note: str = Field("", max_length=2000, pattern=TEXT)
    themes: list[ConcernTheme] = Field(..., min_length=1, max_length=50)


class AnalysisRequest(BaseModel):
    """What to analyse. Scale parameters left out are chosen from the data."""

    model_config = ConfigDict(
        extra="forbid",
        allow_inf_nan=False,
        json_schema_extra={
            "examples": [
                {
                    "method": "dbscan",
                    "categories": ["violent-crime"],
                    "from": "2022-01",
                    "to": "2022-11",
                },
                {
                    "method": "gistar",
                    "categories": ["anti-social-behaviour"],
                    "resolution": 9,
                    "fdr": True,
                },
            ]
        },
    )

    method: Literal["dbscan", "hdbscan", "hexes", "gistar", "emerging", "kde"] = "dbscan"
    categories: list[CategorySlug] | None = Field(
        None, description="category slugs; all when left out"
    )
    date_from: MonthOrDay | None = Field(None, alias="from")
    date_to: MonthOrDay | None = Field(None, alias="to", description="inclusive")
    eps_m: Num | None = Field(None, ge=1, le=5000, strict=True)
    min_samples: Annotated[int, Field(ge=1, le=100_000), JSON_NUMBER] | None = Field(None)
    min_cluster_size: Annotated[int, Field(ge=2, le=100_000), JSON_NUMBER] | None = Field(None)
    cluster_selection: Literal["leaf", "eom"] = Field(
        "leaf",
        description="HDBSCAN: 'leaf' keeps the smallest dense places, 'eom' (excess of mass) "
        "the most persistent clusters",
    )
    resolution: Annotated[int, Field(ge=7, le=10), JSON_NUMBER] | None = Field(None)
    k: Int = Field(1, ge=1, le=5)
    value: Literal["count", "harm"] = "count"
    permute: Bool = False
    permutations: Int = Field(999, ge=19, le=9999)
    fdr: Bool = False
    bandwidth_m: Num | None = Field(None, gt=0, le=10_000, strict=True)
    cell_m: Num = Field(50.0, ge=10, le=1000, strict=True)
    seed: Int = Field(0, ge=0, le=2**31 - 1)
    include_artefacts: Bool = Field(
        False,
        description="keep incidents at recording places (e.g. 'On or near Police Station'), "
        "left out by default",
    )
    weights: (
        dict[Literal["volume", "harm", "trend", "concern"], Annotated[Num, Field(ge=0)]] | None
    ) = Field(None, description="ranking weights; components left out keep their default")
    harm_weights: HarmWeightsBody | None = Field(
        None, description="your own harm weights (default: the shipped table)"
    )
    concern: ConcernBody | None = Field(
        None, description="your own community-concern profile (default: Gravesham 2023)"
    )
