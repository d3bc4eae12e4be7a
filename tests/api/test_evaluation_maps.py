"""Evaluation results on maps: the interventions layer on run maps, the evaluation map page
(route and ``hotspots evaluate --map``), risk zones, and the backtest chart page
(``POST /backtests?f=html`` and ``hotspots backtest --html``).

On the Gravesham demo (``api_env``: safeguarding cases sit inside the square used
here, so partners' counts must leave them out) and on small hand-made documents.
"""

from __future__ import annotations

import html
import json
import re

import folium
import pytest
from typer.testing import CliRunner

from api.cli import app as cli_app
from api.usecases.evaluation import evaluate_intervention
from api.usecases.interventions import interventions_geojson
from api.usecases.maps import run_map_page
from maps import overlays
from maps.evaluation import backtest_html, evaluation_map_html, pai_chart_svg
from maps.overlays import PART_STYLES, InvalidOverlay
from maps.render import MapOptions, build_map, render_html

SQUARE = {
    "type": "Polygon",
    "coordinates": [
        [[0.368, 51.44], [0.372, 51.44], [0.372, 51.4425], [0.368, 51.4425], [0.368, 51.44]]
    ],
}
#: a script, stylesheet, image or frame fetched from another host
OUTSIDE = re.compile(r"""<(?:script|link|img|iframe)[^>]+(?:src|href)=["']?(?:https?:)?//""", re.I)
runner = CliRunner()


def outline_payloads(page: str) -> list[dict]:
    """Every OutlineLayer's GeoJSON as sent to the browser."""
    found = re.findall(
        r"var outline_layer_\w+ = L\.geoJSON\((.*?), \{\n\s*style: function \(f\) "
        r"\{ return f\.properties\.st; \}",
        page,
    )
    return [json.loads(text) for text in found]


def panels(page: str) -> str:
    """The HTML of the page's own controls (legend, evaluation panel), as the browser gets it."""
    found = re.findall(r"div\.innerHTML = (\".*?\");\n", page)
    return "".join(json.loads(text) for text in found)


def parts_drawn(page: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for doc in outline_payloads(page):
        for f in doc["features"]:
            part = f["properties"].get("part", "zone")
            counts[part] = counts.get(part, 0) + 1
    return counts


@pytest.fixture(scope="module")
def logged(api_env) -> dict:
    """A day of action on the town-centre square (15 June 2022, 40 officer hours)."""
    r = api_env.post(
        "/interventions",
        json={
            "title": "Day of action <town centre>",
            "kind": "day-of-action",
            "start_date": "2022-06-15",
            "geometry": SQUARE,
            "officer_hours": 40,
        },
    )
    assert r.status_code == 201, r.text
    return r.json()


# --------------------------------------------------------------------------- run maps


def test_run_map_has_intervention_outlines_for_partners_and_analysts_only(api_env, logged):
    run = api_env.store.get_run(api_env.run_ids[0])
    iv = logged["intervention_id"]
    want = interventions_geojson(api_env.store)
    assert {f["properties"]["part"] for f in want["features"]} == {"target", "buffer", "control"}
    for role in ("partner", "analyst"):
        page = run_map_page(api_env.store, run, role, 5, "Map")
        assert overlays.INTERVENTIONS_LAYER in page, role
        drawn = parts_drawn(page)
        n = len(want["features"]) // 3
        assert drawn == {"target": n, "buffer": n, "control": n}, role
        # each part has its own line style, and a legend entry naming it
        sent = [f for doc in outline_payloads(page) for f in doc["features"]]
        styles = {f["properties"]["part"]: f["properties"]["st"] for f in sent}
        assert len({(s["color"], s["dashArray"]) for s in styles.values()}) == 3
        legend = panels(page)
        assert "<h4>Interventions</h4>" in legend
        for part, (label, st) in PART_STYLES.items():
            # lines only: a click inside an outline reaches the hotspots below
            assert styles[part] == {**st, "fill": False}, part
            assert f'{st["color"]}"></span>{label}</div>' in legend, part
        # popups: what, when, hours, escaped
        target = next(f for f in sent if f["properties"]["part"] == "target")
        pop = target["properties"]["popup"]
        assert "Day of action &lt;town centre&gt;" in pop and "<town" not in pop
        assert "day-of-action" in pop and "2022-06-15" in pop and "Officer hours: 40" in pop
        assert iv in pop
        # outlines drawn in WGS84 where the log has them (the target is the square)
        ring = target["geometry"]["coordinates"][0]
        assert {tuple(p) for p in ring} == {tuple(p) for p in SQUARE["coordinates"][0]}
        assert not OUTSIDE.search(page)
    public = run_map_page(api_env.store, run, "public", 5, "Map")
    assert overlays.INTERVENTIONS_LAYER not in public and parts_drawn(public) == {}
    assert "<h4>Interventions</h4>" not in panels(public)


def cli_store(api_env, monkeypatch) -> list[str]:
    """The CLI's store option for this store: a DuckDB file, or PostGIS by URL."""
    if api_env.kind == "duckdb":
        return ["--store", api_env.location]
    from psycopg.conninfo import conninfo_to_dict

    c = conninfo_to_dict(api_env.location)
    auth = c.get("user", "postgres") + (f":{c['password']}" if c.get("password") else "")
    url = f"postgresql://{auth}@{c.get('host', '127.0.0.1')}:{c.get('port', 5432)}/{c['dbname']}"
    monkeypatch.setenv("HOTSPOTS_DATABASE_URL", url)
    return []


def test_risk_zones_layer_with_expiry_when_given(api_env, logged, tmp_path, monkeypatch):
    zones = api_env.post(
        "/knox",
        json={
            "categories": ["burglary"],
            "permutations": 99,
            "space_bands_m": [0, 200, 400],
            "time_bands_days": [0, 31, 62],
            "risk_zones": True,
            "as_of": "2022-12-15",
        },
    ).json()["risk_zones"]
    # whatever the test finds, a hand-made zone shows how one is drawn
    zones["features"].append(
        {
            "type": "Feature",
            "geometry": SQUARE,
            "properties": {
                "incidents": 3,
                "first_occurred": "2022-11-01",
                "last_occurred": "2022-12-01",
                "expires": "2022-12-31 00:00:00",
            },
        }
    )
    run = api_env.store.get_run(api_env.run_ids[0])
    page = run_map_page(api_env.store, run, "partner", 5, "Map", risk_zones=zones)
    layer = f"{overlays.RISK_LAYER} (on 2022-12-15)"
    assert layer in page and "Near-repeat risk</h4>" in panels(page)
    assert "Zones active on 2022-12-15" in panels(page)
    drawn = parts_drawn(page)
    assert drawn["zone"] == len(zones["features"])
    popups = [f["properties"]["popup"] for d in outline_payloads(page) for f in d["features"]]
    assert "Raised risk until <b>2022-12-31</b>" in popups[-1]
    assert "3 recent incident(s), 2022-11-01 to 2022-12-01" in popups[-1]
    # not on the public view, even when given
    public = run_map_page(api_env.store, run, "public", 5, "Map", risk_zones=zones)
    assert overlays.RISK_LAYER not in public and "Raised risk" not in public

    # the CLI takes POST /knox's answer or a bare FeatureCollection
    path = tmp_path / "zones.json"
    path.write_text(json.dumps({"risk_zones": zones}))
    out = tmp_path / "map.html"
    args = ["map", run.run_id, "-o", str(out), *cli_store(api_env, monkeypatch), "--json"]
    r = runner.invoke(cli_app, [*args, "--risk-zones", str(path)])
    assert r.exit_code == 0, r.output
    assert layer in out.read_text(encoding="utf-8")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"type": "FeatureCollection", "features": [{"geometry": None}]}))
    r = runner.invoke(cli_app, [*args, "--risk-zones", str(bad)])
    assert r.exit_code == 3 and "feature 0" in r.output and "Polygon" in r.output
    r = runner.invoke(cli_app, [*args, "--risk-zones", str(path), "--role", "public"])
    assert r.exit_code == 2 and "--risk-zones" in r.output


def test_overlays_refuse_what_they_cannot_draw():
    with pytest.raises(InvalidOverlay, match="expected a GeoJSON FeatureCollection"):
        overlays.intervention_features({"type": "Feature"})
    bad_part = {
        "type": "FeatureCollection",
        "features": [{"id": "x/zone", "geometry": SQUARE, "properties": {"part": "zone"}}],
    }
    with pytest.raises(InvalidOverlay, match="expected part target, buffer or control"):
        overlays.intervention_features(bad_part)
    point = {"type": "FeatureCollection", "features": [{"geometry": {"type": "Point"}}]}
    with pytest.raises(InvalidOverlay, match="feature 0: expected a Polygon"):
        overlays.risk_zone_features(point)
    # a map with an overlay still refuses outside plugins and has no outside links
    m = build_map({"type": "FeatureCollection", "features": []}, "kde", MapOptions())
    overlays.add_overlays(m, None, {"type": "FeatureCollection", "features": []})
    assert not OUTSIDE.search(render_html(m))
    folium.plugins.Draw().add_to(m)
    with pytest.raises(ValueError, match="offline assets"):
        render_html(m)


# --------------------------------------------------------------------------- evaluation map


def _table_counts(page: str) -> dict[str, tuple[int, int]]:
    text = panels(page)
    rows = re.findall(r"<tr><th scope='row'>(\w+)</th><td class='num'>([\d,]+)</td>"
                      r"<td class='num'>([\d,]+)</td>", text)  # fmt: skip
    return {a.lower(): (int(b.replace(",", "")), int(c.replace(",", ""))) for a, b, c in rows}


@pytest.mark.parametrize("role", ["anonymous", "garbage", "public", "partner", "analyst"])
def test_evaluation_map_route_roles_counts_and_verdict(api_env, logged, role):
    iv = logged["intervention_id"]
    r = api_env.get(f"/interventions/{iv}/evaluation/map", role)
    if role in ("anonymous", "garbage"):
        assert r.status_code == 401
        return
    if role == "public":
        assert r.status_code == 403
        return
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/html")
    page = r.text
    want = evaluate_intervention(api_env.store, iv, include_sensitive=role == "analyst")
    counts = want["result"]["counts"]
    srcdoc = _table_counts(page)
    assert srcdoc == {
        p: (int(counts[p]["before"]), int(counts[p]["after"]))
        for p in ("target", "buffer", "control")
    }
    panel = panels(page)
    assert f"Verdict: {want['verdict']}.</b> {html.escape(want['summary'])}" in panel
    assert parts_drawn(page) == {"target": 1, "buffer": 1, "control": 1}
    for label, _ in PART_STYLES.values():
        assert label in panel
    assert 'src="../../../static/vendor/leaflet/dist/leaflet.js"' in page
    assert not OUTSIDE.search(page)
    # the relative asset link resolves to the static route
    assert api_env.get(f"/interventions/{iv}/evaluation/../../../static/vendor/leaflet/dist/"
                       "leaflet.js").status_code == 200  # fmt: skip
    note = "Counts leave out sensitive categories"
    assert (note in panel) == (role == "partner")


def test_partners_counts_leave_sensitive_cases_out(api_env, logged):
    """The safeguarding cases inside the square count for analysts, not for partners."""
    iv = logged["intervention_id"]
    a = evaluate_intervention(api_env.store, iv)["result"]["counts"]["target"]
    p = evaluate_intervention(api_env.store, iv, include_sensitive=False)["result"]["counts"]
    assert a["after"] > p["target"]["after"]
    pages = {
        role: _table_counts(api_env.get(f"/interventions/{iv}/evaluation/map", role).text)
        for role in ("partner", "analyst")
    }
    assert pages["analyst"]["target"] == (a["before"], a["after"])
    assert pages["partner"]["target"] == (p["target"]["before"], p["target"]["after"])


def test_evaluation_map_options_and_bad_input(api_env, logged):
    iv = logged["intervention_id"]
    url = f"/interventions/{iv}/evaluation/map"
    r = api_env.get(url, params={"buffer_m": 100, "control": "borough", "months": 2})
    assert r.status_code == 200, r.text
    panel = panels(r.text)
    assert "Control: borough." in panel and "Buffer: a 100 m ring." in panel
    assert "Before 2022-04-01 to 2022-06-01, after 2022-07-01 to 2022-09-01" in panel
    r = api_env.get(url, params={"before": "2022-01,2022-06", "after": "2022-07,2022-12"})
    assert r.status_code == 200 and "Before 2022-01-01 to 2022-06-01" in panels(r.text)
    for params, field in (
        ({"buffer_m": -1}, "buffer_m"),
        ({"control": "county"}, "control"),
        ({"before": "2022-01"}, "before"),
        ({"categories": "nope"}, "categories"),
    ):
        r = api_env.get(url, params=params)
        assert r.status_code == 422, (params, r.text)
        assert field in json.dumps(r.json()), (params, r.json())
    assert api_env.get("/interventions/iv-nope/evaluation/map").status_code == 404


def test_evaluation_map_from_a_document_without_a_buffer():
    doc = {
        "intervention": {"intervention_id": "iv-1", "title": "CCTV", "kind": "cctv",
                         "start_date": "2022-06-01", "end_date": "2022-06-30",
                         "officer_hours": None},
        "plan": {"buffer_m": 0, "control": "borough", "before": ["2022-03-01", "2022-06-01"],
                 "after": ["2022-07-01", "2022-10-01"]},
        "verdict": "no evidence of change",
        "summary": "No evidence of change <here>",
        "result": {"counts": {"target": {"before": 10, "after": 9},
                              "control": {"before": 100, "after": 101}},
                   "changes": {"target": {"percent_change": -10.0,
                                          "percent_ci": [-60.0, None]}},
                   "wdd": {"estimate": -1.3, "ci": [-9.0, 6.4], "p": 0.74}},
        "outlines": {"target": SQUARE, "buffer": {"type": "Polygon", "coordinates": []},
                     "control": SQUARE},
    }  # fmt: skip
    page = evaluation_map_html(doc, assets="inline")
    assert "<script src=" not in page and not OUTSIDE.search(page)
    assert parts_drawn(page) == {"target": 1, "control": 1}
    panel = panels(page)
    assert "Displacement buffer" not in panel  # nothing drawn, so no legend entry
    assert "No evidence of change &lt;here&gt;" in panel
    assert "-10 % (-60 % to ∞)" in panel and "officer hours –" in panel
    assert "p = 0.740" in panel and _table_counts(page) == {
        "target": (10, 9),
        "control": (100, 101),
    }


def test_cli_evaluate_writes_the_map(api_env, logged, tmp_path, monkeypatch):
    iv = logged["intervention_id"]
    out = tmp_path / "eval.html"
    store = cli_store(api_env, monkeypatch)
    r = runner.invoke(cli_app, ["evaluate", iv, *store, "--map", str(out), "--json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    page = out.read_text(encoding="utf-8")
    assert doc["map"] == {"file": str(out), "bytes": len(page)}
    assert "<script src=" not in page and not OUTSIDE.search(page)
    counts = doc["result"]["counts"]
    assert _table_counts(page)["target"] == (counts["target"]["before"],
                                             counts["target"]["after"])  # fmt: skip
    assert f"Verdict: {doc['verdict']}." in panels(page)
    text = runner.invoke(cli_app, ["evaluate", iv, *store, "--map", str(tmp_path / "e2.html")])
    assert text.exit_code == 0 and "Map: wrote" in text.output
    bad = runner.invoke(
        cli_app, ["evaluate", iv, *store, "--map", str(tmp_path / "no" / "dir.html")]
    )
    assert bad.exit_code == 2 and "--map: cannot write" in bad.output


# --------------------------------------------------------------------------- backtests


WINDOWS = [
    {"origin": "2022-04", "method": "naive", "pai": 4.0, "total": 90},
    {"origin": "2022-04", "method": "gistar", "pai": 6.0, "total": 90},
    {"origin": "2022-05", "method": "naive", "pai": None, "total": 0},
    {"origin": "2022-05", "method": "gistar", "pai": 2.0, "total": 0},
    {"origin": "2022-06", "method": "naive", "pai": 5.0, "total": 70},
    {"origin": "2022-06", "method": "gistar", "pai": 7.5, "total": 70},
]


def _series(svg: str) -> dict[str, list[list[tuple[float, float]]]]:
    out: dict[str, list] = {}
    for method, body in re.findall(r'<g class="series" data-method="([^"]+)">(.*?)</g>', svg):
        out[method] = [
            [tuple(map(float, p.split(","))) for p in pts.split()]
            for pts in re.findall(r'<polyline points="([^"]+)"', body)
        ]
    return out


def test_pai_chart_lines_follow_the_values_and_break_at_gaps():
    svg = pai_chart_svg(WINDOWS)
    assert svg.startswith("<svg") and "<script" not in svg
    lines = _series(svg)
    # naive has no PAI in May: two single points, no line through the gap
    assert lines["naive"] == []
    assert svg.count('data-method="naive"') == 1
    (gi,) = lines["gistar"]
    assert len(gi) == 3
    xs, ys = zip(*gi, strict=True)
    assert xs[0] < xs[1] < xs[2]
    # higher PAI is higher up (smaller y), and y is linear in PAI
    assert ys[2] < ys[0] < ys[1]
    slope = (ys[1] - ys[0]) / (2.0 - 6.0)
    assert ys[2] - ys[0] == pytest.approx(slope * (7.5 - 6.0), abs=0.15)
    # the axis goes up to a round number at or above the top PAI
    ticks = [float(t) for t in re.findall(r'text-anchor="end" font-size="11">([\d.]+)<', svg)]
    assert max(ticks) >= 7.5 and max(ticks) == 10
    assert "naive</text>" in svg and "gistar</text>" in svg


def test_backtest_page_tables_and_print_styles():
    doc = {
        "area_share": 0.05, "h3_resolution": 10, "cells": 2000, "cells_selected": 100,
        "train_months": 3, "test_months": 1, "incidents": 230, "windows": WINDOWS,
        "summary": [{"method": "gistar", "mean_pai": 5.1667, "median_pai": 6.0,
                     "mean_hit_rate": 0.26, "mean_pei": 0.8, "mean_rri": None, "wins": 3},
                    {"method": "naive", "mean_pai": 4.5, "median_pai": 4.5,
                     "mean_hit_rate": 0.22, "mean_pei": 0.7, "mean_rri": 1.1, "wins": 0}],
        "best": {"sentence": "gistar predicted best <by far>"},
        "notes": ["May had no incidents"],
    }  # fmt: skip
    page = backtest_html(doc)
    assert "<script" not in page and not OUTSIDE.search(page) and "@media print" in page
    assert "gistar predicted best &lt;by far&gt;." in page
    assert "5.0% of the area flagged" in page and "100 of 2,000 H3 res-10 cells" in page
    rows = re.findall(r"<tr><td>(2022-\d\d)</td><td class='num'>([\d,]+)</td>(.*?)</tr>", page)
    assert [r[0] for r in rows] == ["2022-04", "2022-05", "2022-06"]
    april = re.findall(r"<td class='num( best)?'>([^<]+)</td>", rows[0][2])
    assert april == [("", "4.00"), (" best", "6.00")]
    may = re.findall(r"<td class='num( best)?'>([^<]+)</td>", rows[1][2])
    assert may == [("", "–"), (" best", "2.00")]
    assert "<td>gistar</td><td class='num'>5.17</td>" in page and "26.0%" in page
    assert "May had no incidents" in page


def test_backtest_html_route_and_cli(api_env, tmp_path, monkeypatch):
    body = {"methods": ["naive", "gistar"], "from": "2022-01", "to": "2022-05"}
    r = api_env.post("/backtests", params={"f": "html"}, json=body)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/html")
    as_json = api_env.post("/backtests", json=body).json()
    lines = _series(r.text)
    assert set(lines) == {"naive", "gistar"}
    for method in ("naive", "gistar"):
        n = sum(1 for w in as_json["windows"] if w["method"] == method and w["pai"] is not None)
        assert sum(len(seg) for seg in lines[method]) == n
    for w in as_json["windows"]:
        assert f"<td>{w['origin']}</td>" in r.text
    accept = api_env.post("/backtests", json=body, headers={"Accept": "text/html"})
    assert accept.headers["content-type"].startswith("text/html")
    assert _series(accept.text) == lines
    assert api_env.post("/backtests", json=body, role="partner").status_code == 403
    assert api_env.post("/backtests", params={"f": "pdf"}, json=body).status_code == 422

    out = tmp_path / "bt.html"
    cli = runner.invoke(
        cli_app,
        ["backtest", *cli_store(api_env, monkeypatch), "--from", "2022-01", "--to", "2022-05",
         "--methods", "naive,gistar", "--html", str(out), "--json"],
    )  # fmt: skip
    assert cli.exit_code == 0, cli.output
    doc = json.loads(cli.stdout)
    page = out.read_text(encoding="utf-8")
    assert doc["html"] == {"file": str(out), "bytes": len(page)}
    assert _series(page) == lines  # same data, same chart as the API's
