"""The request time limit (api/timeouts.py): 503 problem before the response starts,
no limit once it has started, and nothing else changed."""

from __future__ import annotations

import asyncio
import warnings

from starlette.applications import Starlette
from starlette.responses import PlainTextResponse, StreamingResponse
from starlette.routing import Route

from api.timeouts import RequestTimeout

with warnings.catch_warnings():  # starlette prefers httpx2; httpx is what is installed
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

LIMIT_S = 0.1


async def slow(request):
    await asyncio.sleep(LIMIT_S * 4)
    return PlainTextResponse("late")


async def fast(request):
    return PlainTextResponse("ok")


async def streams_slowly(request):
    async def parts():
        for i in range(4):
            await asyncio.sleep(LIMIT_S)
            yield f"part {i};"

    return StreamingResponse(parts(), media_type="text/plain")


async def raises_its_own_timeout(request):
    raise TimeoutError("the app's own")


def client() -> TestClient:
    app = Starlette(
        routes=[
            Route("/slow", slow),
            Route("/fast", fast),
            Route("/stream", streams_slowly),
            Route("/own", raises_its_own_timeout),
        ]
    )
    app.add_middleware(RequestTimeout, timeout_s=LIMIT_S)
    return TestClient(app, raise_server_exceptions=False)


def test_a_response_not_started_in_time_is_a_503_problem():
    r = client().get("/slow")
    assert r.status_code == 503
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.headers["retry-after"] == "10"
    doc = r.json()
    assert doc["type"].endswith("/timeout") and doc["instance"] == "/slow"
    assert f"{LIMIT_S:g} s" in doc["detail"]


def test_answers_in_time_and_started_streams_are_left_alone():
    c = client()
    assert c.get("/fast").text == "ok"
    r = c.get("/stream")  # takes 4 x the limit, but started at once
    assert r.status_code == 200 and r.text == "part 0;part 1;part 2;part 3;"


def test_a_timeout_error_of_the_app_itself_is_not_reported_as_the_limit():
    r = client().get("/own")
    assert r.status_code == 500


def test_requests_are_worked_on_by_at_most_worker_threads_at_once(api_kit, tmp_path):
    """``HOTSPOTS_WORKER_THREADS``: 9 slow requests at once on an app set to 3 threads
    run 3 at a time (the rest wait), and all are answered."""
    import threading
    import time
    from concurrent.futures import ThreadPoolExecutor

    import httpx
    from live_server import serve  # tests/api/live_server.py

    from geodata.stores import DuckDBStore

    store = DuckDBStore(tmp_path / "s.duckdb")
    app = api_kit.make_app(store, worker_threads=3)
    lock, running, most = threading.Lock(), [0], [0]

    def busy() -> dict:  # a sync route: FastAPI runs it on a worker thread
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        time.sleep(0.15)
        with lock:
            running[0] -= 1
        return {}

    app.add_api_route("/busy", busy)
    try:
        with serve(app) as port, ThreadPoolExecutor(9) as pool:
            codes = list(pool.map(lambda _: httpx.get(f"http://127.0.0.1:{port}/busy").status_code,
                                  range(9)))  # fmt: skip
    finally:
        store.close()
    assert codes == [200] * 9
    assert most[0] == 3
