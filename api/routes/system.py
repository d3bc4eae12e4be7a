"""Health, readiness and the taxonomy."""

from __future__ import annotations

import logging

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from geodata.errors import StoreUnavailable
from geodata.taxonomy import CATEGORIES

from ..deps import StoreDep
from ..problems import problem_response

router = APIRouter(tags=["system"])
log = logging.getLogger("hotspots.api")


@router.get("/health", operation_id="read_health", summary="The process is up (liveness)")
async def read_health() -> dict:
    """Liveness only: never touches the store, and runs on the event loop (not the
    thread pool), so it answers in milliseconds even while every worker thread waits
    for a database that is down. Whether the store answers: ``/ready``."""
    return {"status": "ok"}


@router.get(
    "/ready",
    operation_id="read_ready",
    summary="The store is reachable and its schema current",
    responses={503: {"description": "store unreachable or migrations pending"}},
)
def read_ready(store: StoreDep):
    try:
        status = store.schema_status()
    except StoreUnavailable as exc:
        log.warning("not ready: %s", exc.message)
        return problem_response(
            503,
            "the data store cannot be reached just now",
            "store-unavailable",
            "/ready",
            {"Retry-After": "30"},
        )
    if not status["current"]:
        return problem_response(
            503,
            f"migrations pending: {status['pending']}",
            "migrations-pending",
            "/ready",
            {"Retry-After": "30"},
        )
    return JSONResponse({"status": "ready", "schema": status})


@router.get("/categories", operation_id="list_categories", summary="The category taxonomy")
def list_categories() -> list[dict]:
    return [
        {"slug": c.slug, "label": c.label, "group": c.group, "source": c.source} for c in CATEGORIES
    ]
