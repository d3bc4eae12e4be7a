"""CQL2 filters (OGC API – Features Part 3) on ``/ogc`` items, on both stores.

Uses the demo of ``test_ogc`` (its ``env`` fixture). Expectations are computed from
the stored incident table, boundaries and the disclosure policy's run views, not
through the OGC code.
"""

from __future__ import annotations

import json
from datetime import datetime
from datetime import datetime as D
from urllib.parse import quote

import pytest
import shapely
from shapely.geometry import shape
from test_ogc import BNG, MIN_COUNT, SENSITIVE, get, run_of, walk

from api.disclosure import Disclosure


@pytest.fixture(scope="module")
def env(make_api_env, api_kit, tmp_path_factory):
    """This module's copy of the demo, as ``test_ogc`` serves it."""
    with make_api_env(tmp_path_factory.mktemp("ogc-filters"), public_min_count=MIN_COUNT) as api:
        keys = {"public": {}, "partner": api.headers["partner"], "analyst": api.headers["analyst"]}
        yield {"client": api.client, "store": api.store, "keys": keys, "table": api.table}


ITEMS = "/ogc/collections/{}/items?limit=10000&filter={}"


def items(env, cid: str, text: str, role: str = "analyst", **params) -> tuple[set[str], int]:
    """Ids of every feature the filter selects (following next links), numberMatched."""
    extra = "".join(f"&{k.replace('_', '-')}={quote(v)}" for k, v in params.items())
    ids, matched, _ = walk(env, ITEMS.format(cid, quote(text)) + extra, role)
    assert len(ids) == len(set(ids)) == matched
    return set(ids), matched


def rows(env) -> list[dict]:
    return env["table"].to_pylist()


def ids_where(env, keep, role: str = "analyst") -> set[str]:
    policy = Disclosure.for_role(role, env["client"].app.state.settings.api)
    return {
        policy.incident_id(r["id"])
        for r in rows(env)
        if (role == "analyst" or not r["sensitive"]) and keep(r)
    }


def test_conformance_declares_filtering_and_collections_link_queryables(env):
    conf = get(env, "/ogc/conformance").json()["conformsTo"]
    for c in ("filter", "features-filter", "queryables"):
        assert f"http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/{c}" in conf
    for c in ("cql2-text", "cql2-json", "basic-spatial-functions", "temporal-functions"):
        assert f"http://www.opengis.net/spec/cql2/1.0/conf/{c}" in conf


@pytest.mark.parametrize("role", ["analyst", "partner"])
def test_text_and_json_comparisons_select_what_the_table_holds(env, role):
    text = "category = 'burglary' AND occurred_at >= TIMESTAMP('2022-06-01T00:00:00Z')"
    expected = ids_where(
        env,
        lambda r: r["category"] == "burglary" and r["occurred_at"] >= datetime(2022, 6, 1),
        role,
    )
    assert len(expected) > 0
    got, matched = items(env, "incidents", text, role)
    assert got == expected and matched == len(expected)
    as_json = json.dumps(
        {
            "op": "and",
            "args": [
                {"op": "=", "args": [{"property": "category"}, "burglary"]},
                {
                    "op": ">=",
                    "args": [{"property": "occurred_at"}, {"timestamp": "2022-06-01T00:00:00Z"}],
                },
            ],
        }
    )
    assert items(env, "incidents", as_json, role, filter_lang="cql2-json")[0] == expected


def test_in_like_between_not_or_and_is_null(env):
    cats = ("burglary", "robbery")
    got, _ = items(env, "incidents", f"category IN ('{cats[0]}', '{cats[1]}')")
    assert got == ids_where(env, lambda r: r["category"] in cats)
    got, _ = items(env, "incidents", "location LIKE 'On or near High%'")
    want = ids_where(env, lambda r: (r["location"] or "").startswith("On or near High"))
    assert got == want and want
    got, _ = items(env, "incidents", "NOT (category = 'burglary' OR category = 'shoplifting')")
    assert got == ids_where(env, lambda r: r["category"] not in ("burglary", "shoplifting"))
    text = (
        "occurred_at BETWEEN TIMESTAMP('2022-03-01T00:00:00Z') "
        "AND TIMESTAMP('2022-04-01T00:00:00Z')"
    )
    got, _ = items(env, "incidents", text)
    assert got == ids_where(
        env, lambda r: datetime(2022, 3, 1) <= r["occurred_at"] <= datetime(2022, 4, 1)
    )
    got, _ = items(env, "incidents", "ward_code IS NULL")
    assert got == ids_where(env, lambda r: r["ward_code"] is None)


@pytest.mark.parametrize(
    ("text", "keep"),
    [
        ("T_BEFORE(occurred_at, TIMESTAMP('2022-03-01T00:00:00Z'))", lambda w: w < D(2022, 3, 1)),
        ("T_AFTER(occurred_at, DATE('2022-10-01'))", lambda w: w >= D(2022, 10, 2)),
        (
            "T_INTERSECTS(occurred_at, INTERVAL('2022-04-01', '2022-05-31'))",
            lambda w: D(2022, 4, 1) <= w < D(2022, 6, 1),
        ),
        ("T_INTERSECTS(occurred_at, INTERVAL('..', '2022-01-31'))", lambda w: w < D(2022, 2, 1)),
        (
            "T_INTERSECTS(occurred_at, INTERVAL('2022-02-01', '2022-03-01'))",
            lambda w: D(2022, 2, 1) <= w < D(2022, 3, 2),
        ),
        (
            "T_INTERSECTS(occurred_at, DATE('2022-03-01'))",
            lambda w: w.date() == D(2022, 3, 1).date(),
        ),
    ],
)
def test_temporal_operators_on_whole_days(env, text, keep):
    """A DATE is a whole day: its end is the day's last instant."""
    expected = ids_where(env, lambda r: keep(r["occurred_at"]))
    assert expected
    assert items(env, "incidents", text)[0] == expected


def test_s_intersects_in_british_national_grid_selects_the_stored_metres(env):
    xmin, ymin = 564_500.0, 173_500.0
    poly = shapely.Polygon([(xmin, ymin), (xmin + 1500, ymin), (xmin + 800, ymin + 1200)])
    text = f"S_INTERSECTS(geometry, {poly.wkt}) AND category <> 'burglary'"
    got, _ = items(env, "incidents", text, filter_crs=BNG)
    want = ids_where(
        env,
        lambda r: r["category"] != "burglary" and poly.intersects(shapely.Point(r["x"], r["y"])),
    )
    assert got == want and len(want) > 0
    as_json = json.dumps(
        {"op": "s_intersects", "args": [{"property": "geometry"}, shapely.geometry.mapping(poly)]}
    )
    got, _ = items(env, "incidents", as_json, filter_lang="cql2-json", filter_crs=BNG)
    assert got == ids_where(env, lambda r: poly.intersects(shapely.Point(r["x"], r["y"])))


@pytest.mark.parametrize("role", ["analyst", "public"])
def test_areas_filter_on_counts_and_crs84_geometry(env, role):
    doc = get(env, "/ogc/collections/wards/items?limit=10000", role).json()
    counts = sorted(f["properties"]["count"] for f in doc["features"] if f["properties"]["count"])
    cut = counts[len(counts) // 2]
    got, _ = items(env, "wards", f"count >= {cut}", role)
    assert got == {f["id"] for f in doc["features"] if (f["properties"]["count"] or -1) >= cut}
    box = (0.36, 51.43, 0.38, 51.45)
    got, _ = items(env, "wards", f"S_INTERSECTS(geometry, BBOX({','.join(map(str, box))}))", role)
    areas = env["store"].boundaries("ward").to_crs("EPSG:4326")
    want = set(areas[areas.intersects(shapely.box(*box))]["code"])
    assert got == want and 0 < len(want) < len(areas)


def test_run_features_filter_on_their_published_properties(env):
    run = run_of(env, "hotspots-gistar")
    policy = Disclosure.for_role("analyst", env["client"].app.state.settings.api)
    features = policy.run_view(run.result)["features"]
    props = get(env, "/ogc/collections/hotspots-gistar/queryables").json()["properties"]
    name = next(k for k, v in props.items() if v.get("type") in ("number", "integer"))
    values = sorted(
        f["properties"][name] for f in features if f["properties"].get(name) is not None
    )
    cut = values[len(values) // 2]
    got, matched = items(env, "hotspots-gistar", f"{name} > {cut}")
    want = {
        str(f["id"])
        for f in features
        if (f["properties"].get(name) is not None and f["properties"][name] > cut)
    }
    assert got == want and matched == len(want) and 0 < len(want) < len(features)
    geom = shape(features[0]["geometry"]).representative_point()
    got, _ = items(env, "hotspots-gistar", f"S_INTERSECTS(geometry, {geom.wkt})")
    assert str(features[0]["id"]) in got


def test_next_links_keep_the_filter(env):
    text = "category = 'anti-social-behaviour'"
    ids, matched, pages = walk(
        env, f"/ogc/collections/incidents/items?limit=100&filter={quote(text)}"
    )
    want = ids_where(env, lambda r: r["category"] == "anti-social-behaviour")
    assert pages > 1 and set(ids) == want and matched == len(want) == len(ids)


@pytest.mark.parametrize(
    ("cid", "query", "param", "says"),
    [
        ("incidents", "filter=category%20%3D", "filter", "cql2-text"),
        ("incidents", "filter=colour%20%3D%20'red'", "filter", "colour"),
        ("incidents", "filter=sensitive%20%3D%20true", "filter", "sensitive"),
        ("incidents", "filter=category%20%3D%203", "filter", "string"),
        ("incidents", "filter=S_WITHIN(geometry,POINT(0%200))", "filter", "s_within"),
        ("incidents", "filter=CASEI(category)%20%3D%20'x'", "filter", "property"),
        (
            "incidents",
            "filter=S_INTERSECTS(geometry,POINT(0%200))%20OR%20category%3D'x'",
            "filter",
            "AND",
        ),
        ("incidents", "filter=occurred_at%20%3E%20TIMESTAMP('nope')", "filter", "RFC 3339"),
        ("incidents", "filter=%7B%22op%22%3A1%7D&filter-lang=cql2-json", "filter", "cql2-json"),
        ("incidents", "filter=x&filter-lang=ecql", "filter-lang", "cql2-text"),
        (
            "wards",
            "filter=S_INTERSECTS(geometry,POINT(0%200))&filter-crs=EPSG:3857",
            "filter-crs",
            "27700",
        ),
        ("wards", "filter=population_secret%20%3E%201", "filter", "count"),
        # nesting that would overflow the parser's stack and crash the process
        ("wards", "filter=" + quote("(" * 1000 + "count = 1" + ")" * 1000), "filter", "nested"),
        ("wards", "filter=" + quote("NOT " * 1000 + "count = 1"), "filter", "nested"),
        ("wards", "filter=" + quote("count = " + "- " * 1000 + "1"), "filter", "nested"),
        ("wards", "filter=" + quote("[" * 1000) + "&filter-lang=cql2-json", "filter", "nested"),
    ],
)
def test_bad_filters_are_400_problems_naming_the_parameter(env, cid, query, param, says):
    r = get(env, f"/ogc/collections/{cid}/items?{query}")
    assert r.status_code == (422 if param == "filter-crs" else 400), r.text  # crs: as Part 2
    assert r.headers["content-type"].startswith("application/problem+json")
    doc = r.json()
    assert param in doc["detail"] and says.lower() in doc["detail"].lower(), doc["detail"]


def test_a_filter_longer_than_a_url_may_be_is_a_414_before_any_parsing(env):
    r = get(
        env, "/ogc/collections/wards/items?filter=" + quote("(" * 3000 + "count = 1" + ")" * 3000)
    )
    assert r.status_code == 414 and r.json()["type"].endswith("/uri-too-long"), r.text


def test_partners_filtering_for_sensitive_incidents_get_nothing(env):
    got, matched = items(env, "incidents", f"category = '{SENSITIVE}'", "partner")
    assert got == set() and matched == 0
    assert len(items(env, "incidents", f"category = '{SENSITIVE}'")[0]) > 0  # analysts do
