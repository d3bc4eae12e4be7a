"""Evaluation: the interventions log, before/after evaluation, forecast backtests, Knox tests.

Roles: analysts log, delete and evaluate interventions and run backtests and
Knox tests; partners read the log and its map layer; the public sees none of it.
Bad input is a 422 problem naming the field (``errors[].field``).
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from geodata.interventions import InvalidIntervention
from geodata.model import INTERVENTION_KINDS
from geodata.vocab import DEFAULT_BUFFER_M, DEFAULT_WINDOW_MONTHS

from ..deps import AnalystDep, PartnerDep, StoreDep
from ..filters import DATE_RANGE, check_date_range, parse_categories
from ..params import (
    CODE,
    CONTROL,
    H3_CELL,
    LINE,
    TEXT,
    CategorySlug,
    Day,
    Int,
    MonthOrDay,
    Num,
)
from ..problems import Problem
from ..usecases.analyse import profiles_from_request
from ..usecases.analysis_request import HarmWeightsBody
from ..usecases.evaluation import InvalidEvaluation
from ..usecases.interventions import build_intervention, interventions_geojson
from ..usecases.stored_documents import stored_evaluation

router = APIRouter(tags=["evaluation"])

GEOJSON = "application/geo+json"
SQUARE = {
    "type": "Polygon",
    "coordinates": [
        [[0.368, 51.44], [0.372, 51.44], [0.372, 51.4425], [0.368, 51.4425], [0.368, 51.44]]
    ],
}


def _invalid(exc: InvalidIntervention | InvalidEvaluation, where: str = "body") -> Problem:
    problem = exc.message.split(": ", 1)[-1]
    return Problem(
        getattr(exc, "status", 422),
        exc.message,
        type=exc.type,
        errors=[{"field": exc.field, "where": where, "expected": problem, "received": None}],
    )


# --------------------------------------------------------------------------- interventions


class InterventionCreate(BaseModel):
    """An intervention to log. Give the area as exactly one of ``geometry``, ``ward``,
    ``lsoa`` or ``cells``."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            # the area: exactly one of these four, given (not null)
            "oneOf": [
                {"required": [name], "properties": {name: {"not": {"type": "null"}}}}
                for name in ("geometry", "ward", "lsoa", "cells")
            ],
            "examples": [
                {
                    "title": "Day of action: town centre",
                    "kind": "day-of-action",
                    "start_date": "2022-06-15",
                    "end_date": "2022-06-15",
                    "geometry": SQUARE,
                    "officer_hours": 40,
                    "notes": "with council wardens",
                },
                {
                    "title": "Extra evening patrols",
                    "kind": "patrols",
                    "start_date": "2022-09-01",
                    "end_date": "2022-11-30",
                    "ward": "E05004977",
                },
            ],
        },
    )

    title: str = Field(..., min_length=1, max_length=200, pattern=LINE, description="what was done")
    kind: Literal[INTERVENTION_KINDS] = Field(..., description="what sort of intervention")  # type: ignore[valid-type]
    start_date: Day = Field(..., description=f"a date {DATE_RANGE}")
    end_date: Day | None = Field(
        None, description=f"inclusive; default the start date; a date {DATE_RANGE}"
    )
    geometry: dict[str, Any] | None = Field(
        None, description="GeoJSON Polygon/MultiPolygon/Feature in WGS84 [lon, lat]"
    )
    ward: str | None = Field(None, pattern=CODE, description="a stored ward code")
    lsoa: str | None = Field(None, pattern=CODE, description="a stored LSOA code")
    cells: list[Annotated[str, Field(pattern=H3_CELL)]] | None = Field(
        None, min_length=1, max_length=5000, description="H3 cell ids"
    )
    officer_hours: Num | None = Field(None, ge=0, le=1_000_000, strict=True)
    notes: str = Field("", max_length=10_000, pattern=TEXT)


class InterventionPublic(BaseModel):
    intervention_id: str
    title: str
    kind: str
    area_type: str
    area_codes: list[str]
    geometry: dict[str, Any]
    start_date: str
    end_date: str
    officer_hours: float | None
    notes: str
    created_at: str
    created_by: str
    links: dict[str, str]


def _public(rec) -> dict:
    return {
        **rec.to_dict(),
        "links": {
            "self": f"/interventions/{rec.intervention_id}",
            "evaluation": f"/interventions/{rec.intervention_id}/evaluation",
            "map_layer": "/interventions.geojson",
        },
    }


@router.post(
    "/interventions",
    operation_id="create_intervention",
    status_code=201,
    response_model=InterventionPublic,
    summary="Log an intervention (day of action, CCTV, lighting, patrols, ...)",
)
def create_intervention(body: InterventionCreate, store: StoreDep, caller: AnalystDep) -> dict:
    check_date_range(body.start_date, "start_date")
    if body.end_date is not None:
        check_date_range(body.end_date, "end_date")
    try:
        record = build_intervention(
            store,
            title=body.title,
            kind=body.kind,
            start_date=body.start_date,
            end_date=body.end_date or body.start_date,
            created_by=caller.name,
            geometry=body.geometry,
            ward=body.ward,
            lsoa=body.lsoa,
            cells=body.cells,
            officer_hours=body.officer_hours,
            notes=body.notes,
        )
        record = store.add_intervention(record)
    except InvalidIntervention as exc:
        raise _invalid(exc) from None
    return _public(record)


@router.get(
    "/interventions",
    operation_id="list_interventions",
    response_model=list[InterventionPublic],
    summary="The interventions log, latest start first",
)
def list_interventions(store: StoreDep, caller: PartnerDep) -> list[dict]:
    return [_public(r) for r in store.list_interventions()]


@router.get(
    "/interventions.geojson",
    operation_id="read_interventions_geojson",
    summary="Interventions as GeoJSON for maps: target, buffer and default control outlines",
    response_class=Response,
    responses={200: {"content": {GEOJSON: {}}}},
)
def read_interventions_geojson(
    store: StoreDep,
    caller: PartnerDep,
    buffer_m: Annotated[float, Query(ge=0, le=5000, description="displacement buffer, m")] = (
        DEFAULT_BUFFER_M
    ),
) -> Response:
    if not 0 <= buffer_m <= 5000:
        raise Problem(
            422,
            f"query parameter 'buffer_m': expected 0 to 5000 metres; received {buffer_m}",
            errors=[{"field": "buffer_m", "where": "query", "expected": "0 to 5000"}],
        )
    doc = interventions_geojson(store, buffer_m)
    return Response(json.dumps(doc), media_type=GEOJSON)


@router.get(
    "/interventions/{intervention_id}",
    operation_id="read_intervention",
    response_model=InterventionPublic,
    summary="One intervention",
)
def read_intervention(intervention_id: str, store: StoreDep, caller: PartnerDep) -> dict:
    rec = store.get_intervention(intervention_id)
    if rec is None:
        raise Problem(404, f"no intervention {intervention_id!r}; see /interventions")
    return _public(rec)


@router.delete(
    "/interventions/{intervention_id}",
    operation_id="delete_intervention",
    status_code=204,
    summary="Remove an intervention from the log",
)
def delete_intervention(intervention_id: str, store: StoreDep, caller: AnalystDep) -> Response:
    if not store.delete_intervention(intervention_id):
        raise Problem(404, f"no intervention {intervention_id!r}; see /interventions")
    return Response(status_code=204)


class EvaluationRequest(BaseModel):
    """How to evaluate. Left out: windows of ``months`` whole months either side, the
    control chosen automatically, a 200 m buffer, every category."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {},
                {
                    "buffer_m": 250,
                    "control": "borough",
                    "months": 3,
                    "categories": ["anti-social-behaviour"],
                },
                {"before": ["2022-03", "2022-06"], "after": ["2022-07", "2022-10"]},
            ]
        },
    )

    buffer_m: Num = Field(
        DEFAULT_BUFFER_M, ge=0, le=5000, description="displacement buffer", strict=True
    )
    control: Annotated[str, Field(pattern=CONTROL)] | dict[str, Any] = Field(
        "auto",
        description="auto, borough, ward, ward:CODE, lsoa:CODE or a GeoJSON polygon (WGS84)",
    )
    months: Int = Field(DEFAULT_WINDOW_MONTHS, ge=1, le=36)
    before: tuple[MonthOrDay, MonthOrDay] | None = Field(
        None, strict=False, description="[start, end) as YYYY-MM or YYYY-MM-DD; end exclusive"
    )
    after: tuple[MonthOrDay, MonthOrDay] | None = Field(
        None, strict=False, description="[start, end); end exclusive"
    )
    categories: list[CategorySlug] | None = Field(
        None, description="category slugs; all when left out"
    )
    harm_weights: HarmWeightsBody | None = Field(
        None,
        description="your own harm weights, as `hotspots evaluate --harm-weights` reads them "
        "(default: the shipped table)",
    )


@router.post(
    "/interventions/{intervention_id}/evaluation",
    operation_id="create_intervention_evaluation",
    summary="Before/after evaluation: counts, WDD with its test, harm-weighted WDD, verdict",
)
def create_intervention_evaluation(
    intervention_id: str,
    store: StoreDep,
    caller: AnalystDep,
    body: Annotated[EvaluationRequest | None, Body()] = None,
) -> dict:
    body = body or EvaluationRequest()
    cats = parse_categories(",".join(body.categories)) if body.categories else None
    if store.get_intervention(intervention_id) is None:
        raise Problem(404, f"no intervention {intervention_id!r}; see /interventions")
    try:
        weights, _ = profiles_from_request(
            body.model_dump(mode="json", by_alias=True, include={"harm_weights"})
        )
    except ValueError as exc:
        raise Problem(422, str(exc)) from exc
    try:
        doc, _ = stored_evaluation(
            store,
            intervention_id,
            harm_weights=weights,
            buffer_m=body.buffer_m,
            control=body.control,
            before=body.before,
            after=body.after,
            months=body.months,
            categories=cats,
        )
        return doc
    except InvalidEvaluation as exc:
        raise _invalid(exc) from None
