"""Weighted points: exact collapse of repeated coordinates, the cell grid and its helpers."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hotspots import points, uniq
from hotspots.points import blocks, cell_grid, collapse, expand_ranges


def test_collapse_merges_exact_duplicates_in_order_of_first_appearance():
    x = [3.0, 1.0, 3.0, 2.0, 1.0, 3.0]
    y = [0.5, 0.5, 0.5, 0.5, 0.5, 0.5]
    wp = collapse(x, y)
    assert wp.ux.tolist() == [3.0, 1.0, 2.0]
    assert wp.uy.tolist() == [0.5, 0.5, 0.5]
    assert wp.weight.tolist() == [3.0, 2.0, 1.0]
    assert wp.inverse.tolist() == [0, 1, 0, 2, 1, 0]
    assert wp.first_index.tolist() == [0, 1, 3]
    assert wp.n_input == 6 and wp.n_distinct == len(wp) == 3
    assert wp.weight.dtype == np.float64


def test_collapse_sums_weights_and_never_rounds():
    x = np.array([564_800.0, 564_800.0, np.nextafter(564_800.0, 1e9), 564_800.0])
    y = np.array([174_200.0, 174_200.0, 174_200.0, np.nextafter(174_200.0, 0)])
    wp = collapse(x, y, weight=[0.5, 2.0, 1.0, 0.0])
    assert wp.n_distinct == 3  # one ulp apart is apart
    assert wp.weight.tolist() == [2.5, 1.0, 0.0]


def test_collapse_folds_negative_zero():
    wp = collapse([0.0, -0.0, 1.0], [-0.0, 0.0, 1.0])
    assert wp.n_distinct == 2
    assert wp.weight.tolist() == [2.0, 1.0]


def test_collapse_empty():
    wp = collapse([], [])
    assert wp.n_input == 0 and wp.n_distinct == 0 and len(wp.inverse) == 0


@pytest.mark.parametrize(
    ("x", "y", "weight", "message"),
    [
        ([0.0, np.nan], [0.0, 1.0], None, "finite"),
        ([0.0, 1.0], [0.0, np.inf], None, "index 1"),
        ([0.0, 1.0], [0.0], None, "one length"),
        ([0.0, 1.0], [0.0, 1.0], [1.0, -1.0], ">= 0"),
        ([0.0, 1.0], [0.0, 1.0], [1.0], "one value per point"),
    ],
)
def test_collapse_refuses_bad_input(x, y, weight, message):
    with pytest.raises(ValueError, match=message):
        collapse(x, y, weight)


def test_collapse_falls_back_to_an_exact_sort_on_key_collisions(monkeypatch):
    # Zero multipliers make the key depend on x's high bits only: many collisions.
    monkeypatch.setattr(uniq, "MIX_X", np.uint64(0))
    monkeypatch.setattr(uniq, "MIX_Y", np.uint64(0))
    rng = np.random.default_rng(3)
    x = rng.integers(0, 5, 200).astype(float)
    y = rng.integers(0, 5, 200).astype(float)
    wp = collapse(x, y)
    assert wp.n_distinct == len(set(zip(x.tolist(), y.tolist())))
    assert np.array_equal(wp.ux[wp.inverse], x) and np.array_equal(wp.uy[wp.inverse], y)


coords = st.lists(
    st.tuples(st.integers(-3, 3), st.integers(-3, 3), st.integers(1, 4)), min_size=1, max_size=60
)


@settings(max_examples=80, deadline=None)
@given(coords)
def test_collapse_round_trips(rows):
    x = np.array([r[0] for r in rows], float) * 0.1
    y = np.array([r[1] for r in rows], float) * 0.1
    w = np.array([r[2] for r in rows], float)
    wp = collapse(x, y, w)
    assert np.array_equal(wp.ux[wp.inverse], x) and np.array_equal(wp.uy[wp.inverse], y)
    assert wp.n_distinct == len(set(zip(x.tolist(), y.tolist())))
    assert np.isclose(wp.weight.sum(), w.sum())
    assert np.array_equal(wp.weight, np.bincount(wp.inverse, weights=w))
    # First appearance order, and first_index is the first input at each point.
    assert np.all(np.diff(wp.first_index) > 0)
    assert np.array_equal(wp.inverse[wp.first_index], np.arange(wp.n_distinct))
    assert np.all(wp.first_index[wp.inverse] <= np.arange(len(x)))


def test_expand_ranges_and_blocks():
    owner, element = expand_ranges(np.array([5, 0, 9]), np.array([2, 0, 3]))
    assert owner.tolist() == [0, 0, 2, 2, 2]
    assert element.tolist() == [5, 6, 9, 10, 11]
    parts = blocks(np.array([3, 3, 10, 1, 1]), 4)
    assert [(s.start, s.stop) for s in parts] == [(0, 1), (1, 2), (2, 3), (3, 5)]
    assert blocks(np.array([], dtype=int), 4) == []


@pytest.mark.parametrize("max_table", [points._MAX_TABLE, 0])
def test_cell_grid_finds_neighbouring_cells(monkeypatch, max_table):
    monkeypatch.setattr(points, "_MAX_TABLE", max_table)
    x = np.array([0.5, 1.5, 2.5, 0.5, 100.5])
    y = np.array([0.5, 0.5, 0.5, 1.5, 0.5])
    grid = cell_grid(x, y, np.ones(5), 1.0)
    assert (grid.table is None) == (max_table == 0)
    cell_of = grid.p_cell[grid.inverse]
    right = grid.neighbour(cell_of[[0]], 1, 0)
    assert right.tolist() == [cell_of[1]]
    assert grid.neighbour(cell_of[[0]], 0, -1).tolist() == [-1]
    assert grid.neighbour(cell_of[[0]], 2, 0).tolist() == [cell_of[2]]
    assert grid.c_weight.sum() == 5


def test_box_bounds_contain_every_point_distance():
    rng = np.random.default_rng(0)
    x, y = rng.uniform(0, 1000, 500), rng.uniform(0, 1000, 500)
    grid = cell_grid(x, y, np.ones(500), 100.0)
    px, py = 437.3, 512.9
    cells = np.arange(grid.n_cells)
    lo, hi = grid.box_d2(np.full(len(cells), px), np.full(len(cells), py), cells)
    d2 = (px - grid.p_x) ** 2 + (py - grid.p_y) ** 2
    assert np.all(lo[grid.p_cell] <= d2) and np.all(d2 <= hi[grid.p_cell])


@pytest.mark.parametrize("mix", [True, False])
def test_cell_grid_merges_duplicates_exactly(monkeypatch, mix):
    if not mix:  # force key collisions: the exact fallback sort must give the same grid
        monkeypatch.setattr(points, "MIX_X", np.uint64(0))
        monkeypatch.setattr(points, "MIX_Y", np.uint64(0))
    rng = np.random.default_rng(8)
    x = rng.integers(0, 30, 500) * 0.5
    y = rng.integers(0, 30, 500) * 0.5
    w = rng.uniform(0, 2, 500)
    grid = cell_grid(x, y, w, 2.0)
    wp = collapse(x, y, w)
    assert grid.n_points == wp.n_distinct
    assert np.array_equal(grid.p_x[grid.inverse], x) and np.array_equal(grid.p_y[grid.inverse], y)
    np.testing.assert_allclose(np.sort(grid.p_weight), np.sort(wp.weight))
    assert np.array_equal(np.sort(grid.p_first), wp.first_index)
    assert np.all(grid.p_first[grid.inverse] <= np.arange(500))
    # Sorted by cell, and every point of a cell inside its box.
    assert np.all(np.diff(grid.p_cell) >= 0)
    assert np.all(grid.c_xmin[grid.p_cell] <= grid.p_x) and np.all(
        grid.p_x <= grid.c_xmax[grid.p_cell]
    )


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.floats(0.3, 3.0))
def test_reachable_offsets_and_sums_never_miss_a_neighbour(seed, spread):
    rng = np.random.default_rng(seed)
    n = 300
    x, y = rng.normal(0, spread, n), rng.normal(0, spread, n)
    reach = 1.0
    grid = cell_grid(x, y, np.ones(n), reach / np.sqrt(2) * (1 - 1e-6))
    pos = np.arange(grid.n_points)
    d2 = (grid.p_x[:, None] - grid.p_x[None, :]) ** 2 + (grid.p_y[:, None] - grid.p_y[None, :]) ** 2
    within = d2 <= reach * reach
    covered = np.zeros_like(within)
    for dx, dy, sub in grid.reachable_offsets(pos, reach, include_self=True):
        nb = grid.neighbour(grid.p_cell[sub], dx, dy)
        for i, c in zip(sub[nb >= 0], nb[nb >= 0]):
            covered[i, grid.c_start[c] : grid.c_start[c] + grid.c_count[c]] = True
    assert not np.any(within & ~covered)
    bound = grid.reachable_sums(grid.c_weight, pos, reach)
    assert np.all(bound >= within.sum(axis=1))
