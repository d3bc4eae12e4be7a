"""Shared pieces of the OGC API: media types, content negotiation, links, HTML pages."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from html import escape
from typing import Annotated, Literal
from urllib.parse import urlencode

import orjson
from fastapi import Query, Request, Response
from starlette.background import BackgroundTask

JSON, GEOJSON, HTML = "application/json", "application/geo+json", "text/html"
SCHEMA_JSON = "application/schema+json"
OAS30 = "application/vnd.oai.openapi+json;version=3.0"
GREGORIAN = "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"

Format = Annotated[
    Literal["json", "html"] | None,
    Query(alias="f", description="json or html; default from the Accept header, else json"),
]
JSON_HTML = {200: {"content": {JSON: {}, HTML: {}}}}
GEO_HTML = {200: {"content": {GEOJSON: {}, HTML: {}}}}


def wants_html(request: Request, f: str | None) -> bool:
    """Whether to answer in HTML: ``f`` decides, else the ``Accept`` header's q-values."""
    if f:
        return f == "html"
    best = {"html": 0.0, "json": 0.0}
    for part in request.headers.get("accept", "").split(","):
        media, *params = [p.strip().lower() for p in part.split(";")]
        q = 1.0
        for p in params:
            key, _, value = p.partition("=")
            if key.strip() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if media in (HTML, "application/xhtml+xml"):
            best["html"] = max(best["html"], q)
        elif media.endswith("json") or media in ("*/*", "application/*"):
            best["json"] = max(best["json"], q)
    return best["html"] > best["json"]


def base_url(request: Request, settings) -> str:
    """The OGC API's root URL (``settings.base_url`` when set, else from the request)."""
    root = settings.base_url or str(request.base_url)
    return root.rstrip("/") + "/ogc"


def link(base: str, path: str, rel: str, type_: str, title: str = "", **params) -> dict:
    """A link object; JSON and HTML links carry the matching ``f`` parameter."""
    if type_ in (JSON, GEOJSON, HTML):
        params["f"] = "html" if type_ == HTML else "json"
    query = urlencode({k: v for k, v in params.items() if v is not None})
    out = {"href": base + path + (f"?{query}" if query else ""), "rel": rel, "type": type_}
    if title:
        out["title"] = title
    return out


def self_links(base: str, path: str, as_html: bool, json_type: str = JSON, **params) -> list:
    """``self`` in the format answered and ``alternate`` in the other one."""
    here, other = (HTML, json_type) if as_html else (json_type, HTML)
    return [
        link(base, path, "self", here, "this document", **params),
        link(base, path, "alternate", other, f"this document as {other}", **params),
    ]


def page(title: str, body: str, links: list[dict]) -> str:
    """A self-contained HTML page (no outside resources)."""
    nav = " · ".join(
        f'<a href="{escape(lk["href"])}">{escape(lk.get("title") or lk["rel"])}</a>' for lk in links
    )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>body{{font:15px sans-serif;margin:2em}}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px;"
        "text-align:left;vertical-align:top}</style></head>"
        f"<body><nav>{nav}</nav><h1>{escape(title)}</h1>{body}</body></html>"
    )


def cell(value) -> str:
    """A value as escaped table-cell text, cut at 200 characters."""
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return escape(text if len(text) <= 200 else text[:200] + "…")


def table(rows: list[list[str]], head: list[str]) -> str:
    """An HTML table of already-escaped cells."""
    th = "".join(f"<th>{escape(h)}</th>" for h in head)
    trs = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><tr>{th}</tr>{trs}</table>"


def respond(
    doc: dict,
    as_html: bool,
    html: str | Callable[[], str],
    media: str = JSON,
    headers: dict | None = None,
    then: Callable[[], object] | None = None,
) -> Response:
    """The document as JSON (``media``) or the HTML page (or the function that writes
    it, called only when HTML is asked for), varying on ``Accept``; ``then`` runs once
    the response is sent."""
    headers = {"Vary": "Accept", **(headers or {})}
    after = BackgroundTask(then) if then is not None else None
    if as_html:
        text = html() if callable(html) else html
        return Response(
            text, media_type=HTML + "; charset=utf-8", headers=headers, background=after
        )
    body = orjson.dumps(doc, default=str)
    return Response(body, media_type=media, headers=headers, background=after)


def iso(when) -> str | None:
    """A naive (UK wall-clock) datetime or ISO text as RFC 3339 with ``Z``, or None."""
    if when is None:
        return None
    if isinstance(when, str):
        try:
            when = datetime.fromisoformat(when.replace("Z", ""))
        except ValueError:
            return None
    return when.replace(tzinfo=None).isoformat() + "Z"


def now() -> str:
    """The current time, RFC 3339 to the second."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
