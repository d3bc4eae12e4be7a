"""Security headers of the pages a person opens: map pages, share-link pages, briefings.

Every ``text/html`` answer and everything under ``/share/`` gets

- ``Cache-Control: private, no-store`` (unless the route chose its own): a map of a
  partner's or an analyst's view must not stay in a shared cache or on a borrowed
  phone;
- ``Referrer-Policy: no-referrer``: a share link's token is in its URL, and would
  otherwise reach the tile server with every tile request;
- ``Content-Security-Policy``: scripts, styles, fonts and data from this service only
  (Leaflet is served from ``/static/vendor``), images also from the configured tile
  host (``HOTSPOTS_TILE_URL``), no framing by other sites, no plugins. Inline scripts
  and styles are allowed: the map pages are generated with their data inline;
- ``X-Content-Type-Options: nosniff``.

Swagger UI (``/docs``) is left as it is.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

SKIP_PREFIXES = ("/docs",)


def tile_source(tile_url: str) -> str:
    """The CSP source of a Leaflet tile URL template: its scheme and host, with the
    ``{s}`` subdomain as a wildcard.

    >>> tile_source("https://{s}.tile.example.org/{z}/{x}/{y}.png")
    'https://*.tile.example.org'
    """
    parts = urlsplit(tile_url.replace("{s}", "a"))
    host = parts.netloc
    if "{s}" in tile_url.split("//", 1)[-1].split("/", 1)[0]:
        host = "*." + host.split(".", 1)[1]
    return f"{parts.scheme}://{host}" if parts.scheme and host else ""


def content_security_policy(tile_url: str) -> str:
    tiles = tile_source(tile_url)
    return "; ".join(
        [
            "default-src 'none'",
            "script-src 'self' 'unsafe-inline'",
            "style-src 'self' 'unsafe-inline'",
            f"img-src 'self' data: blob: {tiles}".rstrip(),
            "font-src 'self' data:",
            "connect-src 'self'",
            "frame-src 'self'",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'self'",
        ]
    )


class PageHeaders:
    """Pure ASGI middleware adding the headers above."""

    def __init__(self, app: ASGIApp, tile_url: str) -> None:
        self.app = app
        self.csp = content_security_policy(tile_url)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or path.startswith(SKIP_PREFIXES):
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                html = headers.get("content-type", "").startswith("text/html")
                if html or path.startswith("/share/"):
                    if "cache-control" not in headers:
                        headers["Cache-Control"] = "private, no-store"
                    headers["Referrer-Policy"] = "no-referrer"
                    headers["X-Content-Type-Options"] = "nosniff"
                    if html:
                        headers["Content-Security-Policy"] = self.csp
            await send(message)

        await self.app(scope, receive, send_with_headers)
