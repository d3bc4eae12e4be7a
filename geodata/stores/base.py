"""The store contract: what every store (DuckDB file, PostGIS) must do.

A store keeps batches of incidents, their quarantined rows, boundaries and
population. Writes happen in one transaction per call: :meth:`Store.apply`
either stores every batch it is given or none (a crash or SIGKILL half-way
leaves the previous state). Reads return ``pyarrow.Table`` objects with the
columns of :data:`geodata.model.INCIDENT_SCHEMA`, ready for analysis
(:func:`to_geodataframe` turns one into a GeoDataFrame).

The same contract test suite (``tests/geodata/test_store_contract.py``) runs
against both stores.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import geopandas as gpd
import pandas as pd
import pyarrow as pa
import shapely
from shapely.geometry.base import BaseGeometry

from ..model import INCIDENT_SCHEMA, BatchInfo
from ..validate import ValidatedBatch

#: ``progress(rows_written, rows_total)`` — called while a write is under way.
Progress = Callable[[int, int], None]

INCIDENT_COLUMNS = tuple(INCIDENT_SCHEMA.names)
BOUNDARY_KINDS = ("ward", "lsoa", "msoa", "district", "custom")
WRITE_CHUNK_ROWS = 25_000


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

    if q.categories is not None:
        cats = list(q.categories)
        if not cats:
            where.append("FALSE")
        else:
            add("category IN (" + ", ".join("{}" for _ in cats) + ")", *cats)
    if q.start is not None:
        add("occurred_at >= {}", q.start)
    if q.end is not None:
        add("occurred_at < {}", q.end)
    if q.sources is not None:
        srcs = list(q.sources) or [""]
        add("source IN (" + ", ".join("{}" for _ in srcs) + ")", *srcs)
    if q.batch_ids is not None:
        ids = list(q.batch_ids) or [""]
        add("batch_id IN (" + ", ".join("{}" for _ in ids) + ")", *ids)
    if not q.include_sensitive:
        where.append("NOT sensitive")
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


class Store(ABC):
    """Abstract store; see the module docstring for the contract."""

    analysis_crs: str

    # -- schema --------------------------------------------------------------
    @abstractmethod
    def upgrade(self) -> list[str]:
        """Bring the schema up to date; return the names of the steps applied."""

    @abstractmethod
    def schema_status(self) -> dict[str, object]:
        """``{"current": bool, "applied": [...], "pending": [...]}``."""

    # -- batches -------------------------------------------------------------
    @abstractmethod
    def batch_hashes(self, batch_ids: Sequence[str]) -> dict[str, str]:
        """Content hash of each of these batches that is stored."""

    @abstractmethod
    def apply(self, batches: Iterable[ValidatedBatch], progress: Progress | None = None) -> None:
        """Store these batches in one transaction, replacing any stored batch of the same id."""

    @abstractmethod
    def list_batches(self) -> list[BatchInfo]:
        """Every stored batch, by source then period."""

    @abstractmethod
    def delete_batch(self, batch_id: str) -> bool:
        """Remove a batch with its incidents and quarantine; False if it was not there."""

    # -- reads ---------------------------------------------------------------
    @abstractmethod
    def query_incidents(self, query: IncidentQuery | None = None) -> pa.Table:
        """Incidents matching ``query`` as an Arrow table, in ``id`` order."""

    @abstractmethod
    def count_incidents(self, query: IncidentQuery | None = None) -> int:
        """How many incidents match ``query`` (ignoring limit/offset)."""

    @abstractmethod
    def read_quarantine(
        self,
        batch_id: str | None = None,
        reason: str | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> pa.Table:
        """Quarantined rows (``QUARANTINE_SCHEMA``), by batch, file and row."""

    # -- areas ---------------------------------------------------------------
    @abstractmethod
    def replace_boundaries(self, kind: str, areas: gpd.GeoDataFrame) -> int:
        """Replace all boundaries of ``kind`` with ``areas`` (code, name, geometry in the
        analysis CRS); return how many were stored."""

    @abstractmethod
    def boundaries(self, kind: str | None = None) -> gpd.GeoDataFrame:
        """Stored boundaries (kind, code, name, geometry) in the analysis CRS."""

    @abstractmethod
    def replace_population(self, kind: str, table: pd.DataFrame) -> int:
        """Replace population rows of ``kind`` (area_code, year, population)."""

    @abstractmethod
    def population(self, kind: str | None = None) -> pd.DataFrame:
        """Population rows: kind, area_code, year, population."""

    @abstractmethod
    def close(self) -> None:
        """Release the file or the connection pool."""

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- shared helpers --------------------------------------------------------
    def area_polygon(self, kind: str, code: str) -> BaseGeometry:
        """The stored polygon of one area; :class:`NotFound` if there is none."""
        from ..errors import NotFound

        areas = self.boundaries(kind)
        match = areas[areas["code"] == code]
        if match.empty:
            raise NotFound(f"no {kind} with code {code!r} is loaded; load boundaries first")
        return match.geometry.iloc[0]


def check_kind(kind: str) -> str:
    if kind not in BOUNDARY_KINDS:
        raise ValueError(f"boundary kind must be one of {BOUNDARY_KINDS}; got {kind!r}")
    return kind


def batch_from_row(row: dict) -> BatchInfo:
    files = row["files"]
    return BatchInfo(
        batch_id=row["batch_id"],
        source=row["source"],
        period=row["period"],
        content_hash=row["content_hash"],
        files=json.loads(files) if isinstance(files, str) else list(files),
        rows_read=int(row["rows_read"]),
        rows_accepted=int(row["rows_accepted"]),
        rows_rejected=int(row["rows_rejected"]),
        imported_at=row["imported_at"],
        crs=row["crs"],
    )


def to_geodataframe(table: pa.Table, crs: str) -> gpd.GeoDataFrame:
    """Incidents as a GeoDataFrame with point geometry from ``x``/``y`` (analysis CRS)."""
    frame = table.to_pandas()
    geometry = shapely.points(frame["x"].to_numpy(), frame["y"].to_numpy())
    return gpd.GeoDataFrame(frame, geometry=geometry, crs=crs)


def empty_incidents(columns: Sequence[str]) -> pa.Table:
    schema = pa.schema([INCIDENT_SCHEMA.field(c) for c in columns])
    return schema.empty_table()
