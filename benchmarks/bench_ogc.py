"""OGC API – Features as GIS clients use it: GDAL's OAPIF driver copying every incident.

A store of ``--n`` synthetic incidents (``benchmarks.synthetic``, imported as
police.uk months, as a user would) is served by uvicorn on 127.0.0.1, and GDAL
(pyogrio's OAPIF driver, **default options**, as ``ogr2ogr -f GPKG out.gpkg
OAPIF:…/ogc incidents`` runs it) reads the ``incidents`` collection, in a fresh
process each time. Printed: median, min–max of ``--repeat`` reads, the features
read and the number of pages (requests) GDAL needed, per store.

    .venv/bin/python -m benchmarks.bench_ogc --n 100000 --store duckdb postgis
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .load_api import ROOT, _drop_database, _new_database, admin_url, serving

GDAL_READ = """
import json, sys, time, pyogrio
t0 = time.perf_counter()
frame = pyogrio.read_dataframe(sys.argv[1], layer="incidents")
print(json.dumps({"s": time.perf_counter() - t0, "n": len(frame)}))
"""


def police_csvs(n: int, seed: int, folder: Path) -> list[Path]:
    """``n`` synthetic incidents written as police.uk street-level CSVs, one per month."""
    from geodata.readers.police import POLICE_COLUMNS
    from geodata.taxonomy import BY_SLUG

    from .synthetic import synthetic_incidents

    frame = synthetic_incidents(n, seed=seed, snapped=True)
    frame["month"] = frame["occurred_at"].dt.strftime("%Y-%m")
    paths = []
    for month, part in frame.groupby("month"):
        path = folder / f"{month}-kent-street.csv"
        with path.open("w", encoding="utf-8") as out:
            out.write(",".join(POLICE_COLUMNS) + "\n")
            for i, r in enumerate(part.itertuples()):
                label = BY_SLUG[r.category].label
                out.write(
                    f"b{month}-{i:06d},{month},Kent Police,Kent Police,{r.lon:.6f},{r.lat:.6f},"
                    f"{r.location},E01024290,Gravesham 010C,{label},,\n"
                )
        paths.append(path)
    return paths


def fill(store, n: int, seed: int, folder: Path) -> str:
    """Import the incidents into ``store``; returns an analyst API key."""
    from api.security import new_api_key, now_utc
    from geodata.ingest import import_records
    from geodata.model import ApiKeyRecord
    from geodata.readers.police import read_police

    files = police_csvs(n, seed, folder)
    import_records(store, (r for f in files for r in read_police(f)))
    key_id, key, key_hash = new_api_key()
    store.add_api_key(ApiKeyRecord(key_id, "bench", "analyst", key_hash, now_utc()))
    return key


def gdal_read(url: str, key: str | None) -> dict:
    """One read of the incidents layer by GDAL in a fresh process, default options."""
    env = {**os.environ, "NO_PROXY": "127.0.0.1", "no_proxy": "127.0.0.1"}
    if key:
        env.update(GDAL_HTTP_AUTH="BEARER", GDAL_HTTP_BEARER=key)
    t0 = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", GDAL_READ, url],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-2000:])
    out = json.loads(done.stdout.strip().splitlines()[-1])
    out["wall_s"] = time.perf_counter() - t0
    return out


def bench_ours(kind: str, n: int, seed: int, repeat: int, db_admin: str | None) -> dict:
    """Median and range of GDAL's read of ``n`` incidents from hotspots on ``kind``."""
    from geodata.stores import DuckDBStore
    from geodata.stores.postgis import PostGISStore

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        env = {k: v for k, v in os.environ.items() if not k.startswith("HOTSPOTS_")}
        env["HOTSPOTS_SECRET_KEY"] = os.urandom(24).hex()
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
        url = None
        if kind == "duckdb":
            store = DuckDBStore(folder / "bench.duckdb")
            env["HOTSPOTS_DUCKDB_PATH"] = str(folder / "bench.duckdb")
        else:
            if not db_admin:
                raise SystemExit("PostGIS needs --database-url or HOTSPOTS_TEST_DATABASE_URL")
            url = _new_database(db_admin)
            store = PostGISStore(url)
            env["HOTSPOTS_DATABASE_URL"] = url
        try:
            try:
                key = fill(store, n, seed, folder)
            finally:
                store.close()
            with serving("api.app:create_app", env) as (base, _):
                runs = [gdal_read(f"OAPIF:{base}/ogc", key) for _ in range(repeat)]
        finally:
            if url:
                _drop_database(db_admin, url)  # type: ignore[arg-type]
    return {"store": kind, "runs": runs}


def describe(result: dict, n: int) -> str:
    times = sorted(r["s"] for r in result["runs"])
    mid = times[len(times) // 2]
    read = {r["n"] for r in result["runs"]}
    return (
        f"ogr2ogr-equivalent (GDAL OAPIF, default options) hotspots/{result['store']:8s} "
        f"{n:,} incidents: {mid:.2f} s (min {times[0]:.2f}, max {times[-1]:.2f}; "
        f"{len(times)} runs), features read {sorted(read)}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--store", nargs="+", default=["duckdb", "postgis"])
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args(argv)
    ok = True
    for kind in args.store:
        result = bench_ours(kind, args.n, args.seed, args.repeat, admin_url(args.database_url))
        print(describe(result, args.n), flush=True)
        ok &= all(r["n"] == args.n for r in result["runs"])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
