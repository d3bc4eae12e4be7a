"""Incident points as GeoJSON (partners and analysts; sensitive points for analysts only)."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Annotated

import pyarrow as pa
from fastapi import APIRouter, Query, Request

from geodata.stores import IncidentQuery

from ..deps import DisclosureDep, PartnerDep, SettingsDep, StoreDep
from ..disclosure import Disclosure
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

router = APIRouter(tags=["incidents"])

POINT_COLUMNS = [
    "id",
    "category",
    "occurred_at",
    "occurred_precision",
    "lon",
    "lat",
    "location",
    "lsoa_code",
    "ward_code",
    "source",
    "batch_id",
    "sensitive",
]


def incident_features(table: pa.Table, policy: Disclosure) -> list[dict]:
    """GeoJSON Point features (lon, lat) from an incident table, with the ids the policy's
    role is shown (opaque below analyst)."""
    out = []
    for row in table.to_pylist():
        lon, lat = row.pop("lon"), row.pop("lat")
        when = row.get("occurred_at")
        if when is not None:
            row["occurred_at"] = when.isoformat()
        row["id"] = policy.incident_id(row["id"])
        out.append(
            {
                "type": "Feature",
                "id": row["id"],
                "geometry": {"type": "Point", "coordinates": [lon, lat]},
                "properties": row,
            }
        )
    return out


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
    from dataclasses import replace

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


def find_incident(store, policy: Disclosure, shown_id: str) -> dict | None:
    """The feature of an incident by an id the policy's role is shown, or ``None`` (an
    unknown id and one the role may not see get the same answer). Analysts may also use
    the opaque ids partners are shown."""
    batch, sep, rest = shown_id.rpartition("~" if "~" in shown_id else "#")
    if not (batch and sep and rest) or (sep == "#" and not policy.analyst):
        return None
    q = IncidentQuery(
        batch_ids=[batch], include_sensitive=policy.include_sensitive, columns=POINT_COLUMNS
    )
    if sep == "#":  # a stored id: one row by the key, not the whole batch
        table = store.query_incidents(replace(q, condition=("id = {}", (shown_id,))))
    else:
        table = store.query_incidents(q)
        opaque = Disclosure(role="partner", secret=policy.secret).incident_id
        table = table.filter(pa.array([opaque(i) == shown_id for i in table["id"].to_pylist()]))
    return incident_features(table, policy)[0] if table.num_rows else None


def dumps(doc: dict) -> str:
    return json.dumps(doc, default=str)
