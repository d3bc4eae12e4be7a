"""A filter on the properties of run features, as SQL for either store.

The API compiles a CQL2 filter into a small tree (``api.ogc.filters``); here that
tree is rendered as an SQL condition on the ``properties`` (JSON) and geometry
columns of ``run_features`` (:mod:`.run_rows`), with the same meaning as
evaluating it in Python on the feature (SQL's three-valued logic, and Python's
comparisons):

- a missing or null property makes a comparison unknown (``NULL``);
- a value of another type than the literal (a text compared with a number, an
  object) makes a comparison, ``LIKE`` or ``BETWEEN`` unknown, and is not ``IN``
  a list; numbers and booleans compare as numbers (``true = 1``), texts by code
  point (``COLLATE "C"`` on PostGIS);
- ``S_INTERSECTS`` is the exact ``ST_Intersects`` on PostGIS (false, never
  unknown, for a feature without geometry). DuckDB has no geometry without its
  spatial extension, so there the term becomes a *necessary* condition — the
  bounding boxes overlap (false where the term sits under a NOT) — and the store
  tests the candidates exactly in Python (:attr:`RunFeatureQuery.refine`).

Tree nodes: ``("bool", b)``, ``("and"|"or", [nodes])``, ``("not", node)``,
``("cmp", op, name, value)``, ``("in", name, [values])``, ``("like", name,
pattern)`` (``%`` and ``_`` wildcards, nothing escapes), ``("between", name, lo,
hi)``, ``("isnull", name)`` and ``("intersects", geometry)`` (CRS84).
"""

from __future__ import annotations

import shapely

_OPS = {"=", "<>", "<", "<=", ">", ">="}


class Dialect:
    """How one store reads a property of ``properties``: each method gives SQL (``{}``
    for a bound value) and the values to bind."""

    postgis = False

    def kind(self, name: str) -> tuple[str, list]:
        """'s' (text), 'n' (number or boolean), 'o' (object, array), NULL (null, missing)."""
        raise NotImplementedError

    def text(self, name: str) -> tuple[str, list]:
        raise NotImplementedError

    def number(self, name: str) -> tuple[str, list]:
        raise NotImplementedError


class PostGISDialect(Dialect):
    """``properties`` is ``jsonb``: each property is read from it by name."""

    postgis = True

    def kind(self, name: str) -> tuple[str, list]:
        sql = (
            "(CASE jsonb_typeof(properties -> {}) WHEN 'string' THEN 's' WHEN 'number' "
            "THEN 'n' WHEN 'boolean' THEN 'n' WHEN 'object' THEN 'o' WHEN 'array' THEN 'o' END)"
        )
        return sql, [name]

    def text(self, name: str) -> tuple[str, list]:
        return '((properties ->> {}) COLLATE "C")', [name]

    def number(self, name: str) -> tuple[str, list]:
        sql = (
            "(CASE jsonb_typeof(properties -> {}) WHEN 'boolean' THEN "
            "(properties ->> {})::boolean::int::float8 ELSE (properties ->> {})::float8 END)"
        )
        return sql, [name] * 3


class DuckDBDialect(Dialect):
    """``properties`` is JSON text: the properties a filter names are extracted once per
    row, as the list ``p`` (:attr:`paths`, in order), and read from that (one per query)."""

    def __init__(self) -> None:
        self.paths: list[str] = []

    def _ref(self, name: str) -> str:
        path = '$."' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
        if path not in self.paths:
            self.paths.append(path)
        return f"p[{self.paths.index(path) + 1}]"

    def kind(self, name: str) -> tuple[str, list]:
        sql = (
            f"(CASE json_type({self._ref(name)}) WHEN 'VARCHAR' THEN 's' WHEN 'BIGINT' THEN 'n' "
            "WHEN 'UBIGINT' THEN 'n' WHEN 'HUGEINT' THEN 'n' WHEN 'DOUBLE' THEN 'n' "
            "WHEN 'BOOLEAN' THEN 'n' WHEN 'OBJECT' THEN 'o' WHEN 'ARRAY' THEN 'o' END)"
        )
        return sql, []

    def text(self, name: str) -> tuple[str, list]:
        return f"json_extract_string({self._ref(name)}, '$')", []

    def number(self, name: str) -> tuple[str, list]:
        r = self._ref(name)
        sql = (
            f"(CASE json_type({r}) WHEN 'BOOLEAN' THEN "
            f"CAST(CAST(json_extract_string({r}, '$') AS BOOLEAN) AS DOUBLE) "
            f"ELSE TRY_CAST(json_extract_string({r}, '$') AS DOUBLE) END)"
        )
        return sql, []


def _class(value) -> str:
    if isinstance(value, str):
        return "s"
    if isinstance(value, bool | int | float):
        return "n"
    raise ValueError(f"a run feature filter compares texts, numbers and booleans; not {value!r}")


def _bound(value):
    return value if isinstance(value, str) else float(value)


def like_pattern(pattern: str) -> str:
    """A CQL2 LIKE pattern for SQL ``LIKE … ESCAPE '\\'``: only ``%`` and ``_`` are
    wildcards, so a backslash is escaped."""
    return pattern.replace("\\", "\\\\")


def necessary(tree: tuple) -> bool:
    """Whether ``tree`` has an S_INTERSECTS term (DuckDB tests it exactly in Python)."""
    kind = tree[0]
    if kind == "intersects":
        return True
    if kind in ("and", "or"):
        return any(necessary(n) for n in tree[1])
    return kind == "not" and necessary(tree[1])


def render(tree: tuple, dialect: Dialect) -> tuple[str, list]:
    """``tree`` as an SQL condition with ``{}`` for each bound value, and the values."""
    values: list = []

    def prop(what: str, name: str) -> str:
        sql, bound = getattr(dialect, what)(name)
        values.extend(bound)
        return sql

    def guarded(name: str, cls: str, body: str, body_values: list, mismatch: str) -> str:
        """CASE: unknown for a null, ``body`` for a value of class ``cls``, else ``mismatch``.
        ``body`` holds ``@`` where the typed property goes."""
        k1 = prop("kind", name)
        k2 = prop("kind", name)
        typed = prop("text" if cls == "s" else "number", name)
        values.extend(body_values)
        return (
            f"(CASE WHEN {k1} IS NULL THEN NULL WHEN {k2} = '{cls}' "
            f"THEN ({body.replace('@', typed)}) ELSE {mismatch} END)"
        )

    def walk(node: tuple, positive: bool) -> str:
        kind = node[0]
        if kind == "bool":
            return "TRUE" if node[1] else "FALSE"
        if kind in ("and", "or"):
            if not node[1]:
                return "TRUE" if kind == "and" else "FALSE"
            return "(" + f" {kind.upper()} ".join(walk(n, positive) for n in node[1]) + ")"
        if kind == "not":
            return f"(NOT {walk(node[1], not positive)})"
        if kind == "isnull":
            return f"({prop('kind', node[1])} IS NULL)"
        if kind == "cmp":
            op, name, lit = node[1], node[2], node[3]
            if op not in _OPS:
                raise ValueError(f"unknown comparison {op!r}")
            cls = _class(lit)
            return guarded(name, cls, f"@ {op} {{}}", [_bound(lit)], "NULL")
        if kind == "in":
            name, lits = node[1], node[2]
            if not lits:
                return f"(CASE WHEN {prop('kind', name)} IS NULL THEN NULL ELSE FALSE END)"
            classes = {_class(v) for v in lits}
            if len(classes) > 1:
                raise ValueError("IN with values of more than one type")
            marks = ", ".join("{}" for _ in lits)
            return guarded(
                name, classes.pop(), f"@ IN ({marks})", [_bound(v) for v in lits], "FALSE"
            )
        if kind == "like":
            body = "@ LIKE {} ESCAPE '\\'"
            return guarded(node[1], "s", body, [like_pattern(node[2])], "NULL")
        if kind == "between":
            name, lo, hi = node[1], node[2], node[3]
            cls = _class(lo)
            if _class(hi) != cls:
                raise ValueError("BETWEEN with bounds of two types")
            return guarded(name, cls, "@ BETWEEN {} AND {}", [_bound(lo), _bound(hi)], "NULL")
        if kind == "intersects":
            geom = node[1]
            if dialect.postgis:
                values.append(shapely.to_wkb(geom))
                return "COALESCE(ST_Intersects(geom, ST_GeomFromWKB({}, 4326)), FALSE)"
            if not positive:
                return "FALSE"
            values.extend(overlap_values(geom))
            return OVERLAP
        raise ValueError(f"unknown filter node {kind!r}")

    return walk(tree, True), values


#: the bounding box of a row overlaps a box given as (min_x, max_x, min_y, max_y)
OVERLAP = "(max_x >= {} AND min_x <= {} AND max_y >= {} AND min_y <= {})"


def overlap_values(geom) -> list[float]:
    """The bound values of :data:`OVERLAP` for the bounds of ``geom``."""
    min_x, min_y, max_x, max_y = (float(v) for v in geom.bounds)
    return [min_x, max_x, min_y, max_y]
