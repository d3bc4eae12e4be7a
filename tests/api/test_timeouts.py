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
