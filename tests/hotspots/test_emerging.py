"""Emerging Hot Spot Analysis: Mann–Kendall against pymannkendall, the 17 categories."""

from __future__ import annotations

import warnings

import h3
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from hotspots import emerging
from hotspots.emerging import (
    CATEGORIES,
    _mk_rows,
    classify,
    emerging_hotspots,
    mann_kendall,
)
from hotspots.gistar import gi_bins
from hotspots.grid import build_grid

EMPTY = pd.DataFrame({"lat": [], "lon": [], "occurred_at": pd.to_datetime([])})


def reference_mk(series):
    import pymannkendall

    with warnings.catch_warnings():  # its Sen slope may warn on NaN-heavy series
        warnings.simplefilter("ignore")
        return pymannkendall.original_test(np.asarray(series, dtype=float))


def assert_same_as_pymannkendall(series) -> None:
    ours, ref = mann_kendall(series), reference_mk(series)
    assert ours.s == ref.s
    assert ours.var_s == pytest.approx(ref.var_s, rel=1e-12)
    assert ours.z == pytest.approx(ref.z, rel=1e-12, abs=1e-12)
    assert ours.p == pytest.approx(ref.p, rel=1e-9, abs=1e-12)
    assert ours.tau == pytest.approx(ref.Tau, rel=1e-12)


def test_mann_kendall_matches_pymannkendall_on_random_series_with_ties_and_nans() -> None:
    rng = np.random.default_rng(0)
    for _ in range(150):
        n = int(rng.integers(3, 40))
        x = rng.integers(0, 6, n).astype(float) + rng.integers(0, 3) * np.arange(n) / n
        x[rng.random(n) < 0.2] = np.nan
        if np.count_nonzero(~np.isnan(x)) >= 3:
            assert_same_as_pymannkendall(x)


@settings(max_examples=80, deadline=None)
@given(
    st.lists(
        st.one_of(st.integers(-3, 3).map(float), st.just(float("nan"))), min_size=3, max_size=30
    )
)
def test_mann_kendall_property_against_pymannkendall(values) -> None:
    if np.count_nonzero(~np.isnan(values)) >= 3:
        assert_same_as_pymannkendall(values)


def test_months_without_data_are_dropped_never_zero() -> None:
    with_gap = mann_kendall([3.0, np.nan, 4.0, 5.0, 6.0])
    assert with_gap == mann_kendall([3.0, 4.0, 5.0, 6.0])
    assert with_gap != mann_kendall([3.0, 0.0, 4.0, 5.0, 6.0])
    assert with_gap.n == 4


@pytest.mark.parametrize("block", [None, 7])
def test_vectorised_rows_equal_the_single_series_test(monkeypatch, block) -> None:
    if block:  # rows in blocks of 7 (the last one short): the same figures
        monkeypatch.setattr(emerging, "_MK_BLOCK", block)
    x = np.random.default_rng(1).integers(0, 4, (50, 15)).astype(float)
    s, var_s, z, p = _mk_rows(x)
    for i in range(50):
        one = mann_kendall(x[i])
        assert (s[i], var_s[i]) == (one.s, one.var_s)
        assert z[i] == pytest.approx(one.z) and p[i] == pytest.approx(one.p)


# --------------------------------------------------------------------------- categories

T = 12
RISE, FALL = np.linspace(2.2, 6.0, T), np.linspace(6.0, 2.2, T)
FLAT = 3.0 + 0.2 * np.tile([1.0, -1.0], T // 2)  # hot every month, no trend


def months(hot=(), cold=(), hot_z=3.0):
    """A z series: the listed months (1-based, −1 = final) hot or cold, the others 0."""
    z = np.zeros(T)
    z[[m - 1 if m > 0 else m for m in hot]] = hot_z
    z[[m - 1 if m > 0 else m for m in cold]] = -3.0
    return z


HOT_SERIES = {
    "new": months(hot=[-1]),
    "consecutive": months(hot=[10, 11, 12]),
    "intensifying": RISE,
    "persistent": FLAT,
    "diminishing": FALL,
    "sporadic": months(hot=[2, 5, 12]),
    "oscillating": months(hot=[7, 12], cold=[2]),
    "historical": np.r_[np.full(T - 1, 3.0), 0.0],  # 11 of 12 hot (≥ 90 %), final not
}


def categorise(z_rows: np.ndarray, **kw) -> np.ndarray:
    """Categories of hand-built Gi* z series (normal p, 90 %), as emerging_hotspots does."""
    bins = gi_bins(z_rows, 2 * stats.norm.sf(np.abs(z_rows)))
    _, _, trend_z, trend_p = _mk_rows(z_rows)
    return classify(bins >= 1, bins <= -1, trend_z, trend_p, 0.10, **kw)


@pytest.mark.parametrize("pattern", list(HOT_SERIES))
def test_each_hot_and_cold_category_from_hand_built_z_series(pattern) -> None:
    z = HOT_SERIES[pattern]
    got = categorise(np.vstack([z, -z]))
    assert list(got) == [f"{pattern} hot spot", f"{pattern} cold spot"]


def test_no_pattern_and_category_precedence() -> None:
    rows = {
        "no pattern detected": months(),
        "sporadic hot spot": months(hot=[3, 7]),  # quiet final month, never cold
        "persistent hot spot": months(hot=range(2, 13)),  # a run of 11 of 12: ≥ 90 %
        "oscillating hot spot": months(hot=[12], cold=[1, 2, 3]),  # cold history beats new
        "oscillating cold spot": months(hot=[4], cold=[11, 12]),
    }
    got = categorise(np.vstack([*rows.values(), months(hot=[3], cold=[8])]))
    assert list(got) == [*rows, "no pattern detected"]
    strict = categorise(
        np.vstack([months(hot=[3, 7]), months(hot=[2, 5, 12])]), sporadic_needs_final=True
    )
    assert list(strict) == ["no pattern detected", "sporadic hot spot"]


def test_categories_are_the_seventeen_of_arcgis() -> None:
    assert len(CATEGORIES) == 17 and len(set(CATEGORIES)) == 17


# --------------------------------------------------------------------------- end to end


@pytest.fixture(scope="module")
def hexes():
    lat, lon = 51.4415, 0.3700
    d = 1.5 / 111.2
    area = shapely.box(lon - 1.6 * d, lat - d, lon + 1.6 * d, lat + d)
    grid = build_grid(EMPTY, res=9, area_lonlat=area)
    return grid, grid.neighbours(1)


def test_planted_emerging_patterns_on_a_grid(hexes) -> None:
    grid, W = hexes
    n, t = grid.cells.size, 14
    rng = np.random.default_rng(3)
    x = rng.poisson(4.0, (n, t)).astype(float)
    index = {c: i for i, c in enumerate(grid.cells)}
    grow, new = n // 4, 3 * n // 4
    for c in h3.grid_disk(str(grid.cells[grow]), 1):
        x[index[c]] = 12.0 + 2.0 * np.arange(t)  # hot throughout, getting hotter
    for c in h3.grid_disk(str(grid.cells[new]), 1):
        x[index[c], -1] = 30.0  # hot in the final month only
    x = np.insert(x, 5, np.nan, axis=1)  # a month with no data at all
    result = emerging_hotspots(x, W)
    assert result.category[grow] == "intensifying hot spot"
    assert result.category[new] == "new hot spot"
    assert result.n_hot[grow] == t and result.last_bin[new] == 3
    assert list(result.months_used) == [i for i in range(t + 1) if i != 5]
    assert set(result.category) <= set(CATEGORIES)
    dropped = emerging_hotspots(np.delete(x, 5, axis=1), W)
    np.testing.assert_array_equal(dropped.category, result.category)
    np.testing.assert_allclose(dropped.trend_z, result.trend_z)


def test_emerging_with_permutations_is_seeded(hexes) -> None:
    grid, W = hexes
    x = np.random.default_rng(4).poisson(3.0, (grid.cells.size, 10)).astype(float)
    a = emerging_hotspots(x, W, permutations=49, seed=1)
    b = emerging_hotspots(x, W, permutations=49, seed=1)
    np.testing.assert_array_equal(a.category, b.category)
    np.testing.assert_array_equal(a.bins, b.bins)


def test_bad_input_is_refused_with_reasons(hexes) -> None:
    grid, W = hexes
    x = np.ones((grid.cells.size, 4))
    x[0, 2] = np.nan
    with pytest.raises(ValueError, match="NaN in every cell"):
        emerging_hotspots(x, W)
    with pytest.raises(ValueError, match="alpha"):
        emerging_hotspots(np.ones((grid.cells.size, 4)), W, alpha=0.2)
    with pytest.raises(ValueError, match="cells × months"):
        emerging_hotspots(np.ones(grid.cells.size), W)


def test_emerging_on_gravesham_asb(shared_data) -> None:
    files = sorted((shared_data / "police" / "gravesham_area").glob("*.csv"))
    raw = pd.concat([pd.read_csv(f) for f in files], ignore_index=True)
    raw = raw[raw["Crime type"] == "Anti-social behaviour"]
    data = pd.DataFrame(
        {
            "lat": raw["Latitude"],
            "lon": raw["Longitude"],
            "occurred_at": pd.to_datetime(raw["Month"] + "-01"),
        }
    )
    grid = build_grid(data, res=8)
    result = emerging_hotspots(grid.monthly_count, grid.neighbours(1))
    assert set(result.category) <= set(CATEGORIES)
    hottest = int(np.argmax(grid.count))
    assert result.category[hottest].endswith("hot spot")
    assert result.n_hot[hottest] >= 0.9 * len(grid.months)
