"""OGC API – Features (``/ogc``) on the Gravesham demo, as QGIS and GDAL would use it.

Runs on both stores (``api_env_for`` in conftest). The demo is loaded with
``bicycle-theft`` configured as sensitive (besides synthetic domestic-abuse and
sexual-offences cases), so partners must see fewer incidents than analysts.
Expectations are computed from the stored incident table, boundaries and run
results, not through the OGC code.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import warnings
from contextlib import contextmanager
from datetime import datetime, timedelta
from urllib.parse import parse_qs, quote

import pytest
import shapely
from shapely.geometry import shape
from starlette.exceptions import StarletteDeprecationWarning

from api.disclosure import Disclosure
from api.security import new_api_key, now_utc
from geodata.model import ApiKeyRecord, RunRecord
from geodata.stores import DuckDBStore, IncidentQuery

with warnings.catch_warnings():  # starlette prefers httpx2; httpx is what is installed
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

GEOJSON = "application/geo+json"
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
BNG = "http://www.opengis.net/def/crs/EPSG/0/27700"
MIN_COUNT = 100  # public suppression threshold, high so the demo has suppressed areas
SENSITIVE = "bicycle-theft"  # police.uk category the conftest's demo treats as sensitive
CENTRE = (0.36, 51.43, 0.38, 51.45)  # Gravesham town centre
AREAS = ("wards", "lsoas")


@pytest.fixture(scope="module")
def env(make_api_env, api_kit, tmp_path_factory):
    """This module's copy of the demo (see conftest), served with ``MIN_COUNT``."""
    assert api_kit.sensitive_police == SENSITIVE
    folder = tmp_path_factory.mktemp("ogc")
    with make_api_env(folder, public_min_count=MIN_COUNT) as api:
        keys = {
            "public": {},
            "public-key": api.headers["public"],
            "partner": api.headers["partner"],
            "analyst": api.headers["analyst"],
        }
        yield {
            "client": api.client,
            "store": api.store,
            "keys": keys,
            "table": api.table,
            "kind": api.kind,
            "make_app": api_kit.make_app,
            "sensitive": api_kit.sensitive,
        }


def get(env, url: str, role: str = "analyst", **kw):
    return env["client"].get(url, headers={**env["keys"][role], **kw.pop("headers", {})}, **kw)


def collections(env, role: str) -> dict[str, dict]:
    r = get(env, "/ogc/collections", role)
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    return {c["id"]: c for c in r.json()["collections"]}


def rel(doc: dict, name: str, type_: str | None = None) -> list[dict]:
    return [lk for lk in doc["links"] if lk["rel"] == name and type_ in (None, lk["type"])]


def check_fc(doc: dict) -> None:
    assert doc["type"] == "FeatureCollection"
    assert doc["numberReturned"] == len(doc["features"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", doc["timeStamp"])
    assert rel(doc, "self", GEOJSON) and rel(doc, "collection")
    for f in doc["features"]:
        assert f["type"] == "Feature" and isinstance(f["id"], str)
        assert isinstance(f["properties"], dict)
        geom = shape(f["geometry"])
        assert geom.is_valid or geom.geom_type != "Point"
        x0, y0, x1, y1 = geom.bounds
        assert 0.1 < x0 <= x1 < 0.7 and 51.2 < y0 <= y1 < 51.6  # around Gravesham


def walk(env, url: str, role: str = "analyst") -> tuple[list[str], int, int]:
    """Follow ``next`` links: (ids in order, numberMatched, pages)."""
    ids: list[str] = []
    matched = None
    pages = 0
    while url:
        r = get(env, url, role)
        assert r.status_code == 200, r.text
        assert r.headers["content-type"].startswith(GEOJSON)
        doc = r.json()
        check_fc(doc)
        if matched is None:
            matched = doc["numberMatched"]  # a first page always says how many match
        elif "numberMatched" in doc:  # later pages: exact when given, or left out
            assert doc["numberMatched"] == matched
        ids += [f["id"] for f in doc["features"]]
        nxt = rel(doc, "next", GEOJSON)
        url = nxt[0]["href"] if nxt else None
        pages += 1
    return ids, matched, pages


def expected_ids(env, cid: str, role: str = "analyst", bbox=None) -> set[str]:
    store, table = env["store"], env["table"]
    policy = Disclosure.for_role(role, env["client"].app.state.settings.api)
    if cid == "incidents":
        rows = table.select(["id", "lon", "lat", "sensitive"]).to_pylist()
        return {
            policy.incident_id(r["id"])
            for r in rows
            if (role == "analyst" or not r["sensitive"])
            and (
                bbox is None or (bbox[0] <= r["lon"] <= bbox[2] and bbox[1] <= r["lat"] <= bbox[3])
            )
        }
    if cid in ("wards", "lsoas"):
        areas = store.boundaries(cid[:-1]).to_crs("EPSG:4326")
        if bbox is not None:
            areas = areas[areas.intersects(shapely.box(*bbox))]
        return set(areas["code"])
    run = run_of(env, cid)
    return {
        str(f["id"])
        for f in policy.run_view(run.result)["features"]
        if (bbox is None or shape(f["geometry"]).intersects(shapely.box(*bbox)))
    }


def run_of(env, cid: str) -> RunRecord:
    store = env["store"]
    if cid.startswith("hotspots-"):
        return store.latest_run(cid.removeprefix("hotspots-"))
    return store.get_run(cid)


# -- landing page, conformance, collections ----------------------------------------------------
def test_landing_page_links_lead_to_conformance_collections_and_the_api(env):
    for url in ("/ogc", "/ogc/"):
        r = get(env, url, "public")
        assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    doc = r.json()
    assert doc["title"] and doc["description"]
    assert rel(doc, "self", "application/json") and rel(doc, "alternate", "text/html")
    (desc,) = rel(doc, "service-desc")
    assert desc["type"] == "application/vnd.oai.openapi+json;version=3.0"
    assert "openapi" in get(env, desc["href"], "public").json()
    (docs,) = rel(doc, "service-doc")
    assert get(env, docs["href"], "public").status_code == 200
    (conf,) = rel(doc, "conformance")
    conforms = get(env, conf["href"], "public").json()["conformsTo"]
    base = "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/"
    assert {base + c for c in ("core", "geojson", "html", "oas30")} <= set(conforms)
    (data,) = rel(doc, "data")
    assert get(env, data["href"], "public").json()["collections"]


def test_collections_list_areas_latest_hotspots_and_every_run(env):
    store = env["store"]
    runs = store.list_runs()
    assert len(runs) == 3
    colls = collections(env, "analyst")
    assert {"incidents", "wards", "lsoas", "hotspots-dbscan", "hotspots-gistar"} <= set(colls)
    assert {r.run_id for r in runs} <= set(colls)
    assert len(colls) == 5 + len(runs)
    latest = store.latest_run("dbscan")
    assert latest.run_id in colls["hotspots-dbscan"]["description"]
    for cid, c in colls.items():
        assert c["title"] and c["description"] and c["itemType"] == "feature"
        assert c["crs"] == [CRS84, BNG] and c["storageCrs"] == CRS84
        (bbox,) = c["extent"]["spatial"]["bbox"]
        assert 0.2 < bbox[0] < bbox[2] < 0.6 and 51.2 < bbox[1] < bbox[3] < 51.6, cid
        (interval,) = c["extent"]["temporal"]["interval"]
        assert interval[0].startswith("2022-01-01") and interval[1].startswith("2022-1"), cid
        (items,) = rel(c, "items", GEOJSON)
        assert items["href"].startswith(f"http://testserver/ogc/collections/{cid}/items")
        (own,) = rel(c, "self")
        one = get(env, own["href"])
        assert one.status_code == 200 and one.json()["id"] == cid
        assert one.json()["title"] == c["title"]


def test_run_listing_is_limited_to_the_50_newest_but_older_runs_stay_readable(tmp_path, api_kit):
    path = tmp_path / "runs.duckdb"
    store = DuckDBStore(path)
    t0 = datetime(2024, 1, 1)
    for i in range(52):
        store.save_run(
            RunRecord(
                run_id=f"run-{i:016x}",
                method="kde",
                params={},
                provenance={"window": {"start": None, "end": None, "months": ["2023-04"]}},
                result={
                    "type": "FeatureCollection",
                    "features": [
                        {
                            "type": "Feature",
                            "id": "h1",
                            "geometry": {"type": "Point", "coordinates": [0.37 + i / 1e4, 51.44]},
                            "properties": {"rank": 1, "count": 3 + i},
                        }
                    ],
                },
                created_at=t0 + timedelta(hours=i),
            )
        )
    with TestClient(api_kit.make_app(store)) as client:
        colls = {c["id"]: c for c in client.get("/ogc/collections").json()["collections"]}
        assert set(colls) == {"hotspots-kde"} | {f"run-{i:016x}" for i in range(2, 52)}
        assert colls["run-0000000000000033"]["extent"]["temporal"]["interval"] == [
            ["2023-04-01T00:00:00Z", "2023-05-01T00:00:00Z"]
        ]
        assert "run-0000000000000033" in colls["hotspots-kde"]["description"]
        old = client.get("/ogc/collections/run-0000000000000000/items")
        # a run stored without generalised outlines shows the public nothing
        assert old.status_code == 200 and old.json()["numberMatched"] == 0
        key_id, key, key_hash = new_api_key()
        store.add_api_key(ApiKeyRecord(key_id, "analyst", "analyst", key_hash, now_utc()))
        mine = client.get("/ogc/collections/run-0000000000000000/items", headers={"X-API-Key": key})
        assert mine.json()["numberMatched"] == 1 and mine.json()["features"][0]["id"] == "h1"
    store.close()


# -- items: paging, filters, single features -------------------------------------------------
@pytest.mark.parametrize("role", ["analyst", "partner", "public"])
def test_next_links_visit_every_item_of_every_collection_exactly_once(env, role):
    for cid, c in collections(env, role).items():
        expected = expected_ids(env, cid, role)
        limit = 2500 if cid == "incidents" else max(1, len(expected) // 3 + 1)
        (items,) = rel(c, "items", GEOJSON)
        ids, matched, pages = walk(env, f"{items['href']}&limit={limit}", role)
        assert matched == len(expected) == len(ids), cid
        assert len(set(ids)) == len(ids) and set(ids) == expected, cid
        assert pages == -(-len(expected) // limit) if expected else pages == 1


def test_default_page_is_1000_with_a_cursor_next_link_and_collection_link(env):
    doc = get(env, "/ogc/collections/incidents/items?offset=200").json()
    assert doc["numberReturned"] == 1000 and doc["numberMatched"] == env["table"].num_rows
    (nxt,) = rel(doc, "next", GEOJSON)
    assert "cursor=" in nxt["href"] and "limit=1000" in nxt["href"]
    assert "offset" not in nxt["href"] and not rel(doc, "prev")
    after = get(env, nxt["href"]).json()
    ids = sorted(env["table"]["id"].to_pylist(), key=str.encode)
    assert [f["id"] for f in doc["features"] + after["features"]] == ids[200:2200]
    assert "numberMatched" not in after  # a cursor page does not count again
    (coll,) = rel(doc, "collection")
    assert get(env, coll["href"]).json()["id"] == "incidents"
    last = get(env, f"/ogc/collections/incidents/items?offset={doc['numberMatched'] - 5}")
    assert last.json()["numberReturned"] == 5 and not rel(last.json(), "next")
    assert last.json()["numberMatched"] == doc["numberMatched"]  # known from the page
    past = get(env, f"/ogc/collections/incidents/items?offset={doc['numberMatched'] + 5}")
    assert past.json()["numberReturned"] == 0 and past.json()["numberMatched"] == len(ids)
    box = (0.368, 51.440, 0.372, 51.443)  # fewer than a page: counted by the page itself
    few = get(env, f"/ogc/collections/incidents/items?bbox={','.join(map(str, box))}")
    want = env["store"].count_incidents(IncidentQuery(bbox=box, bbox_lonlat=True))
    assert few.json()["numberMatched"] == few.json()["numberReturned"] == want
    assert 0 < want < 1000


def test_next_links_stay_put_while_incidents_are_imported_before_the_page(tmp_path, api_kit):
    """Keyset paging: a month imported between two pages, whose ids sort before the page
    boundary, shifts nothing (offset paging would serve features twice)."""
    from street_csv import police_csv

    from geodata.ingest import context_for, import_records
    from geodata.readers.police import read_police_bytes

    def load(month: str) -> None:
        data = police_csv(month, 12, prefix="k")
        records = read_police_bytes(data, f"{month}-kent-street.csv")
        import_records(store, [records], context_for(store, None))

    store = DuckDBStore(tmp_path / "keyset.duckdb")
    load("2023-02")
    key_id, key, key_hash = new_api_key()
    store.add_api_key(ApiKeyRecord(key_id, "analyst", "analyst", key_hash, now_utc()))
    february = sorted(store.query_incidents()["id"].to_pylist(), key=str.encode)
    with TestClient(api_kit.make_app(store)) as client:
        headers = {"X-API-Key": key}
        first = client.get("/ogc/collections/incidents/items?limit=5", headers=headers).json()
        assert first["numberMatched"] == 12
        load("2023-01")  # ids before every February id
        assert store.count_incidents() == 24
        assert min(store.query_incidents()["id"].to_pylist()) < february[0]
        seen = [f["id"] for f in first["features"]]
        url = rel(first, "next", GEOJSON)[0]["href"]
        while url:
            doc = client.get(url, headers=headers).json()
            seen += [f["id"] for f in doc["features"]]
            url = (rel(doc, "next", GEOJSON) or [{}])[0].get("href")
    store.close()
    assert seen == february


def test_the_page_size_and_its_maximum_are_declared_to_clients(env):
    spec = get(env, "/openapi.json", "public").json()
    items = spec["paths"]["/ogc/collections/{collection_id}/items"]["get"]
    (limit,) = [p for p in items["parameters"] if p["name"] == "limit"]
    assert limit["schema"]["default"] == 1000 and limit["schema"]["maximum"] == 10000
    for c in collections(env, "analyst").values():
        assert c["limits"] == {"defaultItems": 1000, "maxItems": 10000}
    assert get(env, "/ogc/collections/wards/items?limit=10000").status_code == 200


@pytest.mark.parametrize("role", ["analyst", "partner"])
def test_cursors_are_opaque_sealed_and_tied_to_their_collection(env, role):
    doc = get(env, "/ogc/collections/incidents/items?limit=5", role).json()
    href = rel(doc, "next", GEOJSON)[0]["href"]
    token = re.search(r"cursor=([^&]+)", href).group(1)
    last_raw = sorted(env["table"]["id"].to_pylist(), key=str.encode)
    assert not any(part in token for part in ("police", "kent", "#", "~"))
    assert last_raw[0] not in token
    forged = token[:-2] + ("AA" if token[-2:] != "AA" else "BB")
    for bad in (forged, "nonsense", token + "x"):
        r = get(env, f"/ogc/collections/incidents/items?cursor={bad}", role)
        assert r.status_code == 422 and "cursor" in r.json()["detail"], bad
    other = get(env, f"/ogc/collections/wards/items?cursor={token}", role)
    assert other.status_code == 422


@pytest.mark.parametrize(
    "cid", ["incidents", "wards", "lsoas", "hotspots-dbscan", "hotspots-gistar"]
)
def test_bbox_filter_matches_an_independent_selection(env, cid):
    bbox = ",".join(map(str, CENTRE))
    ids, matched, _ = walk(env, f"/ogc/collections/{cid}/items?bbox={bbox}&limit=1000")
    expected = expected_ids(env, cid, bbox=CENTRE)
    assert 0 < len(expected) < len(expected_ids(env, cid))
    assert set(ids) == expected and matched == len(expected)
    crs = f"&bbox-crs={quote(CRS84)}"
    again = get(env, f"/ogc/collections/{cid}/items?bbox={bbox}{crs}&limit=10000").json()
    assert {f["id"] for f in again["features"]} == expected


@pytest.mark.parametrize(
    ("value", "months"),
    [
        ("2022-03-01T00:00:00Z/2022-05-31T23:59:59Z", {3, 4, 5}),
        ("../2022-02-15", {1, 2}),
        ("2022-10-01/..", {10, 11, 12}),
        ("2022-04-01T00:00:00Z", {4}),
    ],
)
def test_datetime_filters_incidents_and_area_counts(env, value, months):
    rows = env["table"].select(["id", "occurred_at", "ward_code"]).to_pylist()
    chosen = [r for r in rows if r["occurred_at"].month in months]
    assert chosen
    ids, matched, _ = walk(env, f"/ogc/collections/incidents/items?datetime={value}&limit=5000")
    assert set(ids) == {r["id"] for r in chosen} and matched == len(chosen)
    wards = get(env, f"/ogc/collections/wards/items?datetime={value}").json()
    counts = {f["id"]: f["properties"]["count"] for f in wards["features"]}
    for code, n in counts.items():
        assert n == sum(r["ward_code"] == code for r in chosen), code


def test_single_features_match_the_listing(env):
    for cid in collections(env, "analyst"):
        doc = get(env, f"/ogc/collections/{cid}/items?limit=3&offset=1").json()
        for feature in doc["features"]:
            url = f"/ogc/collections/{cid}/items/{quote(feature['id'], safe='')}"
            r = get(env, url)
            assert r.status_code == 200 and r.headers["content-type"].startswith(GEOJSON)
            one = r.json()
            assert one["id"] == feature["id"] and one["geometry"] == feature["geometry"]
            assert one["properties"] == feature["properties"]
            (own,) = rel(one, "self", GEOJSON)
            assert get(env, own["href"]).json()["id"] == feature["id"]
            assert rel(one, "collection") and rel(one, "alternate", "text/html")


@pytest.mark.parametrize(
    "url",
    [
        "/ogc/collections/nope",
        "/ogc/collections/nope/items",
        "/ogc/collections/run-0123456789abcdef/items",
        "/ogc/collections/hotspots-kde",  # no kde run stored
        "/ogc/collections/wards/items/E99999999",
        "/ogc/collections/incidents/items/no-such-id",
        "/ogc/collections/incidents/items/police-uk%2Fkent-police%2F2022-01%23999999",
        "/ogc/collections/hotspots-dbscan/items/nope",
    ],
)
def test_unknown_collections_and_features_are_404_problems(env, url):
    r = get(env, url)
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["status"] == 404 and r.json()["detail"]


@pytest.mark.parametrize(
    ("query", "param"),
    [
        ("limit=0", "limit"),
        ("limit=10001", "limit"),
        ("limit=many", "limit"),
        ("offset=-1", "offset"),
        ("crs=EPSG:4326", "crs"),
        ("bbox-crs=http://www.opengis.net/def/crs/EPSG/0/3857&bbox=0,0,1,1", "bbox-crs"),
        ("cursor=abc", "cursor"),
        ("bbox=1,2,3", "bbox"),
        ("bbox=0.4,51.4,0.3,51.5", "bbox"),
        ("bbox=0.3,51.4,0.4,51.5&bbox-crs=EPSG:3857", "bbox-crs"),
        ("datetime=yesterday", "datetime"),
        ("f=xml", "f"),
    ],
)
def test_bad_parameters_are_422_problems_naming_the_parameter(env, query, param):
    r = get(env, f"/ogc/collections/wards/items?{query}")
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert param in r.json()["detail"]


def test_unknown_parameters_are_ignored(env):
    r = get(env, "/ogc/collections/wards/items?colour=blue&limit=2")
    assert r.status_code == 200 and r.json()["numberReturned"] == 2


# -- HTML ----------------------------------------------------------------------------------------
def assert_self_contained(text: str) -> None:
    assert text.lower().startswith("<!doctype html>")
    assert "<script" not in text.lower() and "<link" not in text.lower()
    assert "@import" not in text and "url(" not in text
    for href in re.findall(r'(?:href|src)="([^"]*)"', text):
        assert href.startswith("http://testserver/"), href


def test_html_pages_show_collections_and_use_no_outside_resources(env):
    colls = collections(env, "analyst")
    pages = ["/ogc", "/ogc/conformance", "/ogc/collections"]
    for cid in colls:
        pages += [f"/ogc/collections/{cid}", f"/ogc/collections/{cid}/items?limit=5"]
    first = get(env, "/ogc/collections/incidents/items?limit=1").json()["features"][0]["id"]
    pages.append(f"/ogc/collections/incidents/items/{quote(first, safe='')}")
    for url in pages:
        r = get(env, url, params={"f": "html"})
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html"), url
        assert_self_contained(r.text)
    listing = get(env, "/ogc/collections?f=html").text
    for c in colls.values():
        assert c["title"].replace("&", "&amp;") in listing
    assert colls["wards"]["title"] in get(env, "/ogc/collections/wards?f=html").text
    assert first in get(env, "/ogc/collections/incidents/items?limit=1&f=html").text


def test_accept_header_chooses_html_unless_f_says_json(env):
    browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
    r = get(env, "/ogc/collections/wards/items", headers={"Accept": browser})
    assert r.headers["content-type"].startswith("text/html") and "Wards" in r.text
    r = get(env, "/ogc/collections/wards/items?f=json", headers={"Accept": browser})
    assert r.headers["content-type"].startswith(GEOJSON)
    r = get(env, "/ogc/collections", headers={"Accept": "application/json, text/html;q=0.5"})
    assert r.headers["content-type"].startswith("application/json")
    assert rel(r.json(), "alternate", "text/html")[0]["href"].endswith("f=html")


# -- roles -------------------------------------------------------------------------------------
def test_public_cannot_see_incidents(env):
    assert "incidents" not in collections(env, "public")
    for url in ("/ogc/collections/incidents", "/ogc/collections/incidents/items"):
        anonymous = get(env, url, "public")
        assert anonymous.status_code == 401
        assert anonymous.headers["content-type"] == "application/problem+json"
        assert get(env, url, "public-key").status_code == 403


def test_partners_never_see_sensitive_incidents_analysts_see_all(env):
    table = env["table"]
    sensitive = [
        r for r in table.select(["id", "category", "sensitive"]).to_pylist() if r["sensitive"]
    ]
    assert sensitive and {r["category"] for r in sensitive} == env["sensitive"]
    ids, matched, _ = walk(env, "/ogc/collections/incidents/items?limit=10000", "partner")
    assert matched == table.num_rows - len(sensitive)
    assert not {r["id"] for r in sensitive} & set(ids)
    for category in env["sensitive"]:
        first = next(r for r in sensitive if r["category"] == category)
        one = quote(first["id"], safe="")
        assert get(env, f"/ogc/collections/incidents/items/{one}", "partner").status_code == 404
        found = get(env, f"/ogc/collections/incidents/items/{one}", "analyst").json()
        assert found["properties"]["sensitive"] is True
        assert found["properties"]["category"] == category
    q = f"/ogc/collections/incidents/items?limit=1&bbox={','.join(map(str, CENTRE))}"
    assert (
        get(env, q, "analyst").json()["numberMatched"]
        > get(env, q, "partner").json()["numberMatched"]
    )


def test_public_items_are_the_partner_view_rounded_with_small_ones_withheld(env):
    suppressed = hidden = 0
    for cid in ("wards", "lsoas", "hotspots-dbscan", "hotspots-gistar"):
        url = f"/ogc/collections/{cid}/items?limit=1000"
        partner = {f["id"]: f["properties"] for f in get(env, url, "partner").json()["features"]}
        public = {f["id"]: f["properties"] for f in get(env, url, "public").json()["features"]}
        if cid in AREAS:
            assert set(public) == set(partner)
        else:
            assert set(public) == {k for k, p in partner.items() if p["count"] >= MIN_COUNT}
            hidden += len(partner) - len(public)
        t = env["table"].to_pandas()
        plain = t[~t["sensitive"]]  # the public's area totals leave sensitive incidents out
        column = "ward_code" if cid == "wards" else "lsoa_code"
        for fid, props in public.items():
            n = int((plain[column] == fid).sum()) if cid in AREAS else partner[fid]["count"]
            small = cid in AREAS and n < MIN_COUNT
            assert props["suppressed"] is small, (cid, fid)
            assert props["count"] == (None if small else 5 * int(n / 5 + 0.5)), (cid, fid)
            suppressed += small
    assert suppressed > 0 and hidden > 0


# -- OpenAPI ---------------------------------------------------------------------------------
def test_routes_have_stable_operation_ids_and_summaries(env):
    spec = get(env, "/openapi.json", "public").json()
    ops = {
        (path, op["operationId"]): op
        for path, item in spec["paths"].items()
        if path.startswith("/ogc")
        for op in item.values()
    }
    assert {oid for _, oid in ops} == {
        "ogc_landing_page",
        "ogc_conformance",
        "ogc_list_collections",
        "ogc_read_collection",
        "ogc_list_items",
        "ogc_read_item",
        "ogc_read_queryables",
        "ogc_list_tile_matrix_sets",
        "ogc_read_tile_matrix_set",
        "ogc_list_tilesets",
        "ogc_read_tileset",
        "ogc_read_tilejson",
        "ogc_read_tile",
    }
    assert all(op["summary"] for op in ops.values())
    items = spec["paths"]["/ogc/collections/{collection_id}/items"]["get"]
    names = {p["name"] for p in items["parameters"]}
    assert {"bbox", "bbox-crs", "crs", "datetime", "limit", "offset", "cursor", "f"} <= names
    assert {"filter", "filter-lang", "filter-crs"} <= names


# -- a real OAPIF client ---------------------------------------------------------------------
# GDAL runs in a child process: pyogrio keeps the GIL while it reads, which would starve a
# server thread in this process. The store stays here (a DuckDB file has one writer).
PYOGRIO_SCRIPT = """
import json, sys, pyogrio
source, out = sys.argv[1], {}
for name, _ in pyogrio.list_layers(source):
    frame = pyogrio.read_dataframe(source, layer=name, PAGE_SIZE=1000)
    out[name] = [len(frame), frame.crs.to_epsg() if frame.crs else None,
                 int(frame.geometry.isna().sum())]
print(json.dumps(out))
"""


def gdal_command(source: str) -> list[str] | None:
    """How to list and read every layer of ``source`` with GDAL's OAPIF driver, if we can."""
    try:
        import pyogrio

        if "OAPIF" in pyogrio.list_drivers():
            return [sys.executable, "-c", PYOGRIO_SCRIPT, source]
    except ImportError:
        pass
    if shutil.which("ogrinfo"):
        return ["ogrinfo", "-ro", "-al", "-so", source]
    return None


def read_with_gdal(source: str, env: dict[str, str]) -> dict[str, int]:
    """{layer: feature count} as GDAL sees it."""
    command = gdal_command(source)
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    if command[0] == "ogrinfo":
        found = re.findall(r"Layer name: (\S+).*?Feature Count: (\d+)", done.stdout, re.S)
        return {name: int(n) for name, n in found}
    layers = json.loads(done.stdout.strip().splitlines()[-1])
    for name, (_, epsg, missing) in layers.items():
        assert epsg in (4326, None) and missing == 0, name
    return {name: n for name, (n, _, _) in layers.items()}


@contextmanager
def serve(app):
    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", ws="none", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(20)
        sock.close()


def test_gdal_oapif_driver_lists_and_reads_every_collection(env):
    # pyogrio (a dependency) bundles a GDAL with the OAPIF driver: never a skip
    assert gdal_command("OAPIF:x") is not None, "no GDAL OAPIF driver (pyogrio, ogrinfo)"
    expected = {cid: len(expected_ids(env, cid)) for cid in collections(env, "analyst")}
    public = {cid: len(expected_ids(env, cid, "public")) for cid in collections(env, "public")}
    app = env["make_app"](env["store"], env["kind"], public_min_count=MIN_COUNT)
    base = {**os.environ, "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}
    # GDAL's OAPIF driver sends its own Accept header, which replaces GDAL_HTTP_HEADERS;
    # a bearer token gets through (the service takes an API key as a bearer token).
    analyst = {
        **base,
        "GDAL_HTTP_AUTH": "BEARER",
        "GDAL_HTTP_BEARER": env["keys"]["analyst"]["X-API-Key"],
    }
    with serve(app) as url:
        assert read_with_gdal(f"OAPIF:{url}/ogc", analyst) == expected
        assert read_with_gdal(f"OAPIF:{url}/ogc", base) == public
    assert "incidents" in expected and "incidents" not in public


BNG_SCRIPT = """
import json, sys, pyogrio
source, out = sys.argv[1], {}
for name, _ in pyogrio.list_layers(source):
    frame = pyogrio.read_dataframe(source, layer=name, CRS="EPSG:27700")
    key = "id" if "id" in frame.columns else frame.columns[0]
    out[name] = [frame.crs.to_epsg(), frame[key].astype(str).tolist(),
                 [g.wkb_hex if g is not None else None for g in frame.geometry]]
print(json.dumps(out))
"""


def recording_items(app, seen: list):
    """``app``, noting (path, query) of each ``…/items`` request in ``seen``."""

    async def wrapped(scope, receive, send):
        if scope["type"] == "http" and scope["path"].endswith("/items"):
            seen.append((scope["path"], parse_qs(scope["query_string"].decode())))
        await app(scope, receive, send)

    return wrapped


def test_gdal_reads_every_collection_in_british_national_grid_to_the_millimetre(env):
    """GDAL's OAPIF driver asks for EPSG:27700 (Part 2): incident points must be the store's
    x/y to 1 mm, areas the stored boundaries, hotspots their CRS84 outlines projected."""
    import pyogrio

    assert "OAPIF" in pyogrio.list_drivers(), "pyogrio's bundled GDAL lost its OAPIF driver"
    from geodata.crs import transformer

    app = env["make_app"](env["store"], env["kind"], public_min_count=MIN_COUNT)
    items: list[tuple[str, dict]] = []  # every items request GDAL made
    app = recording_items(app, items)
    base = {**os.environ, "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}
    analyst = {
        **base,
        "GDAL_HTTP_AUTH": "BEARER",
        "GDAL_HTTP_BEARER": env["keys"]["analyst"]["X-API-Key"],
    }
    with serve(app) as url:
        command = [sys.executable, "-c", BNG_SCRIPT, f"OAPIF:{url}/ogc"]
        done = subprocess.run(command, capture_output=True, text=True, timeout=600, env=analyst)
    assert done.returncode == 0, done.stderr[-3000:]
    layers = json.loads(done.stdout.strip().splitlines()[-1])
    assert set(layers) == set(collections(env, "analyst"))
    # the server wrote the coordinates in EPSG:27700 (GDAL did not reproject CRS84 itself)
    # the server wrote the coordinates in EPSG:27700 (GDAL did not reproject CRS84 itself):
    # besides its schema probes (``limit=20``), every page GDAL read asked for them
    pages = [(path, q) for path, q in items if q.get("limit") != ["20"]]
    assert all(q.get("crs") == [BNG] for _, q in pages), pages
    assert {path.split("/")[-2] for path, _ in pages} == set(layers)
    to_bng = transformer("EPSG:4326", "EPSG:27700")
    for name, (epsg, ids, wkbs) in layers.items():
        assert epsg == 27700, name
        got = dict(zip(ids, (shapely.from_wkb(w) for w in wkbs), strict=True))
        if name == "incidents":
            rows = env["table"].select(["id", "x", "y"]).to_pylist()
            assert set(got) == {r["id"] for r in rows}
            for r in rows:
                point = got[r["id"]]
                assert abs(point.x - r["x"]) < 1e-3 and abs(point.y - r["y"]) < 1e-3, r["id"]
            continue
        if name in AREAS:
            want = dict(zip(*[env["store"].boundaries(name[:-1])[c] for c in ("code", "geometry")]))
        else:
            features = Disclosure.for_role(
                "analyst", env["client"].app.state.settings.api
            ).run_view(run_of(env, name).result)["features"]
            want = {
                str(f["id"]): shapely.transform(
                    shape(f["geometry"]),
                    lambda c: __import__("numpy").column_stack(to_bng.transform(c[:, 0], c[:, 1])),
                )
                for f in features
            }
        assert set(got) == set(want), name
        for fid, geom in want.items():
            assert got[fid].hausdorff_distance(geom) < 1e-3, (name, fid)


# -- titles, queryables, CRS -----------------------------------------------------------------
def test_hotspot_layers_are_titled_by_categories_method_and_period(env):
    colls = collections(env, "analyst")
    runs = [r for r in env["store"].list_runs() if r.run_id in colls]
    assert runs
    titles = {colls[r.run_id]["title"] for r in runs}
    assert len(titles) == len(runs)  # layers people can tell apart
    for run in runs:
        title = colls[run.run_id]["title"]
        cats = run.provenance.get("categories") or []
        label = {"anti-social-behaviour": "ASB"}.get(cats[0], "") if cats else "All incidents"
        assert label in title, title
        method = {"dbscan": "DBSCAN", "gistar": "Gi*", "hexes": "H3", "kde": "kernel"}
        assert method[run.method] in title, title
        assert re.search(r"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[– ]", title), title
        assert f"{run.created_at:%-d %b %Y}" in title, title
        (interval,) = colls[run.run_id]["extent"]["temporal"]["interval"]
        start = datetime.fromisoformat(interval[0].rstrip("Z"))
        assert f"{start:%b}" in title.split("—")[1], title
        latest = colls[f"hotspots-{run.method}"]
        if env["store"].latest_run(run.method).run_id == run.run_id:
            assert latest["title"].startswith("Latest: ") and title.startswith(latest["title"][8:])


def test_period_and_category_texts():
    from api.ogc.collections import category_text, period_text

    assert period_text(["2024-01-01T00:00:00Z", "2024-05-01T00:00:00Z"]) == "Jan–Apr 2024"
    assert period_text(["2023-11-01T00:00:00Z", "2024-03-01T00:00:00Z"]) == "Nov 2023–Feb 2024"
    assert period_text(["2024-03-01T00:00:00Z", "2024-04-01T00:00:00Z"]) == "Mar 2024"
    assert period_text(["2024-03-05T00:00:00Z", "2024-03-20T12:00:00Z"]) == "Mar 2024"
    assert period_text(None) == "all dates"
    assert category_text(["anti-social-behaviour"]) == "ASB"
    assert category_text(["burglary", "robbery"]) == "Burglary and Robbery"
    assert (
        category_text(["burglary", "robbery", "shoplifting", "drugs"])
        == "Burglary, Robbery +2 more"
    )


def test_run_extents_bound_exactly_the_features_each_role_is_shown(env):
    for role in ("analyst", "partner", "public"):
        for cid, c in collections(env, role).items():
            if cid in AREAS or cid == "incidents":
                continue
            doc = get(env, f"/ogc/collections/{cid}/items?limit=10000", role).json()
            if not doc["features"]:
                continue
            bounds = shapely.total_bounds([shape(f["geometry"]) for f in doc["features"]])
            (bbox,) = c["extent"]["spatial"]["bbox"]
            assert bbox == pytest.approx(list(bounds), abs=1e-9), (role, cid)


def test_queryables_publish_the_properties_each_role_gets(env):
    for role in ("analyst", "partner", "public"):
        for cid, c in collections(env, role).items():
            (lk,) = rel(c, "http://www.opengis.net/def/rel/ogc/1.0/queryables")
            r = get(env, lk["href"], role)
            assert r.status_code == 200 and r.headers["content-type"] == "application/schema+json"
            doc = r.json()
            assert doc["type"] == "object" and doc["$id"].endswith(f"/collections/{cid}/queryables")
            props = doc["properties"]
            assert props.pop("geometry")["x-ogc-role"] == "primary-geometry"
            items = get(env, f"/ogc/collections/{cid}/items?limit=10000", role).json()
            shown = set().union(*[f["properties"] for f in items["features"]] or [set()])
            assert set(props) <= shown, (role, cid, set(props) - shown)
            if cid != "incidents":
                for f in items["features"]:
                    for k, v in f["properties"].items():
                        if k in props and v is not None:
                            kind = props[k]["type"]
                            assert kind != "string" or isinstance(v, str), (cid, k)
    assert get(env, "/ogc/collections/incidents/queryables", "public").status_code in (401, 403)


def test_incidents_in_british_national_grid_are_the_stored_metres(env):
    rows = {r["id"]: r for r in env["table"].select(["id", "x", "y"]).to_pylist()}
    url = f"/ogc/collections/incidents/items?limit=10000&crs={quote(BNG)}"
    r = get(env, url)
    assert r.status_code == 200 and r.headers["content-crs"] == f"<{BNG}>"
    for f in r.json()["features"]:
        x, y = f["geometry"]["coordinates"]
        assert (x, y) == (rows[f["id"]]["x"], rows[f["id"]]["y"])
    one = r.json()["features"][0]
    single = get(
        env, f"/ogc/collections/incidents/items/{quote(one['id'], safe='')}?crs=EPSG:27700"
    )
    assert single.json()["geometry"]["coordinates"] == pytest.approx(
        one["geometry"]["coordinates"], abs=1e-3
    )
    assert get(env, "/ogc/collections/incidents/items?limit=1").headers["content-crs"] == (
        f"<{CRS84}>"
    )


@pytest.mark.parametrize("cid", ["incidents", "wards", "hotspots-gistar"])
def test_a_bbox_in_british_national_grid_selects_what_it_covers(env, cid):
    from geodata.crs import transformer

    x0, y0, x1, y1 = 563_000.0, 173_000.0, 566_000.0, 175_500.0
    url = f"/ogc/collections/{cid}/items?limit=10000&bbox={x0},{y0},{x1},{y1}&bbox-crs={quote(BNG)}"
    got = {f["id"] for f in get(env, url).json()["features"]}
    to_lonlat = transformer("EPSG:27700", "EPSG:4326")
    box = shapely.transform(
        shapely.segmentize(shapely.box(x0, y0, x1, y1), 50),
        lambda c: __import__("numpy").column_stack(to_lonlat.transform(c[:, 0], c[:, 1])),
    )
    if cid == "incidents":
        rows = env["table"].select(["id", "x", "y"]).to_pylist()
        want = {r["id"] for r in rows if x0 <= r["x"] <= x1 and y0 <= r["y"] <= y1}
    else:
        want = {i for i in expected_ids(env, cid, bbox=box.bounds) if True}
        full = get(env, f"/ogc/collections/{cid}/items?limit=10000").json()["features"]
        want = {f["id"] for f in full if shape(f["geometry"]).intersects(box)}
    assert want and got == want
    assert len(want) < len(expected_ids(env, cid))


def test_conformance_declares_part_2_crs(env):
    conf = get(env, "/ogc/conformance").json()["conformsTo"]
    assert "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs" in conf
    assert collections(env, "public") and get(env, "/ogc/collections").json()["crs"] == [CRS84, BNG]
