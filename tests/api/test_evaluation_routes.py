"""Evaluation routes on the Gravesham demo (``api_env``: once per store), and end to end on a
synthetic borough where a 30 % reduction is planted (DuckDB file).

Expectations are computed from the stored data and boundaries, not through the
route code.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pytest
import shapely
import synthetic_intervention as synthetic  # tests/api/synthetic_intervention.py
from shapely.geometry import shape

from geodata.interventions import from_lonlat
from geodata.stores import DuckDBStore, IncidentQuery

SQUARE = {
    "type": "Polygon",
    "coordinates": [
        [[0.368, 51.44], [0.372, 51.44], [0.372, 51.4425], [0.368, 51.4425], [0.368, 51.44]]
    ],
}
ROLES = ("anonymous", "garbage", "revoked", "public", "partner", "analyst")


def body(**kw) -> dict:
    return {
        "title": "Day of action: town centre",
        "kind": "day-of-action",
        "start_date": "2022-06-15",
        "geometry": SQUARE,
        "officer_hours": 40,
        **kw,
    }


@pytest.fixture(scope="module")
def logged(api_env) -> dict:
    """Two interventions logged by the analyst: a drawn square and a whole ward."""
    wards = api_env.store.boundaries("ward")
    square = api_env.post("/interventions", json=body())
    assert square.status_code == 201, square.text
    ward = api_env.post(
        "/interventions",
        json=body(
            title="Patrols: one ward",
            kind="patrols",
            geometry=None,
            ward=wards["code"].iloc[0],
            start_date="2022-05-01",
            end_date="2022-05-31",
        ),
    )
    assert ward.status_code == 201, ward.text
    return {"square": square.json(), "ward": ward.json(), "ward_code": wards["code"].iloc[0]}


def expected_status(role: str, minimum: str) -> int:
    if role in ("anonymous",):
        return 401
    if role in ("garbage", "revoked"):
        return 401
    rank = {"public": 0, "partner": 1, "analyst": 2}
    return 200 if rank[role] >= rank[minimum] else 403


@pytest.mark.parametrize("role", ROLES)
def test_roles_for_every_route(api_env, logged, role: str) -> None:
    iv = logged["square"]["intervention_id"]
    cases = [
        ("POST", "/interventions", body(title=f"by {role}"), "analyst", 201),
        ("GET", "/interventions", None, "partner", 200),
        ("GET", f"/interventions/{iv}", None, "partner", 200),
        ("GET", "/interventions.geojson", None, "partner", 200),
        ("POST", f"/interventions/{iv}/evaluation", {}, "analyst", 200),
        ("POST", "/backtests", {"methods": ["naive"], "from": "2022-01", "to": "2022-05"},
         "analyst", 200),
        ("POST", "/knox", {"categories": ["robbery"], "permutations": 19}, "analyst", 200),
        ("DELETE", "/interventions/iv-none", None, "analyst", 404),
    ]  # fmt: skip
    for method, url, payload, minimum, ok in cases:
        want = expected_status(role, minimum)
        got = api_env.request(method, url, role, json=payload)
        assert got.status_code == (ok if want == 200 else want), (method, url, got.text[:300])
        if want != 200:
            assert got.headers["content-type"] == "application/problem+json"


def test_log_read_list_and_geojson(api_env, logged) -> None:
    sq, ward = logged["square"], logged["ward"]
    assert sq["area_type"] == "polygon" and sq["end_date"] == "2022-06-15"
    assert sq["officer_hours"] == 40 and sq["created_by"] == "test analyst"
    assert shape(sq["geometry"]).equals(shape(SQUARE))
    assert ward["area_type"] == "ward" and ward["area_codes"] == [logged["ward_code"]]
    # the ward's outline is the stored ward, to within a millimetre
    stored = api_env.store.area_polygon("ward", logged["ward_code"])
    outline = from_lonlat(shape(ward["geometry"]), api_env.store.analysis_crs)
    assert outline.symmetric_difference(stored).area < 1e-3 * stored.length

    got = api_env.get(f"/interventions/{sq['intervention_id']}", "partner").json()
    assert got == sq
    ids = [r["intervention_id"] for r in api_env.get("/interventions", "partner").json()]
    assert ids.index(sq["intervention_id"]) < ids.index(ward["intervention_id"])  # latest first

    r = api_env.get("/interventions.geojson?buffer_m=150", "partner")
    assert r.status_code == 200 and r.headers["content-type"] == "application/geo+json"
    fc = r.json()
    parts = {f["id"]: f for f in fc["features"]}
    target = shape(parts[f"{sq['intervention_id']}/target"]["geometry"])
    ring = shape(parts[f"{sq['intervention_id']}/buffer"]["geometry"])
    control = shape(parts[f"{sq['intervention_id']}/control"]["geometry"])
    assert target.equals(shape(SQUARE))
    crs = api_env.store.analysis_crs
    t, b, c = (from_lonlat(g, crs) for g in (target, ring, control))
    assert b.area == pytest.approx(t.buffer(150).area - t.area, rel=1e-3)
    assert b.intersection(t).area < 1.0 and c.intersection(t.buffer(150)).area < 1.0
    # the default control: the rest of the ward(s) the square lies in (not ones it only touches)
    wards = api_env.store.boundaries("ward")
    home = wards[wards.geometry.intersection(t).area > 0.01 * t.area]
    assert 1 <= len(home) < len(wards)
    expected = shapely.union_all(home.geometry.to_numpy()).difference(t.buffer(150))
    assert c.symmetric_difference(expected).area < 0.002 * expected.length  # ≤ 2 mm off (lon/lat)
    control_props = parts[f"{sq['intervention_id']}/control"]["properties"]
    assert control_props["control"] == "ward " + ", ".join(home["code"])
    assert parts[f"{sq['intervention_id']}/buffer"]["properties"]["buffer_m"] == 150
    assert fc["numberReturned"] == len(fc["features"])


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"end_date": "2022-06-01"}, "end_date"),
        ({"kind": "knitting"}, "kind"),
        ({"start_date": "15/06/2022"}, "start_date"),
        ({"officer_hours": -1}, "officer_hours"),
        ({"ward": "E05000001"}, "area"),  # two areas given
        ({"geometry": None, "cells": ["not-a-cell"]}, "cells[0]"),
        ({"geometry": {"type": "Point", "coordinates": [0.37, 51.44]}}, "geometry"),
        ({"geometry": None}, "area"),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_bad_interventions_name_the_field(api_env, change: dict, field: str) -> None:
    before = len(api_env.store.list_interventions())
    r = api_env.post("/interventions", json=body(**change))
    assert r.status_code == 422, r.text
    doc = r.json()
    assert r.headers["content-type"] == "application/problem+json"
    assert doc["errors"][0]["field"] == field, doc
    assert field.split("[")[0] in doc["detail"]
    assert len(api_env.store.list_interventions()) == before


def test_an_intervention_in_an_unknown_ward_is_404_naming_known_codes(api_env) -> None:
    before = len(api_env.store.list_interventions())
    r = api_env.post("/interventions", json=body(geometry=None, ward="E05999999"))
    assert r.status_code == 404, r.text
    assert r.json()["errors"][0]["field"] == "ward" and "E0500" in r.json()["detail"]
    assert len(api_env.store.list_interventions()) == before


def test_delete(api_env) -> None:
    made = api_env.post("/interventions", json=body(title="to delete")).json()
    iv = made["intervention_id"]
    assert api_env.request("DELETE", f"/interventions/{iv}", "partner").status_code == 403
    assert api_env.request("DELETE", f"/interventions/{iv}").status_code == 204
    assert api_env.get(f"/interventions/{iv}").status_code == 404
    assert api_env.request("DELETE", f"/interventions/{iv}").status_code == 404


def count_in(store, polygon, start, end) -> int:
    t = store.query_incidents(IncidentQuery(start=start, end=end, columns=["x", "y"]))
    x, y = t.column("x").to_numpy(), t.column("y").to_numpy()
    return int(shapely.intersects_xy(polygon, x, y).sum())


def test_evaluation_counts_match_the_store(api_env, logged) -> None:
    iv = logged["ward"]["intervention_id"]
    r = api_env.post(f"/interventions/{iv}/evaluation", json={"buffer_m": 300, "months": 2})
    assert r.status_code == 200, r.text
    doc = r.json()
    plan = doc["plan"]
    # the intervention ran through May 2022: two whole months either side
    assert plan["before"] == ["2022-03-01T00:00:00", "2022-05-01T00:00:00"]
    assert plan["after"] == ["2022-06-01T00:00:00", "2022-08-01T00:00:00"]
    assert plan["control"] == "borough"  # a whole ward: the rest of the borough
    store = api_env.store
    crs = store.analysis_crs
    target = from_lonlat(shape(logged["ward"]["geometry"]), crs)
    ring = target.buffer(300).difference(target)
    counts = doc["result"]["counts"]
    for name, area in (("target", target), ("buffer", ring)):
        for window in ("before", "after"):
            a, b = (datetime.fromisoformat(v) for v in plan[window])
            assert counts[name][window] == count_in(store, area, a, b), (name, window)
    assert doc["verdict"] in ("reduction", "increase", "no evidence of change")
    assert doc["summary"].startswith(("Evidence", "No evidence"))
    outlines = doc["outlines"]
    assert set(outlines) == {"target", "buffer", "control"}
    assert from_lonlat(shape(outlines["control"]), crs).intersection(target).area < 1.0


@pytest.mark.parametrize(
    ("payload", "status", "kind", "field"),
    [
        ({"buffer_m": -5}, 422, "invalid-input", "buffer_m"),
        # the stored data cannot answer: 409, naming the window
        ({"months": 12}, 409, "data-not-loaded", "before"),  # reaches back before 2022
        ({"after": ["2022-07", "2023-03"]}, 409, "data-not-loaded", "after"),  # past the data
        ({"before": ["2022-05", "2022-03"]}, 422, "window-order", "before"),  # end before start
        ({"control": "ward:E05999999"}, 404, "not-found", "control"),
        ({"control": "somewhere"}, 422, "invalid-input", "control"),
        (
            {"control": {"type": "Point", "coordinates": [0.37, 51.44]}},
            422,
            "invalid-geometry",
            "control",
        ),
        ({"categories": ["not-a-category"]}, 422, "invalid-input", "categories[0]"),
    ],
)
def test_bad_evaluations_name_the_field(
    api_env, logged, payload: dict, status: int, kind: str, field: str
) -> None:
    iv = logged["square"]["intervention_id"]
    r = api_env.post(f"/interventions/{iv}/evaluation", json=payload)
    assert r.status_code == status, r.text
    assert r.json()["type"].endswith("/" + kind), r.json()
    assert r.json()["errors"][0]["field"] == field, r.json()


def test_evaluation_of_unknown_intervention_is_404(api_env) -> None:
    r = api_env.post("/interventions/iv-nope/evaluation", json={})
    assert r.status_code == 404 and "iv-nope" in r.json()["detail"]


def test_backtest_route(api_env) -> None:
    r = api_env.post(
        "/backtests",
        json={
            "categories": ["anti-social-behaviour"],
            "from": "2022-01",
            "to": "2022-06",
            "methods": ["naive", "gistar"],
            "train_months": 3,
            "area_share": 0.05,
            "resolution": 9,
        },
    )
    assert r.status_code == 200, r.text
    doc = r.json()
    origins = sorted({w["origin"] for w in doc["windows"]})
    assert origins == ["2022-04", "2022-05", "2022-06"]
    asb = api_env.store.count_incidents(
        IncidentQuery(
            categories=["anti-social-behaviour"],
            start=datetime(2022, 4, 1),
            end=datetime(2022, 5, 1),
        )
    )
    april = [w for w in doc["windows"] if w["origin"] == "2022-04"]
    # every ASB incident of April inside the study grid is a test incident (≤ all of April)
    assert all(0 < w["total"] <= asb for w in april)
    assert {s["method"] for s in doc["summary"]} == {"naive", "gistar"}
    bad = api_env.post("/backtests", json={"methods": ["crystal-ball"]})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"].startswith("methods")
    bad = api_env.post("/backtests", json={"seed": -1})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "seed"


def test_backtest_route_chooses_and_maps_next_month(api_env) -> None:
    body = {
        "categories": ["violent-crime"],
        "from": "2022-01",
        "to": "2022-08",
        "methods": ["naive", "history", "sepp", "gbm"],
        "resolution": 9,
        "expanding": True,
        "next_month": True,
        "seed": 3,
    }
    r = api_env.post("/backtests", json=body)
    assert r.status_code == 200, r.text
    doc = r.json()
    best = max(doc["summary"], key=lambda s: s["mean_pai"])
    assert doc["choice"]["mean_pai"] == pytest.approx(best["mean_pai"], rel=1e-3)
    assert doc["next_month"]["month"] == "2022-09"
    assert doc["next_month"]["method"] == doc["choice"]["method"]
    assert doc["next_month"]["backtest"]["mean_pei"] == doc["choice"]["mean_pei"]
    # the same request gives the same answer (gbm is seeded)
    again = api_env.post("/backtests", json=body).json()
    assert again["next_month"]["cells"] == doc["next_month"]["cells"]
    assert [w["pai"] for w in again["windows"]] == [w["pai"] for w in doc["windows"]]
    assert api_env.post("/backtests", json=body, role="partner").status_code == 403


def test_knox_route(api_env) -> None:
    payload = {
        "categories": ["burglary"],
        "space_bands_m": [0, 200, 400],
        "permutations": 19,
        "risk_zones": True,
    }
    r = api_env.post("/knox", json=payload)
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["time_bands_days"] == [0, 1, 32, 63, 93]  # police.uk: month-wide bands
    assert doc["n_events"] == api_env.store.count_incidents(IncidentQuery(categories=["burglary"]))
    assert len(doc["cells"]) == 2 * 4
    assert doc["risk_zones"]["type"] == "FeatureCollection"
    again = api_env.post("/knox", json=payload).json()
    assert again["cells"] == doc["cells"]  # seeded
    unsorted = api_env.post("/knox", json={**payload, "space_bands_m": [400, 0, 200]}).json()
    assert unsorted["cells"] == doc["cells"]  # edges are sorted
    bad = api_env.post("/knox", json={**payload, "space_bands_m": [0, 200, 200]})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "space_bands_m"
    assert "repeated" in bad.json()["detail"]


# --------------------------------------------------------------------------- end to end


@pytest.fixture(scope="module")
def synthetic_app(tmp_path_factory, api_kit):
    """Two synthetic stores (30 % reduction planted, and none) each with an app."""
    out = {}
    for name, factor in (("reduction", 0.7), ("none", 1.0)):
        folder = tmp_path_factory.mktemp(f"synthetic-{name}")
        info = synthetic.build(folder / "s.duckdb", factor)
        store = DuckDBStore(folder / "s.duckdb")
        _, key = api_kit.add_key(store, "analyst")
        out[name] = (store, info, {"X-API-Key": key})
    yield out
    for store, _, _ in out.values():
        store.close()


@pytest.mark.parametrize(("name", "verdict"), [("reduction", "reduction"),
                                               ("none", "no evidence of change")])  # fmt: skip
def test_end_to_end_planted_reduction_through_the_api(synthetic_app, api_kit, name, verdict):
    store, info, headers = synthetic_app[name]
    with api_kit.TestClient(api_kit.make_app(store)) as client:
        made = client.post(
            "/interventions", json=body(geometry=info["square_geojson"]), headers=headers
        )
        assert made.status_code == 201, made.text
        iv = made.json()["intervention_id"]
        r = client.post(f"/interventions/{iv}/evaluation", json={}, headers=headers)
    assert r.status_code == 200, r.text
    doc = r.json()
    counts = doc["result"]["counts"]
    planted = info["counts"]
    months_before, months_after = (
        ["2022-03", "2022-04", "2022-05"],
        ["2022-07", "2022-08", "2022-09"],
    )
    for part in ("target", "buffer", "control"):
        assert counts[part]["before"] == sum(planted[part][m] for m in months_before), part
        assert counts[part]["after"] == sum(planted[part][m] for m in months_after), part
    assert doc["plan"]["control"] == f"ward {info['ward']}"
    assert doc["verdict"] == verdict
    if name == "reduction":
        change = doc["result"]["changes"]["target"]
        assert 100 * (change["rate_ratio"] - 1) == pytest.approx(-30, abs=0.5)
        assert doc["summary"].startswith("Evidence of a reduction")
    else:
        assert doc["summary"].startswith("No evidence of change")
    assert np.isfinite(doc["result"]["wdd"]["z"])
