"""Incident reads of the embedded store's server answered from memory (:class:`PointCache`).

DuckDB has no index for a street-sized box or for one id: it scans the table. At 100k
incidents a 100-row page in a box took 3.0 ms (the columns of every row group it
touches), its count 0.8 ms, one incident by id 3.6 ms, growing with the table, where
PostGIS answers from its GIST and B-tree indexes; at 50 GIS clients that was two thirds
of the server's time. The server of a DuckDB file (the only process that writes the file
while it holds it) therefore keeps a copy of the columns that map, GIS and API reads ask
for (:data:`HELD`) of every incident, in ``id`` order, with the rows also ordered by
``lat`` and by ``y``: a page in a box is a binary search for the box's band of
latitudes, a mask over that band and a gather of the page's rows.

- **Always current.** Every write of incidents by a store object of the file
  (:meth:`~geodata.stores.duckdb_store.DuckDBStore.apply`, ``delete_batch``,
  ``upgrade``: :func:`~.write_mark.writes_incidents`) runs inside
  :meth:`PointCache.writing` (the file's :class:`~.write_mark.WriteMark`): while one
  runs, reads go to SQL (which sees what is committed), and a copy begun before it is
  never kept. The first read after a change makes a new copy in one read of the file.
- **The same answers.** A query is answered here only when every part of it can be (no
  SQL condition, polygon or area, no dictionaries, naive datetimes, finite boxes, its
  columns among :data:`HELD`); it is first checked by
  :func:`~geodata.stores.query.attribute_filters`, so a bad one fails alike, and the
  conditions are that function's, NULLs included (the store contract suite runs on a
  store reading from here, and a property test compares both for random queries).
- **Bounded.** Only a store opened with ``memory_rows`` (the server:
  ``HOTSPOTS_POINT_CACHE_ROWS``, default 1,000,000; about 260 bytes an incident, made
  in about 0.11 s per 100k) reads from here, and only while the table holds at most
  that many incidents; one-off commands never make a copy.
"""

from __future__ import annotations

import bisect
import math
import threading
from collections.abc import Sequence
from datetime import datetime, timedelta

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .duck_reads import select_rows, snapshot
from .per_file import PerFile
from .query import IncidentQuery, attribute_filters
from .write_mark import WriteMark

#: the incident columns held in memory
HELD = (
    "id", "batch_id", "source", "category", "occurred_at", "occurred_precision", "lon", "lat",
    "x", "y", "location", "lsoa_code", "ward_code", "sensitive",
)  # fmt: skip
_EPOCH = datetime(1970, 1, 1)
_US = timedelta(microseconds=1)


class _Texts(Sequence):
    """An Arrow text array as a sequence of ``str`` for :mod:`bisect` (no copy)."""

    def __init__(self, array: pa.Array) -> None:
        self._array = array

    def __len__(self) -> int:
        return len(self._array)

    def __getitem__(self, i):  # type: ignore[override]
        return self._array[i].as_py()


class _Codes:
    """A text column as integer codes (-1: NULL) and the code of each text."""

    def __init__(self, column: pa.Array) -> None:
        encoded = pc.dictionary_encode(column)
        self.codes = encoded.indices.fill_null(-1).to_numpy().astype(np.int32)
        self.of = {v: i for i, v in enumerate(encoded.dictionary.to_pylist())}

    def isin(self, rows: np.ndarray, values: list[str]) -> np.ndarray:
        wanted = [self.of[v] for v in values if v in self.of]
        return np.isin(self.codes[rows], wanted)


def _column(table: pa.Table, name: str) -> pa.Array:
    return table.column(name).combine_chunks()


def _floats(table: pa.Table, name: str) -> np.ndarray:
    values = _column(table, name).to_numpy(zero_copy_only=False)  # NULL: NaN
    return values.astype(np.float64, copy=False)


class Copy:
    """The held columns of every incident, in ``id`` order, and what selection needs."""

    def __init__(self, table: pa.Table) -> None:
        self.table = table = table.combine_chunks()  # each column read once below
        self.n = table.num_rows
        self.ids = _Texts(_column(table, "id"))
        self.lon, self.lat = _floats(table, "lon"), _floats(table, "lat")
        self.x, self.y = _floats(table, "x"), _floats(table, "y")
        self.by_lat = np.argsort(self.lat, kind="stable")
        self.lat_sorted = self.lat[self.by_lat]
        self.by_y = np.argsort(self.y, kind="stable")
        self.y_sorted = self.y[self.by_y]
        at = _column(table, "occurred_at").cast(pa.int64())  # microseconds since 1970
        self.at = at.fill_null(0).to_numpy(zero_copy_only=False)
        self.at_known = at.is_valid().to_numpy(zero_copy_only=False)
        sensitive = _column(table, "sensitive")
        self.public = pc.invert(sensitive).fill_null(False).to_numpy(zero_copy_only=False)
        self.texts = {c: _Codes(_column(table, c)) for c in ("category", "source", "batch_id")}

    def rows(self, q: IncidentQuery) -> np.ndarray:
        """Row numbers (ascending: ``id`` order) of the incidents ``q`` selects, unpaged."""
        first = 0 if q.after_id is None else bisect.bisect_right(self.ids, q.after_id)
        if q.ids is not None:
            wanted = set(q.ids)
            at = (bisect.bisect_left(self.ids, i) for i in wanted)
            found = {p for p in at if p < self.n and self.ids[p] in wanted}
            rows = np.array(sorted(found), dtype=np.int64)
            if q.bbox is not None:
                rows = rows[self._box(rows, q.bbox, q.bbox_lonlat)]
        elif q.bbox is not None:
            rows = self._in_box(q.bbox, q.bbox_lonlat)
        else:
            rows = np.arange(first, self.n)
        rows = rows[np.searchsorted(rows, first) :]
        keep = self._conditions(q, rows)
        return rows if keep is None else rows[keep]

    def _box(self, rows: np.ndarray, bbox, lonlat: bool) -> np.ndarray:
        """The mask of ``rows`` inside ``bbox`` (edges included)."""
        xmin, ymin, xmax, ymax = map(float, bbox)
        xs, ys = (self.lon, self.lat) if lonlat else (self.x, self.y)
        x, y = xs[rows], ys[rows]
        return (x >= xmin) & (x <= xmax) & (y >= ymin) & (y <= ymax)

    def _in_box(self, bbox, lonlat: bool) -> np.ndarray:
        """Rows inside ``bbox``: the band of its latitudes (or ``y``), then its width."""
        ymin, ymax = float(bbox[1]), float(bbox[3])
        order, ys = (self.by_lat, self.lat_sorted) if lonlat else (self.by_y, self.y_sorted)
        band = order[np.searchsorted(ys, ymin, "left") : np.searchsorted(ys, ymax, "right")]
        return np.sort(band[self._box(band, bbox, lonlat)])

    def _conditions(self, q: IncidentQuery, rows: np.ndarray) -> np.ndarray | None:
        """The mask of ``rows`` meeting ``q``'s attribute conditions (None: all do)."""
        masks = []
        if q.categories is not None:
            masks.append(self.texts["category"].isin(rows, list(q.categories)))
        if q.start is not None:
            masks.append(self.at_known[rows] & (self.at[rows] >= (q.start - _EPOCH) // _US))
        if q.end is not None:
            masks.append(self.at_known[rows] & (self.at[rows] < (q.end - _EPOCH) // _US))
        if q.sources is not None:
            masks.append(self.texts["source"].isin(rows, list(q.sources) or [""]))
        if q.batch_ids is not None:
            masks.append(self.texts["batch_id"].isin(rows, list(q.batch_ids) or [""]))
        if not q.include_sensitive:
            masks.append(self.public[rows])
        return np.logical_and.reduce(masks) if masks else None


def answerable(q: IncidentQuery, columns: Sequence[str]) -> bool:
    """Whether every part of ``q`` can be answered from memory exactly as SQL does."""
    if q.condition is not None or q.within is not None or q.area is not None or q.dictionary:
        return False
    if not set(columns) <= set(HELD) or q.offset < 0 or (q.limit is not None and q.limit < 0):
        return False
    texts = [q.after_id, *(q.ids or ()), *(q.categories or ()), *(q.sources or ()),
             *(q.batch_ids or ())]  # fmt: skip
    if any(t is not None and type(t) is not str for t in texts):
        return False  # SQL would cast them
    times = [t for t in (q.start, q.end) if t is not None]
    if any(type(t) is not datetime or t.tzinfo is not None for t in times):
        return False  # DuckDB compares dates and aware times its own way
    return q.bbox is None or all(math.isfinite(v) for v in map(float, q.bbox))


class PointCache(PerFile, WriteMark):
    """The copy of one DuckDB file's incidents (:meth:`of_file`); see the module's
    description."""

    def __init__(self) -> None:
        WriteMark.__init__(self)
        self._making = threading.Lock()  # one copy made at a time
        self._copy: Copy | int | None = None  # an int: the table's size, above a bound

    def _forget(self) -> None:
        self._copy = None

    def select(self, con, q: IncidentQuery, columns: list[str], most: int) -> pa.Table | None:
        """``columns`` of the incidents ``q`` selects, in ``id`` order and paged, or None
        when not answered here (then SQL answers)."""
        copy = self._usable(con, q, columns, most)
        if copy is None:
            return None
        rows = copy.rows(q)[q.offset :]
        if q.limit is not None:
            rows = rows[: q.limit]
        return copy.table.select(columns).take(pa.array(rows, pa.int64()))

    def count(self, con, q: IncidentQuery, most: int) -> int | None:
        """How many incidents ``q`` selects, or None when not answered here."""
        copy = self._usable(con, q, ["id"], most)
        return None if copy is None else len(copy.rows(q))

    def _usable(self, con, q: IncidentQuery, columns, most: int) -> Copy | None:
        if most <= 0:
            return None
        attribute_filters(q, lambda v: "?")  # a bad query fails as in SQL
        if not answerable(q, columns):
            return None
        with self._lock:
            if self._writers:
                return None
            version, copy = self._version, self._copy
        if copy is None or (isinstance(copy, int) and copy <= most):
            copy = self._make(con, version, most)
        return copy if isinstance(copy, Copy) and copy.n <= most else None

    def _make(self, con, version: int, most: int) -> Copy | int | None:
        with self._making:
            with self._lock:
                if self._writers or self._version != version:
                    return None  # changed meanwhile: SQL answers this one
                known = self._copy
                if isinstance(known, Copy) or (isinstance(known, int) and known > most):
                    return known
            made = _read(con, most)
            with self._lock:
                if self._writers or self._version != version:
                    return None
                self._copy = made
            return made


def _read(con: duckdb.DuckDBPyConnection, most: int) -> Copy | int:
    """A copy of the held columns, or the table's size when above ``most``."""
    with snapshot(con):
        (n,) = con.execute("SELECT count(*) FROM incidents").fetchone()
        if n > most:
            return int(n)
        return Copy(select_rows(con, IncidentQuery(), list(HELD), None))
