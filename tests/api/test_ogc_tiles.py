"""Vector tiles (OGC API – Tiles, Mapbox Vector Tiles) on ``/ogc``, on both stores.

Tiles are decoded with ``mapbox-vector-tile`` and checked against the stored
incidents and boundaries and against the items each role is given; the tile
maths in these tests is the spherical Mercator formula, written out here.
"""

from __future__ import annotations

import math

import mapbox_vector_tile
import numpy as np
import pytest
import shapely
from test_ogc import MIN_COUNT, get

MVT = "application/vnd.mapbox-vector-tile"
R = 6_378_137.0
HALF = math.pi * R
TILESETS = "http://www.opengis.net/def/rel/ogc/1.0/tilesets-vector"
TOWN = (0.3705, 51.4405)  # Gravesham town centre, lon/lat


@pytest.fixture(scope="module")
def env(make_api_env, api_kit, tmp_path_factory):
    """This module's copy of the demo, as ``test_ogc`` serves it."""
    with make_api_env(tmp_path_factory.mktemp("ogc-tiles"), public_min_count=MIN_COUNT) as api:
        keys = {"public": {}, "partner": api.headers["partner"], "analyst": api.headers["analyst"]}
        yield {"client": api.client, "store": api.store, "keys": keys, "table": api.table}


def mercator(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    lon, lat = np.asarray(lon, float), np.asarray(lat, float)
    return R * np.radians(lon), R * np.log(np.tan(np.pi / 4 + np.radians(lat) / 2))


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    """(row, col) of the tile holding a point."""
    x, y = mercator(lon, lat)
    size = 2 * HALF / 2**z
    return int((HALF - y) // size), int((x + HALF) // size)


def bounds(z: int, row: int, col: int) -> tuple[float, float, float, float]:
    size = 2 * HALF / 2**z
    return -HALF + col * size, HALF - (row + 1) * size, -HALF + (col + 1) * size, HALF - row * size


def tile(env, cid: str, z: int, row: int, col: int, role: str = "analyst"):
    r = get(env, f"/ogc/collections/{cid}/tiles/WebMercatorQuad/{z}/{row}/{col}", role)
    if r.status_code == 204:
        assert r.content == b""
        return []
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == MVT
    layers = mapbox_vector_tile.decode(r.content)
    assert set(layers) == {cid}
    assert layers[cid]["extent"] == 4096
    return layers[cid]["features"]


def test_collections_link_tilesets_with_a_template_qgis_can_use(env):
    for role, cid in [("analyst", "incidents"), ("public", "wards"), ("public", "hotspots-gistar")]:
        coll = get(env, f"/ogc/collections/{cid}", role).json()
        (lk,) = [lk for lk in coll["links"] if lk["rel"] == TILESETS]
        sets = get(env, lk["href"], role).json()["tilesets"]
        assert [s["tileMatrixSetURI"].rsplit("/", 1)[1] for s in sets] == ["WebMercatorQuad"]
        (here,) = [lk for lk in sets[0]["links"] if lk["rel"] == "self"]
        doc = get(env, here["href"], role).json()
        assert doc["dataType"] == "vector" and doc["layers"][0]["id"] == cid
        (item,) = [lk for lk in doc["links"] if lk["rel"] == "item"]
        assert item["type"] == MVT and item["href"].endswith(
            f"/collections/{cid}/tiles/WebMercatorQuad/{{tileMatrix}}/{{tileRow}}/{{tileCol}}"
        )
        (tj,) = [lk for lk in doc["links"] if lk["rel"] == "describedby"]
        tilejson = get(env, tj["href"], role).json()
        assert tilejson["tilejson"] == "3.0.0" and tilejson["vector_layers"][0]["id"] == cid
        assert tilejson["tiles"][0].endswith(f"/{cid}/tiles/WebMercatorQuad/{{z}}/{{y}}/{{x}}")
        fields = set(tilejson["vector_layers"][0]["fields"])
        queryables = get(env, f"/ogc/collections/{cid}/queryables", role).json()["properties"]
        assert fields == {"id"} | set(queryables) - {"geometry"}
    partner = get(env, "/ogc/collections/incidents", "partner").json()
    assert not [lk for lk in partner["links"] if lk["rel"] == TILESETS]
    tms = get(env, "/ogc/tileMatrixSets/WebMercatorQuad").json()
    assert tms["id"] == "WebMercatorQuad" and len(tms["tileMatrices"]) == 25
    conf = get(env, "/ogc/conformance").json()["conformsTo"]
    assert "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/mvt" in conf


@pytest.mark.parametrize("z", [13, 16])
def test_incident_tiles_hold_the_stored_incidents_where_they_are(env, z):
    row, col = tile_of(*TOWN, z)
    left, bottom, right, top = bounds(z, row, col)
    features = tile(env, "incidents", z, row, col)
    t = env["table"].to_pandas()
    x, y = mercator(t["lon"], t["lat"])
    pad = (right - left) * 65 / 4096  # the buffer, and a unit for rounding
    inside = (x >= left - pad) & (x <= right + pad) & (y >= bottom - pad) & (y <= top + pad)
    core = (x > left + 1) & (x < right - 1) & (y > bottom + 1) & (y < top - 1)
    got = {str(f["properties"]["id"]): f for f in features}
    missing = t[core & ~t["id"].isin(got)]
    assert missing.empty, missing[["id", "lon", "lat", "x", "y"]].to_dict("records")
    assert set(t["id"][core]) <= set(got) <= set(t["id"][inside])
    assert core.sum() > 0
    for i in np.flatnonzero(core):
        f = got[t["id"].iloc[i]]
        assert f["geometry"]["type"] == "Point"
        want = ((x[i] - left) / (right - left) * 4096, (y[i] - bottom) / (top - bottom) * 4096)
        assert np.allclose(f["geometry"]["coordinates"], want, atol=1.0)
        assert f["properties"]["category"] == t["category"].iloc[i]
        assert f["properties"]["occurred_at"] == t["occurred_at"].iloc[i].isoformat()


def test_incident_tiles_are_for_analysts_only(env):
    row, col = tile_of(*TOWN, 14)
    for role in ("partner", "public"):
        r = get(env, f"/ogc/collections/incidents/tiles/WebMercatorQuad/14/{row}/{col}", role)
        assert r.status_code in (401, 403, 404)
        assert r.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize("role", ["analyst", "public"])
@pytest.mark.parametrize("cid", ["wards", "lsoas", "hotspots-gistar"])
def test_area_and_hotspot_tiles_carry_what_the_roles_items_carry(env, role, cid):
    z = 12 if cid == "wards" else 14
    row, col = tile_of(*TOWN, z)
    left, bottom, right, top = bounds(z, row, col)
    features = tile(env, cid, z, row, col, role)
    assert features
    items = get(env, f"/ogc/collections/{cid}/items?limit=10000", role).json()["features"]
    shown = {f["id"]: f for f in items}
    pad = (right - left) * 64 / 4096  # the tile's buffer
    box = shapely.box(left, bottom, right, top)
    padded = shapely.box(left - pad, bottom - pad, right + pad, top + pad)
    crossing, near = set(), set()
    for fid, f in shown.items():
        lonlat = shapely.get_coordinates(shapely.geometry.shape(f["geometry"]))
        outline = shapely.Polygon(np.column_stack(mercator(*lonlat.T))).buffer(0)
        if outline.intersects(box):
            crossing.add(fid)
        if outline.intersects(padded):
            near.add(fid)
    got = {f["properties"]["id"]: f for f in features}
    assert crossing <= set(got) <= near
    for fid, f in got.items():
        want = {
            k: v for k, v in shown[fid]["properties"].items() if isinstance(v, str | int | float)
        }
        props = {k: v for k, v in f["properties"].items() if k != "id"}
        assert props.keys() == want.keys(), (fid, props.keys() ^ want.keys())
        for k, v in want.items():
            assert props[k] == pytest.approx(v), (fid, k)


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("wards/tiles/WebMercatorQuad/12/a/b", 400),
        ("wards/tiles/WebMercatorQuad/3/0/0", 404),  # below the zoom limit
        ("wards/tiles/WebMercatorQuad/12/0/4096", 404),  # outside the matrix
        ("wards/tiles/WorldCRS84Quad/12/0/0", 404),
        ("nope/tiles/WebMercatorQuad/12/0/0", 404),
    ],
)
def test_bad_tile_addresses_are_problems(env, path, status):
    r = get(env, f"/ogc/collections/{path}")
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")


def test_an_empty_tile_is_204(env):
    row, col = tile_of(-40.0, 10.0, 12)  # mid-Atlantic
    for cid in ("wards", "incidents", "hotspots-gistar"):
        r = get(env, f"/ogc/collections/{cid}/tiles/WebMercatorQuad/12/{row}/{col}")
        assert r.status_code == 204 and r.content == b"", cid
