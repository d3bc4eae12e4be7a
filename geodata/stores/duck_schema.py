"""The embedded store's tables and the DDL of each schema version (:data:`SCHEMA_STEPS`),
applied in order by :meth:`~geodata.stores.duckdb_store.DuckDBStore.upgrade`."""

from __future__ import annotations

import pyarrow as pa

from ..model import INCIDENT_SCHEMA, QUARANTINE_SCHEMA
from .run_rows import DUCKDB_DDL
from .service_tables import duckdb_ddl

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

#: The DDL of each schema version, applied in order by :meth:`DuckDBStore.upgrade`; additive
#: only, so older files upgrade in place. v2: the web service's records and v3: the
#: interventions log (both declared once for both stores in service_tables); v4: run features
#: as rows, one per feature of each disclosure view (run_rows); v5: each run's request key.
SCHEMA_STEPS: dict[int, list[str]] = {
    1: _SCHEMA_V1,
    2: duckdb_ddl(2),
    3: duckdb_ddl(3),
    4: DUCKDB_DDL,
    5: [
        "CREATE TABLE run_keys (request_key VARCHAR PRIMARY KEY, run_id VARCHAR NOT NULL)",
        "INSERT INTO run_keys SELECT k, min(run_id) FROM (SELECT run_id, "
        "json_extract_string(params, '$.request_key') AS k FROM runs) WHERE k IS NOT NULL "
        "GROUP BY k",
    ],
}
