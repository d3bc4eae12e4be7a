"""Kernel density, temporal profiles, rates and provenance."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hotspots.kde import bandwidth_rule, density_contours, kernel_density
from hotspots.provenance import Provenance
from hotspots.rates import area_rates, poisson_interval
from hotspots.temporal import temporal_profile

MONTHS_2022 = [f"2022-{m:02d}" for m in range(1, 13)]


def test_kde_integrates_to_total_weight_and_peaks_at_the_planted_hotspot() -> None:
    rng = np.random.default_rng(1)
    x = np.r_[rng.normal(1000, 60, 400), rng.uniform(-5000, 5000, 400)]
    y = np.r_[rng.normal(-2000, 60, 400), rng.uniform(-5000, 5000, 400)]
    w = rng.uniform(1, 3, len(x))
    s = kernel_density(x, y, w, bandwidth_m=200, cell_m=25)
    assert s.density_per_km2.sum() * s.cell_m**2 / 1e6 == pytest.approx(w.sum(), rel=1e-9)
    r, c = np.unravel_index(np.argmax(s.density_per_km2), s.density_per_km2.shape)
    xs, ys = s.cell_centres()
    assert abs(xs[c] - 1000) < 60 and abs(ys[r] + 2000) < 60


def test_kde_single_point_matches_the_quartic_kernel() -> None:
    s = kernel_density(
        np.array([0.0]), np.array([0.0]), bandwidth_m=500, cell_m=10, bounds=(-600, -600, 600, 600)
    )
    peak = s.value_at(np.array([5.0]), np.array([5.0]))[0]
    # continuous quartic kernel at ~0 distance: 3/(π h²) per m² → per km²
    assert peak == pytest.approx(3 / (np.pi * 500**2) * 1e6, rel=0.01)
    assert s.value_at(np.array([505.0]), np.array([5.0]))[0] == 0.0


def test_bandwidth_rule_is_reported_and_shrinks_with_n() -> None:
    rng = np.random.default_rng(2)
    x, y = rng.normal(0, 1000, 1000), rng.normal(0, 1000, 1000)
    h1, reason = bandwidth_rule(x, y)
    h2, _ = bandwidth_rule(x[:100], y[:100])
    assert "Silverman" in reason and h1 < h2
    assert h1 == pytest.approx(
        0.9 * min(np.sqrt(np.mean(x**2 + y**2 - 0)), 1e9) * 1000**-0.2, rel=0.2
    )


def test_contours_nest_and_hold_weight_shares() -> None:
    rng = np.random.default_rng(3)
    x, y = rng.normal(0, 300, 2000), rng.normal(0, 300, 2000)
    c = density_contours(kernel_density(x, y, bandwidth_m=150))
    assert list(c["top_share"]) == [0.01, 0.05, 0.10, 0.25]
    assert c["area_m2"].is_monotonic_increasing and c["weight_share"].is_monotonic_increasing
    assert c.geometry.iloc[1].contains(c.geometry.iloc[0].buffer(-1))


def test_profile_month_only_data_says_times_unknown_and_flags_summer() -> None:
    stamps = pd.Series(pd.to_datetime(["2022-06-01"] * 40 + ["2022-02-01"] * 5))
    p = temporal_profile(stamps, pd.Series(["month"] * 45), MONTHS_2022)
    assert p.hour_weekday is None and "month only" in p.hour_weekday_note
    assert p.summer.flag and p.summer.expected_share == pytest.approx(4 / 12)
    assert not p.halloween_bonfire.flag
    assert "October" in p.halloween_bonfire.note
    assert p.monthly["2022-06"] == 40 and sum(p.monthly.values()) == 45


def test_profile_with_times_fills_hour_weekday_and_bonfire_night() -> None:
    stamps = pd.Series(pd.to_datetime(["2022-11-05 20:30"] * 12 + ["2022-03-09 09:00"] * 12))
    p = temporal_profile(stamps, pd.Series(["minute"] * 24), MONTHS_2022)
    hw = np.array(p.hour_weekday)
    assert hw.sum() == 24 and hw[5, 20] == 12 and hw[2, 9] == 12  # Sat 20:00, Wed 09:00
    assert p.halloween_bonfire.flag and not p.summer.flag


def test_profile_year_on_year_only_when_last_year_is_there() -> None:
    months = ["2023-01", "2023-02", "2023-03", "2024-01", "2024-02", "2024-03"]
    stamps = pd.Series(pd.to_datetime(["2023-02-01"] * 10 + ["2024-02-01"] * 15))
    p = temporal_profile(stamps, pd.Series(["month"] * 25), months)
    assert p.year_on_year["count"] == 15 and p.year_on_year["previous_count"] == 10
    assert p.year_on_year["change_pct"] == 50.0
    p2 = temporal_profile(stamps, pd.Series(["month"] * 25), months[3:])
    assert p2.year_on_year is None


def test_rates_per_thousand_with_borough_rate() -> None:
    codes = pd.Series(["A"] * 30 + ["B"] * 10 + [None] * 5 + ["Z"] * 2)
    pop = pd.DataFrame({"area_code": ["A", "B", "C"], "population": [1000.0, 2000.0, 1000.0]})
    table, borough = area_rates(codes, pop, names={"A": "Alpha"})
    t = table.set_index("area_code")
    assert t.loc["A", "rate"] == 30.0 and t.loc["B", "rate"] == 5.0 and t.loc["C", "count"] == 0
    assert t.loc["A", "name"] == "Alpha"
    assert borough["rate"] == pytest.approx(40 / 4000 * 1000)
    assert borough["outside_areas"] == 7
    assert t.loc["A", "ratio_to_borough"] == pytest.approx(3.0)
    assert t.loc["A", "rate_low"] < 30 < t.loc["A", "rate_high"]


def test_poisson_interval_known_values() -> None:
    lo, hi = poisson_interval(np.array([0, 10]))
    assert lo[0] == 0 and hi[0] == pytest.approx(3.689, abs=1e-3)
    assert lo[1] == pytest.approx(4.795, abs=1e-3) and hi[1] == pytest.approx(18.39, abs=1e-2)


def prov(**kw) -> Provenance:
    base = dict(
        method="dbscan",
        parameters={"eps_m": 150, "min_samples": 10},
        automatic={},
        window={"start": None, "end": None, "months": MONTHS_2022},
        categories=["violent-crime"],
        batches={"b": "h"},
        weights_version="v1",
        concern_profile="c",
        ranking_weights={"volume": 1},
        seed=0,
        n_incidents=10,
    )
    base.update(kw)
    return Provenance(**base)


def test_run_id_is_stable_and_changes_with_any_input() -> None:
    assert prov().run_id == prov().run_id
    assert prov().run_id.startswith("run-")
    others = [
        prov(parameters={"eps_m": 151, "min_samples": 10}),
        prov(seed=1),
        prov(batches={"b": "h2"}),
        prov(weights_version="v2"),
        prov(categories=None),
    ]
    assert len({p.run_id for p in others} | {prov().run_id}) == 6


def test_the_chosen_bandwidth_is_whole_metres_and_its_reason_counts_incidents():
    rng = np.random.default_rng(3)
    x, y = rng.normal(0, 300, 54), rng.normal(0, 300, 54)
    plain = kernel_density(x, y, cell_m=10)
    assert plain.bandwidth_m == round(plain.bandwidth_m)
    assert "n = 54 incidents" in plain.bandwidth_reason
    assert plain.bandwidth_reason.endswith(f"{plain.bandwidth_m:.0f} m")
    weighted = kernel_density(x, y, np.full(54, 2.0), cell_m=10)
    assert "n = 108.0, the sum of the weights of 54 incidents" in weighted.bandwidth_reason
