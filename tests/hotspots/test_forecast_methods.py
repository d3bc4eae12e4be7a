"""Forecasting methods beyond last months' counts: no leakage, seeds, hand-worked truths."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import shapely
from forecast_frames import month_frame  # tests/hotspots/forecast_frames.py

from hotspots.forecast import MethodSpec, as_spec, backtest, cell_scores, study_grid
from hotspots.forecast.methods import PREDICTIVE, next_month
from hotspots.forecast.predictive import DEFAULTS, rank01

CRS = "EPSG:27700"
X0, Y0 = 565_000.0, 172_000.0
SIDE = 2_000.0
MONTHS = [f"2022-{m:02d}" for m in range(1, 13)]
EVERY = ["naive(months=6)", *PREDICTIVE]


_frame = month_frame


def _stable(seed=0, months=MONTHS):
    """Ten fixed hot snap points (Poisson, mean 6 a month) over a uniform background."""
    rng = np.random.default_rng(seed)
    hot = rng.uniform(200, SIDE - 200, (10, 2))
    xs, ys, ms = [], [], []
    for m in months:
        n = rng.poisson(6, 10)
        xs += list(np.repeat(hot[:, 0], n)) + list(rng.uniform(50, SIDE - 50, 60))
        ys += list(np.repeat(hot[:, 1], n)) + list(rng.uniform(50, SIDE - 50, 60))
        ms += [m] * (int(n.sum()) + 60)
    return _frame(X0 + np.array(xs), Y0 + np.array(ys), ms)


@pytest.fixture(scope="module")
def area():
    return shapely.box(X0, Y0, X0 + SIDE, Y0 + SIDE)


def _scores(data, area, method, train, seed=0):
    grid = study_grid(data, area, crs=CRS, res=9)
    rows = np.isin(grid.month_of, train) & (grid.pos >= 0)
    x, y = data["x"].to_numpy(float), data["y"].to_numpy(float)
    return cell_scores(as_spec(method), grid, train, x, y, rows, seed=seed)[0]


@pytest.mark.parametrize("method", EVERY)
def test_no_method_reads_the_months_it_forecasts(area, method):
    past = _stable(seed=1)
    future = past["occurred_at"] >= pd.Timestamp("2022-07-01")
    # the same past, a wholly different future (other places, ten times as many)
    other = _stable(seed=99)
    other = other[other["occurred_at"] >= pd.Timestamp("2022-07-01")]
    changed = pd.concat([past[~future], other, other, other], ignore_index=True)
    train = np.arange(6)  # January..June; the forecast month is July
    a = _scores(past, area, method, train)
    b = _scores(changed, area, method, train)
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)
    assert np.ptp(a) > 0  # the method did score the cells


def test_gbm_is_reproducible_from_its_seed(area):
    data = _stable(seed=2)
    train = np.arange(8)
    np.testing.assert_array_equal(
        _scores(data, area, "gbm", train, seed=7), _scores(data, area, "gbm", train, seed=7)
    )


def test_ewm_and_history_weigh_months_as_documented(area):
    data = _stable(seed=3)
    grid = study_grid(data, area, crs=CRS, res=9)
    train = np.arange(4)
    got = _scores(data, area, "ewm(halflife=1)", train)
    # halflife 1: last month 1, then 1/2, 1/4, 1/8
    want = grid.counts[:, train] @ np.array([0.125, 0.25, 0.5, 1.0])
    np.testing.assert_allclose(got, want)
    np.testing.assert_allclose(
        _scores(data, area, "history", train), grid.counts[:, :4].sum(axis=1)
    )


def test_pkde_equals_a_brute_force_sum(area):
    data = _stable(seed=4)
    grid = study_grid(data, area, crs=CRS, res=9)
    train = np.arange(3)
    got = _scores(data, area, "pkde(bandwidth_m=300,halflife=1)", train)
    rows = np.isin(grid.month_of, train) & (grid.pos >= 0)
    px, py = data["x"].to_numpy()[rows], data["y"].to_numpy()[rows]
    age = 3 - grid.month_of[rows]  # 1 for March
    for c in (0, grid.cells.size // 2, int(np.argmax(got))):
        d = np.hypot(px - grid.cx[c], py - grid.cy[c])
        k = np.where(d < 300, (1 - (d / 300) ** 2) ** 2, 0.0)
        assert got[c] == pytest.approx(float((k * 0.5 ** (age - 1)).sum()))


def test_sepp_finds_no_triggering_in_a_steady_process(area):
    # counts are Poisson around fixed means: the EM puts (almost) everything in the
    # background, so the forecast is each cell's mean
    data = _stable(seed=5)
    grid = study_grid(data, area, crs=CRS, res=9)
    train = np.arange(12)
    got = _scores(data, area, "sepp", train)
    mean = grid.counts.mean(axis=1)
    assert np.corrcoef(got, mean)[0, 1] > 0.99


def test_sepp_raises_cells_after_a_burst(area):
    # Training months show excitation: a burst of 20 at a new place is followed by
    # 10 and 5 there. In the last month a burst of 30 hits B; S has had 3 a month
    # all year (36 in all). A self-exciting forecast ranks B above S; counts of
    # the year (history) rank S first.
    rng = np.random.default_rng(6)
    bx, by = X0 + rng.uniform(0, SIDE, 100), Y0 + rng.uniform(0, SIDE, 100)
    frames = [_frame(bx, by, rng.choice(MONTHS, 100))]
    for i, start in enumerate(range(0, 9)):
        px, py = X0 + 200 + 150 * i, Y0 + 200 + 120 * (i % 3)
        for lag, n in enumerate((20, 10, 5)):
            frames.append(_frame(np.full(n, px), np.full(n, py), [MONTHS[start + lag]] * n))
    frames.append(_frame(np.full(30, X0 + 1700.0), np.full(30, Y0 + 1700.0), ["2022-12"] * 30))
    frames.append(_frame(np.full(36, X0 + 300.0), np.full(36, Y0 + 1800.0), np.repeat(MONTHS, 3)))
    data = pd.concat(frames, ignore_index=True)
    grid = study_grid(data, area, crs=CRS, res=9)
    b, s = grid.pos[-66], grid.pos[-1]
    got = _scores(data, area, "sepp", np.arange(12))
    assert got[b] > got[s]
    hist = _scores(data, area, "history", np.arange(12))
    assert hist[b] < hist[s]


def test_new_methods_beat_chance_on_stable_hotspots(area):
    r = backtest(
        _stable(seed=8), area, methods=EVERY, res=9, area_share=0.2, expanding=True,
        train_months=3, min_test_count=0,
    )  # fmt: skip
    s = r.summary().set_index("method")["mean_pai"]
    oracle = (r.table["max_hits"] / r.table["total"]).mean() / r.area_share
    for method in EVERY:
        assert s[as_spec(method).label] > 0.8 * oracle, method
    # expanding windows: the first origin trains on three months, the last on eleven
    first = r.table.iloc[0]["train"]
    assert first == "2022-01..2022-03" and r.table.iloc[-1]["train"] == "2022-01..2022-11"


def test_bad_parameters_are_refused(area):
    with pytest.raises(ValueError, match="bandwidth_m"):
        _scores(_stable(), area, "pkde(bandwidth_m=-5)", np.arange(3))
    with pytest.raises(ValueError, match="unknown"):
        MethodSpec("sepp", {"alpha": 1})
    with pytest.raises(ValueError, match="omega"):
        _scores(_stable(), area, "sepp(omega=2)", np.arange(3))
    assert set(DEFAULTS) == set(PREDICTIVE)


def test_helpers():
    assert next_month("2022-12") == "2023-01" and next_month("2022-01") == "2022-02"
    np.testing.assert_allclose(rank01(np.array([3.0, 1.0, 1.0, 2.0])), [1, 1 / 6, 1 / 6, 2 / 3])


def test_expanding_windows_never_train_across_a_gap(area):
    loaded = MONTHS[:6] + MONTHS[8:]  # July and August not loaded: unknown, not zero
    data = _stable(seed=9, months=loaded)
    r = backtest(
        data, area, methods=["history"], res=9, months=loaded, expanding=True,
        train_months=3, min_test_count=0,
    )  # fmt: skip
    trains = dict(zip(r.table["origin"], r.table["train"], strict=True))
    assert trains == {
        "2022-04": "2022-01..2022-03",
        "2022-05": "2022-01..2022-04",
        "2022-06": "2022-01..2022-05",
        "2022-12": "2022-09..2022-11",
    }
