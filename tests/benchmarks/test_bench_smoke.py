"""Benchmarks' machinery on tiny inputs: alternation, fresh-process children, store set-up.

Only behaviour is asserted, never a timing (timings are for ``make bench``).
"""

from __future__ import annotations

import numpy as np

from benchmarks import bench_analysis, bench_hdbscan
from benchmarks.fresh import alternate, fmt


def test_alternate_reverses_the_order_every_round():
    calls = []
    runs = alternate(["ours", "peer"], lambda k, i: calls.append((k, i)) or {"seconds": i}, 4)
    assert calls == [
        ("ours", 0), ("peer", 0), ("peer", 1), ("ours", 1),
        ("ours", 2), ("peer", 2), ("peer", 3), ("ours", 3),
    ]  # fmt: skip
    assert [r["seconds"] for r in runs["peer"]] == [0, 1, 2, 3]
    assert fmt(runs["ours"]) == "1.50 s (0.00–3.00, 4 runs)"


def test_hdbscan_child_saves_labels_in_file_order(tmp_path):
    from benchmarks.synthetic import synthetic_incidents

    xy = synthetic_incidents(3_000, seed=1, side_m=6_000, snapped=True, xy_only=True)
    data = tmp_path / "xy.npy"
    np.save(data, xy[["x", "y"]].to_numpy())
    a = bench_hdbscan.one("ours", data, tmp_path / "a.npy", shuffle=0)
    b = bench_hdbscan.one("sklearn", data, tmp_path / "b.npy", shuffle=3)
    assert a["clusters"] > 0 and b["clusters"] > 0 and a["seconds"] > 0
    la, lb = np.load(tmp_path / "a.npy"), np.load(tmp_path / "b.npy")
    assert bench_hdbscan._ari(la, lb) > 0.9  # shuffled rows mapped back to file order


def test_analysis_bench_reads_a_store_with_a_study_area(tmp_path):
    info = bench_analysis.build_store(4_000, seed=2, folder=tmp_path)
    # The study area is the square less 1 km a side: some incidents are quarantined.
    assert info["rows"] == 4_000
    assert 0.5 * info["rows"] < info["stored"] < info["rows"]
    r = bench_analysis.one(str(tmp_path / "bench.duckdb"), "gistar")
    assert r["incidents"] == info["stored"]
    assert r["hotspots"] > 0
    assert {"read", "grid", "cell polygons", "statistics", "hotspot table"} <= set(r["stages"])
    f = bench_analysis.floors(str(tmp_path / "bench.duckdb"))
    assert set(f["floors"]) == {"read", "index+aggregate", "k-ring", "table"}
    assert f["cells"] > 0 and all(v >= 0 for v in f["floors"].values())
    line = bench_analysis._stage_line([r], f["floors"])
    assert "grid " in line and "(floor index+aggregate " in line


def test_dask_bench_runs_both_paths_to_the_same_hotspots(tmp_path):
    """``bench_dask``'s two sides on a small square (30 km, not England and Wales):
    the same run ids and hotspots single and on a 1-worker LocalCluster."""
    from benchmarks import bench_dask

    path = bench_dask.data_file(20_000, 3, tmp_path, side_m=30_000.0)
    single = bench_dask.one("single", str(path), 1, "2GB", side_m=30_000.0)
    dask = bench_dask.one("dask", str(path), 1, "2GB", side_m=30_000.0)
    assert dask["digest"] == single["digest"]
    assert single["digest"]["dbscan"][1] > 0 and dask["worker_mb"] > 0
    assert set(single["stages"]) == {"gistar", "emerging", "dbscan"}


def test_mvt_bench_compares_the_same_tiles(capsys):
    from benchmarks import bench_mvt

    assert bench_mvt.main(["--points", "50", "--repeat", "2"]) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith("MVT tile of    50 incidents:") and "same bytes" in line
