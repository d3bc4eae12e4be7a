"""Days-of-action plans and Ward Member briefings.

``POST /plans`` chooses the places for a day of action (partner or higher) and
answers JSON, GeoJSON, a printable HTML briefing or a PDF (``f=`` or
``Accept``), or an interactive map (``f=map``). ``GET
/areas/wards/{code}/briefing`` is a printable briefing for Ward Members; the
public role gets it with counts rounded and small ones suppressed. Below analyst,
plans are made without sensitive incidents and no site on fewer than
``HOTSPOTS_MIN_PLACES`` distinct places is offered (:mod:`api.disclosure`).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from geodata.taxonomy import validate_slugs
from hotspots.plan_model import MAX_SITES, InvalidPlan, PlanParams
from maps.briefing import PdfUnavailable, html_to_pdf, plan_briefing_html, ward_briefing_html

from ..deps import CallerDep, PartnerDep, SettingsDep, StoreDep
from ..disclosure import Disclosure
from ..filters import parse_categories, parse_window
from ..params import (
    HOURS,
    JSON_NUMBER,
    LINE,
    Bool,
    CategoriesQuery,
    CategorySlug,
    FromQuery,
    Int,
    MonthOrDay,
    Num,
    ToQuery,
)
from ..problems import Problem
from ..usecases.maps import plan_map_page
from ..usecases.plan_runs import PlanRequest as PlanRun
from ..usecases.plan_runs import plan_document, plan_run
from ..usecases.plans import parse_times, ward_briefing

router = APIRouter(tags=["plans"])

Format = Literal["json", "geojson", "html", "pdf", "map"]
MEDIA = {
    "json": "application/json",
    "geojson": "application/geo+json",
    "html": "text/html; charset=utf-8",
    "pdf": "application/pdf",
    "map": "text/html; charset=utf-8",
}
Weekday = Literal["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]


class PlanRequest(BaseModel):
    """What to plan. Give ``sites`` (K) or ``hours`` (an officer-hours budget), not both."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            # sites and hours are alternatives: exactly one is given (as a number)
            "oneOf": [
                {"required": ["sites"], "properties": {"sites": {"type": "integer"}}},
                {"required": ["hours"], "properties": {"hours": {"type": "number"}}},
            ],
            "examples": [
                {
                    "area": "borough",
                    "categories": ["violent-crime"],
                    "from": "2022-01",
                    "to": "2022-12",
                    "sites": 5,
                },
                {
                    "area": "E05004974",
                    "categories": ["anti-social-behaviour"],
                    "hours": 6,
                    "hours_per_site": 0.75,
                    "days": ["Fri", "Sat"],
                    "times": "18-23",
                },
            ],
        },
    )

    area: str = Field(
        "borough",
        max_length=100,
        pattern=LINE,
        description="borough, a ward or LSOA code, ward:CODE or a ward name",
    )
    categories: list[CategorySlug] | None = Field(
        None, description="category slugs; all when left out"
    )
    date_from: MonthOrDay | None = Field(None, alias="from")
    date_to: MonthOrDay | None = Field(None, alias="to", description="inclusive")
    sites: Annotated[int, Field(ge=1, le=MAX_SITES), JSON_NUMBER] | None = Field(
        None, description="number of sites K"
    )
    hours: Num | None = Field(None, gt=0, le=168, description="officer-hours budget", strict=True)
    hours_per_site: Num = Field(1.0, gt=0, le=24, strict=True)
    travel_mode: Literal["walk", "drive"] = "walk"
    speed_kmh: Num | None = Field(None, gt=0, le=130, strict=True)
    days: list[Weekday] | None = Field(None, description="preferred days")
    times: str | None = Field(
        None, pattern=HOURS, description="preferred hours, e.g. 18-23 or 20:00-02:00"
    )
    ring: Int = Field(0, ge=0, le=2, description="0: one ~100 m hexagon per site; 1: with ring")
    include_artefacts: Bool = Field(
        False, description="offer recording places (e.g. police stations) as sites"
    )
    forecast: Bool = Field(
        False,
        description="choose sites inside next month's forecast (the method the backtest "
        "chooses; the notes give its PAI and PEI)",
    )
    start: (
        tuple[
            Annotated[float, Field(ge=-180, le=180, strict=True)],
            Annotated[float, Field(ge=-90, le=90, strict=True)],
        ]
        | None
    ) = Field(None, strict=False, description="where officers set off, [lon, lat] (WGS84)")


def _format(request: Request, f: str | None) -> str:
    if f is not None:
        return f
    accept = request.headers.get("accept", "")
    for media, name in (
        ("application/geo+json", "geojson"),
        ("text/html", "html"),
        ("application/pdf", "pdf"),
    ):
        if media in accept:
            return name
    return "json"


def _pdf(page: str) -> Response:
    try:
        return Response(html_to_pdf(page), media_type=MEDIA["pdf"])
    except PdfUnavailable as exc:
        raise Problem(406, f"PDF is not available on this server: {exc}; ask for f=html") from exc


@router.post(
    "/plans",
    operation_id="create_plan",
    summary="Plan a day of action: sites covering the most harm, when to go, visiting order",
    responses={
        200: {
            "content": {
                "application/json": {},
                "application/geo+json": {},
                "text/html": {},
                "application/pdf": {},
            }
        }
    },
    response_class=Response,
)
def create_plan(
    body: PlanRequest,
    request: Request,
    store: StoreDep,
    settings: SettingsDep,
    caller: PartnerDep,
    f: Annotated[
        Format | None,
        Query(description="json, geojson, html (printable briefing), pdf or map (interactive)"),
    ] = None,
) -> Response:
    window = parse_window(body.date_from, body.date_to, None, settings)
    try:
        cats = validate_slugs(body.categories) if body.categories else None
        params = PlanParams(
            categories=tuple(cats) if cats else None,
            start=window.start,
            end=window.end,
            sites=body.sites,
            hours=body.hours,
            hours_per_site=body.hours_per_site,
            travel_mode=body.travel_mode,
            speed_kmh=body.speed_kmh,
            days=tuple(body.days) if body.days else None,
            hours_of_day=parse_times(body.times),
            ring=body.ring,
            start_lonlat=body.start,
        )
    except InvalidPlan:
        raise
    except ValueError as exc:
        raise Problem(422, str(exc)) from exc
    policy = Disclosure.for_role(caller.role, settings)
    asked = PlanRun(params, body.area, body.include_artefacts, body.forecast)
    stored = plan_run(store, asked, policy)
    response_headers = {"Location": f"/runs/{stored.run.run_id}"}
    fmt = _format(request, f)
    view = stored.view(policy)
    if fmt == "map":
        maps = request.app.state.settings.maps  # the server's base map, as on run maps
        page = plan_map_page(view, caller.role, settings.public_min_count, maps)
        return Response(page, media_type=MEDIA["map"], headers=response_headers)
    if fmt in ("html", "pdf"):
        page = plan_briefing_html(stored.plan_for(store, asked, policy), generated=_today())
        if fmt == "pdf":
            return _pdf(page)
        return Response(page, media_type=MEDIA["html"], headers=response_headers)
    doc = view if fmt == "geojson" else plan_document(view)
    return Response(json.dumps(doc), media_type=MEDIA[fmt], headers=response_headers)


def _today() -> str:
    return datetime.now().strftime("%d %B %Y")


@router.get(
    "/areas/wards/{code}/briefing",
    operation_id="read_ward_briefing",
    summary="A printable briefing for Ward Members: counts, rates, change, top places, map",
    response_class=Response,
    responses={200: {"content": {"text/html": {}, "application/json": {}, "application/pdf": {}}}},
)
def read_ward_briefing(
    code: str,
    request: Request,
    store: StoreDep,
    settings: SettingsDep,
    caller: CallerDep,
    categories: CategoriesQuery = None,
    date_from: FromQuery = None,
    date_to: ToQuery = None,
    f: Annotated[Literal["html", "json", "pdf"] | None, Query()] = None,
) -> Response:
    window = parse_window(date_from, date_to, None, settings)
    doc = ward_briefing(
        store,
        f"ward:{code}",
        window,
        parse_categories(categories),
        generated=_today(),
        policy=Disclosure.for_role(caller.role, settings),
    )
    fmt = f or ("json" if "application/json" in request.headers.get("accept", "") else "html")
    if fmt == "json":
        return Response(json.dumps(doc, default=str), media_type=MEDIA["json"])
    page = ward_briefing_html(doc)
    return _pdf(page) if fmt == "pdf" else Response(page, media_type=MEDIA["html"])
