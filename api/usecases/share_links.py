"""Share links: the use case behind ``POST /share-links`` and ``hotspots share``.

A link is made by an analyst for one run, a role (``partner`` or ``public``) and an
expiry, with filters applied on the server: ``categories`` and ``from``/``to`` make
(or reuse) the same analysis restricted to them, so a link made for ASB never shows
another category's hotspots; ``area`` keeps the hotspots that touch the area. The
token is signed with the server secret (:mod:`api.security`).
"""

from __future__ import annotations

from datetime import timedelta

from geodata.errors import HotspotsError, NotFound
from geodata.model import ShareLinkRecord
from geodata.taxonomy import validate_slugs
from hotspots.temporal import month_or_day

from ..disclosure import DOCUMENT_TYPE
from ..security import new_link_id, now_utc, sign_link
from .analyse import params_from_request, profiles_from_request, run_or_reuse
from .plans import resolve_area

ROLES = ("partner", "public")


class InvalidShareLink(HotspotsError, ValueError):
    """A share link cannot be made as asked; ``field`` names what is wrong."""

    status = 422
    type = "invalid-share-link"

    def __init__(self, field: str, message: str, status: int = 422) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.status = status  # 404: an unknown area; 409: at odds with the run shared
        self.type = {404: "not-found", 409: "conflict"}.get(status, self.type)


def _when(field: str, text: str | None, *, end: bool):
    if text is None:
        return None
    value = month_or_day(str(text), end=end)
    if value is None:
        raise InvalidShareLink(field, f"expected YYYY-MM or YYYY-MM-DD; received {text!r}")
    return value


def filtered_run(store, run, filters: dict):
    """(the run a link shows, the filters kept with it); see the module."""
    kept = {k: v for k, v in filters.items() if v is not None}
    if kept.get("area") is not None:
        try:
            resolve_area(store, kept["area"])
        except NotFound as exc:
            raise InvalidShareLink("filters.area", exc.message, 404) from None
    cats, start, end = kept.get("categories"), kept.get("from"), kept.get("to")
    if not (cats or start or end):
        return run, kept
    request = dict((run.params or {}).get("request") or {})
    if not request:
        raise InvalidShareLink(
            "filters",
            f"run {run.run_id!r} keeps no analysis request, so it cannot be narrowed; make a "
            "run with the categories and window wanted and share that",
            409,
        )
    if cats:
        try:
            validate_slugs(cats)
        except ValueError as exc:
            raise InvalidShareLink("filters.categories", str(exc)) from None
        had = request.get("categories")
        request["categories"] = [c for c in cats if not had or c in had]
        if not request["categories"]:
            raise InvalidShareLink(
                "filters.categories",
                f"expected categories of the run ({', '.join(had)}); received {cats}",
                409,
            )
    new_start, new_end = _when("filters.from", start, end=False), _when("filters.to", end, end=True)
    old_start = _when("from", request.get("from"), end=False)
    old_end = _when("to", request.get("to"), end=True)
    if new_start and (old_start is None or new_start > old_start):
        request["from"] = start
    if new_end and (old_end is None or new_end < old_end):
        request["to"] = end
    try:
        params, ranking = params_from_request(request)
        weights, concern = profiles_from_request(request)
    except ValueError as exc:
        raise InvalidShareLink("filters", f"within the run shared: {exc}", 409) from None
    shown, _ = run_or_reuse(store, request, params, ranking, weights=weights, concern=concern)
    return shown, {**kept, "source_run": run.run_id}


def create_link(
    store,
    run_id: str,
    *,
    role: str,
    expires_in_days: int,
    max_days: int,
    secret: str,
    base_url: str,
    created_by: str,
    filters: dict | None = None,
    title: str = "Hotspots",
) -> tuple[ShareLinkRecord, str]:
    """Store a new link and return it with its URL. :class:`NotFound` for an unknown
    run; :class:`InvalidShareLink` naming the field for anything else."""
    run = store.get_run(run_id)
    if run is None:
        raise NotFound(f"no run {run_id!r}; see `hotspots runs` or /runs")
    if role not in ROLES:
        raise InvalidShareLink("role", f"expected one of {ROLES}; received {role!r}")
    if not 1 <= expires_in_days <= max_days:
        raise InvalidShareLink(
            "expires_in_days", f"expected 1 to {max_days} days; received {expires_in_days}"
        )
    if run.result and run.result.get("type") == DOCUMENT_TYPE:
        raise InvalidShareLink(
            "run_id",
            f"run {run_id!r} is a {run.method}, analysts' work with no map: it is not shared; "
            "share a hotspot run or a plan",
            409,
        )
    if run.method == "plan":  # a plan is shared whole, with those who patrol
        _check_plan_link(run, role, filters or {})
    shown, kept = filtered_run(store, run, filters or {})
    created = now_utc()
    link = ShareLinkRecord(
        link_id=new_link_id(),
        run_id=shown.run_id,
        role=role,
        filters={**kept, "title": title},
        created_by=created_by,
        created_at=created,
        expires_at=created + timedelta(days=expires_in_days),
        revoked_at=None,
    )
    store.add_share_link(link)
    return link, link_url(base_url, link, secret)


def _check_plan_link(run, role: str, filters: dict) -> None:
    """A plan's link: partners only (the public gets no plan: a site list is a list of
    places), and no filters (its sites were chosen for its own area and window)."""
    if role != "partner":
        raise InvalidShareLink(
            "role",
            f"run {run.run_id!r} is a day-of-action plan: it is shared with partners only; "
            f"received {role!r}",
        )
    given = sorted(k for k, v in filters.items() if v is not None)
    if given:
        raise InvalidShareLink(
            "filters",
            f"run {run.run_id!r} is a day-of-action plan, shared whole (its sites were chosen "
            f"for its own area and window); received filters {', '.join(given)}: make a plan "
            "for the area and window wanted and share that",
        )


def link_url(base_url: str, link: ShareLinkRecord, secret: str) -> str:
    return f"{base_url.rstrip('/')}/share/{sign_link(link.link_id, secret)}/"


__all__ = ["InvalidShareLink", "create_link", "filtered_run", "link_url"]
