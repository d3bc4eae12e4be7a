"""The analysis on Dask gives the single machine's results (issue 16).

Algorithm by algorithm with the in-process engine (every partitioning, cheap), then the
whole pipeline on a real ``LocalCluster`` of 2 worker processes on the Kent police.uk
months and on a synthetic set, and a run that survives a killed worker.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from geodata.crs import xy_to_lonlat
from hotspots.analysis import AnalysisParams, run_analysis
from hotspots.dbscan import dbscan_labels
from hotspots.emerging import emerging_hotspots
from hotspots.gistar import gi_star
from hotspots.grid import build_grid
from hotspots.scaleout import LocalEngine, check_method, open_engine
from hotspots.scaleout import dbscan as dask_dbscan
from hotspots.scaleout import gistar as dask_gi
from hotspots.scaleout.partition import cell_slices, check_parent_res, group, point_parents

PARENTS = (4, 5, 6)


def synthetic(n: int, seed: int = 1, spread_m: float = 400.0) -> pd.DataFrame:
    """Incidents in 40 clusters over a 40 × 30 km area of Kent (British National Grid),
    with a tenth scattered, on 10 m snap points, over two years."""
    rng = np.random.default_rng(seed)
    cx, cy = rng.uniform(540_000, 580_000, 40), rng.uniform(150_000, 180_000, 40)
    k = rng.integers(0, 40, n)
    x = np.round(cx[k] + rng.normal(0, spread_m, n), -1)
    y = np.round(cy[k] + rng.normal(0, spread_m, n), -1)
    scatter = rng.random(n) < 0.1
    x[scatter] = np.round(rng.uniform(540_000, 580_000, scatter.sum()), -1)
    y[scatter] = np.round(rng.uniform(150_000, 180_000, scatter.sum()), -1)
    lon, lat = xy_to_lonlat(x, y, "EPSG:27700")
    at = pd.Timestamp("2022-01-01") + pd.to_timedelta(rng.integers(0, 730, n), unit="D")
    cats = np.array(["anti-social-behaviour", "violent-crime", "burglary"])[rng.integers(0, 3, n)]
    return pd.DataFrame(
        {
            "x": x,
            "y": y,
            "lon": lon,
            "lat": lat,
            "category": cats,
            "occurred_at": at.astype("datetime64[us]"),
            "occurred_precision": "day",
            "location": [f"On or near Street {i}" for i in k],
            "batch_id": "council/synthetic",
            "source": "council/synthetic",
        }
    )


@pytest.fixture(scope="module")
def points() -> pd.DataFrame:
    return synthetic(30_000)


# ------------------------------------------------------------------ algorithm by algorithm


@pytest.mark.parametrize("parent_res", PARENTS)
def test_dbscan_gives_the_single_machine_labels_for_every_partitioning(points, parent_res):
    x, y = points["x"].to_numpy(), points["y"].to_numpy()
    lat, lon = points["lat"].to_numpy(), points["lon"].to_numpy()
    want, want_core = dbscan_labels(x, y, 150.0, 12)
    got, core = dask_dbscan.dbscan_labels(
        LocalEngine(), x, y, lat, lon, 150.0, 12, parent_res=parent_res
    )
    assert np.array_equal(core, want_core)
    assert np.array_equal(got, want)  # same clusters, same numbers, same border points
    # not a trivial case: some cluster spans several partitions
    parents = point_parents(lat, lon, parent_res)
    spans = pd.Series(parents[want >= 0]).groupby(want[want >= 0]).nunique()
    assert want.max() >= 30 and (spans > 1).any()


def test_dbscan_with_weights_and_a_point_without_coordinates(points):
    x, y = points["x"].to_numpy().copy(), points["y"].to_numpy().copy()
    lat, lon = points["lat"].to_numpy().copy(), points["lon"].to_numpy().copy()
    x[5], y[5], lat[5], lon[5] = np.nan, np.nan, np.nan, np.nan
    w = np.random.default_rng(3).integers(1, 4, x.size).astype(float)
    ok = np.isfinite(x)
    want, _ = dbscan_labels(x[ok], y[ok], 120.0, 20, w[ok])
    got, _ = dask_dbscan.dbscan_labels(LocalEngine(), x, y, lat, lon, 120.0, 20, w, parent_res=6)
    assert got[5] == -1 and np.array_equal(got[ok], want)


@pytest.mark.parametrize("parent_res", PARENTS)
def test_gi_star_z_and_permutation_p_equal_the_single_machine(points, parent_res):
    grid = build_grid(points, res=9)
    parts = cell_slices(grid.ids, parent_res)
    assert len(parts) > 1 and sum(p.stop - p.start for p in parts) == grid.ids.size
    for k in (1, 2):
        want = gi_star(grid.count, grid.neighbours(k), permutations=99, seed=7)
        got = dask_gi.gi_star(LocalEngine(), grid.count, grid.ids, parts, k, 99, seed=7)
        assert np.abs(got.z - want.z).max() <= 1e-9
        assert np.array_equal(got.p_sim, want.p_sim)
        assert np.array_equal(got.gi_bin, want.gi_bin)
        assert np.array_equal(got.n_neighbours, want.n_neighbours)
    fdr = gi_star(grid.harm, grid.neighbours(1), fdr=True)
    got = dask_gi.gi_star(LocalEngine(), grid.harm, grid.ids, parts, 1, fdr=True)
    assert np.array_equal(got.p_fdr, fdr.p_fdr) and np.array_equal(got.gi_bin, fdr.gi_bin)


@pytest.mark.parametrize("parent_res", PARENTS)
def test_emerging_classes_equal_the_single_machine(points, parent_res):
    grid = build_grid(points, res=9)
    parts = cell_slices(grid.ids, parent_res)
    monthly = grid.monthly_count.copy()
    monthly[:, 3] = np.nan  # a month without data is left out on both paths
    want = emerging_hotspots(monthly, grid.neighbours(1), permutations=49, seed=4)
    got = dask_gi.emerging_hotspots(LocalEngine(), monthly, grid.ids, parts, 1, 0.10, 49, 4)
    assert np.array_equal(got.category, want.category)
    assert np.abs(got.z - want.z).max() <= 1e-9
    assert np.array_equal(got.months_used, want.months_used)
    assert len(set(want.category)) >= 4  # several classes, not all "no pattern"


def test_partitions_and_methods_are_checked():
    with pytest.raises(ValueError, match="parent_res: expected one of"):
        check_parent_res(7)
    with pytest.raises(ValueError, match="runs on one machine only"):
        check_method("hdbscan")
    g = group(np.array([-1, 5, 3, 5, -1, 3]))
    assert g.keys.tolist() == [3, 5] and [g.rows(i).tolist() for i in range(2)] == [[2, 5], [1, 3]]


# ------------------------------------------------------------------ on a LocalCluster


@pytest.fixture(scope="module")
def cluster():
    with open_engine("local", workers=2, memory_limit="3GB") as engine:
        yield engine


def same_run(a, b) -> None:
    assert a.run_id == b.run_id
    left, right = a.hotspots.drop(columns="geometry"), b.hotspots.drop(columns="geometry")
    pd.testing.assert_frame_equal(left, right)
    assert a.hotspots.geometry.geom_equals_exact(b.hotspots.geometry, 1e-9).all()


@pytest.mark.parametrize(
    ("params", "parent_res"),
    [
        (AnalysisParams(method="dbscan"), 4),
        (AnalysisParams(method="gistar", permutations=99), 5),
        (AnalysisParams(method="emerging", resolution=9), 6),
    ],
    ids=["dbscan", "gistar", "emerging"],
)
def test_the_whole_pipeline_on_a_local_cluster_stores_the_same_run(cluster, params, parent_res):
    """100k synthetic incidents, one partitioning per method (every partitioning of every
    method: the Kent test and the 1M one below)."""
    data = synthetic(100_000, seed=5)
    cluster.parent_res = parent_res
    got = run_analysis(data, params, engine=cluster)
    same_run(got, run_analysis(data, params))
    assert got.provenance.execution["backend"] == "dask"
    assert got.provenance.execution["workers"] == 2
    assert got.provenance.execution["partitions"] == f"H3 parent res {parent_res}"


@pytest.fixture(scope="module")
def kent(shared_data, tmp_path_factory):
    from geodata.ingest import import_records
    from geodata.readers.police import read_police
    from geodata.stores import DuckDBStore, IncidentQuery
    from hotspots.analysis import ANALYSIS_COLUMNS

    folder = shared_data / "police" / "kent_full"
    st = DuckDBStore(tmp_path_factory.mktemp("kent") / "kent.duckdb")
    try:
        for path in sorted(folder.glob("*.csv")):
            import_records(st, read_police(path))
        return st.query_incidents(IncidentQuery(columns=list(ANALYSIS_COLUMNS))).to_pandas()
    finally:
        st.close()


@pytest.mark.parametrize("method", ["dbscan", "gistar", "emerging"])
def test_kent_police_uk_months_give_the_same_hotspots_on_the_cluster(cluster, kent, method):
    import shapely

    assert len(kent) > 150_000
    # permutation p-values on the cluster: Gi* here, emerging in the 1M test and above
    params = AnalysisParams(
        method=method, resolution=9, permutations=99 if method == "gistar" else 0
    )
    # the county's box as the study area (a few rows are geocoded far outside Kent)
    area = shapely.box(0.0, 50.85, 1.6, 51.55)
    want = run_analysis(kent, params, area_lonlat=area)
    assert len(want.hotspots) > 10
    for parent_res in PARENTS:
        cluster.parent_res = parent_res
        same_run(run_analysis(kent, params, area_lonlat=area, engine=cluster), want)


def test_a_killed_worker_does_not_change_the_result(points):
    """A worker process is killed (SIGKILL) once the first partition is done; Dask runs
    its tasks and the partitions it held again elsewhere, and the labels are the same."""
    import os
    import signal

    x, y = points["x"].to_numpy(), points["y"].to_numpy()
    lat, lon = points["lat"].to_numpy(), points["lon"].to_numpy()
    want, _ = dbscan_labels(x, y, 150.0, 12)
    killed: list[int] = []

    with open_engine("local", workers=2, parent_res=6) as engine:
        pids = engine.client.run(os.getpid)  # worker address -> process id

        def progress(label, done, total):
            if not killed and done == 1 and total > 4:
                victim = sorted(pids.values())[0]
                os.kill(victim, signal.SIGKILL)
                killed.append(victim)

        engine.progress = progress
        got, _ = dask_dbscan.dbscan_labels(engine, x, y, lat, lon, 150.0, 12, parent_res=6)
        after = engine.client.run(os.getpid)
    assert killed and killed[0] not in after.values()  # the worker really died
    assert np.array_equal(got, want)


def test_a_million_incidents_give_the_same_hotspots_on_the_cluster(cluster):
    """The acceptance's 1M synthetic set, every method with every partitioning (about a
    minute on 2 cores since the pipeline's speed-ups: in the default suite)."""
    data = synthetic(1_000_000, seed=11, spread_m=600.0)
    for params in (
        AnalysisParams(method="dbscan"),
        AnalysisParams(method="gistar", resolution=9, permutations=99),
        AnalysisParams(method="emerging", resolution=9),
    ):
        want = run_analysis(data, params)
        assert len(want.hotspots) > 10
        for parent_res in PARENTS:
            cluster.parent_res = parent_res
            same_run(run_analysis(data, params, engine=cluster), want)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """The Gravesham demo's police.uk year, exported as partitioned GeoParquet (res 6)."""
    from geodata.demo import demo_dir
    from geodata.ingest import import_records
    from geodata.partitioned import export_partitioned
    from geodata.readers.police import read_police
    from geodata.stores import DuckDBStore, IncidentQuery

    folder = tmp_path_factory.mktemp("export")
    with DuckDBStore(folder / "s.duckdb") as st:
        import_records(st, read_police(demo_dir() / "gravesham-police-2022.zip"))
        export_partitioned(st, folder / "parts", parent_res=6)
        xy = st.query_incidents(IncidentQuery(columns=["x", "y"])).to_pandas()
    return folder / "parts", xy


@pytest.mark.parametrize("where", ["in-process", "cluster"])
def test_dbscan_reads_its_partitions_from_the_geoparquet_export(exported, where, request):
    folder, xy = exported
    engine = LocalEngine() if where == "in-process" else request.getfixturevalue("cluster")
    want, want_core = dbscan_labels(xy["x"].to_numpy(), xy["y"].to_numpy(), 100.0, 15)
    got, core = dask_dbscan.dbscan_dataset(engine, folder, 100.0, 15)
    assert np.array_equal(core, want_core) and np.array_equal(got, want)
    assert want.max() >= 5
