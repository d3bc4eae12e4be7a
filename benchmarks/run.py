"""Run every benchmark in turn: ``python -m benchmarks.run`` (``make bench``)."""

from __future__ import annotations

import sys

from . import (
    bench_analysis,
    bench_api,
    bench_cli_start,
    bench_dask,
    bench_dbscan,
    bench_gistar,
    bench_hdbscan,
    bench_import,
    bench_map,
    bench_mvt,
    bench_ogc,
    bench_ogc_load,
    bench_shared_store,
)


def main() -> int:
    codes = []
    for bench in (
        bench_import,
        bench_dbscan,
        bench_hdbscan,
        bench_gistar,
        bench_analysis,
        bench_dask,
        bench_map,
        bench_api,
        bench_cli_start,
        bench_ogc,
        bench_ogc_load,
        bench_mvt,
        bench_shared_store,
    ):
        print(f"\n== {bench.__name__}", flush=True)
        codes.append(bench.main([]) or 0)
    return max(codes)


if __name__ == "__main__":
    sys.exit(main())
