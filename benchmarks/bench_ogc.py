"""OGC API – Features as GIS clients use it: GDAL's OAPIF driver copying every incident.

A store of ``--n`` synthetic incidents (``benchmarks.synthetic``, imported as
police.uk months, as a user would) is served by uvicorn on 127.0.0.1, and GDAL
(pyogrio's OAPIF driver, **default options**, as ``ogr2ogr -f GPKG out.gpkg
OAPIF:…/ogc incidents`` runs it) reads the ``incidents`` collection, in a fresh
process each time. On PostGIS, tipg (developmentseed's OGC API server) serves
the same table and GDAL reads it the same way, alternating with ours (order
reversed each round). Printed: median, min–max of ``--repeat`` reads, the
features read, and tipg's time over ours. GDAL (3.8+) reads 1,000 features a
page by default, so 100k incidents are 100 requests to either server.

    .venv/bin/python -m benchmarks.bench_ogc --n 100000 --tipg-python /tmp/tipg/bin/python
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack, contextmanager
from pathlib import Path

from .load_api import ROOT, _drop_database, _new_database, admin_url, serving

GDAL_READ = """
import json, sys, time, pyogrio
t0 = time.perf_counter()
frame = pyogrio.read_dataframe(sys.argv[1], layer=sys.argv[2])
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


def gdal_read(url: str, key: str | None, layer: str = "incidents") -> dict:
    """One read of the incidents layer by GDAL in a fresh process, default options."""
    env = {**os.environ, "NO_PROXY": "127.0.0.1", "no_proxy": "127.0.0.1"}
    if key:
        env.update(GDAL_HTTP_AUTH="BEARER", GDAL_HTTP_BEARER=key)
    t0 = time.perf_counter()
    cpu0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(
        [sys.executable, "-c", GDAL_READ, url, layer],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-2000:])
    out = json.loads(done.stdout.strip().splitlines()[-1])
    out["wall_s"] = time.perf_counter() - t0
    cpu1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    out["client_cpu_s"] = cpu1.ru_utime + cpu1.ru_stime - cpu0.ru_utime - cpu0.ru_stime
    return out


TIPG_VIEW = "tipg_incidents"
#: tipg serves the same incidents table through a view: ids without "/" (tipg's item
#: links cannot hold one: it answers 500) and the stored lon/lat as a typed 4326 point,
#: tipg's best case (no reprojection per feature)
TIPG_VIEW_SQL = f"""
CREATE OR REPLACE VIEW {TIPG_VIEW} AS
SELECT replace(id, '/', ':') AS id, category, occurred_at, occurred_precision, location,
       lsoa_code, ward_code, source, batch_id, sensitive,
       ST_SetSRID(ST_MakePoint(lon, lat), 4326)::geometry(Point, 4326) AS geom
FROM incidents
"""


@contextmanager
def serving_tipg(python: str, database_url: str, view: str = TIPG_VIEW, workers: int = 1):
    """``(base URL, pid)`` of tipg (run by the interpreter ``python``, in ``workers``
    uvicorn processes) serving the ``view`` of ``database_url``."""
    import socket
    import urllib.request

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("TIPG_", "HOTSPOTS_"))},
        "DATABASE_URL": database_url,
        "TIPG_DB_SCHEMAS": '["public"]',
        "TIPG_DB_TABLES": f'["public.{view}"]',
    }
    cmd = [python, "-m", "uvicorn", "tipg.main:app", "--host", "127.0.0.1", "--port", str(port)]
    cmd += ["--workers", str(workers), "--no-access-log", "--log-level", "warning"]
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=log)
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                if proc.poll() is not None:
                    log.seek(0)
                    raise RuntimeError(f"tipg exited: {log.read().decode()[-2000:]}")
                try:
                    urllib.request.urlopen(base + "/collections", timeout=2).close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise RuntimeError("tipg did not answer in 60 s") from None
                    time.sleep(0.2)
            yield base, proc.pid
        finally:
            proc.terminate()
            proc.wait(10)


def bench(kind: str, n: int, seed: int, repeat: int, db_admin: str | None, tipg: str | None):
    """GDAL reads of ``n`` incidents from hotspots on ``kind`` and, on PostGIS with
    ``tipg`` (an interpreter that has tipg), from tipg on the same table, alternated."""
    import psycopg

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
        out: dict = {"store": kind, "ours": [], "tipg": []}
        try:
            try:
                key = fill(store, n, seed, folder)
            finally:
                store.close()
            with ExitStack() as stack:
                base, _ = stack.enter_context(serving("api.app:create_app", env))
                peer = None
                if url and tipg:
                    with psycopg.connect(url, autocommit=True) as conn:
                        conn.execute(TIPG_VIEW_SQL)
                    peer, _ = stack.enter_context(serving_tipg(tipg, url))
                for i in range(repeat):
                    order = [("ours", f"OAPIF:{base}/ogc", key, "incidents")]
                    if peer:
                        order.append(("tipg", f"OAPIF:{peer}", None, f"public.{TIPG_VIEW}"))
                    for name, source, token, layer in order if i % 2 == 0 else order[::-1]:
                        out[name].append(gdal_read(source, token, layer))
        finally:
            if url:
                _drop_database(db_admin, url)  # type: ignore[arg-type]
    return out


def _summary(runs: list[dict]) -> tuple[float, str]:
    times = sorted(r["s"] for r in runs)
    mid = times[len(times) // 2]
    read = sorted({r["n"] for r in runs})
    client = sorted(r["client_cpu_s"] for r in runs)[len(runs) // 2]
    return mid, (
        f"{mid:.2f} s (min {times[0]:.2f}, max {times[-1]:.2f}; read {read}; "
        f"GDAL's own CPU {client:.2f} s)"
    )


def describe(result: dict, n: int) -> list[str]:
    """One line per server, and the ratio when tipg ran."""
    ours, text = _summary(result["ours"])
    head = f"GDAL OAPIF, default options, {n:,} incidents, {result['store']}"
    lines = [f"{head}: hotspots {text}"]
    if result["tipg"]:
        peer, peer_text = _summary(result["tipg"])
        lines.append(f"{head}: tipg     {peer_text}")
        lines.append(f"{head}: tipg / hotspots = {peer / ours:.1f}x (above 1: hotspots faster)")
    elif result["store"] == "postgis":
        lines.append(f"{head}: tipg not run (pass --tipg-python, an interpreter with tipg)")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--store", nargs="+", default=["postgis", "duckdb"])
    parser.add_argument("--database-url", default=None)
    parser.add_argument(
        "--tipg-python",
        default=os.environ.get("TIPG_PYTHON"),
        help="a Python that has tipg installed (its own venv: tipg pins other FastAPI "
        "versions), e.g. python3 -m venv /tmp/tipg && /tmp/tipg/bin/pip install tipg uvicorn",
    )
    args = parser.parse_args(argv)
    ok = True
    for kind in args.store:
        db = admin_url(args.database_url)
        result = bench(kind, args.n, args.seed, args.repeat, db, args.tipg_python)
        print("\n".join(describe(result, args.n)), flush=True)
        ok &= all(r["n"] == args.n for r in result["ours"] + result["tipg"])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
