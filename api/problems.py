"""RFC 9457 problem details for every error the service returns.

Every 4xx/5xx is ``application/problem+json`` with a stable ``type`` (a URI
under ``https://hotspots.invalid/problems/``), a ``title``, the ``status``, a
``detail`` safe to show a user and, for invalid input, ``errors`` naming each
field with what was expected and what was received. No SQL text or traceback
ever reaches a client; an unavailable store is 503 with ``Retry-After``.
"""

from __future__ import annotations

import logging
import math
import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from geodata.errors import HotspotsError, StoreUnavailable

log = logging.getLogger("hotspots.api")
PROBLEM_BASE = "https://hotspots.invalid/problems/"
MEDIA_TYPE = "application/problem+json"

TITLES = {
    400: "Bad request",
    401: "Not authenticated",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    408: "Request timeout",
    409: "Conflict",
    410: "Gone",
    413: "Payload too large",
    414: "URI too long",
    415: "Unsupported media type",
    422: "Invalid input",
    429: "Too many requests",
    500: "Internal error",
    503: "Service unavailable",
}
SLUGS = {
    400: "bad-request",
    401: "not-authenticated",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    408: "timeout",
    409: "conflict",
    410: "gone",
    413: "too-large",
    415: "unsupported-media-type",
    422: "invalid-input",
    429: "too-many-requests",
    500: "internal-error",
    503: "service-unavailable",
}


class Problem(Exception):
    """Raise to answer with a problem document."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        type: str | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.type = type or SLUGS.get(status, "error")
        self.headers = headers or {}
        self.extra = extra


def problem_response(
    status: int,
    detail: str,
    type_: str,
    instance: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body = {
        "type": PROBLEM_BASE + type_,
        "title": TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
    }
    if instance:
        body["instance"] = instance
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


def _describe(error: dict) -> dict:
    where = (error.get("loc") or ["?"])[0]
    if error.get("type") == "json_invalid":  # loc is ("body", <character offset>)
        reason = (error.get("ctx") or {}).get("error", "invalid JSON")
        return {
            "field": None,
            "where": where,
            "expected": "a JSON document",
            "received": f"text that is not JSON ({reason} at character {error['loc'][-1]})",
        }
    field = _field(error.get("loc", ()))
    return {
        "field": field,
        "where": where,
        "expected": _expected(error, field),
        "received": _shown(error.get("input")),
    }


#: pydantic's names for the branches of a union, which are not part of a field's name
_BRANCH = re.compile(
    r"^(constrained-str|str|int|float|bool|list\[.*\]|dict\[.*\]|"
    r"function-(after|before|wrap|plain)\[.*\]|tuple\[.*\]|literal\[.*\])$"
)


def _field(loc) -> str | None:
    """``categories[0]``, ``filters.area``: the field as a client names it."""
    out = ""
    for part in loc:
        if part in ("body", "query", "path", "header", "form"):
            continue
        if isinstance(part, int):
            out += f"[{part}]"
        elif not _BRANCH.match(str(part)):
            out += ("." if out else "") + str(part)
    return out or None


def _expected(error: dict, field: str | None) -> str:
    """What was expected, in words: a pattern or a long list of values named by what it
    stands for (:data:`api.params.PATTERN_HELP`), not shown as a regular expression."""
    from .params import PATTERN_HELP

    kind, ctx = error.get("type"), error.get("ctx") or {}
    if kind == "string_pattern_mismatch":
        return PATTERN_HELP.get(ctx.get("pattern", ""), error.get("msg", ""))
    if kind == "literal_error" and field and field.startswith(("categories", "filters.categ")):
        return (
            f"unknown category {error.get('input')!r}; expected a category slug (see /categories)"
        )
    return error.get("msg", "")


def _shown(value: Any) -> Any:
    """What was received, as JSON can carry it (never bytes, NaN or a whole document)."""
    if isinstance(value, dict | list):
        return "(object)" if isinstance(value, dict) else "(list)"
    if isinstance(value, bytes | bytearray):
        return f"({len(value)} bytes, not JSON)"
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, str) and len(value) > 200:
        return value[:200] + "…"
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return repr(value)[:200]


#: the JSON Schema of a problem document, for the OpenAPI description
PROBLEM_SCHEMA = {
    "title": "Problem",
    "type": "object",
    "description": "RFC 9457 problem details",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "format": "uri"},
        "title": {"type": "string"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "field": {"type": ["string", "null"]},
                    "where": {"type": ["string", "null"]},
                    "expected": {},
                    "received": {},
                },
            },
        },
    },
}


def document(app: FastAPI) -> None:
    """Describe errors in the app's OpenAPI as they are sent: every operation's 422 and
    ``default`` response is ``application/problem+json`` with :data:`PROBLEM_SCHEMA`."""
    build = app.openapi

    def openapi() -> dict:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = build()
        schemas = schema.setdefault("components", {}).setdefault("schemas", {})
        schemas["Problem"] = PROBLEM_SCHEMA
        for name in ("HTTPValidationError", "ValidationError"):
            schemas.pop(name, None)
        content = {MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}
        for item in schema.get("paths", {}).values():
            for op in item.values():
                responses = op.setdefault("responses", {})
                if "422" in responses:
                    responses["422"] = {"description": "Invalid input", "content": content}
                responses["default"] = {
                    "description": "An error, as RFC 9457 problem details",
                    "content": content,
                }
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def install(app: FastAPI) -> None:
    """Register handlers so nothing leaves the service as anything but problem+json,
    and say so in the OpenAPI description."""
    document(app)

    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        return problem_response(
            exc.status, exc.detail, exc.type, request.url.path, exc.headers, **exc.extra
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [_describe(e) for e in exc.errors()]
        first = errors[0] if errors else {}
        if not first:
            detail = "invalid request"
        elif first.get("field") is None:
            detail = f"{first['where']}: {first['expected']}; received {first['received']!r}"
        else:
            detail = (
                f"{first['where']} parameter {first['field']!r}: "
                f"{first['expected']}; received {first['received']!r}"
            )
        return problem_response(422, detail, "invalid-input", request.url.path, errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else TITLES.get(exc.status_code, "")
        headers = dict(getattr(exc, "headers", None) or {})
        if exc.status_code == 405:  # Starlette names only the first matching route's methods
            allowed = allowed_methods(request.app, request.scope)
            headers["Allow"] = ", ".join(allowed)
            detail = f"{request.method} is not allowed here; allowed: {', '.join(allowed)}"
        return problem_response(
            exc.status_code,
            detail,
            SLUGS.get(exc.status_code, "error"),
            request.url.path,
            headers,
        )

    @app.exception_handler(StoreUnavailable)
    async def _unavailable(request: Request, exc: StoreUnavailable) -> JSONResponse:
        log.warning("store unavailable on %s: %s", request.url.path, exc.message)
        return problem_response(
            503,
            "the data store cannot be reached just now; try again shortly",
            exc.type,
            request.url.path,
            {"Retry-After": "30"},
        )

    @app.exception_handler(HotspotsError)
    async def _ours(request: Request, exc: HotspotsError) -> JSONResponse:
        if exc.status >= 500 and not exc.shown:
            log.error("service error on %s: %s", request.url.path, exc.message)
            detail = "the service failed; the error has been logged"
        else:
            detail = exc.message
        extra = {k: v for k, v in exc.to_dict().items() if k not in ("type", "status", "detail")}
        return problem_response(exc.status, detail, exc.type, request.url.path, **extra)


def allowed_methods(app, scope: Scope) -> list[str]:
    """The methods the OpenAPI document gives for the request's path, for the ``Allow``
    header of a 405 (Starlette's names only the first route that matched the path)."""
    templates = getattr(app.state, "path_methods", None)
    if templates is None:
        templates = []
        for template, item in app.openapi().get("paths", {}).items():
            pattern = re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template))
            methods = sorted(m.upper() for m in item if m.upper() in HTTP_METHODS)
            templates.append((re.compile(f"^{pattern}$"), methods))
        app.state.path_methods = templates
    path = scope.get("path", "")
    found: set[str] = set()
    for pattern, methods in templates:
        if pattern.match(path):
            found.update(methods)
    return sorted(found)


HTTP_METHODS = {"GET", "PUT", "POST", "DELETE", "OPTIONS", "HEAD", "PATCH", "TRACE"}


class ServerErrors:
    """Pure ASGI middleware: an unexpected exception becomes a logged ``500`` problem
    and goes no further. (Starlette's own handler re-raises it to the server, which then
    closes the connection: the client's next request on that keep-alive connection
    failed with a reset.)"""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def noting_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, noting_send)
        except Exception:
            log.exception("unexpected error on %s", scope.get("path"))
            if started:  # too late for a problem document: the server ends the response
                raise
            response = problem_response(
                500, "the service failed; the error has been logged", "internal-error",
                scope.get("path"),
            )  # fmt: skip
            await response(scope, receive, send)
