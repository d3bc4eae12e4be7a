"""Every route of the web API, for every role, on both stores (the ``api_env`` fixture).

Responses are validated against response models (the service's own pydantic models
where it has them, GeoJSON / problem models here otherwise) and against the
OpenAPI document the service publishes. Expected values are computed from the stored
incident table with pandas and shapely, not through the API's code.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Literal
from urllib.parse import quote

import jsonschema_rs
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest
import shapely
from pydantic import BaseModel, ConfigDict, Field
from street_csv import police_csv  # tests/api/street_csv.py

from api.disclosure import Disclosure
from api.problems import PROBLEM_BASE
from api.routes.analyses import RunSummary
from api.routes.share import ShareLinkPublic
from geodata.model import JobRecord
from geodata.taxonomy import BY_SLUG

ROLES = ("anonymous", "public", "partner", "analyst", "revoked", "garbage")
RANK = {"public": 0, "partner": 1, "analyst": 2}
CENTRE = (0.36, 51.43, 0.38, 51.45)  # Gravesham town centre, lon/lat
MIN_COUNT = 5  # the default public_min_count the module's app runs with
SAFEGUARDING = ["domestic-abuse", "sexual-offences"]
JSON = "application/json"
SAFEGUARDING_CASES = 10  # in the conftest's demo, all in the town centre
LEAKS = re.compile(
    r"Traceback|File \"|SELECT |INSERT |psycopg|duckdb|_duckdb|/tmp/|hotspots-upload|"
    r"\bline \d+, in\b",
    re.I,
)


# -- response models -----------------------------------------------------------------------
class Loose(BaseModel):
    model_config = ConfigDict(extra="allow")


class Geometry(Loose):
    type: Literal["Point", "Polygon", "MultiPolygon", "LineString", "MultiPoint"]
    coordinates: list


class Feature(Loose):
    type: Literal["Feature"]
    id: str | int | None = None
    geometry: Geometry | None
    properties: dict[str, Any]


class FeatureCollection(Loose):
    type: Literal["FeatureCollection"]
    features: list[Feature]


class Link(Loose):
    rel: str
    href: str
    type: str


class IncidentProperties(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str
    category: str
    occurred_at: datetime
    occurred_precision: Literal["month", "day", "minute"]
    location: str | None
    lsoa_code: str | None
    ward_code: str | None
    source: str
    batch_id: str
    sensitive: bool


class IncidentPage(FeatureCollection):
    numberMatched: int = Field(ge=0)
    numberReturned: int = Field(ge=0)
    links: list[Link]


class ErrorItem(BaseModel):
    field: str | None
    where: str | None
    expected: Any
    received: Any


class Problem(Loose):
    type: str
    title: str
    status: int = Field(ge=400, le=599)
    detail: str
    instance: str | None = None
    errors: list[ErrorItem] | None = None


class BatchReportOut(Loose):
    batch_id: str
    source: str
    period: str
    files: list[str]
    status: Literal["created", "replaced", "unchanged", "checked"]
    rows_read: int
    rows_accepted: int
    rows_rejected: int
    rejected_by_reason: dict[str, int]


class ImportReportOut(BaseModel):
    rows_read: int
    rows_accepted: int
    rows_rejected: int
    rejected_by_reason: dict[str, int]
    batches: list[BatchReportOut]


class Job(BaseModel):
    job_id: str
    kind: str
    status: Literal["queued", "running", "done", "failed"]
    progress: float = Field(ge=0, le=1)
    message: str | None
    result: dict | None
    created_at: datetime
    updated_at: datetime


class QuarantineRow(Loose):
    batch_id: str | None
    file: str
    row_number: int
    reason: str
    field: str | None
    detail: str | None
    raw: str | None


class RunDetail(RunSummary):
    provenance: dict
    request: dict | None


class AreaProperties(Loose):
    area_code: str
    count: int | None
    rate: float | None
    previous_year_count: int | None
    change_pct: float | None
    suppressed: bool


# -- helpers --------------------------------------------------------------------------------
def check_problem(r, status: int, slug: str | None = None) -> Problem:
    """A problem+json answer with this status (and type slug), leaking nothing."""
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json", r.headers
    doc = Problem.model_validate(r.json())
    assert doc.status == status and doc.type.startswith(PROBLEM_BASE) and doc.detail
    if slug:
        assert doc.type == PROBLEM_BASE + slug, doc
    assert not LEAKS.search(r.text), r.text
    return doc


class OpenAPI:
    """Validates responses against the service's published OpenAPI document."""

    def __init__(self, spec: dict) -> None:
        self.spec = spec
        self.paths = [
            (re.compile("^" + re.sub(r"\{[^}/]+(:path)?\}", "[^/]+", p) + "$"), p)
            for p in spec["paths"]
        ]

    def operation(self, method: str, url: str) -> dict:
        path = url.split("?")[0]
        for pattern, template in self.paths:
            if pattern.match(path) and method.lower() in self.spec["paths"][template]:
                return self.spec["paths"][template][method.lower()]
        raise AssertionError(f"{method} {path} is not in the OpenAPI document")

    def check(self, method: str, url: str, r) -> None:
        op = self.operation(method, url)
        responses = op["responses"]
        documented = responses.get(str(r.status_code)) or responses.get("default")
        assert documented is not None, (method, url, r.status_code, list(responses))
        if r.status_code == 204 or not documented.get("content"):
            return
        media = r.headers["content-type"].split(";")[0]
        content = documented["content"]
        assert media in content, (method, url, media, list(content))
        schema = content[media].get("schema")
        if schema and media.endswith("json"):
            root = {**schema, "components": self.spec.get("components", {})}
            errors = [e.message for e in jsonschema_rs.validator_for(root).iter_errors(r.json())]
            assert not errors, (method, url, errors[:3])


def page_all(env, url: str, role: str = "analyst") -> tuple[list[dict], int]:
    """Follow ``next`` links: (every feature, numberMatched)."""
    features: list[dict] = []
    matched = None
    while url:
        r = env.get(url, role)
        assert r.status_code == 200, r.text
        doc = IncidentPage.model_validate(r.json())
        assert doc.numberReturned == len(doc.features)
        matched = doc.numberMatched if matched is None else matched
        assert doc.numberMatched == matched
        features += r.json()["features"]
        nxt = [lk.href for lk in doc.links if lk.rel == "next"]
        url = nxt[0].replace("http://testserver", "") if nxt else None
    return features, matched


@pytest.fixture(scope="module")
def env(api_env):
    return api_env


@pytest.fixture(scope="module")
def spec(env) -> OpenAPI:
    r = env.get("/openapi.json", "anonymous")
    assert r.status_code == 200
    return OpenAPI(r.json())


@pytest.fixture(scope="module")
def ctx(env) -> dict[str, str]:
    """Ids the route table needs: a run, a share link, a job, a ward, an incident."""
    made = env.post("/share-links", json={"run_id": env.run_ids[0], "expires_in_days": 7})
    assert made.status_code == 201, made.text
    link = ShareLinkPublic.model_validate(made.json())
    job_id = "job_route_table"
    env.store.add_job(
        JobRecord(job_id, "import-police", "done", 1.0, "imported", {"rows_read": 0}, *[_now()] * 2)
    )
    table = env.table
    plain = table.filter(pc.invert(table["sensitive"]))
    return {
        "run": env.run_ids[0],
        "token": link.url.rstrip("/").rsplit("/", 1)[1],
        "link": link.link_id,
        "job": job_id,
        "ward": env.store.boundaries("ward")["code"].iloc[0],
        # the opaque id partners are shown (analysts may use it too)
        "incident": quote(
            Disclosure.for_role("partner", env.client.app.state.settings.api).incident_id(
                plain["id"][0].as_py()
            ),
            safe="",
        ),
    }


def _now() -> datetime:
    from api.security import now_utc

    return now_utc()


# -- every route x every role ----------------------------------------------------------------
# (method, url, minimum role or None when the route takes no key, extra request arguments)
# The minimum role is the specification (issue 4): public = aggregates, partner = hotspots,
# maps and non-sensitive points, analyst = everything.
ROUTES: list[tuple[str, str, str | None, dict]] = [
    ("GET", "/health", None, {}),
    ("GET", "/ready", None, {}),
    ("GET", "/categories", None, {}),
    ("GET", "/incidents?limit=5", "partner", {}),
    ("GET", "/incidents?area=ward:{ward}&categories=burglary&limit=5", "partner", {}),
    (
        "POST",
        "/imports",
        "analyst",
        {
            "files": {"file": ("2024-05-kent-street.csv", police_csv("2024-05", 3), "text/csv")},
            "data": {"dry_run": "true"},
        },
    ),
    ("GET", "/jobs/{job}", "analyst", {}),
    ("GET", "/batches", "analyst", {}),
    ("GET", "/quarantine?limit=5", "analyst", {}),
    ("POST", "/analyses", "analyst", {"json": {"method": "dbscan", "min_samples": 40}}),
    ("GET", "/runs", "public", {}),
    ("GET", "/runs/{run}", "public", {}),
    ("GET", "/runs/{run}/hotspots", "public", {}),
    ("GET", "/areas?kind=ward", "public", {}),
    ("GET", "/areas?kind=lsoa&categories=robbery", "public", {}),
    ("GET", "/runs/{run}/map", "partner", {}),
    ("POST", "/share-links", "analyst", {"json": {"run_id": "{run}", "expires_in_days": 3}}),
    ("GET", "/share-links", "analyst", {}),
    ("GET", "/share-links/{link}/opens", "analyst", {}),
    ("DELETE", "/share-links/{new_link}", "analyst", {}),
    ("GET", "/share/{token}/", None, {}),
    ("GET", "/share/{token}/hotspots.geojson", None, {}),
    ("GET", "/ogc", None, {}),
    ("GET", "/ogc/conformance", None, {}),
    ("GET", "/ogc/collections", "public", {}),
    ("GET", "/ogc/collections/wards", "public", {}),
    ("GET", "/ogc/collections/wards/items?limit=3", "public", {}),
    ("GET", "/ogc/collections/wards/items/{ward}", "public", {}),
    ("GET", "/ogc/collections/hotspots-dbscan/items?limit=3", "public", {}),
    ("GET", "/ogc/collections/{run}/items?limit=3", "public", {}),
    ("GET", "/ogc/collections/incidents", "partner", {}),
    ("GET", "/ogc/collections/incidents/items?limit=3", "partner", {}),
    ("GET", "/ogc/collections/incidents/items/{incident}", "partner", {}),
]
#: operations of issue 4 the table must cover (other issues' routes are checked by schemathesis)
ISSUE_4_OPERATIONS = {
    "read_health",
    "read_ready",
    "list_categories",
    "list_incidents",
    "create_import",
    "read_job",
    "list_batches",
    "list_quarantine",
    "create_analysis",
    "list_runs",
    "read_run",
    "read_run_hotspots",
    "list_areas",
    "read_run_map",
    "create_share_link",
    "list_share_links",
    "revoke_share_link",
    "list_share_link_opens",
    "open_share_link",
    "read_share_link_hotspots",
    "ogc_landing_page",
    "ogc_conformance",
    "ogc_list_collections",
    "ogc_read_collection",
    "ogc_list_items",
    "ogc_read_item",
}


def expected_status(minimum: str | None, role: str, ok: int) -> int:
    if minimum is None:
        return ok
    if role in ("revoked", "garbage"):
        return 401
    if role == "anonymous":
        return ok if minimum == "public" else 401
    return ok if RANK[role] >= RANK[minimum] else 403


def success_status(method: str, url: str) -> int:
    if method == "DELETE":
        return 204
    if url == "/share-links" and method == "POST":
        return 201
    if url == "/imports":
        return 200  # a dry run
    return 200  # /analyses: the template's identical run is reused


def test_the_route_table_covers_every_operation_of_the_service(spec):
    ops = {op["operationId"] for item in spec.spec["paths"].values() for op in item.values()}
    assert ops >= ISSUE_4_OPERATIONS
    table = {spec.operation(m, u)["operationId"] for m, u, _, _ in ROUTES}
    assert table == ISSUE_4_OPERATIONS
    for item in spec.spec["paths"].values():
        for op in item.values():
            assert op.get("summary"), op["operationId"]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(
    ("method", "url", "minimum", "extra"), ROUTES, ids=[f"{m} {u}" for m, u, _, _ in ROUTES]
)
def test_every_route_answers_every_role_as_specified(
    env, spec, ctx, role, method, url, minimum, extra
):
    values = dict(ctx)
    if "{new_link}" in url:
        made = env.post("/share-links", json={"run_id": ctx["run"]})
        values["new_link"] = made.json()["link_id"]
    url = url.format(**values)
    if "json" in extra:
        extra = {
            **extra,
            "json": {
                k: str(v).format(**values) if k == "run_id" else v for k, v in extra["json"].items()
            },
        }
    r = env.request(method, url, role, **extra)
    want = expected_status(minimum, role, success_status(method, url.split("?")[0]))
    spec.check(method, url, r)
    if want >= 400:
        doc = check_problem(r, want)
        if want == 401:
            assert r.headers.get("www-authenticate") == "Bearer"
            assert "key" in doc.detail
        if method == "DELETE":
            live = {link["link_id"]: link for link in env.get("/share-links").json()}
            assert live[values["new_link"]]["revoked_at"] is None  # refused: still live
        return
    assert r.status_code == want, (role, r.text[:500])
    assert "Traceback" not in r.text and "hotspots-upload" not in r.text
    kind = r.headers.get("content-type", "")
    if want == 204:
        assert not r.content
    elif kind.startswith("text/html"):
        assert r.text.lower().startswith("<!doctype html>")
    elif kind.startswith("application/geo+json"):
        model = Feature if "/items/" in url else FeatureCollection
        model.model_validate(r.json())
    if url.startswith("/incidents"):
        doc = IncidentPage.model_validate(r.json())
        for f in doc.features:
            props = IncidentProperties.model_validate(f.properties)
            assert props.category in BY_SLUG
            assert not props.sensitive or role == "analyst"
    elif url in ("/runs",):
        [RunSummary.model_validate(x) for x in r.json()]
    elif re.fullmatch(r"/runs/[^/]+", url):
        RunDetail.model_validate(r.json())
    elif url == "/analyses":
        assert RunSummary.model_validate(r.json()).run_id == ctx["run"]
    elif url.startswith("/share-links") and method == "POST":
        ShareLinkPublic.model_validate(r.json())
    elif url == "/share-links":
        [ShareLinkPublic.model_validate(x) for x in r.json()]
    elif url == "/imports":
        report = ImportReportOut.model_validate(r.json())
        assert report.rows_accepted == 3 and report.batches[0].status == "checked"
    elif url.startswith("/jobs/"):
        assert Job.model_validate(r.json()).status == "done"
    elif url.startswith("/quarantine"):
        [QuarantineRow.model_validate(x) for x in r.json()]
    elif url.startswith("/areas"):
        for f in FeatureCollection.model_validate(r.json()).features:
            AreaProperties.model_validate(f.properties)


def test_an_authorization_header_that_is_not_bearer_is_401(env):
    r = env.get("/runs", "anonymous", headers={"Authorization": "Basic dXNlcjpwdw=="})
    check_problem(r, 401)
    ok = env.get(
        "/incidents?limit=1",
        "anonymous",
        headers={"Authorization": "Bearer " + env.headers["partner"]["X-API-Key"]},
    )
    assert ok.status_code == 200


# -- sensitive incidents never leave as points below analyst --------------------------------
def sensitive_places(env) -> set[tuple[float, float]]:
    """Where the safeguarding cases are (police.uk snap points are shared by many
    incidents, so a bicycle theft's snap point may rightly show another crime)."""
    t = env.table.filter(pc.is_in(env.table["category"], pa.array(SAFEGUARDING)))
    return {(round(x, 5), round(y, 5)) for x, y in zip(t["lon"].to_pylist(), t["lat"].to_pylist())}


def assert_no_sensitive_points(env, fc: dict, where: str) -> None:
    """No Point at a sensitive incident, and no hotspot small enough to stand for one."""
    places, sensitive = sensitive_places(env), env_sensitive(env)
    for f in fc["features"]:
        geom = f.get("geometry") or {}
        if geom.get("type") == "Point":
            lon, lat = geom["coordinates"][:2]
            assert (round(lon, 5), round(lat, 5)) not in places, (where, f)
        p = f["properties"]
        if "category" in p:  # an incident
            assert p["category"] not in sensitive and not p.get("sensitive"), where
        holds = sum((p.get("categories") or {}).get(c) or 0 for c in sensitive)
        if holds:
            assert p["count"] is not None and p["count"] >= MIN_COUNT, (where, p)
            assert p.get("distinct_points") != 1, (where, p)


def in_box(frame: pd.DataFrame, box) -> pd.Series:
    return frame["lon"].between(box[0], box[2]) & frame["lat"].between(box[1], box[3])


def env_sensitive(env) -> set[str]:
    t = env.table.filter(env.table["sensitive"])
    return set(t["category"].to_pylist())


def test_the_demo_holds_sensitive_incidents_of_the_taxonomy(env, api_kit):
    assert env_sensitive(env) == set(api_kit.sensitive)
    assert {"domestic-abuse", "sexual-offences"} <= env_sensitive(env)


def test_incident_points_hold_no_sensitive_incident_below_analyst(env):
    table = env.table.to_pandas()
    inside = table[in_box(table, CENTRE)]
    assert inside["category"].isin(SAFEGUARDING).sum() == SAFEGUARDING_CASES
    box = ",".join(map(str, CENTRE))
    features, matched = page_all(env, f"/incidents?bbox={box}&limit=2000", "partner")
    assert matched == (~inside["sensitive"]).sum() == len(features)
    partner = Disclosure.for_role("partner", env.client.app.state.settings.api)
    shown = {partner.incident_id(i) for i in inside.loc[~inside["sensitive"], "id"]}
    assert {f["id"] for f in features} == shown
    assert not any("#" in f["id"] for f in features)  # ids are opaque below analyst
    assert_no_sensitive_points(env, {"features": features}, "/incidents")
    for cat in ("domestic-abuse", "sexual-offences"):
        r = env.get(f"/incidents?categories={cat}", "partner")
        assert r.status_code == 200 and r.json()["numberMatched"] == 0
        assert env.get(f"/incidents?categories={cat}").json()["numberMatched"] > 0
    ogc = env.get(f"/ogc/collections/incidents/items?bbox={box}&limit=10000", "partner").json()
    assert ogc["numberMatched"] == matched
    assert_no_sensitive_points(env, ogc, "/ogc/collections/incidents/items")
    sensitive = list(table.loc[table["sensitive"], "id"])
    for fid in sensitive[:3] + sensitive[-3:]:
        url = f"/ogc/collections/incidents/items/{quote(fid, safe='')}"
        check_problem(env.get(url, "partner"), 404)
        assert env.get(url).json()["properties"]["sensitive"] is True


def test_hotspots_of_sensitive_incidents_are_withheld_below_analyst(env, sensitive_run):
    full = env.get(f"/runs/{sensitive_run}/hotspots").json()
    assert full["features"] and all(f["properties"]["count"] >= 1 for f in full["features"])
    district = env.store.boundaries("district").to_crs("EPSG:4326")
    (own,) = env.get(f"/ogc/collections/{sensitive_run}").json()["extent"]["spatial"]["bbox"]
    assert shapely.box(*CENTRE).contains(shapely.box(*own))  # the analyst sees the cases' bounds
    for role in ("anonymous", "public", "partner"):
        doc = env.get(f"/runs/{sensitive_run}/hotspots", role).json()
        assert doc["features"] == [], role  # built without the sensitive incidents
        assert doc["disclosure"]["sensitive_incidents"].startswith("left out"), role
        items = env.get(f"/ogc/collections/{sensitive_run}/items", role).json()
        assert items["features"] == [] and items["numberMatched"] == 0
        coll = env.get(f"/ogc/collections/{sensitive_run}", role).json()
        (bbox,) = coll["extent"]["spatial"]["bbox"]  # the study area, not the cases' bounds
        assert bbox == pytest.approx(list(district.total_bounds))
        latest = env.get("/ogc/collections/hotspots-dbscan/items?limit=1000", role).json()
        assert_no_sensitive_points(env, latest, f"ogc latest dbscan as {role}")
    page = env.get(f"/runs/{sensitive_run}/map", "partner")
    whole = env.get(f"/runs/{sensitive_run}/map")
    assert page.status_code == whole.status_code == 200
    for f in full["features"]:
        ring = f["geometry"]["coordinates"][0]
        pairs = [  # a ring vertex as the map's GeoJSON writes it, rounded to 5 places
            re.compile(rf"\[\s*{round(lon, 5)}\s*,\s*{round(lat, 5)}\s*\]".replace(".", r"\."))
            for lon, lat in ring
        ]
        shown = [x for x in pairs if x.search(whole.text)]
        assert shown and not [x for x in shown if x.search(page.text)], shown
    for cat in ("domestic-abuse", "sexual-offences"):
        assert cat in whole.text and cat not in page.text


@pytest.mark.parametrize("role", ["public", "partner"])
def test_no_route_shows_sensitive_points_below_analyst(env, sensitive_run, role):
    for run_id in [*env.run_ids, sensitive_run]:
        doc = env.get(f"/runs/{run_id}/hotspots", role).json()
        assert_no_sensitive_points(env, doc, f"/runs/{run_id}/hotspots")
        ogc = env.get(f"/ogc/collections/{run_id}/items?limit=1000", role).json()
        assert_no_sensitive_points(env, ogc, f"ogc {run_id}")
        link = env.post("/share-links", json={"run_id": run_id, "role": role}).json()
        shared = env.client.get(link["url"].replace("http://testserver", "") + "hotspots.geojson")
        assert shared.status_code == 200
        assert_no_sensitive_points(env, shared.json(), f"share link of {run_id}")
    for cid in ("wards", "lsoas"):
        doc = env.get(f"/ogc/collections/{cid}/items?limit=1000", role).json()
        assert all(f["geometry"]["type"] != "Point" for f in doc["features"])


def test_analysts_see_the_sensitive_hotspots_whole(env, sensitive_run):
    doc = env.get(f"/runs/{sensitive_run}/hotspots").json()
    cats = {c for f in doc["features"] for c in f["properties"]["categories"]}
    assert cats == {"domestic-abuse", "sexual-offences"}
    assert sum(f["properties"]["count"] for f in doc["features"]) == 10
    assert "withheld" not in doc


# -- public suppression ------------------------------------------------------------------------
def round5(n: int) -> int | None:
    """The public's view of a count: suppressed below MIN_COUNT, else to the nearest 5."""
    return None if n < MIN_COUNT else 5 * int(n / 5 + 0.5)


def test_public_area_counts_are_rounded_suppressed_and_leave_sensitive_out(env):
    url = "/areas?kind=lsoa&categories=robbery,bicycle-theft"  # bicycle-theft is sensitive here
    t = env.table.to_pandas()
    mixed = t[t["category"].isin(["robbery", "bicycle-theft"])]
    plain = mixed[~mixed["sensitive"]]["lsoa_code"].value_counts()
    full = {f["id"]: f["properties"] for f in env.get(url).json()["features"]}
    for code, p in full.items():  # the analyst: exact, sensitive incidents included
        assert p["count"] == int((mixed["lsoa_code"] == code).sum())
    for role in ("anonymous", "public"):
        doc = env.get(url, role).json()
        assert (
            doc["sensitive_counted"] is False and "not counted in public totals" in doc["notes"][0]
        )
        assert "bicycle-theft" not in doc["notes"][0]  # which categories hold data is not said
        shown = {f["id"]: f["properties"] for f in doc["features"]}
        assert set(shown) == set(full)
        small = [k for k in full if plain.get(k, 0) < MIN_COUNT]
        assert small and len(small) < len(full)
        for code, p in shown.items():
            want = round5(int(plain.get(code, 0)))
            assert p["count"] == want, (code, p)
            if want is None:
                assert p["suppressed"] is True and p["rate"] is None
            else:
                assert p["suppressed"] is False and p["rate"] == pytest.approx(
                    1000 * want / p["population"], abs=0.01
                )
        inside = plain[plain.index.isin(list(shown))]
        assert doc["borough"]["count"] == round5(int(inside.sum()))
    alone = env.get("/areas?kind=lsoa&categories=bicycle-theft", "public").json()
    assert alone["sensitive_counted"] is True  # a sensitive category asked for on its own
    partner = {
        f["id"]: f["properties"]["count"] for f in env.get(url, "partner").json()["features"]
    }
    assert partner == {k: p["count"] for k, p in full.items()}


def test_public_hotspots_are_rounded_and_small_ones_withheld(env):
    # hexagons by count: every cell with an incident is a hotspot, many with small counts
    # (Gi* no longer ranks cells with few incidents of their own: issue 13)
    made = env.post("/analyses", json={"method": "hexes", "resolution": 10})
    assert made.status_code == 201, made.text
    run_id = made.json()["run_id"]
    partner = {
        f["id"]: f["properties"]
        for f in env.get(f"/runs/{run_id}/hotspots", "partner").json()["features"]
    }
    doc = env.get(f"/runs/{run_id}/hotspots", "public").json()
    assert doc["suppression"] == {"role": "public", "min_count": MIN_COUNT, "rounding": 5}
    shown = {f["id"]: f["properties"] for f in doc["features"]}
    assert set(shown) == {k for k, p in partner.items() if p["count"] >= MIN_COUNT}
    assert len(shown) < len(partner) and doc["withheld"]["small_count"] > 0
    for hid, p in shown.items():
        orig = partner[hid]
        assert p["count"] == round5(orig["count"]) and p["suppressed"] is False
        for cat, n in p["categories"].items():
            assert n == round5(orig["categories"][cat])
        assert all(n is not None and n % 5 == 0 for _, n in p["top_locations"])
        monthly = (p.get("profile") or {}).get("monthly") or {}
        assert all(v is None or (v >= MIN_COUNT and v % 5 == 0) for v in monthly.values())
        assert "volume_component" not in p and "distinct_points" not in p


# -- incidents: filters and paging against an independent selection --------------------------
def ward_polygon(env, code: str):
    wards = env.store.boundaries("ward").to_crs("EPSG:4326")
    return wards.loc[wards["code"] == code].geometry.iloc[0]


@pytest.mark.parametrize(
    "query",
    [
        "bbox=0.36,51.43,0.38,51.45",
        "area=ward:{ward}",
        "categories=burglary,robbery",
        "from=2022-03&to=2022-05",
        "from=2022-06-10&to=2022-09-20&categories=violent-crime,domestic-abuse",
        "bbox=0.30,51.40,0.40,51.46&categories=anti-social-behaviour&from=2022-11",
        "area=ward:{ward}&to=2022-02&categories=shoplifting,other-theft,burglary",
    ],
)
@pytest.mark.parametrize("role", ["partner", "analyst"])
def test_incident_filters_and_pages_match_an_independent_selection(env, ctx, query, role):
    query = query.format(**ctx)
    t = env.table.to_pandas()
    keep = pd.Series(True, index=t.index)
    params = dict(p.split("=") for p in query.split("&"))
    if "bbox" in params:
        keep &= in_box(t, [float(v) for v in params["bbox"].split(",")])
    if "area" in params:
        poly = ward_polygon(env, params["area"].split(":")[1])
        keep &= shapely.intersects(poly, shapely.points(t["lon"], t["lat"]))
    if "categories" in params:
        keep &= t["category"].isin(params["categories"].split(","))
    if "from" in params:
        keep &= t["occurred_at"] >= pd.Timestamp(params["from"])
    if "to" in params:
        end = pd.Timestamp(params["to"]) + (
            pd.offsets.MonthBegin(1) if len(params["to"]) == 7 else pd.Timedelta(days=1)
        )
        keep &= t["occurred_at"] < end
    if role != "analyst":
        keep &= ~t["sensitive"]
    policy = Disclosure.for_role(role, env.client.app.state.settings.api)
    stored = {policy.incident_id(i): i for i in t.loc[keep, "id"]}
    assert len(stored) > 0
    limit = max(1, len(stored) // 3 + 1)
    features, matched = page_all(env, f"/incidents?{query}&limit={limit}", role)
    ids = [f["id"] for f in features]
    assert matched == len(stored) == len(ids) and len(set(ids)) == len(ids)
    assert set(ids) == set(stored)
    in_order = [stored[i] for i in ids]
    assert in_order == sorted(in_order, key=lambda s: s.encode())  # id order, C collation
    for f in features[:50]:
        lon, lat = f["geometry"]["coordinates"]
        row = t.loc[t["id"] == stored[f["id"]]].iloc[0]
        assert (lon, lat) == pytest.approx((row["lon"], row["lat"]))
        assert f["properties"]["category"] == row["category"]


def test_incident_pages_are_stable_and_the_last_has_no_next_link(env):
    first = env.get("/incidents?categories=robbery&limit=7").json()
    again = env.get("/incidents?categories=robbery&limit=7").json()
    assert first["features"] == again["features"]
    total = first["numberMatched"]
    last = env.get(f"/incidents?categories=robbery&limit=7&offset={total - 3}").json()
    assert last["numberReturned"] == 3 and last["links"] == []
    beyond = env.get(f"/incidents?categories=robbery&offset={total + 10}").json()
    assert beyond["features"] == [] and beyond["numberMatched"] == total
    empty = env.get("/incidents?limit=0&categories=robbery").json()
    assert empty["numberReturned"] == 0 and empty["numberMatched"] == total


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("bbox=a,b,c,d", "bbox"),
        ("bbox=0.4,51.4,0.3,51.5", "bbox"),
        ("bbox=0.3,51.4,0.4", "bbox"),
        ("bbox=nan,51.4,0.4,51.5", "bbox"),
        ("categories=nope", "categories"),
        ("categories=,", "categories"),
        ("area=E05000001", "area"),
        ("area=county:X", "area"),
        ("from=2022-13", "from"),
        ("from=yesterday", "from"),
        ("from=2022-05&to=2022-01", "to"),
        ("limit=-1", "limit"),
        ("limit=ten", "limit"),
        ("offset=-5", "offset"),
        ("offset=99999999999999999999", "offset"),
    ],
)
def test_bad_incident_filters_are_422_naming_the_field(env, query, field):
    r = env.get(f"/incidents?{query}")
    doc = check_problem(r, 422)
    assert field in doc.detail and "received" in doc.detail
    if doc.errors:
        assert doc.errors[0].field == field


# -- analyses -----------------------------------------------------------------------------------
def test_an_analysis_is_created_once_and_reused_with_provenance_and_results(env):
    body = {"method": "hexes", "categories": ["shoplifting"], "from": "2022-04", "to": "2022-09"}
    made = env.post("/analyses", json=body)
    assert made.status_code == 201, made.text
    run = RunSummary.model_validate(made.json())
    assert run.method == "hexes" and run.links["self"] == f"/runs/{run.run_id}"
    again = env.post("/analyses", json=dict(reversed(body.items())))
    assert again.status_code == 200 and again.json()["run_id"] == run.run_id
    other = env.post("/analyses", json={**body, "to": "2022-10"})
    assert other.status_code == 201 and other.json()["run_id"] != run.run_id

    t = env.table.to_pandas()
    chosen = t[
        (t["category"] == "shoplifting")
        & (t["occurred_at"] >= "2022-04-01")
        & (t["occurred_at"] < "2022-10-01")
    ]
    assert run.n_incidents == len(chosen)
    detail = RunDetail.model_validate(env.get(f"/runs/{run.run_id}", "public").json())
    prov = detail.provenance
    # the public gets the count rounded to the nearest 5
    assert prov["method"] == "hexes" and abs(prov["n_incidents"] - len(chosen)) <= 2
    assert prov["n_incidents"] % 5 == 0
    assert prov["categories"] == ["shoplifting"]
    assert detail.request["from"] == "2022-04" and detail.request["to"] == "2022-09"
    assert set(prov["batches"]) >= {f"police-uk/kent-police/2022-{m:02d}" for m in range(4, 10)}

    r = env.get(f"/runs/{run.run_id}/hotspots")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/geo+json")
    fc = FeatureCollection.model_validate(r.json())
    assert len(fc.features) == run.hotspots > 0
    ranks = [f.properties["rank"] for f in fc.features]
    assert sorted(ranks) == list(range(1, len(ranks) + 1))
    for f in fc.features:
        assert f.geometry.type in ("Polygon", "MultiPolygon")
        assert set(f.properties["categories"]) == {"shoplifting"}
        assert f.properties["count"] == f.properties["categories"]["shoplifting"]
    assert sum(f.properties["count"] for f in fc.features) <= len(chosen)
    listed = [RunSummary.model_validate(x) for x in env.get("/runs?method=hexes", "public").json()]
    assert run.run_id in {x.run_id for x in listed}
    assert {x.method for x in listed} == {"hexes"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"method": "voronoi"}, "method"),
        ({"method": "dbscan", "eps_m": -1}, "eps_m"),
        ({"method": "gistar", "resolution": 3}, "resolution"),
        ({"method": "dbscan", "colour": "red"}, "colour"),
        ({"method": "dbscan", "categories": ["nope"]}, "categories[0]"),
        ({"method": "dbscan", "from": "2022-13"}, "from"),
        ({"method": "dbscan", "from": "2022-06", "to": "2022-01"}, "to"),
        ({"method": "kde", "weights": {"beauty": 1}}, "weights"),
    ],
)
def test_bad_analysis_requests_are_422_naming_the_field(env, body, field):
    doc = check_problem(env.post("/analyses", json=body), 422)
    assert field in doc.detail and "received" in doc.detail
    assert doc.errors and doc.errors[0].field.split(".")[0] == field
    assert doc.errors[0].where == "body" and "query" not in doc.detail


@pytest.mark.parametrize(
    ("content", "kind", "field", "received"),
    [
        (b"method=dbscan", "application/x-www-form-urlencoded", None, "(13 bytes, not JSON)"),
        (b"null", JSON, None, None),
        (b"[1, 2]", JSON, None, "(list)"),
        (
            b'{"method": "kde", "weights": {"volume": NaN}}',
            "application/json",
            "weights.volume",
            "nan",
        ),
        (b'{"method": "dbscan", "eps_m": Infinity}', "application/json", "eps_m", "inf"),
    ],
)
def test_bodies_of_the_wrong_shape_are_422_never_500(env, content, kind, field, received):
    r = env.post("/analyses", content=content, headers={"content-type": kind})
    doc = check_problem(r, 422, "invalid-input")
    assert doc.errors[0].field == field and doc.errors[0].where == "body"
    assert doc.errors[0].received == received
    assert doc.detail.startswith("body") and "received" in doc.detail


def test_a_body_that_is_not_json_is_a_422_saying_so(env):
    r = env.post(
        "/analyses", content=b"{method: dbscan", headers={"content-type": "application/json"}
    )
    doc = check_problem(r, 422, "invalid-input")
    assert doc.errors[0].expected == "a JSON document" and "not JSON" in doc.detail


def test_unknown_runs_are_404_problems_on_every_run_route(env):
    for url in ("/runs/run-0000", "/runs/run-0000/hotspots", "/runs/run-0000/map"):
        check_problem(env.get(url), 404, "not-found")
    r = env.post("/share-links", json={"run_id": "run-0000"})
    check_problem(r, 404, "not-found")


# -- areas --------------------------------------------------------------------------------------
def test_lsoa_counts_and_rates_per_1000_match_the_stored_incidents(env):
    doc = env.get("/areas?kind=lsoa&categories=anti-social-behaviour").json()
    t = env.table.to_pandas()
    counts = t.loc[t["category"] == "anti-social-behaviour", "lsoa_code"].value_counts()
    pop = env.store.population("lsoa")
    pop = pop[pop["year"] == pop["year"].max()].set_index("area_code")["population"]
    codes = set(env.store.boundaries("lsoa")["code"])
    assert {f["id"] for f in doc["features"]} == codes
    for f in doc["features"]:
        p = AreaProperties.model_validate(f["properties"])
        assert p.count == counts.get(f["id"], 0)
        assert p.rate == pytest.approx(1000 * p.count / pop[f["id"]], rel=1e-3)
        assert p.previous_year_count is None and p.change_pct is None  # no 2021 data
        assert shapely.geometry.shape(f["geometry"]).is_valid
    inside = counts[counts.index.isin(codes)].sum()
    assert doc["borough"]["count"] == inside
    assert doc["borough"]["rate"] == pytest.approx(1000 * inside / pop[list(codes)].sum(), 1e-3)
    wards = env.get("/areas?kind=ward&categories=anti-social-behaviour").json()
    total = sum(f["properties"]["count"] for f in wards["features"])
    assert total == t.loc[t["category"] == "anti-social-behaviour", "ward_code"].notna().sum()


# -- limits -------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tight(env, api_kit):
    """The module's store served with small limits."""
    app = api_kit.make_app(
        env.store, env.kind, max_bbox_km2=2.0, max_window_days=92, max_page_size=50
    )
    with api_kit.TestClient(app) as client:
        yield client


@pytest.mark.parametrize(
    ("url", "slug", "words"),
    [
        ("/incidents?bbox=0.30,51.40,0.40,51.46", "bbox-too-large", "limit is 2 km²"),
        ("/incidents?bbox=0.36,51.43,0.38,51.45", "bbox-too-large", "limit is 2 km²"),
        ("/incidents?from=2022-01&to=2022-06", "window-too-long", "limit is 92 days"),
        ("/areas?from=2022-01-01&to=2022-12-31", "window-too-long", "limit is 92 days"),
        (
            "/ogc/collections/incidents/items?datetime=2022-01-01/2022-12-31",
            "window-too-long",
            "92",
        ),
        ("/incidents?limit=51", "invalid-input", "0 to 50"),
        ("/ogc/collections/wards/items?limit=51", "invalid-input", "1 to 50"),
    ],
)
def test_limits_refuse_with_a_clear_problem(env, tight, url, slug, words):
    r = tight.get(url, headers=env.headers["analyst"])
    doc = check_problem(r, 422, slug)
    assert words in doc.detail
    ok = tight.get(
        "/incidents?bbox=0.370,51.440,0.380,51.445&from=2022-01&to=2022-03&limit=50",
        headers=env.headers["analyst"],
    )
    assert ok.status_code == 200 and ok.json()["numberReturned"] <= 50


def test_a_request_over_the_time_limit_is_a_503_timeout_problem(env, api_kit):
    app = api_kit.make_app(env.store, env.kind, request_timeout_s=0.001)
    with api_kit.TestClient(app) as client:
        r = client.get("/areas?kind=lsoa", headers=env.headers["analyst"])
    doc = check_problem(r, 503, "timeout")
    assert r.headers["retry-after"] and "0.001 s" in doc.detail


# -- failures: no leaks, store unavailable ---------------------------------------------------
def test_errors_never_leak_sql_paths_or_tracebacks(env):
    urls = [
        "/incidents?offset=99999999999999999999",
        "/incidents?categories=';DROP TABLE incidents;--",
        "/incidents?area=ward:'; DELETE FROM incidents; --",
        "/ogc/collections/incidents/items?offset=99999999999999999999",
        "/ogc/collections/run-'%3B--/items",
        "/quarantine?batch_id=' OR 1=1 --",
        "/runs/' OR '1'='1",
        "/share/%27%3B--/",
    ]
    for url in urls:
        r = env.get(url)
        if r.status_code >= 400 and r.headers["content-type"] == "application/problem+json":
            check_problem(r, r.status_code)
        assert r.status_code < 500, (url, r.text)
        assert not LEAKS.search(r.text), (url, r.text)
    assert env.get("/quarantine?batch_id=' OR 1=1 --").json() == []


def test_an_unavailable_store_is_a_503_with_retry_after_never_500(api_template, api_kit, tmp_path):
    with api_kit.copy_of(api_template, tmp_path) as (_, store):
        app = api_kit.make_app(store, api_template.kind)
        with api_kit.TestClient(app, raise_server_exceptions=False) as client:
            headers = api_template.headers["analyst"]
            assert client.get("/incidents?limit=1", headers=headers).status_code == 200
            store.close()
            assert client.get("/health").status_code == 200
            for url in (
                "/ready",
                "/incidents?limit=1",
                "/runs",
                f"/runs/{api_template.run_ids[0]}/hotspots",
                "/areas",
                "/ogc/collections",
                "/ogc/collections/wards/items",
                "/batches",
            ):
                r = client.get(url, headers=headers)
                check_problem(r, 503)
                assert int(r.headers["retry-after"]) > 0, url
            r = client.get("/runs", headers={"X-API-Key": "hsk_whatever"})
            check_problem(r, 503)


def test_a_service_started_while_postgis_is_down_answers_503_not_a_crash(api_kit):
    from api.settings import ApiSettings, Settings
    from geodata.settings import StoreSettings

    dead = StoreSettings(database_url="postgresql://postgres@127.0.0.1:1/none", connect_timeout_s=1)
    app = api_kit.create_app(Settings(ApiSettings(secret_key=api_kit.secret), dead))
    with api_kit.TestClient(app, raise_server_exceptions=False) as client:
        assert client.get("/health").json() == {"status": "ok"}
        for url in ("/ready", "/incidents", "/runs", "/areas", "/ogc/collections", "/share/x.y/"):
            r = client.get(url, headers={"X-API-Key": "hsk_anything"})
            check_problem(r, 503, "store-unavailable")
            assert int(r.headers["retry-after"]) > 0
        assert client.get("/ogc").status_code == 200  # needs no store
