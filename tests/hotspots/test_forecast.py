"""Forecast scoring and the rolling-origin backtest, on hand-worked and synthetic truths."""

from __future__ import annotations

import math

import numpy as np
import pytest
import shapely
from forecast_frames import month_frame  # tests/hotspots/forecast_frames.py

from hotspots.forecast import MethodSpec, as_spec, backtest, score_forecast, select_cells

CRS = "EPSG:27700"
X0, Y0 = 565_000.0, 172_000.0  # Gravesham, metres
SIDE = 2_000.0


def test_scores_match_hand_worked_example():
    # 2 km² flagged of 40 km²; 30 of 120 test incidents inside; the best 2 km² held 60;
    # the flagged area held 20 of 200 training incidents.
    s = score_forecast(2e6, 40e6, 30, 120, max_hits=60, train_hits=20, train_total=200)
    assert s.hit_rate == pytest.approx(30 / 120)
    assert s.pai == pytest.approx(0.25 / 0.05)  # 5
    best_pai = (60 / 120) / (2 / 40)  # 10
    assert s.pei == pytest.approx(5 / best_pai)
    assert s.rri == pytest.approx((30 / 20) / (120 / 200))  # 2.5
    d = s.to_dict()
    assert d["area_share"] == pytest.approx(0.05) and d["pai"] == pytest.approx(5)


def test_harm_pai_and_undefined_ratios():
    s = score_forecast(1.0, 10.0, 0, 0, train_hits=0, train_total=5, harm_hits=8, harm_total=10)
    assert math.isnan(s.hit_rate) and math.isnan(s.pai) and math.isnan(s.rri)
    assert math.isnan(s.pei)  # no max_hits given
    assert s.harm_pai == pytest.approx(0.8 / 0.1)
    assert s.to_dict()["pai"] is None


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"hits": 5, "total": 4}, "at most total"),
        ({"selected_area_m2": 11.0}, "selected ≤ total"),
        ({"hits": -1}, "≥ 0"),
        ({"max_hits": 1}, "max_hits"),
    ],
)
def test_bad_scores_are_refused(kwargs, message):
    args = {"selected_area_m2": 1.0, "total_area_m2": 10.0, "hits": 2, "total": 4} | kwargs
    with pytest.raises(ValueError, match=message):
        score_forecast(**args)


def test_select_cells_breaks_ties_by_training_count_then_order():
    score = np.array([1.0, 3.0, 3.0, 0.0, 3.0])
    tiebreak = np.array([9.0, 1.0, 5.0, 0.0, 5.0])
    assert select_cells(score, tiebreak, 3).tolist() == [2, 4, 1]


_frame = month_frame


def _moving_hotspot(seed=0):
    """Months 1–3: a very heavy, broad hotspot A; months 4–9: a light, compact one at B.

    A covers about 26 grid cells (more than the 15 flagged), B one snap point.
    Every six-month training window of the test months 7–9 still holds at
    least one month of A, which outweighs B cell for cell: Gi*, KDE and
    DBSCAN (which use all six months) flag A, where nothing happens any more.
    The naive "last three months" map has moved to B. The truth: naive is best.
    Background: 40 incidents a month, uniform, 100 m clear of the edges.
    """
    rng = np.random.default_rng(seed)
    xs, ys, ms = [], [], []
    lattice = np.arange(7) * 90.0
    ax, ay = np.meshgrid(X0 + 300 + lattice, Y0 + 300 + lattice)
    for month in range(1, 10):
        key = f"2022-{month:02d}"
        xs += list(rng.uniform(X0 + 100, X0 + SIDE - 100, 40))
        ys += list(rng.uniform(Y0 + 100, Y0 + SIDE - 100, 40))
        ms += [key] * 40
        if month <= 3:
            xs += list(np.repeat(ax.ravel(), 150))
            ys += list(np.repeat(ay.ravel(), 150))
            ms += [key] * (49 * 150)
        else:
            xs += [X0 + 1500] * 20
            ys += [Y0 + 1500] * 20
            ms += [key] * 20
    return _frame(np.array(xs), np.array(ys), ms)


@pytest.fixture(scope="module")
def area():
    return shapely.box(X0, Y0, X0 + SIDE, Y0 + SIDE)


@pytest.fixture(scope="module")
def moved(area):
    return backtest(_moving_hotspot(), area, train_months=6, area_share=0.05)


def test_backtest_finds_the_known_best_method(moved):
    t = moved.table
    assert sorted(t["origin"].unique()) == ["2022-07", "2022-08", "2022-09"]
    assert set(t["method"]) == {"naive", "gistar", "kde", "dbscan"}
    # equal area for every method in every window
    shares = t.groupby("origin")["area_share"].agg(["min", "max"])
    assert (shares["max"] - shares["min"] < 0.002).all()
    best = moved.best()
    assert best["method"] == "naive" and best["clear"]
    assert best["sentence"].startswith("naive predicted best")
    summary = moved.summary().set_index("method")
    for other in ("gistar", "kde", "dbscan"):
        assert summary.loc["naive", "mean_pai"] > 2 * summary.loc[other, "mean_pai"]
    assert summary.loc["naive", "wins"] == 3


def test_backtest_rows_equal_an_independent_count(moved, area):
    data = _moving_hotspot()
    row = moved.table.query("origin == '2022-08' and method == 'naive'").iloc[0]
    # independent: every incident of August lies inside the area, and B's snap point
    # (the busiest cell of May–July) is flagged, so its 20 incidents are hits
    aug = data[data["occurred_at"] == "2022-08-01"]
    assert row["total"] == len(aug) == 60
    assert row["hits"] >= 20
    others = moved.table.query("origin == '2022-08' and method != 'naive'")
    assert (others["hits"] < 20).all()
    assert row["pai"] == pytest.approx(row["hit_rate"] / row["area_share"])
    assert row["pei"] == pytest.approx(row["hits"] / row["max_hits"])


def test_backtest_accepts_parameter_variants_and_refuses_bad_input(area):
    data = _moving_hotspot()
    r = backtest(
        data,
        area,
        methods=["naive", "naive(months=1)", MethodSpec("gistar", {"k": 2})],
        train_months=4,
    )
    assert set(r.table["method"]) == {"naive", "naive(months=1)", "gistar(k=2)"}
    same = backtest(data, area, methods=["gistar"], train_months=4, params={"gistar": {"k": 2}})
    assert same.table["method"].unique().tolist() == ["gistar(k=2)"]
    assert same.table["pai"].tolist() == r.table.query("method == 'gistar(k=2)'")["pai"].tolist()
    doc = r.to_dict()
    assert doc["cells_selected"] == r.k_cells and len(doc["windows"]) == 3 * 5
    with pytest.raises(ValueError, match="area_share"):
        backtest(data, area, area_share=1.5)
    with pytest.raises(ValueError, match="expected one of"):
        backtest(data, area, methods=["crystal-ball"])
    with pytest.raises(ValueError, match="unknown"):
        backtest(data, area, methods=[("kde", {"radius": 3})])
    with pytest.raises(ValueError, match="missing"):
        backtest(data.drop(columns="lat"), area)
    with pytest.raises(ValueError, match="params"):
        backtest(data, area, params={"gi": {"k": 2}})


def test_method_labels_parse_back():
    spec = as_spec("kde(bandwidth_m=150, cell_m=25.0)")
    assert spec == MethodSpec("kde", {"bandwidth_m": 150, "cell_m": 25.0})
    assert as_spec(spec.label) == spec
    assert as_spec(("gistar", {"k": 2})).label == "gistar(k=2)"
    with pytest.raises(ValueError, match="key=value"):
        as_spec("kde(150)")
    with pytest.raises(ValueError, match="number"):
        as_spec("kde(bandwidth_m=wide)")


def test_listed_months_without_data_count_as_zero(area):
    data = _moving_hotspot()
    months = [f"2022-{m:02d}" for m in range(1, 11)]  # October has no incident
    r = backtest(data, area, methods=["naive"], train_months=6, months=months)
    october = r.table.query("origin == '2022-10'").iloc[0]
    assert october["total"] == 0 and math.isnan(october["pai"])
    july = r.table.query("origin == '2022-07'").iloc[0]
    plain = backtest(data, area, methods=["naive"], train_months=6)
    assert july["pai"] == plain.table.query("origin == '2022-07'").iloc[0]["pai"]
    # a window listing only some months: the others are left out of training
    late = backtest(data, area, methods=["naive"], train_months=2, months=months[5:9])
    assert late.table["origin"].tolist() == ["2022-08", "2022-09"]
    assert late.table["train"].tolist() == ["2022-06..2022-07", "2022-07..2022-08"]
