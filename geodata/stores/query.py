"""What an incident read selects (:class:`IncidentQuery`) and its SQL conditions
(:func:`attribute_filters`), shared by both stores so that they filter alike."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc

from ..model import INCIDENT_SCHEMA

if TYPE_CHECKING:
    from shapely.geometry.base import BaseGeometry

INCIDENT_COLUMNS = tuple(INCIDENT_SCHEMA.names)
#: most distinct texts a column may hold to come as a dictionary (``dictionary=True``)
DICTIONARY_MAX = 256
#: what :meth:`~geodata.stores.base.Store.incident_spans` returns, one row per batch,
#: source and category (times and lon/lat bounds)
SPANS_SCHEMA = pa.schema(
    [("batch_id", pa.string()), ("source", pa.string()), ("category", pa.string()),
     ("first", pa.timestamp("us")), ("last", pa.timestamp("us")), ("n", pa.int64()),
     ("west", pa.float64()), ("south", pa.float64()), ("east", pa.float64()),
     ("north", pa.float64())]
)  # fmt: skip
#: the query behind it, on both stores: ``{}`` is the WHERE clause (or nothing)
SPANS_SQL = (
    "SELECT batch_id, source, category, min(occurred_at) AS first, max(occurred_at) AS last, "
    "count(*) AS n, min(lon) AS west, min(lat) AS south, max(lon) AS east, max(lat) AS north "
    "FROM incidents{} GROUP BY batch_id, source, category "
    "ORDER BY batch_id, source, category"
)


@dataclass(frozen=True)
class IncidentQuery:
    """A selection of incidents; every part is optional and they combine with AND.

    Parameters
    ----------
    bbox : (xmin, ymin, xmax, ymax), in the analysis CRS (metres) unless
        ``bbox_lonlat`` is true, then WGS84 degrees.
    area : (kind, code) of a stored boundary, e.g. ("ward", "E05000284"); the
        incidents inside that polygon.
    within : a polygon in the analysis CRS.
    categories : taxonomy slugs.
    start, end : ``start <= occurred_at < end``.
    sources, batch_ids : restrict to these.
    include_sensitive : False drops sensitive incidents (for roles below analyst).
    columns : subset of incident columns to return (default all).
    limit, offset : paging, in ``id`` order.
    after_id : keyset paging: only incidents whose ``id`` sorts after this one (byte
        order), so a page boundary stays put when other batches are imported.
    ids : only the incidents with these ids (stored ids; an empty list: none).
    condition : ``(template, values)``: an SQL condition (code's text), ``{}`` per bound value.
    dictionary : text columns with at most :data:`DICTIONARY_MAX` distinct values in the
        selection (category, source, batch...) as Arrow dictionaries (pandas:
        categorical), their texts sorted; other columns as they are.
    """

    bbox: tuple[float, float, float, float] | None = None
    bbox_lonlat: bool = False
    area: tuple[str, str] | None = None
    within: BaseGeometry | None = None
    categories: Sequence[str] | None = None
    start: datetime | None = None
    end: datetime | None = None
    sources: Sequence[str] | None = None
    batch_ids: Sequence[str] | None = None
    include_sensitive: bool = True
    columns: Sequence[str] | None = None
    limit: int | None = None
    offset: int = 0
    after_id: str | None = None
    ids: Sequence[str] | None = None
    condition: tuple[str, tuple] | None = None
    dictionary: bool = False

    def selected_columns(self) -> list[str]:
        cols = list(self.columns) if self.columns else list(INCIDENT_COLUMNS)
        unknown = [c for c in cols if c not in INCIDENT_COLUMNS]
        if unknown:
            raise ValueError(
                f"unknown incident column(s) {unknown}; expected some of {list(INCIDENT_COLUMNS)}"
            )
        return cols


def attribute_filters(q: IncidentQuery, ph: Callable[[object], str]) -> tuple[list[str], list]:
    """SQL conditions (non-spatial) for ``q``; ``ph(value)`` returns a placeholder.

    Both stores use it, each with its own placeholder style, so the two apply
    exactly the same filters.
    """
    where: list[str] = []
    params: list = []

    def add(sql: str, *values: object) -> None:
        where.append(sql.format(*[ph(v) for v in values]))
        params.extend(values)

    def one_of(column: str, values: list) -> None:  # none of an empty list
        if values:
            add(f"{column} IN (" + ", ".join("{}" for _ in values) + ")", *values)
        else:
            where.append("FALSE")

    if q.categories is not None:
        one_of("category", list(q.categories))
    if q.start is not None:
        add("occurred_at >= {}", q.start)
    if q.end is not None:
        add("occurred_at < {}", q.end)
    if q.sources is not None:
        one_of("source", list(q.sources) or [""])
    if q.batch_ids is not None:
        one_of("batch_id", list(q.batch_ids) or [""])
    if not q.include_sensitive:
        where.append("NOT sensitive")
    if q.after_id is not None:
        add("id > {}", q.after_id)
    if q.ids is not None:
        one_of("id", list(q.ids))
    if q.condition is not None:
        add(f"({q.condition[0]})", *q.condition[1])
    if q.bbox is not None:
        xmin, ymin, xmax, ymax = map(float, q.bbox)
        if xmin > xmax or ymin > ymax:
            raise ValueError(f"bbox must be (xmin, ymin, xmax, ymax); got {q.bbox}")
        cx, cy = ("lon", "lat") if q.bbox_lonlat else ("x", "y")
        add(
            f"{cx} >= {{}} AND {cx} <= {{}} AND {cy} >= {{}} AND {cy} <= {{}}",
            xmin,
            xmax,
            ymin,
            ymax,
        )
    return where, params


def texts_encoded(table: pa.Table, dictionary: bool = True) -> pa.Table:
    """``table`` with its text columns of few distinct values as dictionaries (texts
    sorted) when ``dictionary``."""
    if not dictionary:
        return table
    for i, field in enumerate(table.schema):
        col = table.column(i)
        if pa.types.is_string(field.type) and pc.count_distinct(col).as_py() <= DICTIONARY_MAX:
            values = pc.unique(col).drop_null().sort()
            codes = pc.index_in(col, value_set=values).cast(pa.int32())
            table = table.set_column(
                i, field.name, pa.DictionaryArray.from_arrays(codes.combine_chunks(), values)
            )
    return table


def incident_schema(table: pa.Table) -> pa.Schema:
    """The incident schema's types for ``table``'s columns, dictionaries kept as such."""
    keep = pa.types.is_dictionary
    return pa.schema([f if keep(f.type) else INCIDENT_SCHEMA.field(f.name) for f in table.schema])
