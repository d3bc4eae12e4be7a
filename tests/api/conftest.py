"""The web API on the Gravesham demo, once per store (DuckDB file and PostGIS database).

``api_env`` gives each test module its own copy of a demo store, an app built on it and
a ``TestClient``. The demo is loaded only once per store and session (a *template*);
each module gets a copy of it (a file copy for DuckDB, ``CREATE DATABASE … TEMPLATE``
for PostGIS), so a module may add runs, links or batches without touching another's.

The template holds:

- the Gravesham demo (boundaries, population, police.uk 2022) with ``bicycle-theft``
  configured as sensitive besides ``domestic-abuse`` and ``sexual-offences``, so
  partners see fewer police.uk points than analysts;
- a small synthetic council file of ``domestic-abuse`` and ``sexual-offences`` cases
  (the taxonomy's sensitive categories; police.uk has none), at known places in 2022;
- API keys for ``public``, ``partner`` and ``analyst`` and one revoked analyst key;
- three runs: dbscan (made through ``POST /analyses``), gistar and dbscan defaults.
"""

from __future__ import annotations

import contextlib
import csv
import shutil
import uuid
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import pyarrow as pa
import pytest
from starlette.exceptions import StarletteDeprecationWarning

from api.app import create_app
from api.security import new_api_key, now_utc
from api.settings import ApiSettings, Settings
from api.usecases.analyse import run_or_reuse
from geodata.demo import STUDY_AREA_BUFFER_M, demo_dir, load_demo
from geodata.ingest import context_for, import_records
from geodata.model import ApiKeyRecord
from geodata.readers.council import read_council
from geodata.settings import IngestSettings, StoreSettings
from geodata.stores import DuckDBStore, Store
from hotspots.analysis import AnalysisParams

with warnings.catch_warnings():  # starlette prefers httpx2; httpx is what is installed
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

SECRET = "test-secret-" + "k" * 40
#: police.uk category treated as sensitive in the demo, so partners see fewer points
SENSITIVE_POLICE = "bicycle-theft"
SENSITIVE = frozenset({SENSITIVE_POLICE, "domestic-abuse", "sexual-offences"})
#: synthetic safeguarding cases: (type as written, lat, lon, date, time)
SAFEGUARDING_ROWS = [
    (kind, 51.4405 + 0.0004 * (i % 3), 0.3700 + 0.0005 * (i % 4), f"{10 + i:02d}/0{m}/2022", t)
    for i, (kind, m, t) in enumerate(
        [
            ("Domestic violence", 3, "21:15"),
            ("Domestic abuse", 6, "02:40"),
            ("Domestic abuse", 7, "18:05"),
            ("Domestic violence", 8, "23:30"),
            ("Domestic abuse", 9, "11:00"),
            ("Sexual offence", 3, "00:45"),
            ("Sexual offences", 6, "22:10"),
            ("Sexual offence", 7, "01:20"),
            ("Sexual offences", 8, "19:55"),
            ("Domestic abuse", 9, "07:35"),
        ]
    )
]
NOISE_HEADER = [
    "Reference",
    "Date Received",
    "Time Received",
    "Complaint Type",
    "Premises Type",
    "Latitude",
    "Longitude",
    "Street",
    "Ward",
]
STORE_KINDS = ["duckdb", pytest.param("postgis", marks=pytest.mark.postgis)]


def write_council_csv(path: Path, rows, prefix: str = "SG-2022-") -> Path:
    """A council CSV in the shipped ``noise`` profile's layout (lat/lon, day-first dates)."""
    with path.open("w", newline="", encoding="utf-8") as out:
        w = csv.writer(out)
        w.writerow(NOISE_HEADER)
        for i, (kind, lat, lon, day, time) in enumerate(rows):
            w.writerow([f"{prefix}{i:04d}", day, time, kind, "Residential", lat, lon, "", ""])
    return path


def load_demo_with_sensitive(store: Store, folder: Path) -> None:
    """The demo (:func:`geodata.demo.load_demo`, with ``SENSITIVE``) plus safeguarding cases;
    see the module."""
    load_demo(store, sensitive_categories=SENSITIVE)
    council = write_council_csv(folder / "safeguarding.csv", SAFEGUARDING_ROWS)
    report = import_records(
        store,
        [read_council(council, "noise", source="council/safeguarding", period="2022")],
        context_for(store, ingest_settings()),
    )
    assert report.rows_accepted == len(SAFEGUARDING_ROWS), report.to_dict()


def ingest_settings() -> IngestSettings:
    return IngestSettings(
        study_area=demo_dir() / "gravesham-district.geojsonl",
        study_area_buffer_m=STUDY_AREA_BUFFER_M,
        sensitive_categories=SENSITIVE,
    )


def add_key(store: Store, role: str, name: str | None = None) -> tuple[str, str]:
    """(key id, key) of a new API key."""
    key_id, key, key_hash = new_api_key()
    store.add_api_key(ApiKeyRecord(key_id, name or f"test {role}", role, key_hash, now_utc()))
    return key_id, key


def make_app(store: Store, kind: str = "duckdb", **api):
    """An app on an open store (kept open at shutdown), with test settings."""
    settings = Settings(
        ApiSettings(secret_key=SECRET, **api),
        StoreSettings(duckdb_path=Path("unused.duckdb")) if kind == "duckdb" else StoreSettings(),
    )
    return create_app(settings, store=store)


#: the server's store on a DuckDB file answers reads from memory (geodata.stores.point_cache)
SERVED_ROWS = StoreSettings.model_fields["point_cache_rows"].default


def open_kind(kind: str, location: str) -> Store:
    """The store of ``kind`` at ``location``, opened as the server opens it."""
    if kind == "duckdb":
        return DuckDBStore(location, memory_rows=SERVED_ROWS)
    from geodata.stores.postgis import PostGISStore

    return PostGISStore(location, max_size=4)


def _pg(admin_url: str, statement, *args) -> None:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True, connect_timeout=10) as conn:
        conn.execute(statement, *args)


def _pg_conninfo(admin_url: str, dbname: str) -> str:
    import psycopg

    return psycopg.conninfo.make_conninfo(admin_url, dbname=dbname)


@dataclass
class Template:
    kind: str
    location: str  # DuckDB file, or PostGIS database name
    admin_url: str | None
    headers: dict[str, dict[str, str]]  # role → headers
    run_ids: list[str] = field(default_factory=list)


@pytest.fixture(scope="session", params=STORE_KINDS)
def api_store_kind(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(scope="session")
def api_template(api_store_kind: str, request, tmp_path_factory) -> Template:
    """The demo loaded once per store kind and session, then closed (to be copied)."""
    folder = tmp_path_factory.mktemp(f"api-{api_store_kind}")
    admin_url = None
    if api_store_kind == "duckdb":
        location = str(folder / "template.duckdb")
        store: Store = DuckDBStore(location)
    else:
        from psycopg import sql

        admin_url = request.getfixturevalue("postgis_url")
        location = f"hotspots_api_tmpl_{uuid.uuid4().hex[:10]}"
        _pg(admin_url, sql.SQL("CREATE DATABASE {}").format(sql.Identifier(location)))
        request.addfinalizer(
            lambda: _pg(
                admin_url,
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(location)),
            )
        )
        store = open_kind("postgis", _pg_conninfo(admin_url, location))
    try:
        load_demo_with_sensitive(store, folder)
        headers: dict[str, dict[str, str]] = {"anonymous": {}}
        for role in ("public", "partner", "analyst"):
            headers[role] = {"X-API-Key": add_key(store, role)[1]}
        revoked_id, revoked = add_key(store, "analyst", "revoked analyst")
        assert store.revoke_api_key(revoked_id, now_utc())
        headers["revoked"] = {"X-API-Key": revoked}
        headers["garbage"] = {"X-API-Key": "hsk_not-a-real-key"}
        with TestClient(make_app(store, api_store_kind)) as client:
            made = client.post(
                "/analyses",
                json={"method": "dbscan", "min_samples": 40},
                headers=headers["analyst"],
            )
            assert made.status_code == 201, made.text
        run_ids = [made.json()["run_id"]]
        for method in ("gistar", "dbscan"):
            run, _ = run_or_reuse(store, {"method": method}, AnalysisParams(method=method))
            run_ids.append(run.run_id)
    finally:
        store.close()
    return Template(api_store_kind, location, admin_url, headers, run_ids)


@dataclass
class ApiEnv:
    """One module's copy of the demo: its store, app, client and keys."""

    kind: str
    store: Store
    client: TestClient
    headers: dict[str, dict[str, str]]
    run_ids: list[str]
    location: str  # DuckDB file path or PostGIS connection string
    _table: pa.Table | None = None

    @property
    def table(self) -> pa.Table:
        """Every stored incident (all columns), read once."""
        if self._table is None:
            self._table = self.store.query_incidents()
        return self._table

    def refresh(self) -> None:
        self._table = None

    def request(self, method: str, url: str, role: str = "analyst", **kw):
        headers = {**self.headers[role], **kw.pop("headers", {})}
        return self.client.request(method, url, headers=headers, **kw)

    def get(self, url: str, role: str = "analyst", **kw):
        return self.request("GET", url, role, **kw)

    def post(self, url: str, role: str = "analyst", **kw):
        return self.request("POST", url, role, **kw)


@contextlib.contextmanager
def copy_of(template: Template, folder: Path):
    """A fresh copy of the template store: (location, open store); dropped afterwards."""
    if template.kind == "duckdb":
        location = str(folder / "api.duckdb")
        shutil.copyfile(template.location, location)
        store = open_kind("duckdb", location)
        try:
            yield location, store
        finally:
            store.close()
        return
    from psycopg import sql

    name = f"hotspots_api_{uuid.uuid4().hex[:10]}"
    _pg(
        template.admin_url,
        sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
            sql.Identifier(name), sql.Identifier(template.location)
        ),
    )
    location = _pg_conninfo(template.admin_url, name)
    store = open_kind("postgis", location)
    try:
        yield location, store
    finally:
        with contextlib.suppress(Exception):
            store.close()
        _pg(
            template.admin_url,
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)),
        )


def api_env_for(template: Template, folder: Path, **api):
    """Context manager: an :class:`ApiEnv` on a fresh copy of the template."""

    @contextlib.contextmanager
    def manager():
        with copy_of(template, folder) as (location, store):
            app = make_app(store, template.kind, **api)
            with TestClient(app) as client:
                yield ApiEnv(
                    template.kind,
                    store,
                    client,
                    template.headers,
                    list(template.run_ids),
                    location,
                )

    return manager()


@pytest.fixture(scope="session")
def api_kit() -> SimpleNamespace:
    """This module's helpers and constants, for test modules (which cannot import conftest)."""
    return SimpleNamespace(
        secret=SECRET,
        sensitive=SENSITIVE,
        sensitive_police=SENSITIVE_POLICE,
        safeguarding_rows=SAFEGUARDING_ROWS,
        write_council_csv=write_council_csv,
        make_app=make_app,
        create_app=create_app,
        add_key=add_key,
        copy_of=copy_of,
        ApiEnv=ApiEnv,
        TestClient=TestClient,
    )


@pytest.fixture(scope="session")
def make_api_env(api_template: Template):
    """``make_api_env(folder, **api_settings)``: a context manager giving an :class:`ApiEnv`
    on a fresh copy of the demo, with other settings (e.g. ``public_min_count``)."""
    return lambda folder, **api: api_env_for(api_template, folder, **api)


@pytest.fixture(scope="module")
def api_env(api_template: Template, tmp_path_factory):
    """This module's own copy of the demo store with an app and client (default settings)."""
    with api_env_for(api_template, tmp_path_factory.mktemp("api-env")) as env:
        yield env


@pytest.fixture(scope="module")
def sensitive_run(api_env) -> str:
    """A run of single-incident 'hotspots' of the sensitive categories only: every hotspot
    is one safeguarding case, withheld below analyst."""
    body = {
        "method": "dbscan",
        "categories": ["domestic-abuse", "sexual-offences"],
        "min_samples": 1,
        "eps_m": 5,
    }
    r = api_env.post("/analyses", json=body)
    assert r.status_code == 201, r.text
    return r.json()["run_id"]
