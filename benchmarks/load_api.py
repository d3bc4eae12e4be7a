"""Load test of the web API: the Gravesham demo's hotspot GeoJSON at 50 concurrent clients.

What it does, in three processes so that the load generator and the server do
not share a Python interpreter (or a GIL):

1. *prepare* (this process): loads the Gravesham demo (:mod:`geodata.demo`) into a
   fresh store — a DuckDB file in a temporary folder, or a new PostGIS database
   made next to ``--database-url`` and dropped afterwards — runs the two demo
   analyses (DBSCAN and Gi*) and makes a ``partner`` API key;
2. *serve*: ``uvicorn --factory benchmarks.load_api:bench_app`` on a free
   loopback port (``127.0.0.1`` only), configured through
   ``HOTSPOTS_*`` variables exactly as ``hotspots serve`` would be;
3. *drive*: locust (headless, as a library, ``FastHttpUser``, no think time)
   with ``--users`` clients, half anonymous (the ``public`` role) and half with the
   partner key. Every URL is fetched once before the load (it must succeed); under
   load every response must have the status (200, or 204 for an empty tile) and the
   length of that first answer, else it counts as an error. Statistics cover only
   the measured window after ramp-up and ``--warmup`` seconds; the run stops at
   ``--duration`` seconds or
   ``--max-requests`` requests, whichever comes first.

Scenarios (``--scenario``):

``hotspots``
    ``GET /runs/{run_id}/hotspots`` of both demo runs (the route the map and the
    share links use), both roles;
``mix``
    that, plus OGC API – Features requests: hotspot items (two pages), a single
    hotspot item, ward items, and a page of incidents in a bbox (partners);
``naive``
    the hotspots route as first written, mounted at ``/bench/naive/...`` on the same
    app: read the run from the store, shape it for the role and ``json.dumps`` it on
    every request (the benchmark's baseline);
``floor``
    the same bytes as ``hotspots`` served by a bare Starlette app with no
    dependencies, store or middleware: the most this server stack can do.

CPU accounting: the client (locust) and the server are separate processes; the
CPU seconds of each during the measured window are reported as a share of one
core (100 % = one core busy). On a 2-core machine locust's share is CPU the
server could not use.

Run: ``python -m benchmarks.load_api [--store duckdb|postgis] [--scenario mix]
[--users 50] [--duration 30]``; ``--json`` prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEV_DATABASE_URL = "postgresql://postgres@127.0.0.1:55499/dev"
SCENARIOS = ("hotspots", "mix", "naive", "floor")
HOST = "127.0.0.1"
#: environment variables naming the benchmark's floor documents (written by ``prepare``)
FLOOR_ENV = "HOTSPOTS_BENCH_FLOOR_DIR"


# -- 1. prepare --------------------------------------------------------------------------------
def _admin(url: str, statement) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True, connect_timeout=5) as conn:
        conn.execute(statement)


def _new_database(admin_url: str) -> str:
    from psycopg import sql

    name = f"hotspots_load_{uuid.uuid4().hex[:8]}"
    _admin(admin_url, sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = admin_url.rsplit("/", 1)[0] + "/" + name
    _admin(url, sql.SQL("CREATE EXTENSION IF NOT EXISTS postgis"))
    return url


def _drop_database(admin_url: str, url: str) -> None:
    from psycopg import sql

    name = url.rsplit("/", 1)[1]
    _admin(
        admin_url, sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
    )


def fill_store(store) -> dict:
    """Load the demo into an open store, run the two demo analyses, add a partner key."""
    from api.cli.demo import DEMO_ANALYSES
    from api.security import new_api_key, now_utc
    from api.usecases.analyse import run_or_reuse
    from api.usecases.analysis_request import AnalysisRequest
    from geodata.demo import load_demo
    from geodata.model import ApiKeyRecord
    from hotspots.analysis import AnalysisParams

    load_demo(store)
    runs = {}
    for _, kw in DEMO_ANALYSES:
        request = AnalysisRequest(**kw).model_dump(mode="json", by_alias=True)
        params = AnalysisParams(**{**kw, "categories": tuple(kw["categories"])})
        run, _ = run_or_reuse(store, request, params)
        runs[run.method] = run.run_id
        first = (run.result.get("features") or [{}])[0]
        runs[f"{run.method}-first"] = str(first.get("id"))
    key_id, key, key_hash = new_api_key()
    store.add_api_key(ApiKeyRecord(key_id, "load test", "partner", key_hash, now_utc()))
    return {"runs": runs, "partner_key": key, "incidents": store.count_incidents()}


@contextmanager
def prepared(kind: str, workdir: Path, admin_url: str | None):
    """(server environment, facts) for a fresh demo store of ``kind``; cleaned up after."""
    from geodata.stores import DuckDBStore
    from geodata.stores.postgis import PostGISStore

    env = {k: v for k, v in os.environ.items() if not k.startswith("HOTSPOTS_")}
    env["HOTSPOTS_SECRET_KEY"] = secrets.token_urlsafe(48)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    url = None
    if kind == "duckdb":
        path = workdir / "load.duckdb"
        store = DuckDBStore(path)
        env["HOTSPOTS_DUCKDB_PATH"] = str(path)
    else:
        if not admin_url:
            raise SystemExit("PostGIS needs --database-url or HOTSPOTS_TEST_DATABASE_URL")
        url = _new_database(admin_url)
        store = PostGISStore(url)
        env["HOTSPOTS_DATABASE_URL"] = url
    try:
        try:
            facts = fill_store(store)
        finally:
            store.close()
        yield env, facts
    finally:
        if url:
            _drop_database(admin_url, url)  # type: ignore[arg-type]


# -- 2. serve ------------------------------------------------------------------------------------
def bench_app():
    """uvicorn factory: the service from ``HOTSPOTS_*``, plus the naive baseline route."""
    from api.app import create_app

    return add_naive_route(create_app())


def add_naive_route(app):
    """Mount ``/bench/naive/runs/{run_id}/hotspots``: the hotspots route as first written."""
    import json as stdjson

    from fastapi import Depends, Response

    from api.deps import current_caller, get_settings, get_store
    from api.disclosure import Disclosure
    from api.problems import Problem

    # (dependencies as defaults: this module's annotations are strings FastAPI cannot
    # resolve from inside this function)
    @app.get("/bench/naive/runs/{run_id}/hotspots", include_in_schema=False)
    def naive_hotspots(
        run_id: str,
        store=Depends(get_store),  # noqa: B008
        settings=Depends(get_settings),  # noqa: B008
        caller=Depends(current_caller),  # noqa: B008
    ) -> Response:
        """The hotspots route as first written: store read, shaping, json.dumps, each time."""
        run = store.get_run(run_id)
        if run is None:
            raise Problem(404, f"no run {run_id!r}")
        doc = Disclosure.for_role(caller.role, settings).run_view(run.result)
        return Response(stdjson.dumps(doc, default=str), media_type="application/geo+json")

    return app


def floor_app():
    """uvicorn factory: a bare Starlette app serving prepared bytes from ``$FLOOR_ENV``."""
    from starlette.applications import Starlette
    from starlette.responses import Response
    from starlette.routing import Route

    folder = Path(os.environ[FLOOR_ENV])
    docs = {p.stem: p.read_bytes() for p in folder.glob("*.geojson")}

    async def serve_doc(request):
        body = docs.get(request.path_params["name"])
        if body is None:
            return Response(b"not found", status_code=404)
        return Response(body, media_type="application/geo+json")

    return Starlette(routes=[Route("/floor/{name}", serve_doc)])


def _free_port() -> int:
    """A loopback port free now. (Not ``uvicorn --fd``: uvicorn takes that socket for a
    Unix one, so asyncio leaves Nagle on and answers stall ~40 ms on delayed ACKs.)"""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


@contextmanager
def serving(
    factory: str, env: dict, workers: int = 1, stack: str = "auto", timeout_s: float = 60.0
):
    """``(base URL, server pid)`` of uvicorn serving ``factory`` on a free loopback port."""
    port = _free_port()
    cmd = [
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        factory,
        "--host",
        HOST,
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--no-access-log",
        *(["--http", "h11", "--loop", "asyncio"] if stack == "plain" else []),
        "--log-level",
        "warning",
    ]
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=log)
        try:
            yield _wait_ready(proc, log, f"http://{HOST}:{port}", factory, timeout_s), proc.pid
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _wait_ready(proc: subprocess.Popen, log, base: str, factory: str, timeout_s: float) -> str:
    """``base`` once the server answers; its log in the error if it exits or hangs."""
    deadline = time.monotonic() + timeout_s
    probe = "/floor/none" if factory.endswith("floor_app") else "/health"
    while True:
        if proc.poll() is not None:
            log.seek(0)
            tail = log.read().decode(errors="replace")[-2000:]
            raise RuntimeError(f"the server exited with {proc.returncode}:\n{tail}")
        try:
            urllib.request.urlopen(base + probe, timeout=2).close()
            return base
        except urllib.error.HTTPError:
            return base  # it answers (404 for the floor's probe)
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"no answer from the server in {timeout_s:g} s") from None
            time.sleep(0.1)


# -- 3. drive -------------------------------------------------------------------------------------
def requests_for(scenario: str, facts: dict) -> list[tuple[str, str, int, str]]:
    """``(name, path, weight, role)`` of the requests a scenario makes; role ``any`` or one."""
    runs = facts["runs"]
    hot = [(f"hotspots {m}", f"/runs/{runs[m]}/hotspots", 3, "any") for m in ("dbscan", "gistar")]
    if scenario == "hotspots":
        return hot
    if scenario == "naive":
        return [(n, "/bench/naive" + p, w, r) for n, p, w, r in hot]
    if scenario == "floor":
        return [(f"hotspots {m}", f"/floor/{m}-{{role}}", 3, "any") for m in ("dbscan", "gistar")]
    ogc = "/ogc/collections"
    first = facts["runs"]["dbscan-first"]
    return [
        *hot,
        ("ogc gistar items p1", f"{ogc}/hotspots-gistar/items?limit=20", 1, "any"),
        ("ogc gistar items p2", f"{ogc}/hotspots-gistar/items?limit=20&offset=20", 1, "any"),
        ("ogc dbscan item", f"{ogc}/hotspots-dbscan/items/{first}", 1, "any"),
        ("ogc wards items", f"{ogc}/wards/items", 1, "any"),
        (
            "ogc incidents bbox",
            f"{ogc}/incidents/items?limit=100&bbox=0.36,51.43,0.38,51.45",
            1,
            "partner",
        ),
    ]


def _cpu_seconds(pid: int) -> float:
    import psutil

    procs = [psutil.Process(pid)]
    procs += procs[0].children(recursive=True)
    total = 0.0
    for p in procs:
        try:
            t = p.cpu_times()
        except psutil.Error:
            continue
        total += t.user + t.system
    return total


def _percentile(sorted_ms: list[float], q: float) -> float:
    if not sorted_ms:
        return float("nan")
    k = min(len(sorted_ms) - 1, max(0, math.ceil(q / 100 * len(sorted_ms)) - 1))
    return sorted_ms[k]  # nearest rank


def drive(plan: dict) -> dict:
    """Run locust in this process (monkey-patched by gevent) and return the measured window."""
    import gevent
    from locust import FastHttpUser, constant, task
    from locust.env import Environment

    base, key = plan["base"], plan["partner_key"]  # the key of every role but public
    reqs = plan["requests"]
    roles = plan.get("roles", ["public", "partner"])  # the clients' roles, in turn
    state = {"measuring": False, "count": 0, "errors": {}, "times": {}}

    def headers(role: str) -> dict:
        return {"X-API-Key": key} if role != "public" else {}

    expected: dict[tuple[str, str], int] = {}
    statuses: dict[tuple[str, str], int] = {}  # 200, or 204 for an empty tile
    for role in roles:
        for name, path, _, need in reqs:
            if need not in ("any", role):
                continue
            url = base + path.replace("{role}", role)
            req = urllib.request.Request(url, headers=headers(role))
            try:
                with urllib.request.urlopen(req, timeout=30) as resp:
                    expected[(name, role)] = len(resp.read())
                    statuses[(name, role)] = resp.status
            except urllib.error.HTTPError as exc:
                raise RuntimeError(f"{url} as {role}: {exc} {exc.read()[:300]!r}") from None

    class Client(FastHttpUser):
        host = base
        wait_time = constant(plan["wait_s"])
        network_timeout = 30.0
        connection_timeout = 10.0
        number = 0

        def on_start(self) -> None:
            Client.number += 1
            self.role = roles[Client.number % len(roles)]
            self.mine = [
                (n, p.replace("{role}", self.role), w)
                for n, p, w, need in reqs
                if need in ("any", self.role)
            ]
            self.names = [n for n, _, w in self.mine for _ in range(w)]
            self.paths = {n: p for n, p, _ in self.mine}
            self.hdrs = headers(self.role)

        @task
        def fetch(self) -> None:
            name = self.names[secrets.randbelow(len(self.names))]
            with self.client.get(
                self.paths[name], headers=self.hdrs, name=name, catch_response=True
            ) as resp:
                want = expected[(name, self.role)]
                if resp.status_code != statuses[(name, self.role)]:
                    resp.failure(f"status {resp.status_code}")
                elif len(resp.content or b"") != want:
                    resp.failure(f"{len(resp.content or b'')} bytes, expected {want}")

    def on_request(name, response_time, exception, **_):
        if not state["measuring"]:
            return
        state["count"] += 1
        state["times"].setdefault(name, []).append(response_time)
        if exception is not None:
            msg = f"{name}: {exception}"[:200]
            state["errors"][msg] = state["errors"].get(msg, 0) + 1
        if state["count"] >= plan["max_requests"]:
            state["measuring"] = False
            gevent.spawn(runner.quit)

    env = Environment(user_classes=[Client])
    env.events.request.add_listener(on_request)
    runner = env.create_local_runner()
    runner.start(plan["users"], spawn_rate=plan["spawn_rate"])
    ramp = plan["users"] / plan["spawn_rate"]
    gevent.sleep(ramp + plan["warmup_s"])
    me = os.getpid()
    cpu0 = (_cpu_seconds(me), _cpu_seconds(plan["server_pid"]))
    t0 = time.perf_counter()
    state["measuring"] = True
    stopper = gevent.spawn_later(plan["duration_s"], runner.quit)
    runner.greenlet.join()
    stopper.kill()
    wall = time.perf_counter() - t0
    state["measuring"] = False
    client_cpu = _cpu_seconds(me) - cpu0[0]
    server_cpu = _cpu_seconds(plan["server_pid"]) - cpu0[1]
    every = sorted(t for ts in state["times"].values() for t in ts)
    return {
        "users": plan["users"],
        "window_s": wall,
        "requests": len(every),
        "rps": len(every) / wall if wall else 0.0,
        "errors": sum(state["errors"].values()),
        "error_kinds": state["errors"],
        **{f"p{q}_ms": _percentile(every, q) for q in (50, 95, 99)},
        "max_ms": every[-1] if every else float("nan"),
        "per_request": {
            name: {
                "n": len(ts),
                "p50_ms": _percentile(sorted(ts), 50),
                "p99_ms": _percentile(sorted(ts), 99),
            }
            for name, ts in sorted(state["times"].items())
        },
        "client_cpu_pct": 100 * client_cpu / wall if wall else 0.0,
        "server_cpu_ms_per_request": 1000 * server_cpu / len(every) if every else float("nan"),
        "load_average_1min": os.getloadavg()[0],
        "server_cpu_pct": 100 * server_cpu / wall if wall else 0.0,
        "bytes": {f"{n} ({r})": b for (n, r), b in expected.items()},
    }


def _write_floor(base: str, facts: dict, folder: Path) -> None:
    """The hotspots documents as the service serves them, for the floor app."""
    folder.mkdir(parents=True, exist_ok=True)
    for role in ("public", "partner"):
        hdrs = {"X-API-Key": facts["partner_key"]} if role == "partner" else {}
        for method in ("dbscan", "gistar"):
            url = f"{base}/runs/{facts['runs'][method]}/hotspots"
            with urllib.request.urlopen(urllib.request.Request(url, headers=hdrs)) as resp:
                (folder / f"{method}-{role}.geojson").write_bytes(resp.read())


def load(
    env: dict,
    facts: dict,
    scenario: str,
    *,
    users: int = 50,
    spawn_rate: float | None = None,
    warmup_s: float = 5.0,
    duration_s: float = 30.0,
    max_requests: int = 200_000,
    wait_s: float = 0.0,
    workers: int = 1,
    stack: str = "auto",
    workdir: Path,
) -> dict:
    """One load run of ``scenario`` against a fresh server on a prepared store."""
    if scenario not in SCENARIOS:
        raise ValueError(f"scenario must be one of {', '.join(SCENARIOS)}; got {scenario!r}")
    env = dict(env)
    factory = "benchmarks.load_api:bench_app"
    if scenario == "floor":
        with serving(factory, env) as (base, _):
            _write_floor(base, facts, workdir / "floor")
        env[FLOOR_ENV] = str(workdir / "floor")
        factory = "benchmarks.load_api:floor_app"
    with serving(factory, env, workers, stack) as (base, pid):
        plan = {
            "base": base,
            "server_pid": pid,
            "partner_key": facts["partner_key"],
            "requests": requests_for(scenario, facts),
            "users": users,
            "spawn_rate": spawn_rate or users,
            "warmup_s": warmup_s,
            "duration_s": duration_s,
            "max_requests": max_requests,
            "wait_s": wait_s,
        }
        plan_file = workdir / f"plan-{scenario}.json"
        plan_file.write_text(json.dumps(plan))
        budget = users / plan["spawn_rate"] + warmup_s + duration_s + 120
        proc = subprocess.run(
            [sys.executable, "-m", "benchmarks.load_api", "--drive", str(plan_file)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=budget,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"the load driver failed:\n{proc.stderr[-3000:]}")
        result = json.loads(proc.stdout.strip().splitlines()[-1])
    return {"scenario": scenario, "workers": workers, "stack": stack, "wait_s": wait_s, **result}


def describe(store: str, r: dict) -> str:
    return (
        f"{store:8s} {r['scenario']:8s} {r['users']} clients, {r['window_s']:.0f} s: "
        f"p50 {r['p50_ms']:.1f} ms  p95 {r['p95_ms']:.1f} ms  p99 {r['p99_ms']:.1f} ms  "
        f"max {r['max_ms']:.0f} ms  {r['rps']:,.0f} req/s  {r['requests']:,} requests  "
        f"errors {r['errors']}  |  CPU (100 % = one core): server {r['server_cpu_pct']:.0f} % "
        f"({r['server_cpu_ms_per_request']:.2f} ms per request), locust "
        f"{r['client_cpu_pct']:.0f} %; load average {r['load_average_1min']:.1f}"
    )


def admin_url(given: str | None = None) -> str | None:
    """The PostgreSQL URL to make the benchmark database next to, if one answers."""
    url = given or os.environ.get("HOTSPOTS_TEST_DATABASE_URL") or DEV_DATABASE_URL
    try:
        _admin(url, "SELECT 1")
    except Exception as exc:
        print(f"PostGIS at {url} does not answer ({type(exc).__name__}); skipping it")
        return None
    return url


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", choices=("duckdb", "postgis"), default="duckdb")
    parser.add_argument("--database-url", help="PostgreSQL URL to create a scratch database at")
    parser.add_argument("--scenario", choices=SCENARIOS, default="mix")
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--spawn-rate", type=float, help="users started per second (all at once)")
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds after ramp-up")
    parser.add_argument("--duration", type=float, default=30.0, help="measured seconds")
    parser.add_argument("--max-requests", type=int, default=200_000)
    parser.add_argument("--wait", type=float, default=0.0, help="think time per client, s")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    parser.add_argument(
        "--stack",
        choices=("auto", "plain"),
        default="auto",
        help="auto: uvicorn's fastest installed (httptools, uvloop); plain: h11 and asyncio",
    )
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--drive", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.drive:
        print(json.dumps(drive(json.loads(Path(args.drive).read_text()))))
        return 0
    if args.users < 1 or args.duration <= 0 or args.max_requests < 1:
        parser.error("--users, --duration and --max-requests must be positive")
    if args.store == "duckdb" and args.workers != 1:
        parser.error("the embedded DuckDB store takes one process: --workers 1")
    url = admin_url(args.database_url) if args.store == "postgis" else None
    if args.store == "postgis" and url is None:
        return 2
    with (
        tempfile.TemporaryDirectory(prefix="hotspots-load-") as tmp,
        prepared(args.store, Path(tmp), url) as (env, facts),
    ):
        result = load(
            env,
            facts,
            args.scenario,
            users=args.users,
            spawn_rate=args.spawn_rate,
            warmup_s=args.warmup,
            duration_s=args.duration,
            max_requests=args.max_requests,
            wait_s=args.wait,
            workers=args.workers,
            stack=args.stack,
            workdir=Path(tmp),
        )
    result["store"] = args.store
    if args.json:
        print(json.dumps(result))
    else:
        print(describe(args.store, result))
        for name, s in result["per_request"].items():
            print(f"    {name:22s} n={s['n']:6,}  p50 {s['p50_ms']:.1f}  p99 {s['p99_ms']:.1f} ms")
        for msg, n in result["error_kinds"].items():
            print(f"    error ×{n}: {msg}")
    return 1 if result["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
