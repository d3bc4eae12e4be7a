"""Evaluation results as pages: an intervention's before/after evaluation on a map.

``GET /interventions/{id}/evaluation/map`` runs the evaluation with the query's
options (as ``POST /interventions/{id}/evaluation`` takes them in its body) and
answers the map page of :func:`maps.evaluation.evaluation_map_html`: target,
buffer and control outlines, counts before and after, the WDD and the verdict.
Partners and analysts may open it; partners' counts leave sensitive incidents
out (the page says so), since a small drawn target could otherwise show them.
Leaflet and its plugins are linked from our ``/static/vendor`` route, relative
to the page, so nothing is fetched from outside.

The printable backtest page (``POST /backtests?f=html``) lives with the
backtest route in :mod:`api.routes.backtests`.
"""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from geodata.vocab import DEFAULT_BUFFER_M, DEFAULT_WINDOW_MONTHS

from ..deps import PartnerDep, SettingsDep, StoreDep
from ..disclosure import Disclosure
from ..filters import parse_categories
from ..params import CONTROL, WINDOW_PAIR, CategoriesQuery, query_schema
from ..problems import Problem
from ..usecases.evaluation import InvalidEvaluation, evaluate_intervention
from .evaluation import _invalid

router = APIRouter(tags=["evaluation"])

#: the page sits four levels below the root: /interventions/{id}/evaluation/map
ASSET_BASE = "../../../static/vendor"
PARTNER_NOTE = (
    "Counts leave out sensitive categories (shown to analysts only); an analyst's "
    "evaluation may differ."
)


def _pair(text: str | None, name: str) -> tuple[str, str] | None:
    if text is None:
        return None
    bits = text.split(",")
    if not re.fullmatch(WINDOW_PAIR, text):
        raise Problem(
            422,
            f"query parameter {name!r}: expected START,END (YYYY-MM or YYYY-MM-DD, end "
            f"exclusive); received {text!r}",
            errors=[{"field": name, "where": "query", "expected": "START,END", "received": text}],
        )
    return bits[0], bits[1]


@router.get(
    "/interventions/{intervention_id}/evaluation/map",
    operation_id="read_intervention_evaluation_map",
    response_class=HTMLResponse,
    summary="An intervention's before/after evaluation on a map: outlines, counts, verdict",
    responses={200: {"content": {"text/html": {}}}},
)
def read_evaluation_map(
    intervention_id: str,
    request: Request,
    store: StoreDep,
    caller: PartnerDep,
    settings: SettingsDep,
    buffer_m: Annotated[float, Query(ge=0, le=5000, description="displacement buffer, m")] = (
        DEFAULT_BUFFER_M
    ),
    control: Annotated[
        str,
        Query(
            description="auto, borough, ward, ward:CODE or lsoa:CODE",
            json_schema_extra=query_schema(CONTROL),
        ),
    ] = "auto",
    months: Annotated[int, Query(ge=1, le=36, description="whole months either side")] = (
        DEFAULT_WINDOW_MONTHS
    ),
    before: Annotated[
        str | None,
        Query(
            description="START,END as YYYY-MM or YYYY-MM-DD (end exclusive)",
            json_schema_extra=query_schema(WINDOW_PAIR),
        ),
    ] = None,
    after: Annotated[
        str | None,
        Query(description="START,END", json_schema_extra=query_schema(WINDOW_PAIR)),
    ] = None,
    categories: CategoriesQuery = None,
) -> HTMLResponse:
    from maps.evaluation import evaluation_map_html
    from maps.settings import MapSettings

    cats = parse_categories(categories)
    if store.get_intervention(intervention_id) is None:
        raise Problem(404, f"no intervention {intervention_id!r}; see /interventions")
    policy = Disclosure.for_role(caller.role, settings)
    analyst = policy.analyst
    try:
        doc = evaluate_intervention(
            store,
            intervention_id,
            include_sensitive=policy.include_sensitive,
            buffer_m=buffer_m,
            control=control,
            before=_pair(before, "before"),
            after=_pair(after, "after"),
            months=months,
            categories=cats,
        )
    except InvalidEvaluation as exc:
        raise _invalid(exc, "query") from None
    maps = getattr(request.app.state.settings, "maps", None) or MapSettings()
    page = evaluation_map_html(
        doc,
        tile_url=maps.tile_url,
        tile_attribution=maps.tile_attribution,
        asset_base=ASSET_BASE,
        notes=() if analyst else (PARTNER_NOTE,),
    )
    return HTMLResponse(page)
