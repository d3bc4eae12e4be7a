"""The incident data model shared by readers, validation, stores and analysis.

An *incident* row has exactly the columns of :data:`INCIDENT_SCHEMA`; a
*quarantined* row those of :data:`QUARANTINE_SCHEMA`. Stores take and return
``pyarrow.Table`` objects with these schemas, so analysis code gets columns,
not row objects.

Times are wall-clock times in the UK (Europe/London), stored without a zone;
``occurred_precision`` says how much of the timestamp is real: ``month``
(police.uk: always the first of the month), ``day`` (time unknown) or
``minute``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Any

import pyarrow as pa

from . import vocab

PRECISIONS = ("month", "day", "minute")

INCIDENT_SCHEMA = pa.schema(
    [
        ("id", pa.string()),  # "<batch_id>#<source_row>", stable for a batch's content
        ("batch_id", pa.string()),
        ("source", pa.string()),
        ("source_ref", pa.string()),  # police.uk Crime ID, council case ref; null for ASB
        ("category", pa.string()),  # taxonomy slug
        ("category_raw", pa.string()),
        ("occurred_at", pa.timestamp("us")),
        ("occurred_precision", pa.string()),
        ("lon", pa.float64()),
        ("lat", pa.float64()),
        ("x", pa.float64()),  # metres, analysis CRS
        ("y", pa.float64()),
        ("location", pa.string()),
        ("lsoa_code", pa.string()),
        ("ward_code", pa.string()),
        ("sensitive", pa.bool_()),
        ("flags", pa.string()),  # comma-separated warnings, e.g. "outside-force-area"
        ("attributes", pa.string()),  # JSON object: outcome, context, lsoa_name, ...
        ("source_row", pa.int64()),  # line in the source file (header = line 1)
    ]
)

QUARANTINE_SCHEMA = pa.schema(
    [
        ("batch_id", pa.string()),
        ("source", pa.string()),
        ("file", pa.string()),
        ("row_number", pa.int64()),
        ("reason", pa.string()),
        ("field", pa.string()),
        ("detail", pa.string()),
        ("raw", pa.string()),
    ]
)

#: Rejection reasons, with the plain-language meaning shown in reports.
REASONS: dict[str, str] = {
    "no-coordinates": "no coordinates given",
    "invalid-coordinates": "coordinates are not numbers",
    "outside-uk": "coordinates fall outside the United Kingdom",
    "outside-study-area": "coordinates fall outside the configured study area",
    "invalid-date": "date cannot be read",
    "missing-date": "no date given",
    "duplicate-reference": "reference repeats an earlier row of the same batch",
    "missing-category": "no category given",
}


@dataclass
class BatchInfo:
    """One import unit: a source and a period (police.uk: force + month)."""

    batch_id: str
    source: str
    period: str
    content_hash: str
    files: list[str]
    rows_read: int
    rows_accepted: int
    rows_rejected: int
    imported_at: datetime | None = None
    crs: str = "EPSG:27700"

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["imported_at"] = self.imported_at.isoformat() if self.imported_at else None
        return out


@dataclass
class BatchReport:
    """What happened to one batch of an import."""

    batch_id: str
    source: str
    period: str
    files: list[str]
    status: str  # "created" | "replaced" | "unchanged" | "checked" (dry run)
    rows_read: int
    rows_accepted: int
    rows_rejected: int
    rejected_by_reason: dict[str, int] = field(default_factory=dict)
    examples: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    warnings: list[dict[str, Any]] = field(default_factory=list)
    categories: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ImportReport:
    """The report of one import command: one entry per batch, plus totals."""

    batches: list[BatchReport] = field(default_factory=list)

    @property
    def rows_read(self) -> int:
        return sum(b.rows_read for b in self.batches)

    @property
    def rows_accepted(self) -> int:
        return sum(b.rows_accepted for b in self.batches)

    @property
    def rows_rejected(self) -> int:
        return sum(b.rows_rejected for b in self.batches)

    def rejected_by_reason(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for b in self.batches:
            for reason, n in b.rejected_by_reason.items():
                out[reason] = out.get(reason, 0) + n
        return dict(sorted(out.items(), key=lambda kv: -kv[1]))

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows_read": self.rows_read,
            "rows_accepted": self.rows_accepted,
            "rows_rejected": self.rows_rejected,
            "rejected_by_reason": self.rejected_by_reason(),
            "batches": [b.to_dict() for b in self.batches],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, default=str)


# -- service records (web API) ------------------------------------------------
# Every datetime in these records is UTC without a zone (naive); stores convert
# an aware datetime to naive UTC on the way in.


@dataclass
class RunRecord:
    """A stored analysis run, so a map link made today shows today's answer later.

    ``result`` is the GeoJSON FeatureCollection; :meth:`Store.list_runs` leaves
    it empty (``{}``) for speed, :meth:`Store.get_run` fills it.
    """

    run_id: str
    method: str
    params: dict[str, Any]
    provenance: dict[str, Any]
    result: dict[str, Any]
    created_at: datetime


@dataclass
class ApiKeyRecord:
    """An API key as stored: its SHA-256 hash, never the key itself."""

    key_id: str
    name: str
    role: str  # "analyst" | "partner" | "public"
    key_hash: str
    created_at: datetime
    revoked_at: datetime | None = None

    def listing(self) -> dict:
        """What a listing shows of the key (``hotspots keys list``, ``GET /keys``): never
        the hash."""
        return {
            "key_id": self.key_id,
            "name": self.name,
            "role": self.role,
            "created_at": self.created_at.isoformat(),
            "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
        }


@dataclass
class ShareLinkRecord:
    """A share link: which run it shows, as which role, with which filters, until when."""

    link_id: str
    run_id: str
    role: str  # "analyst" | "partner" | "public"
    filters: dict[str, Any]
    created_by: str
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None = None


@dataclass
class JobRecord:
    """A background job (e.g. a large import) and its progress."""

    job_id: str
    kind: str
    status: str  # "queued" | "running" | "done" | "failed"
    progress: float  # 0 to 1
    message: str
    result: dict[str, Any] | None
    created_at: datetime
    updated_at: datetime


#: How an intervention's area was given: a drawn polygon, H3 cells, or a stored area.
INTERVENTION_AREA_TYPES = ("polygon", "cells", "ward", "lsoa")
#: Kinds of intervention an interventions log records (kept in the light ``geodata.vocab``
#: so the command line's help needs no data stack).
INTERVENTION_KINDS = vocab.INTERVENTION_KINDS


@dataclass
class InterventionRecord:
    """One logged intervention (a day of action, new CCTV, patrols, ...): where, when, what.

    ``geometry`` is the target area as a GeoJSON Polygon or MultiPolygon in
    WGS84 (lon, lat), whatever way it was given: ``area_type`` says how
    (``polygon`` drawn by hand; ``cells``, the H3 cells in ``area_codes``; or
    ``ward`` / ``lsoa``, the one stored area whose code is in ``area_codes``).
    ``start_date`` and ``end_date`` are both inclusive (a one-day day of action
    has them equal). ``created_at`` is naive UTC, like the other service records.
    """

    intervention_id: str
    title: str
    kind: str
    area_type: str
    area_codes: list[str]
    geometry: dict[str, Any]
    start_date: date
    end_date: date
    officer_hours: float | None
    notes: str
    created_at: datetime
    created_by: str

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["start_date"] = self.start_date.isoformat()
        out["end_date"] = self.end_date.isoformat()
        out["created_at"] = self.created_at.isoformat()
        return out
