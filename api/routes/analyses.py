"""Analysis runs: create (or reuse) a run, read its provenance and its hotspots as GeoJSON."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Header, Query, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from ..deps import AnalystDep, DisclosureDep, EngineDep, SettingsDep, StoreDep
from ..disclosure import Disclosure
from ..filters import parse_categories, parse_window
from ..params import Int
from ..problems import Problem
from ..usecases.analyse import (
    SHAPED_RUNS,
    params_from_request,
    profiles_from_request,
    run_counts,
    run_or_reuse,
)
from ..usecases.analysis_request import AnalysisRequest

router = APIRouter(tags=["analyses"])
audit = logging.getLogger("hotspots.audit")


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
    engine: EngineDep,
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
    run, created = run_or_reuse(
        store, request, params, ranking, weights=weights, concern=concern, engine=engine
    )
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
    runs = store.list_runs(method, limit=limit)
    if policy.public:  # plans are for partners and analysts (api.disclosure.plan_view)
        runs = [r for r in runs if r.method != "plan"]
    return [_summary(r, policy, store) for r in runs]


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


@router.delete(
    "/runs/{run_id}",
    operation_id="delete_run",
    status_code=204,
    summary="Delete a stored run, as `hotspots runs delete` (its share links stop working)",
)
def delete_run(run_id: str, store: StoreDep, caller: AnalystDep) -> Response:
    if not store.delete_run(run_id):
        raise Problem(404, f"no run {run_id!r}; see /runs")
    SHAPED_RUNS.forget(store, run_id)
    audit.warning("run %s deleted by %s (%s)", run_id, caller.name, caller.key_id)
    return Response(status_code=204)


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
