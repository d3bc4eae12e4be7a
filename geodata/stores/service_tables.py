"""The service tables (runs, API keys, share links and their opens, jobs, interventions),
declared once for both stores.

The embedded store creates them from this declaration (:func:`duckdb_ddl`, schema
versions 2 and 3); PostGIS has them from ``migrations/0002_service.sql`` and
``0003_interventions.sql``, which ``tests/geodata/test_service_tables.py`` holds to
this declaration (the same columns, kinds, nullability and checks on both stores).
PostGIS adds what only it has: a ``geom`` column on ``interventions`` (the outline in
the analysis CRS, GIST-indexed).
"""

from __future__ import annotations

from dataclasses import dataclass

ROLE_CHECK = "role IN ('analyst', 'partner', 'public')"


@dataclass(frozen=True)
class Column:
    """One column: ``kind`` is ``text``, ``json``, ``timestamp`` (naive UTC), ``date``,
    ``double``, ``bigint`` or ``seq`` (an increasing bigint made by the store)."""

    name: str
    kind: str
    null: bool = False
    check: str | None = None
    unique: bool = False


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[Column, ...]
    version: int  # the embedded store's schema version that adds it
    key: str | None = None  # primary key column
    indexes: tuple[tuple[str, str], ...] = ()  # (name, columns) of plain indexes

    @property
    def names(self) -> str:
        """The column list, as the service records write and read them."""
        return ", ".join(c.name for c in self.columns)


TABLES: tuple[Table, ...] = (
    Table(
        "runs",
        (
            Column("run_id", "text"),
            Column("method", "text"),
            Column("params", "json"),
            Column("provenance", "json"),
            Column("result", "json"),
            Column("created_at", "timestamp"),
        ),
        2,
        key="run_id",
    ),
    Table(
        "api_keys",
        (
            Column("key_id", "text"),
            Column("name", "text"),
            Column("role", "text", check=ROLE_CHECK),
            Column("key_hash", "text", unique=True),
            Column("created_at", "timestamp"),
            Column("revoked_at", "timestamp", null=True),
        ),
        2,
        key="key_id",
    ),
    Table(
        "share_links",
        (
            Column("link_id", "text"),
            Column("run_id", "text"),
            Column("role", "text", check=ROLE_CHECK),
            Column("filters", "json"),
            Column("created_by", "text"),
            Column("created_at", "timestamp"),
            Column("expires_at", "timestamp"),
            Column("revoked_at", "timestamp", null=True),
        ),
        2,
        key="link_id",
    ),
    Table(
        "share_opens",
        (
            Column("seq", "seq"),
            Column("link_id", "text"),
            Column("opened_at", "timestamp"),
            Column("client", "text", null=True),
        ),
        2,
        indexes=(("share_opens_link", "link_id"),),
    ),
    Table(
        "jobs",
        (
            Column("job_id", "text"),
            Column("kind", "text"),
            Column("status", "text", check="status IN ('queued', 'running', 'done', 'failed')"),
            Column("progress", "double", check="progress >= 0 AND progress <= 1"),
            Column("message", "text"),
            Column("result", "json", null=True),
            Column("created_at", "timestamp"),
            Column("updated_at", "timestamp"),
        ),
        2,
        key="job_id",
    ),
    Table(
        "interventions",
        (
            Column("intervention_id", "text"),
            Column("title", "text"),
            Column("kind", "text"),
            Column("area_type", "text", check="area_type IN ('polygon', 'cells', 'ward', 'lsoa')"),
            Column("area_codes", "json"),
            Column("geometry", "json"),
            Column("start_date", "date"),
            Column("end_date", "date", check="end_date >= start_date"),
            Column("officer_hours", "double", null=True, check="officer_hours >= 0"),
            Column("notes", "text"),
            Column("created_at", "timestamp"),
            Column("created_by", "text"),
        ),
        3,
        key="intervention_id",
    ),
)
BY_NAME = {t.name: t for t in TABLES}

#: each kind's type in the embedded store (JSON is kept as text) and in PostGIS
DUCKDB_TYPES = {
    "text": "VARCHAR",
    "json": "VARCHAR",
    "timestamp": "TIMESTAMP",
    "date": "DATE",
    "double": "DOUBLE",
    "bigint": "BIGINT",
    "seq": "BIGINT",
}
POSTGIS_TYPES = {
    "text": "text",
    "json": "jsonb",
    "timestamp": "timestamp without time zone",
    "date": "date",
    "double": "double precision",
    "bigint": "bigint",
    "seq": "bigint",
}


def _duckdb_column(table: Table, c: Column) -> str:
    parts = [c.name, DUCKDB_TYPES[c.kind]]
    if c.name == table.key:
        parts.append("PRIMARY KEY")
    elif not c.null:
        parts.append("NOT NULL")
    if c.kind == "seq":
        parts.append(f"DEFAULT nextval('{table.name}_seq')")
    if c.unique:
        parts.append("UNIQUE")
    if c.check:
        parts.append(f"CHECK ({c.check})")
    return " ".join(parts)


def duckdb_ddl(version: int) -> list[str]:
    """The embedded store's statements creating the service tables of ``version``."""
    out: list[str] = []
    for t in (t for t in TABLES if t.version == version):
        if any(c.kind == "seq" for c in t.columns):
            out.append(f"CREATE SEQUENCE IF NOT EXISTS {t.name}_seq")
        cols = ", ".join(_duckdb_column(t, c) for c in t.columns)
        out.append(f"CREATE TABLE IF NOT EXISTS {t.name} ({cols})")
        out += [f"CREATE INDEX IF NOT EXISTS {n} ON {t.name} ({cols})" for n, cols in t.indexes]
    return out
