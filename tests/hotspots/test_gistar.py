"""Getis-Ord Gi*: agreement with esda, permutation counts, FDR, classes, planted hotspots."""

from __future__ import annotations

import warnings

import h3
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import sparse, stats

import hotspots.gistar as gistar_module
from hotspots.gistar import (
    _random_neighbour_ids,
    benjamini_hochberg,
    gi_bins,
    gi_star,
    permutation_counts,
)
from hotspots.grid import build_grid

GRAVESEND_STATION = (51.4415, 0.3700)
EMPTY = pd.DataFrame({"lat": [], "lon": [], "occurred_at": pd.to_datetime([])})


def hex_grid(res: int = 9, half_km: float = 1.5):
    """A grid of empty H3 cells round Gravesend and its k=1 adjacency (with self)."""
    lat, lon = GRAVESEND_STATION
    dlat, dlon = half_km / 111.2, half_km / (111.2 * np.cos(np.radians(lat)))
    grid = build_grid(
        EMPTY, res=res, area_lonlat=shapely.box(lon - dlon, lat - dlat, lon + dlon, lat + dlat)
    )
    return grid, grid.neighbours(1)


def esda_g_local(values, W, permutations=0, seed=12345):
    """The reference: esda.G_Local, binary Gi* on the same adjacency (self included)."""
    import esda
    import libpysal

    with warnings.catch_warnings():  # libpysal/esda deprecation and component warnings
        warnings.simplefilter("ignore")
        w = libpysal.weights.W.from_WSP(libpysal.weights.WSP(W), silence_warnings=True)
        return esda.G_Local(
            values, w, transform="B", star=True, permutations=permutations, seed=seed
        )


def esda_fold(n_ge: np.ndarray, permutations: int) -> np.ndarray:
    """esda's default ('directed') pseudo p from the count of draws ≥ observed."""
    larger = n_ge.copy()
    low = (permutations - larger) < larger
    larger[low] = permutations - larger[low]
    return (larger + 1.0) / (permutations + 1.0)


@pytest.fixture(scope="module")
def violence_2022(shared_data):
    files = sorted((shared_data / "police" / "gravesham_area").glob("2022-*.csv"))
    raw = pd.concat([pd.read_csv(f) for f in files], ignore_index=True)
    raw = raw[raw["Crime type"] == "Violence and sexual offences"]
    data = pd.DataFrame(
        {
            "lat": raw["Latitude"],
            "lon": raw["Longitude"],
            "occurred_at": pd.to_datetime(raw["Month"] + "-01"),
        }
    )
    return build_grid(data, res=9)


# --------------------------------------------------------------------------- esda agreement


@pytest.mark.parametrize("kind", ["counts", "continuous", "negative"])
def test_z_matches_esda_on_synthetic_grids(kind) -> None:
    grid, W = hex_grid()
    rng = np.random.default_rng(1)
    values = {
        "counts": rng.poisson(2.0, grid.cells.size).astype(float),
        "continuous": rng.gamma(2.0, 3.0, grid.cells.size),
        "negative": rng.normal(5.0, 2.0, grid.cells.size),
    }[kind]
    ours = gi_star(values, W)
    ref = esda_g_local(values, W)
    np.testing.assert_allclose(ours.z, ref.Zs, rtol=0, atol=1e-9)
    np.testing.assert_allclose(ours.p, 2 * ref.p_norm, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(ours.n_neighbours, np.asarray(W.sum(axis=1)).ravel())


def test_p_sim_matches_esda_within_monte_carlo_error_without_ties() -> None:
    grid, W = hex_grid()
    values = np.random.default_rng(2).gamma(1.5, 2.0, grid.cells.size)  # no ties
    P = 999
    ours = gi_star(values, W, permutations=P, seed=7)
    ref = esda_g_local(values, W, permutations=P, seed=7)
    diff = np.abs(ours.p_sim - ref.p_sim)
    mc = np.sqrt(2 / np.pi) * np.sqrt(2 * ours.p_sim * (1 - ours.p_sim) / P)  # E|Δ| of two runs
    assert diff.mean() < 1.5 * mc.mean()
    assert diff.max() < 0.1


def test_z_and_p_sim_match_esda_on_gravesham_violence(violence_2022) -> None:
    grid = violence_2022
    W = grid.neighbours(1)
    P = 999
    ours = gi_star(grid.count, W, permutations=P, seed=3)
    ref = esda_g_local(grid.count, W, permutations=P, seed=3)
    np.testing.assert_allclose(ours.z, ref.Zs, rtol=0, atol=1e-9)
    # like for like: our permutation counts folded the way esda folds them
    n_ge, _ = permutation_counts(grid.count, W, P, seed=3)
    p_like = esda_fold(n_ge, P)
    mc = np.sqrt(2 / np.pi) * np.sqrt(2 * p_like * (1 - p_like) / P)
    assert np.abs(p_like - ref.p_sim).mean() < 1.5 * mc.mean()


def test_hottest_violence_cell_is_class_3_near_gravesend_station(violence_2022) -> None:
    grid = violence_2022
    result = gi_star(grid.count, grid.neighbours(1), permutations=999, seed=0)
    i = int(np.argmax(result.z))
    assert result.gi_bin[i] == 3 and result.p_sim[i] == 1 / 1000
    centre = h3.cell_to_latlng(str(grid.cells[i]))
    assert h3.great_circle_distance(centre, GRAVESEND_STATION, unit="m") < 300


# --------------------------------------------------------------------------- permutation engine


def brute_force_counts(values, W, permutations, seed):
    """esda's scheme cell by cell, with our random indices: draws ≥ and ≤ observed."""
    W = sparse.csr_matrix(W)
    n = values.size
    other = np.diff(W.indptr) - 1
    rids = _random_neighbour_ids(np.random.default_rng(seed), n, other.max(), permutations)
    observed = W @ values
    n_ge, n_le = np.empty(n, int), np.empty(n, int)
    for i in range(n):
        rest = np.delete(values, i)
        sims = values[i] + rest[rids[:, : other[i]]].sum(axis=1)
        n_ge[i], n_le[i] = np.sum(sims >= observed[i]), np.sum(sims <= observed[i])
    return n_ge, n_le


@pytest.mark.parametrize("block", [None, 60])
def test_vectorised_counts_equal_the_cell_by_cell_scheme(block, monkeypatch) -> None:
    if block:  # several blocks per neighbour-count class
        monkeypatch.setattr(gistar_module, "_BLOCK_ELEMENTS", block)
    grid, W = hex_grid(half_km=0.8)
    rng = np.random.default_rng(4)
    for values in (
        rng.poisson(1.0, grid.cells.size).astype(float),  # many ties
        rng.integers(0, 40, grid.cells.size) / 4.0,
    ):  # exact binary fractions
        got = permutation_counts(values, W, permutations=30, seed=11)
        expected = brute_force_counts(values, W, 30, 11)
        np.testing.assert_array_equal(got[0], expected[0])
        np.testing.assert_array_equal(got[1], expected[1])


def test_ties_count_on_both_sides_so_empty_neighbourhoods_are_not_significant() -> None:
    grid, W = hex_grid()
    values = np.zeros(grid.cells.size)
    values[::9] = 1.0  # mostly empty cells: many neighbourhoods sum to 0
    P = 199
    result = gi_star(values, W, permutations=P, seed=5)
    n_ge, _ = permutation_counts(values, W, P, seed=5)
    zero = (W @ values - values) == 0
    assert zero.any()
    assert np.all(result.p_sim[zero] > 0.05)
    assert np.all(esda_fold(n_ge, P)[zero] == 1 / (P + 1))  # esda's fold: smallest p


def test_islands_and_constant_values_are_not_significant() -> None:
    W = sparse.csr_matrix(np.array([[1, 1, 0, 0], [1, 1, 1, 0], [0, 1, 1, 0], [0, 0, 0, 1.0]]))
    result = gi_star(np.array([1.0, 2.0, 3.0, 40.0]), W, permutations=99, seed=0)
    assert result.p_sim[3] == 1.0 and result.n_neighbours[3] == 1
    flat = gi_star(np.full(4, 3.0), W, permutations=9)
    assert np.all(flat.z == 0) and np.all(flat.gi_bin == 0)


def test_seeded_results_repeat_and_seeds_differ() -> None:
    grid, W = hex_grid()
    values = np.random.default_rng(6).gamma(2.0, 1.0, grid.cells.size)
    a = gi_star(values, W, permutations=99, seed=1)
    b = gi_star(values, W, permutations=99, seed=1)
    c = gi_star(values, W, permutations=99, seed=2)
    np.testing.assert_array_equal(a.p_sim, b.p_sim)
    assert np.any(a.p_sim != c.p_sim)
    assert np.all(np.isnan(gi_star(values, W).p_sim))


def test_weights_must_be_binary_with_self() -> None:
    W = sparse.csr_matrix(np.array([[0, 1.0], [1.0, 0]]))
    with pytest.raises(ValueError, match="diagonal"):
        gi_star(np.array([1.0, 2.0]), W)
    with pytest.raises(ValueError, match="binary"):
        gi_star(np.array([1.0, 2.0]), W * 0.5 + sparse.identity(2))
    with pytest.raises(ValueError, match="shape"):
        gi_star(np.array([1.0, 2.0, 3.0]), sparse.identity(2, format="csr"))
    with pytest.raises(ValueError, match="finite"):
        gi_star(np.array([1.0, np.nan]), sparse.identity(2, format="csr"))


# --------------------------------------------------------------------------- classes


def planted():
    grid, W = hex_grid(half_km=2.0)
    rng = np.random.default_rng(9)
    values = rng.poisson(10.0, grid.cells.size).astype(float)
    index = {c: i for i, c in enumerate(grid.cells)}
    hot = index[str(grid.cells[grid.cells.size // 3])]
    cold = index[str(grid.cells[2 * grid.cells.size // 3])]
    for c in h3.grid_disk(str(grid.cells[hot]), 1):
        values[index[c]] = 40.0
    for c in h3.grid_disk(str(grid.cells[cold]), 2):
        values[index[c]] = 0.0
    return values, W, hot, cold


@pytest.mark.parametrize(
    ("permutations", "fdr", "hot_class"),
    # with permutations the smallest two-sided p is 2/(P+1) = 0.002, and BH at 99 % over
    # ~1,300 cells would need hundreds of cells at that floor: FDR lowers the class
    [(0, False, {3}), (0, True, {3}), (999, False, {3}), (999, True, {1, 2, 3})],
)
def test_planted_hotspot_is_class_3_and_cold_area_negative(permutations, fdr, hot_class) -> None:
    values, W, hot, cold = planted()
    result = gi_star(values, W, permutations=permutations, seed=0, fdr=fdr)
    assert result.gi_bin[hot] in hot_class
    assert result.gi_bin[cold] < 0
    assert result.z[hot] > 2.576 and result.z[cold] < -1.96


def test_benjamini_hochberg_matches_scipy() -> None:
    rng = np.random.default_rng(10)
    p = np.r_[rng.uniform(0, 1, 300), rng.uniform(0, 0.01, 40), [0.05, 0.05, 1.0]]
    np.testing.assert_allclose(benjamini_hochberg(p), stats.false_discovery_control(p), rtol=1e-12)


def test_fdr_classes_apply_bh_at_each_confidence_level() -> None:
    values, W, _, _ = planted()
    result = gi_star(values, W, fdr=True)
    np.testing.assert_allclose(result.p_fdr, stats.false_discovery_control(result.p))
    m = result.p.size
    ordered = np.sort(result.p)
    for level, alpha in ((1, 0.10), (2, 0.05), (3, 0.01)):
        passing = np.flatnonzero(ordered <= alpha * np.arange(1, m + 1) / m)
        cut = ordered[passing[-1]] if passing.size else -1.0  # BH step-up threshold
        np.testing.assert_array_equal(np.abs(result.gi_bin) >= level, result.p <= cut)
    plain = gi_star(values, W)
    assert np.all(np.abs(result.gi_bin) <= np.abs(plain.gi_bin))


CRITICAL = {1: stats.norm.isf(0.05), 2: stats.norm.isf(0.025), 3: stats.norm.isf(0.005)}


@settings(max_examples=200, deadline=None)
@given(
    level=st.sampled_from([1, 2, 3]),
    offset=st.floats(1e-7, 1e-2),
    above=st.booleans(),
    sign=st.sampled_from([-1.0, 1.0]),
)
def test_bin_boundaries_at_1645_196_2576(level, offset, above, sign) -> None:
    z = sign * (CRITICAL[level] + (offset if above else -offset))
    p = 2 * stats.norm.sf(abs(z))
    expected = sign * (level if above else level - 1)
    assert gi_bins(np.array([z]), np.array([p]))[0] == expected


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(-6, 6), min_size=1, max_size=30))
def test_bins_follow_z_thresholds_for_normal_p(zs) -> None:
    z = np.array(zs)
    bins = gi_bins(z, 2 * stats.norm.sf(np.abs(z)))
    magnitude = (np.abs(z)[:, None] > np.array([1.645, 1.96, 2.576]) + 1e-3).sum(axis=1)
    near = np.min(np.abs(np.abs(z)[:, None] - [CRITICAL[1], CRITICAL[2], CRITICAL[3]]), axis=1)
    ok = near > 2e-3  # away from the rounded thresholds
    np.testing.assert_array_equal(np.abs(bins)[ok], magnitude[ok])
    assert np.all(np.sign(bins[bins != 0]) == np.sign(z[bins != 0]))
