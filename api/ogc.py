"""OGC API – Features Part 1: Core, with the GeoJSON and HTML conformance classes.

QGIS, ArcGIS and GDAL's OAPIF driver can list and load every collection from
``/ogc``: ``incidents`` (points; partner or higher, sensitive ones for analysts
only), ``wards`` and ``lsoas`` (counts and rates per 1,000), ``hotspots-<method>``
(the latest run of each method) and one collection per stored run (the 50
newest). Roles apply as everywhere else: the public role never sees incidents
and gets small counts suppressed. JSON by default; HTML with ``f=html`` or when
``Accept`` prefers ``text/html``. Times are UK wall-clock times, written with ``Z``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from html import escape
from typing import Annotated, Literal
from urllib.parse import quote, urlencode

import pyarrow.compute as pc
import shapely
from fastapi import APIRouter, Query, Request, Response
from shapely.geometry import shape

from geodata.crs import WGS84
from geodata.model import RunRecord
from geodata.stores import IncidentQuery
from hotspots.analysis import METHODS

from .deps import Caller, CallerDep, SettingsDep, StoreDep, require
from .disclosure import Disclosure
from .filters import MAX_OFFSET, Window, invalid, parse_window
from .problems import Problem
from .routes.areas import areas_geojson
from .routes.incidents import POINT_COLUMNS, find_incident, incident_features
from .service import run_counts

router = APIRouter(prefix="/ogc", tags=["ogc"])

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
GREGORIAN = "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"
CONFORMS_TO = [
    f"http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/{c}"
    for c in ("core", "geojson", "html", "oas30")
]
JSON, GEOJSON, HTML = "application/json", "application/geo+json", "text/html"
OAS30 = "application/vnd.oai.openapi+json;version=3.0"
DEFAULT_LIMIT = 100
RUNS_LISTED = 50
AREAS = {"wards": ("ward", "Wards"), "lsoas": ("lsoa", "LSOAs")}
BBOX_HELP = "minLon,minLat,maxLon,maxLat (or 6 numbers with heights) in CRS84 degrees"

Format = Annotated[
    Literal["json", "html"] | None,
    Query(alias="f", description="json or html; default from the Accept header, else json"),
]
_JSON_HTML = {200: {"content": {JSON: {}, HTML: {}}}}
_GEO_HTML = {200: {"content": {GEOJSON: {}, HTML: {}}}}


@dataclass
class Collection:
    id: str
    title: str
    description: str
    kind: str  # "incidents", "ward", "lsoa" or "run"
    run: RunRecord | None = None  # run collections; ``result`` may be {} in listings


# -- negotiation, links, rendering -------------------------------------------------------
def _wants_html(request: Request, f: str | None) -> bool:
    if f:
        return f == "html"
    best = {"html": 0.0, "json": 0.0}
    for part in request.headers.get("accept", "").split(","):
        media, *params = [p.strip().lower() for p in part.split(";")]
        q = 1.0
        for p in params:
            key, _, value = p.partition("=")
            if key.strip() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if media in (HTML, "application/xhtml+xml"):
            best["html"] = max(best["html"], q)
        elif media.endswith("json") or media in ("*/*", "application/*"):
            best["json"] = max(best["json"], q)
    return best["html"] > best["json"]


def _base(request: Request, settings) -> str:
    root = settings.base_url or str(request.base_url)
    return root.rstrip("/") + "/ogc"


def _link(base: str, path: str, rel: str, type_: str, title: str = "", **params) -> dict:
    if type_ in (JSON, GEOJSON, HTML):
        params["f"] = "html" if type_ == HTML else "json"
    query = urlencode({k: v for k, v in params.items() if v is not None})
    link = {"href": base + path + (f"?{query}" if query else ""), "rel": rel, "type": type_}
    if title:
        link["title"] = title
    return link


def _self_links(base: str, path: str, as_html: bool, json_type: str = JSON, **params) -> list:
    here, other = (HTML, json_type) if as_html else (json_type, HTML)
    return [
        _link(base, path, "self", here, "this document", **params),
        _link(base, path, "alternate", other, f"this document as {other}", **params),
    ]


def _page(title: str, body: str, links: list[dict]) -> str:
    nav = " · ".join(
        f'<a href="{escape(lk["href"])}">{escape(lk.get("title") or lk["rel"])}</a>' for lk in links
    )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>body{{font:15px sans-serif;margin:2em}}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px;"
        "text-align:left;vertical-align:top}</style></head>"
        f"<body><nav>{nav}</nav><h1>{escape(title)}</h1>{body}</body></html>"
    )


def _cell(value) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return escape(text if len(text) <= 200 else text[:200] + "…")


def _table(rows: list[list[str]], head: list[str]) -> str:
    th = "".join(f"<th>{escape(h)}</th>" for h in head)
    trs = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><tr>{th}</tr>{trs}</table>"


def _respond(doc: dict, as_html: bool, html: str, media: str = JSON) -> Response:
    headers = {"Vary": "Accept"}
    if as_html:
        return Response(html, media_type=HTML + "; charset=utf-8", headers=headers)
    return Response(json.dumps(doc, default=str), media_type=media, headers=headers)


# -- parameters ------------------------------------------------------------------------------
def _bbox(text: str | None, crs: str | None) -> tuple[float, float, float, float] | None:
    if crs is not None and crs.strip().replace("https://", "http://") != CRS84:
        raise invalid("bbox-crs", f"{CRS84} (the only CRS supported)", crs)
    if text is None:
        return None
    try:
        v = [float(p) for p in text.split(",")]
    except ValueError:
        raise invalid("bbox", BBOX_HELP, text) from None
    if len(v) == 6:
        v = [v[0], v[1], v[3], v[4]]
    if len(v) != 4 or not all(map(math.isfinite, v)) or v[0] > v[2] or v[1] > v[3]:
        raise invalid("bbox", BBOX_HELP + " with min <= max", text)
    if not (v[0] >= -180 and v[2] <= 180 and v[1] >= -90 and v[3] <= 90):
        raise invalid("bbox", BBOX_HELP + " within lon -180..180 and lat -90..90", text)
    return (v[0], v[1], v[2], v[3])


def _iso(when) -> str | None:
    if when is None:
        return None
    if isinstance(when, str):
        try:
            when = datetime.fromisoformat(when.replace("Z", ""))
        except ValueError:
            return None
    return when.replace(tzinfo=None).isoformat() + "Z"


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# -- collections -----------------------------------------------------------------------------
def _run_collection(run: RunRecord, latest: bool, policy: Disclosure, store=None) -> Collection:
    prov = run.provenance or {}
    cats = ", ".join(prov.get("categories") or []) or "all categories"
    when = run.created_at.strftime("%Y-%m-%d %H:%M")
    n_incidents = run_counts(store, run, policy)[0]
    shown = "fewer than the public threshold" if n_incidents is None else f"{n_incidents:,}"
    about = (
        f"{run.method} hotspots of run {run.run_id} ({cats}; {shown} incidents"
        f"{'' if policy.analyst else ', sensitive ones left out'}; made {when} UTC), ranked, "
        "with every statistic. The run's time window is the temporal extent; the datetime "
        "parameter is ignored here."
    )
    if latest:
        return Collection(
            f"hotspots-{run.method}", f"Hotspots – latest {run.method}", about, "run", run
        )
    cid = run.run_id if run.run_id.startswith("run-") else f"run-{run.run_id}"
    return Collection(cid, f"Run {run.run_id} ({run.method}, {when})", about, "run", run)


def _incidents_collection(caller: Caller) -> Collection:
    seen = "all incidents" if caller.at_least("analyst") else "non-sensitive incidents"
    return Collection(
        "incidents",
        "Incidents",
        f"Incident points ({seen}), in id order. datetime filters occurred_at "
        "(police.uk times are the first of the month).",
        "incidents",
    )


def _area_collection(cid: str) -> Collection:
    kind, title = AREAS[cid]
    return Collection(
        cid,
        title,
        f"{title} with incident counts, rates per 1,000 residents and change on the year "
        "before, for all incidents; datetime restricts the incidents counted. Counts "
        "below the public threshold are null for the public role.",
        kind,
    )


def _policy(caller: Caller, settings) -> Disclosure:
    return Disclosure.for_role(caller.role, settings)


def _catalogue(store, caller: Caller, settings) -> list[Collection]:
    policy = _policy(caller, settings)
    out = [_incidents_collection(caller)] if caller.at_least("partner") else []
    out += [_area_collection(c) for c, (k, _) in AREAS.items() if len(store.boundaries(k))]
    for method in METHODS:
        newest = store.list_runs(method, limit=1)
        if newest:
            out.append(_run_collection(newest[0], True, policy, store))
    out += [
        _run_collection(r, False, policy, store) for r in store.list_runs(None, limit=RUNS_LISTED)
    ]
    return out


def _find(store, caller: Caller, cid: str, settings) -> Collection:
    if cid == "incidents":
        require("partner")(caller)
        return _incidents_collection(caller)
    if cid in AREAS and len(store.boundaries(AREAS[cid][0])):
        return _area_collection(cid)
    run = None
    if cid.startswith("hotspots-") and cid[9:] in METHODS:
        run = store.latest_run(cid[9:])
    elif cid.startswith("run-"):
        run = store.get_run(cid) or store.get_run(cid[4:])
    if run is None:
        raise Problem(404, f"no collection {cid!r}; see /ogc/collections")
    return _run_collection(run, cid.startswith("hotspots-"), _policy(caller, settings), store)


def _incident_extent(store, analyst: bool) -> tuple[list | None, list | None]:
    """Bounds and time span of the incidents a role may see; below analyst, sensitive
    incidents are left out and the span is widened to whole months (no exact times)."""
    q = IncidentQuery(include_sensitive=analyst, columns=["lon", "lat", "occurred_at"])
    t = store.query_incidents(q)
    if t.num_rows == 0:
        return None, None
    lon, lat, at = (pc.min_max(t[c]) for c in ("lon", "lat", "occurred_at"))
    bbox = [lon["min"].as_py(), lat["min"].as_py(), lon["max"].as_py(), lat["max"].as_py()]
    first, last = at["min"].as_py(), at["max"].as_py()
    if not analyst:
        first = first.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        last = datetime(last.year + (last.month == 12), last.month % 12 + 1, 1)
    return bbox, [_iso(first), _iso(last)]


def _area_bbox(store, *kinds: str) -> list | None:
    for kind in kinds:
        areas = store.boundaries(kind)
        if len(areas):
            return [float(v) for v in areas.to_crs(WGS84).total_bounds]
    return None


def _run_interval(run: RunRecord) -> list | None:
    window = (run.provenance or {}).get("window") or {}
    months = window.get("months") or []
    start = _iso(window.get("start")) or (_iso(months[0] + "-01") if months else None)
    end = _iso(window.get("end"))
    if end is None and months:
        y, m = map(int, months[-1].split("-"))
        end = _iso(datetime(y + m // 12, m % 12 + 1, 1))
    return [start, end] if start or end else None


def _extent(store, caller: Caller, coll: Collection, cache: dict) -> dict:
    if coll.kind == "run":
        # below analyst, the study area: the hotspots' own bounds could outline withheld ones
        feats = (coll.run.result or {}).get("features") or [] if caller.at_least("analyst") else []
        geoms = [shape(f["geometry"]) for f in feats if f.get("geometry")]
        if geoms:
            bbox = [float(v) for v in shapely.total_bounds(geoms)]
        else:
            bbox = cache.setdefault("study", _area_bbox(store, "district", "ward", "lsoa"))
        interval = _run_interval(coll.run)
    else:
        analyst = caller.at_least("analyst")
        if analyst not in cache:
            cache[analyst] = _incident_extent(store, analyst)
        bbox, interval = cache[analyst]
        if coll.kind != "incidents":
            bbox = _area_bbox(store, coll.kind)
    return {
        "spatial": {"bbox": [bbox or [-180.0, -90.0, 180.0, 90.0]], "crs": CRS84},
        "temporal": {"interval": [interval or [None, None]], "trs": GREGORIAN},
    }


def _collection_doc(base: str, store, caller, coll: Collection, cache: dict, html: bool) -> dict:
    path = f"/collections/{coll.id}"
    return {
        "id": coll.id,
        "title": coll.title,
        "description": coll.description,
        "itemType": "feature",
        "crs": [CRS84],
        "storageCrs": CRS84,
        "extent": _extent(store, caller, coll, cache),
        "links": [
            *_self_links(base, path, html),
            _link(base, path + "/items", "items", GEOJSON, "items as GeoJSON"),
            _link(base, path + "/items", "items", HTML, "items as HTML"),
        ],
    }


# -- features ----------------------------------------------------------------------------------
def _area_features(store, settings, caller: Caller, kind: str, window: Window) -> list[dict]:
    return areas_geojson(store, _policy(caller, settings), kind, None, window)["features"]


def _run_features(settings, caller: Caller, run: RunRecord) -> list[dict]:
    fc = _policy(caller, settings).run_view(run.result or {})
    return [{**f, "id": str(f.get("id"))} for f in fc.get("features", [])]


def _select(store, settings, caller, coll, bbox, window, limit: int, offset: int):
    """(features of the page, number matched)."""
    if coll.kind == "incidents":
        q = IncidentQuery(
            bbox=bbox,
            bbox_lonlat=bbox is not None,
            start=window.start,
            end=window.end,
            include_sensitive=caller.at_least("analyst"),
        )
        page = store.query_incidents(replace(q, columns=POINT_COLUMNS, limit=limit, offset=offset))
        return incident_features(page, _policy(caller, settings)), store.count_incidents(q)
    if coll.kind == "run":
        features = _run_features(settings, caller, coll.run)
    else:
        features = _area_features(store, settings, caller, coll.kind, window)
    if bbox is not None:
        box = shapely.box(*bbox)
        features = [f for f in features if f["geometry"] and shape(f["geometry"]).intersects(box)]
    return features[offset : offset + limit], len(features)


def _one(store, settings, caller: Caller, coll: Collection, fid: str) -> dict | None:
    if coll.kind == "incidents":
        return find_incident(store, _policy(caller, settings), fid)
    if coll.kind == "run":
        features = _run_features(settings, caller, coll.run)
    else:
        features = _area_features(store, settings, caller, coll.kind, Window())
    return next((f for f in features if f["id"] == fid), None)


def _feature_rows(features: list[dict], item_base: str) -> str:
    keys: list[str] = []
    for f in features[:50]:
        keys += [k for k in (f.get("properties") or {}) if k not in keys]
    keys = keys[:12]
    rows = [
        [f'<a href="{escape(item_base + quote(f["id"], safe=""))}?f=html">{escape(f["id"])}</a>']
        + [_cell((f.get("properties") or {}).get(k)) for k in keys]
        for f in features
    ]
    return _table(rows, ["id", *keys])


# -- routes ------------------------------------------------------------------------------------
@router.get(
    "",
    operation_id="ogc_landing_page",
    summary="OGC API – Features landing page",
    response_class=Response,
    responses=_JSON_HTML,
)
@router.get("/", include_in_schema=False)
def landing_page(request: Request, settings: SettingsDep, f: Format = None) -> Response:
    base, html = _base(request, settings), _wants_html(request, f)
    root = base[: -len("/ogc")]
    doc = {
        "title": "hotspots – OGC API – Features",
        "description": "Crime and anti-social behaviour incidents, areas and hotspot analyses "
        "of the Community Safety Partnership, as OGC API – Features collections.",
        "links": [
            *_self_links(base, "", html),
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
            _link(base, "/conformance", "conformance", JSON, "conformance classes"),
            _link(base, "/collections", "data", JSON, "collections"),
        ],
    }
    items = "".join(
        f'<li><a href="{escape(lk["href"])}">{escape(lk["title"])}</a> ({escape(lk["rel"])})</li>'
        for lk in doc["links"]
    )
    body = f"<p>{escape(doc['description'])}</p><ul>{items}</ul>"
    return _respond(doc, html, _page(doc["title"], body, []))


@router.get(
    "/conformance",
    operation_id="ogc_conformance",
    summary="The OGC conformance classes implemented",
    response_class=Response,
    responses=_JSON_HTML,
)
def conformance(request: Request, settings: SettingsDep, f: Format = None) -> Response:
    base, html = _base(request, settings), _wants_html(request, f)
    links = _self_links(base, "/conformance", html)
    doc = {"conformsTo": CONFORMS_TO, "links": links}
    body = "<ul>" + "".join(f"<li><code>{escape(c)}</code></li>" for c in CONFORMS_TO) + "</ul>"
    return _respond(doc, html, _page("Conformance", body, [_link(base, "", "up", HTML, "home")]))


@router.get(
    "/collections",
    operation_id="ogc_list_collections",
    summary="The feature collections the caller may read",
    response_class=Response,
    responses=_JSON_HTML,
)
def list_collections(
    request: Request, store: StoreDep, settings: SettingsDep, caller: CallerDep, f: Format = None
) -> Response:
    base, html, cache = _base(request, settings), _wants_html(request, f), {}
    colls = _catalogue(store, caller, settings)
    doc = {
        "links": _self_links(base, "/collections", html),
        "collections": [_collection_doc(base, store, caller, c, cache, html) for c in colls],
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
    body = _table(rows, ["title", "id", "description", "items"])
    nav = [_link(base, "", "up", HTML, "home")]
    return _respond(doc, html, _page("Collections", body, nav))


@router.get(
    "/collections/{collection_id}",
    operation_id="ogc_read_collection",
    summary="One feature collection: title, description, extent and links",
    response_class=Response,
    responses=_JSON_HTML,
)
def read_collection(
    collection_id: str,
    request: Request,
    store: StoreDep,
    settings: SettingsDep,
    caller: CallerDep,
    f: Format = None,
) -> Response:
    base, html = _base(request, settings), _wants_html(request, f)
    coll = _find(store, caller, collection_id, settings)
    doc = _collection_doc(base, store, caller, coll, {}, html)
    ext = doc["extent"]
    body = (
        f"<p>{escape(coll.description)}</p><p>Extent: {_cell(ext['spatial']['bbox'][0])}, "
        f"{_cell(ext['temporal']['interval'][0])}</p>"
        f'<p><a href="{escape(base)}/collections/{escape(coll.id)}/items?f=html">Items</a></p>'
    )
    nav = [_link(base, "/collections", "up", HTML, "collections")]
    return _respond(doc, html, _page(coll.title, body, nav))


@router.get(
    "/collections/{collection_id}/items",
    operation_id="ogc_list_items",
    summary="Features of a collection, filtered by bbox and datetime, paged",
    response_class=Response,
    responses=_GEO_HTML,
)
def list_items(
    collection_id: str,
    request: Request,
    store: StoreDep,
    settings: SettingsDep,
    caller: CallerDep,
    bbox: Annotated[str | None, Query(description=BBOX_HELP)] = None,
    bbox_crs: Annotated[str | None, Query(alias="bbox-crs", description=CRS84)] = None,
    datetime_: Annotated[
        str | None,
        Query(alias="datetime", description="RFC 3339 instant or interval a/b, '..' open"),
    ] = None,
    limit: Annotated[
        int | None, Query(ge=1, description=f"page size (default {DEFAULT_LIMIT})")
    ] = None,
    offset: Annotated[
        int, Query(ge=0, le=MAX_OFFSET, description="index of the first feature")
    ] = 0,
    f: Format = None,
) -> Response:
    base, html = _base(request, settings), _wants_html(request, f)
    coll = _find(store, caller, collection_id, settings)
    limit = min(DEFAULT_LIMIT, settings.max_page_size) if limit is None else limit
    if limit > settings.max_page_size:
        raise invalid("limit", f"an integer from 1 to {settings.max_page_size}", limit)
    box = _bbox(bbox, bbox_crs)
    window = parse_window(None, None, datetime_, settings)
    page, matched = _select(store, settings, caller, coll, box, window, limit, offset)
    path = f"/collections/{coll.id}"
    params = {k: v for k, v in request.query_params.items() if k != "f"}
    links = _self_links(base, path + "/items", html, GEOJSON, **params)
    for rel, start, show in (
        ("next", offset + limit, offset + len(page) < matched),
        ("prev", max(offset - limit, 0), offset > 0),
    ):
        if show:
            q = {**params, "offset": start, "limit": limit}
            links += [_link(base, path + "/items", rel, t, rel, **q) for t in (GEOJSON, HTML)]
    links.append(_link(base, path, "collection", JSON, coll.title))
    doc = {
        "type": "FeatureCollection",
        "features": page,
        "numberMatched": matched,
        "numberReturned": len(page),
        "timeStamp": _now(),
        "links": links,
    }
    body = (
        f"<p>{escape(coll.description)}</p><p>Features {offset + 1 if page else 0}–"
        f"{offset + len(page)} of {matched}.</p>" + _feature_rows(page, f"{base}{path}/items/")
    )
    nav = [lk for lk in links if lk["type"] == HTML and lk["rel"] in ("next", "prev")]
    nav.append(_link(base, path, "collection", HTML, coll.title))
    return _respond(doc, html, _page(f"{coll.title}: items", body, nav), GEOJSON)


@router.get(
    "/collections/{collection_id}/items/{feature_id:path}",
    operation_id="ogc_read_item",
    summary="One feature of a collection",
    response_class=Response,
    responses=_GEO_HTML,
)
def read_item(
    collection_id: str,
    feature_id: str,
    request: Request,
    store: StoreDep,
    settings: SettingsDep,
    caller: CallerDep,
    f: Format = None,
) -> Response:
    base, html = _base(request, settings), _wants_html(request, f)
    coll = _find(store, caller, collection_id, settings)
    feature = _one(store, settings, caller, coll, feature_id)
    if feature is None:
        raise Problem(404, f"no feature {feature_id!r} in collection {coll.id!r}")
    path = f"/collections/{coll.id}"
    links = _self_links(base, f"{path}/items/{quote(feature_id, safe='')}", html, GEOJSON)
    links.append(_link(base, path, "collection", JSON, coll.title))
    doc = {**feature, "links": links}
    props = feature.get("properties") or {}
    geom = feature.get("geometry") or {}
    body = f"<p>Geometry: {escape(str(geom.get('type')))}</p>" + _table(
        [[escape(k), _cell(v)] for k, v in props.items()], ["property", "value"]
    )
    nav = [_link(base, path, "collection", HTML, coll.title)]
    return _respond(doc, html, _page(f"{coll.title}: {feature_id}", body, nav), GEOJSON)
