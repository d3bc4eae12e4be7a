"""Request values whose OpenAPI schema says exactly what the service accepts.

A generated client (or Schemathesis) must never send a request the document calls
valid that the service then refuses for its form. So every textual parameter with a
grammar — category lists, months and days, OGC ``datetime``, bounding boxes, CRS
names, hour ranges — has a regular expression here, published in the schema *and*
used by the parser, so the two cannot drift apart.

What a schema cannot say (one parameter against another, or against the stored data)
is listed in :data:`CROSS_FIELD_RULES`: each refusal of that kind has its own problem
``type``, and the OpenAPI description lists them.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import Query
from pydantic import BeforeValidator, Field, Strict, WithJsonSchema

from geodata.taxonomy import BY_SLUG

# --------------------------------------------------------------------------- dates

_YEAR = r"(19\d\d|20\d\d|2100)"
_LEAP = r"(19(0[48]|[2468][048]|[13579][26])|20([02468][048]|[13579][26]))"
_MONTH = r"(0[1-9]|1[0-2])"
#: a calendar day from 1900-01-01 to 2100-12-31 (leap years exact)
DAY = (
    rf"({_YEAR}-{_MONTH}-(0[1-9]|1\d|2[0-8])"
    rf"|{_YEAR}-(0[13-9]|1[0-2])-(29|30)"
    rf"|{_YEAR}-(0[13578]|1[02])-31"
    rf"|{_LEAP}-02-29)"
)
MONTH = rf"{_YEAR}-{_MONTH}"
MONTH_OR_DAY = rf"({MONTH}|{DAY})"
_TIME = r"T([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d{1,6})?(Z|[+-]([01]\d|2[0-3]):[0-5]\d)"
#: an OGC ``datetime`` end: a month, a day or an RFC 3339 date-time
INSTANT = rf"({MONTH_OR_DAY}|{DAY}{_TIME})"
DATETIME = rf"^({INSTANT}|({INSTANT}|\.\.)?/({INSTANT}|\.\.)?)$"
MONTH_OR_DAY_RE = re.compile(rf"^{MONTH_OR_DAY}$")
DAY_RE = re.compile(rf"^{DAY}$")
DATETIME_RE = re.compile(DATETIME)
DATE_HELP = "YYYY-MM or YYYY-MM-DD, from 1900-01 to 2100-12"
DAY_HELP = "a date YYYY-MM-DD from 1900-01-01 to 2100-12-31"


def _day(value: Any) -> Any:
    if isinstance(value, date):
        return value
    if not isinstance(value, str) or not DAY_RE.fullmatch(value):
        raise ValueError(f"expected {DAY_HELP}")
    return value


#: a date in a JSON body: the string form only (no timestamps), within the range
Day = Annotated[
    date,
    Strict(False),
    BeforeValidator(_day),
    WithJsonSchema({"type": "string", "format": "date", "pattern": f"^{DAY}$"}),
]
#: a month or a day in a JSON body (``from`` / ``to``)
MonthOrDay = Annotated[str, Field(pattern=f"^{MONTH_OR_DAY}$", description=DATE_HELP)]

# --------------------------------------------------------------------------- categories

SLUGS = tuple(sorted(BY_SLUG))
_SLUG = "(" + "|".join(re.escape(s) for s in SLUGS) + ")"
#: comma-separated category slugs (a query parameter)
CATEGORY_LIST = rf"^{_SLUG}(,{_SLUG})*$"
CATEGORY_LIST_RE = re.compile(CATEGORY_LIST)
#: one category slug (in a JSON body)
CategorySlug = Literal[SLUGS]  # type: ignore[valid-type]

# --------------------------------------------------------------------------- numbers

_NUMBER = r"-?(0|[1-9]\d{0,11})(\.\d{1,12})?"
#: four comma-separated decimal numbers (a bbox); ranges and order are checked after
BBOX4 = rf"^{_NUMBER}(,{_NUMBER}){{3}}$"
#: four or six (with heights), as OGC API – Features allows
BBOX46 = rf"^{_NUMBER}(,{_NUMBER}){{3}}(,{_NUMBER},{_NUMBER})?$"

# --------------------------------------------------------------------------- other grammars

_HOUR = r"([01]?\d|2[0-3])(:[0-5]\d)?"
#: a range of hours, e.g. ``18-23`` or ``20:00-02:00`` (may wrap midnight)
HOURS = rf"^{_HOUR}-{_HOUR}$"
HOURS_RE = re.compile(HOURS)
#: a window ``START,END`` (a query parameter)
WINDOW_PAIR = rf"^{MONTH_OR_DAY},{MONTH_OR_DAY}$"
#: an area filter ``kind:code``
AREA = r"^(ward|lsoa|msoa|district|custom):[A-Za-z0-9_.-]{1,40}$"
AREA_RE = re.compile(AREA)


def query_schema(pattern: str, **extra: Any) -> dict:
    """``json_schema_extra`` for a ``Query``: the pattern is published, and checked by
    the parser that gives the friendly message (not by pydantic)."""
    return {"pattern": pattern, **extra}


#: refusals a schema cannot express, each with its own problem type (listed in the
#: OpenAPI description); everything else about a request's form is in the schema
CROSS_FIELD_RULES: dict[str, str] = {
    "window-order": "`to` must not be before `from` (and a `datetime` interval must "
    "not end before it starts)",
    "window-too-long": "a time window may span at most HOTSPOTS_MAX_WINDOW_DAYS days",
    "invalid-bbox": "a bbox needs min <= max, and lies within -180..180, -90..90 in CRS84",
    "bbox-too-large": "a bbox may cover at most HOTSPOTS_MAX_BBOX_KM2 km²",
    "invalid-geometry": "a GeoJSON polygon must be valid (closed rings, finite "
    "coordinates, not self-intersecting)",
    "invalid-input-file": "an uploaded file must be a police.uk CSV or zip, or a council "
    "CSV/xlsx matching its profile",
    "invalid-cursor": "a paging cursor must be one this service issued",
    "uri-too-long": "a request's URL, all its parameters together, may be at most 16 kB "
    "(414 URI Too Long)",
    "invalid-filter": "an OGC `filter` must be CQL2 (text or JSON, as `filter-lang` says) "
    "over the collection's published queryables, with the operators its conformance "
    "classes list",
    "plan-budget": "a plan's officer-hours budget (`hours`) must pay for one visit "
    "(`hours_per_site`)",
    "zero-weights": "ranking `weights` must not all be 0 (those not given keep their defaults)",
    "zero-shares": "a `concern` profile needs a theme with `first_choice_pct` above 0",
    "empty-hours": "a range of hours (`times`) must not start and end in the same hour "
    "(e.g. 22-22)",
}


def rules_description() -> str:
    lines = [
        "Requests whose form the schema accepts are refused only by these rules, which "
        "relate one parameter to another or to an uploaded file; each has its own "
        "problem `type` (https://hotspots.invalid/problems/…). Requests that the stored "
        "data cannot answer (months not loaded, too few incidents, a withdrawn link) "
        "are 409 Conflict, 404 Not Found or 410 Gone."
    ]
    lines += [f"- `{slug}`: {text}" for slug, text in CROSS_FIELD_RULES.items()]
    return "\n".join(lines)


# --------------------------------------------------------------------------- query parameters
# (declared once; the parsers in api.filters check the same patterns and answer with
# a problem naming the parameter)

CategoriesQuery = Annotated[
    str | None,
    Query(
        description="comma-separated category slugs (see /categories)",
        json_schema_extra=query_schema(CATEGORY_LIST),
    ),
]
FromQuery = Annotated[
    str | None,
    Query(alias="from", description=DATE_HELP, json_schema_extra=query_schema(f"^{MONTH_OR_DAY}$")),
]
ToQuery = Annotated[
    str | None,
    Query(
        alias="to",
        description=DATE_HELP + ", inclusive",
        json_schema_extra=query_schema(f"^{MONTH_OR_DAY}$"),
    ),
]

#: one line of text as people type it (no control characters: no NUL, which no store
#: keeps in text)
LINE = r"^[^\x00-\x1f\x7f]*$"
#: free text, several lines allowed (no NUL)
TEXT = r"^[^\x00]*$"

#: a stored area's code (ONS codes such as E05004964, or a partnership's own)
CODE = r"^[A-Za-z0-9_.-]{1,20}$"
#: an H3 cell id (15 hexadecimal digits of a cell, resolution 0–15)
H3_CELL = r"^8[0-9a-f]{14}$"
#: API key ids, as ``api.security.new_api_key`` makes them
KEY_ID = r"^key_[0-9a-f]{12}$"
#: an evaluation's control area by name
CONTROL = r"^(auto|borough|ward|(ward|lsoa|district):[A-Za-z0-9_.-]{1,40})$"


def distinct_sorted(edges: list[float]) -> list[float]:
    """Band edges as given in any order, sorted; a repeated edge is refused (it would be
    an empty band)."""
    if len(set(edges)) != len(edges):
        raise ValueError("expected distinct edges; an edge is repeated")
    return sorted(edges)


def _json_number(value: Any) -> Any:
    """Numbers as JSON has them: ``true`` or ``"5"`` is not a number (pydantic's lax
    mode would take both); ``11.0`` is an integer, as JSON Schema says."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("expected a JSON number")
    return value


#: the check behind :data:`Int`; put it after the constraints in an ``Optional`` field
#: (``Annotated[int, Field(ge=1), JSON_NUMBER] | None``) so that they reach the schema
JSON_NUMBER = BeforeValidator(_json_number)
#: an integer in a JSON body (``11`` or ``11.0``; not ``true`` or ``"11"``)
Int = Annotated[int, JSON_NUMBER]
#: a number in a JSON body (not ``true`` or ``"1.5"``)
Num = Annotated[float, Strict()]
#: a JSON boolean (not ``1`` or ``"yes"``)
Bool = Annotated[bool, Strict()]


#: what each published pattern stands for, in words (for error messages)
PATTERN_HELP = {
    f"^{MONTH_OR_DAY}$": DATE_HELP,
    f"^{DAY}$": DAY_HELP,
    HOURS: "a range of hours such as 18-23 or 20:00-02:00",
    CODE: "an area code such as E05004964 (letters, digits, '.', '_' or '-')",
    H3_CELL: "an H3 cell id (15 hexadecimal digits, e.g. 89195da49b7ffff)",
    KEY_ID: "an API key id such as key_0123456789ab (GET /keys lists them)",
    CONTROL: "auto, borough, ward, ward:CODE, lsoa:CODE or district:CODE",
    AREA: "kind:code, e.g. ward:E05004964",
    LINE: "one line of text (no control characters)",
    TEXT: "text without NUL characters",
}
