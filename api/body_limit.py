"""Refuse a request body larger than the upload limit before reading it.

``POST /imports`` checks the size of the file it saves, but by then the server has
already received (and spooled to disk) the whole multipart body. A client that says
in ``Content-Length`` that it will send more than ``HOTSPOTS_MAX_UPLOAD_MB`` (plus a
little room for the multipart framing) gets a ``413`` problem at once, and nothing
is read. Bodies without a ``Content-Length`` (chunked) are still checked as the
upload is saved.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from .problems import problem_response

#: room for multipart boundaries, headers and the small form fields, bytes
FRAMING_BYTES = 64 * 1024


class BodyLimit:
    """Pure ASGI middleware: ``413`` problem for a declared body over ``max_mb``."""

    def __init__(self, app: ASGIApp, max_mb: float) -> None:
        self.app = app
        self.max_mb = max_mb
        self.max_bytes = int(max_mb * 1024 * 1024) + FRAMING_BYTES

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            declared = dict(scope.get("headers") or ()).get(b"content-length")
            try:
                size = int(declared) if declared is not None else None
            except ValueError:
                size = None
            if size is not None and size > self.max_bytes:
                response = problem_response(
                    413,
                    f"the request body is {size / 1024 / 1024:,.1f} MB; the limit is "
                    f"{self.max_mb:g} MB per upload (HOTSPOTS_MAX_UPLOAD_MB); split it, e.g. "
                    "one police.uk month per file",
                    "too-large",
                    scope.get("path"),
                    {"Connection": "close"},
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
