"""OGC API – Features at ``/ogc``: Part 1 (Core, GeoJSON, HTML, OpenAPI 3.0) and
Part 2 (CRS by reference: CRS84 and EPSG:27700), with queryables.

QGIS, ArcGIS and GDAL's OAPIF driver can list and load every collection:
``incidents`` (points; partner or higher, sensitive ones for analysts only),
``wards`` and ``lsoas`` (counts and rates per 1,000), ``hotspots-<method>`` (the
latest run of each method) and one collection per stored run (the 50 newest).
Roles apply as everywhere else (:mod:`api.disclosure`): the public role never
sees incidents and gets small counts suppressed. JSON by default; HTML with
``f=html`` or when ``Accept`` prefers ``text/html``. Times are UK wall-clock
times, written with ``Z``. Pages are 1,000 features by default, at most 10,000
(``HOTSPOTS_DEFAULT_PAGE_SIZE``, ``HOTSPOTS_MAX_PAGE_SIZE``), paged by keyset.

Modules: :mod:`.common` (negotiation, links, HTML), :mod:`.crs`,
:mod:`.collections` (catalogue, titles, extents), :mod:`.queryables`,
:mod:`.items` (selection and keyset paging), :mod:`.run_items` (run collections read
from the store's rows of each disclosure view), :mod:`.routes`.
"""

from __future__ import annotations

from fastapi import FastAPI

from ..filters import declare_page_size
from .routes import router
from .tile_routes import router as tile_router

ITEMS_PATH = "/ogc/collections/{collection_id}/items"


def install(app: FastAPI, settings) -> None:
    """Add the OGC routes to ``app`` and declare the page size in its OpenAPI document.

    The ``limit`` parameter of the items operation gets the configured default and
    maximum (``settings``: :class:`api.settings.ApiSettings`), as plain integer bounds
    that clients such as GDAL's OAPIF driver read to choose their page size.
    """
    app.include_router(router)
    app.include_router(tile_router)
    build = app.openapi

    def openapi() -> dict:
        if app.openapi_schema is None:
            schema = build()
            declare_page_size(schema, ITEMS_PATH, settings, minimum=1)
            declare_page_size(schema, "/incidents", settings)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


__all__ = ["install", "router"]
