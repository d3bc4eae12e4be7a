"""The server store: PostgreSQL + PostGIS through psycopg 3.

Schema from ``migrations/`` (see :mod:`geodata.stores.migrate`); geometry in
the analysis CRS with GIST indexes; bulk writes with ``COPY``; reads with
``COPY ... TO STDOUT`` parsed by Arrow, so no Python object is made per row
in either direction; a connection pool; ``psycopg.sql`` for every identifier
that is not a literal of this module.

The service records (runs, API keys, share links, jobs) are in the tables of
``migrations/0002_service.sql`` (the interventions log in
``0003_interventions.sql``): JSON as ``jsonb``, times as ``timestamp``
holding naive UTC. Each call is one transaction on a pooled connection.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import psycopg
import pyarrow as pa
import shapely
from psycopg import sql
from psycopg.types.json import Jsonb
from psycopg_pool import PoolTimeout

from .. import crs as crsmod
from ..errors import ConfigurationError, StoreError, StoreUnavailable
from ..interventions import intervention_polygon
from ..model import (
    INCIDENT_SCHEMA,
    QUARANTINE_SCHEMA,
    BatchInfo,
    InterventionRecord,
)
from . import migrate
from .base import (
    WRITE_CHUNK_ROWS,
    IncidentQuery,
    Progress,
    Store,
    attribute_filters,
    batch_from_row,
    check_kind,
)
from .key_cache import KeyCache, KeyListener
from .pg_codec import csv_bytes, ewkb_points_hex, jsonb, read_csv
from .pg_pool import GuardedPool, quick_acks
from .query import SPANS_SCHEMA, SPANS_SQL, texts_encoded
from .run_rows import RunRows
from .service_records import ServiceRecords
from .write_mark import WriteMark, writes_incidents

if TYPE_CHECKING:  # pandas and geopandas load only when a frame is asked for
    import geopandas as gpd
    import pandas as pd

    from ..validate import ValidatedBatch

#: a bbox in the analysis CRS as an index condition on ``geom``
_BOX = sql.SQL("geom && ST_MakeEnvelope(%s, %s, %s, %s, %s)")
#: a lon/lat bbox as one: its edges cut into ~1 km pieces before they are projected, and
#: 100 m to spare, so that the projected box holds every point the lon/lat test keeps
_BOX_LONLAT = sql.SQL(
    "geom && ST_Expand(ST_Transform(ST_Segmentize(ST_MakeEnvelope(%s, %s, %s, %s, 4326), "
    "0.01), %s), 100)"
)


class PostGISStore(ServiceRecords, Store):
    """Store in PostgreSQL/PostGIS.

    Parameters
    ----------
    url : ``postgresql://user@host:port/db``
    analysis_crs : the CRS of ``x``/``y`` and of the geometry column; a database
        made with another one is refused.
    upgrade : apply pending migrations on open (the CLI's ``db upgrade`` does
        it explicitly; the server refuses to start with pending migrations).
    """

    def __init__(
        self,
        url: str,
        analysis_crs: str = "EPSG:27700",
        *,
        upgrade: bool = True,
        min_size: int = 1,
        max_size: int = 4,
        timeout_s: float = 1.0,
        migrations: Path | None = None,
    ) -> None:
        self.url = url
        self.migrations = migrations  #: the folder of migrations (default: the shipped one)
        self.analysis_crs = analysis_crs
        self.srid = crsmod.srid(analysis_crs)
        self.run_rows = RunRows(self, postgis=True)  #: run features as rows
        self._keys = KeyCache(enabled=False)  # on once its listener hears every change
        self._listener: KeyListener | None = None
        self._listener_lock = threading.Lock()
        self._write_mark = WriteMark()  # writes of incidents through this object
        try:  # fails fast while the server is down (pg_pool.GuardedPool)
            self.pool = GuardedPool(url, min_size=min_size, max_size=max_size, timeout_s=timeout_s)
        except PoolTimeout as exc:
            raise StoreUnavailable(
                "cannot reach the PostGIS database (check HOTSPOTS_DATABASE_URL, and that the "
                "server is running)"
            ) from exc
        if upgrade:
            self.upgrade()
        self._check_crs()

    @contextmanager
    def _conn(self) -> Iterator[psycopg.Connection]:
        try:
            with self.pool.connection() as conn:
                yield conn
        except PoolTimeout as exc:
            raise StoreUnavailable("the PostGIS database is not answering") from exc
        except psycopg.OperationalError as exc:
            raise StoreUnavailable("lost the connection to the PostGIS database") from exc

    # -- schema --------------------------------------------------------------
    @writes_incidents
    def upgrade(self) -> list[str]:
        with self._conn() as conn:  # pooled connections are in autocommit mode
            ran = migrate.upgrade(conn, self.migrations)
            if not conn.execute(
                "SELECT 1 FROM hotspots_meta WHERE key = 'analysis_crs'"
            ).fetchone():
                conn.execute(
                    "INSERT INTO hotspots_meta VALUES ('analysis_crs', %s)", [self.analysis_crs]
                )
        return ran

    def schema_status(self) -> dict[str, object]:
        with self._conn() as conn:
            return migrate.status(conn, self.migrations)

    def _check_crs(self) -> None:
        with self._conn() as conn:
            if not conn.execute("SELECT to_regclass('hotspots_meta')").fetchone()[0]:
                return
            row = conn.execute(
                "SELECT value FROM hotspots_meta WHERE key = 'analysis_crs'"
            ).fetchone()
        if row and row[0] != self.analysis_crs:
            raise ConfigurationError(
                f"the database holds coordinates in {row[0]} but the analysis CRS is set to "
                f"{self.analysis_crs}; set HOTSPOTS_ANALYSIS_CRS={row[0]}"
            )

    # -- batches -------------------------------------------------------------
    def batch_hashes(self, batch_ids: Sequence[str]) -> dict[str, str]:
        with self._conn() as conn:
            rows = conn.execute(
                "SELECT batch_id, content_hash FROM batches WHERE batch_id = ANY(%s)",
                [list(batch_ids)],
            ).fetchall()
        return dict(rows)

    @writes_incidents
    def apply(self, batches: Iterable[ValidatedBatch], progress: Progress | None = None) -> None:
        total = done = 0
        cols = sql.SQL(", ").join(map(sql.Identifier, [*INCIDENT_SCHEMA.names, "geom"]))
        qcols = sql.SQL(", ").join(map(sql.Identifier, QUARANTINE_SCHEMA.names))
        try:
            with self._conn() as conn, conn.transaction():
                for batch in batches:
                    info = batch.info
                    total += batch.incidents.num_rows
                    for table in ("incidents", "quarantine", "batches"):
                        if batch.report.status == "created":
                            break  # a new batch has nothing to delete
                        conn.execute(
                            sql.SQL("DELETE FROM {} WHERE batch_id = %s").format(
                                sql.Identifier(table)
                            ),
                            [info.batch_id],
                        )
                    conn.execute(
                        "INSERT INTO batches VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                        [
                            info.batch_id,
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
                    incidents = batch.incidents
                    with conn.cursor() as cur:
                        for start in range(0, incidents.num_rows, WRITE_CHUNK_ROWS):
                            chunk = incidents.slice(start, WRITE_CHUNK_ROWS)
                            geom = ewkb_points_hex(
                                chunk.column("x").to_numpy(),
                                chunk.column("y").to_numpy(),
                                self.srid,
                            )
                            chunk = chunk.append_column("geom", geom)
                            with cur.copy(
                                sql.SQL("COPY incidents ({}) FROM STDIN (FORMAT csv)").format(cols)
                            ) as copy:
                                copy.write(csv_bytes(chunk))
                            done += chunk.num_rows
                            if progress:
                                progress(done, total)
                        if batch.quarantine.num_rows:
                            with cur.copy(
                                sql.SQL("COPY quarantine ({}) FROM STDIN (FORMAT csv)").format(
                                    qcols
                                )
                            ) as copy:
                                copy.write(csv_bytes(batch.quarantine))
                    if progress and not incidents.num_rows:
                        progress(done, total)
        except psycopg.Error as exc:
            if isinstance(exc, psycopg.OperationalError):
                raise StoreUnavailable("lost the PostGIS connection; nothing was changed") from exc
            raise StoreError(
                f"the import was rolled back; nothing was changed ({type(exc).__name__})"
            ) from exc

    def list_batches(self) -> list[BatchInfo]:
        with self._conn() as conn, conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
            rows = cur.execute("SELECT * FROM batches ORDER BY source, period").fetchall()
        return [batch_from_row(r) for r in rows]

    @writes_incidents
    def delete_batch(self, batch_id: str) -> bool:
        with self._conn() as conn, conn.transaction():
            for table in ("incidents", "quarantine"):
                conn.execute(
                    sql.SQL("DELETE FROM {} WHERE batch_id = %s").format(sql.Identifier(table)),
                    [batch_id],
                )
            cur = conn.execute("DELETE FROM batches WHERE batch_id = %s", [batch_id])
            return cur.rowcount > 0

    # -- reads ---------------------------------------------------------------
    def _where(self, q: IncidentQuery) -> tuple[sql.Composable, list]:
        where, params = attribute_filters(q, lambda v: "%s")
        parts: list[sql.Composable] = [sql.SQL(w) for w in where]
        if q.bbox is not None:  # the GIST index narrows; the exact test above decides
            parts.append(_BOX_LONLAT if q.bbox_lonlat else _BOX)
            params += [*map(float, q.bbox), self.srid]
        if q.within is not None:
            parts.append(sql.SQL("ST_Intersects(geom, ST_GeomFromWKB(%s, %s))"))
            params += [shapely.to_wkb(q.within), self.srid]
        if q.area is not None:
            kind, code = q.area
            self.area_polygon(kind, code)  # NotFound when missing
            parts.append(
                sql.SQL(
                    "ST_Intersects(geom, (SELECT b.geom FROM boundaries b "
                    "WHERE b.kind = %s AND b.code = %s))"
                )
            )
            params += [kind, code]
        if not parts:
            return sql.SQL(""), params
        return sql.SQL(" WHERE ") + sql.SQL(" AND ").join(parts), params

    def incident_tile(self, bounds_3857, layer: str, extent: int, buffer: int, sensitive: bool):
        """``ST_AsMVT`` of the incidents in the tile: placed by their lon/lat, as in OGC
        items (the GIST index on ``geom`` finds them, with 100 m to spare for the datum
        shift); the properties those of the items, ``occurred_at`` as ISO text; features in
        ``id`` order, so that the same data always gives the same bytes."""
        left, bottom, right, top = (float(v) for v in bounds_3857)
        query = sql.SQL(
            "WITH t AS (SELECT ST_MakeEnvelope(%s, %s, %s, %s, 3857) AS env), "
            "f AS (SELECT ST_AsMVTGeom(ST_Transform(ST_SetSRID(ST_MakePoint(i.lon, i.lat), 4326), "
            "3857), t.env, %s, %s, true) AS g, "
            "i.id, i.category, to_char(i.occurred_at, 'YYYY-MM-DD\"T\"HH24:MI:SS') "
            "AS occurred_at, i.occurred_precision, i.location, i.lsoa_code, i.ward_code, "
            "i.source, i.batch_id, i.sensitive FROM incidents i, t "
            "WHERE i.geom && ST_Transform(ST_Expand(t.env, %s), %s){} ORDER BY i.id) "
            "SELECT ST_AsMVT(f, %s, %s, 'g') FROM f WHERE g IS NOT NULL"
        ).format(sql.SQL("") if sensitive else sql.SQL(" AND NOT i.sensitive"))
        pad = (right - left) * buffer / extent + 100.0
        params = [left, bottom, right, top, extent, buffer, pad, self.srid, layer, extent]
        with self._conn() as conn:
            row = conn.execute(query, params).fetchone()
        return bytes(row[0]) if row and row[0] is not None else b""

    def query_incidents(self, query: IncidentQuery | None = None) -> pa.Table:
        q = query or IncidentQuery()
        columns = q.selected_columns()
        where, params = self._where(q)
        select = sql.SQL("SELECT {} FROM incidents{} ORDER BY id").format(
            sql.SQL(", ").join(map(sql.Identifier, columns)), where
        )
        if q.limit is not None:
            select += sql.SQL(" LIMIT {}").format(sql.Literal(int(q.limit)))
        if q.offset:
            select += sql.SQL(" OFFSET {}").format(sql.Literal(int(q.offset)))
        schema = pa.schema([INCIDENT_SCHEMA.field(c) for c in columns])
        return texts_encoded(read_csv(self._copy_out(select, params), schema), q.dictionary)

    def _copy_out(self, select: sql.Composable, params: list) -> bytes:
        out = bytearray()
        with self._conn() as conn, conn.cursor() as cur:
            # COPY takes no parameters: psycopg binds them client-side, quoted as literals.
            bound = psycopg.ClientCursor(conn).mogrify(select, params)
            query = sql.SQL("COPY ({}) TO STDOUT (FORMAT csv)").format(sql.SQL(bound))
            with cur.copy(query) as copy:
                quick_acks(conn)  # the page streams without waiting on delayed ACKs
                for data in copy:
                    out += data
        return bytes(out)

    def incident_spans(self, include_sensitive: bool = True) -> pa.Table:
        where, params = self._where(IncidentQuery(include_sensitive=include_sensitive))
        select = sql.SQL(SPANS_SQL).format(where)
        return read_csv(self._copy_out(select, params), SPANS_SCHEMA)

    def count_incidents(self, query: IncidentQuery | None = None) -> int:
        q = query or IncidentQuery()
        where, params = self._where(q)
        with self._conn() as conn:
            row = conn.execute(
                sql.SQL("SELECT count(*) FROM incidents{}").format(where), params
            ).fetchone()
        return int(row[0]) if row else 0

    def read_quarantine(
        self,
        batch_id: str | None = None,
        reason: str | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> pa.Table:
        conds, params = [], []
        if batch_id is not None:
            conds.append(sql.SQL("batch_id = %s"))
            params.append(batch_id)
        if reason is not None:
            conds.append(sql.SQL("reason = %s"))
            params.append(reason)
        select = sql.SQL("SELECT {} FROM quarantine").format(
            sql.SQL(", ").join(map(sql.Identifier, QUARANTINE_SCHEMA.names))
        )
        if conds:
            select += sql.SQL(" WHERE ") + sql.SQL(" AND ").join(conds)
        select += sql.SQL(" ORDER BY batch_id, file, row_number")
        if limit is not None:
            select += sql.SQL(" LIMIT {}").format(sql.Literal(int(limit)))
        if offset:
            select += sql.SQL(" OFFSET {}").format(sql.Literal(int(offset)))
        return read_csv(self._copy_out(select, params), QUARANTINE_SCHEMA)

    # -- areas ---------------------------------------------------------------
    def replace_boundaries(self, kind: str, areas: gpd.GeoDataFrame) -> int:
        check_kind(kind)
        geoms = shapely.to_wkb(areas.geometry.to_numpy())
        names = areas["name"].astype(str).to_numpy() if "name" in areas else [None] * len(areas)
        with self._conn() as conn, conn.transaction(), conn.cursor() as cur:
            cur.execute("DELETE FROM boundaries WHERE kind = %s", [kind])
            cur.executemany(
                "INSERT INTO boundaries (kind, code, name, geom) VALUES "
                "(%s, %s, %s, ST_Multi(ST_SetSRID(ST_GeomFromWKB(%s), %s)))",
                [
                    (kind, str(c), n, g, self.srid)
                    for c, n, g in zip(areas["code"].to_numpy(), names, geoms)
                ],
            )
        return len(areas)

    def boundaries(self, kind: str | None = None) -> gpd.GeoDataFrame:
        import geopandas as gpd
        import pandas as pd

        query = "SELECT kind, code, name, ST_AsBinary(geom) FROM boundaries"
        params: list = []
        if kind is not None:
            query += " WHERE kind = %s"
            params.append(check_kind(kind))
        with self._conn() as conn:
            rows = conn.execute(query + " ORDER BY kind, code", params).fetchall()
        frame = pd.DataFrame(rows, columns=["kind", "code", "name", "wkb"])
        geometry = shapely.from_wkb([bytes(w) for w in frame.pop("wkb")])
        return gpd.GeoDataFrame(frame, geometry=geometry, crs=self.analysis_crs)

    def replace_population(self, kind: str, table: pd.DataFrame) -> int:
        check_kind(kind)
        rows = list(
            zip(
                [kind] * len(table),
                table["area_code"].astype(str),
                table["year"].astype(int),
                table["population"].astype(float),
            )
        )
        with self._conn() as conn, conn.transaction(), conn.cursor() as cur:
            cur.execute("DELETE FROM population WHERE kind = %s", [kind])
            with cur.copy("COPY population (kind, area_code, year, population) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        return len(rows)

    def population(self, kind: str | None = None) -> pd.DataFrame:
        import pandas as pd

        query = "SELECT kind, area_code, year, population FROM population"
        params: list = []
        if kind is not None:
            query += " WHERE kind = %s"
            params.append(check_kind(kind))
        with self._conn() as conn:
            rows = conn.execute(query + " ORDER BY kind, area_code, year", params).fetchall()
        frame = pd.DataFrame(rows, columns=["kind", "area_code", "year", "population"])
        return frame.astype({"year": "int32", "population": "float64"})

    # -- service records (geodata.stores.service_records): this store's dialect -----------
    PH = "%s"
    EMPTY_JSON = "'{}'::jsonb"
    ERRORS = (
        (psycopg.errors.UndefinedTable,),
        (psycopg.errors.UniqueViolation,),
        (psycopg.OperationalError,),
        psycopg.Error,
    )
    where = "the database"

    @contextmanager
    def _transaction(self, action: str) -> Iterator[psycopg.Connection]:
        """A pooled connection in a transaction committed on success."""
        with self._conn() as conn, conn.transaction():
            yield conn

    @contextmanager
    def _statement(self, action: str) -> Iterator[psycopg.Connection]:
        """A pooled connection in autocommit mode: the statement is its own transaction."""
        with self._conn() as conn:
            yield conn

    def _to_json(self, value: object, what: str) -> Jsonb:
        return jsonb(value, what)

    def _intervention_geom(self, rec: InterventionRecord) -> tuple[str, str, list]:
        """The outline in the analysis CRS, GIST-indexed (PostGIS only)."""
        geom = shapely.to_wkb(intervention_polygon(rec, self.analysis_crs))
        return ", geom", ", ST_Multi(ST_SetSRID(ST_GeomFromWKB(?), ?))", [geom, self.srid]

    def _key_cache(self) -> KeyCache:
        """API keys remembered until a change is notified (:mod:`.key_cache`): the
        listener starts with the first lookup, so only a server process runs one."""
        if self._listener is None:
            with self._listener_lock:
                if self._listener is None:
                    self._listener = KeyListener(self.url, self._keys, self.pool.connect_timeout)
        return self._keys

    def close(self) -> None:
        if self._listener is not None:
            self._listener.close()
        self.pool.close()
