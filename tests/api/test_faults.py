"""No 5xx from input (issue 14): each parameter range the service cannot honour is
refused with a 4xx problem naming the parameter; and an unexpected server error leaves
the keep-alive connection usable. On both stores.
"""

from __future__ import annotations

import json
import socket

import httpx
import pytest
from live_server import serve  # tests/api/live_server.py

PROBLEM = "application/problem+json"
POLYGON = {
    "type": "Polygon",
    "coordinates": [[[0.37, 51.44], [0.38, 51.44], [0.38, 51.45], [0.37, 51.44]]],
}
NAN_POLYGON = (
    b'{"title": "x", "kind": "patrols", "start_date": "2023-01-01", "geometry": '
    b'{"type": "Polygon", "coordinates": [[[NaN, 51.44], [0.38, 51.44], [0.38, 51.45], '
    b"[NaN, 51.44]]]}}"
)


@pytest.fixture(scope="module")
def env(api_env):
    return api_env


def collection(env) -> str:
    collections = env.get("/ogc/collections").json()["collections"]
    return next(c["id"] for c in collections if "items" in str(c.get("links", "")))


def intervention(**fields) -> dict:
    return {"title": "x", "kind": "patrols", "geometry": POLYGON, **fields}


CASES = [
    ("GET", "/areas?kind=ward&to=9999-12-31", None, "to"),
    ("GET", "/areas?kind=ward&from=0001-01-01", None, "from"),
    ("GET", "/incidents?to=9999-12-31", None, "to"),
    ("GET", "/incidents?from=9999-12", None, "from"),
    ("POST", "/analyses", {"method": "dbscan", "to": "9999-12-31"}, "to"),
    ("POST", "/analyses", {"method": "dbscan", "eps_m": 5e-324}, "eps_m"),
    ("POST", "/analyses", {"method": "dbscan", "eps_m": 1e-9}, "eps_m"),
    ("POST", "/backtests", {"to": "9999-12-31"}, "to"),
    ("POST", "/plans", {"from": "9999-12", "sites": 1}, "from"),
    ("GET", "/quarantine?offset=100000000000000000000000", None, "offset"),
    ("POST", "/interventions", intervention(start_date="0001-01-01"), "start_date"),
    ("POST", "/interventions", intervention(start_date="9999-12-31"), "start_date"),
]


@pytest.mark.parametrize(("method", "url", "body", "param"), CASES)
def test_out_of_range_input_is_a_4xx_problem_naming_the_parameter(env, method, url, body, param):
    r = env.request(method, url, json=body)
    assert 400 <= r.status_code < 500, r.text
    assert r.headers["content-type"] == PROBLEM
    assert param in r.json()["detail"], r.text


def test_ogc_datetime_and_bbox_out_of_range_are_4xx_problems(env):
    items = f"/ogc/collections/{collection(env)}/items"
    for query, param in [
        ("datetime=9999-12-31", "datetime"),
        ("datetime=0001-01-01/..", "datetime"),
        ("bbox=1e308,1e308,1e308,1e308", "bbox"),
        ("bbox=-1e308,0,1e308,1", "bbox"),
    ]:
        r = env.get(f"{items}?{query}")
        assert 400 <= r.status_code < 500 and param in r.json()["detail"], (query, r.text)


def test_a_nan_coordinate_in_an_intervention_polygon_is_a_422(env):
    headers = {**env.headers["analyst"], "Content-Type": "application/json"}
    r = env.client.post("/interventions", content=NAN_POLYGON, headers=headers)
    assert r.status_code == 422 and r.headers["content-type"] == PROBLEM, r.text


def test_an_unexpected_error_is_a_500_problem_and_the_connection_stays_open(env, api_kit):
    app = api_kit.make_app(env.store, env.kind)

    def boom():
        raise RuntimeError("a bug")

    app.add_api_route("/boom", boom, include_in_schema=False)
    with serve(app) as port, httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
        r = client.get("/boom")
        assert r.status_code == 500 and r.headers["content-type"] == PROBLEM
        assert "a bug" not in r.text and r.headers.get("connection") != "close"
        stream = r.extensions["network_stream"]
        again = client.get("/health")
        assert again.status_code == 200
        assert again.extensions["network_stream"] is stream  # the same connection


def test_listed_runs_say_how_many_hotspots_each_found(env):
    listed = {r["run_id"]: r["hotspots"] for r in env.get("/runs").json()}
    for run_id in env.run_ids:
        full = env.get(f"/runs/{run_id}").json()
        assert (
            listed[run_id] == full["hotspots"] == len(env.store.get_run(run_id).result["features"])
        )
    assert any(n > 0 for n in listed.values())


def test_a_page_of_zero_incidents_gives_the_count_and_no_next_link(env):
    doc = env.get("/incidents?limit=0").json()
    assert doc["numberReturned"] == 0 and doc["numberMatched"] > 0
    assert not [link for link in doc.get("links", []) if link["rel"] == "next"]


@pytest.mark.parametrize(
    ("url", "body", "param"),
    [
        ("/interventions/none/evaluation", {"buffer_m": False}, "buffer_m"),
        ("/analyses", {"method": "kde", "cell_m": "50"}, "cell_m"),
        ("/plans", {"sites": 1, "hours_per_site": True}, "hours_per_site"),
    ],
)
def test_numbers_in_json_bodies_must_be_numbers(env, url, body, param):
    r = env.post(url, json=body)
    assert r.status_code == 422 and param in r.json()["detail"], r.text


def test_the_openapi_document_states_the_share_link_expiry_enforced(env, api_kit):
    app = api_kit.make_app(env.store, env.kind, share_link_max_days=30)
    with api_kit.TestClient(app) as client:
        doc = client.get("/openapi.json").json()
        days = doc["components"]["schemas"]["ShareLinkRequest"]["properties"]["expires_in_days"]
        assert days["maximum"] == 30
        body = {"run_id": env.run_ids[0], "expires_in_days": 31}
        r = client.post("/share-links", json=body, headers=env.headers["analyst"])
        assert r.status_code == 422 and "expires_in_days" in r.text
        body["expires_in_days"] = 30
        assert (
            client.post("/share-links", json=body, headers=env.headers["analyst"]).status_code
            == 201
        )


@pytest.mark.parametrize("length", [20_000, 70_000])
def test_an_overlong_url_is_a_414_problem_saying_the_limit(env, api_kit, length):
    # 20 kB reaches the app (its middleware answers); 70 kB is refused by the HTTP parser,
    # which the service's protocol makes answer in the same form
    app = api_kit.make_app(env.store, env.kind)
    with serve(app) as port, socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(f"GET /areas?categories={'a' * length} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        raw = b""
        while chunk := s.recv(65536):
            raw += chunk
            if b"\r\n\r\n" in raw and raw.endswith(b"}"):
                break
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 414"), head
    assert b"content-type: application/problem+json" in head.lower()
    detail = json.loads(body)["detail"]
    assert "16,384" in detail and f"{length:,}"[:2] in detail


def test_options_and_wrong_methods_name_every_method_of_the_path(env):
    for url, allowed in [
        ("/share-links", "GET, POST"),
        ("/interventions", "GET, POST"),
        ("/interventions/iv-x", "DELETE, GET"),
    ]:
        r = env.client.options(url, headers=env.headers["analyst"])
        assert r.status_code == 405 and r.headers["allow"] == allowed, (url, r.headers)
        assert r.headers["content-type"] == PROBLEM and allowed in r.json()["detail"]
