"""The service records (runs, API keys, share links, jobs), run against both stores via ``store``.

Times are naive UTC and must come back to the microsecond; JSON must come back
equal. A DuckDB file of schema v1 must upgrade in place to v2, keeping its data.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from geodata.errors import NotFound, StoreError
from geodata.ingest import import_records
from geodata.model import (
    INCIDENT_SCHEMA,
    ApiKeyRecord,
    JobRecord,
    RunRecord,
    ShareLinkRecord,
)
from geodata.readers.police import read_police
from geodata.stores import duckdb_store
from geodata.stores.base import Store
from geodata.stores.duckdb_store import DuckDBStore

T0 = datetime(2024, 3, 1, 9, 30, 15, 123456)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def feature_collection(n: int = 3) -> dict:
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "id": f"h{i}",
                "geometry": {"type": "Point", "coordinates": [0.3700011 + i, 51.4415 - i / 3]},
                "properties": {
                    "rank": i + 1,
                    "z": -1.959963984540054 * (i + 1),
                    "p": 0.1 + 0.2,
                    "tiny": 1.2345e-300,
                    "label": "Gravesend — Windmill Hill ✓ ñ 漢字 🚓",
                    "sensitive": False,
                    "missing": None,
                    "months": [{"month": "2022-01", "count": 3}, {"month": "2022-02"}],
                    "nested": {"a": {"b": {"c": [1, 2.5, "three", None, True]}}},
                },
            }
            for i in range(n)
        ],
        "run_id": "x",
        "notes": [],
        "empty": {},
    }


def run(run_id: str, method: str = "dbscan", created_at: datetime = T0, **kw) -> RunRecord:
    return RunRecord(
        run_id=run_id,
        method=method,
        params=kw.pop("params", {"eps_m": 150.0, "min_samples": 5, "request_key": run_id}),
        provenance=kw.pop("provenance", {"libraries": {"numpy": "2.0"}, "batches": [["a", "h"]]}),
        result=kw.pop("result", feature_collection()),
        created_at=created_at,
    )


# --------------------------------------------------------------------------- runs


def test_runs_save_get_list_latest_delete(store: Store) -> None:
    assert store.get_run("nope") is None
    assert store.list_runs() == []
    assert store.latest_run("dbscan") is None

    first = run("r1", created_at=at(0))
    assert store.save_run(first) is True
    assert store.get_run("r1") == first

    # Same id again: the original is kept, whatever the new record says.
    clash = run("r1", created_at=at(99), params={"other": 1}, result={"type": "x"})
    assert store.save_run(clash) is False
    assert store.get_run("r1") == first

    assert store.save_run(run("r2", created_at=at(10))) is True
    assert store.save_run(run("r3", method="gistar", created_at=at(5))) is True
    assert store.save_run(run("r0", created_at=at(10))) is True  # same time as r2

    listed = store.list_runs()
    assert [r.run_id for r in listed] == ["r2", "r0", "r3", "r1"]  # newest first, then id desc
    assert all(r.result == {} for r in listed)  # listings leave the payload out
    assert listed[3] == dataclasses.replace(first, result={})
    assert [r.run_id for r in store.list_runs("dbscan")] == ["r2", "r0", "r1"]
    assert [r.run_id for r in store.list_runs("dbscan", limit=2)] == ["r2", "r0"]
    assert store.list_runs("dbscan", limit=0) == []
    assert store.list_runs("kde") == []
    with pytest.raises(ValueError, match="limit"):
        store.list_runs(limit=-1)

    latest = store.latest_run("dbscan")
    assert latest is not None and latest.run_id == "r2" and latest.result == feature_collection()
    assert store.latest_run("gistar") == run("r3", method="gistar", created_at=at(5))
    assert store.latest_run("kde") is None

    assert store.delete_run("r2") is True
    assert store.delete_run("r2") is False
    assert store.get_run("r2") is None
    latest = store.latest_run("dbscan")
    assert latest is not None and latest.run_id == "r0"


def test_a_request_key_finds_its_run(store: Store) -> None:
    """The run an identical request reuses is found by its key, however many are stored;
    a second run of the same key leaves the first in place; deleting the run frees it."""
    for i in range(30):
        store.save_run(run(f"k{i}", params={"request_key": f"key-{i}"}))
    assert store.run_for_request("key-17") == run("k17", params={"request_key": "key-17"})
    assert store.run_for_request("key-nope") is None
    # the same key with another run id (a race): the first stays the key's run
    store.save_run(run("k17b", params={"request_key": "key-17"}))
    assert store.run_for_request("key-17").run_id == "k17"
    # another key to a run id already stored: the key leads to that run
    store.save_run(run("k3", params={"request_key": "key-3-again"}))
    assert store.run_for_request("key-3-again").run_id == "k3"
    assert store.delete_run("k17") is True
    assert store.run_for_request("key-17") is None
    # runs without a key are not found by any
    store.save_run(run("nokey", params={"eps_m": 1.0}))
    assert store.run_for_request("") is None


def test_run_json_round_trip(store: Store) -> None:
    big = feature_collection(400)  # a few hundred kB
    params = {
        "request": {"bbox": [530000.5, 180000.25, 531000.0, 181000.0], "months": ["2022-01"]},
        "weights": {"burglary": 1.5, "asb": 0.25},
        "unicode": "café, naïve, Ελληνικά, עברית, 😀",
        "quote": 'she said "hi" \\ back\nslash\ttab',
        "numbers": [0, -1, 2**53, 0.1, -0.0, 1e-7, 123456.789, 1.7976931348623157e15],
        "bools": [True, False, None],
    }
    provenance = {"empty_list": [], "empty_dict": {}, "deep": {"1": {"2": {"3": {"4": [[]]}}}}}
    record = RunRecord("json", "gistar", params, provenance, big, T0)
    assert store.save_run(record) is True
    got = store.get_run("json")
    assert got == record
    assert got is not None and isinstance(got.params["numbers"][4], float)
    assert [r.params for r in store.list_runs()] == [params]


def test_json_must_be_strict(store: Store) -> None:
    with pytest.raises(ValueError, match=r"run result.*NaN"):
        store.save_run(run("nan", result={"z": float("nan")}))
    with pytest.raises(ValueError, match=r"run params.*NaN"):
        store.save_run(run("inf", params={"z": float("inf")}))
    with pytest.raises(ValueError, match="run provenance"):
        store.save_run(run("obj", provenance={"when": object()}))
    with pytest.raises(ValueError, match="NUL"):
        store.save_run(run("nul", result={"s": "a\x00b"}))
    assert store.list_runs() == []
    record = run("ok", result={"s": "a\\u0000b"})  # a backslash, not a NUL: allowed
    assert store.save_run(record) is True
    assert store.get_run("ok") == record


def test_times_round_trip_as_naive_utc(store: Store) -> None:
    aware = datetime(2024, 7, 1, 10, 0, 0, 999999, tzinfo=timezone(timedelta(hours=1)))
    assert store.save_run(run("tz", created_at=aware))
    got = store.get_run("tz")
    assert got is not None
    assert got.created_at == datetime(2024, 7, 1, 9, 0, 0, 999999)
    assert got.created_at.tzinfo is None
    with pytest.raises(ValueError, match="created_at must be a datetime"):
        store.save_run(run("str", created_at="2024-01-01"))  # type: ignore[arg-type]


# --------------------------------------------------------------------------- API keys


def key(key_id: str, role: str = "partner", created_at: datetime = T0) -> ApiKeyRecord:
    return ApiKeyRecord(
        key_id=key_id,
        name=f"Key for {key_id} — Gravesham CSP",
        role=role,
        key_hash=f"hash-of-{key_id}",
        created_at=created_at,
        revoked_at=None,
    )


def test_api_keys(store: Store) -> None:
    assert store.list_api_keys() == []
    assert store.api_key_by_hash("hash-of-a") is None
    a, b = key("a", "analyst", at(1)), key("b", "public", at(0))
    store.add_api_key(a)
    store.add_api_key(b)
    assert store.api_key_by_hash("hash-of-a") == a
    assert store.list_api_keys() == [b, a]  # oldest first

    with pytest.raises(StoreError, match="already stored"):
        store.add_api_key(dataclasses.replace(key("c"), key_hash="hash-of-a"))
    with pytest.raises(StoreError, match="already stored"):
        store.add_api_key(dataclasses.replace(key("a"), key_hash="other"))
    assert store.list_api_keys() == [b, a]

    when = at(3600.000001)
    assert store.revoke_api_key("a", when) is True
    assert store.revoke_api_key("a", at(7200)) is False  # already revoked: first time kept
    assert store.revoke_api_key("zz", when) is False
    revoked = store.api_key_by_hash("hash-of-a")  # still returned: the caller checks
    assert revoked == dataclasses.replace(a, revoked_at=when)
    assert store.api_key_by_hash("hash-of-b") == b


def test_roles_and_statuses_are_checked(store: Store) -> None:
    with pytest.raises(ValueError, match="'admin'"):
        store.add_api_key(key("x", role="admin"))
    assert store.list_api_keys() == []
    link = share_link("l", role="Analyst")
    with pytest.raises(ValueError, match="'Analyst'"):
        store.add_share_link(link)
    assert store.list_share_links() == []
    with pytest.raises(ValueError, match="'paused'"):
        store.add_job(job("j", status="paused"))
    with pytest.raises(ValueError, match=r"progress.*1\.5"):
        store.add_job(job("j", progress=1.5))
    assert store.get_job("j") is None
    store.add_job(job("j"))
    with pytest.raises(ValueError, match="'finished'"):
        store.update_job("j", status="finished", when=at(1))
    with pytest.raises(ValueError, match="progress"):
        store.update_job("j", progress=-0.1, when=at(1))
    with pytest.raises(ValueError, match="progress"):
        store.update_job("j", progress=float("nan"), when=at(1))
    assert store.get_job("j") == job("j")


# --------------------------------------------------------------------------- share links


def share_link(link_id: str, created_at: datetime = T0, role: str = "partner") -> ShareLinkRecord:
    return ShareLinkRecord(
        link_id=link_id,
        run_id="r1",
        role=role,
        filters={"title": "Windmill Hill — ASB", "categories": ["anti-social-behaviour"]},
        created_by="analyst@gravesham",
        created_at=created_at,
        expires_at=created_at + timedelta(days=30, microseconds=1),
        revoked_at=None,
    )


def test_share_links(store: Store) -> None:
    assert store.get_share_link("x") is None
    assert store.list_share_links() == []
    a, b, c = share_link("a", at(0)), share_link("b", at(60)), share_link("c", at(60))
    for link in (a, b, c):
        store.add_share_link(link)
    assert store.get_share_link("a") == a
    assert store.list_share_links() == [c, b, a]  # newest first, then id desc
    with pytest.raises(StoreError, match="already stored"):
        store.add_share_link(share_link("a", at(5)))

    assert store.revoke_share_link("b", at(120)) is True
    assert store.revoke_share_link("b", at(180)) is False
    assert store.revoke_share_link("zz", at(180)) is False
    assert store.get_share_link("b") == dataclasses.replace(b, revoked_at=at(120))


def test_share_link_opens(store: Store) -> None:
    store.add_share_link(share_link("a"))
    store.add_share_link(share_link("b"))
    assert store.share_link_opens("a") == []
    store.log_share_open("a", at(10), "192.0.2.1")
    store.log_share_open("a", at(5), None)  # logged later, opened earlier
    store.log_share_open("b", at(7), "198.51.100.2")
    store.log_share_open("a", at(10), "second at the same time")
    store.log_share_open("a", at(10).replace(tzinfo=UTC), "aware")
    assert store.share_link_opens("a") == [
        (at(5), None),
        (at(10), "192.0.2.1"),
        (at(10), "second at the same time"),
        (at(10), "aware"),
    ]
    assert store.share_link_opens("b") == [(at(7), "198.51.100.2")]
    assert store.share_link_opens("zz") == []
    with pytest.raises(NotFound, match="zz"):
        store.log_share_open("zz", at(1), None)
    assert store.share_link_opens("zz") == []


# --------------------------------------------------------------------------- jobs


def job(job_id: str, status: str = "queued", progress: float = 0.0) -> JobRecord:
    return JobRecord(
        job_id=job_id,
        kind="import-police",
        status=status,
        progress=progress,
        message="2022-01-kent-street.csv queued",
        result=None,
        created_at=T0,
        updated_at=T0,
    )


def test_jobs(store: Store) -> None:
    assert store.get_job("j1") is None
    assert store.update_job("j1", status="running", when=at(1)) is False
    first = job("j1")
    store.add_job(first)
    assert store.get_job("j1") == first
    with pytest.raises(StoreError, match="already stored"):
        store.add_job(job("j1"))

    assert store.update_job("j1", status="running", when=at(1)) is True
    assert store.get_job("j1") == dataclasses.replace(first, status="running", updated_at=at(1))
    assert store.update_job("j1", progress=0.25, when=at(2)) is True
    assert store.update_job("j1", message="importing rows", when=at(3)) is True
    got = store.get_job("j1")
    assert got == dataclasses.replace(
        first, status="running", progress=0.25, message="importing rows", updated_at=at(3)
    )
    result = {"rows_read": 16338, "rejected_by_reason": {"no-coordinates": 178}, "ok": 0.5}
    assert store.update_job("j1", status="done", progress=1, result=result, when=at(4)) is True
    done = store.get_job("j1")
    assert done == JobRecord(
        "j1", "import-police", "done", 1.0, "importing rows", result, T0, at(4)
    )
    assert done is not None and isinstance(done.progress, float)
    # None leaves a field as it is: only updated_at moves.
    assert store.update_job("j1", when=at(5)) is True
    assert store.get_job("j1") == dataclasses.replace(done, updated_at=at(5))

    other = dataclasses.replace(job("j2", "failed", 0.5), result={"error": {"status": 500}})
    store.add_job(other)
    assert store.get_job("j2") == other


def test_job_progress_written_during_an_import(store: Store, tmp_path: Path, police_csv) -> None:
    """An import's progress callback can update a job: the update is its own transaction,
    kept even when the import is rolled back."""
    rows = [police_csv.row(f"c{i:03d}") for i in range(5)]
    police_csv.write(tmp_path / "dl" / "2022-01" / "2022-01-kent-street.csv", rows)
    store.add_job(job("imp"))
    seen: list[float] = []

    def progress(done: int, total: int) -> None:
        fraction = done / total if total else 0.0
        assert store.update_job("imp", status="running", progress=fraction, when=at(done))
        seen.append(fraction)

    report = import_records(store, read_police(tmp_path / "dl"), progress=progress)
    assert report.rows_accepted == 5 and seen and seen[-1] == 1.0
    got = store.get_job("imp")
    assert got is not None and got.status == "running" and got.progress == 1.0

    feb = [police_csv.row(f"d{i:03d}", month="2022-02") for i in range(5)]
    police_csv.write(tmp_path / "dl2" / "2022-02" / "2022-02-kent-street.csv", feb)

    def failing(done: int, total: int) -> None:
        store.update_job("imp", message="about to fail", when=at(100))
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        import_records(store, read_police(tmp_path / "dl2"), progress=failing)
    assert store.count_incidents() == 5  # the import was rolled back ...
    got = store.get_job("imp")
    assert got is not None and got.message == "about to fail"  # ... the job update was not


# --------------------------------------------------------------------------- schema


def test_schema_status_lists_service_step(store: Store, store_kind: str) -> None:
    status = store.schema_status()
    assert status["current"] is True and status["pending"] == []
    if store_kind == "postgis":
        assert status["applied"] == [
            "0001_initial",
            "0002_service",
            "0003_interventions",
            "0004_run_features",
            "0005_run_keys",
            "0006_api_keys_notify",
        ]
        assert status["changed"] == []
    else:
        assert status["applied"] == [f"duckdb schema v{v}" for v in (1, 2, 3, 4, 5)]
    assert store.upgrade() == []


INCIDENT = {
    "id": "police-uk/kent-police/2022-01#2",
    "batch_id": "police-uk/kent-police/2022-01",
    "source": "police-uk/kent-police",
    "source_ref": "abc",
    "category": "burglary",
    "category_raw": "Burglary",
    "occurred_at": datetime(2022, 1, 1),
    "occurred_precision": "month",
    "lon": 0.37,
    "lat": 51.4415,
    "x": 564000.5,
    "y": 173000.25,
    "location": "On or near Parking Area",
    "lsoa_code": "E01024290",
    "ward_code": None,
    "sensitive": False,
    "flags": "",
    "attributes": "{}",
    "source_row": 2,
}


def make_v1_file(path: Path, crs: str = "EPSG:27700") -> None:
    """A DuckDB file as schema v1 left it, with one batch and one incident."""
    con = duckdb.connect(str(path))
    for stmt in duckdb_store.SCHEMA_STEPS[1]:
        con.execute(stmt)
    con.execute("INSERT INTO meta VALUES ('schema_version', '1'), ('analysis_crs', ?)", [crs])
    con.execute(
        "INSERT INTO batches VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            INCIDENT["batch_id"],
            INCIDENT["source"],
            "2022-01",
            "h1",
            '["2022-01-kent-street.csv"]',
            1,
            1,
            0,
            datetime(2024, 1, 1),
            crs,
        ],
    )
    incidents = pa.Table.from_pylist([INCIDENT], schema=INCIDENT_SCHEMA)
    con.register("_i", incidents)
    con.execute("INSERT INTO incidents SELECT * FROM _i")
    con.close()


def test_duckdb_v1_file_upgrades_in_place(tmp_path: Path) -> None:
    path = tmp_path / "v1.duckdb"
    make_v1_file(path)

    ro = DuckDBStore(path, read_only=True)  # read-only: not upgraded
    try:
        assert ro.schema_status() == {
            "current": False,
            "applied": ["duckdb schema v1"],
            "pending": [f"duckdb schema v{v}" for v in (2, 3, 4, 5)],
        }
        assert ro.count_incidents() == 1
        with pytest.raises(StoreError, match="db upgrade"):
            ro.list_runs()
    finally:
        ro.close()

    with DuckDBStore(path) as st:
        status = st.schema_status()
        assert status["current"] is True
        assert status["applied"] == [f"duckdb schema v{v}" for v in (1, 2, 3, 4, 5)]
        assert st.count_incidents() == 1
        assert st.query_incidents().to_pylist() == [INCIDENT]
        assert [b.batch_id for b in st.list_batches()] == [INCIDENT["batch_id"]]
        assert st.save_run(run("after-upgrade")) is True
        assert st.upgrade() == []

    with DuckDBStore(path) as st:  # reopened: nothing more to do, run kept
        assert st.get_run("after-upgrade") == run("after-upgrade")
        assert st.schema_status()["current"] is True


def test_duckdb_v1_file_with_another_crs_is_refused_not_upgraded(tmp_path: Path) -> None:
    from geodata.errors import ConfigurationError

    path = tmp_path / "v1-other.duckdb"
    make_v1_file(path, crs="EPSG:3857")
    with pytest.raises(ConfigurationError, match="EPSG:3857"):
        DuckDBStore(path)
    with DuckDBStore(path, analysis_crs="EPSG:3857", read_only=True) as ro:
        assert ro.schema_status()["applied"] == ["duckdb schema v1"]  # left untouched
    with DuckDBStore(path, analysis_crs="EPSG:3857") as st:
        assert st.schema_status()["current"] is True
        row = st.con.execute("SELECT value FROM meta WHERE key = 'analysis_crs'").fetchone()
        assert row == ("EPSG:3857",)
