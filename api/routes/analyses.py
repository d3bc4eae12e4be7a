"""Analysis runs: create (or reuse) a run, read its provenance and its hotspots as GeoJSON."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Header, Query, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from ..deps import AnalystDep, DisclosureDep, SettingsDep, StoreDep
from ..disclosure import Disclosure
from ..filters import parse_categories, parse_window
from ..params import JSON_NUMBER, Bool, CategorySlug, Int, MonthOrDay, Num
from ..problems import Problem
from ..profile_models import ConcernBody, HarmWeightsBody
from ..service import (
    SHAPED_RUNS,
    params_from_request,
    profiles_from_request,
    run_counts,
    run_or_reuse,
)

router = APIRouter(tags=["analyses"])


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


class RunSummary(BaseModel):
    run_id: str
    method: str
    created_at: str
    n_incidents: int | None = Field(
        description="incidents analysed, as the caller may see them (the public: rounded, "
        "null below the threshold)"
    )
    hotspots: Int = Field(description="hotspots the caller may see")
    links: dict[str, str]


def _summary(run, policy: Disclosure, store=None) -> dict:
    n_incidents, n_hotspots = run_counts(store, run, policy)
    return {
        "run_id": run.run_id,
        "method": run.method,
        "created_at": run.created_at.isoformat(),
        "n_incidents": n_incidents,
        "hotspots": n_hotspots,
        "links": {
            "self": f"/runs/{run.run_id}",
            "hotspots": f"/runs/{run.run_id}/hotspots",
            "map": f"/runs/{run.run_id}/map",
        },
    }


@router.post(
    "/analyses",
    operation_id="create_analysis",
    status_code=201,
    summary="Run an analysis (or reuse the stored run of an identical request)",
    response_model=RunSummary,
    responses={200: {"description": "an identical run was already stored"}},
)
def create_analysis(
    body: AnalysisRequest,
    store: StoreDep,
    settings: SettingsDep,
    caller: AnalystDep,
    response: Response,
) -> dict:
    parse_window(body.date_from, body.date_to, None, settings, where="body")
    if body.categories:
        parse_categories(",".join(body.categories), "body")
    request = body.model_dump(mode="json", by_alias=True)
    try:
        params, ranking = params_from_request(request)
        weights, concern = profiles_from_request(request)
    except ValueError as exc:
        raise Problem(422, str(exc), type=getattr(exc, "type", None)) from exc
    run, created = run_or_reuse(store, request, params, ranking, weights=weights, concern=concern)
    if not created:
        response.status_code = 200
    return _summary(run, Disclosure.for_role(caller.role, settings))


@router.get(
    "/runs",
    operation_id="list_runs",
    summary="Stored runs, newest first",
    response_model=list[RunSummary],
)
def list_runs(
    store: StoreDep,
    policy: DisclosureDep,
    method: Annotated[str | None, Query(description="only this method")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[dict]:
    return [_summary(r, policy, store) for r in store.list_runs(method, limit=limit)]


def _get_run(store, run_id: str):
    run = store.get_run(run_id)
    if run is None:
        raise Problem(404, f"no run {run_id!r}; see /runs")
    return run


@router.get(
    "/runs/{run_id}",
    operation_id="read_run",
    summary="A run's provenance: method, parameters, data, weights, versions",
)
def read_run(run_id: str, store: StoreDep, policy: DisclosureDep) -> dict:
    run = _get_run(store, run_id)
    return {
        **_summary(run, policy),
        "provenance": policy.provenance(run),
        "request": run.params.get("request"),
        "disclosure": policy.describe(),
    }


@router.get(
    "/runs/{run_id}/hotspots",
    operation_id="read_run_hotspots",
    summary="A run's ranked hotspots as GeoJSON, with every statistic",
    response_class=Response,
    responses={
        200: {"content": {"application/geo+json": {}}},
        304: {"description": "not modified since the ETag given in If-None-Match"},
    },
)
async def read_run_hotspots(
    run_id: str,
    store: StoreDep,
    policy: DisclosureDep,
    if_none_match: Annotated[str | None, Header(description="an ETag of this run")] = None,
) -> Response:
    args = (store, run_id, policy)
    shaped = SHAPED_RUNS.peek(*args) or await run_in_threadpool(SHAPED_RUNS.get, *args)
    if shaped is None:
        raise Problem(404, f"no run {run_id!r}; see /runs")
    headers = {
        "ETag": shaped.etag,
        "Cache-Control": "private, max-age=60",
        "Vary": "Authorization, X-API-Key",
    }
    if if_none_match and (
        if_none_match.strip() == "*"
        or shaped.etag in (t.strip().removeprefix("W/") for t in if_none_match.split(","))
    ):
        return Response(status_code=304, headers=headers)
    return Response(shaped.body, media_type="application/geo+json", headers=headers)
