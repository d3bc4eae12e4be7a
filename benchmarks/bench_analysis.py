"""Whole-analysis benchmark: what a user runs, from the store, with a study area.

Data: ``benchmarks.synthetic`` police.uk-like incidents (snapped to ~N/2.3
distinct points, density kept as at 100k by growing the square round
Gravesend), seed ``--seed``, over 24 months, written as police.uk street-level
records and imported into a DuckDB store with a study area: the data's square
less 1 km on every side (rows outside it are quarantined on import, and the
analysis clips to it as the district boundary). The import is set-up, not timed.

Timed, each in a fresh process, ``--repeat`` times (median, min–max): what
``hotspots analyse`` runs (``api.service.analyse_store``: the store read,
study area, months, harm weights, ranking) for the README's three methods:

- ``gistar``: H3 res 9, k = 1, analytical Gi* (no permutations: the CLI's
  default, ``--permute`` off), with its temporal profiles and ranking;
- ``emerging``: emerging hot spot categories over the 24 months;
- ``dbscan``: eps 150 m, min_samples 10, cluster summaries and ranking.

Each run's stage times come from the run's provenance (``stages``) where the
analysis records them. Peak RSS is the process's, store read included.

Run: ``python -m benchmarks.bench_analysis [--sizes 100000 1000000] [--repeat 3]``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.fresh import rss_mb, run_child

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
    from api.service import analyse_store
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


def _fmt(values: list[float]) -> str:
    return f"{statistics.median(values):.2f} s ({min(values):.2f}–{max(values):.2f})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=3, help="fresh-process runs (>= 3)")
    parser.add_argument("--build", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--one", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.build:
        n, folder = args.build
        print(json.dumps(build_store(int(n), args.seed, Path(folder))))
        return 0
    if args.one:
        print(json.dumps(one(*args.one)))
        return 0
    repeat = max(3, args.repeat)
    print(
        f"whole analysis from a DuckDB store with a study area (api.service.analyse_store, "
        f"as `hotspots analyse`); median of {repeat} fresh-process runs (min–max) per method, "
        "methods interleaved round by round",
        flush=True,
    )
    totals = {}
    for n in args.sizes:
        with tempfile.TemporaryDirectory() as tmp:
            info = run_child("benchmarks.bench_analysis", ["--seed", str(args.seed), "--build",
                                                           str(n), tmp])  # fmt: skip
            db = str(Path(tmp) / "bench.duckdb")
            runs: dict[str, list[dict]] = {s: [] for s, _ in STEPS}
            for i in range(repeat):
                order = [s for s, _ in STEPS]
                for step in order if i % 2 == 0 else order[::-1]:
                    runs[step].append(run_child("benchmarks.bench_analysis", ["--one", db, step]))
            total = sum(statistics.median(r["seconds"] for r in runs[s]) for s, _ in STEPS)
            totals[n] = total
            print(
                f"N={n:,} generated, {info['stored']:,} stored inside the {info['area_km2']:,.0f} "
                f"km² study area ({info['distinct_points']:,} distinct points before clipping; "
                f"import {info['import_seconds']:.1f} s, not timed), seed {args.seed}:",
                flush=True,
            )
            for step, params in STEPS:
                r = runs[step]
                stages = r[0]["stages"]
                stage_txt = (
                    " | stages (first run): "
                    + ", ".join(f"{k} {v:.2f} s" for k, v in stages.items())
                    if stages
                    else ""
                )
                print(
                    f"  {step} {params}: {_fmt([x['seconds'] for x in r])}, "
                    f"{r[0]['hotspots']:,} hotspots, peak {max(x['peak_mb'] for x in r):,.0f} MB"
                    f"{stage_txt}",
                    flush=True,
                )
            print(
                f"  total of medians {total:.2f} s, {total / n * 1e6:.2f} µs per incident",
                flush=True,
            )
    if len(totals) >= 2:
        (a, ta), (b, tb) = min(totals.items()), max(totals.items())
        print(
            f"growth: time per incident at N={b:,} is {(tb / b) / (ta / a):.2f} × that at "
            f"N={a:,} (1.00 = linear)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
