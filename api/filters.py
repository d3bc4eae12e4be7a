"""Shared request filters (bbox, time window, categories, area, paging) and their limits.

Each parser refuses bad input with a 422 problem naming the parameter, what
was expected and what was received; each limit (bbox area, window length,
page size) refuses with a problem saying the limit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from geodata.stores import IncidentQuery
from geodata.taxonomy import BY_SLUG
from hotspots.temporal import month_or_day

from .problems import Problem
from .settings import ApiSettings

BBOX_HELP = "minLon,minLat,maxLon,maxLat in WGS84 degrees"


def invalid(param: str, expected: str, received: object, where: str = "query") -> Problem:
    """A 422 naming the parameter (``where``: ``query``, or ``body`` for a JSON field)."""
    what = "query parameter" if where == "query" else f"{where} field"
    return Problem(
        422,
        f"{what} {param!r}: expected {expected}; received {received!r}",
        errors=[{"field": param, "where": where, "expected": expected, "received": received}],
    )


def parse_bbox(text: str | None, settings: ApiSettings) -> tuple[float, ...] | None:
    if text is None:
        return None
    parts = text.split(",")
    try:
        values = tuple(float(p) for p in parts)
    except ValueError:
        raise invalid("bbox", BBOX_HELP, text) from None
    if len(values) != 4 or not all(math.isfinite(v) for v in values):
        raise invalid("bbox", BBOX_HELP, text)
    x0, y0, x1, y1 = values
    if not (-180 <= x0 <= x1 <= 180 and -90 <= y0 <= y1 <= 90):
        raise invalid("bbox", BBOX_HELP + " with min <= max", text)
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
    t = text.strip()
    expected = f"YYYY-MM, YYYY-MM-DD or an RFC 3339 date-time, {DATE_RANGE}"
    try:
        when = month_or_day(t, end=end)
        if when is None:
            when = datetime.fromisoformat(t.replace("Z", "+00:00")).replace(tzinfo=None)
            when += timedelta(microseconds=1) if end else timedelta()
    except (ValueError, OverflowError):
        raise invalid(param, expected, text, where) from None
    day = (when - timedelta(microseconds=1) if end else when).date()
    if not MIN_DATE <= day <= MAX_DATE:
        raise invalid(param, expected, text, where)
    return when


@dataclass
class Window:
    start: datetime | None = None
    end: datetime | None = None  # exclusive


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
        if "/" in datetime_:
            a, _, b = datetime_.partition("/")
            w.start = None if a in ("", "..") else _when(a, "datetime", False, where)
            w.end = None if b in ("", "..") else _when(b, "datetime", True, where)
        else:
            w.start = _when(datetime_, "datetime", False, where)
            w.end = _when(datetime_, "datetime", True, where)
    else:
        w.start = _when(date_from, "from", False, where) if date_from else None
        w.end = _when(date_to, "to", True, where) if date_to else None
    if w.start and w.end and w.start >= w.end:
        raise invalid("to", "a time after 'from'", date_to or datetime_, where)
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
    cats = [c.strip() for c in text.split(",") if c.strip()]
    bad = [c for c in cats if c not in BY_SLUG]
    if bad or not cats:
        raise invalid("categories", "comma-separated category slugs (see /categories)", text, where)
    return cats


def parse_area(text: str | None) -> tuple[str, str] | None:
    if text is None:
        return None
    kind, sep, code = text.partition(":")
    if not sep or kind not in ("ward", "lsoa", "msoa", "district", "custom") or not code:
        raise invalid("area", "kind:code, e.g. ward:E05004964", text)
    return kind, code


#: the largest ``offset`` a page may start at (the stores' 64-bit OFFSET takes no more)
MAX_OFFSET = 2**31 - 1


def check_page(limit: int | None, offset: int, settings: ApiSettings) -> int:
    if limit is None:
        limit = min(settings.default_page_size, settings.max_page_size)
    if limit < 0 or limit > settings.max_page_size:
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
