"""Imports are all-or-nothing: a SIGKILL mid-write or a bad second file leaves the store as is."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from geodata.errors import InputFileError
from geodata.ingest import import_records
from geodata.readers.police import POLICE_COLUMNS, read_police
from geodata.stores.base import WRITE_CHUNK_ROWS, IncidentQuery, Store

REPO_ROOT = Path(__file__).resolve().parents[2]
KENT = "police-uk/kent-police"
BIG_ROWS = 200_000
#: the child pauses (and is killed) once this many rows are written; for DuckDB more
#: than a row group (122,880 rows), so a large uncommitted write has reached the file
KILL_AT = {"duckdb": 150_000, "postgis": 50_000}

CHILD = textwrap.dedent(
    """
    import sys, time
    from geodata.ingest import import_records
    from geodata.readers.police import read_police

    kind, location, csv_path, kill_at = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    if kind == "duckdb":
        from geodata.stores.duckdb_store import DuckDBStore
        store = DuckDBStore(location)
    else:
        from geodata.stores.postgis import PostGISStore
        store = PostGISStore(location)
    print("opened", flush=True)

    def progress(done, total):
        print(f"progress {done} {total}", flush=True)
        if done >= kill_at:
            time.sleep(30)  # still inside the open transaction: the parent kills us here

    report = import_records(store, read_police(csv_path), progress=progress)
    store.close()
    print("done", report.rows_accepted, flush=True)
    """
)


def big_month_csv(path: Path, n: int, month: str = "2022-01", seed: int = 1) -> Path:
    """``n`` synthetic police.uk rows of one Kent month, distinct Crime IDs, no rejects."""
    rng = np.random.default_rng(seed)
    labels = np.array(["Burglary", "Violence and sexual offences", "Shoplifting", "Drugs"])
    frame = pd.DataFrame(
        {
            "Crime ID": [f"{seed:08x}{i:056x}" for i in range(n)],
            "Month": month,
            "Reported by": "Kent Police",
            "Falls within": "Kent Police",
            "Longitude": np.char.mod("%.6f", rng.uniform(0.30, 0.45, n)),
            "Latitude": np.char.mod("%.6f", rng.uniform(51.40, 51.47, n)),
            "Location": "On or near High Street",
            "LSOA code": "E01024290",
            "LSOA name": "Gravesham 010C",
            "Crime type": labels[np.arange(n) % len(labels)],
            "Last outcome category": "Under investigation",
            "Context": "",
        },
        columns=list(POLICE_COLUMNS),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False, lineterminator="\n")
    return path


@pytest.fixture(scope="session")
def big_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("big")
    return big_month_csv(folder / "2022-01-kent-street.csv", BIG_ROWS)


def state(store: Store) -> tuple:
    return (
        [b.to_dict() for b in store.list_batches()],
        store.count_incidents(),
        store.query_incidents(),
        store.read_quarantine(),
    )


def assert_same_state(store: Store, before: tuple) -> None:
    batches, count, incidents, quarantine = state(store)
    assert batches == before[0]
    assert count == before[1]
    assert incidents.equals(before[2])
    assert quarantine.equals(before[3])


def seed_store(store: Store, folder: Path) -> tuple:
    """Store a small 2022-01 (40 rows) and 2022-02 (10 rows); return the state."""
    folder.mkdir(parents=True, exist_ok=True)
    old = [big_month_csv(folder / "2022-01-kent-street.csv", 40, seed=7)]
    old.append(big_month_csv(folder / "2022-02-kent-street.csv", 10, "2022-02", seed=8))
    report = import_records(store, (rec for p in old for rec in read_police(p)))
    assert [b.status for b in report.batches] == ["created", "created"]
    before = state(store)
    assert before[1] == 50
    return before


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["duckdb", pytest.param("postgis", marks=pytest.mark.postgis)])
def test_sigkill_mid_import_leaves_the_old_batch(kind, store_factory, big_csv, tmp_path):
    location = store_factory.location(kind)
    store = store_factory.open(kind, location)
    before = seed_store(store, tmp_path / "old")
    old_hash = store.batch_hashes([f"{KENT}/2022-01"])[f"{KENT}/2022-01"]
    store_factory.close(store)  # DuckDB: one writing process at a time

    script = tmp_path / "child.py"
    script.write_text(CHILD, encoding="utf-8")
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])),
    }
    proc = subprocess.Popen(
        [sys.executable, str(script), kind, location, str(big_csv), str(KILL_AT[kind])],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        env=env,
    )
    watchdog = threading.Timer(120, proc.kill)
    watchdog.start()
    lines: list[str] = []
    killed_after = None
    try:
        for line in proc.stdout:
            lines.append(line.strip())
            if line.startswith("progress"):
                done = int(line.split()[1])
                if done >= KILL_AT[kind]:
                    os.kill(proc.pid, signal.SIGKILL)
                    killed_after = done
                    break
        proc.wait(timeout=60)
    finally:
        watchdog.cancel()
        rest, err = proc.communicate(timeout=60)
    lines += rest.splitlines()
    assert killed_after is not None, f"the child never reached {KILL_AT[kind]} rows: {lines} {err}"
    assert not any(x.startswith("done") for x in lines), "the child finished before the kill"
    assert proc.returncode == -signal.SIGKILL
    progress = [tuple(map(int, x.split()[1:])) for x in lines if x.startswith("progress")]
    assert progress[0] == (WRITE_CHUNK_ROWS, BIG_ROWS)  # rows were written in the transaction
    assert killed_after < BIG_ROWS

    reopened = store_factory.open(kind, location)
    assert_same_state(reopened, before)
    assert reopened.batch_hashes([f"{KENT}/2022-01"]) == {f"{KENT}/2022-01": old_hash}

    # The store still takes writes, and no row of the killed import is left over to
    # collide with (the new ids "...2022-01#2" onwards are ids the big file used too).
    newer = big_month_csv(tmp_path / "newer" / "2022-01-kent-street.csv", 25, seed=11)
    report = import_records(reopened, read_police(newer))
    assert [b.status for b in report.batches] == ["replaced"]
    jan = IncidentQuery(batch_ids=[f"{KENT}/2022-01"])
    assert reopened.count_incidents(jan) == 25
    assert reopened.count_incidents() == 25 + 10


def test_error_in_second_file_stores_nothing(store: Store, tmp_path: Path) -> None:
    before = seed_store(store, tmp_path / "old")
    folder = tmp_path / "new"
    folder.mkdir()
    big_month_csv(folder / "2022-03-kent-street.csv", 30_000, "2022-03", seed=3)
    bad = big_month_csv(folder / "2022-04-kent-street.csv", 20, "2022-04", seed=4)
    # Cut the last line five characters into its Location cell (the 7th of 12).
    data = bad.read_bytes().rstrip(b"\n")
    head, last = data.rsplit(b"\n", 1)
    cut = len(b",".join(last.split(b",")[:6])) + 1 + 5
    bad.write_bytes(head + b"\n" + last[:cut])
    n_lines = head.count(b"\n") + 2

    written: list[tuple[int, int]] = []
    with pytest.raises(InputFileError) as err:
        import_records(store, read_police(folder), progress=lambda d, t: written.append((d, t)))
    assert err.value.path == str(bad)
    assert err.value.row == n_lines
    assert err.value.field == "LSOA code"  # the first cell missing from the cut row
    assert "truncated" in str(err.value)
    # The first file's rows had been written (inside the transaction) before the error.
    assert written and written[-1][0] == 30_000
    assert_same_state(store, before)
    assert store.batch_hashes([f"{KENT}/2022-03"]) == {}


def test_two_files_with_the_same_batch_store_nothing(store: Store, tmp_path: Path) -> None:
    before = seed_store(store, tmp_path / "old")
    folder = tmp_path / "new"
    folder.mkdir()
    first = big_month_csv(folder / "a" / "2022-05-kent-street.csv", 5, "2022-05", seed=5)
    second = big_month_csv(folder / "b" / "2022-05-kent-street.csv", 6, "2022-05", seed=6)
    with pytest.raises(InputFileError, match="2022-05") as err:
        import_records(store, read_police(folder))
    assert err.value.path == str(second)
    assert str(first) in str(err.value)
    assert_same_state(store, before)


def test_dry_run_and_progress(store: Store, tmp_path: Path) -> None:
    before = seed_store(store, tmp_path / "old")
    folder = tmp_path / "new"
    folder.mkdir()
    big_month_csv(folder / "2022-06-kent-street.csv", 60_000, "2022-06", seed=9)
    big_month_csv(folder / "2022-07-kent-street.csv", 7, "2022-07", seed=10)

    checked = import_records(store, read_police(folder), dry_run=True)
    assert [b.status for b in checked.batches] == ["checked", "checked"]
    assert checked.rows_accepted == 60_007
    assert_same_state(store, before)

    calls: list[tuple[int, int]] = []
    report = import_records(store, read_police(folder), progress=lambda d, t: calls.append((d, t)))
    assert [b.status for b in report.batches] == ["created", "created"]
    done = [d for d, _ in calls]
    assert done == sorted(done) and all(d <= t for d, t in calls)
    assert calls[0] == (WRITE_CHUNK_ROWS, 60_000)
    assert calls[-1] == (60_007, 60_007)
    assert store.count_incidents() == 50 + 60_007
