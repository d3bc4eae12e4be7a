"""Maps of runs, and share links for neighbourhood teams (no login, no install).

A share link is made by an analyst for one run, a role (partner or public)
and an expiry; its token is signed with the server secret, so it cannot be
edited to widen what it shows. Links can be listed and revoked, and every
open is recorded. Expired, revoked or tampered links get a plain-language
page with the right status, never a stack trace.
"""

from __future__ import annotations

import html
import json
import logging
from typing import Literal

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict, Field

from geodata.errors import NotFound

from ..deps import AnalystDep, PartnerDep, SettingsDep, StoreDep
from ..disclosure import Disclosure
from ..params import LINE, CategorySlug, Int, MonthOrDay
from ..problems import Problem
from ..security import now_utc, verify_link
from ..usecases.maps import keep_within, run_map_page
from ..usecases.plans import resolve_area
from ..usecases.share_links import InvalidShareLink, create_link

router = APIRouter(tags=["maps and share links"])
audit = logging.getLogger("hotspots.audit")


def map_page(run, policy: Disclosure, title: str, store=None, maps=None, within=None) -> str:
    """The map page of a run as ``role`` may see it (Leaflet and plugins from our own
    ``/static/vendor`` route: no outside scripts, styles or fonts).

    Both map routes (``/runs/{id}/map`` and ``/share/{token}/``) sit two levels
    below the root, so the assets are linked relatively and still load when the
    service is mounted under a path prefix.
    """
    return run_map_page(
        store,
        run,
        policy.role,
        policy.min_count,
        title,
        maps,
        asset_base="../../static/vendor",
        policy=policy,
        within=within,
    )


def _map_settings(request: Request):
    return getattr(request.app.state.settings, "maps", None)


def plain_page(status: int, title: str, message: str) -> HTMLResponse:
    body = (
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><meta name='viewport' "
        f"content='width=device-width, initial-scale=1'><title>{html.escape(title)}</title>"
        f"</head><body style='font-family:system-ui,sans-serif;margin:2rem'>"
        f"<h1>{html.escape(title)}</h1><p>{html.escape(message)}</p></body></html>"
    )
    return HTMLResponse(body, status_code=status)


@router.get(
    "/runs/{run_id}/map",
    operation_id="read_run_map",
    response_class=HTMLResponse,
    summary="The map page of a run (partners and analysts)",
)
def read_run_map(
    run_id: str, request: Request, store: StoreDep, settings: SettingsDep, caller: PartnerDep
) -> HTMLResponse:
    run = store.get_run(run_id)
    if run is None:
        raise Problem(404, f"no run {run_id!r}; see /runs")
    return HTMLResponse(
        map_page(
            run,
            Disclosure.for_role(caller.role, settings),
            f"Hotspots — {run.method}",
            store,
            _map_settings(request),
        )
    )


class ShareFilters(BaseModel):
    """What a link shows of its run, applied on the server: categories and a window make
    (or reuse) a run of the same analysis restricted to them; an area keeps the hotspots
    that touch it."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    categories: list[CategorySlug] | None = Field(
        None, min_length=1, max_length=50, description="category slugs (within the run's)"
    )
    date_from: MonthOrDay | None = Field(None, alias="from")
    date_to: MonthOrDay | None = Field(None, alias="to", description="inclusive")
    area: str | None = Field(
        None, max_length=100, pattern=LINE, description="ward:CODE, lsoa:CODE or a ward name"
    )


class ShareLinkRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"run_id": "run-0123456789abcdef", "role": "partner", "expires_in_days": 14}
            ]
        },
    )

    run_id: str = Field(..., min_length=1, max_length=100)
    role: Literal["partner", "public"] = "partner"
    expires_in_days: Int = Field(14, ge=1, le=365)
    filters: ShareFilters = Field(
        default_factory=ShareFilters, description="applied on the server to what the link shows"
    )
    title: str = Field("Hotspots", max_length=120, pattern=LINE)


class ShareLinkPublic(BaseModel):
    link_id: str
    run_id: str
    role: str
    created_by: str
    created_at: str
    expires_at: str
    revoked_at: str | None
    url: str | None = None


def _public(link, url: str | None = None) -> dict:
    return {
        "link_id": link.link_id,
        "run_id": link.run_id,
        "role": link.role,
        "created_by": link.created_by,
        "created_at": link.created_at.isoformat(),
        "expires_at": link.expires_at.isoformat(),
        "revoked_at": link.revoked_at.isoformat() if link.revoked_at else None,
        "url": url,
    }


@router.post(
    "/share-links",
    operation_id="create_share_link",
    status_code=201,
    response_model=ShareLinkPublic,
    summary="Make a share link to a run's map",
)
def create_share_link(
    body: ShareLinkRequest,
    request: Request,
    store: StoreDep,
    settings: SettingsDep,
    caller: AnalystDep,
) -> dict:
    try:
        link, url = create_link(
            store,
            body.run_id,
            role=body.role,
            expires_in_days=body.expires_in_days,
            max_days=settings.share_link_max_days,
            secret=settings.secret_key.get_secret_value(),
            base_url=settings.base_url or str(request.base_url),
            created_by=caller.name,
            filters=body.filters.model_dump(by_alias=True, exclude_none=True),
            title=body.title,
        )
    except NotFound as exc:
        raise Problem(404, exc.message) from None
    except InvalidShareLink as exc:
        raise Problem(
            exc.status,
            f"body field {exc.message}",
            type=exc.type,
            errors=[{"field": exc.field, "where": "body"}],
        ) from None
    return _public(link, url)


def link_view(store, link, run, settings) -> tuple[Disclosure, object]:
    """The disclosure policy of a link and the area its hotspots are kept within."""
    area = link.filters.get("area")
    within = resolve_area(store, area).geometry_lonlat if area else None
    return Disclosure.for_role(link.role, settings), within


@router.get(
    "/share-links",
    operation_id="list_share_links",
    response_model=list[ShareLinkPublic],
    summary="Share links, newest first",
)
def list_share_links(store: StoreDep, caller: AnalystDep) -> list[dict]:
    return [_public(link) for link in store.list_share_links()]


@router.delete(
    "/share-links/{link_id}",
    operation_id="revoke_share_link",
    status_code=204,
    summary="Revoke a share link at once",
)
def revoke_share_link(link_id: str, store: StoreDep, caller: AnalystDep) -> Response:
    if not store.revoke_share_link(link_id, now_utc()):
        raise Problem(404, f"no live share link {link_id!r}")
    return Response(status_code=204)


@router.get(
    "/share-links/{link_id}/opens",
    operation_id="list_share_link_opens",
    summary="When a share link was opened",
)
def list_share_link_opens(link_id: str, store: StoreDep, caller: AnalystDep) -> list[dict]:
    if store.get_share_link(link_id) is None:
        raise Problem(404, f"no share link {link_id!r}")
    return [
        {"opened_at": when.isoformat(), "client": client}
        for when, client in store.share_link_opens(link_id)
    ]


def _refused(request: Request, link_id: str | None, reason: str) -> None:
    """Every refused open is logged with its reason (opens are recorded in the store)."""
    client = request.client.host if request.client else None
    audit.warning("share link open refused: %s (link %s, client %s)", reason, link_id, client)


def _open(token: str, request: Request, store, settings):
    link_id = verify_link(token, settings.secret_key.get_secret_value())
    if link_id is None:
        _refused(request, None, "tampered or malformed token")
        return None, plain_page(
            404,
            "This link does not work",
            "The link is not valid: it may have been copied incompletely or "
            "changed. Ask the analyst who sent it for a new one.",
        )
    link = store.get_share_link(link_id)
    if link is None:
        _refused(request, link_id, "unknown link")
        return None, plain_page(
            404, "This link does not work", "This link is not known here. Ask for a new one."
        )
    now = now_utc()
    if link.revoked_at is not None:
        _refused(request, link_id, "revoked")
        return None, plain_page(
            410,
            "This link has been withdrawn",
            "The analyst who shared it has withdrawn it. Ask for a new one.",
        )
    if link.expires_at <= now:
        _refused(request, link_id, f"expired {link.expires_at:%Y-%m-%d %H:%M} UTC")
        return None, plain_page(
            410,
            "This link has expired",
            f"It expired on {link.expires_at:%d %B %Y}. Ask the analyst for a new one.",
        )
    run = store.get_run(link.run_id)
    if run is None:
        _refused(request, link_id, "run removed")
        return None, plain_page(
            410,
            "This map is no longer available",
            "The analysis behind this link has been removed. Ask the analyst who sent it "
            "for a new one.",
        )
    client = request.client.host if request.client else None
    store.log_share_open(link.link_id, now, client)
    return (link, run), None


@router.get(
    "/share/{token}/",
    operation_id="open_share_link",
    response_class=HTMLResponse,
    summary="Open a share link: the map page, as the link's role",
    responses={
        404: {"description": "a page: the link is not valid", "content": {"text/html": {}}},
        410: {
            "description": "a page: the link has expired or been withdrawn",
            "content": {"text/html": {}},
        },
    },
)
def open_share_link(
    token: str, request: Request, store: StoreDep, settings: SettingsDep
) -> HTMLResponse:
    opened, page = _open(token, request, store, settings)
    if page is not None:
        return page
    link, run = opened
    policy, within = link_view(store, link, run, settings)
    return HTMLResponse(
        map_page(
            run,
            policy,
            link.filters.get("title", "Hotspots"),
            store,
            _map_settings(request),
            within=within,
        )
    )


@router.get(
    "/share/{token}/hotspots.geojson",
    operation_id="read_share_link_hotspots",
    summary="A share link's hotspots as GeoJSON, as the link's role",
    response_class=Response,
    responses={200: {"content": {"application/geo+json": {}}}},
)
def read_share_link_hotspots(
    token: str, request: Request, store: StoreDep, settings: SettingsDep
) -> Response:
    opened, page = _open(token, request, store, settings)
    if page is not None:
        raise Problem(
            page.status_code, "this share link is not valid, has expired or has been withdrawn"
        )
    link, run = opened
    policy, within = link_view(store, link, run, settings)
    doc = keep_within(policy.run_view(run.result), within)
    return Response(json.dumps(doc, default=str), media_type="application/geo+json")
