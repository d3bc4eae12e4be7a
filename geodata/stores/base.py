"""The store contract: what every store (DuckDB file, PostGIS) must do.

A store keeps batches of incidents, their quarantined rows, boundaries and
population. Writes happen in one transaction per call: :meth:`Store.apply`
either stores every batch it is given or none (a crash or SIGKILL half-way
leaves the previous state). Reads return ``pyarrow.Table`` objects with the
columns of :data:`geodata.model.INCIDENT_SCHEMA`, ready for analysis
(:func:`to_geodataframe` turns one into a GeoDataFrame). One contract test suite
(``tests/geodata/test_store_contract.py``) runs against both stores.

Stores also keep the web service's records: analysis runs, API keys (hashed),
share links with their opens, background jobs
(``tests/geodata/test_store_service.py``) and the interventions log
(``tests/geodata/test_store_interventions.py``). Their datetimes are UTC without a
zone: an aware datetime is converted to naive UTC on the way in
(:func:`utc_naive`), and reads return naive UTC, to the microsecond. Their
JSON must be strict JSON (no NaN or Infinity; :func:`dump_json`); PostGIS's
``jsonb`` keeps values, not key order, and returns floats ``>= 1e16`` as ints.
"""

from __future__ import annotations

import json
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import shapely

from ..errors import UnstorableValue
from ..model import (
    INCIDENT_SCHEMA,
    ApiKeyRecord,
    BatchInfo,
    InterventionRecord,
    JobRecord,
    RunRecord,
    ShareLinkRecord,
)
from .query import INCIDENT_COLUMNS, IncidentQuery, attribute_filters  # noqa: F401 (re-exported)

if TYPE_CHECKING:  # pandas and geopandas load only when a frame is asked for
    import geopandas as gpd
    import pandas as pd
    from shapely.geometry.base import BaseGeometry

    from ..validate import ValidatedBatch

#: ``progress(rows_written, rows_total)`` — called while a write is under way.
Progress = Callable[[int, int], None]

BOUNDARY_KINDS = ("ward", "lsoa", "msoa", "district", "custom")
WRITE_CHUNK_ROWS = 25_000
#: Roles an API key or a share link can carry (most to least trusted).
ROLES = ("analyst", "partner", "public")
JOB_STATUSES = ("queued", "running", "done", "failed")


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

    def incident_writes(self) -> int | None:
        """A number that changes as each write of incidents through this process begins
        and ends (imports, batch deletes, upgrades: :mod:`.write_mark`); None while one
        runs, or when the store does not count them. What was read of the incidents may
        be used again only while it is the same (writes by other processes are not seen:
        a DuckDB file has none while the service holds it, PostGIS may)."""
        mark = getattr(self, "_write_mark", None)
        return None if mark is None else mark.value()

    # -- reads ---------------------------------------------------------------
    def incident_tile(self, bounds_3857, layer: str, extent: int, buffer: int, sensitive: bool):
        """An MVT of the incidents in a Web Mercator tile, from the database (None: not here)."""
        return None

    @abstractmethod
    def query_incidents(self, query: IncidentQuery | None = None) -> pa.Table:
        """Incidents matching ``query`` as an Arrow table, in ``id`` order."""

    @abstractmethod
    def incident_spans(self, include_sensitive: bool = True) -> pa.Table:
        """Per ``batch_id``, ``source`` and ``category``: ``first`` and ``last``
        ``occurred_at``, the count ``n`` and the ``west``/``south``/``east``/``north``
        bounds of ``lon``/``lat`` (the incidents not flagged sensitive only when
        ``include_sensitive`` is false); what :mod:`geodata.coverage` and the extents of
        the OGC incidents collection stand on."""

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

    # -- analysis runs -------------------------------------------------------
    @abstractmethod
    def save_run(self, record: RunRecord) -> bool:
        """Store a run; True if stored, False if ``run_id`` was already stored.

        An existing run is kept unchanged (identical requests reuse it).
        ``ValueError`` if a JSON field holds something strict JSON cannot
        (NaN, Infinity, a non-JSON type).
        """

    @abstractmethod
    def get_run(self, run_id: str) -> RunRecord | None:
        """One run with its whole ``result``; ``None`` if there is no such run."""

    @abstractmethod
    def run_for_request(self, request_key: str) -> RunRecord | None:
        """The run stored for ``params["request_key"]`` (an indexed lookup), or ``None``."""

    @abstractmethod
    def list_runs(self, method: str | None = None, limit: int = 100) -> list[RunRecord]:
        """Runs (of ``method`` if given), newest first (ties by ``run_id``, descending).

        For speed the listing leaves out the result payload: ``result`` is
        ``{}`` in every record; :meth:`get_run` has it. ``params``,
        ``provenance`` and ``created_at`` are filled.
        """

    @abstractmethod
    def latest_run(self, method: str) -> RunRecord | None:
        """The newest run of ``method``, with its whole ``result``; ``None`` if none."""

    @abstractmethod
    def delete_run(self, run_id: str) -> bool:
        """Remove a run; False if it was not there. Share links to it are kept."""

    # -- API keys --------------------------------------------------------------
    @abstractmethod
    def add_api_key(self, record: ApiKeyRecord) -> None:
        """Store a key (its hash); ``ValueError`` for an unknown role,
        :class:`StoreError` if its id or hash is already stored."""

    @abstractmethod
    def api_key_by_hash(self, key_hash: str) -> ApiKeyRecord | None:
        """The key with this hash, revoked or not (the caller checks ``revoked_at``)."""

    def remembered_api_key(self, key_hash: str) -> ApiKeyRecord | None:
        """The key with this hash if this process remembers it, without reading the store
        (so an event loop may call it); None means: ask :meth:`api_key_by_hash`."""
        return None

    @abstractmethod
    def list_api_keys(self) -> list[ApiKeyRecord]:
        """Every key, revoked ones too, oldest first (ties by ``key_id``)."""

    @abstractmethod
    def revoke_api_key(self, key_id: str, when: datetime) -> bool:
        """Mark a key revoked at ``when``; False if it is unknown or already revoked."""

    # -- share links -----------------------------------------------------------
    @abstractmethod
    def add_share_link(self, record: ShareLinkRecord) -> None:
        """Store a share link; ``ValueError`` for an unknown role,
        :class:`StoreError` if its id is already stored. The run is not checked."""

    @abstractmethod
    def get_share_link(self, link_id: str) -> ShareLinkRecord | None:
        """One link, revoked or expired ones too; ``None`` if unknown."""

    @abstractmethod
    def list_share_links(self) -> list[ShareLinkRecord]:
        """Every link, newest first (ties by ``link_id``, descending)."""

    @abstractmethod
    def revoke_share_link(self, link_id: str, when: datetime) -> bool:
        """Mark a link revoked at ``when``; False if it is unknown or already revoked."""

    @abstractmethod
    def log_share_open(self, link_id: str, opened_at: datetime, client: str | None) -> None:
        """Record that a link was opened (``client``: e.g. the caller's address).

        :class:`~geodata.errors.NotFound` if the link is unknown.
        """

    @abstractmethod
    def share_link_opens(self, link_id: str) -> list[tuple[datetime, str | None]]:
        """``(opened_at, client)`` of every open of a link, oldest first (then in the
        order they were logged); ``[]`` for an unknown link."""

    # -- jobs --------------------------------------------------------------------
    @abstractmethod
    def add_job(self, record: JobRecord) -> None:
        """Store a new job; ``ValueError`` for an unknown status or a progress outside
        0–1, :class:`StoreError` if its id is already stored."""

    @abstractmethod
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
        """Change the fields given (``None`` leaves a field as it is) and set
        ``updated_at`` to ``when``; False if the job is unknown.

        Runs in a transaction of its own, so it can be called from an
        import's progress callback while :meth:`apply` is writing.
        """

    @abstractmethod
    def get_job(self, job_id: str) -> JobRecord | None:
        """One job; ``None`` if unknown."""

    # -- interventions -----------------------------------------------------------
    @abstractmethod
    def add_intervention(self, record: InterventionRecord) -> InterventionRecord:
        """Store a logged intervention and return it as stored (checked and normalised by
        :func:`geodata.interventions.check_intervention`).

        :class:`~geodata.interventions.InvalidIntervention` (a ``ValueError``) naming the
        field for a bad record; :class:`StoreError` if its id is already stored.
        """

    @abstractmethod
    def get_intervention(self, intervention_id: str) -> InterventionRecord | None:
        """One intervention; ``None`` if unknown."""

    @abstractmethod
    def list_interventions(self) -> list[InterventionRecord]:
        """Every intervention, latest start first (ties by ``intervention_id``, descending)."""

    @abstractmethod
    def delete_intervention(self, intervention_id: str) -> bool:
        """Remove an intervention; False if it was not there."""

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


def check_role(role: str) -> str:
    """``role`` if it is one of :data:`ROLES`, else ``ValueError`` naming it."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {ROLES}; got {role!r}")
    return role


def check_job_status(status: str) -> str:
    """``status`` if it is one of :data:`JOB_STATUSES`, else ``ValueError`` naming it."""
    if status not in JOB_STATUSES:
        raise ValueError(f"job status must be one of {JOB_STATUSES}; got {status!r}")
    return status


def check_progress(progress: float) -> float:
    """``progress`` as a float if it is within 0–1, else ``ValueError`` naming it."""
    try:
        value = float(progress)
    except (TypeError, ValueError):
        value = float("nan")
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"job progress must be between 0 and 1; got {progress!r}")
    return value


def job_changes(
    *,
    status: str | None,
    progress: float | None,
    message: str | None,
    result: dict | None,
    when: datetime,
    encode_result: Callable[[dict, str], object],
) -> dict[str, object]:
    """The checked column values of :meth:`Store.update_job` (fields given only), with
    ``updated_at``; ``encode_result`` turns the result into the store's JSON value."""
    changes: dict[str, object] = {"updated_at": utc_naive(when, "when")}
    if status is not None:
        changes["status"] = check_job_status(status)
    if progress is not None:
        changes["progress"] = check_progress(progress)
    if message is not None:
        changes["message"] = message
    if result is not None:
        changes["result"] = encode_result(result, "job result")
    return changes


def utc_naive(when: datetime | None, what: str = "time") -> datetime | None:
    """A datetime as naive UTC (how the service tables keep time); ``None`` stays ``None``.

    An aware datetime is converted to UTC; a naive one is taken to be UTC already.
    """
    if when is None:
        return None
    if not isinstance(when, datetime):
        raise ValueError(f"{what} must be a datetime; got {type(when).__name__}")
    if when.tzinfo is not None:
        return when.astimezone(UTC).replace(tzinfo=None)
    return when


# "\u0000" that is an escape, not an escaped backslash followed by "u0000"
_JSON_NUL = re.compile(r"(?<!\\)(?:\\\\)*\\u0000")


def dump_json(value: Any, what: str) -> str:
    """Strict JSON text of ``value`` (what both stores keep); :class:`UnstorableValue`
    (a ``ValueError``) naming ``what`` for NaN, Infinity, a value JSON cannot hold, or a
    NUL (which ``jsonb`` refuses)."""
    try:
        text = json.dumps(value, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        problem = str(exc)
        if "float" in problem:  # allow_nan=False
            problem = "it holds NaN or Infinity (use null)"
        raise UnstorableValue(f"{what} cannot be stored as JSON: {problem}") from exc
    if "\\u0000" in text and _JSON_NUL.search(text):
        raise UnstorableValue(f"{what} cannot be stored as JSON: a string holds a NUL character")
    return text


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
    import geopandas as gpd

    geometry = shapely.points(frame["x"].to_numpy(), frame["y"].to_numpy())
    return gpd.GeoDataFrame(frame, geometry=geometry, crs=crs)


def empty_incidents(columns: Sequence[str]) -> pa.Table:
    schema = pa.schema([INCIDENT_SCHEMA.field(c) for c in columns])
    return schema.empty_table()
