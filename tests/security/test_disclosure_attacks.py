"""Disclosure attacks (docs/disclosure.md), on both stores, as anonymous, public and partner.

Sensitive incidents are planted among the real Gravesham demo data: one alone at an
isolated place, six at one address, two at the edge of a town-centre cluster, each
with a unique street name and an exact time. Then every answer below analyst (every
GET route of the OpenAPI document, OGC collections and items, run maps, share links
and their GeoJSON, plans, ward briefings, areas) is collected and attacked:

(a) no vertex, circle through three consecutive vertices, or centroid lies within
    50 m of a planted place;
(b) the planted street name and exact times appear nowhere;
(c) no two public counts differ by a number below the threshold.

The same attacks on the analyst's (unprotected) answers find the planted places to
within a metre and the planted counts exactly: the attacks work.
"""

from __future__ import annotations

import csv
import json
import re
from itertools import combinations

import h3
import numpy as np
import pytest
import shapely
from ogc_probes import STREET, probes_for
from pyproj import Geod
from scipy.spatial import cKDTree

from geodata.crs import lonlat_to_xy, xy_to_lonlat
from geodata.ingest import context_for, import_records
from geodata.readers.council import read_council

GEOD = Geod(ellps="WGS84")
NEAR_M = 50.0
MIN_COUNT = 5
BELOW = ("anonymous", "public", "partner")
#: (kind as written, day, time) of each planted group
PLANTS = {
    "lone": [("Sexual offence", "14/06/2022", "02:37")],
    "address": [
        ("Domestic abuse", f"{d:02d}/0{m}/2022", "23:4" + str(d % 10))
        for d, m in [(3, 3), (9, 4), (17, 5), (21, 6), (5, 7), (28, 8)]
    ],
    "edge": [("Sexual offence", "02/09/2022", "01:13"), ("Domestic abuse", "11/10/2022", "04:52")],
}
TIMES = {t for rows in PLANTS.values() for _, _, t in rows}
#: today's timestamps in answers (runs' creation, OGC's timeStamp, layer titles): the
#: planted incidents are of 2022, so a time seen there is not theirs (between 23:40 and
#: 23:50 the clock would otherwise match the planted times)
WALL_CLOCK = re.compile(
    r"20(?:2[3-9]|[3-9]\d)-\d\d-\d\dT\d\d:\d\d|made \d{1,2} \w{3} \d{4} \d\d:\d\d"
)


def _far_from_lattice(lat: float, lon: float, metres: float) -> bool:
    """True when no H3 cell centre or vertex (resolutions 7–9, those of the grids below)
    lies within ``metres``: a fit landing on that fixed lattice says nothing about the
    incident."""
    for res in range(7, 10):
        cell = h3.latlng_to_cell(lat, lon, res)
        for c in h3.grid_disk(cell, 1):
            for a, b in [h3.cell_to_latlng(c), *h3.cell_to_boundary(c)]:
                if GEOD.inv(lon, lat, b, a)[2] < metres:
                    return False
    return True


def _boundary_marks(store) -> cKDTree:
    """Vertices of the published boundaries and circles fitted through them (metres): public
    geometry that has nothing to do with incidents, so planted places keep away from it."""
    marks = []
    for kind in ("district", "ward", "lsoa"):
        for geom in store.boundaries(kind).geometry:
            for ring in shapely.get_rings(shapely.get_parts(geom)):
                pts = shapely.get_coordinates(ring)
                marks.append(pts)
                fits = [_centre(pts[i], pts[i + 1], pts[i + 2]) for i in range(len(pts) - 2)]
                marks.append(np.array([f for f in fits if f is not None]).reshape(-1, 2))
    return cKDTree(np.vstack(marks))


def _choose_places(table, district, marks: cKDTree) -> dict[str, tuple[float, float]]:
    """(lon, lat) for each planted group: ``lone`` and ``address`` far from every
    incident, ``edge`` 80–160 m from busy incidents; all away from the H3 lattice
    and from boundary vertices (public geometry, whatever lies near it)."""
    xy = np.column_stack([table["x"].to_numpy(), table["y"].to_numpy()])
    tree = cKDTree(xy)
    busy = tree.query_ball_point(xy, 150.0, return_length=True)
    x0, y0, x1, y1 = district.total_bounds
    gx, gy = np.meshgrid(np.arange(x0, x1, 25.0), np.arange(y0, y1, 25.0))
    grid = np.column_stack([gx.ravel(), gy.ravel()])
    near, which = tree.query(grid)
    clear = marks.query(grid)[0] > 60.0
    area = shapely.union_all(district.to_numpy())
    inside = shapely.contains(area, shapely.points(grid))
    lon, lat = xy_to_lonlat(grid[:, 0], grid[:, 1], "EPSG:27700")
    chosen: dict[str, tuple[float, float]] = {}
    rules = {
        "lone": (near > 500) & inside & clear,
        "address": (near > 500) & inside & clear,
        "edge": (near > 80) & (near < 160) & inside & clear & (busy[which] > 60),
    }
    used: list[np.ndarray] = []
    for name, ok in rules.items():
        for i in np.flatnonzero(ok):
            if any(np.hypot(*(grid[i] - u)) < 1500 for u in used):
                continue
            if _far_from_lattice(lat[i], lon[i], 60.0):
                chosen[name] = (float(lon[i]), float(lat[i]))
                used.append(grid[i])
                break
    assert set(chosen) == set(PLANTS), chosen
    return chosen


@pytest.fixture(scope="module")
def attack(make_api_env, tmp_path_factory):
    folder = tmp_path_factory.mktemp("attack")
    with make_api_env(folder) as env:
        from geodata.stores import IncidentQuery

        table = env.store.query_incidents(IncidentQuery(columns=["x", "y"])).to_pandas()
        district = env.store.boundaries("district").geometry
        places = _choose_places(table, district, _boundary_marks(env.store))
        path = folder / "planted.csv"
        with path.open("w", newline="", encoding="utf-8") as out:
            w = csv.writer(out)
            w.writerow(
                ["Reference", "Date Received", "Time Received", "Complaint Type",
                 "Premises Type", "Latitude", "Longitude", "Street", "Ward"]
            )  # fmt: skip
            n = 0
            for name, rows in PLANTS.items():
                lon, lat = places[name]
                for kind, day, time in rows:
                    w.writerow(
                        [f"PL-{n:03d}", day, time, kind, "Residential", lat, lon, STREET, ""]
                    )
                    n += 1
        import sys

        kit = sys.modules["hotspots_api_test_kit"]
        report = import_records(
            env.store,
            [read_council(path, "noise", source="council/planted", period="2022")],
            context_for(env.store, kit.ingest_settings()),
        )
        assert report.rows_accepted == sum(map(len, PLANTS.values()))
        env.refresh()
        runs = {}
        for name, body in {
            "dbscan": {"method": "dbscan"},
            "dbscan-fine": {"method": "dbscan", "eps_m": 150, "min_samples": 2},
            "dbscan-sensitive": {
                "method": "dbscan",
                "eps_m": 50,
                "min_samples": 1,
                "categories": ["domestic-abuse", "sexual-offences"],
            },
            "kde-fine": {
                "method": "kde",
                "bandwidth_m": 20,
                "cell_m": 10,
                "categories": ["domestic-abuse", "sexual-offences"],
            },
            "kde": {"method": "kde"},
            "hexes": {"method": "hexes", "resolution": 9},
            "gistar": {"method": "gistar", "resolution": 9},
            "emerging": {"method": "emerging", "resolution": 8},
        }.items():
            r = env.post("/analyses", json=body)
            assert r.status_code == 201, r.text
            runs[name] = r.json()["run_id"]
        # analysts' plans, stored as runs: one on the sensitive categories alone
        for name, body in PLANS.items():
            r = env.post("/plans", json=body)
            assert r.status_code == 200, r.text
            PLAN_RUNS[name] = r.json()["run_id"]
        yield env, places, runs


#: plans an analyst makes (and shares with partners) in the attack's store
PLANS = {
    "plan-sensitive": {
        "categories": ["domestic-abuse", "sexual-offences"],
        "from": "2022-01",
        "to": "2022-12",
        "sites": 3,
    },
    "plan": {"from": "2022-01", "to": "2022-12", "sites": 6},
}
PLAN_RUNS: dict[str, str] = {}


# -- collecting answers ----------------------------------------------------------------------
def _answers(env, runs, role: str, places) -> dict[str, str]:
    """url → body of everything ``role`` can read about the runs and areas."""
    out: dict[str, str] = {}

    def get(url: str, **kw) -> None:
        r = env.get(url, role, **kw)
        if r.status_code == 200:
            out[url + json.dumps(kw.get("params") or {})] = r.text

    spec = env.get("/openapi.json", role).json()
    ward = env.store.boundaries("ward")["code"].iloc[0]
    for path, item in spec["paths"].items():
        if "get" in item and "{" not in path:
            get(path)
    get("/ogc/collections")
    for run in runs.values():
        for url in (
            f"/runs/{run}",
            f"/runs/{run}/hotspots",
            f"/runs/{run}/map",
            f"/ogc/collections/{run}",
            f"/ogc/collections/{run}/items?limit=1000",
            f"/ogc/collections/{run}/items?limit=1000&f=html",
        ):
            get(url)
    for cid in ("wards", "lsoas", "incidents"):
        get(f"/ogc/collections/{cid}")
        get(f"/ogc/collections/{cid}/items?limit=10000")
    for cid in (*runs.values(), "wards", "lsoas", "incidents"):
        get(f"/ogc/collections/{cid}/queryables")
        get(f"/ogc/collections/{cid}/items?limit=10000&crs=EPSG:27700")  # metres
        url = f"/ogc/collections/{cid}/items?limit=40"
        for _ in range(4):  # keyset pages, through their sealed cursors
            r = env.get(url, role)
            if r.status_code != 200:
                break
            out[url] = r.text
            nxt = [lk["href"] for lk in r.json()["links"] if lk["rel"] == "next"]
            if not nxt:
                break
            url = nxt[0].replace("http://testserver", "")
    for cid in (*runs.values(), "wards", "lsoas", "incidents"):
        for text, crs in probes_for(places).values():
            get(f"/ogc/collections/{cid}/items", params={"filter": text, "filter-crs": crs})
    for kind in ("ward", "lsoa"):
        for cats in (None, "domestic-abuse,sexual-offences", "violent-crime,sexual-offences"):
            get("/areas", params={"kind": kind, **({"categories": cats} if cats else {})})
    for code in env.store.boundaries("ward")["code"]:
        get(f"/areas/wards/{code}/briefing", params={"f": "json"})
    get(f"/areas/wards/{ward}/briefing")
    get("/incidents?limit=10000&categories=domestic-abuse,sexual-offences,anti-social-behaviour")
    if role == "partner":
        for fmt in ("json", "geojson", "html", "map"):
            r = env.post("/plans", role, params={"f": fmt}, json={"sites": 6})
            assert r.status_code == 200, r.text
            out[f"/plans?f={fmt}"] = r.text
    for plan in PLAN_RUNS.values():  # stored plans: read, mapped, shared with partners
        for url in (f"/runs/{plan}", f"/runs/{plan}/hotspots", f"/runs/{plan}/map"):
            get(url)
        link = env.post("/share-links", json={"run_id": plan, "role": "partner"}).json()
        page = link["url"].replace("http://testserver", "")
        for url in (page, page + "hotspots.geojson"):
            r = env.client.get(url)
            assert r.status_code == 200
            out[url] = r.text
    for link_role in ("partner", "public"):
        if role == "partner" and link_role == "public":
            continue
        for run in runs.values():
            link = env.post("/share-links", json={"run_id": run, "role": link_role}).json()
            page = link["url"].replace("http://testserver", "")
            for url in (page, page + "hotspots.geojson"):
                r = env.client.get(url)
                assert r.status_code == 200
                out[url] = r.text
    return out


def _pairs(text: str) -> np.ndarray:
    """Every [lon, lat] pair written in a body (JSON or HTML), around Gravesham, and
    every British National Grid [x, y] pair there, as lon/lat."""
    found = re.findall(r"\[\s*(0\.[0-9]+)\s*,\s*(51\.[0-9]+)\s*[\],]", text)
    lonlat = np.array([(float(a), float(b)) for a, b in found]).reshape(-1, 2)
    metres = re.findall(
        r"\[\s*(5[0-9]{5}(?:\.[0-9]+)?)\s*,\s*(1[0-9]{5}(?:\.[0-9]+)?)\s*[\],]", text
    )
    if not metres:
        return lonlat
    xy = np.array([(float(a), float(b)) for a, b in metres])
    lon, lat = xy_to_lonlat(xy[:, 0], xy[:, 1], "EPSG:27700")
    return np.vstack([lonlat, np.column_stack([lon, lat])])


def _centre(p: np.ndarray, q: np.ndarray, r: np.ndarray) -> np.ndarray | None:
    """Centre of the circle through three points (local metres)."""
    ax, ay = p
    bx, by = q
    cx, cy = r
    d = 2 * (ax * (by - cy) + bx * (cy - ay) + cx * (ay - by))
    if abs(d) < 1e-9:
        return None
    ux = (ax**2 + ay**2) * (by - cy) + (bx**2 + by**2) * (cy - ay) + (cx**2 + cy**2) * (ay - by)
    uy = (ax**2 + ay**2) * (cx - bx) + (bx**2 + by**2) * (ax - cx) + (cx**2 + cy**2) * (bx - ax)
    return np.array([ux / d, uy / d])


def located(text: str, places: dict[str, tuple[float, float]]) -> dict[str, float]:
    """The closest any vertex, circle fit or centroid in ``text`` comes to each place (m)."""
    pairs = _pairs(text)
    best = {name: np.inf for name in places}
    if not len(pairs):
        return best
    x, y = lonlat_to_xy(pairs[:, 0], pairs[:, 1], "EPSG:27700")
    pts = np.column_stack([x, y])
    candidates = [pts]
    fits = [_centre(pts[i], pts[i + 1], pts[i + 2]) for i in range(len(pts) - 2)]
    fits = [c for c in fits if c is not None]
    if fits:
        candidates.append(np.array(fits))
    cands = np.vstack(candidates)
    for name, (lon, lat) in places.items():
        px, py = lonlat_to_xy(np.array([lon]), np.array([lat]), "EPSG:27700")
        best[name] = float(np.min(np.hypot(cands[:, 0] - px[0], cands[:, 1] - py[0])))
    return best


# -- the attacks --------------------------------------------------------------------------------
def test_the_attacks_work_on_the_analysts_unprotected_answers(attack):
    env, places, runs = attack
    full = env.get(f"/runs/{runs['dbscan-sensitive']}/hotspots").text
    hits = located(full, places)
    assert all(d < 1.0 for d in hits.values()), hits  # every planted place, to a metre
    metres = env.get(f"/ogc/collections/{runs['dbscan-sensitive']}/items?crs=EPSG:27700").text
    assert "[0." not in metres  # no degrees: the check finds the places in metres too
    hits = located(metres, places)
    assert all(d < 1.0 for d in hits.values()), hits
    incidents = env.get("/incidents?categories=domestic-abuse,sexual-offences&limit=1000").text
    assert STREET in incidents and "02:37" in incidents
    # the analyst's stored plan of the sensitive categories sends officers to planted
    # places (those in months every source of these categories covers): their street, and
    # a site whose centre lies within a hexagon's reach of one
    plan = env.get(f"/runs/{PLAN_RUNS['plan-sensitive']}/hotspots").json()
    assert STREET in json.dumps(plan)
    sites = [f["properties"] for f in plan["features"]]
    gaps = [
        GEOD.inv(lon, lat, site["centre_lon"], site["centre_lat"])[2]
        for lon, lat in places.values()
        for site in sites
    ]
    assert min(gaps) < 80, gaps  # a res-10 hexagon is ~66 m from centre to corner


@pytest.mark.parametrize("role", BELOW)
def test_no_answer_below_analyst_locates_names_or_times_a_planted_incident(attack, role):
    env, places, runs = attack
    answers = _answers(env, runs, role, places)
    assert len(answers) > 40
    # the isolated places: any fit near them could only come from the planted incidents
    # (the edge place sits among real incidents, whose public outlines may pass near it
    # by chance; it is covered by the name and time checks and by the analyst's attack)
    isolated = {k: v for k, v in places.items() if k != "edge"}
    for url, body in answers.items():
        hits = located(body, isolated)
        assert all(d > NEAR_M for d in hits.values()), (role, url, hits)
        assert STREET not in body, (role, url)
        told = WALL_CLOCK.sub("", body)  # when runs were made and answered: not incidents
        for t in TIMES:
            assert f"T{t}" not in told and f" {t}" not in told, (role, url, t)


def _public_counts(env) -> dict[tuple, int | None]:
    """(what, area) → count, over answers that differ by category and window."""
    counts: dict[tuple, int | None] = {}
    windows = [(None, None), ("2022-01", "2022-06"), ("2022-01", "2022-07"), ("2022-06", "2022-06")]
    category_sets = [
        None,
        "sexual-offences",
        "domestic-abuse",
        "domestic-abuse,sexual-offences",
        "violent-crime",
        "violent-crime,sexual-offences",
        "anti-social-behaviour,domestic-abuse",
    ]
    for kind in ("ward", "lsoa"):
        for start, end in windows:
            for cats in category_sets:
                params = {"kind": kind}
                params.update({k: v for k, v in (("from", start), ("to", end)) if v})
                if cats:
                    params["categories"] = cats
                doc = env.get("/areas", "public", params=params).json()
                what = (kind, start, end, cats)
                counts[(*what, "borough")] = doc["borough"]["count"]
                for f in doc["features"]:
                    counts[(*what, f["id"])] = f["properties"]["count"]
    return counts


def test_no_two_public_counts_differ_by_a_small_count(attack):
    env, _, runs = attack
    counts = _public_counts(env)
    by_area: dict[str, list[int]] = {}
    for key, n in counts.items():
        if n is not None:
            assert n >= MIN_COUNT and n % 5 == 0, (key, n)
            by_area.setdefault(key[-1], []).append(n)
    for area, values in by_area.items():
        for a, b in combinations(set(values), 2):
            assert abs(a - b) % 5 == 0, (area, a, b)  # never 1–4 apart
    for run in runs.values():
        doc = env.get(f"/runs/{run}/hotspots", "public").json()
        for f in doc["features"]:
            p = f["properties"]
            assert p["count"] % 5 == 0 and p["count"] >= MIN_COUNT
            assert all(v is None or v % 5 == 0 for v in p["categories"].values())
        n = env.get(f"/runs/{run}", "public").json()["n_incidents"]
        assert n is None or n % 5 == 0


def test_differencing_recovers_small_counts_from_the_analysts_exact_answers(attack):
    env, _, _ = attack
    url = "/areas?kind=lsoa&from=2022-06&to=2022-06"
    without = {f["id"]: f["properties"]["count"] for f in env.get(url).json()["features"]}
    both = (
        url
        + "&categories="
        + ",".join(["anti-social-behaviour", "sexual-offences", "domestic-abuse"])
    )
    plain = url + "&categories=anti-social-behaviour"
    a = {f["id"]: f["properties"]["count"] for f in env.get(both).json()["features"]}
    b = {f["id"]: f["properties"]["count"] for f in env.get(plain).json()["features"]}
    diffs = {k: a[k] - b[k] for k in a if a[k] != b[k]}
    assert diffs and all(1 <= d < MIN_COUNT for d in diffs.values()), diffs  # the attack works
    assert without  # and the public's answers to the same pair differ by nothing
    pa = {f["id"]: f["properties"]["count"] for f in env.get(both, "public").json()["features"]}
    pb = {f["id"]: f["properties"]["count"] for f in env.get(plain, "public").json()["features"]}
    assert pa == pb


def test_partners_see_opaque_incident_ids_with_no_gaps_to_count(attack):
    env, _, _ = attack
    doc = env.get("/incidents?limit=200", "partner").json()
    ids = [f["id"] for f in doc["features"]]
    assert ids and not any("#" in i for i in ids)
    assert all(re.fullmatch(r".+~[0-9a-f]{20}", i) for i in ids)
    one = env.get(f"/ogc/collections/incidents/items/{ids[0]}", "partner")
    assert one.status_code == 200 and one.json()["id"] == ids[0]
    raw = env.get("/incidents?limit=1", "analyst").json()["features"][0]["id"]
    probe = env.get(f"/ogc/collections/incidents/items/{raw.replace('#', '%23')}", "partner")
    assert probe.status_code == 404  # stored ids cannot be probed by partners


def test_a_share_link_applies_its_category_filter(attack):
    env, _, runs = attack
    made = env.post(
        "/share-links",
        json={
            "run_id": runs["dbscan"],
            "role": "partner",
            "filters": {"categories": ["anti-social-behaviour"], "from": "2022-03"},
        },
    )
    assert made.status_code == 201, made.text
    link = made.json()
    assert link["run_id"] != runs["dbscan"]
    doc = env.client.get(link["url"].replace("http://testserver", "") + "hotspots.geojson").json()
    assert doc["features"]
    assert all(
        set(f["properties"]["categories"]) == {"anti-social-behaviour"} for f in doc["features"]
    )
    assert doc["provenance"]["window"]["start"].startswith("2022-03")
    bad = env.post(
        "/share-links",
        json={"run_id": runs["kde-fine"], "filters": {"categories": ["burglary"]}},
    )
    assert bad.status_code == 409 and "filters.categories" in bad.text  # not in the run


def test_public_area_figures_give_no_exact_count_back(attack):
    """Found in review: ratios from exact counts, exact incidents outside the wards, and
    the order of exact rates each gave suppressed counts back."""
    env, _, _ = attack
    for kind in ("ward", "lsoa"):
        url = (
            f"/areas?kind={kind}&categories=domestic-abuse,sexual-offences&from=2022-06&to=2022-06"
        )
        doc = env.get(url, "anonymous").json()
        ids = [f["id"] for f in doc["features"]]
        assert ids == sorted(ids)  # not the order of the exact rates
        b = doc["borough"]
        assert b.get("outside_areas") is None or b["outside_areas"] % 5 == 0
        for f in doc["features"]:
            p = f["properties"]
            if p["count"] is None:
                assert p["rate"] is None and p["ratio_to_borough"] is None
            elif b["rate"]:
                assert p["ratio_to_borough"] == round(p["rate"] / b["rate"], 1)
    every = env.get("/areas?kind=ward", "anonymous").json()["borough"]
    assert every["outside_areas"] % 5 == 0


def test_public_briefings_give_no_rank_order_or_exact_outside_count(attack):
    env, places, _ = attack
    wards = env.store.boundaries("ward").to_crs("EPSG:4326")
    lon, lat = places["lone"]
    code = wards[wards.contains(shapely.Point(lon, lat))]["code"].iloc[0]
    url = f"/areas/wards/{code}/briefing"
    for month in ("2022-01", "2022-06"):
        params = {"f": "json", "categories": "domestic-abuse,sexual-offences"}
        doc = env.get(url, "anonymous", params={**params, "from": month, "to": month}).json()
        assert doc["totals"]["rank"] is None and doc["categories"] == []
    doc = env.get(url, "anonymous", params={"f": "json"}).json()
    counts = [r["count"] for r in doc["categories"]]
    assert counts == sorted(counts, key=lambda n: -(n or 0))
    for note in doc["notes"]:
        for n in re.findall(r"([\d,]+) incidents in the period are in no ward", note):
            assert int(n.replace(",", "")) % 5 == 0


def test_run_provenance_below_analyst_quotes_no_counts(attack):
    env, _, runs = attack
    for run in runs.values():
        for role in BELOW:
            prov = env.get(f"/runs/{run}", role).json()["provenance"]
            for choice in (prov.get("automatic") or {}).values():
                assert choice["reason"] == "chosen from the data", (role, choice)
        full = env.get(f"/runs/{run}").json()["provenance"]
        assert all(c["reason"] != "chosen from the data" for c in full["automatic"].values())


def test_coverage_below_analyst_says_nothing_of_sensitive_only_sources(attack):
    env, _, _ = attack
    assert "council/planted" in env.get("/coverage", "analyst").json()["sources"]
    seen = env.get("/coverage", "partner").json()
    assert "council/planted" not in seen["sources"]
    assert "sexual-offences" not in seen["categories"]


def test_public_hotspots_list_no_category_with_a_suppressed_count(attack):
    env, _, runs = attack
    for run in runs.values():
        for f in env.get(f"/runs/{run}/hotspots", "public").json()["features"]:
            assert None not in f["properties"]["categories"].values()
