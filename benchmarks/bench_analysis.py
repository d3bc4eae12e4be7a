"""Whole-analysis benchmark: police.uk-like incidents over 24 months, end to end.

For N = 100k and 1M synthetic incidents (``benchmarks.synthetic``, snapped to
~N/2.3 distinct points like police.uk, density kept as at 100k by growing the
area), each in a fresh process: H3 grid (res 9) with Gi* (analytical),
emerging hot spot categories over 24 months, DBSCAN (eps 150 m,
min_samples 10), temporal profiles and ranking of the DBSCAN clusters.
Prints the time and peak memory of each step and the time per incident, to
show near-linear growth (the ratio line compares 1M against 10 × 100k).

Run: ``python -m benchmarks.bench_analysis [--sizes 100000 1000000]``.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def one(n: int, seed: int) -> dict:
    import numpy as np

    from benchmarks.synthetic import synthetic_incidents
    from hotspots.analysis import AnalysisParams, run_analysis

    data = synthetic_incidents(n, seed=seed, snapped=True, keep_density=True, months=24)
    data["occurred_precision"] = "month"
    data["batch_id"] = "synthetic/" + data["occurred_at"].dt.strftime("%Y-%m")
    base_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    steps = {}
    for name, params in (
        ("gistar", AnalysisParams(method="gistar", resolution=9)),
        ("emerging", AnalysisParams(method="emerging", resolution=9)),
        ("dbscan+rank", AnalysisParams(method="dbscan", eps_m=150, min_samples=10)),
    ):
        t0 = time.perf_counter()
        result = run_analysis(data, params)
        steps[name] = {"seconds": time.perf_counter() - t0, "hotspots": len(result.hotspots)}
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    total = sum(s["seconds"] for s in steps.values())
    return {
        "n": n,
        "distinct_points": len(np.unique(data[["x", "y"]].to_numpy(), axis=0)),
        "steps": steps,
        "total_seconds": total,
        "peak_mb": peak_mb,
        "data_mb": base_mb,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(one(args.one, args.seed)))
        return 0
    results = []
    for n in args.sizes:
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "benchmarks.bench_analysis",
                "--one",
                str(n),
                "--seed",
                str(args.seed),
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        results.append(r)
        steps = ", ".join(
            f"{k} {v['seconds']:.2f} s ({v['hotspots']} hotspots)" for k, v in r["steps"].items()
        )
        print(
            f"whole analysis N={n:,} ({r['distinct_points']:,} distinct points, 24 months, "
            f"seed {args.seed}): {r['total_seconds']:.2f} s = {steps}; "
            f"{r['total_seconds'] / n * 1e6:.2f} µs per incident; peak {r['peak_mb']:.0f} MB "
            f"(data loaded: {r['data_mb']:.0f} MB)"
        )
    if len(results) >= 2:
        a, b = results[0], results[-1]
        growth = (b["total_seconds"] / a["total_seconds"]) / (b["n"] / a["n"])
        print(
            f"growth: time per incident at N={b['n']:,} is {growth:.2f} × that at "
            f"N={a['n']:,} (1.00 = linear)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
