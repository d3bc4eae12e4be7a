"""The embedded store: one DuckDB file, no server.

Points are kept as ``x``/``y`` (analysis CRS) and ``lon``/``lat`` columns; no
DuckDB extension is needed (the spatial extension would have to be downloaded
at run time, which partnership networks often block). Spatial filters run as a
bounding-box condition in SQL followed by an exact polygon test with shapely.

A DuckDB file takes one writing process at a time; a second one gets
:class:`~geodata.errors.StoreUnavailable` naming the file.

The service records (runs, API keys, share links, jobs) are kept in tables
added by schema v2 (the interventions log by v3), with JSON as text and times
as naive UTC ``TIMESTAMP``.
Each service call uses a cursor of its own (a separate DuckDB connection to
the same database), so it has its own transaction: a job's progress can be
written from inside :meth:`DuckDBStore.apply`'s progress callback, or from
another thread, without joining the import's transaction.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import duckdb
import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import shapely

from ..errors import ConfigurationError, NotFound, StoreError, StoreUnavailable
from ..interventions import check_intervention
from ..model import (
    INCIDENT_SCHEMA,
    QUARANTINE_SCHEMA,
    ApiKeyRecord,
    BatchInfo,
    InterventionRecord,
    JobRecord,
    RunRecord,
    ShareLinkRecord,
)
from ..validate import ValidatedBatch
from .base import (
    WRITE_CHUNK_ROWS,
    IncidentQuery,
    Progress,
    Store,
    attribute_filters,
    batch_from_row,
    check_job_status,
    check_kind,
    check_progress,
    check_role,
    dump_json,
    job_changes,
    utc_naive,
)
from .run_rows import DUCKDB_DDL, RunRows

SCHEMA_VERSION = 5

_DUCK_TYPES = {
    pa.string(): "VARCHAR",
    pa.float64(): "DOUBLE",
    pa.int64(): "BIGINT",
    pa.bool_(): "BOOLEAN",
    pa.timestamp("us"): "TIMESTAMP",
}


def _table_ddl(name: str, schema: pa.Schema) -> str:
    cols = ", ".join(f"{f.name} {_DUCK_TYPES[f.type]}" for f in schema)
    return f"CREATE TABLE IF NOT EXISTS {name} ({cols})"


_SCHEMA_V1 = [
    "CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR)",
    """CREATE TABLE IF NOT EXISTS batches (
        batch_id VARCHAR PRIMARY KEY, source VARCHAR, period VARCHAR, content_hash VARCHAR,
        files VARCHAR, rows_read BIGINT, rows_accepted BIGINT, rows_rejected BIGINT,
        imported_at TIMESTAMP, crs VARCHAR)""",
    _table_ddl("incidents", INCIDENT_SCHEMA),
    _table_ddl("quarantine", QUARANTINE_SCHEMA),
    """CREATE TABLE IF NOT EXISTS boundaries (
        kind VARCHAR, code VARCHAR, name VARCHAR, geom_wkb BLOB,
        xmin DOUBLE, ymin DOUBLE, xmax DOUBLE, ymax DOUBLE, PRIMARY KEY (kind, code))""",
    """CREATE TABLE IF NOT EXISTS population (
        kind VARCHAR, area_code VARCHAR, year INTEGER, population DOUBLE,
        PRIMARY KEY (kind, area_code, year))""",
]

# v2: the web service's records. Additive only, so a v1 file upgrades in place.
# Times are naive UTC; JSON is text. Roles and statuses are also checked in code
# (base.check_role / check_job_status), which gives both stores the same error.
_ROLE_CHECK = "CHECK (role IN ('analyst', 'partner', 'public'))"
_SCHEMA_V2 = [
    """CREATE TABLE IF NOT EXISTS runs (
        run_id VARCHAR PRIMARY KEY, method VARCHAR NOT NULL, params VARCHAR NOT NULL,
        provenance VARCHAR NOT NULL, result VARCHAR NOT NULL, created_at TIMESTAMP NOT NULL)""",
    f"""CREATE TABLE IF NOT EXISTS api_keys (
        key_id VARCHAR PRIMARY KEY, name VARCHAR NOT NULL, role VARCHAR NOT NULL {_ROLE_CHECK},
        key_hash VARCHAR NOT NULL UNIQUE, created_at TIMESTAMP NOT NULL, revoked_at TIMESTAMP)""",
    f"""CREATE TABLE IF NOT EXISTS share_links (
        link_id VARCHAR PRIMARY KEY, run_id VARCHAR NOT NULL,
        role VARCHAR NOT NULL {_ROLE_CHECK}, filters VARCHAR NOT NULL,
        created_by VARCHAR NOT NULL, created_at TIMESTAMP NOT NULL,
        expires_at TIMESTAMP NOT NULL, revoked_at TIMESTAMP)""",
    "CREATE SEQUENCE IF NOT EXISTS share_opens_seq",
    """CREATE TABLE IF NOT EXISTS share_opens (
        seq BIGINT NOT NULL DEFAULT nextval('share_opens_seq'), link_id VARCHAR NOT NULL,
        opened_at TIMESTAMP NOT NULL, client VARCHAR)""",
    "CREATE INDEX IF NOT EXISTS share_opens_link ON share_opens (link_id)",
    """CREATE TABLE IF NOT EXISTS jobs (
        job_id VARCHAR PRIMARY KEY, kind VARCHAR NOT NULL,
        status VARCHAR NOT NULL CHECK (status IN ('queued', 'running', 'done', 'failed')),
        progress DOUBLE NOT NULL CHECK (progress >= 0 AND progress <= 1),
        message VARCHAR NOT NULL, result VARCHAR,
        created_at TIMESTAMP NOT NULL, updated_at TIMESTAMP NOT NULL)""",
]

# v3: the interventions log (days of action, CCTV, ...). Additive, like v2.
_SCHEMA_V3 = [
    """CREATE TABLE IF NOT EXISTS interventions (
        intervention_id VARCHAR PRIMARY KEY, title VARCHAR NOT NULL, kind VARCHAR NOT NULL,
        area_type VARCHAR NOT NULL, area_codes VARCHAR NOT NULL, geometry VARCHAR NOT NULL,
        start_date DATE NOT NULL, end_date DATE NOT NULL CHECK (end_date >= start_date),
        officer_hours DOUBLE CHECK (officer_hours >= 0), notes VARCHAR NOT NULL,
        created_at TIMESTAMP NOT NULL, created_by VARCHAR NOT NULL)""",
]

#: The DDL of each schema version, applied in order by :meth:`DuckDBStore.upgrade`.
# v4: run features as rows, one per feature of each disclosure view (run_rows).
# v5: each run's request key, indexed, so that an identical request finds its run.
SCHEMA_STEPS: dict[int, list[str]] = {
    1: _SCHEMA_V1,
    2: _SCHEMA_V2,
    3: _SCHEMA_V3,
    4: DUCKDB_DDL,
    5: [
        "CREATE TABLE run_keys (request_key VARCHAR PRIMARY KEY, run_id VARCHAR NOT NULL)",
        "INSERT INTO run_keys SELECT k, min(run_id) FROM (SELECT run_id, "
        "json_extract_string(params, '$.request_key') AS k FROM runs) WHERE k IS NOT NULL "
        "GROUP BY k",
    ],
}

_RUN_COLUMNS = "run_id, method, params, provenance, result, created_at"
_RUN_LISTED = "run_id, method, params, provenance, '{}' AS result, created_at"
_KEY_COLUMNS = "key_id, name, role, key_hash, created_at, revoked_at"
_LINK_COLUMNS = "link_id, run_id, role, filters, created_by, created_at, expires_at, revoked_at"
_JOB_COLUMNS = "job_id, kind, status, progress, message, result, created_at, updated_at"
_INTERVENTION_COLUMNS = (
    "intervention_id, title, kind, area_type, area_codes, geometry, start_date, end_date, "
    "officer_hours, notes, created_at, created_by"
)


def _run_record(row: tuple) -> RunRecord:
    run_id, method, params, provenance, result, created_at = row
    return RunRecord(
        run_id, method, json.loads(params), json.loads(provenance), json.loads(result), created_at
    )


def _link_record(row: tuple) -> ShareLinkRecord:
    link_id, run_id, role, filters, created_by, created_at, expires_at, revoked_at = row
    return ShareLinkRecord(
        link_id, run_id, role, json.loads(filters), created_by, created_at, expires_at, revoked_at
    )


def _intervention_record(row: tuple) -> InterventionRecord:
    values = list(row)
    values[4] = json.loads(values[4])  # area_codes
    values[5] = json.loads(values[5])  # geometry
    return InterventionRecord(*values)


def _job_record(row: tuple) -> JobRecord:
    job_id, kind, status, progress, message, result, created_at, updated_at = row
    result = None if result is None else json.loads(result)
    return JobRecord(job_id, kind, status, float(progress), message, result, created_at, updated_at)


class DuckDBStore(Store):
    """Store in a DuckDB file (``":memory:"`` for a throwaway one).

    Parameters
    ----------
    path : the database file; its folder is created if missing.
    analysis_crs : CRS of ``x``/``y``; a file made with another CRS is refused.
    read_only : open without taking the write lock.
    """

    def __init__(
        self, path: str | Path, analysis_crs: str = "EPSG:27700", read_only: bool = False
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
        where, params = attribute_filters(q, lambda v: "?")
        poly = self._polygon(q)
        if poly is not None:
            xmin, ymin, xmax, ymax = poly.bounds
            where.append("x >= ? AND x <= ? AND y >= ? AND y <= ?")
            params += [xmin, xmax, ymin, ymax]
        cols = list(dict.fromkeys([*columns, "x", "y"])) if poly is not None else columns
        sql = f"SELECT {', '.join(cols)} FROM incidents"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY id"
        page_in_sql = poly is None
        if page_in_sql and q.limit is not None:
            sql += f" LIMIT {int(q.limit)}"
        if page_in_sql and q.offset:
            sql += f" OFFSET {int(q.offset)}"
        table = self.con.sql(sql, params=params).to_arrow_table()
        if poly is not None:
            x = table.column("x").to_numpy()
            y = table.column("y").to_numpy()
            mask = shapely.intersects_xy(poly, x, y) if len(x) else np.zeros(0, bool)
            table = table.filter(pa.array(mask)).select(columns)
            table = table.slice(q.offset, q.limit)  # limit None: to the end; 0: no rows
        return table

    def query_incidents(self, query: IncidentQuery | None = None) -> pa.Table:
        q = query or IncidentQuery()
        table = self._select(q, q.selected_columns())
        return table.cast(pa.schema([INCIDENT_SCHEMA.field(c) for c in table.column_names]))

    def count_incidents(self, query: IncidentQuery | None = None) -> int:
        q = query or IncidentQuery()
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
        return (
            self.con.sql(sql + " ORDER BY kind, area_code, year", params=params)
            .to_arrow_table()
            .to_pandas()
        )

    # -- service records -----------------------------------------------------
    @contextmanager
    def _service(self, action: str, duplicate: str = "") -> Iterator[duckdb.DuckDBPyConnection]:
        """A cursor of its own, in a transaction committed on success; errors translated."""
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
        except duckdb.CatalogException as exc:
            raise StoreError(
                f"{action}: the store {self.path} lacks the service tables (its schema is "
                "out of date); run `hotspots db upgrade`"
            ) from exc
        except duckdb.ConstraintException as exc:
            raise StoreError(f"{action}: {duplicate or 'a constraint was violated'}") from exc
        except duckdb.Error as exc:
            raise StoreError(
                f"{action} failed; nothing was changed ({type(exc).__name__})"
            ) from exc
        finally:
            cur.close()

    @staticmethod
    def _count(cur: duckdb.DuckDBPyConnection, query: str, params: list) -> int:
        """Rows changed by an INSERT / UPDATE / DELETE."""
        row = cur.execute(query, params).fetchone()
        return int(row[0]) if row else 0

    def save_run(self, record: RunRecord) -> bool:
        values = [
            record.run_id,
            record.method,
            dump_json(record.params, "run params"),
            dump_json(record.provenance, "run provenance"),
            dump_json(record.result, "run result"),
            utc_naive(record.created_at, "created_at"),
        ]
        try:
            with self._service("saving the run") as cur:
                stored = self._count(
                    cur,
                    f"INSERT INTO runs ({_RUN_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT DO NOTHING",
                    values,
                )
                if record.params.get("request_key"):
                    cur.execute(
                        "INSERT INTO run_keys VALUES (?, ?) ON CONFLICT DO NOTHING",
                        [record.params["request_key"], record.run_id],
                    )
                return bool(stored)
        except StoreError:
            # Another thread stored the same run id first (a write-write conflict).
            if self.get_run(record.run_id) is not None:
                return False
            raise

    def get_run(self, run_id: str) -> RunRecord | None:
        with self._service("reading the run") as cur:
            row = cur.execute(
                f"SELECT {_RUN_COLUMNS} FROM runs WHERE run_id = ?", [run_id]
            ).fetchone()
        return _run_record(row) if row else None

    def list_runs(self, method: str | None = None, limit: int = 100) -> list[RunRecord]:
        limit = int(limit)
        if limit < 0:
            raise ValueError(f"limit must be 0 or more; got {limit}")
        where, params = ("WHERE method = ? ", [method]) if method is not None else ("", [])
        with self._service("listing runs") as cur:
            rows = cur.execute(
                f"SELECT {_RUN_LISTED} FROM runs {where}"
                "ORDER BY created_at DESC, run_id DESC LIMIT ?",
                [*params, limit],
            ).fetchall()
        return [_run_record(r) for r in rows]

    def latest_run(self, method: str) -> RunRecord | None:
        with self._service("reading the latest run") as cur:
            row = cur.execute(
                f"SELECT {_RUN_COLUMNS} FROM runs WHERE method = ? "
                "ORDER BY created_at DESC, run_id DESC LIMIT 1",
                [method],
            ).fetchone()
        return _run_record(row) if row else None

    def delete_run(self, run_id: str) -> bool:
        with self._service("deleting the run") as cur:
            self.run_rows.delete(cur, run_id)
            cur.execute("DELETE FROM run_keys WHERE run_id = ?", [run_id])
            return bool(self._count(cur, "DELETE FROM runs WHERE run_id = ?", [run_id]))

    def run_for_request(self, request_key: str) -> RunRecord | None:
        with self._service("finding the run of a request") as cur:
            row = cur.execute(
                f"SELECT {_RUN_COLUMNS} FROM run_keys JOIN runs USING (run_id) "
                "WHERE request_key = ?",
                [request_key],
            ).fetchone()
        return _run_record(row) if row else None

    def add_api_key(self, record: ApiKeyRecord) -> None:
        values = [
            record.key_id,
            record.name,
            check_role(record.role),
            record.key_hash,
            utc_naive(record.created_at, "created_at"),
            utc_naive(record.revoked_at, "revoked_at"),
        ]
        with self._service(
            "adding the API key", "an API key with this id or hash is already stored"
        ) as cur:
            cur.execute(f"INSERT INTO api_keys ({_KEY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)", values)

    def api_key_by_hash(self, key_hash: str) -> ApiKeyRecord | None:
        with self._service("looking up the API key") as cur:
            row = cur.execute(
                f"SELECT {_KEY_COLUMNS} FROM api_keys WHERE key_hash = ?", [key_hash]
            ).fetchone()
        return ApiKeyRecord(*row) if row else None

    def list_api_keys(self) -> list[ApiKeyRecord]:
        with self._service("listing API keys") as cur:
            rows = cur.execute(
                f"SELECT {_KEY_COLUMNS} FROM api_keys ORDER BY created_at, key_id"
            ).fetchall()
        return [ApiKeyRecord(*r) for r in rows]

    def revoke_api_key(self, key_id: str, when: datetime) -> bool:
        with self._service("revoking the API key") as cur:
            return bool(
                self._count(
                    cur,
                    "UPDATE api_keys SET revoked_at = ? WHERE key_id = ? AND revoked_at IS NULL",
                    [utc_naive(when, "when"), key_id],
                )
            )

    def add_share_link(self, record: ShareLinkRecord) -> None:
        values = [
            record.link_id,
            record.run_id,
            check_role(record.role),
            dump_json(record.filters, "share link filters"),
            record.created_by,
            utc_naive(record.created_at, "created_at"),
            utc_naive(record.expires_at, "expires_at"),
            utc_naive(record.revoked_at, "revoked_at"),
        ]
        with self._service(
            "adding the share link", "a share link with this id is already stored"
        ) as cur:
            cur.execute(
                f"INSERT INTO share_links ({_LINK_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                values,
            )

    def get_share_link(self, link_id: str) -> ShareLinkRecord | None:
        with self._service("reading the share link") as cur:
            row = cur.execute(
                f"SELECT {_LINK_COLUMNS} FROM share_links WHERE link_id = ?", [link_id]
            ).fetchone()
        return _link_record(row) if row else None

    def list_share_links(self) -> list[ShareLinkRecord]:
        with self._service("listing share links") as cur:
            rows = cur.execute(
                f"SELECT {_LINK_COLUMNS} FROM share_links ORDER BY created_at DESC, link_id DESC"
            ).fetchall()
        return [_link_record(r) for r in rows]

    def revoke_share_link(self, link_id: str, when: datetime) -> bool:
        with self._service("revoking the share link") as cur:
            return bool(
                self._count(
                    cur,
                    "UPDATE share_links SET revoked_at = ? "
                    "WHERE link_id = ? AND revoked_at IS NULL",
                    [utc_naive(when, "when"), link_id],
                )
            )

    def log_share_open(self, link_id: str, opened_at: datetime, client: str | None) -> None:
        opened = utc_naive(opened_at, "opened_at")
        with self._service("logging the share link open") as cur:
            if not cur.execute("SELECT 1 FROM share_links WHERE link_id = ?", [link_id]).fetchone():
                raise NotFound(f"no share link {link_id!r}")
            cur.execute(
                "INSERT INTO share_opens (link_id, opened_at, client) VALUES (?, ?, ?)",
                [link_id, opened, client],
            )

    def share_link_opens(self, link_id: str) -> list[tuple[datetime, str | None]]:
        with self._service("reading share link opens") as cur:
            rows = cur.execute(
                "SELECT opened_at, client FROM share_opens WHERE link_id = ? "
                "ORDER BY opened_at, seq",
                [link_id],
            ).fetchall()
        return [(opened, client) for opened, client in rows]

    def add_job(self, record: JobRecord) -> None:
        values = [
            record.job_id,
            record.kind,
            check_job_status(record.status),
            check_progress(record.progress),
            record.message,
            None if record.result is None else dump_json(record.result, "job result"),
            utc_naive(record.created_at, "created_at"),
            utc_naive(record.updated_at, "updated_at"),
        ]
        with self._service("adding the job", "a job with this id is already stored") as cur:
            cur.execute(
                f"INSERT INTO jobs ({_JOB_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", values
            )

    def update_job(
        self,
        job_id: str,
        *,
        status: str | None = None,
        progress: float | None = None,
        message: str | None = None,
        result: dict | None = None,
        when: datetime,
    ) -> bool:
        changes = job_changes(
            status=status,
            progress=progress,
            message=message,
            result=result,
            when=when,
            encode_result=dump_json,
        )
        sets = ", ".join(f"{col} = ?" for col in changes)  # column names are literals above
        with self._service("updating the job") as cur:
            return bool(
                self._count(
                    cur, f"UPDATE jobs SET {sets} WHERE job_id = ?", [*changes.values(), job_id]
                )
            )

    def get_job(self, job_id: str) -> JobRecord | None:
        with self._service("reading the job") as cur:
            row = cur.execute(
                f"SELECT {_JOB_COLUMNS} FROM jobs WHERE job_id = ?", [job_id]
            ).fetchone()
        return _job_record(row) if row else None

    def add_intervention(self, record: InterventionRecord) -> InterventionRecord:
        rec = check_intervention(record)
        values = [
            rec.intervention_id,
            rec.title,
            rec.kind,
            rec.area_type,
            dump_json(rec.area_codes, "intervention area codes"),
            dump_json(rec.geometry, "intervention geometry"),
            rec.start_date,
            rec.end_date,
            rec.officer_hours,
            rec.notes,
            utc_naive(rec.created_at, "created_at"),
            rec.created_by,
        ]
        with self._service(
            "adding the intervention", "an intervention with this id is already stored"
        ) as cur:
            cur.execute(
                f"INSERT INTO interventions ({_INTERVENTION_COLUMNS}) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                values,
            )
        return replace(rec, created_at=values[10])

    def get_intervention(self, intervention_id: str) -> InterventionRecord | None:
        with self._service("reading the intervention") as cur:
            row = cur.execute(
                f"SELECT {_INTERVENTION_COLUMNS} FROM interventions WHERE intervention_id = ?",
                [intervention_id],
            ).fetchone()
        return _intervention_record(row) if row else None

    def list_interventions(self) -> list[InterventionRecord]:
        with self._service("listing interventions") as cur:
            rows = cur.execute(
                f"SELECT {_INTERVENTION_COLUMNS} FROM interventions "
                "ORDER BY start_date DESC, intervention_id DESC"
            ).fetchall()
        return [_intervention_record(r) for r in rows]

    def delete_intervention(self, intervention_id: str) -> bool:
        with self._service("deleting the intervention") as cur:
            return bool(
                self._count(
                    cur, "DELETE FROM interventions WHERE intervention_id = ?", [intervention_id]
                )
            )

    def close(self) -> None:
        self._closed = True
        with self._cursors_lock:
            for cur in self._cursors:
                with contextlib.suppress(duckdb.Error):
                    cur.close()
            self._cursors.clear()
        self._root.close()
