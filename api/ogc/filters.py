"""CQL2 filters (OGC API – Features Part 3): ``filter``, ``filter-lang``, ``filter-crs``.

The text or JSON is parsed by the ``cql2`` library into CQL2-JSON, then compiled
here against the collection's *queryables as the caller is shown them* into a
small tree: comparisons, ``IN``, ``LIKE``, ``BETWEEN``, ``IS NULL``, ``AND``/``OR``/
``NOT``, ``S_INTERSECTS`` and the temporal ``T_BEFORE``/``T_AFTER``/``T_INTERSECTS``/
``T_EQUALS`` (as comparisons on a date-time property). Anything else — an
unknown property, a literal of the wrong type, another operator — is a 400
naming ``filter``.

The tree is applied in one of two ways, with the same meaning (SQL's
three-valued logic: a comparison with a missing value is neither true nor false):

- incidents: :func:`incident_condition` renders it as SQL with bound values for
  :class:`geodata.stores.IncidentQuery` (both stores share the rendering), and
  ``S_INTERSECTS`` terms, which must be joined to the rest by ``AND``, become the
  query's ``within`` polygon in the analysis CRS;
- runs: :mod:`geodata.stores.run_condition` renders it as SQL on the rows of the
  role's disclosure view (:mod:`.run_items`), the features *after* the policy
  shaped them, with :func:`matches` as the exact test DuckDB makes of spatial terms;
- areas: :func:`matches` evaluates it on the features after the policy shaped
  them. Either way a filter can only ask about what the role already sees
  (generalised outlines, rounded or suppressed counts).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

import cql2
import shapely
from shapely.geometry import box, shape

from geodata.crs import WGS84

from ..problems import Problem
from .crs import CRS84, SUPPORTED, _transform

LANGS = ("cql2-text", "cql2-json")
FILTER_HELP = "a CQL2 expression over the collection's queryables (see its queryables link)"
CONFORMANCE = [
    f"http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/{c}"
    for c in ("queryables", "queryables-query-parameters", "filter", "features-filter")
] + [
    f"http://www.opengis.net/spec/cql2/1.0/conf/{c}"
    for c in (
        "cql2-text",
        "cql2-json",
        "basic-cql2",
        "advanced-comparison-operators",
        "basic-spatial-functions",
        "temporal-functions",
    )
]
_CMP = {"=": "=", "<>": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
_FLIP = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "=": "=", "<>": "<>"}
MAX_DEPTH = 64
_TEMPORAL = ("t_before", "t_after", "t_intersects", "t_equals")


def bad(detail: str, received: object, param: str = "filter") -> Problem:
    """A 400 naming the filter parameter and what was wrong with it."""
    text = received if isinstance(received, str) else json.dumps(received, default=str)
    return Problem(
        400,
        f"query parameter {param!r}: {detail}",
        # a rule no request schema can state (api.params.CROSS_FIELD_RULES)
        type="invalid-filter" if param == "filter" else None,
        errors=[{"field": param, "where": "query", "expected": detail, "received": text}],
    )


@dataclass(frozen=True)
class Filter:
    """A compiled filter: ``tree`` over property names, geometries in CRS84."""

    tree: tuple
    text: str


def parse(text: str | None, lang: str | None, crs: str, props: dict[str, str]) -> Filter | None:
    """The filter ``text`` in ``lang`` compiled against ``props`` (name → queryable type:
    string, integer, number, boolean or date-time); geometries in it are in ``crs``."""
    if lang is not None and lang not in LANGS:
        raise bad(f"one of {', '.join(LANGS)}", lang, "filter-lang")
    if text is None:
        return None
    if _depth(text) > MAX_DEPTH:  # the parser's stack is not to be bet on by a client
        raise bad(f"brackets and NOTs nested at most {MAX_DEPTH} deep", text[:200])
    try:
        expr = cql2.parse_json(text) if lang == "cql2-json" else cql2.parse_text(text)
        tree = expr.to_json()
    except (ValueError, cql2.ParseError, cql2.ValidationError) as exc:
        first = str(exc).strip().splitlines()
        syntax = " ".join(line.strip() for line in first[-1:]).lstrip("= ")
        raise bad(f"valid {lang or 'cql2-text'} ({syntax})", text) from None
    try:
        return Filter(_compile(tree, props, crs), text)
    except RecursionError:
        raise bad("an expression nested less deeply", text[:200]) from None


def _depth(text: str) -> int:
    """How deep ``(``, ``[`` and ``{`` nest in ``text`` outside quoted strings, with
    each ``NOT`` counted as one more level and a run of signs (``- - -1``) as 8 levels
    each (the parser recurses on all three; a few thousand crash it)."""
    depth = deepest = 0
    quote = None
    outside: list[str] = []
    for ch in text:
        if quote:
            quote = None if ch == quote else quote
            continue
        if ch in "'\"":
            quote = ch
        elif ch in "([{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in ")]}":
            depth -= 1
        outside.append(ch)
    rest = "".join(outside)
    nots = len(re.findall(r"\bnot\b", rest, re.IGNORECASE))
    signs = max((len(re.sub(r"\s", "", m)) for m in re.findall(r"[-+][-+\s]*", rest)), default=0)
    return max(deepest + nots, signs * 8)


def _compile(node, props: dict[str, str], crs: str) -> tuple:
    if isinstance(node, bool):
        return ("bool", node)
    if not isinstance(node, dict) or "op" not in node:
        raise bad("a boolean expression", node)
    op, args = str(node["op"]).lower(), list(node.get("args") or [])
    if op in ("and", "or"):
        return (op, [_compile(a, props, crs) for a in args])
    if op == "not":
        return ("not", _compile(args[0], props, crs))
    if op in _CMP:
        name, value, flipped = _property_first(args, props)
        kind = props[name]
        return ("cmp", _FLIP[op] if flipped else op, name, _literal(value, kind, name))
    if op == "in":
        name = _property(args[0], props)
        kind = props[name]
        values = args[1] if len(args) > 1 and isinstance(args[1], list) else None
        if values is None:
            raise bad("IN with a list of values", node)
        return ("in", name, [_literal(v, kind, name) for v in values])
    if op == "like":
        name = _property(args[0], props)
        if props[name] != "string" or not isinstance(args[1], str):
            raise bad(f"LIKE on a string property with a text pattern (not {name!r})", node)
        return ("like", name, args[1])
    if op == "between":
        name = _property(args[0], props)
        lo, hi = (_literal(v, props[name], name) for v in args[1:3])
        return ("between", name, lo, hi)
    if op == "isnull":
        return ("isnull", _property(args[0], props))
    if op == "s_intersects":
        geoms = [a for a in args if not _is_property(a)]
        named = [a for a in args if _is_property(a)]
        if len(geoms) != 1 or len(named) != 1 or named[0]["property"] != "geometry":
            raise bad("S_INTERSECTS(geometry, <a geometry literal>)", node)
        return ("intersects", _geometry(geoms[0], crs))
    if op in _TEMPORAL:
        return _temporal(op, args, props, node)
    raise bad(
        "the operators =, <>, <, <=, >, >=, IN, LIKE, BETWEEN, IS NULL, AND, OR, NOT, "
        f"S_INTERSECTS, {', '.join(t.upper() for t in _TEMPORAL)}; not {op!r}",
        node,
    )


def _is_property(arg) -> bool:
    return isinstance(arg, dict) and "property" in arg


def _property(arg, props: dict[str, str]) -> str:
    if not _is_property(arg):
        raise bad("a queryable property as the first argument of each comparison", arg)
    name = arg["property"]
    if name not in props:
        raise bad(f"a queryable property, one of {', '.join(sorted(props))}; not {name!r}", arg)
    return name


def _property_first(args: list, props) -> tuple[str, object, bool]:
    if len(args) == 2 and not _is_property(args[0]) and _is_property(args[1]):
        return _property(args[1], props), args[0], True
    if len(args) != 2:
        raise bad("a comparison of a property with a value", args)
    return _property(args[0], props), args[1], False


def _when(value, name: str) -> datetime:
    text = value.get("timestamp") or value.get("date") if isinstance(value, dict) else value
    if not isinstance(text, str):
        raise bad(f"a TIMESTAMP or DATE to compare with {name!r}", value)
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).replace(tzinfo=None)
    except ValueError:
        raise bad(f"an RFC 3339 TIMESTAMP or DATE to compare with {name!r}", value) from None


def _literal(value, kind: str, name: str):
    if kind == "date-time":
        return _when(value, name)
    ok = {
        "string": isinstance(value, str),
        "boolean": isinstance(value, bool),
        "integer": isinstance(value, int | float) and not isinstance(value, bool),
        "number": isinstance(value, int | float) and not isinstance(value, bool),
    }.get(kind, False)
    if not ok:
        raise bad(f"a {kind} value to compare with {name!r}", value)
    return value


def _temporal(op: str, args: list, props: dict[str, str], node) -> tuple:
    name = _property(args[0], props)
    if props[name] != "date-time" or len(args) != 2:
        raise bad(f"{op.upper()}(<a date-time property>, <an instant or interval>)", node)
    value = args[1]
    if isinstance(value, dict) and "interval" in value:
        a, b = value["interval"]
        start = None if a == ".." else _when(a, name)
        end = None if b == ".." else _when(b, name)
        if end is not None and _is_day(b):  # a day as the end: to its last instant
            end += timedelta(days=1) - timedelta(microseconds=1)
    elif isinstance(value, dict) and "date" in value:  # a day: [midnight, next midnight)
        start = _when(value, name)
        end = start + timedelta(days=1) - timedelta(microseconds=1)
    else:
        start = end = _when(value, name)
    if op == "t_before":
        return ("cmp", "<", name, start) if start else ("bool", False)
    if op == "t_after":
        return ("cmp", ">", name, end) if end else ("bool", False)
    parts = [("cmp", ">=", name, start)] if start else []
    parts += [("cmp", "<=", name, end)] if end else []
    if op == "t_equals" and start == end:
        return ("cmp", "=", name, start)
    return ("and", parts) if parts else ("not", ("isnull", name))


def _is_day(value) -> bool:
    text = value.get("date") if isinstance(value, dict) else value
    return isinstance(text, str) and len(text.strip()) == 10


def _geometry(value, crs: str):
    try:
        if isinstance(value, dict) and "bbox" in value:
            b = value["bbox"]
            geom = box(b[0], b[1], b[3], b[4]) if len(b) == 6 else box(*b)
        else:
            geom = shape(value)
    except (
        KeyError,
        TypeError,
        ValueError,
        IndexError,
        AttributeError,
        shapely.errors.ShapelyError,
    ):
        raise bad("a WKT or GeoJSON geometry literal", value) from None
    if geom.is_empty or not shapely.is_valid(geom):
        raise bad("a non-empty, valid geometry", value)
    return geom if crs == CRS84 else _transform(geom, SUPPORTED[crs], WGS84)


# -- incidents: SQL with bound values ----------------------------------------------------------
def spatial_terms(f: Filter) -> tuple[tuple | None, list]:
    """The filter split into its non-spatial part and the CRS84 geometries it must
    intersect; a spatial term anywhere but at the top level of ANDs is a 400."""
    tree = f.tree
    conjuncts = tree[1] if tree[0] == "and" else [tree]
    geoms = [c[1] for c in conjuncts if c[0] == "intersects"]
    rest = [c for c in conjuncts if c[0] != "intersects"]
    if any(_has_spatial(c) for c in rest):
        raise bad("S_INTERSECTS joined to the rest of the filter by AND (on incidents)", f.text)
    tree = None if not rest else rest[0] if len(rest) == 1 else ("and", rest)
    return tree, geoms


def _has_spatial(node: tuple) -> bool:
    if node[0] == "intersects":
        return True
    if node[0] in ("and", "or"):
        return any(_has_spatial(n) for n in node[1])
    return node[0] == "not" and _has_spatial(node[1])


def incident_condition(tree: tuple, columns: dict[str, str]) -> tuple[str, tuple]:
    """``tree`` (without spatial terms) as an SQL template with ``{}`` for each bound
    value; ``columns`` maps each property to its (trusted) column name."""
    values: list = []

    def render(node: tuple) -> str:
        kind = node[0]
        if kind == "bool":
            return "TRUE" if node[1] else "FALSE"
        if kind in ("and", "or"):
            if not node[1]:
                return "TRUE" if kind == "and" else "FALSE"
            return "(" + f" {kind.upper()} ".join(render(n) for n in node[1]) + ")"
        if kind == "not":
            return f"(NOT {render(node[1])})"
        if kind == "isnull":
            return f"({columns[node[1]]} IS NULL)"
        if kind == "cmp":
            values.append(node[3])
            return f"({columns[node[2]]} {_CMP[node[1]]} {{}})"
        if kind == "in":
            if not node[2]:
                return "FALSE"
            values.extend(node[2])
            return f"({columns[node[1]]} IN ({', '.join('{}' for _ in node[2])}))"
        if kind == "like":
            values.append(node[2])
            return f"({columns[node[1]]} LIKE {{}})"
        if kind == "between":
            values.extend(node[2:4])
            return f"({columns[node[1]]} BETWEEN {{}} AND {{}})"
        raise bad("S_INTERSECTS joined to the rest of the filter by AND", str(node))

    return render(tree), tuple(values)


# -- runs and areas: evaluated on the disclosed features ---------------------------------------
def matches(f: Filter, feature: dict) -> bool:
    """Whether the (already disclosed, CRS84) ``feature`` passes the filter."""
    return _eval(f.tree, feature.get("properties") or {}, feature) is True


def _like(pattern: str) -> re.Pattern:
    parts = (".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
    return re.compile("".join(parts), re.S)


def _eval(node: tuple, props: dict, feature: dict) -> bool | None:
    kind = node[0]
    if kind == "bool":
        return node[1]
    if kind in ("and", "or"):
        got = [_eval(n, props, feature) for n in node[1]]
        decisive = kind == "or"  # True decides an OR, False an AND
        if decisive in got:
            return decisive
        return None if None in got else not decisive
    if kind == "not":
        inner = _eval(node[1], props, feature)
        return None if inner is None else not inner
    if kind == "intersects":
        geom = feature.get("geometry")
        return bool(geom) and shape(geom).intersects(node[1])
    if kind == "isnull":
        return props.get(node[1]) is None
    value = props.get(node[2] if kind == "cmp" else node[1])
    if value is None:
        return None
    try:
        if kind == "cmp":
            op, lit = node[1], node[3]
            if isinstance(lit, datetime):
                value = _when(value, node[2])
            return {
                "=": value == lit,
                "<>": value != lit,
                "<": value < lit,
                "<=": value <= lit,
                ">": value > lit,
                ">=": value >= lit,
            }[op]
        if kind == "in":
            return value in node[2]
        if kind == "like":
            return _like(node[2]).fullmatch(str(value)) is not None
        if kind == "between":
            return node[2] <= value <= node[3]
    except TypeError:
        return None
    return None
