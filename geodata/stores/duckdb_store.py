"""The embedded store: one DuckDB file, no server.

Points are kept as ``x``/``y`` (analysis CRS) and ``lon``/``lat`` columns; no
DuckDB extension is needed (the spatial extension would have to be downloaded
at run time, which partnership networks often block). Spatial filters run as a
bounding-box condition in SQL followed by an exact polygon test with shapely.

A DuckDB file takes one writing process at a time; a second one gets
:class:`~geodata.errors.StoreUnavailable` naming the file.

The service records are :mod:`geodata.stores.service_records`' (JSON as text, times
as naive UTC). Each service write uses a cursor of its own, so it has its own
transaction: a job's progress can be written from inside :meth:`DuckDBStore.apply`'s
progress callback, or from another thread, without joining the import's transaction.
A read of one statement uses the thread's cursor, with no transaction of ours.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import pyarrow as pa
import shapely

from ..errors import ConfigurationError, StoreError, StoreUnavailable
from ..model import (
    INCIDENT_SCHEMA,
    QUARANTINE_SCHEMA,
    BatchInfo,
)
from .base import (
    WRITE_CHUNK_ROWS,
    IncidentQuery,
    Progress,
    Store,
    attribute_filters,
    batch_from_row,
    check_kind,
    dump_json,
)
from .duck_reads import incident_spans, select_within
from .duck_schema import SCHEMA_STEPS, SCHEMA_VERSION
from .key_cache import KeyCache
from .point_cache import PointCache
from .query import incident_schema
from .run_rows import RunRows
from .service_records import ServiceRecords
from .write_mark import writes_incidents

if TYPE_CHECKING:  # pandas and geopandas load only when a frame is asked for
    import geopandas as gpd
    import pandas as pd

    from ..validate import ValidatedBatch


class DuckDBStore(ServiceRecords, Store):
    """Store in a DuckDB file (``":memory:"`` for a throwaway one).

    Parameters
    ----------
    path : the database file; its folder is created if missing.
    analysis_crs : CRS of ``x``/``y``; a file made with another CRS is refused.
    read_only : open without taking the write lock.
    memory_rows : answer incident reads from a copy in memory while the file holds at
        most this many incidents (0: never; the server's setting:
        :mod:`geodata.stores.point_cache`).
    """

    def __init__(
        self,
        path: str | Path,
        analysis_crs: str = "EPSG:27700",
        read_only: bool = False,
        memory_rows: int = 0,
    ) -> None:
        self.path = str(path)
        self.analysis_crs = analysis_crs
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        try:
            self._root = duckdb.connect(self.path, read_only=read_only)
        except duckdb.IOException as exc:
            raise StoreUnavailable(
                f"cannot open the DuckDB file {self.path}: {exc}. Is another hotspots "
                "process (a server or an import) using it?"
            ) from exc
        self._owner = threading.get_ident()
        self._local = threading.local()
        self._cursors: list[duckdb.DuckDBPyConnection] = []
        self._cursors_lock = threading.Lock()
        self._closed = False
        self.run_rows = RunRows(self, postgis=False)  #: run features as rows
        self._keys = KeyCache.of_file(self.path)
        self._points, self._memory_rows = PointCache.of_file(self.path), memory_rows
        self._write_mark = self._points  # writes of the file's incidents, counted per file
        self._check_crs()  # before upgrading: never relabel a file made with another CRS
        if not read_only:
            self.upgrade()

    @property
    def con(self) -> duckdb.DuckDBPyConnection:
        """This thread's connection: the one opened in the owning thread, a cursor elsewhere.

        A DuckDB connection must not be used by two threads at once; the API serves
        requests from a thread pool, so every other thread gets a cursor of its own
        (a connection to the same database, sharing its data and lock).
        """
        if self._closed:  # a thread's cursor would fail with DuckDB's own error
            raise StoreUnavailable(f"the DuckDB file {self.path} is closed")
        if threading.get_ident() == self._owner:
            return self._root
        cur = getattr(self._local, "con", None)
        if cur is None:
            try:
                cur = self._root.cursor()
            except duckdb.Error as exc:
                raise StoreUnavailable(f"the DuckDB file {self.path} is closed") from exc
            self._local.con = cur
            with self._cursors_lock:
                self._cursors.append(cur)
        return cur

    def _run(self, query: str, params: list | None = None) -> list[tuple]:
        """Execute and consume the whole result (DuckDB wants results finished)."""
        return self.con.execute(query, params or []).fetchall()

    def _one(self, query: str, params: list | None = None) -> tuple | None:
        rows = self._run(query, params)
        return rows[0] if rows else None

    # -- schema --------------------------------------------------------------
    def _version(self) -> int:
        exists = self._one(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'meta'"
        )
        if not exists or not exists[0]:
            return 0
        row = self._one("SELECT value FROM meta WHERE key = 'schema_version'")
        return int(row[0]) if row else 0

    @writes_incidents
    def upgrade(self) -> list[str]:
        version = self._version()
        if version >= SCHEMA_VERSION:
            return []
        ran: list[str] = []
        self.con.begin()
        try:
            for step in range(version + 1, SCHEMA_VERSION + 1):
                for stmt in SCHEMA_STEPS[step]:
                    self._run(stmt)
                ran.append(f"duckdb schema v{step}")
            self._run(
                "INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", [str(SCHEMA_VERSION)]
            )
            self._run(  # a new file takes the configured CRS; an upgraded one keeps its own
                "INSERT OR IGNORE INTO meta VALUES ('analysis_crs', ?)", [self.analysis_crs]
            )
            self.con.commit()
        except Exception:
            self.con.rollback()
            raise
        return ran

    def schema_status(self) -> dict[str, object]:
        version = self._version()
        return {
            "current": version == SCHEMA_VERSION,
            "applied": [f"duckdb schema v{v}" for v in range(1, version + 1)],
            "pending": [f"duckdb schema v{v}" for v in range(version + 1, SCHEMA_VERSION + 1)],
        }

    def _check_crs(self) -> None:
        if self._version() == 0:
            return
        row = self._one("SELECT value FROM meta WHERE key = 'analysis_crs'")
        if row and row[0] != self.analysis_crs:
            raise ConfigurationError(
                f"the store {self.path} holds coordinates in {row[0]} but the analysis CRS is "
                f"set to {self.analysis_crs}; use a new store file or set "
                f"HOTSPOTS_ANALYSIS_CRS={row[0]}"
            )

    # -- batches -------------------------------------------------------------
    def batch_hashes(self, batch_ids: Sequence[str]) -> dict[str, str]:
        ids = list(batch_ids)
        if not ids:
            return {}
        rows = self._run(
            "SELECT batch_id, content_hash FROM batches WHERE list_contains(?, batch_id)", [ids]
        )
        return dict(rows)

    @writes_incidents
    def apply(self, batches: Iterable[ValidatedBatch], progress: Progress | None = None) -> None:
        total = done = 0
        con = self.con
        con.begin()
        try:
            for batch in batches:
                bid = batch.info.batch_id
                total += batch.incidents.num_rows
                if batch.report.status != "created":  # a new batch has nothing to delete
                    for table in ("incidents", "quarantine", "batches"):
                        self._run(f"DELETE FROM {table} WHERE batch_id = ?", [bid])
                incidents = batch.incidents
                for start in range(0, max(incidents.num_rows, 1), WRITE_CHUNK_ROWS):
                    chunk = incidents.slice(start, WRITE_CHUNK_ROWS)
                    if chunk.num_rows:
                        con.register("_chunk", chunk)
                        self._run(
                            f"INSERT INTO incidents ({', '.join(INCIDENT_SCHEMA.names)}) "
                            "SELECT * FROM _chunk"
                        )
                        con.unregister("_chunk")
                    done += chunk.num_rows
                    if progress:
                        progress(done, total)
                if batch.quarantine.num_rows:
                    con.register("_q", batch.quarantine)
                    self._run(
                        f"INSERT INTO quarantine ({', '.join(QUARANTINE_SCHEMA.names)}) "
                        "SELECT * FROM _q"
                    )
                    con.unregister("_q")
                info = batch.info
                self._run(
                    "INSERT INTO batches VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        bid,
                        info.source,
                        info.period,
                        info.content_hash,
                        json.dumps(info.files),
                        info.rows_read,
                        info.rows_accepted,
                        info.rows_rejected,
                        info.imported_at or datetime.now(),
                        info.crs,
                    ],
                )
            con.commit()
        except duckdb.Error as exc:
            con.rollback()
            raise StoreError(f"the import was rolled back; nothing was changed ({exc})") from exc
        except BaseException:
            con.rollback()
            raise

    def list_batches(self) -> list[BatchInfo]:
        rows = self.con.sql("SELECT * FROM batches ORDER BY source, period").to_arrow_table()
        return [batch_from_row(r) for r in rows.to_pylist()]

    @writes_incidents
    def delete_batch(self, batch_id: str) -> bool:
        self.con.begin()
        try:
            found = self._one("SELECT count(*) FROM batches WHERE batch_id = ?", [batch_id])
            for table in ("incidents", "quarantine", "batches"):
                self._run(f"DELETE FROM {table} WHERE batch_id = ?", [batch_id])
            self.con.commit()
        except BaseException:
            self.con.rollback()
            raise
        return bool(found and found[0])

    # -- reads ---------------------------------------------------------------
    def _polygon(self, q: IncidentQuery):
        poly = q.within
        if q.area is not None:
            area = self.area_polygon(*q.area)
            poly = area if poly is None else poly.intersection(area)
        return poly

    def _select(self, q: IncidentQuery, columns: list[str]) -> pa.Table:
        held = self._points.select(self.con, q, columns, self._memory_rows)
        return held if held is not None else select_within(self.con, q, columns, self._polygon(q))

    def query_incidents(self, query: IncidentQuery | None = None) -> pa.Table:
        q = query or IncidentQuery()
        table = self._select(q, q.selected_columns())
        return table.cast(incident_schema(table))

    def incident_spans(self, include_sensitive: bool = True) -> pa.Table:
        return incident_spans(self.con, include_sensitive)

    def count_incidents(self, query: IncidentQuery | None = None) -> int:
        q = query or IncidentQuery()
        held = self._points.count(self.con, q, self._memory_rows)
        if held is not None:
            return held
        if self._polygon(q) is not None:
            unpaged = IncidentQuery(**{**q.__dict__, "limit": None, "offset": 0})
            return self._select(unpaged, ["id"]).num_rows
        where, params = attribute_filters(q, lambda v: "?")
        sql = "SELECT count(*) FROM incidents" + (" WHERE " + " AND ".join(where) if where else "")
        row = self._one(sql, params)
        return int(row[0]) if row else 0

    def read_quarantine(
        self,
        batch_id: str | None = None,
        reason: str | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> pa.Table:
        where, params = [], []
        if batch_id is not None:
            where.append("batch_id = ?")
            params.append(batch_id)
        if reason is not None:
            where.append("reason = ?")
            params.append(reason)
        sql = "SELECT * FROM quarantine"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY batch_id, file, row_number"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        if offset:
            sql += f" OFFSET {int(offset)}"
        return self.con.sql(sql, params=params).to_arrow_table().cast(QUARANTINE_SCHEMA)

    # -- areas ---------------------------------------------------------------
    def replace_boundaries(self, kind: str, areas: gpd.GeoDataFrame) -> int:
        import pandas as pd

        check_kind(kind)
        geoms = areas.geometry.to_numpy()
        geoms = [shapely.MultiPolygon([g]) if g.geom_type == "Polygon" else g for g in geoms]
        bounds = shapely.bounds(geoms)
        frame = pd.DataFrame(
            {
                "kind": kind,
                "code": areas["code"].astype(str).to_numpy(),
                "name": areas["name"].astype(str).to_numpy() if "name" in areas else None,
                "geom_wkb": shapely.to_wkb(geoms),
                "xmin": bounds[:, 0],
                "ymin": bounds[:, 1],
                "xmax": bounds[:, 2],
                "ymax": bounds[:, 3],
            }
        )
        self.con.begin()
        try:
            self._run("DELETE FROM boundaries WHERE kind = ?", [kind])
            self.con.register("_b", pa.Table.from_pandas(frame, preserve_index=False))
            self._run("INSERT INTO boundaries SELECT * FROM _b")
            self.con.unregister("_b")
            self.con.commit()
        except BaseException:
            self.con.rollback()
            raise
        return len(frame)

    def boundaries(self, kind: str | None = None) -> gpd.GeoDataFrame:
        import geopandas as gpd

        sql = "SELECT kind, code, name, geom_wkb FROM boundaries"
        params: list = []
        if kind is not None:
            sql += " WHERE kind = ?"
            params.append(check_kind(kind))
        frame = self.con.sql(sql + " ORDER BY kind, code", params=params).to_arrow_table()
        frame = frame.to_pandas()
        frame["name"] = frame["name"].astype(object).where(frame["name"].notna(), None)
        geometry = shapely.from_wkb(frame.pop("geom_wkb").to_numpy())
        return gpd.GeoDataFrame(frame, geometry=geometry, crs=self.analysis_crs)

    def replace_population(self, kind: str, table: pd.DataFrame) -> int:
        import pandas as pd

        check_kind(kind)
        frame = pd.DataFrame(
            {
                "kind": kind,
                "area_code": table["area_code"].astype(str).to_numpy(),
                "year": table["year"].astype("int64").to_numpy(),
                "population": table["population"].astype(float).to_numpy(),
            }
        )
        self.con.begin()
        try:
            self._run("DELETE FROM population WHERE kind = ?", [kind])
            self.con.register("_p", pa.Table.from_pandas(frame, preserve_index=False))
            self._run("INSERT INTO population SELECT * FROM _p")
            self.con.unregister("_p")
            self.con.commit()
        except BaseException:
            self.con.rollback()
            raise
        return len(frame)

    def population(self, kind: str | None = None) -> pd.DataFrame:
        sql = "SELECT kind, area_code, year, population FROM population"
        params: list = []
        if kind is not None:
            sql += " WHERE kind = ?"
            params.append(check_kind(kind))
        sql += " ORDER BY kind, area_code, year"
        return self.con.sql(sql, params=params).to_arrow_table().to_pandas()

    # -- service records (geodata.stores.service_records): this store's dialect -----------
    ERRORS = ((duckdb.CatalogException,), (duckdb.ConstraintException,), (), duckdb.Error)

    @property
    def where(self) -> str:  # type: ignore[override]
        return f"the store {self.path}"

    @contextmanager
    def _transaction(self, action: str) -> Iterator[duckdb.DuckDBPyConnection]:
        """A cursor of its own (its own transaction), committed on success."""
        try:
            cur = self.con.cursor()
        except duckdb.Error as exc:
            raise StoreUnavailable(f"{action}: the DuckDB file {self.path} is closed") from exc
        try:
            cur.begin()
            try:
                yield cur
            except BaseException:
                with contextlib.suppress(duckdb.Error):
                    cur.rollback()
                raise
            cur.commit()
        finally:
            cur.close()

    def _key_cache(self) -> KeyCache:  # every writer of the file is in this process
        return self._keys

    def _statement(self, action: str) -> contextlib.nullcontext:
        """This thread's cursor (:attr:`con`), whose statements commit on their own."""
        return contextlib.nullcontext(self.con)

    def _to_json(self, value: object, what: str) -> str:
        return dump_json(value, what)

    def _from_json(self, value: object) -> object:
        return json.loads(value)  # type: ignore[arg-type]

    @staticmethod
    def _changed(cur, result) -> int:
        row = result.fetchone()  # DuckDB answers a change with its row count
        return int(row[0]) if row else 0

    def close(self) -> None:
        self._closed = True
        with self._cursors_lock:
            for cur in self._cursors:
                with contextlib.suppress(duckdb.Error):
                    cur.close()
            self._cursors.clear()
        self._root.close()
