"""Web API benchmark: the Gravesham demo's hotspot GeoJSON at 50 concurrent clients.

Target (issue 4): p99 under 100 ms and no errors at 50 concurrent clients, on
the 2-core reference machine, with the embedded DuckDB store and with PostGIS.

For each store the demo is loaded once (:mod:`benchmarks.load_api`); then, each
against a fresh uvicorn process on loopback, with the same locust clients
(``FastHttpUser``, no think time, half anonymous and half with a partner key,
the two demo runs' documents at random):

``ours``
    ``GET /runs/{run_id}/hotspots`` as served: the role-shaped GeoJSON kept in
    memory per (run, role) with its ETag (clients do not send If-None-Match, so
    every answer is the whole document);
``naive`` (baseline)
    the same route as first written, on the same app: read the run from the
    store, shape it for the role and ``json.dumps`` it on every request;
``floor``
    the same bytes from a bare Starlette app (no dependencies, store or
    middleware): what uvicorn and Starlette alone can do on this machine;
``mix``
    ours plus OGC API – Features items requests (hotspot pages, one hotspot, the
    ward aggregates, a page of incidents): reported per request kind, no target.

Each figure is the median of ``--repeat`` runs (min–max of p99 shown); the
percentiles within a run are nearest-rank over every request of its measured
window (after ramp-up and ``--warmup``). Client CPU: locust runs in its own
process; its CPU and the server's (the uvicorn process tree) are measured over
the window and printed as shares of one core, with the server's CPU time per
request, which depends much less than latency on what else the machine runs —
the 1-minute load average is printed for that reason.

Run: ``python -m benchmarks.bench_api [--repeat 3] [--duration 20]``; PostGIS from
``HOTSPOTS_TEST_DATABASE_URL`` or the dev database (skipped with a message when
none answers).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

from . import load_api

TARGET_P99_MS = 100.0


def _median(runs: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def _line(store: str, what: str, runs: list[dict]) -> str:
    p99 = [r["p99_ms"] for r in runs]
    return (
        f"{store:8s} {what:30s} p50 {_median(runs, 'p50_ms'):6.1f}  p95 "
        f"{_median(runs, 'p95_ms'):6.1f}  p99 {_median(runs, 'p99_ms'):6.1f} ms "
        f"({min(p99):.1f}–{max(p99):.1f})  {_median(runs, 'rps'):7,.0f} req/s  errors "
        f"{sum(r['errors'] for r in runs)}  |  server CPU {_median(runs, 'server_cpu_pct'):3.0f} % "
        f"({_median(runs, 'server_cpu_ms_per_request'):.2f} ms/req), locust "
        f"{_median(runs, 'client_cpu_pct'):3.0f} %, load avg "
        f"{_median(runs, 'load_average_1min'):.1f}"
    )


def bench_store(kind: str, admin_url: str | None, args) -> bool:
    """Print one line per scenario, the ratios and the verdict; True if no request failed."""
    runs: dict[str, list[dict]] = {}
    with (
        tempfile.TemporaryDirectory(prefix="hotspots-bench-api-") as tmp,
        load_api.prepared(kind, Path(tmp), admin_url) as (env, facts),
    ):
        for scenario in args.scenarios:
            runs[scenario] = [
                load_api.load(
                    env,
                    facts,
                    scenario,
                    users=args.users,
                    warmup_s=args.warmup,
                    duration_s=args.duration,
                    workers=args.postgis_workers if kind == "postgis" else 1,
                    stack=args.stack,
                    workdir=Path(tmp),
                )
                for _ in range(args.repeat)
            ]
    names = {
        "hotspots": "ours: hotspots GeoJSON",
        "naive": "baseline: naive route",
        "floor": "floor: bare Starlette bytes",
        "mix": "mix: hotspots + OGC items",
    }
    for scenario in args.scenarios:
        print(_line(kind, names[scenario], runs[scenario]), flush=True)
    if "mix" in runs:
        per: dict[str, list[dict]] = {}
        for r in runs["mix"]:
            for name, s in r["per_request"].items():
                per.setdefault(name, []).append(s)
        for name, ss in per.items():
            print(
                f"{'':8s}   mix · {name:22s} p50 {statistics.median(s['p50_ms'] for s in ss):6.1f}"
                f"  p99 {statistics.median(s['p99_ms'] for s in ss):6.1f} ms  "
                f"n {sum(s['n'] for s in ss):,}"
            )
    if "hotspots" in runs:
        ours = runs["hotspots"]
        for base in ("naive", "floor"):
            if base in runs:
                print(
                    f"{kind:8s} ours / {base}: requests/s × "
                    f"{_median(ours, 'rps') / _median(runs[base], 'rps'):.2f}, p99 × "
                    f"{_median(ours, 'p99_ms') / _median(runs[base], 'p99_ms'):.2f}"
                )
        p99, errors = _median(ours, "p99_ms"), sum(r["errors"] for r in ours)
        met = p99 < TARGET_P99_MS and errors == 0
        print(
            f"{kind:8s} target p99 < {TARGET_P99_MS:g} ms and no errors at {args.users} "
            f"clients: {'meets' if met else 'MISSES'} (p99 {p99:.1f} ms, {errors} errors)"
        )
    return not any(r["errors"] for rs in runs.values() for r in rs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--warmup", type=float, default=5.0)
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--stores", nargs="+", choices=("duckdb", "postgis"))
    parser.add_argument(
        "--scenarios", nargs="+", choices=load_api.SCENARIOS, default=load_api.SCENARIOS
    )
    parser.add_argument("--postgis-workers", type=int, default=1)
    parser.add_argument("--stack", choices=("auto", "plain"), default="auto")
    parser.add_argument("--database-url", help="PostgreSQL URL to create a scratch database at")
    args = parser.parse_args(argv)
    stores = args.stores or ["duckdb", "postgis"]
    print(
        f"web API benchmark: {args.users} concurrent clients, no think time, "
        f"{args.warmup:g} s warm-up then {args.duration:g} s measured, median of "
        f"{args.repeat} runs; server and locust in separate processes on 127.0.0.1"
    )
    ok = True
    for kind in stores:
        admin = None
        if kind == "postgis":
            admin = load_api.admin_url(args.database_url)
            if admin is None:
                print("postgis  skipped: no PostgreSQL answers (set HOTSPOTS_TEST_DATABASE_URL)")
                continue
        ok = bench_store(kind, admin, args) and ok
    return 0 if ok else 1  # timings that miss the target print MISSES but do not fail


if __name__ == "__main__":
    sys.exit(main())
