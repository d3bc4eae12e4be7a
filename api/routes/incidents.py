"""Incident points as GeoJSON (partners and analysts; sensitive points for analysts only)."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated

from fastapi import APIRouter, Query, Request

from ..deps import DisclosureDep, PartnerDep, SettingsDep, StoreDep
from ..filters import (
    BBOX_HELP,
    MAX_OFFSET,
    MAX_PAGE_SIZE,
    check_page,
    incident_query,
    parse_area,
    parse_bbox,
    parse_categories,
    parse_window,
)
from ..params import AREA, BBOX4, CategoriesQuery, FromQuery, ToQuery, query_schema
from ..usecases.incidents import POINT_COLUMNS, incident_features

router = APIRouter(tags=["incidents"])


@router.get(
    "/incidents",
    operation_id="list_incidents",
    summary="Incidents as a GeoJSON FeatureCollection, filtered and paged",
)
def list_incidents(
    request: Request,
    store: StoreDep,
    settings: SettingsDep,
    caller: PartnerDep,
    policy: DisclosureDep,
    bbox: Annotated[
        str | None, Query(description=BBOX_HELP, json_schema_extra=query_schema(BBOX4))
    ] = None,
    area: Annotated[
        str | None,
        Query(description="kind:code, e.g. ward:E05004964", json_schema_extra=query_schema(AREA)),
    ] = None,
    categories: CategoriesQuery = None,
    date_from: FromQuery = None,
    date_to: ToQuery = None,
    limit: Annotated[
        int | None,
        Query(ge=0, le=MAX_PAGE_SIZE, description="page size (at most HOTSPOTS_MAX_PAGE_SIZE)"),
    ] = None,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET, description="first item")] = 0,
) -> dict:
    window = parse_window(date_from, date_to, None, settings)
    limit = check_page(limit, offset, settings)
    q = incident_query(
        parse_bbox(bbox, settings),
        window,
        parse_categories(categories),
        parse_area(area),
        include_sensitive=caller.at_least("analyst"),
        limit=limit,
        offset=offset,
    )
    table = store.query_incidents(replace(q, columns=POINT_COLUMNS))
    matched = store.count_incidents(q)
    links = []
    if limit > 0 and offset + table.num_rows < matched:  # limit=0 asks for the count only
        nxt = request.url.include_query_params(offset=offset + limit, limit=limit)
        links.append({"rel": "next", "href": str(nxt), "type": "application/geo+json"})
    return {
        "type": "FeatureCollection",
        "features": incident_features(table, policy),
        "numberMatched": matched,
        "numberReturned": table.num_rows,
        "links": links,
    }
