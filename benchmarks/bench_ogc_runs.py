"""Server time per 1,000-feature page of a run collection: rows in SQL against the
whole result shaped and filtered in Python.

A synthetic Gi* run of ``--n`` hotspots (H3 cells round Gravesham, with the
properties and generalised outlines real runs have) is stored; then, for the
public role, pages of 1,000 features are made in two ways, alternating, in the
same process and on the same store:

``rows`` (ours)
    the run read without its result, the page selected, filtered and paged in SQL
    from the view's rows (:mod:`api.ogc.run_items`), as the items route does now;
``whole`` (baseline: the route as it was)
    the run read with its whole result (one JSON column) on every request, the
    role's features shaped once and kept in memory, then bbox, filter and page in
    Python on that list.

Both write the page's GeoJSON with orjson (what the route answers), for the CRS84
default and for EPSG:27700. Printed per request kind: median and min of
``--repeat`` timings in ms, and whole/rows. PostGIS too when one answers
(``HOTSPOTS_TEST_DATABASE_URL`` or the dev database). On DuckDB the bbox page is
also timed with ART indexes on the bounds columns, against the plain columns kept.

    .venv/bin/python -m benchmarks.bench_ogc_runs --n 3000
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import datetime
from functools import partial
from pathlib import Path

import h3
import numpy as np
import orjson
from shapely.geometry import shape

SECRET = "bench-secret-bench-secret-bench-secret-0123"
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
BNG = "http://www.opengis.net/def/crs/EPSG/0/27700"
CENTRE_LATLNG = (51.44, 0.37)
BBOX = (0.35, 51.425, 0.39, 51.455)  # a part of the town: a few thousand cells


def synthetic_run(n: int, seed: int = 7):
    """A Gi* run of ``n`` hotspots (res-11 H3 cells), stored as real runs are."""
    from geodata.model import RunRecord

    rng = np.random.default_rng(seed)
    origin = h3.latlng_to_cell(*CENTRE_LATLNG, 11)
    k = 1
    while 3 * k * (k + 1) + 1 < n:
        k += 1
    cells = sorted(h3.grid_disk(origin, k))[:n]
    features = []
    for i, cell in enumerate(cells):
        ring = [[lng, lat] for lat, lng in h3.cell_to_boundary(cell)]
        ring.append(ring[0])
        lat, lng = h3.cell_to_latlng(cell)
        count = int(rng.integers(1, 60))
        geom = {"type": "Polygon", "coordinates": [ring]}
        props = {
            "hotspot_id": i, "rank": i + 1, "score": float(rng.random()), "count": count,
            "harm": float(count * 1.7), "cell": cell, "gi_z": float(rng.normal(2, 1)),
            "gi_p": float(rng.random() / 10), "gi_bin": int(rng.integers(-3, 4)),
            "distinct_points": int(rng.integers(1, 9)), "snap_points": True,
            "categories": {"anti-social-behaviour": count}, "top_locations": [["High St", count]],
            "first_date": "2024-01-01", "last_date": "2024-04-30",
        }  # fmt: skip
        generalised = {"geometry": geom, "area_m2": 2150.0, "centroid": [lng, lat]}
        features.append(
            {"type": "Feature", "id": i, "geometry": geom, "properties": props,
             "generalised": generalised}
        )  # fmt: skip
    prov = {"n_incidents": 50_000, "categories": ["anti-social-behaviour"]}
    fc = {
        "type": "FeatureCollection",
        "features": features,
        "run_id": "run-bench",
        "provenance": prov,
    }
    restricted = {**fc, "features": features}
    return RunRecord("run-bench", "gistar", {}, prov, {**fc, "restricted": restricted},
                     datetime(2024, 5, 1))  # fmt: skip


def whole_page(store, policy, shaped: dict, sel) -> bytes:
    """The route as it was: the whole run read, shaped once per role, paged in Python."""
    from api.ogc.crs import box_in_crs84, features_to_crs
    from api.ogc.filters import matches

    run = store.get_run("run-bench")
    key = (run.run_id, run.created_at, policy)
    if key not in shaped:
        view = policy.run_view(run.result)["features"]
        shaped[key] = [{**f, "id": str(f.get("id"))} for f in view]
    features = shaped[key]
    if sel.filter is not None:
        features = [f for f in features if matches(sel.filter, f)]
    if sel.bbox is not None:
        box = box_in_crs84(sel.bbox, sel.bbox_crs)
        features = [f for f in features if f["geometry"] and shape(f["geometry"]).intersects(box)]
    start = sel.offset if sel.after is None else sel.after + 1
    chosen = features[start : start + sel.limit]
    doc = {"features": features_to_crs(chosen, sel.crs), "numberMatched": len(features)}
    return orjson.dumps(doc)


def rows_page(store, settings, caller, sel) -> bytes:
    """The route now: the run without its result, the page from the view's rows."""
    from api.ogc.run_items import run_page

    run = store.run_rows.header("run-bench")
    features, matched, _ = run_page(store, settings, caller, run, sel)
    return orjson.dumps({"features": features, "numberMatched": matched})


def kinds(props: dict, n: int):
    from api.ogc.filters import parse
    from api.ogc.items import Selection
    from api.usecases.window import Window

    def sel(**kw):
        base = dict(bbox=None, bbox_crs=CRS84, crs=CRS84, window=Window(), limit=1000, offset=0)
        return Selection(**{**base, **kw})

    after = min(1999, n // 4)  # a full page of 1,000 follows when the run has 1,400+
    return {
        "page (after a cursor)": sel(after=after),
        "page in EPSG:27700": sel(after=after, crs=BNG),
        "bbox": sel(bbox=BBOX),
        "filter rank > 500 AND gi_z > 2": sel(
            filter=parse("rank > 500 AND gi_z > 2", None, CRS84, props)
        ),
    }


def timed(fn, repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def bench(store, label: str, n: int, repeat: int) -> None:
    from api.deps import Caller
    from api.disclosure import Disclosure
    from api.ogc.queryables import property_types
    from api.ogc.run_items import run_properties
    from api.settings import ApiSettings

    settings = ApiSettings(secret_key=SECRET)
    caller = Caller("public")
    policy = Disclosure.for_role("public", settings)
    store.save_run(synthetic_run(n))
    t0 = time.perf_counter()
    props = {
        "properties": run_properties(store, settings, caller, store.run_rows.header("run-bench"))
    }
    made = (time.perf_counter() - t0) * 1000
    types = property_types(props)
    shaped: dict = {}
    print(f"\n{label}: {n:,} hotspots; the public view written as rows once in {made:.0f} ms")
    print(f"{'request':34} {'whole ms':>12} {'rows ms':>12} {'whole/rows':>10}")
    for name, sel in kinds(types, n).items():
        a = rows_page(store, settings, caller, sel)
        b = whole_page(store, policy, shaped, sel)
        assert orjson.loads(a) == orjson.loads(b), name  # the same page either way
        whole, rows = [], []
        pair = [
            (whole, partial(whole_page, store, policy, shaped, sel)),
            (rows, partial(rows_page, store, settings, caller, sel)),
        ]
        for i in range(repeat):  # alternate, so drift hits both alike
            for out, fn in pair if i % 2 else pair[::-1]:
                out += timed(fn, 1)
        w, r = statistics.median(whole), statistics.median(rows)
        print(f"{name:34} {w:7.1f} ({min(whole):4.1f}) {r:7.1f} ({min(rows):4.1f}) {w / r:9.1f}x")
    if label == "DuckDB":
        index_choice(store, settings, caller, kinds(types, n)["bbox"], repeat)


def index_choice(store, settings, caller, sel, repeat: int) -> None:
    """DuckDB: the bbox page on the plain bounds columns (what is kept) against the same
    columns with ART indexes. (The spatial extension's R-tree is not measured: DuckDB
    downloads extensions at run time, which this service must not need.)"""
    plain, indexed = [], []
    cols = ("min_x", "max_x", "min_y", "max_y")
    for _ in range(repeat):  # alternate, as above
        for out, ddl in [(plain, None), (indexed, "CREATE INDEX bench_{0} ON run_features ({0})")]:
            for col in cols if ddl else ():
                store.con.execute(ddl.format(col))
            out += timed(partial(rows_page, store, settings, caller, sel), 1)
            for col in cols if ddl else ():
                store.con.execute(f"DROP INDEX bench_{col}")
    p, x = statistics.median(plain), statistics.median(indexed)
    print(f"bbox page on DuckDB's bounds columns: {p:.1f} ms plain, {x:.1f} ms with ART indexes")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=3_000, help="hotspots in the run")
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--no-postgis", action="store_true")
    args = parser.parse_args(argv)
    from geodata.stores import DuckDBStore

    with tempfile.TemporaryDirectory() as tmp, DuckDBStore(Path(tmp) / "b.duckdb") as st:
        bench(st, "DuckDB", args.n, args.repeat)
    if not args.no_postgis:
        from geodata.stores.postgis import PostGISStore

        from .load_api import _drop_database, _new_database, admin_url

        admin = admin_url()
        if admin:
            url = _new_database(admin)
            try:
                with PostGISStore(url, max_size=2) as st:
                    bench(st, "PostGIS", args.n, args.repeat)
            finally:
                _drop_database(admin, url)
    return 0


if __name__ == "__main__":
    sys.exit(main())
