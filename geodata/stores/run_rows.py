"""Run features as rows: a run's hotspots as one disclosure view shows them, one row each.

A run's result is one GeoJSON document (``runs.result``); GIS clients read it a
page at a time, by bbox and filter. So each *view* of a run — the features a
role's disclosure policy shows, already shaped by it — is written once as rows of
``run_features`` (id, position, properties as JSON, the whole feature as JSON
text, geometry in CRS84), with one row in ``run_views`` saying it is complete
(how many features, their bounds, and what the caller kept with it). A view is
keyed by a text the caller makes from everything the shaping depends on
(``api.ogc.run_items.view_key``), so a change of disclosure settings reads
another view, never a stale one. Views are made lazily, on first read: runs
stored before this table existed get theirs the same way.

Selection, filters (:mod:`.run_condition`) and keyset paging by position run in
SQL. On PostGIS geometry is ``geometry(Geometry, 4326)`` with a GIST index and
the bbox and ``S_INTERSECTS`` tests are exact there. DuckDB keeps the bounds of
each feature (``min_x`` … ``max_y``) and its WKB: SQL selects the rows whose bounds
overlap, and shapely makes the exact test on those only (DuckDB's spatial
extension would have to be downloaded at run time).

The same code serves both stores (:class:`RunRows`): each store hands its
``_service`` transaction and its placeholder style.
"""

from __future__ import annotations

import contextlib
import json
import time
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace

import numpy as np
import orjson
import pyarrow as pa
import shapely
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from ..errors import StoreError
from ..model import RunRecord
from .base import dump_json
from .run_condition import OVERLAP, DuckDBDialect, PostGISDialect, necessary, overlap_values, render

#: DuckDB schema v4 (PostGIS: ``migrations/0004_run_features.sql``)
DUCKDB_DDL = [
    """CREATE TABLE IF NOT EXISTS run_views (
        run_id VARCHAR NOT NULL, view_key VARCHAR NOT NULL, n_features INTEGER NOT NULL,
        min_x DOUBLE, min_y DOUBLE, max_x DOUBLE, max_y DOUBLE, meta VARCHAR NOT NULL,
        PRIMARY KEY (run_id, view_key))""",
    """CREATE TABLE IF NOT EXISTS run_features (
        run_id VARCHAR NOT NULL, view_key VARCHAR NOT NULL, seq INTEGER NOT NULL,
        fid VARCHAR NOT NULL, properties VARCHAR NOT NULL, feature VARCHAR NOT NULL,
        min_x DOUBLE, min_y DOUBLE, max_x DOUBLE, max_y DOUBLE, geom_wkb BLOB,
        PRIMARY KEY (run_id, view_key, seq))""",
]
_CHUNK = 512  # candidate rows fetched at a time when DuckDB refines in Python
_RACE_POLLS = 100  # 5 s: how long a writer that lost a race waits for the winner's commit
_HEADER = "run_id, method, params, provenance, NULL AS result, created_at"


@dataclass(frozen=True)
class RunView:
    """A stored view: how many features, their bounds (CRS84) and the caller's ``meta``."""

    n_features: int
    bbox: list[float] | None
    meta: dict


@dataclass(frozen=True)
class RunFeatureQuery:
    """A selection of one view's features, in stored order.

    Parameters
    ----------
    run_id, view : the run and the view key.
    within : a CRS84 geometry the features must intersect (the ``bbox`` of a request).
    condition : a filter tree (:mod:`.run_condition`).
    refine : the exact test of ``condition`` on a feature, for a store that cannot
        make its spatial terms exactly in SQL (DuckDB); PostGIS does not call it.
    after : keyset paging: only features after this position.
    offset, limit : paging (limit None: to the end).
    """

    run_id: str
    view: str
    within: BaseGeometry | None = None
    condition: tuple | None = None
    refine: Callable[[dict], bool] | None = None
    after: int | None = None
    offset: int = 0
    limit: int | None = None


def feature_bounds(features: list[dict]) -> tuple[list, np.ndarray]:
    """The features' geometries (None where missing) and their bounds, row by row."""
    geoms = [shape(f["geometry"]) if f.get("geometry") else None for f in features]
    bounds = shapely.bounds(np.array(geoms, dtype=object)) if geoms else np.zeros((0, 4))
    return geoms, bounds


def total_bounds(geoms: list) -> list[float] | None:
    """Bounds of the geometries present, as :func:`shapely.total_bounds` gives them."""
    present = [g for g in geoms if g is not None]
    return [float(v) for v in shapely.total_bounds(present)] if present else None


def _loads(text: str) -> dict:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:  # an integer beyond 64 bits: json reads it
        return json.loads(text)


class RunRows:
    """The run-feature rows of one store (``store._service`` gives a transaction)."""

    def __init__(self, store, postgis: bool) -> None:
        # a weak reference: a store that fails to open is freed (and its file closed) at once
        self.store = weakref.proxy(store)
        self.postgis = postgis
        self.ph = "%s" if postgis else "?"

    def _sql(self, template: str) -> str:
        return template.replace("{}", self.ph)

    # -- run records without their result ---------------------------------------------------
    def header(self, run_id: str) -> RunRecord | None:
        """The run ``run_id`` without its result (``{}``), as a listing gives it."""
        rows = self._fetch(f"SELECT {_HEADER} FROM runs WHERE run_id = {{}}", [run_id])
        return self._record(rows[0]) if rows else None

    def latest_header(self, method: str) -> RunRecord | None:
        """The newest run of ``method`` without its result."""
        rows = self._fetch(
            f"SELECT {_HEADER} FROM runs WHERE method = {{}} "
            "ORDER BY created_at DESC, run_id DESC LIMIT 1",
            [method],
        )
        return self._record(rows[0]) if rows else None

    def _record(self, row: tuple) -> RunRecord:
        run_id, method, params, provenance, _, created_at = row
        if isinstance(params, str):
            params, provenance = json.loads(params), json.loads(provenance)
        return RunRecord(run_id, method, params, provenance, {}, created_at)

    def _fetch(self, template: str, values: list, action: str = "reading run features"):
        with self.store._service(action) as cur:
            return cur.execute(self._sql(template), values).fetchall()

    # -- views ------------------------------------------------------------------------------
    def view(self, run_id: str, view: str) -> RunView | None:
        """The stored view, or None if it has not been made."""
        rows = self._fetch(
            "SELECT n_features, min_x, min_y, max_x, max_y, meta FROM run_views "
            "WHERE run_id = {} AND view_key = {}",
            [run_id, view],
        )
        if not rows:
            return None
        n, min_x, min_y, max_x, max_y, meta = rows[0]
        bbox = None if min_x is None else [min_x, min_y, max_x, max_y]
        return RunView(int(n), bbox, meta if isinstance(meta, dict) else json.loads(meta))

    def save_view(self, run_id: str, view: str, features: list[dict], meta: dict) -> RunView:
        """Write a view's features (in their order) and mark it complete, in one
        transaction. A view already there (another request made it first) is kept."""
        geoms, bounds = feature_bounds(features)
        info = RunView(len(features), total_bounds(geoms), meta)
        texts = [dump_json(f, "run feature") for f in features]
        props = [dump_json(f.get("properties") or {}, "run feature properties") for f in features]
        try:
            if self.postgis:
                self._save_postgis(run_id, view, features, geoms, texts, props, info)
            else:
                self._save_duckdb(run_id, view, features, geoms, bounds, texts, props, info)
        except StoreError:  # another request writing the same view (DuckDB: a conflict)
            for _ in range(_RACE_POLLS):
                if self.view(run_id, view) is not None:
                    return info
                time.sleep(0.05)
            raise
        return info

    def _view_values(self, run_id: str, view: str, info: RunView) -> list:
        box = info.bbox or [None] * 4
        return [run_id, view, info.n_features, *box, dump_json(info.meta, "run view meta")]

    def _save_postgis(self, run_id, view, features, geoms, texts, props, info) -> None:
        ewkb = [
            None
            if g is None
            else shapely.to_wkb(shapely.set_srid(g, 4326), hex=True, include_srid=True)
            for g in geoms
        ]
        with self.store._service("saving the run's features") as conn:
            cur = conn.execute(
                "INSERT INTO run_views (run_id, view_key, n_features, min_x, min_y, max_x, max_y, "
                "meta) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                self._view_values(run_id, view, info),
            )
            if cur.rowcount == 0:
                return  # made by another request meanwhile
            with (
                conn.cursor() as c,
                c.copy(
                    "COPY run_features (run_id, view_key, seq, fid, properties, feature, geom) "
                    "FROM STDIN"
                ) as copy,
            ):
                for i, f in enumerate(features):
                    copy.write_row([run_id, view, i, str(f.get("id")), props[i], texts[i], ewkb[i]])

    def _save_duckdb(self, run_id, view, features, geoms, bounds, texts, props, info) -> None:
        n = len(features)
        present = np.array([g is not None for g in geoms], bool)
        wkb = [None if g is None else shapely.to_wkb(g) for g in geoms]

        def col(i: int) -> pa.Array:
            values = bounds[:, i] if n else np.zeros(0)
            ok = present & np.isfinite(values) if n else present
            return pa.array(values, pa.float64(), mask=~ok)

        table = pa.table(
            {
                "run_id": pa.array([run_id] * n, pa.string()),
                "view_key": pa.array([view] * n, pa.string()),
                "seq": pa.array(range(n), pa.int32()),
                "fid": pa.array([str(f.get("id")) for f in features], pa.string()),
                "properties": pa.array(props, pa.string()),
                "feature": pa.array(texts, pa.string()),
                "min_x": col(0),
                "min_y": col(1),
                "max_x": col(2),
                "max_y": col(3),
                "geom_wkb": pa.array(wkb, pa.binary()),
            }
        )
        with self.store._service("saving the run's features") as cur:
            cur.execute(
                "INSERT INTO run_views VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                self._view_values(run_id, view, info),
            )
            if n:
                cur.register("_run_features", table)
                cur.execute("INSERT INTO run_features SELECT * FROM _run_features")
                cur.unregister("_run_features")

    def delete(self, cur, run_id: str) -> None:
        """Remove every view of a run, in the caller's transaction (DuckDB; PostGIS
        cascades from ``runs``)."""
        for table in ("run_features", "run_views"):
            cur.execute(self._sql(f"DELETE FROM {table} WHERE run_id = {{}}"), [run_id])

    # -- selection --------------------------------------------------------------------------
    def _select(self, q: RunFeatureQuery, columns: str, tail: str = "") -> tuple[str, list]:
        """``SELECT columns`` of the rows ``q`` selects (bbox exact on PostGIS, by bounds
        on DuckDB), then ``tail``. On DuckDB the properties a filter names are extracted
        from each row's JSON once (a materialised ``p``), not once per test."""
        parts, values = ["run_id = {}", "view_key = {}"], [q.run_id, q.view]
        if q.after is not None:
            parts.append("seq > {}")
            values.append(int(q.after))
        if q.within is not None and self.postgis:
            parts.append("ST_Intersects(geom, ST_GeomFromWKB({}, 4326))")
            values.append(shapely.to_wkb(q.within))
        elif q.within is not None:
            parts.append(OVERLAP)
            values += overlap_values(q.within)
        dialect = PostGISDialect() if self.postgis else DuckDBDialect()
        cond, cond_values = ("TRUE", []) if q.condition is None else render(q.condition, dialect)
        if isinstance(dialect, DuckDBDialect) and dialect.paths:
            sql = (
                "WITH v AS MATERIALIZED (SELECT seq, feature, geom_wkb, min_x, min_y, max_x, "
                "max_y, json_extract(properties, {}) AS p FROM run_features WHERE "
                f"{' AND '.join(parts)}) SELECT {columns} FROM v WHERE {cond} {tail}"
            )
            return self._sql(sql), [dialect.paths, *values, *cond_values]
        sql = f"SELECT {columns} FROM run_features WHERE {' AND '.join(parts)} AND {cond} {tail}"
        return self._sql(sql), values + cond_values

    def _in_python(self, q: RunFeatureQuery) -> bool:
        """Whether DuckDB must test candidates exactly: a bbox or a spatial filter term."""
        return not self.postgis and (
            q.within is not None or (q.condition is not None and necessary(q.condition))
        )

    def page(self, q: RunFeatureQuery) -> list[tuple[int, dict]]:
        """(position, feature) of the selected features, in stored order."""
        if not self._in_python(q):
            tail = "ORDER BY seq"
            if q.limit is not None:
                tail += f" LIMIT {int(q.limit)}"
            if q.offset:
                tail += f" OFFSET {int(q.offset)}"
            rows = self._fetch(*self._select(q, "seq, feature", tail))
            return [(int(s), _loads(text)) for s, text in rows]
        skip, out = q.offset, []
        with contextlib.closing(self._refined(q)) as found:
            for seq, text in found:
                if skip:
                    skip -= 1
                    continue
                if q.limit is not None and len(out) >= q.limit:
                    break
                out.append((seq, _loads(text)))
        return out

    def count(self, q: RunFeatureQuery) -> int:
        """How many features ``q`` selects (ignoring offset and limit)."""
        q = replace(q, offset=0, limit=None)
        if self._in_python(q):
            return sum(1 for _ in self._refined(q))
        rows = self._fetch(*self._select(q, "count(*)"))
        return int(rows[0][0])

    def _refined(self, q: RunFeatureQuery) -> Iterator[tuple[int, str]]:
        """DuckDB: the rows SQL selected by bounds, tested exactly, in stored order."""
        sql, values = self._select(q, "seq, feature, geom_wkb", "ORDER BY seq")
        exact_test = q.condition is not None and necessary(q.condition)
        with self.store._service("reading run features") as cur:
            result = cur.execute(sql, values)
            while chunk := result.fetchmany(_CHUNK):
                keep = np.ones(len(chunk), bool)
                if q.within is not None:
                    geoms = shapely.from_wkb([r[2] for r in chunk])
                    keep = shapely.intersects(geoms, q.within) & ~shapely.is_missing(geoms)
                for ok, (seq, text, _) in zip(keep, chunk, strict=True):
                    if not ok:
                        continue
                    if exact_test and q.refine is not None and not q.refine(_loads(text)):
                        continue
                    yield int(seq), text

    def feature(self, run_id: str, view: str, fid: str) -> dict | None:
        """The first feature of the view with the id ``fid``, or None."""
        rows = self._fetch(
            "SELECT feature FROM run_features WHERE run_id = {} AND view_key = {} AND fid = {} "
            "ORDER BY seq LIMIT 1",
            [run_id, view, fid],
        )
        return _loads(rows[0][0]) if rows else None
