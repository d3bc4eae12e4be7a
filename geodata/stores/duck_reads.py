"""Incident reads from the DuckDB file: rows in ``id`` order without sorting wide rows.

``ORDER BY id`` over every selected column makes DuckDB materialise and sort the
whole result: at 5M incidents and the analysis's 11 columns that took 4.6 s and
1.2 GB above the result itself (2.2 GB peak for a 0.7 GB table). A large read
(:func:`select_rows`) instead reads, in one snapshot, the ``id`` column, sorts it in
Arrow (byte order, as ``ORDER BY id``: 0.6 s at 5M), then each selected column
alone in the same scan order and puts it in that order: one column held twice at
most. ``dictionary=True`` returns text columns as Arrow dictionaries (codes and the
distinct texts) when they hold few distinct values (category, source, batch, ...).

Small reads (under :data:`WIDE_SORT_ROWS`) and paged reads (``limit``/``offset``:
DuckDB's top-N holds n rows) keep ``ORDER BY id``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import shapely

from ..model import INCIDENT_SCHEMA
from .query import (
    DICTIONARY_MAX,
    SPANS_SCHEMA,
    SPANS_SQL,
    IncidentQuery,
    attribute_filters,
    texts_encoded,
)

#: below this many rows one ``ORDER BY id`` query is cheaper than a query per column
WIDE_SORT_ROWS = 200_000


def select_rows(con: duckdb.DuckDBPyConnection, q: IncidentQuery, columns: list[str],
                box: tuple[float, float, float, float] | None,
                dictionary: bool = False) -> pa.Table:  # fmt: skip
    """``columns`` of the incidents ``q`` selects (bounding ``box`` of a polygon added
    as a condition), ordered by ``id``; paging applied here only when there is no box."""
    where, params = attribute_filters(q, lambda v: "?")
    if box is not None:
        where.append("x >= ? AND x <= ? AND y >= ? AND y <= ?")
        params += [box[0], box[2], box[1], box[3]]
    cond = (" WHERE " + " AND ".join(where)) if where else ""
    wide = f"SELECT {', '.join(columns)} FROM incidents{cond} ORDER BY id"
    if box is None and (q.limit is not None or q.offset):
        if q.limit is not None:
            wide += f" LIMIT {int(q.limit)}"
        if q.offset:
            wide += f" OFFSET {int(q.offset)}"
        return texts_encoded(con.sql(wide, params=params).to_arrow_table(), dictionary)
    with snapshot(con):  # every query below sees the same rows, in the same scan order
        ids = con.sql(f"SELECT id FROM incidents{cond}", params=params).to_arrow_table()
        if ids.num_rows < WIDE_SORT_ROWS:
            return texts_encoded(con.sql(wide, params=params).to_arrow_table(), dictionary)
        ids = ids.column(0)
        order = pc.sort_indices(ids)  # byte order, as ORDER BY id
        if "id" not in columns:
            del ids
        out = []
        for name in columns:
            expr = enum_of(con, name, cond, params) if dictionary else name
            col = ids if name == "id" else con.sql(
                f"SELECT {expr} FROM incidents{cond}", params=params
            ).to_arrow_table().column(0)  # fmt: skip
            out.append(ordered(col, order))
            del col
    return pa.table(out, names=columns)


def select_within(con: duckdb.DuckDBPyConnection, q: IncidentQuery, columns: list[str],
                  poly) -> pa.Table:  # fmt: skip
    """:func:`select_rows` inside the shapely polygon ``poly`` (analysis CRS), if any: its
    bounding box in SQL, then the exact test on ``x``/``y``; paged here."""
    if poly is None:
        return select_rows(con, q, columns, None, q.dictionary)
    cols = list(dict.fromkeys([*columns, "x", "y"]))
    table = select_rows(con, q, cols, poly.bounds, q.dictionary)
    x = table.column("x").to_numpy()
    y = table.column("y").to_numpy()
    mask = shapely.intersects_xy(poly, x, y) if len(x) else np.zeros(0, bool)
    table = table.filter(pa.array(mask)).select(columns)
    return table.slice(q.offset, q.limit)  # limit None: to the end; 0: no rows


def enum_of(con: duckdb.DuckDBPyConnection, name: str, cond: str, params: list) -> str:
    """``name`` cast to an ENUM of its distinct texts, sorted, when it is a text column
    with at most :data:`~geodata.stores.query.DICTIONARY_MAX` of them in the selection
    (DuckDB returns an ENUM as an Arrow dictionary: codes, no text per row); else
    ``name``. Values go in as SQL literals, quotes doubled."""
    if INCIDENT_SCHEMA.field(name).type != pa.string():
        return name
    sql = f"SELECT DISTINCT {name} FROM incidents{cond} LIMIT {DICTIONARY_MAX + 2}"
    values = [v for (v,) in con.sql(sql, params=params).fetchall() if v is not None]
    if len(values) > DICTIONARY_MAX or not values or any("\x00" in v for v in values):
        return name
    literals = ", ".join("'" + v.replace("'", "''") + "'" for v in sorted(values))
    return f"CAST({name} AS ENUM({literals})) AS {name}"


@contextlib.contextmanager
def snapshot(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """A read transaction, or the caller's own when one is open (``BEGIN`` inside a
    transaction would abort it: one is open when two statements share a ``txid``)."""
    txid = "SELECT txid_current()"
    if con.execute(txid).fetchall() == con.execute(txid).fetchall():
        yield
        return
    con.begin()
    try:
        yield
    finally:
        con.rollback()  # nothing was written


def ordered(col: pa.ChunkedArray, order: pa.Array) -> pa.Array:
    """``col`` taken in ``order``."""
    if col.null_count == 0 and (pa.types.is_floating(col.type) or pa.types.is_integer(col.type)
                                or pa.types.is_timestamp(col.type)):  # fmt: skip
        values = col.to_numpy()  # a NumPy gather is 3-5x Arrow's take on chunked arrays
        return pa.array(values[order.to_numpy()], type=col.type)
    return col.combine_chunks().take(order)


def incident_spans(con: duckdb.DuckDBPyConnection, include_sensitive: bool) -> pa.Table:
    """Per batch, source and category: the first and last ``occurred_at`` and the
    count (what :mod:`geodata.coverage` needs, aggregated in the store)."""
    where, params = attribute_filters(IncidentQuery(include_sensitive=include_sensitive),
                                      lambda v: "?")  # fmt: skip
    cond = (" WHERE " + " AND ".join(where)) if where else ""
    sql = SPANS_SQL.format(cond)
    return con.sql(sql, params=params).to_arrow_table().cast(SPANS_SCHEMA)
