"""What the API pays while command-line work runs through it (the shared embedded store).

``hotspots serve`` holds the Gravesham demo's DuckDB file; one client GETs three
routes in turn (a run's hotspots, a page of 200 incidents, the coverage table)
with no think time. Measured, alternating, ``--repeat`` times each:

- **idle** (the baseline): nothing else runs, for ``--seconds``;
- **import**: ``hotspots import police`` of ``--n`` synthetic incidents (12 monthly
  files) runs through the service meanwhile;
- **analyse**: ``hotspots analyse --method dbscan`` (it reads every incident
  through the service) runs meanwhile.

Printed per phase and route: requests, p50 / p95 / max in ms, errors, and the p50 and
p95 ratio against idle measured in the same run.

    .venv/bin/python -m benchmarks.bench_shared_store [--n 50000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

from .bench_ogc import police_csvs

HOTSPOTS = Path(sys.executable).with_name("hotspots")
ROUTES = ("hotspots", "incidents", "coverage")


def _env(store: Path) -> dict[str, str]:
    env = {**os.environ, "HOTSPOTS_DUCKDB_PATH": str(store)}
    env.setdefault("HOTSPOTS_SECRET_KEY", "bench-shared-store-" + "x" * 32)
    env.pop("HOTSPOTS_DATABASE_URL", None)
    return env


def _cli(store: Path, *args: str) -> str:
    done = subprocess.run(
        [str(HOTSPOTS), *args], env=_env(store), capture_output=True, text=True, check=True
    )
    return done.stdout


def _serve(store: Path, port: int) -> subprocess.Popen:
    proc = subprocess.Popen(
        [str(HOTSPOTS), "serve", "--store", str(store), "--port", str(port)],
        env=_env(store),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(300):
        try:
            httpx.get(f"http://127.0.0.1:{port}/health", timeout=1)
            return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("hotspots serve did not start")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _sample(client: httpx.Client, paths: dict, seconds: float, work=None) -> list:
    """(route, seconds, status) of GETs for ``seconds``, or while ``work`` runs."""
    out, stop, i = [], time.monotonic() + seconds, 0
    while (work.is_alive() if work else time.monotonic() < stop) or i < len(paths):
        name = ROUTES[i % len(ROUTES)]
        t0 = time.perf_counter()
        status = client.get(paths[name]).status_code
        out.append((name, time.perf_counter() - t0, status))
        i += 1
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=50_000, help="incidents the import adds")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of an idle window")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)

    from geodata.demo import load_demo
    from geodata.stores import DuckDBStore

    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        demo = base / "demo.duckdb"
        with DuckDBStore(demo) as st:
            load_demo(st)
        files = base / "police"
        files.mkdir()
        police_csvs(args.n, 7, files)
        results: dict[str, list] = {"idle": [], "import": [], "analyse": []}
        for _ in range(args.repeat):
            store = base / "live.duckdb"
            shutil.copyfile(demo, store)
            run_id = json.loads(_cli(store, "analyse", "--method", "gistar", "--json"))["run_id"]
            key = json.loads(_cli(store, "keys", "create", "bench", "--role", "analyst", "--json"))
            port = _free_port()
            server = _serve(store, port)
            paths = {
                "hotspots": f"/runs/{run_id}/hotspots",
                "incidents": "/incidents?limit=200",
                "coverage": "/coverage",
            }
            try:
                with httpx.Client(
                    base_url=f"http://127.0.0.1:{port}",
                    headers={"X-API-Key": key["key"]},
                    timeout=60,
                ) as client:
                    _sample(client, paths, 1.0)  # warm up
                    results["idle"] += _sample(client, paths, args.seconds)
                    for phase, cmd in (
                        ("import", ("import", "police", str(files))),
                        ("analyse", ("analyse", "--method", "dbscan")),
                    ):
                        work = threading.Thread(target=_cli, args=(store, *cmd))
                        work.start()
                        results[phase] += _sample(client, paths, 0, work)
                        work.join()
            finally:
                server.terminate()
                server.wait(30)
        _report(results, args)
    return 0


def _stats(rows: list, route: str) -> tuple[int, float, float, float, int]:
    v = sorted(s for r, s, _ in rows if r == route)
    errors = sum(1 for r, _, code in rows if r == route and code != 200)
    p95 = v[max(0, int(0.95 * len(v)) - 1)]
    return len(v), statistics.median(v) * 1e3, p95 * 1e3, v[-1] * 1e3, errors


def _report(results: dict, args) -> None:
    print(
        f"API latency while command-line work runs through the served store "
        f"(1 client, {args.repeat} rounds; import of {args.n:,} incidents)"
    )
    print(f"{'phase':8s} {'route':10s} {'n':>5s} {'p50':>7s} {'p95':>7s} {'max':>7s} err  ×idle")
    for phase, rows in results.items():
        for route in ROUTES:
            n, p50, p95, top, err = _stats(rows, route)
            _, b50, b95, _, _ = _stats(results["idle"], route)
            ratio = f"p50 {p50 / b50:.2f}×, p95 {p95 / b95:.2f}×" if phase != "idle" else ""
            print(
                f"{phase:8s} {route:10s} {n:5d} {p50:6.1f}ms {p95:6.1f}ms {top:6.1f}ms "
                f"{err:3d}  {ratio}"
            )


if __name__ == "__main__":
    raise SystemExit(main())
