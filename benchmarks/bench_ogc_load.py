"""OGC API at 50 clients: items by bbox, single items and vector tiles, against tipg.

The mixed OGC load of issue 15, on ``--n`` synthetic incidents imported as police.uk
months (``benchmarks.bench_ogc.fill``, as a user would), 100k by default:

- **ours** on PostGIS and on the embedded DuckDB store (one uvicorn process each, as
  ``hotspots serve`` runs), read by analysts: ``/ogc/collections/incidents/items`` in a
  bbox (``limit=100``), single items by id, and Mapbox vector tiles at zoom 14;
- **tipg** (developmentseed's OGC API server, one uvicorn process) on the same PostGIS
  database, through a view of the incidents table at its best: the stored, indexed
  geometry, ids without ``/`` (its item links cannot hold one) with an index on them,
  read anonymously with the same bboxes, ids and tiles.

Each client (locust, ``FastHttpUser``, no think time; ``benchmarks.load_api.drive``)
picks one of the requests at random; every answer must have the status and the length
of the first answer to that URL (a success), else it is an error. The servers run one after another,
the order rotated each round, so a load swing on this shared machine does not land on
one side; printed per server: median over rounds of p50/p95/p99, errors, requests per
second, and tipg's p99 over ours (above 1: ours faster), all from the same run.

    .venv/bin/python -m benchmarks.bench_ogc_load --tipg-python /tmp/tipg/bin/python
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import quote

from .bench_ogc import fill, serving_tipg
from .load_api import ROOT, _drop_database, _new_database, admin_url, describe, serving

#: small boxes (about 1.4 x 2.2 km, a street map's view) across the synthetic data
BOXES = [
    (0.20, 51.34),
    (0.26, 51.40),
    (0.32, 51.44),
    (0.36, 51.43),
    (0.42, 51.47),
    (0.50, 51.52),
]
BOX_W, BOX_H = 0.02, 0.02
ZOOM = 14
TIPG_LOAD_VIEW = "tipg_incidents_stored"
#: tipg's best case on the stored table: the indexed geometry (it reprojects what it
#: writes) and an index on the ids it is given
TIPG_LOAD_SQL = f"""
CREATE INDEX IF NOT EXISTS tipg_incidents_shown_id ON incidents ((replace(id, '/', ':')));
CREATE OR REPLACE VIEW {TIPG_LOAD_VIEW} AS
SELECT replace(id, '/', ':') AS id, category, occurred_at, occurred_precision, location,
       lsoa_code, ward_code, source, batch_id, sensitive, geom
FROM incidents;
ANALYZE incidents;
"""


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    """``(col, row)`` of the WebMercatorQuad tile holding ``lon``, ``lat`` at zoom ``z``."""
    n = 2**z
    y = math.asinh(math.tan(math.radians(lat)))
    return int((lon + 180.0) / 360.0 * n), int((1.0 - y / math.pi) / 2.0 * n)


def requests(ids: list[str], tipg: bool) -> list[tuple[str, str, int, str]]:
    """``(name, path, weight, role)`` of the mix, for ours or for tipg."""
    coll = f"/collections/public.{TIPG_LOAD_VIEW}" if tipg else "/ogc/collections/incidents"
    role = "public" if tipg else "analyst"
    out = []
    for i, (lon, lat) in enumerate(BOXES):
        box = f"{lon},{lat},{lon + BOX_W:.2f},{lat + BOX_H:.2f}"
        out.append((f"items bbox {i}", f"{coll}/items?bbox={box}&limit=100", 1, role))
        col, row = tile_of(lon + BOX_W / 2, lat + BOX_H / 2, ZOOM)
        tile = f"{ZOOM}/{col}/{row}" if tipg else f"{ZOOM}/{row}/{col}"
        out.append((f"tile {i}", f"{coll}/tiles/WebMercatorQuad/{tile}", 1, role))
    for i, fid in enumerate(ids):
        shown = fid.replace("/", ":") if tipg else fid
        out.append((f"item {i}", f"{coll}/items/{quote(shown, safe='')}", 1, role))
    return out


def some_ids(store, k: int = 6) -> list[str]:
    """``k`` incident ids spread over the table."""
    from geodata.stores import IncidentQuery

    ids = store.query_incidents(IncidentQuery(columns=["id"]))["id"].to_pylist()
    return [ids[(i * len(ids)) // k + 7] for i in range(k)]


def drive(base: str, pid: int, reqs: list, key: str | None, args, workdir: Path) -> dict:
    """One load run (``benchmarks.load_api --drive`` in its own process) against ``base``."""
    plan = {
        "base": base,
        "server_pid": pid,
        "partner_key": key,
        "roles": sorted({r for *_, r in reqs}),
        "requests": reqs,
        "users": args.users,
        "spawn_rate": args.users,
        "warmup_s": args.warmup,
        "duration_s": args.duration,
        "max_requests": 1_000_000,
        "wait_s": 0.0,
    }
    path = workdir / "plan.json"
    path.write_text(json.dumps(plan))
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.load_api", "--drive", str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=args.warmup + args.duration + 180,
    )
    if done.returncode != 0:
        raise RuntimeError(f"the load driver failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _median(runs: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def summary(name: str, runs: list[dict]) -> str:
    """One line: medians over rounds (spread of p99 in brackets), errors summed."""
    p99s = sorted(r["p99_ms"] for r in runs)
    errors = sum(r["errors"] for r in runs)
    return (
        f"{name:14s} {runs[0]['users']} clients, {len(runs)} rounds: "
        f"p50 {_median(runs, 'p50_ms'):.1f} ms  p95 {_median(runs, 'p95_ms'):.1f} ms  "
        f"p99 {_median(runs, 'p99_ms'):.1f} ms ({p99s[0]:.0f}–{p99s[-1]:.0f})  "
        f"{_median(runs, 'rps'):,.0f} req/s  errors {errors}  "
        f"server CPU {_median(runs, 'server_cpu_ms_per_request'):.2f} ms/request"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--warmup", type=float, default=5.0)
    parser.add_argument("--duration", type=float, default=20.0, help="measured seconds")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--store", nargs="+", default=["postgis", "duckdb"])
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--tipg-python", default=os.environ.get("TIPG_PYTHON"))
    parser.add_argument("--verbose", action="store_true", help="every run's line")
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="uvicorn processes for tipg and ours on PostGIS (DuckDB takes one)",
    )
    args = parser.parse_args(argv)
    import psycopg

    from geodata.stores import DuckDBStore
    from geodata.stores.postgis import PostGISStore

    db_admin = admin_url(args.database_url)
    if db_admin is None:
        return 2  # tipg needs the PostGIS table, whichever store of ours runs
    url = _new_database(db_admin)
    results: dict[str, list[dict]] = {}
    try:
        with tempfile.TemporaryDirectory(prefix="hotspots-ogc-load-") as tmp:
            folder = Path(tmp)
            base_env = {k: v for k, v in os.environ.items() if not k.startswith("HOTSPOTS_")}
            base_env["HOTSPOTS_SECRET_KEY"] = os.urandom(24).hex()
            base_env["PYTHONPATH"] = os.pathsep.join(
                filter(None, [str(ROOT), base_env.get("PYTHONPATH")])
            )
            setups = []  # (name, env or None for tipg, key, requests)
            pg = PostGISStore(url)
            try:
                key = fill(pg, args.n, args.seed, folder)
                ids = some_ids(pg)
            finally:
                pg.close()
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute(TIPG_LOAD_SQL)
            if "postgis" in args.store:
                env = {**base_env, "HOTSPOTS_DATABASE_URL": url}
                setups.append(("ours postgis", env, key, requests(ids, False)))
            if "duckdb" in args.store:
                duck = DuckDBStore(folder / "bench.duckdb")
                try:
                    dkey = fill(duck, args.n, args.seed, folder)
                    dids = some_ids(duck)
                finally:
                    duck.close()
                env = {**base_env, "HOTSPOTS_DUCKDB_PATH": str(folder / "bench.duckdb")}
                setups.append(("ours duckdb", env, dkey, requests(dids, False)))
            if args.tipg_python:
                setups.append(("tipg postgis", None, None, requests(ids, True)))
            for i in range(args.rounds):
                k = i % len(setups)
                order = setups[k:] + setups[:k]
                for name, env, token, reqs in order[::-1] if i % 2 else order:
                    if env is None:
                        server = serving_tipg(args.tipg_python, url, TIPG_LOAD_VIEW, args.workers)
                    else:
                        many = args.workers if "HOTSPOTS_DATABASE_URL" in env else 1
                        server = serving("api.app:create_app", env, many)
                    with server as (base, pid):
                        r = drive(base, pid, reqs, token, args, folder)
                    results.setdefault(name, []).append(r)
                    if args.verbose:
                        print(describe(name, {"scenario": "ogc-mix", **r}), flush=True)
                        for kind, st in r["per_request"].items():
                            print(
                                f"    {kind:14s} n={st['n']:6,}  p50 {st['p50_ms']:.1f}  "
                                f"p99 {st['p99_ms']:.1f} ms"
                            )
                        for msg, n in r["error_kinds"].items():
                            print(f"    error x{n}: {msg}")
    finally:
        _drop_database(db_admin, url)
    print(
        f"OGC mixed load (items by bbox, single items, tiles z{ZOOM}), {args.n:,} incidents, "
        f"{args.workers} server process(es) on PostGIS; ours as an analyst (API key checked "
        f"on every request), tipg anonymous:"
    )
    for name, runs in results.items():
        print("  " + summary(name, runs))
    peer = results.get("tipg postgis")
    for name, runs in results.items():
        if peer and name != "tipg postgis":
            ratio = _median(peer, "p99_ms") / _median(runs, "p99_ms")
            rps = _median(runs, "rps") / _median(peer, "rps")
            print(
                f"  {name}: tipg p99 / ours p99 = {ratio:.1f}x, ours req/s / tipg req/s = "
                f"{rps:.1f}x (above 1: ours faster)"
            )
    if not peer:
        print("  tipg not run (pass --tipg-python, an interpreter with tipg)")
    return 1 if any(r["errors"] for runs in results.values() for r in runs) else 0


if __name__ == "__main__":
    sys.exit(main())
