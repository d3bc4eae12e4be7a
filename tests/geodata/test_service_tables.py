"""One schema source for the service tables (issue 11, item 5): the embedded store builds
them from :mod:`geodata.stores.service_tables`, and PostGIS's migrations must give the
same columns, kinds, nullability and checks. Both are read back from the database.
"""

from __future__ import annotations

from datetime import datetime

import pytest

from geodata.errors import StoreError
from geodata.model import ApiKeyRecord
from geodata.stores import Store
from geodata.stores.service_tables import DUCKDB_TYPES, POSTGIS_TYPES, TABLES

#: what PostGIS alone keeps: the intervention's outline in the analysis CRS
POSTGIS_ONLY = {("interventions", "geom")}


def _columns(store: Store, kind: str, table: str) -> list[tuple[str, str, bool]]:
    query = (
        "SELECT column_name, data_type, is_nullable FROM information_schema.columns "
        "WHERE table_name = {} ORDER BY ordinal_position"
    )
    with store._service("reading the schema") as cur:
        ph = "?" if kind == "duckdb" else "%s"
        rows = cur.execute(query.replace("{}", ph), [table]).fetchall()
    return [(str(n), str(t), v == "YES") for n, t, v in rows if (table, n) not in POSTGIS_ONLY]


@pytest.mark.parametrize("table", TABLES, ids=lambda t: t.name)
def test_each_service_table_is_as_declared(store: Store, store_kind: str, table) -> None:
    types = DUCKDB_TYPES if store_kind == "duckdb" else POSTGIS_TYPES
    want = [(c.name, types[c.kind], c.null) for c in table.columns]
    got = _columns(store, store_kind, table.name)
    if store_kind == "duckdb":  # DuckDB may name its types in either case
        got = [(n, t.upper(), v) for n, t, v in got]
        want = [(n, t.upper(), v) for n, t, v in want]
    assert got == want


def _check_clauses(store: Store, kind: str) -> str:
    if kind == "duckdb":
        sql = "SELECT expression FROM duckdb_constraints() WHERE constraint_type = 'CHECK'"
    else:
        sql = "SELECT check_clause FROM information_schema.check_constraints"
    with store._service("reading the checks") as cur:
        return " ".join(str(r[0]) for r in cur.execute(sql).fetchall()).lower()


def test_the_declared_checks_hold_on_both_stores(store: Store, store_kind: str) -> None:
    clauses = _check_clauses(store, store_kind)
    for table in TABLES:
        for c in table.columns:
            if c.check:  # each checked column appears in a CHECK of the database
                assert c.name in clauses, (table.name, c.name)
    # and the database itself refuses a role outside the declared ones
    with pytest.raises(StoreError), store._service("adding a bad key") as cur:
        ph = "?" if store_kind == "duckdb" else "%s"
        cur.execute(
            f"INSERT INTO api_keys VALUES ({', '.join([ph] * 6)})",
            ["k1", "n", "superuser", "h1", datetime(2024, 1, 1), None],
        )
    assert store.list_api_keys() == []
    store.add_api_key(ApiKeyRecord("k2", "n", "partner", "h2", datetime(2024, 1, 1)))
    assert [k.key_id for k in store.list_api_keys()] == ["k2"]
