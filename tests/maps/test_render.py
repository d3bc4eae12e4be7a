"""The hotspot map rendered to HTML: fragments, role rules, offline assets, routes and CLI."""

from __future__ import annotations

import json
import re
import warnings

import folium
import numpy as np
import pandas as pd
import pytest
from starlette.exceptions import StarletteDeprecationWarning
from typer.testing import CliRunner

from api.app import create_app
from api.cli import app as cli_app
from api.settings import ApiSettings, Settings
from api.usecases.maps import run_map_page
from geodata.settings import StoreSettings
from geodata.stores import IncidentQuery
from maps import style
from maps.assets import missing_files, read_manifest
from maps.render import MapOptions, aggregate_points, build_map, render_html, run_map_html
from maps.settings import MapSettings

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

SECRET = "x" * 40
SENSITIVE = "bicycle-theft"  # as configured in conftest.py
OUTSIDE = re.compile(r"""<(?:script|link)[^>]+(?:src|href)=["']?(?:https?:)?//""", re.I)


def hotspot_data(page: str) -> tuple[dict, dict]:
    """(popup meta, hotspot FeatureCollection) as sent to the browser."""
    m = re.search(r"HS\.meta = (.*);\n\s*var \w+ = L\.geoJSON\((.*), \{\n", page)
    assert m, "no hotspot layer in the page"
    return json.loads(m.group(1)), json.loads(m.group(2))


def points_payload(page: str) -> dict | None:
    """The incident points sent to the browser, or None when the page has none."""
    m = re.search(r"var data = (\{\"pts\".*?\});\n", page)
    return json.loads(m.group(1)) if m else None


def test_vendor_assets_are_fetched_and_pinned():
    assert missing_files() == [], "run scripts/fetch-assets.sh"
    names = {p.name: p.version for p in read_manifest()}
    assert names["leaflet"] == "1.9.4"
    assert {"leaflet.markercluster", "leaflet.fullscreen", "leaflet.locatecontrol"} <= set(names)


def test_analyst_page_has_every_layer_legend_popup_and_no_outside_asset(demo):
    run = demo["runs"]["gistar"]
    page = run_map_page(demo["store"], run, "analyst", 5, "Gravesham <test>")
    assert not OUTSIDE.search(page), OUTSIDE.search(page).group(0)
    assert "cdn.jsdelivr" not in page and "cdnjs" not in page and "jquery" not in page.lower()
    assert '<script src="/static/vendor/leaflet/dist/leaflet.js"></script>' in page
    assert 'href="/static/vendor/leaflet.markercluster/dist/MarkerCluster.css"' in page
    assert '<meta name="viewport"' in page and '<html lang="en">' in page
    assert "<title>Gravesham &lt;test&gt;</title>" in page
    # layers in the layer control
    for name in (
        "Gi* hot spots (H3 hexagons)",
        "Wards: incidents per 1,000 residents",
        "LSOAs: incidents per 1,000 residents",
        "Incidents (analysts only)",
        "Base map",
    ):
        assert json.dumps(name)[1:-1] in page or name in page, name
    # legend: every Gi* class in the RdBu palette, and the rate classes
    for colour, label in style.GI_CLASSES.values():
        assert colour in page and label in page
    assert "Areas: incidents per 1,000 residents" in page
    # popups are made in the browser from compact properties: check what they get
    meta, hot = hotspot_data(page)
    assert len(hot["features"]) == len(run.result["features"])
    top = run.result["features"][0]["properties"]
    sent = hot["features"][0]["properties"]
    assert (sent["r"], sent["n"], sent["g"]) == (1, top["count"], top["gi_bin"])
    assert sent["tz"] == pytest.approx(top["trend_z"], abs=0.01)
    assert sent["f"] == style.GI_CLASSES[top["gi_bin"]][0]
    assert sent["s"] == top["top_locations"] and "Chase Square" in sent["s"][0][0]
    months = run.provenance["window"]["months"]
    assert meta["months"] == months
    assert sent["m"] == [top["profile"]["monthly"].get(m) for m in months]
    assert "police.uk data is dated to the month only" in meta["timesNote"]
    assert [meta["slugs"][i] for i in sent["c"]] == sorted(top["categories"])
    for fragment in ("HS.popup = function", "hs-spark", "Top streets:", "Trend: "):
        assert fragment in page, fragment
    # controls: fullscreen, locate, scale, month slider, categories, tile notice
    for fragment in (
        "L.control.fullscreen",
        "L.control.locate",
        "L.control.scale",
        'type=\\"range\\"',
        "hs-catctl",
        "tileerror",
    ):
        assert fragment in page, fragment


def test_points_are_for_analysts_only_and_aggregated(demo):
    store, run = demo["store"], demo["runs"]["gistar"]
    table = store.query_incidents(
        IncidentQuery(include_sensitive=True, columns=["category", "lon", "lat"])
    ).to_pandas()
    analyst = points_payload(run_map_page(store, run, "analyst", 5, "t"))
    assert analyst is not None
    # every incident is in the points, summed by place
    assert sum(r[3] for r in analyst["pts"]) == len(table)
    assert len(analyst["pts"]) < len(table) / 2
    assert SENSITIVE in analyst["cats"]  # analysts see sensitive points
    for role in ("partner", "public"):
        page = run_map_page(store, run, role, 5, "t")
        assert points_payload(page) is None, role
        assert "Incidents (analysts only)" not in page
        assert "markerClusterGroup(" not in page


def test_build_map_ignores_points_below_analyst():
    fc = {"type": "FeatureCollection", "features": []}
    pts = pd.DataFrame({"lon": [0.37], "lat": [51.44], "category": [SENSITIVE]})
    for role in ("public", "partner"):
        page = run_map_html(fc, "gistar", MapOptions(role=role), incidents=pts)
        assert points_payload(page) is None and "51.44" not in page
    page = run_map_html(fc, "gistar", MapOptions(role="analyst"), incidents=pts)
    assert points_payload(page)["pts"] == [[51.44, 0.37, 0, 1]]


def test_public_page_suppresses_small_counts(demo):
    store, run = demo["store"], demo["runs"]["dbscan"]
    smallest = min(f["properties"]["count"] for f in run.result["features"])
    page = run_map_page(store, run, "public", smallest + 1, "t")
    meta, hot = hotspot_data(page)
    counts = [f["properties"]["n"] for f in hot["features"]]
    # hotspots below the threshold are withheld; the rest rounded to the nearest 5
    assert counts and all(c is not None and c % 5 == 0 for c in counts)
    assert len(counts) < len(run.result["features"])
    assert meta["minCount"] == smallest + 1
    assert f"Counts below {smallest + 1} are not shown." in page
    # area rates suppressed too when min_count is above every ward's count
    huge = run_map_page(store, run, "public", 10**9, "t")
    assert "Too few incidents to show." in huge
    assert "per 1,000 residents (95" not in huge


def test_clusters_are_labelled_by_rank_and_popups_escape_text():
    feats = []
    for rank in (1, 2, 30):
        feats.append(
            {
                "type": "Feature",
                "id": f"c{rank}",
                "geometry": {
                    "type": "Polygon",
                    "coordinates": [[[0.36, 51.44], [0.37, 51.44], [0.37, 51.45], [0.36, 51.44]]],
                },
                "properties": {
                    "rank": rank,
                    "count": 10 * rank,
                    "harm": 5.0,
                    "trend_z": -2.5,
                    "categories": {"burglary": 3, "drugs": 7},
                    "top_locations": [["<script>alert(1)</script>", 4]],
                    "centroid_lon": 0.365,
                    "centroid_lat": 51.445,
                },
            }
        )
    fc = {"type": "FeatureCollection", "features": feats}
    page = run_map_html(fc, "dbscan", MapOptions(role="partner"))
    assert "<script>alert(1)" not in page and "\\u003cscript>alert(1)" in page
    _, hot = hotspot_data(page)
    labels = [f["properties"].get("label") for f in hot["features"]]
    assert labels == [1, 2, None]  # ranks above LABELLED_RANKS get no label
    assert [f["properties"]["c"] for f in hot["features"]] == [[0, 1]] * 3
    # no monthly series: no slider, and the legend says so
    assert "the month slider is off" in page and 'type=\\"range\\"' not in page


def test_inline_page_needs_no_server_and_refuses_unknown_cdn_plugins():
    fc = {"type": "FeatureCollection", "features": []}
    page = run_map_html(fc, "kde", MapOptions(assets="inline"))
    assert "<script src=" not in page and '<link rel="stylesheet" href' not in page
    assert "L.version" in page or "Leaflet" in page
    assert "images/layers.png" not in page and "data:image/png;base64," in page
    m = build_map(fc, "kde", MapOptions())
    folium.plugins.Draw().add_to(m)
    with pytest.raises(ValueError, match="not among the map's offline assets"):
        render_html(m)


def test_aggregate_points_keeps_counts_and_respects_the_cap():
    rng = np.random.default_rng(1)
    n = 30_000
    frame = pd.DataFrame(
        {
            "lon": 0.37 + rng.normal(0, 0.02, n),
            "lat": 51.44 + rng.normal(0, 0.01, n),
            "category": rng.choice(["burglary", "drugs"], n),
        }
    )
    out = aggregate_points(frame, max_points=2_000)
    assert len(out) <= 2_000 and out["count"].sum() == n
    assert (
        out.groupby("category")["count"].sum().to_dict()
        == frame["category"].value_counts().to_dict()
    )
    same = aggregate_points(frame.iloc[:100], max_points=2_000)
    assert len(same) == 100  # distinct places stay apart when they fit
    # places closer than the coarsest grid needed are merged, counts kept
    snap = pd.DataFrame({"lon": [0.1, 0.100001, 0.2], "lat": [51.0] * 3, "category": ["a"] * 3})
    assert aggregate_points(snap, max_points=2)["count"].tolist() == [2, 1]


def test_map_routes_keep_their_access_rules_and_serve_assets(demo):
    store, run = demo["store"], demo["runs"]["gistar"]
    settings = Settings(
        ApiSettings(secret_key=SECRET, public_min_count=5),
        StoreSettings(duckdb_path=demo["path"]),
        MapSettings(tile_url="https://tiles.example.org/{z}/{x}/{y}.png"),
    )
    with TestClient(create_app(settings, store=store)) as client:
        url = f"/runs/{run.run_id}/map"
        assert client.get(url).status_code == 401
        r = client.get(url, headers={"X-API-Key": demo["keys"]["partner"]})
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
        assert "tiles.example.org" in r.text and points_payload(r.text) is None
        assert 'src="../../static/vendor/leaflet/dist/leaflet.js"' in r.text
        r = client.get(url, headers={"X-API-Key": demo["keys"]["analyst"]})
        assert points_payload(r.text) is not None
        js = client.get("/static/vendor/leaflet/dist/leaflet.js")
        assert js.status_code == 200 and "Leaflet" in js.text[:500]
        assert client.get("/static/vendor/nope.js").status_code == 404
        link = client.post(
            "/share-links",
            json={"run_id": run.run_id, "role": "public", "title": "Town centre"},
            headers={"X-API-Key": demo["keys"]["analyst"]},
        ).json()
        token_path = link["url"].split("testserver", 1)[1]
        page = client.get(token_path)
        assert page.status_code == 200 and "<title>Town centre</title>" in page.text
        assert points_payload(page.text) is None
        # the share page's relative asset links resolve to the static route
        assert (
            client.get(token_path + "../../static/vendor/leaflet/dist/leaflet.css").status_code
            == 200
        )
        client.delete(
            f"/share-links/{link['link_id']}", headers={"X-API-Key": demo["keys"]["analyst"]}
        )
        assert client.get(token_path).status_code == 410


def test_cli_writes_a_standalone_map(demo, tmp_path):
    run = demo["runs"]["dbscan"]
    out = tmp_path / "map.html"
    runner = CliRunner()
    result = runner.invoke(
        cli_app,
        [
            "map",
            run.run_id,
            "-o",
            str(out),
            "--role",
            "analyst",
            "--store",
            str(demo["path"]),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    page = out.read_text(encoding="utf-8")
    assert doc["bytes"] == len(page) and "<script src=" not in page
    assert points_payload(page) is not None
    missing = runner.invoke(cli_app, ["map", "run-nope", "--store", str(demo["path"])])
    assert missing.exit_code == 6 and "no run 'run-nope'" in missing.output
    bad = runner.invoke(
        cli_app, ["map", run.run_id, "--role", "mayor", "--store", str(demo["path"])]
    )
    assert bad.exit_code == 2 and "--role" in bad.output


def test_hexagons_carry_their_rank_and_rates_cannot_be_read_as_gi_classes(demo):
    from maps import style

    store, run = demo["store"], demo["runs"]["gistar"]
    page = run_map_page(store, run, "analyst", 5, "t")
    _, hot = hotspot_data(page)
    labels = {f["properties"].get("label") for f in hot["features"]}
    top = min(style.LABELLED_RANKS, len(hot["features"]))
    assert set(range(1, top + 1)) <= labels  # the top hexagons are numbered by rank
    gi = {c for c, _ in style.GI_CLASSES.values()} | set(style.HEAT)
    assert not gi & set(style.RATE)  # (off by default: tests/maps/test_browser.py)
