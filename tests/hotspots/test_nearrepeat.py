"""Knox test against a brute-force pair count; planted near repeats; risk zones."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hotspots.nearrepeat import MONTH_BANDS_DAYS, days_since, knox, risk_zones

SPACE = (0.0, 100.0, 200.0, 400.0)
TIME = (0.0, 1.0, 8.0, 15.0, 29.0)


def brute_force(x, y, t, space, time):
    """Every unordered pair, one at a time: the definition, O(n²)."""
    out = np.zeros((len(space) - 1, len(time) - 1), dtype=int)
    for a in range(len(x)):
        for b in range(a + 1, len(x)):
            d = ((x[a] - x[b]) ** 2 + (y[a] - y[b]) ** 2) ** 0.5
            dt = abs(t[a] - t[b])
            for k in range(len(space) - 1):
                for m in range(len(time) - 1):
                    if space[k] <= d < space[k + 1] and time[m] <= dt < time[m + 1]:
                        out[k, m] += 1
    return out


@pytest.fixture(scope="module")
def small():
    rng = np.random.default_rng(4)
    n = 80
    # integer-metre coordinates and whole days, so many pairs sit exactly on band edges
    x = rng.integers(0, 600, n).astype(float)
    y = rng.integers(0, 600, n).astype(float)
    t = rng.integers(0, 40, n).astype(float)
    x[:4], y[:4], t[:4] = [0, 100, 0, 0], [0, 0, 200, 0], [0, 7, 8, 1]  # exact edges
    return x, y, t


def test_observed_and_expected_equal_a_brute_force_count(small):
    x, y, t = small
    r = knox(x, y, t, SPACE, TIME, permutations=19, seed=7)
    np.testing.assert_array_equal(r.observed, brute_force(x, y, t, SPACE, TIME))
    # the documented permutation scheme, recounted by brute force
    rng = np.random.default_rng(7)
    sims = np.array([brute_force(x, y, t[rng.permutation(len(t))], SPACE, TIME) for _ in range(19)])
    np.testing.assert_allclose(r.expected, sims.mean(axis=0))
    np.testing.assert_allclose(r.p, ((sims >= r.observed).sum(axis=0) + 1) / 20)
    assert r.n_pairs == r.observed.sum()


def test_bands_are_half_open():
    # d = 100 exactly is in [100, 200); Δt = 7 exactly is in [1, 8), Δt = 8 in [8, 15)
    r = knox([0, 100], [0, 0], [0, 7], SPACE, TIME, permutations=1)
    assert r.observed[1, 1] == 1 and r.observed.sum() == 1
    r = knox([0, 99.999], [0, 0], [0, 8], SPACE, TIME, permutations=1)
    assert r.observed[0, 2] == 1 and r.observed.sum() == 1
    # same day is [0, 1): never in the "1 to 7 days" band (the NRC's [a-1, b) defect)
    r = knox([0, 10], [0, 0], [3, 3], SPACE, TIME, permutations=1)
    assert r.observed[0, 0] == 1 and r.observed[0, 1] == 0
    assert r.table()["time_band"].iloc[1] == "[1, 8) days"


def test_planted_near_repeats_are_found_and_random_data_is_not():
    rng = np.random.default_rng(5)
    n = 300
    x = rng.uniform(0, 5_000, n)
    y = rng.uniform(0, 5_000, n)
    t = rng.uniform(0, 365, n)
    # each of the first 60 incidents is repeated within 50 m and 5 days
    k = 60
    xr = x[:k] + rng.uniform(-35, 35, k)
    yr = y[:k] + rng.uniform(-35, 35, k)
    tr = t[:k] + rng.uniform(0, 5, k)
    planted = knox(np.r_[x, xr], np.r_[y, yr], np.r_[t, tr], SPACE, TIME, permutations=199, seed=1)
    assert planted.p[0, :2].max() < 0.01 and planted.ratio[0, 1] > 5
    assert planted.extent() == (100.0, 8.0)
    null = knox(x, y, t, SPACE, TIME, permutations=199, seed=1)
    assert (null.p < 0.01).sum() <= 1
    assert null.extent() is None


def test_month_precision_note_and_bands():
    months = pd.to_datetime(["2022-01-01", "2022-02-01", "2022-02-01", "2022-04-01"])
    t = days_since(months)
    assert t.tolist() == [0, 31, 31, 90]
    r = knox([0, 10, 20, 30], [0, 0, 0, 0], t, SPACE, MONTH_BANDS_DAYS, permutations=9)
    # same month / next month / 2 months / 3 months apart
    assert r.observed[0].tolist() == [1, 2, 2, 1]
    assert not r.notes
    day_bands = knox([0, 10, 20, 30], [0, 0, 0, 0], t, SPACE, TIME, permutations=9)
    assert "month" in day_bands.notes[0]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"space_bands_m": (100, 50)}, "increasing"),
        ({"time_bands_days": (7,)}, "at least two"),
        ({"permutations": 0}, "permutations"),
        ({"t_days": [0.0, np.nan]}, "finite"),
        ({"t_days": [0.0]}, "one per point"),
    ],
)
def test_bad_input_is_refused(kwargs, message):
    args = {
        "x": [0.0, 1.0],
        "y": [0.0, 1.0],
        "t_days": [0.0, 1.0],
        "space_bands_m": SPACE,
        "time_bands_days": TIME,
        "permutations": 9,
    } | kwargs
    with pytest.raises(ValueError, match=message):
        knox(**args)


def test_risk_zones_expire_and_dissolve():
    x = np.array([0.0, 50.0, 1_000.0, 2_000.0])
    y = np.zeros(4)
    when = pd.to_datetime(["2022-03-01", "2022-03-10", "2022-03-05", "2022-01-01"])
    zones = risk_zones(x, y, when, as_of="2022-03-12", radius_m=100, days=14)
    # the January incident has expired; the two close ones merge
    assert len(zones) == 2
    merged = zones[zones["incidents"] == 2].iloc[0]
    assert merged["expires"] == pd.Timestamp("2022-03-24")
    assert merged["first_occurred"] == pd.Timestamp("2022-03-01")
    lone = zones[zones["incidents"] == 1].iloc[0]
    assert lone["expires"] == pd.Timestamp("2022-03-19")
    assert lone.geometry.area == pytest.approx(np.pi * 100**2, rel=0.01)
    separate = risk_zones(x, y, when, as_of="2022-03-12", radius_m=100, days=14, dissolve=False)
    assert len(separate) == 3 and separate.crs == "EPSG:27700"
    assert risk_zones(x, y, when, as_of="2021-01-01", radius_m=100, days=14).empty
