"""Run collections read from rows (``api.ogc.run_items``), on both stores.

Once a role's view of a run is written, its items, single items, queryables and
extent are answered without loading the run's result; the bbox and filter of a
request reach the store's query. A store made before run features were rows
(DuckDB schema v3, PostGIS migrations up to 0003) upgrades and fills each view
lazily, on its first read, with exactly the features of the role's disclosure view.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from pathlib import Path

import duckdb

from api.disclosure import Disclosure
from api.ogc.crs import box_in_crs84
from geodata.stores import duckdb_store
from geodata.stores.migrate import migrations_dir

CENTRE = (0.36, 51.43, 0.38, 51.45)  # Gravesham town centre
ROLES = ("public", "partner", "analyst")


def _urls(cid: str) -> list[str]:
    items = f"/ogc/collections/{cid}/items"
    return [
        f"/ogc/collections/{cid}",
        f"/ogc/collections/{cid}/queryables",
        items + "?limit=3",
        items + "?bbox=" + ",".join(map(str, CENTRE)),
        items + "?filter=rank%20%3C%3D%205",
        items + "?crs=EPSG:27700&limit=2",
        items + "/1",
    ]


def _doc(r) -> dict | int:
    if r.status_code != 200:
        return r.status_code
    doc = r.json()
    doc.pop("timeStamp", None)
    return doc


def test_run_items_are_answered_without_loading_the_run_result(api_env, monkeypatch):
    cids = [_cid(api_env.run_ids[1]), "hotspots-gistar"]
    urls = [(u, role) for cid in cids for u in _urls(cid) for role in ROLES]
    before = {(u, role): _doc(api_env.get(u, role)) for u, role in urls}  # views made
    assert sum(d != 404 for d in before.values()) > len(urls) // 2

    def no_whole_result(*a, **kw):
        raise AssertionError("a run's whole result was loaded")

    monkeypatch.setattr(api_env.store, "get_run", no_whole_result)
    monkeypatch.setattr(api_env.store, "latest_run", no_whole_result)
    for (u, role), doc in before.items():
        assert _doc(api_env.get(u, role)) == doc, (u, role)


def test_the_bbox_and_filter_of_a_request_reach_the_store_query(api_env, monkeypatch):
    asked = []
    real = api_env.store.run_rows.page
    monkeypatch.setattr(api_env.store.run_rows, "page", lambda q: asked.append(q) or real(q))
    bbox = ",".join(map(str, CENTRE))
    r = api_env.get(f"/ogc/collections/hotspots-gistar/items?bbox={bbox}&filter=rank%20%3C%2010")
    assert r.status_code == 200, r.text
    (q,) = asked
    assert q.within.equals(box_in_crs84(CENTRE, "http://www.opengis.net/def/crs/OGC/1.3/CRS84"))
    assert q.condition == ("cmp", "<", "rank", 10)
    assert all(f["properties"]["rank"] < 10 for f in r.json()["features"])


def test_a_change_of_disclosure_settings_reads_a_new_view_not_the_stale_one(api_env, api_kit):
    """Two apps on one store with different public thresholds: each serves the public
    the view its own settings make, whichever read first."""
    cid = "hotspots-dbscan"
    run = api_env.store.latest_run("dbscan")
    url = f"/ogc/collections/{cid}/items?limit=10000"
    answers = {}
    for min_count in (5, 40, 5):
        app = api_kit.make_app(api_env.store, api_env.kind, public_min_count=min_count)
        with api_kit.TestClient(app) as client:
            r = client.get(url, headers=api_env.headers["public"])
            assert r.status_code == 200, r.text
            policy = Disclosure.for_role("public", app.state.settings.api)
            want = json.loads(json.dumps(policy.run_view(run.result)["features"]))
            assert r.json()["features"] == [{**f, "id": str(f["id"])} for f in want]
            answers.setdefault(min_count, r.json()["features"])
    assert answers[5] != answers[40]  # the thresholds do differ in what they show


# -- upgrade: views filled lazily ---------------------------------------------------------------
def _old_duckdb(path: Path, runs) -> str:
    """A DuckDB file of schema v3 (before run features were rows) holding ``runs``."""
    con = duckdb.connect(str(path))
    for step in (1, 2, 3):
        for stmt in duckdb_store.SCHEMA_STEPS[step]:
            con.execute(stmt)
    con.execute("INSERT INTO meta VALUES ('schema_version', '3'), ('analysis_crs', 'EPSG:27700')")
    for r in runs:
        con.execute(
            "INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?)",
            [r.run_id, r.method, json.dumps(r.params), json.dumps(r.provenance),
             json.dumps(r.result), r.created_at],
        )  # fmt: skip
    con.close()
    return str(path)


@contextlib.contextmanager
def _old_postgis(admin_url: str, folder: Path, runs):
    """A PostGIS database migrated up to 0003 holding ``runs``; its URL."""
    import psycopg
    from psycopg import sql

    from geodata.stores.postgis import PostGISStore

    old = folder / "migrations-0003"
    old.mkdir()
    for path in sorted(migrations_dir().glob("000[123]_*.sql")):
        shutil.copy(path, old / path.name)
    name = f"hotspots_up_{os.getpid()}_{abs(hash(folder)) % 10**8}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = psycopg.conninfo.make_conninfo(admin_url, dbname=name)
    try:
        with PostGISStore(url, max_size=2, migrations=old) as st:
            assert st.schema_status()["applied"][-1] == "0003_interventions"
        with psycopg.connect(url) as conn:  # as that schema's code stored them
            for r in runs:
                conn.execute(
                    "INSERT INTO runs VALUES (%s, %s, %s, %s, %s, %s)",
                    [r.run_id, r.method, json.dumps(r.params), json.dumps(r.provenance),
                     json.dumps(r.result), r.created_at],
                )  # fmt: skip
        yield url
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def test_a_store_from_before_rows_upgrades_and_fills_each_view_on_first_read(
    api_env, api_kit, tmp_path, request
):
    runs = [api_env.store.get_run(r) for r in dict.fromkeys(api_env.run_ids)]
    with contextlib.ExitStack() as stack:
        if api_env.kind == "duckdb":
            store = duckdb_store.DuckDBStore(_old_duckdb(tmp_path / "v3.duckdb", runs))
        else:
            from geodata.stores.postgis import PostGISStore

            url = stack.enter_context(
                _old_postgis(request.getfixturevalue("postgis_url"), tmp_path, runs)
            )
            store = PostGISStore(url, max_size=2)
        stack.callback(store.close)
        assert store.schema_status()["current"] is True  # upgraded on open
        for run in runs:  # the upgrade indexed the request keys of the runs already stored
            assert store.run_for_request(run.params["request_key"]).run_id == run.run_id
        headers = {role: {"X-API-Key": api_kit.add_key(store, role)[1]} for role in ROLES}
        app = api_kit.make_app(store, api_env.kind)
        client = stack.enter_context(api_kit.TestClient(app))
        settings = app.state.settings.api
        for run in runs:
            for role in ROLES:
                policy = Disclosure.for_role(role, settings)
                assert store.run_rows.view(run.run_id, _key(policy)) is None  # not yet
                r = client.get(
                    f"/ogc/collections/{_cid(run.run_id)}/items?limit=10000", headers=headers[role]
                )
                assert r.status_code == 200, r.text
                want = policy.run_view(run.result)["features"]
                got = r.json()["features"]
                assert got == [{**f, "id": str(f.get("id"))} for f in json.loads(json.dumps(want))]
                assert r.json()["numberMatched"] == len(want)
                view = store.run_rows.view(run.run_id, _key(policy))  # made by that read
                assert view is not None and view.n_features == len(want)


def _key(policy) -> str:
    from api.ogc.run_items import view_key

    return view_key(policy)


def _cid(run_id: str) -> str:
    return run_id if run_id.startswith("run-") else f"run-{run_id}"
