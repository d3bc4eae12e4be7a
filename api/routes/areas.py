"""Areas (wards, LSOAs): counts, rates per 1,000 residents and change on the previous year."""

from __future__ import annotations

import json
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response

from ..deps import DisclosureDep, SettingsDep, StoreDep
from ..filters import parse_categories, parse_window
from ..params import CategoriesQuery, FromQuery, ToQuery
from ..usecases.rates import areas_geojson

router = APIRouter(tags=["areas"])


@router.get(
    "/areas",
    operation_id="list_areas",
    summary="Wards or LSOAs with counts, rates per 1,000 and change on last year",
    response_class=Response,
    responses={200: {"content": {"application/geo+json": {}}}},
)
def list_areas(
    store: StoreDep,
    settings: SettingsDep,
    policy: DisclosureDep,
    kind: Annotated[Literal["ward", "lsoa"], Query()] = "ward",
    categories: CategoriesQuery = None,
    date_from: FromQuery = None,
    date_to: ToQuery = None,
) -> Response:
    window = parse_window(date_from, date_to, None, settings)
    cats = parse_categories(categories)
    doc = areas_geojson(store, policy, kind, cats, window)
    return Response(json.dumps(doc, default=str), media_type="application/geo+json")
