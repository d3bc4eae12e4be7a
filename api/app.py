"""The FastAPI application factory.

``create_app(settings)`` builds the app; its lifespan opens the store (a
DuckDB file or a PostGIS pool) and closes it. Nothing happens at import time,
so two differently configured apps can live in one process (the tests do).
"""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import metadata

from anyio import to_thread
from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from geodata.errors import StoreUnavailable
from geodata.stores import Store
from maps.assets import STATIC_PREFIX, VENDOR_DIR

from . import ogc, problems
from .body_limit import BodyLimit
from .deps import STORE_RETRY_S, close_served_store, open_served_store
from .import_jobs import recover_orphans
from .ogc.read_ahead import close_read_ahead
from .page_headers import PageHeaders
from .params import rules_description
from .read_lane import open_lane
from .routes import (
    analyses,
    areas,
    backtests,
    evaluation,
    evaluation_maps,
    imports,
    incidents,
    keys,
    knox,
    share,
    system,
)
from .routes import plans as plan_routes
from .settings import Settings
from .timeouts import RequestTimeout

log = logging.getLogger("hotspots.api")
DESCRIPTION = """Hotspot mapping for Community Safety Partnerships.

Roles: **analyst** (everything), **partner** (hotspots, aggregates and non-sensitive
incident points), **public** (aggregates only; small counts suppressed). Send an API key
as `X-API-Key: hsk_…` or `Authorization: Bearer hsk_…`; without one you are *public*.
Every error is RFC 9457 `application/problem+json`.
"""


def _recover_orphans(store: Store | None) -> None:
    """Jobs left running by a dead process are marked failed, their uploads removed."""
    try:
        failed = recover_orphans(store)
    except StoreUnavailable as exc:  # the folders stay until a start that reaches the store
        log.warning("could not check for jobs left by a crash: %s", exc.message)
        return
    if failed:
        log.warning("marked %d job(s) of a stopped process failed: %s", len(failed), failed)


def create_app(settings: Settings | None = None, *, store: Store | None = None) -> FastAPI:
    """Build the service. ``store`` injects an open store (kept open at shutdown)."""
    settings = settings or Settings()
    settings.signing_key()  # no service without a key to sign share links (names the variable)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.settings = settings
        app.state.store = store
        app.state.store_retry_at = 0.0
        if store is None:
            try:
                open_served_store(app)
            except StoreUnavailable as exc:  # serve 503s and retry (deps.get_store)
                log.warning("starting without the store: %s", exc.message)
                app.state.store_retry_at = time.monotonic() + STORE_RETRY_S
            # Serving (tests inject a store): the ~1M objects of the imported libraries
            # leave the cyclic GC's scans, whose full passes otherwise stall every request
            # for ~100 ms every few seconds under load (benchmarks/bench_api.py).
            gc.collect()
            gc.freeze()
        _recover_orphans(app.state.store)
        to_thread.current_default_thread_limiter().total_tokens = settings.api.worker_threads
        open_lane(settings.api.read_threads)
        try:
            yield
        finally:
            if app.state.store is not None:  # no page is made ahead while it closes
                close_read_ahead(app.state.store)
            if store is None:
                close_served_store(app)

    try:
        version = metadata.version("hotspots")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a checkout
        version = "0"
    app = FastAPI(
        title="hotspots",
        version=version,
        description=DESCRIPTION + "\n\n" + rules_description(),
        lifespan=lifespan,
        docs_url=None,  # served below from our own copy of Swagger UI, not a CDN
        redoc_url=None,
    )
    problems.install(app)
    app.add_middleware(RequestTimeout, timeout_s=settings.api.request_timeout_s)
    app.add_middleware(BodyLimit, max_mb=settings.api.max_upload_mb)
    app.add_middleware(PageHeaders, tile_url=settings.maps.tile_url)
    app.add_middleware(problems.ServerErrors)  # outermost of ours: keeps connections alive

    modules = (
        system,
        incidents,
        imports,
        analyses,
        areas,
        share,
        keys,
        evaluation,
        backtests,
        knox,
    )
    # OGC first: routes are matched in order, and GIS clients and map tiles send the
    # most requests (matching past every other route cost ~15 % of a tile's or item's
    # server time, benchmarks/bench_ogc_load.py)
    ogc.install(app, settings.api)  # OGC API – Features, its page size in the OpenAPI
    for module in modules:
        app.include_router(module.router)
    app.include_router(evaluation_maps.router)
    app.include_router(plan_routes.router)  # days-of-action plans, ward briefings
    # Leaflet and plugins for the map pages (fetched at install: scripts/fetch-assets.sh)
    app.mount(STATIC_PREFIX, StaticFiles(directory=VENDOR_DIR, check_dir=False), name="vendor")

    @app.get("/docs", include_in_schema=False)
    def docs(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "").rstrip("/")
        swagger = f"{root}{STATIC_PREFIX}/swagger-ui-dist"
        return get_swagger_ui_html(
            openapi_url=f"{root}{app.openapi_url}",
            title="hotspots — API",
            swagger_js_url=f"{swagger}/swagger-ui-bundle.js",
            swagger_css_url=f"{swagger}/swagger-ui.css",
            swagger_favicon_url=f"{swagger}/favicon-32x32.png",
        )

    _document_settings(app, settings)
    return app


def _document_settings(app: FastAPI, settings: Settings) -> None:
    """Limits set by settings, stated in the OpenAPI document as enforced."""
    build = app.openapi

    def openapi() -> dict:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = build()
        link = schema.get("components", {}).get("schemas", {}).get("ShareLinkRequest", {})
        days = link.get("properties", {}).get("expires_in_days")
        if days is not None:
            days["maximum"] = settings.api.share_link_max_days
            days["description"] = "days until the link expires (HOTSPOTS_SHARE_LINK_MAX_DAYS)"
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
