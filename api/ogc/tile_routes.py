"""The OGC API – Tiles routes under ``/ogc``: tile matrix sets, each collection's
vector tileset (metadata, TileJSON) and its Mapbox Vector Tiles (see :mod:`.tiles`)."""

from __future__ import annotations

import orjson
from fastapi import APIRouter, Request, Response

from ..deps import CallerDep, SettingsDep, StoreDep
from ..problems import Problem
from ..read_lane import read_lane
from . import collections as cat
from .common import JSON, base_url, link
from .queryables import property_types
from .routes import collection_queryables
from .tiles import MVT, TMS_ID, parse_tile, tile_bytes, tile_matrix_set, tilejson, tileset

router = APIRouter(prefix="/ogc", tags=["ogc"])
_MVT_TYPES = {"string": "String", "date-time": "String", "boolean": "Boolean"}


def _json(doc: dict) -> Response:
    return Response(orjson.dumps(doc), media_type=JSON)


def _tiled(store, caller, cid: str, settings):
    """The collection ``cid`` if the caller may have its tiles: incidents' only analysts."""
    coll = cat.find(store, caller, cid, settings)
    if coll.kind == "incidents" and not caller.at_least("analyst"):
        raise Problem(403, "vector tiles of incidents are for analysts only")
    return coll


def _fields(store, settings, caller, coll) -> dict[str, str]:
    """The tile layer's attributes (the queryables the role is shown) as TileJSON types."""
    props = property_types(collection_queryables(store, settings, caller, coll, ""))
    return {"id": "String", **{k: _MVT_TYPES.get(v, "Number") for k, v in props.items()}}


@router.get(
    "/tileMatrixSets",
    operation_id="ogc_list_tile_matrix_sets",
    summary="The tile matrix sets tiles are offered in",
)
def list_tile_matrix_sets(request: Request, settings: SettingsDep) -> Response:
    base = base_url(request, settings)
    here = link(base, f"/tileMatrixSets/{TMS_ID}", "self", JSON, "WebMercatorQuad")
    tms = {"id": TMS_ID, "title": "Google Maps compatible (Web Mercator)", "links": [here]}
    return _json({"tileMatrixSets": [tms]})


@router.get(
    "/tileMatrixSets/{tms}",
    operation_id="ogc_read_tile_matrix_set",
    summary="A tile matrix set's definition",
)
def read_tile_matrix_set(tms: str) -> Response:
    if tms != TMS_ID:
        raise Problem(404, f"tile matrix set {tms!r} is not offered; use {TMS_ID}")
    return _json(tile_matrix_set())


@router.get(
    "/collections/{collection_id}/tiles",
    operation_id="ogc_list_tilesets",
    summary="A collection's vector tilesets",
)
def list_tilesets(
    collection_id: str, request: Request, store: StoreDep, settings: SettingsDep, caller: CallerDep
) -> Response:
    coll = _tiled(store, caller, collection_id, settings)
    base = base_url(request, settings)
    doc = tileset(base, coll, _fields(store, settings, caller, coll))
    entry = {k: doc[k] for k in ("title", "dataType", "crs", "tileMatrixSetURI")}
    entry["links"] = [{**doc["links"][0]}, doc["links"][1], doc["links"][2]]
    here = link(base, f"/collections/{coll.id}/tiles", "self", JSON, "this document")
    return _json({"tilesets": [entry], "links": [here]})


def _tiled_in(store, caller, collection_id: str, settings, tms: str):
    """The collection, if it has tiles in the tile matrix set ``tms`` (else 404)."""
    coll = _tiled(store, caller, collection_id, settings)
    if tms != TMS_ID:
        raise Problem(404, f"tile matrix set {tms!r} is not offered; use {TMS_ID}")
    return coll


@router.get(
    "/collections/{collection_id}/tiles/{tms}",
    operation_id="ogc_read_tileset",
    summary="A collection's vector tileset: its metadata and tile URL template",
)
def read_tileset(
    collection_id: str,
    tms: str,
    request: Request,
    store: StoreDep,
    settings: SettingsDep,
    caller: CallerDep,
) -> Response:
    coll = _tiled_in(store, caller, collection_id, settings, tms)
    base = base_url(request, settings)
    return _json(tileset(base, coll, _fields(store, settings, caller, coll)))


@router.get(
    "/collections/{collection_id}/tiles/{tms}/tilejson.json",
    operation_id="ogc_read_tilejson",
    summary="A collection's vector tiles as TileJSON 3.0 (for QGIS, MapLibre)",
)
def read_tilejson(
    collection_id: str,
    tms: str,
    request: Request,
    store: StoreDep,
    settings: SettingsDep,
    caller: CallerDep,
) -> Response:
    coll = _tiled_in(store, caller, collection_id, settings, tms)
    base = base_url(request, settings)
    return _json(tilejson(base, coll, _fields(store, settings, caller, coll), None))


@router.get(
    "/collections/{collection_id}/tiles/{tms}/{tile_matrix}/{tile_row}/{tile_col}",
    operation_id="ogc_read_tile",
    summary="One vector tile (Mapbox Vector Tile) of a collection, as the caller may see it",
    response_class=Response,
    responses={200: {"content": {MVT: {}}}, 204: {"description": "an empty tile"}},
)
@read_lane
def read_tile(
    collection_id: str,
    tms: str,
    tile_matrix: str,
    tile_row: str,
    tile_col: str,
    store: StoreDep,
    settings: SettingsDep,
    caller: CallerDep,
) -> Response:
    coll = _tiled(store, caller, collection_id, settings)
    tile = parse_tile(coll, tms, tile_matrix, tile_row, tile_col)
    data = tile_bytes(store, settings, caller, coll, tile)
    if not data:
        return Response(status_code=204)
    return Response(data, media_type=MVT)
