"""Import benchmark: the ten ``kent_full`` police.uk files (~161k rows) into each store.

Targets on the 2-core reference machine: ≥ 100k rows/s into DuckDB and ≥ 30k
rows/s into PostGIS, end to end (read, validate every row, transform to
EPSG:27700, quarantine, write in one transaction, commit).

Baselines, measured in the same run on the same files: each database's own
raw bulk loader with no validation at all — DuckDB's ``read_csv`` into a
table, and PostgreSQL's ``COPY`` of the raw CSV text into an unindexed table.
The ratio says how much of the engine's raw speed a fully validated import
keeps. Each figure is the median of ``--repeat`` runs (min–max shown), each
run in a fresh process on an empty store, with that process's peak RSS.

Run: ``python -m benchmarks.bench_import`` (PostGIS: ``HOTSPOTS_TEST_DATABASE_URL``
or a throwaway cluster from ``scripts/pg-test-cluster.sh``).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "police" / "kent_full"


def _files() -> list[Path]:
    return sorted(DATA.glob("*-kent-street.csv"))


def _fresh_db(admin_url: str) -> str:
    import psycopg
    from psycopg import sql

    name = f"hotspots_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return admin_url.rsplit("/", 1)[0] + "/" + name


def _drop_db(admin_url: str, url: str) -> None:
    import psycopg
    from psycopg import sql

    name = url.rsplit("/", 1)[1]
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def one(kind: str, target: str) -> dict:
    """One timed run in this process; returns seconds, rows and peak RSS."""
    files = _files()
    if kind in ("ours-duckdb", "ours-postgis"):
        from geodata.ingest import import_records
        from geodata.readers.police import read_police
        from geodata.stores import DuckDBStore
        from geodata.stores.postgis import PostGISStore

        store = DuckDBStore(target) if kind == "ours-duckdb" else PostGISStore(target)
        t0 = time.perf_counter()
        report = import_records(store, (r for f in files for r in read_police(f)))
        seconds = time.perf_counter() - t0
        rows = report.rows_read
        stored = store.count_incidents()
        store.close()
    elif kind == "raw-duckdb":
        import duckdb

        con = duckdb.connect(target)
        t0 = time.perf_counter()
        con.execute("BEGIN")
        con.execute(
            f"CREATE TABLE raw AS SELECT * FROM read_csv({[str(f) for f in files]}, "
            "all_varchar = true, header = true)"
        )
        con.execute("COMMIT")
        seconds = time.perf_counter() - t0
        rows = stored = con.execute("SELECT count(*) FROM raw").fetchall()[0][0]
        con.close()
    elif kind == "raw-postgis":
        import psycopg

        cols = ", ".join(f"c{i} text" for i in range(12))
        with psycopg.connect(target) as conn:
            conn.execute(f"CREATE TABLE raw ({cols})")
            conn.commit()
            t0 = time.perf_counter()
            with conn.cursor() as cur:
                for f in files:
                    with cur.copy("COPY raw FROM STDIN (FORMAT csv, HEADER true)") as copy:
                        copy.write(f.read_bytes())
            conn.commit()
            seconds = time.perf_counter() - t0
            rows = stored = conn.execute("SELECT count(*) FROM raw").fetchone()[0]
    else:
        raise SystemExit(f"unknown kind {kind}")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"seconds": seconds, "rows": rows, "stored": stored, "peak_mb": peak_mb}


def measure(kind: str, repeat: int, admin_url: str | None) -> list[dict]:
    runs = []
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as tmp:
            if kind.endswith("duckdb"):
                target = str(Path(tmp) / "bench.duckdb")
            else:
                assert admin_url
                target = _fresh_db(admin_url)
            try:
                proc = subprocess.run(
                    [sys.executable, "-m", "benchmarks.bench_import", "--one", kind, target],
                    cwd=ROOT,
                    capture_output=True,
                    text=True,
                    check=True,
                )
            finally:
                if not kind.endswith("duckdb"):
                    _drop_db(admin_url, target)  # type: ignore[arg-type]
            runs.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    return runs


def summary(runs: list[dict]) -> tuple[float, float, float, float, float]:
    rates = [r["rows"] / r["seconds"] for r in runs]
    secs = [r["seconds"] for r in runs]
    return (
        statistics.median(rates),
        min(secs),
        statistics.median(secs),
        max(secs),
        max(r["peak_mb"] for r in runs),
    )


def _postgis_url() -> tuple[str | None, bool]:
    url = os.environ.get("HOTSPOTS_TEST_DATABASE_URL")
    if url:
        return url, False
    script = ROOT / "scripts" / "pg-test-cluster.sh"
    proc = subprocess.run(["bash", str(script), "start"], capture_output=True, text=True)
    if proc.returncode != 0:
        print(f"PostGIS unavailable, skipping its rows: {proc.stderr.strip()[-300:]}")
        return None, False
    return proc.stdout.strip().splitlines()[-1], True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--one", nargs=2, metavar=("KIND", "TARGET"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(one(*args.one)))
        return 0
    files = _files()
    if len(files) != 10:
        print(f"needs the ten kent_full files in {DATA}; found {len(files)}")
        return 1
    size_mb = sum(f.stat().st_size for f in files) / 1e6
    print(
        f"import benchmark: {len(files)} police.uk files, {size_mb:.1f} MB, "
        f"median of {args.repeat} runs, each in a fresh process on an empty store"
    )
    admin_url, started = _postgis_url()
    targets = {"duckdb": 100_000, "postgis": 30_000}
    try:
        for store in ("duckdb", "postgis"):
            if store == "postgis" and not admin_url:
                continue
            ours = measure(f"ours-{store}", args.repeat, admin_url)
            raw = measure(f"raw-{store}", args.repeat, admin_url)
            o_rate, o_min, o_med, o_max, o_mem = summary(ours)
            r_rate, r_min, r_med, r_max, r_mem = summary(raw)
            verdict = "meets" if o_rate >= targets[store] else "MISSES"
            print(
                f"{store:8s} N={ours[0]['rows']:,} rows  ours {o_rate:,.0f} rows/s "
                f"({o_med:.2f} s, {o_min:.2f}–{o_max:.2f}; peak {o_mem:.0f} MB; "
                f"{ours[0]['stored']:,} stored)  |  baseline raw bulk load {r_rate:,.0f} rows/s "
                f"({r_med:.2f} s, {r_min:.2f}–{r_max:.2f}; peak {r_mem:.0f} MB)  |  "
                f"ours/baseline speed {o_rate / r_rate:.2f}  |  target ≥ {targets[store]:,} "
                f"rows/s: {verdict}"
            )
    finally:
        if started:
            subprocess.run(
                ["bash", str(ROOT / "scripts" / "pg-test-cluster.sh"), "stop"], capture_output=True
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
