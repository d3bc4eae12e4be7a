"""Days-of-action planner: coverage, budget, PAI, route, patrol windows, sensitive places.

Expectations are computed independently: H3 cells straight from ``h3`` per
incident, areas from ``h3.cell_area`` and a geodesic polygon area, route
lengths from the site centres.
"""

from __future__ import annotations

import itertools
import json
import math
from datetime import datetime

import h3
import numpy as np
import pandas as pd
import pytest
import shapely
from pyproj import Geod

from geodata.crs import WGS84, lonlat_to_xy
from geodata.demo import load_demo
from geodata.stores import DuckDBStore
from hotspots.harm import HarmWeights
from hotspots.planner import (
    InvalidPlan,
    PlanParams,
    path_length,
    plan_days_of_action,
    visiting_order,
)

STATION = (51.4414, 0.3706)  # Gravesend railway station (lat, lon)
YEAR = (datetime(2022, 1, 1), datetime(2023, 1, 1))


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """Gravesham's 2022 police.uk incidents and district outline (WGS84)."""
    store = DuckDBStore(tmp_path_factory.mktemp("planner") / "demo.duckdb")
    load_demo(store)
    incidents = store.query_incidents().to_pandas()
    area = shapely.union_all(store.boundaries("district").to_crs(WGS84).geometry.to_numpy())
    store.close()
    return incidents, area


def _plan(demo, **kw):
    incidents, area = demo
    return plan_days_of_action(incidents, PlanParams(**kw), area_lonlat=area, area_name="G")


def _timed(rows) -> pd.DataFrame:
    """Council-style incidents with times: rows of (lat, lon, timestamp, category, location)."""
    lat, lon, at, cat, loc = zip(*rows)
    return pd.DataFrame(
        {
            "lat": lat,
            "lon": lon,
            "occurred_at": pd.to_datetime(list(at)),
            "occurred_precision": "minute",
            "category": cat,
            "location": loc,
            "sensitive": False,
        }
    )


# --------------------------------------------------------------------------- coverage


@pytest.mark.parametrize("ring", [0, 1])
def test_coverage_is_monotone_in_k(demo, ring):
    covered = [
        _plan(demo, categories=("anti-social-behaviour",), sites=k, ring=ring).covered_harm
        for k in (1, 2, 3, 5, 8, 12)
    ]
    assert all(b >= a for a, b in itertools.pairwise(covered)), covered
    assert covered[-1] > covered[0]


def test_single_cells_are_the_exact_top_k_by_harm(demo):
    incidents, area = demo
    plan = _plan(demo, sites=6, start=YEAR[0], end=YEAR[1])
    inside = shapely.contains_xy(area, incidents["lon"], incidents["lat"])
    sub = incidents[inside]
    harm = HarmWeights.default().weigh(sub["category"].to_numpy())
    cells = [h3.latlng_to_cell(a, b, 10) for a, b in zip(sub["lat"], sub["lon"])]
    per_cell = pd.Series(harm).groupby(cells).sum().sort_values(ascending=False)
    np.testing.assert_allclose(plan.covered_harm, per_cell.head(6).sum())
    chosen = {s.cell for s in plan.sites}
    assert per_cell[list(chosen)].min() >= per_cell.iloc[6] - 1e-9


def test_pai_against_an_independent_count(demo):
    incidents, area = demo
    plan = _plan(demo, categories=("violent-crime",), sites=5, start=YEAR[0], end=YEAR[1])
    sub = incidents[
        (incidents["category"] == "violent-crime")
        & shapely.contains_xy(area, incidents["lon"], incidents["lat"])
    ]
    cells = {s.cell for s in plan.sites}
    hit = np.array([h3.latlng_to_cell(a, b, 10) in cells for a, b in zip(sub["lat"], sub["lon"])])
    area_share = sum(h3.cell_area(c, "m^2") for c in cells) / abs(
        Geod(ellps="WGS84").geometry_area_perimeter(area)[0]
    )
    count_share = hit.mean()
    assert plan.covered_count == hit.sum() and plan.n_incidents == len(sub)
    # violent crime has one weight, so the harm share is the count share
    np.testing.assert_allclose(plan.harm_share, count_share)
    np.testing.assert_allclose(plan.area_share, area_share, rtol=5e-3)
    np.testing.assert_allclose(plan.pai, count_share / area_share, rtol=5e-3)
    assert plan.pai > 20  # a handful of town-centre cells hold far more than their share


def test_a_violence_plan_puts_a_site_near_gravesend_station(demo):
    plan = _plan(demo, categories=("violent-crime",), sites=5, start=YEAR[0], end=YEAR[1])
    nearest = min(
        h3.great_circle_distance((s.centre_lat, s.centre_lon), STATION, unit="m")
        for s in plan.sites
    )
    assert nearest < 300


# --------------------------------------------------------------------------- budget and route


@pytest.mark.parametrize(
    ("hours", "per_site", "mode"), [(2.0, 1.0, "walk"), (3.5, 0.5, "walk"), (6.0, 1.0, "drive")]
)
def test_budget_is_respected(demo, hours, per_site, mode):
    plan = _plan(demo, hours=hours, hours_per_site=per_site, travel_mode=mode)
    p = plan.params
    lon = np.array([s.centre_lon for s in plan.sites])
    lat = np.array([s.centre_lat for s in plan.sites])
    x, y = lonlat_to_xy(lon, lat, "EPSG:27700")
    distance = float(np.hypot(np.diff(x), np.diff(y)).sum())
    np.testing.assert_allclose(plan.distance_m, distance, atol=0.01)
    used = len(plan.sites) * per_site + distance * p.detour_factor / (p.speed * 1000)
    assert len(plan.sites) >= 1
    assert used <= hours + 1e-9
    np.testing.assert_allclose(plan.total_hours, used)
    # the budget is used: what is left would not pay for another visit and a short walk
    assert hours - used <= per_site + 0.25


def test_budget_and_k_are_exclusive():
    with pytest.raises(InvalidPlan, match="either sites"):
        PlanParams(sites=3, hours=4)
    with pytest.raises(InvalidPlan, match="either sites"):
        PlanParams()
    with pytest.raises(InvalidPlan, match="cannot pay for one visit"):
        PlanParams(hours=0.5, hours_per_site=1)
    with pytest.raises(InvalidPlan, match="days"):
        PlanParams(sites=2, days=("Friday",))
    with pytest.raises(ValueError, match="unknown category"):
        PlanParams(sites=2, categories=("not-a-category",))


@pytest.mark.parametrize("n", [2, 5, 9, 15])
@pytest.mark.parametrize("with_start", [False, True])
def test_visiting_order_is_never_longer_than_the_input_order(n, with_start):
    rng = np.random.default_rng(n)
    x, y = rng.uniform(0, 3000, n), rng.uniform(0, 3000, n)
    start = (1500.0, -200.0) if with_start else None
    order, length = visiting_order(x, y, start)
    assert sorted(order) == list(range(n))
    xy = np.column_stack([x, y])
    np.testing.assert_allclose(length, path_length(xy, order, start))
    assert length <= path_length(xy, range(n), start) + 1e-9
    if n <= 5:  # small enough to check against every order
        best = min(path_length(xy, p, start) for p in itertools.permutations(range(n)))
        np.testing.assert_allclose(length, best)


def test_the_plan_route_is_no_longer_than_the_order_of_choice(demo):
    plan = _plan(demo, categories=("anti-social-behaviour",), sites=10)
    by_pick = sorted(plan.sites, key=lambda s: s.pick)
    x, y = lonlat_to_xy(
        np.array([s.centre_lon for s in by_pick]),
        np.array([s.centre_lat for s in by_pick]),
        "EPSG:27700",
    )
    chosen_order = float(np.hypot(np.diff(x), np.diff(y)).sum())
    assert plan.distance_m <= chosen_order + 1e-6
    assert [s.visit for s in plan.sites] == list(range(1, 11))
    np.testing.assert_allclose(sum(s.leg_m for s in plan.sites), plan.distance_m)


# --------------------------------------------------------------------------- windows


def test_month_only_data_says_times_are_unknown(demo):
    plan = _plan(demo, categories=("anti-social-behaviour",), sites=3, days=("Fri", "Sat"))
    assert not plan.times_known
    assert any("dated to the month only" in n for n in plan.notes)
    assert any("cannot steer" in n for n in plan.notes)
    for s in plan.sites:
        w = s.window
        assert w["times_known"] is False and w["day"] is None and w["start_hour"] is None
        assert "unknown" in w["text"] and "Fri, Sat" in w["text"]
        months = w["busiest_months"]
        assert months and all(s.profile["monthly"][m] > 0 for m in months)
        top = max(s.profile["monthly"].values())
        assert s.profile["monthly"][months[0]] == top


# centres of two H3 res-10 cells, so small offsets stay inside them
HERE = h3.cell_to_latlng(h3.latlng_to_cell(51.4420, 0.3700, 10))
THERE = h3.cell_to_latlng(h3.latlng_to_cell(51.4300, 0.3400, 10))


def _friday_and_tuesday():
    rows = []
    # HERE: 12 incidents on Friday nights 21:00-22:59, 3 on Monday mornings
    for i in range(12):
        rows.append(
            (*HERE, f"2024-03-{1 + 7 * (i % 4):02d} {21 + i % 2}:{10 + i}", "noise", "A St")
        )
    for i in range(3):
        rows.append((*HERE, f"2024-03-{4 + 7 * i:02d} 09:30", "noise", "A St"))
    # THERE: 20 incidents on Tuesday mornings
    for i in range(20):
        rows.append((*THERE, f"2024-03-{5 + 7 * (i % 4):02d} 10:{i:02d}", "noise", "B Rd"))
    return _timed(rows)


def test_timed_data_gives_the_peak_window():
    data = _friday_and_tuesday()
    plan = plan_days_of_action(data, PlanParams(sites=2, hours_per_site=2))
    assert plan.times_known
    windows = {s.top_locations[0][0]: s.window for s in plan.sites}
    assert windows["A St"]["times_known"]
    assert (windows["A St"]["day"], windows["A St"]["start_hour"]) == ("Fri", 21)
    assert windows["A St"]["end_hour"] == 23
    assert windows["A St"]["share_in_window"] == pytest.approx(12 / 15)
    assert (windows["B Rd"]["day"], windows["B Rd"]["start_hour"]) in {("Tue", 9), ("Tue", 10)}


def test_preferred_times_steer_where_and_when():
    data = _friday_and_tuesday()
    anytime = plan_days_of_action(data, PlanParams(sites=1))
    assert anytime.sites[0].top_locations[0][0] == "B Rd"  # more incidents
    evenings = plan_days_of_action(
        data, PlanParams(sites=1, days=("Fri", "Sat"), hours_of_day=(18, 24))
    )
    site = evenings.sites[0]
    assert site.top_locations[0][0] == "A St"
    assert site.window["day"] == "Fri" and 18 <= site.window["start_hour"] <= 22
    assert any("outside the preferred" in n for n in evenings.notes)
    # coverage still counts every incident of the site
    assert site.count == 15


# --------------------------------------------------------------------------- sensitive


def test_sensitive_incidents_are_counted_but_never_named_or_pinpointed():
    lat, lon = HERE
    rows = [  # a few metres apart, in one cell
        (
            lat + 0.00004 * i,
            lon,
            f"2024-03-0{1 + i} 20:00",
            "anti-social-behaviour",
            "On or near A St",
        )
        for i in range(6)
    ]
    rows += [(*HERE, "2024-03-09 21:00", "domestic-abuse", "On or near Secret Close")] * 3
    # a lone place with only two sensitive incidents, at one point
    rows += [(*THERE, "2024-03-10 22:00", "domestic-abuse", "On or near Hidden Way")] * 2
    data = _timed(rows)
    data["sensitive"] = data["category"] == "domestic-abuse"
    analyst = plan_days_of_action(data, PlanParams(sites=2), show_sensitive_locations=True)
    named = {loc for s in analyst.sites for loc, _ in s.top_locations}
    assert {"On or near Secret Close", "On or near Hidden Way"} <= named
    # below analyst: no sensitive incidents, and the single-place rule
    partner = plan_days_of_action(
        data[~data["sensitive"]].reset_index(drop=True), PlanParams(sites=2), min_places=3
    )
    assert len(partner.sites) == 1  # the only place left holds six distinct points
    site = partner.sites[0]
    assert site.count == 6 and "domestic-abuse" not in site.categories
    assert [loc for loc, _ in site.top_locations] == ["On or near A St"]
    strict = plan_days_of_action(
        data[~data["sensitive"]].reset_index(drop=True), PlanParams(sites=2), min_places=7
    )
    assert not strict.sites and any("not offered" in n for n in strict.notes)


# --------------------------------------------------------------------------- output


def test_outputs_are_json_and_wgs84_geojson(demo):
    plan = _plan(demo, categories=("violent-crime",), sites=4, ring=1)
    doc = json.loads(json.dumps(plan.to_dict(), allow_nan=False))
    assert doc["summary"]["sites"] == 4 and len(doc["sites"]) == 4
    assert doc["summary"]["pai"] == pytest.approx(plan.pai)
    fc = json.loads(json.dumps(plan.to_geojson(), allow_nan=False))
    assert fc["type"] == "FeatureCollection" and len(fc["features"]) == 4
    _, area = demo
    minx, miny, maxx, maxy = area.buffer(0.01).bounds
    for f, site in zip(fc["features"], plan.sites):
        geom = shapely.geometry.shape(f["geometry"])
        assert geom.geom_type == "Polygon" and geom.is_valid
        gx0, gy0, gx1, gy1 = geom.bounds
        assert minx <= gx0 <= gx1 <= maxx and miny <= gy0 <= gy1 <= maxy
        assert f["properties"]["visit"] == site.visit
        assert len(f["properties"]["cells"]) == 7  # ring 1: a cell and its six neighbours
        assert geom.contains(shapely.Point(site.centre_lon, site.centre_lat))
    assert fc["route"]["coordinates"] == [[s.centre_lon, s.centre_lat] for s in plan.sites]
    assert math.isclose(plan.covered_area_m2, sum(s.area_m2 for s in plan.sites), rel_tol=0.2)


def test_a_start_point_begins_the_route(demo):
    station_lonlat = (STATION[1], STATION[0])
    plan = _plan(demo, categories=("anti-social-behaviour",), sites=6, start_lonlat=station_lonlat)
    x, y = lonlat_to_xy(
        np.array([station_lonlat[0]] + [s.centre_lon for s in plan.sites]),
        np.array([station_lonlat[1]] + [s.centre_lat for s in plan.sites]),
        "EPSG:27700",
    )
    legs = np.hypot(np.diff(x), np.diff(y))
    np.testing.assert_allclose([s.leg_m for s in plan.sites], legs, atol=0.01)
    np.testing.assert_allclose(plan.distance_m, legs.sum(), atol=0.01)
    # no other order from the station is shorter for these six sites
    xy = np.column_stack([x[1:], y[1:]])
    best = min(path_length(xy, p, (x[0], y[0])) for p in itertools.permutations(range(len(xy))))
    assert plan.distance_m <= best * 1.05


def test_the_single_place_rule_trusts_police_uk_snap_points_but_not_exact_addresses():
    """Below analyst a site on fewer than min_places places is withheld, unless it is a
    police.uk snap point (anonymised at source, standing for several addresses)."""
    rows = [(*HERE, "2024-03-01 20:00", "anti-social-behaviour", "On or near A St")] * 8
    rows += [(*THERE, "2024-03-02 21:00", "noise", "12 Quiet Road")] * 6
    data = _timed(rows)
    data["source"] = ["police-uk/kent-police"] * 8 + ["council/noise"] * 6
    plan = plan_days_of_action(data, PlanParams(sites=2), min_places=3)
    assert [s.count for s in plan.sites] == [8]  # the snap point; not the one address
    assert any("not offered" in n for n in plan.notes)
    every = plan_days_of_action(data, PlanParams(sites=2))  # analysts: no rule
    assert sorted(s.count for s in every.sites) == [6, 8]
