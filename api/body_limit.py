"""Refuse a request body larger than the upload limit, declared or streamed.

A client that says in ``Content-Length`` that it will send more than
``HOTSPOTS_MAX_UPLOAD_MB`` (plus a little room for the multipart framing) gets a
``413`` problem at once, and nothing is read. A body without a ``Content-Length``
(chunked) is counted as it arrives: past the limit the app's next read fails, the
request is answered ``413`` and the connection closed, so at most the limit (plus one
chunk) is ever received, whatever the route does with it.

Routes that take uploads check the caller before they read the body
(``api.routes.imports``), so a caller who may not import is refused before anything
is spooled.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .http_protocol import MAX_URL_BYTES, refusal
from .problems import allowed_methods, problem_response

#: room for multipart boundaries, headers and the small form fields, bytes
FRAMING_BYTES = 64 * 1024


class BodyTooLarge(HTTPException):
    """Raised into the app by ``receive`` once the streamed body passes the limit; an
    HTTP 413, so a framework that wraps body-parsing errors passes it on as it is."""

    def __init__(self, max_mb: float) -> None:
        super().__init__(
            413,
            f"the request body is over {max_mb:g} MB, the limit per upload "
            "(HOTSPOTS_MAX_UPLOAD_MB); split it, e.g. one police.uk month per file",
            {"Connection": "close"},
        )


def _method_allowed(scope: Scope) -> bool:
    """Whether the request's method is one its path answers (unknown paths: yes)."""
    app = scope.get("app")
    if app is None or not hasattr(app, "openapi"):
        return True
    allowed = allowed_methods(app, scope)
    return not allowed or scope.get("method") in allowed or scope.get("method") == "HEAD"


class BodyLimit:
    """Pure ASGI middleware: ``413`` problem for a body over ``max_mb``, ``414`` for a URL
    over :data:`api.http_protocol.MAX_URL_BYTES`."""

    def __init__(self, app: ASGIApp, max_mb: float) -> None:
        self.app = app
        self.max_mb = max_mb
        self.max_bytes = int(max_mb * 1024 * 1024) + FRAMING_BYTES

    def _refusal(self, scope: Scope, size: str):
        return problem_response(
            413,
            f"the request body is {size}; the limit is {self.max_mb:g} MB per upload "
            "(HOTSPOTS_MAX_UPLOAD_MB); split it, e.g. one police.uk month per file",
            "too-large",
            scope.get("path"),
            {"Connection": "close"},
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        url_bytes = len(scope.get("raw_path") or b"") + len(scope.get("query_string") or b"")
        if url_bytes > MAX_URL_BYTES and _method_allowed(scope):  # else the router's 405
            status, problem = refusal(url_bytes)
            response = problem_response(
                status, problem["detail"], "uri-too-long", scope.get("path")
            )
            await response(scope, receive, send)
            return
        declared = dict(scope.get("headers") or ()).get(b"content-length")
        try:
            size = int(declared) if declared is not None else None
        except ValueError:
            size = None
        if size is not None and size > self.max_bytes:
            await self._refusal(scope, f"{size / 1024 / 1024:,.1f} MB")(scope, receive, send)
            return
        received = 0
        started = False

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge(self.max_mb)
            return message

        async def noting_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted_receive, noting_send)
        except BodyTooLarge:
            if started:
                raise
            await self._refusal(scope, f"over {self.max_mb:g} MB")(scope, receive, send)
