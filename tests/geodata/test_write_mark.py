"""Writes of incidents through a store are counted (geodata/stores/write_mark.py): the
store's ``incident_writes()`` changes with each import, batch delete and upgrade, is None
while one runs, and stays put for reads, on both stores (and, on DuckDB, across the
store objects of one file)."""

from __future__ import annotations

from geodata.ingest import import_records
from geodata.readers.police import read_police
from geodata.stores import IncidentQuery


def _police(tmp_path, police_csv, month: str, n: int):
    rows = [police_csv.row(f"c{month}{i}", month, lon=0.37 + i * 1e-4) for i in range(n)]
    return police_csv.write(tmp_path / f"{month}-kent-street.csv", rows)


def test_each_write_of_incidents_changes_the_mark_and_reads_do_not(
    store, tmp_path, police_csv
) -> None:
    first = store.incident_writes()
    assert first is not None
    during: list[int | None] = []
    csv = _police(tmp_path, police_csv, "2024-01", 4)
    import_records(
        store, read_police(csv), progress=lambda *_: during.append(store.incident_writes())
    )
    assert during and all(mark is None for mark in during)  # none while the import runs
    imported = store.incident_writes()
    assert imported is not None and imported != first
    store.query_incidents(IncidentQuery())
    store.count_incidents(IncidentQuery())
    assert store.incident_writes() == imported  # reads leave it be
    assert store.delete_batch("police-uk/kent-police/2024-01")
    deleted = store.incident_writes()
    assert deleted not in (None, imported, first)
    store.upgrade()
    assert store.incident_writes() not in (None, deleted)


def test_a_write_through_another_object_of_the_file_counts(store_factory, tmp_path, police_csv):
    location = store_factory.location("duckdb")
    served, other = store_factory.open("duckdb", location), store_factory.open("duckdb", location)
    before = served.incident_writes()
    import_records(other, read_police(_police(tmp_path, police_csv, "2024-02", 2)))
    assert served.incident_writes() not in (None, before)
