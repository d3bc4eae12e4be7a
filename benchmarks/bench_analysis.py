"""Whole-analysis benchmark: what a user runs, from the store, with a study area.

Data: ``benchmarks.synthetic`` police.uk-like incidents (snapped to ~N/2.3
distinct points, density kept as at 100k by growing the square round
Gravesend), seed ``--seed``, over 24 months, written as police.uk street-level
records and imported into a DuckDB store with a study area: the data's square
less 1 km on every side (rows outside it are quarantined on import, and the
analysis clips to it as the district boundary). The import is set-up, not timed
(``--keep DIR`` keeps the store there and uses it again: a 5M import takes minutes).

Timed, each in a fresh process, ``--repeat`` times (median, min–max): what
``hotspots analyse`` runs (``api.usecases.analyse.analyse_store``: the store read,
study area, months, harm weights, ranking) for the README's three methods:

- ``gistar``: H3 res 9, k = 1, analytical Gi* (no permutations: the CLI's
  default, ``--permute`` off), with its temporal profiles and ranking;
- ``emerging``: emerging hot spot categories over the 24 months;
- ``dbscan``: eps 150 m, min_samples 10, cluster summaries and ranking.

Each run's stage times come from the run's provenance (``stages``); the line
under each method gives the median of every stage over the runs. Peak RSS is
the process's, store read included.

Floors, measured in fresh processes alternated with the analyses: the cheapest
known way to do each stage's work on the same store (``floors``): the needed
columns read as Arrow; the H3 index of the distinct points with h3ronpy; an
integer month index and the counts per cell and month; the k-rings of the
grid's cells (h3ronpy); the texts and counts a hotspot table needs (Arrow
factorise, bincount).

``--baseline DIR`` also runs ``--one`` from another checkout (e.g. ``git worktree
add /tmp/before <commit>``), alternated with ours, and prints the ratio.

Run: ``python -m benchmarks.bench_analysis [--sizes 100000 1000000 5000000] [--repeat 3]``
(the default sizes; the 5M store's import takes about a minute, its runs ~20-30 s each).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.fresh import alternate, rss_mb, run_child

STEPS = (
    ("gistar", {"method": "gistar", "resolution": 9}),
    ("emerging", {"method": "emerging", "resolution": 9}),
    ("dbscan", {"method": "dbscan", "eps_m": 150.0, "min_samples": 10}),
)
INSET_M = 1_000.0


def build_store(n: int, seed: int, folder: Path) -> dict:
    """Import N synthetic incidents into a DuckDB store with a study area (not timed)."""
    import geopandas as gpd
    import numpy as np
    import pandas as pd
    import shapely

    from benchmarks.synthetic import GRAVESEND_XY, square_side_m, synthetic_incidents
    from geodata.crs import BNG
    from geodata.ingest import context_for, import_records
    from geodata.readers.areas import read_boundaries
    from geodata.readers.police import POLICE_COLUMNS, POLICE_FIELDS
    from geodata.records import RawRecords
    from geodata.settings import IngestSettings
    from geodata.stores.duckdb_store import DuckDBStore
    from geodata.taxonomy import BY_SLUG

    data = synthetic_incidents(n, seed=seed, snapped=True, keep_density=True, months=24)
    half = square_side_m(n, True) / 2 - INSET_M
    cx, cy = GRAVESEND_XY
    area = gpd.GeoDataFrame(
        {"LAD21CD": ["E07000109"], "LAD21NM": ["Synthetic study area"]},
        geometry=[shapely.box(cx - half, cy - half, cx + half, cy + half)],
        crs=BNG,
    ).to_crs("EPSG:4326")
    area_path = folder / "study-area.geojson"
    area.to_file(area_path, driver="GeoJSON")
    month = data["occurred_at"].dt.strftime("%Y-%m").to_numpy()
    names = {s: BY_SLUG[s].label for s in data["category"].unique()}
    frame = pd.DataFrame(
        {
            "Crime ID": [f"s{i:08d}" for i in range(n)],
            "Month": month,
            "Reported by": "Kent Police",
            "Falls within": "Kent Police",
            "Longitude": np.char.mod("%.6f", data["lon"].to_numpy()),
            "Latitude": np.char.mod("%.6f", data["lat"].to_numpy()),
            "Location": data["location"].to_numpy(),
            "LSOA code": "",
            "LSOA name": "",
            "Crime type": data["category"].map(names).to_numpy(),
            "Last outcome category": "",
            "Context": "",
        }
    )[list(POLICE_COLUMNS)]
    records = (
        RawRecords(
            file=f"{m}-synthetic-street.csv",
            source="police-uk/kent",
            frame=part.reset_index(drop=True),
            fields=POLICE_FIELDS,
            coords="lonlat",
            date_style="month",
            batch_by_month=True,
            flag_far_outliers=True,
        )
        for m, part in frame.groupby("Month", sort=True)
    )
    store = DuckDBStore(str(folder / "bench.duckdb"))
    store.replace_boundaries(
        "district", read_boundaries(area_path, "district", analysis_crs=store.analysis_crs)
    )
    ctx = context_for(store, IngestSettings(study_area=area_path, study_area_buffer_m=0.0))
    t0 = time.perf_counter()
    report = import_records(store, records, ctx)
    stored = store.count_incidents()
    store.close()
    return {
        "rows": report.rows_read,
        "stored": stored,
        "import_seconds": time.perf_counter() - t0,
        "distinct_points": len(np.unique(data[["x", "y"]].to_numpy(), axis=0)),
        "area_km2": (2 * half / 1000) ** 2,
    }


def one(path: str, step: str) -> dict:
    """One timed analysis from the store in this fresh process."""
    from api.usecases.analyse import analyse_store
    from geodata.stores.duckdb_store import DuckDBStore
    from hotspots.analysis import AnalysisParams

    params = AnalysisParams(**dict(STEPS)[step])
    store = DuckDBStore(path)
    t0 = time.perf_counter()
    result = analyse_store(store, params)
    seconds = time.perf_counter() - t0
    store.close()
    prov = result.provenance.to_dict()
    return {
        "seconds": seconds,
        "hotspots": len(result.hotspots),
        "incidents": prov.get("n_incidents"),
        "stages": prov.get("stages") or {},
        "peak_mb": rss_mb("VmHWM"),
    }


#: the floor each stage of ours is set against (stages not listed have none here)
FLOOR_OF = {
    "coverage": None,
    "read": "read",
    "months+area": None,
    "grid": "index+aggregate",
    "cell polygons": None,  # the hot cells' only (the whole grid's took 2-5 s at 5M)
    "statistics": "k-ring",
    "hotspot table": "table",
    "outlines": None,
    "cluster summary": "table",
}
NEEDED = ("x", "y", "lon", "lat", "category", "occurred_at", "occurred_precision", "location",
          "batch_id", "source")  # fmt: skip


def floors(path: str) -> dict:
    """The cheapest known way to do each stage's work on this store, in this fresh process."""
    import duckdb
    import h3ronpy
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import shapely
    from h3.api import basic_int as h3i
    from h3ronpy import vector as h3vector

    out: dict[str, float] = {}
    t = time.perf_counter()
    con = duckdb.connect(path, read_only=True)
    table = con.sql(f"SELECT {', '.join(NEEDED)} FROM incidents").to_arrow_table()
    area = con.sql("SELECT min(lon), min(lat), max(lon), max(lat) FROM incidents").fetchall()[0]
    con.close()
    out["read"] = time.perf_counter() - t

    t = time.perf_counter()
    lat, lon = table.column("lat").to_numpy(), table.column("lon").to_numpy()
    pairs, inverse = np.unique(lat + 1j * lon, return_inverse=True)
    ids = np.asarray(h3vector.coordinates_to_cells(pairs.real.copy(), pairs.imag.copy(), 9))
    cell_ids, cell_of_pair = np.unique(ids.astype(np.int64), return_inverse=True)
    cell = cell_of_pair[inverse]
    month = np.asarray(table.column("occurred_at").to_numpy(), "datetime64[M]").astype(np.int64)
    month -= month.min()
    n_m = int(month.max()) + 1
    np.bincount(cell * n_m + month, minlength=cell_ids.size * n_m)
    out["index+aggregate"] = time.perf_counter() - t

    box = shapely.box(*area)
    grid = np.union1d(
        np.array(h3i.h3shape_to_cells(shapely_to_h3(box), 9), dtype=np.int64), cell_ids
    )
    t = time.perf_counter()
    disks = pa.array(h3ronpy.grid_disk(pa.array(grid.astype(np.uint64)), 1))
    np.searchsorted(grid, np.asarray(disks.values).astype(np.int64))
    out["k-ring"] = time.perf_counter() - t

    t = time.perf_counter()
    for column in ("category", "location"):
        codes, _ = pd.factorize(pd.Series(table.column(column), dtype=pd.ArrowDtype(pa.string())))
        np.unique(cell.astype(np.int64) * (int(codes.max()) + 1) + codes, return_counts=True)
    np.bincount(cell, minlength=grid.size)
    out["table"] = time.perf_counter() - t
    return {"floors": out, "cells": int(grid.size), "peak_mb": rss_mb("VmHWM")}


def shapely_to_h3(poly):
    """A lon/lat shapely polygon as an H3 shape (H3 takes lat, lng)."""
    import h3

    return h3.LatLngPoly([(lat, lon) for lon, lat in poly.exterior.coords])


def _fmt(values: list[float]) -> str:
    return f"{statistics.median(values):.2f} s ({min(values):.2f}–{max(values):.2f})"


def _load_average() -> str:
    try:
        return Path("/proc/loadavg").read_text().split()[0]
    except OSError:
        return "?"


def _store(n: int, seed: int, keep: str | None, tmp: str) -> tuple[str, dict]:
    """The store of N incidents (built now, or kept from an earlier run) and its facts."""
    folder = Path(keep) / f"n{n}-seed{seed}" if keep else Path(tmp)
    info_path = folder / "info.json"
    if keep and info_path.exists() and (folder / "bench.duckdb").exists():
        return str(folder / "bench.duckdb"), json.loads(info_path.read_text())
    folder.mkdir(parents=True, exist_ok=True)
    info = run_child("benchmarks.bench_analysis", ["--seed", str(seed), "--build", str(n),
                                                   str(folder)])  # fmt: skip
    info_path.write_text(json.dumps(info))
    return str(folder / "bench.duckdb"), info


def _baseline_child(src: str, db: str, step: str) -> dict:
    """``--one`` run from another checkout (its own modules first on the path)."""
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_analysis", "--one", db, step],
        cwd=src,
        env={**os.environ, "PYTHONPATH": src},
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode:
        raise RuntimeError(f"baseline {step} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _measure(db: str, repeat: int, baseline: str | None) -> dict[str, list[dict]]:
    """Every kind (methods, floors, baseline methods) ``repeat`` times in fresh processes,
    the order reversed every round."""
    kinds = (
        [s for s, _ in STEPS] + ["floors"] + ([f"before:{s}" for s, _ in STEPS] if baseline else [])
    )

    def run(kind: str, _round: int) -> dict:
        if kind == "floors":
            return run_child("benchmarks.bench_analysis", ["--floors", db])
        if kind.startswith("before:"):
            return _baseline_child(baseline, db, kind.split(":", 1)[1])
        return run_child("benchmarks.bench_analysis", ["--one", db, kind])

    return alternate(kinds, run, repeat)


def _stage_line(runs: list[dict], floor: dict[str, float]) -> str:
    names = list(dict.fromkeys(k for r in runs for k in r["stages"]))
    parts = []
    for name in names:
        v = statistics.median(r["stages"].get(name, 0.0) for r in runs)
        if v < 0.005 and name not in FLOOR_OF:
            continue
        f = FLOOR_OF.get(name)
        parts.append(f"{name} {v:.2f}" + (f" (floor {f} {floor[f]:.2f})" if f in floor else ""))
    return "    stages (median s): " + ", ".join(parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000, 5_000_000])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=3, help="fresh-process runs (>= 3)")
    parser.add_argument("--keep", help="folder to keep the built stores in and use them again")
    parser.add_argument("--baseline", help="another checkout whose analyses run alternated")
    parser.add_argument("--build", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--one", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--floors", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.build:
        n, folder = args.build
        print(json.dumps(build_store(int(n), args.seed, Path(folder))))
        return 0
    if args.one:
        print(json.dumps(one(*args.one)))
        return 0
    if args.floors:
        print(json.dumps(floors(args.floors)))
        return 0
    repeat = max(3, args.repeat)
    print(
        "whole analysis from a DuckDB store with a study area "
        "(api.usecases.analyse.analyse_store, "
        f"as `hotspots analyse`); median of {repeat} fresh-process runs (min–max) per method, "
        f"methods, floors{' and the baseline' if args.baseline else ''} alternated round by "
        f"round; load average {_load_average()} at the start",
        flush=True,
    )
    totals = {}
    for n in args.sizes:
        with tempfile.TemporaryDirectory() as tmp:
            db, info = _store(n, args.seed, args.keep, tmp)
            runs = _measure(db, repeat, args.baseline)
        floor = {
            k: statistics.median(r["floors"][k] for r in runs["floors"])
            for k in runs["floors"][0]["floors"]
        }
        total = sum(statistics.median(r["seconds"] for r in runs[s]) for s, _ in STEPS)
        totals[n] = total
        print(
            f"N={n:,} generated, {info['stored']:,} stored inside the {info['area_km2']:,.0f} "
            f"km² study area ({info['distinct_points']:,} distinct points before clipping; "
            f"import {info['import_seconds']:.1f} s, not timed), seed {args.seed}, "
            f"load average now {_load_average()}:",
            flush=True,
        )
        for step, params in STEPS:
            r = runs[step]
            print(
                f"  {step} {params}: {_fmt([x['seconds'] for x in r])}, "
                f"{r[0]['hotspots']:,} hotspots, peak {max(x['peak_mb'] for x in r):,.0f} MB",
                flush=True,
            )
            print(_stage_line(r, floor), flush=True)
            if args.baseline:
                b = runs[f"before:{step}"]
                ratio = statistics.median(x["seconds"] for x in b) / statistics.median(
                    x["seconds"] for x in r
                )
                same = "same" if b[0]["hotspots"] == r[0]["hotspots"] else "DIFFERENT"
                print(
                    f"    baseline {args.baseline}: {_fmt([x['seconds'] for x in b])}, "
                    f"{b[0]['hotspots']:,} hotspots ({same} count), peak "
                    f"{max(x['peak_mb'] for x in b):,.0f} MB: ours {ratio:.2f}× faster",
                    flush=True,
                )
        floor_total = sum(floor.values())
        print(
            f"  floors (median s, {runs['floors'][0]['cells']:,} grid cells): "
            + ", ".join(f"{k} {v:.2f}" for k, v in floor.items())
            + f"; sum {floor_total:.2f} s",
            flush=True,
        )
        print(
            f"  total of medians {total:.2f} s, {total / n * 1e6:.2f} µs per incident",
            flush=True,
        )
        if args.baseline:
            before = sum(
                statistics.median(r["seconds"] for r in runs[f"before:{s}"]) for s, _ in STEPS
            )
            print(f"  baseline total {before:.2f} s: ours {before / total:.2f}× faster", flush=True)
    sizes = sorted(totals)
    for a, b in itertools.pairwise(sizes):  # the target: 1M to 5M within 1.3×
        print(
            f"growth: time per incident at N={b:,} is "
            f"{(totals[b] / b) / (totals[a] / a):.2f} × that at N={a:,} (1.00 = linear)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
