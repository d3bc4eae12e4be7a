"""PostGIS going down and coming back (issue 14), through a loopback proxy that drops
every connection and refuses new ones, as a stopped server does: 60 concurrent
requests get a 503 problem within 2 s each, ``/health`` (liveness) stays fast, and the
first request after the server is back succeeds. ``/ready`` reports the store.
"""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import psycopg
import pytest
from live_server import Proxy, serve  # tests/api/live_server.py
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from geodata.stores.postgis import PostGISStore

CONCURRENT = 60


@pytest.fixture
def database(postgis_url):
    """An empty database of its own (migrations applied when the store opens)."""
    name = f"hotspots_outage_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(postgis_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield make_conninfo(postgis_url, dbname=name)
    finally:
        with psycopg.connect(postgis_url, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def timed_get(client: httpx.Client, url: str, headers: dict) -> tuple[int, float, str]:
    t0 = time.perf_counter()
    r = client.get(url, headers=headers)
    return r.status_code, time.perf_counter() - t0, r.headers.get("content-type", "")


@pytest.mark.postgis
def test_a_stopped_database_fails_fast_health_stays_fast_and_recovery_is_immediate(
    database, api_kit
):
    info = conninfo_to_dict(database)
    proxy = Proxy((info.get("host") or "127.0.0.1", int(info.get("port") or 5432)))
    proxy.up()
    store = PostGISStore(make_conninfo(database, port=str(proxy.port)), max_size=4)
    analyst = {"X-API-Key": api_kit.add_key(store, "analyst")[1]}
    try:
        with serve(api_kit.make_app(store, "postgis")) as port:
            base = f"http://127.0.0.1:{port}"
            assert httpx.get(f"{base}/batches", headers=analyst).status_code == 200
            assert httpx.get(f"{base}/ready").status_code == 200

            proxy.down()
            limits = httpx.Limits(max_connections=CONCURRENT + 1)
            with (
                httpx.Client(limits=limits, timeout=30) as client,
                ThreadPoolExecutor(CONCURRENT) as pool,
            ):
                client.get(f"{base}/health")
                storm = [
                    pool.submit(timed_get, client, f"{base}/batches", analyst)
                    for _ in range(CONCURRENT)
                ]
                health = []
                while not all(f.done() for f in storm) or len(health) < 100:
                    health.append(timed_get(client, f"{base}/health", {})[1])
                answers = [f.result() for f in storm]
            assert {status for status, _, _ in answers} == {503}, answers
            assert all(kind == "application/problem+json" for _, _, kind in answers)
            slowest = max(s for _, s, _ in answers)
            assert slowest < 2.0, f"slowest 503 took {slowest:.2f} s"
            health.sort()
            p99 = health[int(len(health) * 0.99) - 1]
            assert p99 < 0.050, f"/health p99 {p99 * 1000:.1f} ms under the storm"
            ready = httpx.get(f"{base}/ready")
            assert ready.status_code == 503 and ready.json()["type"].endswith("store-unavailable")

            proxy.up()
            first = httpx.get(f"{base}/batches", headers=analyst)
            assert first.status_code == 200, first.text
            assert httpx.get(f"{base}/ready").status_code == 200
    finally:
        proxy.down()
        store.close()
