"""The OGC API – Features routes under ``/ogc``: landing page, conformance,
collections, queryables, items and single items, in JSON and HTML."""

from __future__ import annotations

from html import escape
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Query, Request, Response

from ..deps import CallerDep, SettingsDep, StoreDep
from ..filters import MAX_OFFSET, invalid, parse_window
from ..params import BBOX46, DATETIME, query_schema
from ..problems import Problem
from ..read_lane import read_lane
from . import collections as cat
from .common import (
    GEO_HTML,
    GEOJSON,
    HTML,
    JSON,
    JSON_HTML,
    OAS30,
    SCHEMA_JSON,
    Format,
    base_url,
    cell,
    link,
    now,
    page,
    respond,
    self_links,
    table,
    wants_html,
)
from .crs import BBOX_HELP, CRS84, CRS_HELP, CRS_NAMES, content_crs, parse_bbox, parse_crs
from .filters import CONFORMANCE as FILTER_CONFORMANCE
from .filters import FILTER_HELP
from .filters import LANGS as FILTER_LANGS
from .filters import parse as parse_filter
from .items import (
    Selection,
    one,
    open_cursor,
    seal_cursor,
    select,
    shown_area_features,
)
from .queryables import property_types, queryables
from .run_items import run_bbox, run_properties
from .tiles import CONFORMANCE as TILES_CONFORMANCE

router = APIRouter(prefix="/ogc", tags=["ogc"])

CONFORMS_TO = [
    *(
        f"http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/{c}"
        for c in ("core", "geojson", "html", "oas30")
    ),
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
    *FILTER_CONFORMANCE,
    *TILES_CONFORMANCE,
]

CrsQuery = Annotated[
    str | None,
    Query(description=f"CRS of the answer: {CRS_HELP}", json_schema_extra={"enum": CRS_NAMES}),
]


def default_limit(settings) -> int:
    """The page size when ``limit`` is not given: the configured one, within the maximum."""
    return min(settings.default_page_size, settings.max_page_size)


def _secret(settings) -> str:
    return settings.secret_key.get_secret_value()


def _collection_doc(base, store, caller, coll, cache: dict, html: bool, settings) -> dict:
    path = f"/collections/{coll.id}"
    return {
        "id": coll.id,
        "title": coll.title,
        "description": coll.description,
        "itemType": "feature",
        "crs": cat.supported_crs(),
        "storageCrs": CRS84,
        "extent": cat.extent(
            store, caller, coll, cache, lambda c: run_bbox(store, settings, caller, c.run),
            settings,
        ),
        "limits": {"defaultItems": default_limit(settings), "maxItems": settings.max_page_size},
        "links": [
            *self_links(base, path, html),
            link(base, path + "/items", "items", GEOJSON, "items as GeoJSON"),
            link(base, path + "/items", "items", HTML, "items as HTML"),
            link(
                base, path + "/queryables", "http://www.opengis.net/def/rel/ogc/1.0/queryables",
                SCHEMA_JSON, "the properties of the features",
            ),
            *([] if coll.kind == "incidents" and not caller.at_least("analyst") else [
                link(base, path + "/tiles", "http://www.opengis.net/def/rel/ogc/1.0/tilesets-vector",
                     JSON, "vector tilesets (Mapbox Vector Tiles)"),
            ]),
        ],
    }  # fmt: skip


def _feature_rows(features: list[dict], item_base: str) -> str:
    keys: list[str] = []
    for f in features[:50]:
        keys += [k for k in (f.get("properties") or {}) if k not in keys]
    keys = keys[:12]
    rows = [
        [f'<a href="{escape(item_base + quote(f["id"], safe=""))}?f=html">{escape(f["id"])}</a>']
        + [cell((f.get("properties") or {}).get(k)) for k in keys]
        for f in features
    ]
    return table(rows, ["id", *keys])


@router.get(
    "",
    operation_id="ogc_landing_page",
    summary="OGC API – Features landing page",
    response_class=Response,
    responses=JSON_HTML,
)
@router.get("/", include_in_schema=False)
def landing_page(request: Request, settings: SettingsDep, f: Format = None) -> Response:
    base, html = base_url(request, settings), wants_html(request, f)
    root = base[: -len("/ogc")]
    doc = {
        "title": "hotspots – OGC API – Features",
        "description": "Crime and anti-social behaviour incidents, areas and hotspot analyses "
        "of the Community Safety Partnership, as OGC API – Features collections.",
        "links": [
            *self_links(base, "", html),
            {
                "href": root + "/openapi.json",
                "rel": "service-desc",
                "type": OAS30,
                "title": "the API definition",
            },
            {
                "href": root + "/docs",
                "rel": "service-doc",
                "type": HTML,
                "title": "the API documentation",
            },
            link(base, "/conformance", "conformance", JSON, "conformance classes"),
            link(base, "/collections", "data", JSON, "collections"),
        ],
    }
    items = "".join(
        f'<li><a href="{escape(lk["href"])}">{escape(lk["title"])}</a> ({escape(lk["rel"])})</li>'
        for lk in doc["links"]
    )
    body = f"<p>{escape(doc['description'])}</p><ul>{items}</ul>"
    return respond(doc, html, page(doc["title"], body, []))


@router.get(
    "/conformance",
    operation_id="ogc_conformance",
    summary="The OGC conformance classes implemented",
    response_class=Response,
    responses=JSON_HTML,
)
def conformance(request: Request, settings: SettingsDep, f: Format = None) -> Response:
    base, html = base_url(request, settings), wants_html(request, f)
    doc = {"conformsTo": CONFORMS_TO, "links": self_links(base, "/conformance", html)}
    body = "<ul>" + "".join(f"<li><code>{escape(c)}</code></li>" for c in CONFORMS_TO) + "</ul>"
    return respond(doc, html, page("Conformance", body, [link(base, "", "up", HTML, "home")]))


@router.get(
    "/collections",
    operation_id="ogc_list_collections",
    summary="The feature collections the caller may read",
    response_class=Response,
    responses=JSON_HTML,
)
def list_collections(
    request: Request, store: StoreDep, settings: SettingsDep, caller: CallerDep, f: Format = None
) -> Response:
    base, html, cache = base_url(request, settings), wants_html(request, f), {}
    colls = cat.catalogue(store, caller, settings)
    doc = {
        "links": self_links(base, "/collections", html),
        "crs": cat.supported_crs(),
        "collections": [
            _collection_doc(base, store, caller, c, cache, html, settings) for c in colls
        ],
    }
    rows = [
        [
            f'<a href="{escape(base)}/collections/{escape(c.id)}?f=html">{escape(c.title)}</a>',
            escape(c.id),
            escape(c.description),
            f'<a href="{escape(base)}/collections/{escape(c.id)}/items?f=html">items</a>',
        ]
        for c in colls
    ]
    body = table(rows, ["title", "id", "description", "items"])
    nav = [link(base, "", "up", HTML, "home")]
    return respond(doc, html, page("Collections", body, nav))


@router.get(
    "/collections/{collection_id}",
    operation_id="ogc_read_collection",
    summary="One feature collection: title, description, extent, CRSs and links",
    response_class=Response,
    responses=JSON_HTML,
)
def read_collection(
    collection_id: str,
    request: Request,
    store: StoreDep,
    settings: SettingsDep,
    caller: CallerDep,
    f: Format = None,
) -> Response:
    base, html = base_url(request, settings), wants_html(request, f)
    coll = cat.find(store, caller, collection_id, settings)
    doc = _collection_doc(base, store, caller, coll, {}, html, settings)
    ext = doc["extent"]
    body = (
        f"<p>{escape(coll.description)}</p><p>Extent: {cell(ext['spatial']['bbox'][0])}, "
        f"{cell(ext['temporal']['interval'][0])}</p>"
        f'<p><a href="{escape(base)}/collections/{escape(coll.id)}/items?f=html">Items</a></p>'
    )
    nav = [link(base, "/collections", "up", HTML, "collections")]
    return respond(doc, html, page(coll.title, body, nav))


def collection_queryables(store, settings, caller, coll, url: str) -> dict:
    """The queryables of ``coll`` as the caller's role is shown its features."""
    if coll.kind == "run":
        return queryables(coll, url, props=run_properties(store, settings, caller, coll.run))
    if coll.kind == "incidents":
        features = []
    else:
        features = shown_area_features(store, settings, caller, coll.kind, parse_window(
            None, None, None, settings))  # fmt: skip
    return queryables(coll, url, features)


@router.get(
    "/collections/{collection_id}/queryables",
    operation_id="ogc_read_queryables",
    summary="The properties of a collection's features, as a JSON Schema",
    response_class=Response,
    responses={200: {"content": {SCHEMA_JSON: {}, HTML: {}}}},
)
def read_queryables(
    collection_id: str,
    request: Request,
    store: StoreDep,
    settings: SettingsDep,
    caller: CallerDep,
    f: Format = None,
) -> Response:
    base, html = base_url(request, settings), wants_html(request, f)
    coll = cat.find(store, caller, collection_id, settings)
    path = f"/collections/{coll.id}/queryables"
    doc = collection_queryables(store, settings, caller, coll, base + path)
    rows = [[escape(k), cell(v)] for k, v in doc["properties"].items()]
    nav = [link(base, f"/collections/{coll.id}", "collection", HTML, coll.title)]
    body = table(rows, ["property", "schema"])
    return respond(doc, html, page(f"{coll.title}: queryables", body, nav), SCHEMA_JSON)


@router.get(
    "/collections/{collection_id}/items",
    operation_id="ogc_list_items",
    summary="Features of a collection, filtered by bbox, datetime and CQL2, paged by cursor",
    response_class=Response,
    responses=GEO_HTML,
)
@read_lane
def list_items(
    collection_id: str,
    request: Request,
    store: StoreDep,
    settings: SettingsDep,
    caller: CallerDep,
    bbox: Annotated[
        str | None, Query(description=BBOX_HELP, json_schema_extra=query_schema(BBOX46))
    ] = None,
    bbox_crs: Annotated[
        str | None,
        Query(
            alias="bbox-crs",
            description=f"CRS of bbox: {CRS_HELP}",
            json_schema_extra={"enum": CRS_NAMES},
        ),
    ] = None,
    crs: CrsQuery = None,
    datetime_: Annotated[
        str | None,
        Query(
            alias="datetime",
            description="RFC 3339 instant or interval a/b, '..' open",
            json_schema_extra=query_schema(DATETIME),
        ),
    ] = None,
    limit: Annotated[int | None, Query(ge=1, description="page size")] = None,
    offset: Annotated[
        int, Query(ge=0, le=MAX_OFFSET, description="index of the first feature (first page)")
    ] = 0,
    cursor: Annotated[
        str | None, Query(max_length=2000, description="where a next link continues")
    ] = None,
    filter_: Annotated[
        str | None, Query(alias="filter", max_length=20_000, description=FILTER_HELP)
    ] = None,
    filter_lang: Annotated[
        str | None,
        Query(
            alias="filter-lang",
            description="cql2-text (default) or cql2-json",
            json_schema_extra={"enum": list(FILTER_LANGS)},
        ),
    ] = None,
    filter_crs: Annotated[
        str | None,
        Query(
            alias="filter-crs",
            description=f"CRS of filter geometries: {CRS_HELP}",
            json_schema_extra={"enum": CRS_NAMES},
        ),
    ] = None,
    f: Format = None,
) -> Response:
    base, html = base_url(request, settings), wants_html(request, f)
    coll = cat.find(store, caller, collection_id, settings)
    where = None
    if filter_ is not None or filter_lang is not None:
        props = property_types(collection_queryables(store, settings, caller, coll, ""))
        where = parse_filter(filter_, filter_lang, parse_crs(filter_crs, "filter-crs"), props)
    limit = default_limit(settings) if limit is None else limit
    if limit > settings.max_page_size:
        raise invalid("limit", f"an integer from 1 to {settings.max_page_size}", limit)
    box_crs, out_crs = parse_crs(bbox_crs, "bbox-crs"), parse_crs(crs, "crs")
    after = None if cursor is None else open_cursor(_secret(settings), coll.id, cursor)
    sel = Selection(
        bbox=parse_bbox(bbox, box_crs),
        bbox_crs=box_crs,
        crs=out_crs,
        window=parse_window(None, None, datetime_, settings),
        limit=limit,
        offset=0 if cursor is not None else offset,
        after=after,
        filter=where,
    )
    found = select(store, settings, caller, coll, sel)
    path = f"/collections/{coll.id}"
    params = {k: v for k, v in request.query_params.items() if k != "f"}
    links = self_links(base, path + "/items", html, GEOJSON, **params)
    if found.next_key is not None:
        token = seal_cursor(_secret(settings), coll.id, found.next_key)
        q = {**{k: v for k, v in params.items() if k != "offset"}, "cursor": token}
        q["limit"] = limit
        links += [link(base, path + "/items", "next", t, "next page", **q) for t in (GEOJSON, HTML)]
    links.append(link(base, path, "collection", JSON, coll.title))
    doc = {"type": "FeatureCollection", "features": found.features}
    if found.matched is not None:
        doc["numberMatched"] = found.matched
    doc.update(numberReturned=len(found.features), timeStamp=now(), links=links)

    def html_page() -> str:  # a table of up to 10,000 rows: written only when asked for
        of = "" if found.matched is None else f" of {found.matched}"
        body = (
            f"<p>{escape(coll.description)}</p><p>{len(found.features)} features{of}.</p>"
            + _feature_rows(found.features, f"{base}{path}/items/")
        )
        nav = [lk for lk in links if lk["type"] == HTML and lk["rel"] == "next"]
        nav.append(link(base, path, "collection", HTML, coll.title))
        return page(f"{coll.title}: items", body, nav)

    return respond(doc, html, html_page, GEOJSON, content_crs(out_crs), found.then)


@router.get(
    "/collections/{collection_id}/items/{feature_id:path}",
    operation_id="ogc_read_item",
    summary="One feature of a collection",
    response_class=Response,
    responses=GEO_HTML,
)
@read_lane
def read_item(
    collection_id: str,
    feature_id: str,
    request: Request,
    store: StoreDep,
    settings: SettingsDep,
    caller: CallerDep,
    crs: CrsQuery = None,
    f: Format = None,
) -> Response:
    base, html = base_url(request, settings), wants_html(request, f)
    coll = cat.find(store, caller, collection_id, settings)
    out_crs = parse_crs(crs, "crs")
    feature = one(store, settings, caller, coll, feature_id, out_crs)
    if feature is None:
        raise Problem(404, f"no feature {feature_id!r} in collection {coll.id!r}")
    path = f"/collections/{coll.id}"
    links = self_links(base, f"{path}/items/{quote(feature_id, safe='')}", html, GEOJSON)
    links.append(link(base, path, "collection", JSON, coll.title))
    doc = {**feature, "links": links}
    props = feature.get("properties") or {}
    geom = feature.get("geometry") or {}
    body = f"<p>Geometry: {escape(str(geom.get('type')))}</p>" + table(
        [[escape(k), cell(v)] for k, v in props.items()], ["property", "value"]
    )
    nav = [link(base, path, "collection", HTML, coll.title)]
    html_page = page(f"{coll.title}: {feature_id}", body, nav)
    return respond(doc, html, html_page, GEOJSON, content_crs(out_crs))
