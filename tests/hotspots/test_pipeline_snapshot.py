"""The vectorised pipeline gives what the previous implementation gave on the demo data.

``data/pipeline_demo.json.gz`` was written by ``pipeline_snapshot.py`` with the
implementation before issue #17's vectorisation (its commit is in the file).
"""

from __future__ import annotations

import math

import pytest
import shapely
from pipeline_snapshot import RUNS, load, snapshot

from geodata.demo import load_demo
from geodata.stores.duckdb_store import DuckDBStore


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory):
    store = DuckDBStore(str(tmp_path_factory.mktemp("snap") / "demo.duckdb"))
    load_demo(store)
    yield store
    store.close()


def assert_same(old, new, where="") -> None:
    """Equal structure; floats to 1e-9 relative; geometries (WKT) equal to 1 mm."""
    if isinstance(old, dict):
        assert isinstance(new, dict), where
        assert sorted(old) == sorted(new), f"{where}: keys {sorted(old)} != {sorted(new)}"
        for k in old:
            assert_same(old[k], new[k], f"{where}.{k}")
    elif isinstance(old, list):
        assert isinstance(new, list) and len(old) == len(new), f"{where}: lengths differ"
        for i, (a, b) in enumerate(zip(old, new)):
            assert_same(a, b, f"{where}[{i}]")
    elif isinstance(old, float) and isinstance(new, int | float):
        assert math.isclose(old, new, rel_tol=1e-9, abs_tol=1e-9), f"{where}: {old} != {new}"
    elif isinstance(old, str) and old.startswith(("POLYGON", "MULTIPOLYGON")) and old != new:
        a, b = shapely.from_wkt(old), shapely.from_wkt(new)
        assert shapely.equals_exact(a, b, tolerance=2e-3), f"{where}: geometry differs"
    else:
        assert old == new, f"{where}: {old!r} != {new!r}"


def _check(store, names) -> None:
    stored = load()
    now = snapshot(store, names)
    for name in names:
        assert_same(stored[name], now[name], name)


def test_grid_and_cluster_runs_unchanged(demo_store):
    _check(demo_store, ["dbscan", "gistar", "emerging"])


@pytest.mark.slow
def test_every_run_unchanged(demo_store):
    _check(demo_store, list(RUNS))


def test_a_large_read_gives_the_same_runs(demo_store, monkeypatch):
    """The demo is small enough for one ``ORDER BY id`` query; the column-by-column read
    of large stores (:mod:`geodata.stores.duck_reads`) must give the same runs."""
    from geodata.stores import duck_reads

    monkeypatch.setattr(duck_reads, "WIDE_SORT_ROWS", 0)
    calls = []
    real = duck_reads.ordered
    monkeypatch.setattr(
        duck_reads, "ordered", lambda col, order: calls.append(1) or real(col, order)
    )
    _check(demo_store, ["dbscan", "gistar"])
    assert calls  # the large read's path was taken
