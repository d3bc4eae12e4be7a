"""Fixtures for the data-layer tests: a fresh store of each kind, and police.uk CSV writers.

``store`` runs a test once against a DuckDB file and once against a fresh,
empty PostGIS database (created from the server in ``HOTSPOTS_TEST_DATABASE_URL``
and dropped afterwards). ``store_factory`` makes further stores, or just their
locations (a file path or a connection string) for a subprocess to open.
"""

from __future__ import annotations

import contextlib
import csv
import io
import uuid
from collections.abc import Iterable, Sequence
from pathlib import Path

import pytest

from geodata.readers.police import POLICE_COLUMNS
from geodata.stores.base import Store
from geodata.stores.duckdb_store import DuckDBStore

STORE_KINDS = ("duckdb", "postgis")

#: police.uk "Crime type" labels and the slugs police.uk's own API uses for them.
POLICE_TYPES: dict[str, str] = {
    "Anti-social behaviour": "anti-social-behaviour",
    "Bicycle theft": "bicycle-theft",
    "Burglary": "burglary",
    "Criminal damage and arson": "criminal-damage-arson",
    "Drugs": "drugs",
    "Other theft": "other-theft",
    "Possession of weapons": "possession-of-weapons",
    "Public order": "public-order",
    "Robbery": "robbery",
    "Shoplifting": "shoplifting",
    "Theft from the person": "theft-from-the-person",
    "Vehicle crime": "vehicle-crime",
    "Violence and sexual offences": "violent-crime",
    "Other crime": "other-crime",
}


def police_row(
    crime_id: str = "",
    month: str = "2022-01",
    lon: str | float = "0.370000",
    lat: str | float = "51.441500",
    crime_type: str = "Burglary",
    *,
    force: str = "Kent Police",
    location: str = "On or near Parking Area",
    lsoa_code: str = "E01024290",
    lsoa_name: str = "Gravesham 010C",
    outcome: str = "Under investigation",
    context: str = "",
) -> list[str]:
    """One police.uk street-level row, as the 12 text cells of :data:`POLICE_COLUMNS`."""
    return [
        crime_id,
        month,
        force,
        force,
        lon if isinstance(lon, str) else f"{lon:.6f}",
        lat if isinstance(lat, str) else f"{lat:.6f}",
        location,
        lsoa_code,
        lsoa_name,
        crime_type,
        "" if crime_type == "Anti-social behaviour" else outcome,
        context,
    ]


def police_lines(
    rows: Iterable[Sequence[str]], header: Sequence[str] = POLICE_COLUMNS
) -> list[str]:
    """The CSV text of a header and rows, one string per line (no line ending)."""
    out = []
    for cells in [header, *rows]:
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerow(cells)
        out.append(buf.getvalue()[:-1])
    return out


def write_police_csv(
    path: Path,
    rows: Iterable[Sequence[str]],
    *,
    encoding: str = "utf-8",
    header: Sequence[str] = POLICE_COLUMNS,
) -> Path:
    """Write a police.uk street-level CSV (header line 1, rows from line 2)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "\n".join(police_lines(rows, header)) + "\n"
    path.write_bytes(text.encode(encoding))
    return path


def admin_conninfo(url: str, dbname: str) -> str:
    import psycopg

    return psycopg.conninfo.make_conninfo(url, dbname=dbname)


class StoreFactory:
    """Fresh, empty stores (and their locations), cleaned up after the test."""

    def __init__(self, request: pytest.FixtureRequest, tmp_path: Path) -> None:
        self.request = request
        self.tmp_path = tmp_path
        self.opened: list[Store] = []
        self.databases: list[str] = []
        self._admin_url: str | None = None

    @property
    def admin_url(self) -> str:
        if self._admin_url is None:
            # Skips the test when HOTSPOTS_TEST_DATABASE_URL is unset.
            self._admin_url = self.request.getfixturevalue("postgis_url")
        return self._admin_url

    def location(self, kind: str) -> str:
        """A new, empty store location: a DuckDB file path or a PostGIS connection string."""
        if kind.startswith("duckdb"):
            return str(self.tmp_path / f"store-{uuid.uuid4().hex[:8]}.duckdb")
        if kind == "postgis":
            import psycopg
            from psycopg import sql

            name = f"hotspots_t_{uuid.uuid4().hex[:12]}"
            with psycopg.connect(self.admin_url, autocommit=True, connect_timeout=10) as conn:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            self.databases.append(name)
            return admin_conninfo(self.admin_url, name)
        raise ValueError(f"unknown store kind {kind!r}")

    def open(self, kind: str, location: str) -> Store:
        """Open (and remember, to close it later) the store at ``location``."""
        if kind == "duckdb":
            store: Store = DuckDBStore(location)
        elif kind == "duckdb-memory":  # as the server opens it: reads answered from memory
            store = DuckDBStore(location, memory_rows=1_000_000)
        else:
            from geodata.stores.postgis import PostGISStore

            store = PostGISStore(location, max_size=2)
        self.opened.append(store)
        return store

    def new(self, kind: str) -> Store:
        return self.open(kind, self.location(kind))

    def close(self, store: Store) -> None:
        if store in self.opened:
            self.opened.remove(store)
        store.close()

    def cleanup(self) -> None:
        for store in reversed(self.opened):
            with contextlib.suppress(Exception):  # a store a test already closed
                store.close()
        self.opened.clear()
        if self.databases:
            import psycopg
            from psycopg import sql

            with psycopg.connect(self.admin_url, autocommit=True, connect_timeout=10) as conn:
                for name in self.databases:
                    conn.execute(
                        sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                            sql.Identifier(name)
                        )
                    )
            self.databases.clear()


class PoliceCSV:
    """The police.uk CSV helpers, handed to tests by the ``police_csv`` fixture."""

    columns = POLICE_COLUMNS
    types = POLICE_TYPES
    row = staticmethod(police_row)
    lines = staticmethod(police_lines)
    write = staticmethod(write_police_csv)


@pytest.fixture(scope="session")
def police_csv() -> PoliceCSV:
    return PoliceCSV()


@pytest.fixture
def store_factory(request: pytest.FixtureRequest, tmp_path: Path):
    factory = StoreFactory(request, tmp_path)
    yield factory
    factory.cleanup()


@pytest.fixture(params=["duckdb", pytest.param("postgis", marks=pytest.mark.postgis)])
def store_kind(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def store(store_kind: str, store_factory: StoreFactory) -> Store:
    """A fresh, empty store: a DuckDB file, or a new PostGIS database."""
    if store_kind.startswith("duckdb"):
        return store_factory.open(store_kind, str(store_factory.tmp_path / "s.duckdb"))
    return store_factory.new(store_kind)
