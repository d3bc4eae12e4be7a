"""``POST /plans``, ``GET /areas/wards/{code}/briefing`` and ``hotspots plan`` / ``briefing``.

On the Gravesham demo of ``tests/api/conftest.py``, in a DuckDB file and in
PostGIS, with ``bicycle-theft`` treated as sensitive (police.uk has no
sensitive category of its own), so that what a partner may see differs from
what an analyst sees. Expected counts come from the stored incident table.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import quote

import h3
import numpy as np
import pandas as pd
import pytest
import shapely
from typer.testing import CliRunner

from api.cli import app as cli_app
from api.cli.output import EXIT_NOT_FOUND, EXIT_USAGE
from geodata.demo import STUDY_AREA_BUFFER_M, demo_dir
from geodata.ingest import context_for, import_records
from geodata.readers.council import read_council
from geodata.settings import IngestSettings

SENSITIVE = "bicycle-theft"
MIN_COUNT = 10
PELHAM = "E05004974"  # Gravesend town centre ward
CENTRAL = "E05004964"  # a ward with some categories below MIN_COUNT
STATION = (51.4414, 0.3706)
VIOLENCE_2022 = {"categories": ["violent-crime"], "from": "2022-01", "to": "2022-12"}


@pytest.fixture(scope="module")
def env(make_api_env, api_kit, tmp_path_factory):
    """This module's copy of the demo (see conftest: both stores), served with ``MIN_COUNT``."""
    assert api_kit.sensitive_police == SENSITIVE
    with make_api_env(tmp_path_factory.mktemp("plans"), public_min_count=MIN_COUNT) as api:
        yield {
            "client": api.client,
            "store": api.store,
            "keys": api.headers,
            "kind": api.kind,
            "location": api.location,
            "table": api.table.to_pandas(),
        }


def post(env, body, role="partner", **kw):
    headers = {**env["keys"][role], **kw.pop("headers", {})}
    return env["client"].post("/plans", json=body, headers=headers, **kw)


def get(env, url, role="partner", **kw):
    headers = {**env["keys"][role], **kw.pop("headers", {})}
    return env["client"].get(url, headers=headers, **kw)


# --------------------------------------------------------------------------- POST /plans


def test_plans_need_a_partner_key(env):
    body = {**VIOLENCE_2022, "sites": 3}
    r = post(env, body, "anonymous")
    assert r.status_code == 401 and r.headers["content-type"] == "application/problem+json"
    assert post(env, body, "public").status_code == 403
    assert post(env, body, "partner").status_code == 200


def test_a_violence_plan_has_a_site_near_gravesend_station(env):
    r = post(env, {**VIOLENCE_2022, "sites": 5})
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    doc = r.json()
    assert doc["type"] == "days-of-action-plan" and len(doc["sites"]) == 5
    assert [s["visit"] for s in doc["sites"]] == [1, 2, 3, 4, 5]
    nearest = min(
        h3.great_circle_distance((s["centre_lat"], s["centre_lon"]), STATION, unit="m")
        for s in doc["sites"]
    )
    assert nearest < 300
    # coverage against the stored table: incidents in the chosen cells, in the district
    t = env["table"]
    district = shapely.union_all(
        env["store"].boundaries("district").to_crs("EPSG:4326").geometry.to_numpy()
    )
    inside_district = shapely.contains_xy(district, t["lon"], t["lat"])
    # recording places (crimes recorded at the police station) are left out by default
    artefact = t["flags"].fillna("").str.contains("artefact-place")
    violence = t[(t["category"] == "violent-crime") & inside_district & ~artefact]
    cells = {s["cell"] for s in doc["sites"]}
    inside = [
        h3.latlng_to_cell(a, b, 10) in cells for a, b in zip(violence["lat"], violence["lon"])
    ]
    assert doc["summary"]["covered_count"] == sum(inside)
    assert doc["summary"]["n_incidents"] == len(violence)
    assert all(not s["window"]["times_known"] for s in doc["sites"])


def test_plan_formats_by_f_and_accept(env):
    body = {"area": PELHAM, "categories": ["anti-social-behaviour"], "hours": 4}
    geo = post(env, body, params={"f": "geojson"})
    assert geo.headers["content-type"] == "application/geo+json"
    fc = geo.json()
    assert fc["type"] == "FeatureCollection" and fc["features"]
    assert all(f["geometry"]["type"] == "Polygon" for f in fc["features"])
    assert fc["plan"]["summary"]["total_hours"] <= 4
    assert fc["plan"]["summary"]["area"] == "Pelham"
    page = post(env, body, headers={"Accept": "text/html"})
    assert page.headers["content-type"].startswith("text/html")
    assert "<h1>Day of action plan — Pelham</h1>" in page.text and '<svg class="map"' in page.text
    live = post(env, body, params={"f": "map"})
    assert live.headers["content-type"].startswith("text/html")
    assert "Day of action — Pelham" in live.text and "numbered in visiting order" in live.text
    # the sites carry their visit numbers and the route joins them in that order
    several = {**body, "hours": None, "sites": 4}
    live = post(env, several, "analyst", params={"f": "map"})
    labels = [int(n) for n in re.findall(r'"label":\s*(\d+)', live.text)]
    sites = post(env, several, "analyst").json()["sites"]
    assert sorted(labels) == [s["visit"] for s in sites] == [1, 2, 3, 4]
    route = re.search(r"L\.polyline\(\s*(\[\[.*?\]\])", live.text, re.S)
    assert route and "route in visiting order" in live.text
    points = json.loads(route.group(1))
    assert points == [[s["centre_lat"], s["centre_lon"]] for s in sites]
    assert "/static/vendor/" in live.text
    assert not re.search(r'<(script|link)[^>]+(src|href)="https?://', live.text)
    pdf = post(env, body, params={"f": "pdf"})
    assert pdf.headers["content-type"] == "application/pdf" and pdf.content.startswith(b"%PDF")


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        ({"sites": 3, "hours": 4}, 422, "either sites"),
        ({}, 422, "either sites"),
        ({"sites": 3, "categories": ["nonsense"]}, 422, "unknown category"),
        ({"sites": 3, "area": "Atlantis"}, 404, "Atlantis"),
        ({"sites": 3, "times": "evening"}, 422, "18-23"),
        ({"sites": 3, "days": ["Caturday"]}, 422, "Caturday"),
        ({"sites": 99}, 422, "sites"),
        ({"sites": 3, "from": "2022-13"}, 422, "from"),
        ({"sites": 3, "start": [51.44, 720.0]}, 422, "start[1]"),
        ({"sites": 3, "hours_per_site": 0}, 422, "hours_per_site"),
    ],
)
def test_bad_plan_requests_are_problems(env, body, status, words):
    r = post(env, body)
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert words in json.dumps(r.json())


def test_partners_never_see_sensitive_places_as_points_or_names(env):
    body = {"categories": [SENSITIVE], "sites": 6}
    analyst = post(env, body, "analyst").json()
    partner = post(env, body, "partner").json()
    assert any(s["top_locations"] for s in analyst["sites"])
    # partners' plans are made without sensitive incidents: nothing to offer
    assert partner["sites"] == [] and partner["summary"]["n_incidents"] == 0
    everything = post(env, {"sites": 6}, "partner").json()
    assert everything["sites"]
    assert all(SENSITIVE not in s["categories"] for s in everything["sites"])


def test_a_partners_forecast_plan_is_made_without_sensitive_incidents(env):
    from api.usecases.backtests import run_backtest

    # the forecast behind a plan stands on the incidents the role may use
    for include, expect_any in ((True, True), (False, False)):
        _, _, n = run_backtest(env["store"], categories=[SENSITIVE], include_sensitive=include)
        assert (n > 0) is expect_any
    body = {"categories": [SENSITIVE], "sites": 6, "forecast": True}
    partner = post(env, body, "partner").json()
    assert partner["sites"] == [] and partner["summary"]["n_incidents"] == 0
    assert any(n.startswith("no forecast") for n in partner["notes"])
    # a category with enough incidents: sites inside the forecast, and its figures
    doc = post(env, {"categories": ["violent-crime"], "sites": 6, "forecast": True}).json()
    assert doc["sites"]
    assert any("forecast by" in n and "mean PAI" in n for n in doc["notes"]), doc["notes"]


def test_timed_council_cases_give_peak_windows_to_analysts_only(env):
    """The conftest's synthetic safeguarding cases have times of day (and are sensitive)."""
    cats = ["domestic-abuse", "sexual-offences"]
    # one site of a cell and its neighbours (~200 m across) holds most of the cases
    year = {"from": "2022-01", "to": "2022-12"}  # the default is the latest 3 covered months
    doc = post(env, {"categories": cats, "sites": 1, "ring": 1, **year}, "analyst").json()
    assert doc["summary"]["times_known"] is True
    (site,) = doc["sites"]
    t = env["table"]
    cases = t[t["category"].isin(cats)]
    inside = [
        h3.latlng_to_cell(a, b, 10) in site["cells"] for a, b in zip(cases["lat"], cases["lon"])
    ]
    here = cases[inside]
    assert site["count"] == len(here) >= 5
    # the best 2-hour block of any weekday (running past midnight into the next day)
    stamps = pd.to_datetime(here["occurred_at"])
    week = np.zeros(7 * 24)
    np.add.at(week, stamps.dt.day_of_week.to_numpy() * 24 + stamps.dt.hour.to_numpy(), 1)
    best = max(week[i] + week[(i + 1) % (7 * 24)] for i in range(7 * 24))
    w = site["window"]
    assert w["times_known"] and w["timed_incidents"] == len(here)
    assert round(w["share_in_window"] * len(here)) == best
    start = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"].index(w["day"]) * 24 + w["start_hour"]
    assert week[start] + week[(start + 1) % (7 * 24)] == best
    # single cells hold too few to find a peak, and say so
    small = post(env, {"categories": cats, "sites": 3, **year}, "analyst").json()
    assert all(s["count"] < 5 for s in small["sites"])
    assert all(s["window"]["short"].startswith("Too few timed incidents") for s in small["sites"])
    # partners get no site that would show these few cases as points
    partner = post(env, {"categories": cats, "sites": 3, **year}, "partner").json()
    assert partner["sites"] == [] and partner["summary"]["n_incidents"] == 0


# --------------------------------------------------------------------------- ward briefing


def test_ward_briefing_counts_match_the_store(env):
    r = get(env, f"/areas/wards/{PELHAM}/briefing", params={"f": "json", "from": "2022-01"})
    assert r.status_code == 200
    doc = r.json()
    t = env["table"]
    ward = t[t["ward_code"] == PELHAM]
    assert doc["ward"] == {"code": PELHAM, "name": "Pelham"}
    assert doc["totals"]["count"] == len(ward)
    by_cat = ward["category"].value_counts()
    assert {r["category"]: r["count"] for r in doc["categories"] if r["count"]} == by_cat.to_dict()
    in_wards = t[t["ward_code"].notna()]
    assert doc["borough"]["count"] == len(in_wards)
    rate = doc["totals"]["rate"]
    assert rate == pytest.approx(len(ward) / doc["totals"]["population"] * 1000)
    assert doc["totals"]["ratio_to_borough"] == pytest.approx(rate / doc["borough"]["rate"])
    assert doc["previous"]["available"] is False  # only 2022 is loaded
    assert 1 <= len(doc["hotspots"]) <= 5
    assert [h["rank"] for h in doc["hotspots"]] == list(range(1, len(doc["hotspots"]) + 1))


def test_ward_briefing_is_printable_html(env):
    r = get(env, f"/areas/wards/{PELHAM}/briefing")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    page = r.text
    assert "<h1>Pelham ward — briefing for Ward Members</h1>" in page
    assert "per 1,000 residents" in page and "@page { size: A4" in page
    assert page.count('<svg class="map"') == 2 and "<script" not in page
    assert "cannot be given" in page  # no previous year loaded


def test_ward_briefing_as_pdf_and_with_nothing_recorded(env):
    pdf = get(env, f"/areas/wards/{PELHAM}/briefing", params={"f": "pdf"})
    assert pdf.headers["content-type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
    none = get(env, f"/areas/wards/{PELHAM}/briefing", params={"categories": "noise"})
    assert none.status_code == 200
    assert "<b>0</b> incidents of noise nuisance were recorded in Pelham: <b>0.0 per" in none.text
    assert "(0.0 per 1,000)" not in none.text
    assert "No place stands out in this period." in none.text


def test_public_ward_briefing_suppresses_small_counts(env):
    public = get(env, f"/areas/wards/{CENTRAL}/briefing", "anonymous", params={"f": "json"})
    assert public.status_code == 200
    doc = public.json()
    assert doc["suppressed_below"] == MIN_COUNT
    rows = {r["category"]: r for r in doc["categories"]}
    t = env["table"]
    mine = t[t["ward_code"] == CENTRAL]
    counts = mine[~mine["sensitive"]]["category"].value_counts()  # sensitive ones left out
    assert set(rows) == set(counts.index)
    assert doc["totals"]["count"] == 5 * int(len(mine[~mine["sensitive"]]) / 5 + 0.5)
    assert any("not counted in public totals" in n for n in doc["notes"])
    small = [c for c, n in counts.items() if n < MIN_COUNT]
    large = [c for c, n in counts.items() if n >= MIN_COUNT]
    assert small and large
    for c in small:
        assert rows[c]["count"] is None and rows[c]["rate"] is None
    for c in large:
        assert rows[c]["count"] == 5 * int(counts[c] / 5 + 0.5)
    for h in doc["hotspots"]:
        assert all(n >= MIN_COUNT and n % 5 == 0 for _, n in h["top_locations"])
        assert all(v is None or v % 5 == 0 for v in h["categories"].values())
    page = get(env, f"/areas/wards/{CENTRAL}/briefing", "anonymous").text
    assert f"fewer than {MIN_COUNT}" in page


def test_change_on_the_previous_year(make_api_env, api_kit, tmp_path: Path):
    """Noise complaints in Pelham: 20 in March 2021, 30 in March 2022 → up 50%."""
    lat, lon = 51.4431, 0.3685  # Chase Square, Pelham
    rows = [("Loud music", lat, lon, f"{1 + i % 28:02d}/03/2021", "22:15") for i in range(20)]
    rows += [("Loud music", lat, lon, f"{1 + i % 28:02d}/03/2022", "22:45") for i in range(30)]
    csv = api_kit.write_council_csv(tmp_path / "noise.csv", rows, prefix="NZ-")
    with make_api_env(tmp_path) as api:
        settings = IngestSettings(
            study_area=demo_dir() / "gravesham-district.geojsonl",
            study_area_buffer_m=STUDY_AREA_BUFFER_M,
            sensitive_categories=api_kit.sensitive,
        )
        report = import_records(
            api.store,
            [read_council(csv, "noise", source="council/noise", period="2021-2022")],
            context_for(api.store, settings),
        )
        assert report.rows_accepted == 50
        params = {"categories": "noise", "from": "2022-01", "to": "2022-11", "f": "json"}
        doc = api.get(f"/areas/wards/{PELHAM}/briefing", params=params).json()
        assert doc["previous"]["available"] is True
        assert (doc["totals"]["count"], doc["totals"]["previous_count"]) == (30, 20)
        assert doc["totals"]["change_pct"] == 50.0
        (row,) = doc["categories"]
        assert (row["category"], row["previous_count"], row["change_pct"]) == ("noise", 20, 50.0)
        params["f"] = "html"
        page = api.get(f"/areas/wards/{PELHAM}/briefing", params=params).text
        assert "up 50% on the same months a year earlier" in page
        (spot,) = doc["hotspots"]  # one place, with times: a peak window
        assert spot["window"]["times_known"] and spot["window"]["start_hour"] in (21, 22)


def test_unknown_ward_is_404(env):
    r = get(env, "/areas/wards/E05999999/briefing")
    assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"
    assert "E05999999" in r.json()["detail"]


# --------------------------------------------------------------------------- CLI

runner = CliRunner()


def cli(env, monkeypatch, *args: str):
    """Run ``hotspots`` on this module's store (a DuckDB file, or PostGIS by URL)."""
    if env["kind"] == "duckdb":
        monkeypatch.delenv("HOTSPOTS_DATABASE_URL", raising=False)
        return runner.invoke(cli_app, [*args, "--store", env["location"]])
    from psycopg.conninfo import conninfo_to_dict

    d = conninfo_to_dict(env["location"])  # the copy's connection string, as a URL
    password = f":{quote(d['password'])}" if d.get("password") else ""
    url = (
        f"postgresql://{quote(d.get('user', ''))}{password}@{d.get('host', '')}:"
        f"{d.get('port', 5432)}/{d['dbname']}"
    )
    monkeypatch.setenv("HOTSPOTS_DATABASE_URL", url)
    return runner.invoke(cli_app, list(args))


def test_cli_plan_writes_html_geojson_and_prints_json(env, monkeypatch, tmp_path: Path):
    html, geo = tmp_path / "plan.html", tmp_path / "plan.geojson"
    result = cli(
        env,
        monkeypatch,
        *("plan", "--categories", "violent-crime", "--from", "2022-01", "--to", "2022-12"),
        *("--sites", "4", "--days", "Fri-Sun", "--times", "18-23"),
        *("-o", str(html), "-o", str(geo), "--map", str(tmp_path / "plan.map.html"), "--json"),
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert len(doc["sites"]) == 4 and doc["params"]["days"] == ["Fri", "Sat", "Sun"]
    assert doc["params"]["hours_of_day"] == [18, 23]
    api = post(env, {**VIOLENCE_2022, "sites": 4}, "analyst").json()
    assert [s["cell"] for s in doc["sites"]] == [s["cell"] for s in api["sites"]]
    assert "<svg" in html.read_text() and len(json.loads(geo.read_text())["features"]) == 4
    page = (tmp_path / "plan.map.html").read_text()
    assert "/static/vendor/" not in page and "leaflet" in page.lower()  # assets inlined
    assert not re.search(r'<(script|link)[^>]+(src|href)="https?://', page)


def test_cli_plan_refuses_both_sites_and_hours(env, monkeypatch):
    result = cli(env, monkeypatch, "plan", "--sites", "3", "--hours", "3")
    assert result.exit_code == EXIT_USAGE and "either sites" in result.output


def test_cli_briefing_by_name(env, monkeypatch, tmp_path: Path):
    out = tmp_path / "pelham.html"
    result = cli(env, monkeypatch, "briefing", "pelham", "-o", str(out))
    assert result.exit_code == 0, result.output
    assert "Pelham (E05004974)" in result.output
    assert "<h1>Pelham ward" in out.read_text()
    missing = cli(env, monkeypatch, "briefing", "Atlantis")
    assert missing.exit_code == EXIT_NOT_FOUND
