"""Shared request filters (bbox, time window, categories, area, paging) and their limits.

Each parser refuses bad input with a 422 problem naming the parameter, what
was expected and what was received; each limit (bbox area, window length,
page size) refuses with a problem saying the limit.
"""

from __future__ import annotations

import math
import re
from datetime import date, datetime, timedelta

from geodata.stores import IncidentQuery
from hotspots.temporal import month_or_day

from .params import (
    AREA,
    AREA_RE,
    BBOX4,
    CATEGORY_LIST_RE,
    DATE_HELP,
    DATETIME_RE,
    MONTH_OR_DAY_RE,
)
from .problems import Problem
from .settings import ApiSettings
from .usecases.window import Window

BBOX_HELP = "minLon,minLat,maxLon,maxLat in WGS84 degrees"


def invalid(
    param: str, expected: str, received: object, where: str = "query", type: str | None = None
) -> Problem:
    """A 422 naming the parameter (``where``: ``query``, or ``body`` for a JSON field);
    ``type`` for the rules a schema cannot state (:data:`api.params.CROSS_FIELD_RULES`)."""
    what = "query parameter" if where == "query" else f"{where} field"
    return Problem(
        422,
        f"{what} {param!r}: expected {expected}; received {received!r}",
        type=type,
        errors=[{"field": param, "where": where, "expected": expected, "received": received}],
    )


def parse_bbox(text: str | None, settings: ApiSettings) -> tuple[float, ...] | None:
    if text is None:
        return None
    if not re.fullmatch(BBOX4, text):
        raise invalid("bbox", BBOX_HELP + " (four decimal numbers)", text)
    values = tuple(float(p) for p in text.split(","))
    x0, y0, x1, y1 = values
    if not (-180 <= x0 <= x1 <= 180 and -90 <= y0 <= y1 <= 90):
        raise invalid("bbox", BBOX_HELP + " with min <= max", text, type="invalid-bbox")
    mid = math.radians((y0 + y1) / 2)
    km2 = (x1 - x0) * 111.32 * math.cos(mid) * (y1 - y0) * 110.57
    if km2 > settings.max_bbox_km2:
        raise Problem(
            422,
            f"bbox covers {km2:,.0f} km²; the limit is "
            f"{settings.max_bbox_km2:,.0f} km² per request",
            type="bbox-too-large",
        )
    return values


#: the dates the service accepts: anything outside is a typo (or a probe), and dates
#: near the calendar's ends overflow date arithmetic
MIN_DATE, MAX_DATE = date(1900, 1, 1), date(2100, 12, 31)
DATE_RANGE = f"from {MIN_DATE} to {MAX_DATE}"


def check_date_range(value: date, param: str, where: str = "body") -> date:
    """``value`` if within :data:`MIN_DATE`–:data:`MAX_DATE`, else a 422 naming ``param``."""
    if not MIN_DATE <= value <= MAX_DATE:
        raise invalid(param, f"a date {DATE_RANGE}", value.isoformat(), where)
    return value


def _when(text: str, param: str, end: bool, where: str = "query") -> datetime:
    """A start or an (exclusive) end from a month, a day or (``datetime`` only) an RFC
    3339 date-time; the grammar is checked by the caller (:mod:`api.params`)."""
    when = month_or_day(text, end=end)
    if when is None:
        when = datetime.fromisoformat(text.replace("Z", "+00:00")).replace(tzinfo=None)
        when += timedelta(microseconds=1) if end else timedelta()
    return when


def check_month_or_day(text: str, param: str, where: str = "query") -> str:
    if not MONTH_OR_DAY_RE.fullmatch(text):
        raise invalid(param, DATE_HELP, text, where)
    return text


def parse_window(
    date_from: str | None,
    date_to: str | None,
    datetime_: str | None,
    settings: ApiSettings,
    where: str = "query",
) -> Window:
    """``from``/``to`` (inclusive months or days) or OGC ``datetime`` (instant or a/b, ``..``)."""
    w = Window()
    if datetime_ is not None:
        if not DATETIME_RE.fullmatch(datetime_):
            expected = "an RFC 3339 instant (or YYYY-MM, YYYY-MM-DD) or an interval a/b, '..' open"
            raise invalid("datetime", f"{expected}, {DATE_RANGE}", datetime_, where)
        if "/" in datetime_:
            a, _, b = datetime_.partition("/")
            w.start = None if a in ("", "..") else _when(a, "datetime", False, where)
            w.end = None if b in ("", "..") else _when(b, "datetime", True, where)
        else:
            w.start = _when(datetime_, "datetime", False, where)
            w.end = _when(datetime_, "datetime", True, where)
    else:
        if date_from is not None:
            w.start = _when(check_month_or_day(date_from, "from", where), "from", False, where)
        if date_to is not None:
            w.end = _when(check_month_or_day(date_to, "to", where), "to", True, where)
    if w.start and w.end and w.start >= w.end:
        param = "datetime" if datetime_ is not None else "to"
        raise invalid(
            param, "a time after 'from'", date_to or datetime_, where, type="window-order"
        )
    if w.start and w.end and (w.end - w.start).days > settings.max_window_days:
        raise Problem(
            422,
            f"the time window spans {(w.end - w.start).days:,} days; the limit is "
            f"{settings.max_window_days:,} days per request",
            type="window-too-long",
        )
    return w


def parse_categories(text: str | None, where: str = "query") -> list[str] | None:
    if text is None:
        return None
    if not CATEGORY_LIST_RE.fullmatch(text):
        raise invalid("categories", "comma-separated category slugs (see /categories)", text, where)
    return text.split(",")


def parse_area(text: str | None) -> tuple[str, str] | None:
    if text is None:
        return None
    if not AREA_RE.fullmatch(text):
        raise invalid("area", f"kind:code matching {AREA}, e.g. ward:E05004964", text)
    kind, _, code = text.partition(":")
    return kind, code


#: the largest ``limit`` a route declares before the settings are known (the OpenAPI
#: document then gives the configured maximum: :func:`declare_page_size`)
MAX_PAGE_SIZE = 1_000_000
#: the largest ``offset`` a page may start at (the stores' 64-bit OFFSET takes no more)
MAX_OFFSET = 2**31 - 1


def check_page(limit: int | None, offset: int, settings: ApiSettings) -> int:
    """The page size to serve: the default when not given; at most the configured
    maximum, which the OpenAPI document declares (:func:`declare_page_size`)."""
    if limit is None:
        limit = min(settings.default_page_size, settings.max_page_size)
    if not 0 <= limit <= settings.max_page_size:
        raise invalid("limit", f"an integer from 0 to {settings.max_page_size}", limit)
    if not 0 <= offset <= MAX_OFFSET:
        raise invalid("offset", f"an integer from 0 to {MAX_OFFSET}", offset)
    return limit


def incident_query(
    bbox,
    window: Window,
    categories,
    area,
    *,
    include_sensitive: bool,
    limit: int | None = None,
    offset: int = 0,
) -> IncidentQuery:
    return IncidentQuery(
        bbox=bbox,
        bbox_lonlat=bbox is not None,
        categories=categories,
        area=area,
        start=window.start,
        end=window.end,
        include_sensitive=include_sensitive,
        limit=limit,
        offset=offset,
    )


def declare_page_size(schema: dict, path: str, settings: ApiSettings, minimum: int = 0) -> None:
    """Give the ``limit`` parameter of ``GET path`` in an OpenAPI ``schema`` the
    configured default and maximum, as plain integer bounds (GDAL's OAPIF driver reads
    them to choose its page size; generated clients to stay within them)."""
    for param in schema["paths"][path]["get"]["parameters"]:
        if param["name"] == "limit":
            param["schema"] = {
                "type": "integer",
                "minimum": minimum,
                "maximum": settings.max_page_size,
                "default": min(settings.default_page_size, settings.max_page_size),
                "title": "Limit",
            }
