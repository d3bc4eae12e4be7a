"""The request time limit, as plain ASGI middleware.

A request whose response has not started within ``timeout_s`` is cancelled and
answered ``503`` ``application/problem+json`` (type ``timeout``) with
``Retry-After``; once the response has started the limit no longer applies.
Written as ASGI rather than ``@app.middleware("http")`` because Starlette's
``BaseHTTPMiddleware`` costs about a third of the server's time per request on
small cached answers (see ``benchmarks/bench_api.py``).
"""

from __future__ import annotations

import asyncio
import time

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import problems
from .worker import DEADLINE


class RequestTimeout:
    def __init__(self, app: ASGIApp, timeout_s: float) -> None:
        self.app = app
        self.timeout_s = timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False
        deadline = asyncio.timeout(self.timeout_s)
        # for work in worker processes, stopped when the answer is abandoned (api.worker)
        DEADLINE.set(time.monotonic() + self.timeout_s)

        async def send_and_note(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                deadline.reschedule(None)
            await send(message)

        try:
            async with deadline:
                await self.app(scope, receive, send_and_note)
        except TimeoutError:
            if started or not deadline.expired():
                raise
            response = problems.problem_response(
                503,
                f"the request took longer than {self.timeout_s:g} s; narrow it (bbox, time "
                "window, categories) or try again",
                "timeout",
                Request(scope).url.path,
                {"Retry-After": "10"},
            )
            await response(scope, receive, send)
