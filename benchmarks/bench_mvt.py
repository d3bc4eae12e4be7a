"""Incident vector tiles on the embedded store: points written straight into the MVT
protobuf message (:func:`api.ogc.tiles.encode`) against ``mapbox-vector-tile`` from shapely
points (:func:`api.ogc.tiles.shapely_layer`, how every tile was made before), on the same
features, in the same process, alternated. Both give the same bytes
(``tests/api/test_ogc_mvt_points.py``); printed: the median time a tile for each, and
the ratio.

    .venv/bin/python -m benchmarks.bench_mvt [--points 100 300 1000] [--repeat 200]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import morecantile
import numpy as np

from api.ogc.tiles import TMS, WEB_MERCATOR, encode, shapely_layer
from geodata.crs import WGS84, transformer


def tile_features(n: int, seed: int = 0) -> tuple[list[dict], tuple[float, ...]]:
    """``n`` incident features spread over a z14 tile in Gravesend and its margin, with
    the properties an analyst's incident page carries."""
    bounds = tuple(TMS.xy_bounds(morecantile.Tile(8150, 5450, 14)))
    left, bottom, right, top = bounds
    rng = np.random.default_rng(seed)
    x = left + rng.uniform(-0.05, 1.05, n) * (right - left)
    y = bottom + rng.uniform(-0.05, 1.05, n) * (top - bottom)
    lon, lat = transformer(WEB_MERCATOR, WGS84).transform(x, y)
    features = [
        {"type": "Feature", "id": f"police-uk/kent-police/2024-{1 + i % 12:02d}#{i}",
         "geometry": {"type": "Point", "coordinates": [float(lon[i]), float(lat[i])]},
         "properties": {"id": f"police-uk/kent-police/2024-{1 + i % 12:02d}#{i}",
                        "category": ["violent-crime", "anti-social-behaviour", "burglary"][i % 3],
                        "occurred_at": f"2024-{1 + i % 12:02d}-01T00:00:00",
                        "occurred_precision": "month", "location": f"On or near Street {i % 40}",
                        "lsoa_code": f"E0102{4000 + i % 60}", "ward_code": f"E0500{i % 12:04d}"}}
        for i in range(n)
    ]  # fmt: skip
    return features, bounds


def per_tile_ms(fn, features, bounds, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn(features, "incidents", bounds)
        times.append(time.perf_counter() - t0)
    return 1000 * statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, nargs="+", default=[100, 300, 1000])
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args(argv)
    for n in args.points:
        features, bounds = tile_features(n)
        if encode(features, "incidents", bounds) != shapely_layer(features, "incidents", bounds):
            print(f"{n} points: the two tiles differ")
            return 1
        ours, base = [], []
        for _ in range(3):  # alternated rounds, medians of each
            ours.append(per_tile_ms(encode, features, bounds, args.repeat))
            base.append(per_tile_ms(shapely_layer, features, bounds, args.repeat))
        o, b = statistics.median(ours), statistics.median(base)
        print(
            f"MVT tile of {n:5,} incidents: direct {o:.2f} ms, mapbox-vector-tile {b:.2f} ms "
            f"({b / o:.1f}x faster; same bytes)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
