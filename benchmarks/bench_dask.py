"""The analysis on a Dask ``LocalCluster`` against the single-machine path (issue 16).

Data: ``benchmarks.synthetic`` police.uk-like incidents (snapped to ~N/2.3 distinct
points) over **England and Wales' area** (a square of 151,000 km², 388.6 km across,
its clusters 40 per 900 km² as at Gravesend) and **36 months**, seed ``--seed``. The
density grows with N as real data does over the same land: 5M is ≈ 33 incidents per
km² over three years, 20M (≈ three years of England and Wales) ≈ 130. Written once
to Parquet and read by each run before its clock starts: **the runs start from data in
memory**, not from a store (the store read is measured in ``bench_analysis``).

Timed, each size, ``--repeat`` rounds of fresh processes, ours and the peer
alternated (order reversed every round, ``BENCHMARKS.md``):

- ``single``: :func:`hotspots.analysis.run_analysis` in one process (the peer);
- ``dask``: the same call with a :class:`hotspots.scaleout.DaskEngine` on a
  ``LocalCluster`` of ``--workers`` single-threaded worker processes with
  ``--memory-limit`` each (the cluster is started before the clock).

Each run does the whole pipeline for the three distributed methods — ``gistar``
(res 9, k = 1, analytical), ``emerging`` (res 9, 36 months) and ``dbscan``
(eps 150 m, min_samples 10) — with the bounding square as study area, and checks that
both paths give the same hotspots (run ids, hotspot ids, ranks: printed as
``same``). Printed per size: time (median, min–max), time per incident, peak RSS of
the driving process and, for Dask, the largest worker's peak RSS (each worker's
``VmHWM``, read on the worker at the end), and the ratio single / dask. Not
``ru_maxrss``: Linux carries it across ``exec``, so a worker process spawned (fork,
then exec) by a driver already holding 20M incidents reported the driver's 5.4 GB
while its own peak was about 1.2 GB.

Apache Sedona (``sedona.stats``) is not measured: pyspark (PyPI) and OpenJDK (Debian)
are reachable here, but Sedona's Spark jars come from the Maven registry, which this
machine cannot reach (``repo1.maven.org`` does not resolve); the line says so.

Run: ``python -m benchmarks.bench_dask [--sizes 1000000 5000000] [--repeat 3]``;
``--sizes 20000000 --repeat 1`` for the 20M row (≈ 10 GB for the driver either way).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.fresh import alternate, fmt, median, rss_mb, run_child

EW_KM2 = 151_000.0
SIDE_M = math.sqrt(EW_KM2) * 1_000.0
MONTHS = 36
PARAMS = (
    ("gistar", {"method": "gistar", "resolution": 9}),
    ("emerging", {"method": "emerging", "resolution": 9}),
    ("dbscan", {"method": "dbscan", "eps_m": 150.0, "min_samples": 10}),
)


def data_file(n: int, seed: int, folder: Path, side_m: float = SIDE_M) -> Path:
    path = folder / f"ew-{n}-{seed}.parquet" if side_m == SIDE_M else folder / f"{n}-{seed}.parquet"
    if not path.exists():
        from benchmarks.synthetic import synthetic_incidents

        frame = synthetic_incidents(n, seed=seed, side_m=side_m, snapped=True, months=MONTHS)
        frame["harm"] = 1.0
        frame["occurred_precision"] = "month"
        frame["batch_id"] = "police-uk/synthetic"
        frame["source"] = "police-uk/synthetic"
        frame.to_parquet(path)
    return path


def study_area(side_m: float = SIDE_M):
    import shapely

    from benchmarks.synthetic import GRAVESEND_XY
    from geodata.crs import BNG, xy_to_lonlat

    half = side_m / 2
    cx, cy = GRAVESEND_XY
    xs = [cx - half, cx + half, cx + half, cx - half]
    ys = [cy - half, cy - half, cy + half, cy + half]
    lon, lat = xy_to_lonlat(xs, ys, BNG)
    return shapely.Polygon(zip(lon, lat))


def one(kind: str, path: str, workers: int, memory_limit: str, side_m: float = SIDE_M) -> dict:
    """One fresh process: the three analyses, single or on a LocalCluster."""
    import pandas as pd

    from hotspots.analysis import AnalysisParams, run_analysis

    data = pd.read_parquet(path)
    area = study_area(side_m)
    engine_cm = None
    engine = None
    if kind == "dask":
        from hotspots.scaleout import open_engine

        engine_cm = open_engine("local", workers=workers, memory_limit=memory_limit)
        engine = engine_cm.__enter__()
    seconds: dict[str, float] = {}
    digest: dict[str, list] = {}
    t_all = time.perf_counter()
    for name, p in PARAMS:
        t0 = time.perf_counter()
        result = run_analysis(data, AnalysisParams(**p), area_lonlat=area, engine=engine)
        seconds[name] = time.perf_counter() - t0
        table = result.hotspots
        digest[name] = [result.run_id, len(table), table["hotspot_id"].head(50).tolist()]
    total = time.perf_counter() - t_all
    worker_mb = 0.0
    if engine is not None:
        peaks = engine.client.run(rss_mb, "VmHWM")  # this worker's own peak (see above)
        worker_mb = max(peaks.values())
        engine_cm.__exit__(None, None, None)
    return {
        "seconds": total,
        "stages": seconds,
        "digest": digest,
        "driver_mb": rss_mb("VmHWM"),
        "worker_mb": worker_mb,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 5_000_000])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--seed", type=int, default=16)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--memory-limit", default="3GB")
    ap.add_argument("--data", type=Path, help="folder to keep the generated Parquet in")
    ap.add_argument("--side-km", type=float, default=SIDE_M / 1000, help=argparse.SUPPRESS)
    ap.add_argument("--one", nargs=2, metavar=("KIND", "PATH"), help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.one:
        side = a.side_km * 1000
        print(json.dumps(one(a.one[0], a.one[1], a.workers, a.memory_limit, side)))
        return 0
    folder = a.data or Path(tempfile.mkdtemp(prefix="bench-dask-"))
    folder.mkdir(parents=True, exist_ok=True)
    print(
        f"synthetic police.uk-like incidents over {EW_KM2:,.0f} km² ({SIDE_M / 1000:.1f} km "
        f"square), {MONTHS} months, seed {a.seed}; from data in memory (Parquet read before "
        f"the clock); LocalCluster of {a.workers} single-threaded workers, {a.memory_limit} "
        f"each; {os.cpu_count()} cores; load average {os.getloadavg()[0]:.1f}"
    )
    print("methods per run: gistar res 9 (analytical), emerging res 9, dbscan 150 m / 10")
    header = f"{'N':>11}  {'single':<28} {'dask':<28} {'ratio':>6}  per incident (µs)   memory"
    print(header)
    for n in a.sizes:
        path = data_file(n, a.seed, folder)
        extra = ["--workers", str(a.workers), "--memory-limit", a.memory_limit]
        args = [*extra, "--one", "{kind}", str(path)]
        runs = alternate(
            ("single", "dask"),
            lambda kind, _i, args=args: run_child(
                "benchmarks.bench_dask", [v.replace("{kind}", kind) for v in args]
            ),
            a.repeat,
        )
        same = all(r["digest"] == runs["single"][0]["digest"] for r in runs["dask"])
        s, d = median(runs["single"]), median(runs["dask"])
        per = f"{s / n * 1e6:.2f} vs {d / n * 1e6:.2f}"
        mem = (
            f"driver {max(r['driver_mb'] for r in runs['single']) / 1024:.2f} GB single, "
            f"{max(r['driver_mb'] for r in runs['dask']) / 1024:.2f} GB dask; largest worker "
            f"{max(r['worker_mb'] for r in runs['dask']) / 1024:.2f} GB"
        )
        print(
            f"{n:>11,}  {fmt(runs['single']):<28} {fmt(runs['dask']):<28} {s / d:>5.2f}×  "
            f"{per}   {mem}; {'same' if same else 'DIFFERENT'} hotspots"
        )
        for kind in ("single", "dask"):
            stages = {
                k: round(sorted(r["stages"][k] for r in runs[kind])[len(runs[kind]) // 2], 2)
                for k in runs[kind][0]["stages"]
            }
            print(f"{'':>11}  {kind}: {stages}")
        sys.stdout.flush()
    print(
        "Apache Sedona (sedona.stats DBSCAN, Gi*): not measured: its Spark jars come from the "
        "Maven registry, which this machine cannot reach (pyspark and OpenJDK alone are not it)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
