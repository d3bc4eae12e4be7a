"""Before/after evaluation: WDD against hand counts, planted effects, no-effect trials."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import shapely
from scipy import stats

from hotspots.beforeafter import assess, evaluate, poisson_change, relative_change, wdd

TARGET = shapely.box(0, 0, 500, 500)
CONTROL = shapely.box(3_000, 0, 3_500, 500)
BEFORE = ("2022-01-01", "2022-04-01")
AFTER = ("2022-04-01", "2022-07-01")


def test_wdd_matches_the_hand_worked_formula():
    before = {"target": 120, "control": 80, "buffer": 40, "control_buffer": 30}
    after = {"target": 90, "control": 84, "buffer": 46, "control_buffer": 25}
    w = wdd(before, after)
    # ΔT − ΔC + ΔD − ΔCd = −30 − 4 + 6 − (−5) = −23; variance = sum of all eight counts
    assert w.estimate == -23
    assert w.variance == 120 + 90 + 80 + 84 + 40 + 46 + 30 + 25
    assert w.z == pytest.approx(-23 / math.sqrt(515))
    assert w.p == pytest.approx(2 * stats.norm.cdf(-23 / math.sqrt(515)))
    assert w.ci_low == pytest.approx(-23 - 1.959964 * math.sqrt(515), rel=1e-6)


def test_wdd_scales_unequal_windows_and_weighted_variance():
    # after window twice as long: before counts are doubled, their variance ×4
    w = wdd({"target": 10, "control": 20}, {"target": 30, "control": 36}, ratio=2.0)
    assert w.estimate == (30 - 20) - (36 - 40)
    assert w.variance == 30 + 4 * 10 + 36 + 4 * 20
    h = wdd(
        {"target": 10.0, "control": 4.0},
        {"target": 6.0, "control": 4.0},
        variance_before={"target": 50.0, "control": 8.0},
        variance_after={"target": 30.0, "control": 8.0},
    )
    assert h.estimate == -4 and h.variance == 96


def test_poisson_change_interval_is_the_exact_binomial_one():
    c = poisson_change(100, 70)
    ci = stats.binomtest(70, 170).proportion_ci(0.95, method="exact")
    assert c.rate_ratio == pytest.approx(0.7)
    assert c.ci_low == pytest.approx(ci.low / (1 - ci.low))
    assert c.ci_high == pytest.approx(ci.high / (1 - ci.high))
    longer = poisson_change(100, 200, ratio=2.0)  # same rate per day: no change
    assert longer.rate_ratio == pytest.approx(1.0) and longer.ci_low < 1 < longer.ci_high
    assert poisson_change(0, 5).rate_ratio == math.inf
    with pytest.raises(ValueError, match="whole count"):
        poisson_change(1.5, 2)


def test_relative_change_log_interval():
    r = relative_change((100, 70), (100, 100))
    se = math.sqrt(1 / 100 + 1 / 70 + 1 / 100 + 1 / 100)
    assert r.rate_ratio == pytest.approx(0.7)
    assert r.ci_high == pytest.approx(0.7 * math.exp(1.959964 * se), rel=1e-6)


def _trial(rng, effect, scale=1000):
    """Poisson counts with an effect multiplying the target's after rate."""
    means = {
        "target": scale,
        "control": scale,
        "buffer": 0.3 * scale,
        "control_buffer": 0.3 * scale,
    }
    before = {a: int(rng.poisson(m)) for a, m in means.items()}
    after = {a: int(rng.poisson(m * (effect if a == "target" else 1))) for a, m in means.items()}
    return assess(before, after)


def test_planted_thirty_percent_reduction_is_detected():
    rng = np.random.default_rng(1)
    verdicts = [_trial(rng, 0.7).verdict for _ in range(200)]
    assert verdicts.count("reduction") >= 0.95 * 200


def test_no_effect_gives_no_evidence_of_change_in_95_percent_of_trials():
    rng = np.random.default_rng(2)
    for scale in (30, 1000):  # quiet and busy places
        verdicts = [_trial(rng, 1.0, scale).verdict for _ in range(200)]
        assert verdicts.count("no evidence of change") >= 0.95 * 200, scale
        assert set(verdicts) <= {"no evidence of change", "reduction", "increase"}


def test_a_fall_shared_by_the_control_is_not_credited():
    r = assess({"target": 400, "control": 400}, {"target": 280, "control": 280})
    assert r.changes["target"].ci_high < 1  # the target did fall...
    assert r.verdict == "no evidence of change"  # ...but so did the control
    assert r.summary.startswith("No evidence of change")


def _points(rng, poly, n):
    minx, miny, maxx, maxy = poly.bounds
    xs, ys = [], []
    while len(xs) < n:
        x = rng.uniform(minx, maxx, 2 * n + 10)
        y = rng.uniform(miny, maxy, 2 * n + 10)
        keep = shapely.contains_xy(poly, x, y)
        xs += list(x[keep])
        ys += list(y[keep])
    return np.array(xs[:n]), np.array(ys[:n])


def _incidents(rng, plan):
    rows = []
    for poly, when, n, category in plan:
        x, y = _points(rng, poly, n)
        rows.append(
            pd.DataFrame({"x": x, "y": y, "occurred_at": pd.Timestamp(when), "category": category})
        )
    return pd.concat(rows, ignore_index=True)


def test_evaluate_counts_points_in_areas_and_detects_planted_reduction():
    rng = np.random.default_rng(3)
    ring = TARGET.buffer(200).difference(TARGET)
    cring = CONTROL.buffer(200).difference(CONTROL)
    far = shapely.box(10_000, 10_000, 11_000, 11_000)
    plan = [
        (TARGET, "2022-02-10", 500, "burglary"),
        (TARGET, "2022-05-10", 350, "burglary"),
        (CONTROL, "2022-02-11", 400, "burglary"),
        (CONTROL, "2022-05-11", 400, "burglary"),
        (ring, "2022-02-12", 100, "burglary"),
        (ring, "2022-05-12", 110, "burglary"),
        (cring, "2022-02-13", 90, "burglary"),
        (cring, "2022-05-13", 90, "burglary"),
        (far, "2022-05-13", 1000, "burglary"),  # elsewhere: counted nowhere
        (TARGET, "2021-06-01", 1000, "burglary"),  # outside both windows
    ]
    data = _incidents(rng, plan)
    r = evaluate(data, TARGET, CONTROL, 200.0, before=BEFORE, after=AFTER)
    assert r.counts["target"] == {"before": 500, "after": 350}
    assert r.counts["control"] == {"before": 400, "after": 400}
    assert r.counts["buffer"] == {"before": 100, "after": 110}
    assert r.counts["control_buffer"] == {"before": 90, "after": 90}
    ratio = 91 / 90  # April–June is a day longer than January–March
    assert r.ratio == pytest.approx(ratio)
    expected = (350 - 500 * ratio) - (400 - 400 * ratio) + (110 - 100 * ratio) - (90 - 90 * ratio)
    assert r.wdd.estimate == pytest.approx(expected)
    assert r.verdict == "reduction"
    assert r.summary.startswith("Evidence of a reduction")
    assert r.changes["target"].percent == pytest.approx(100 * (350 / (500 * ratio) - 1))
    # burglary weighs more than 1: harm WDD is the count WDD times that weight
    w = r.harm_wdd.estimate / r.wdd.estimate
    assert w > 1 and r.harm_wdd.variance == pytest.approx(w * w * r.wdd.variance)
    doc = r.to_dict()
    assert doc["verdict"] == "reduction" and doc["wdd"]["estimate"] == pytest.approx(expected)


def test_evaluate_refuses_bad_input():
    data = pd.DataFrame({"x": [1.0], "y": [1.0], "occurred_at": [pd.Timestamp("2022-02-01")]})
    with pytest.raises(ValueError, match="overlap"):
        evaluate(data, TARGET, TARGET.buffer(100), 50.0, before=BEFORE, after=AFTER)
    with pytest.raises(ValueError, match="do not overlap"):
        evaluate(data, TARGET, CONTROL, before=BEFORE, after=("2022-03-01", "2022-05-01"))
    with pytest.raises(ValueError, match="start before end"):
        evaluate(data, TARGET, CONTROL, before=("2022-03-01", "2022-01-01"), after=AFTER)
    with pytest.raises(ValueError, match="Polygon"):
        evaluate(data, shapely.Point(0, 0), CONTROL, before=BEFORE, after=AFTER)
    with pytest.raises(ValueError, match="missing"):
        evaluate(data.drop(columns="y"), TARGET, CONTROL, before=BEFORE, after=AFTER)
    r = evaluate(data, TARGET, CONTROL, before=BEFORE, after=AFTER)
    assert r.verdict == "no evidence of change" and r.harm_wdd is None and r.notes


def test_control_next_to_the_target_gets_a_ring_that_avoids_it():
    # control 300 m east of the target: 200 m rings would meet; the control's ring gives way
    control = shapely.box(800, 0, 1_300, 500)
    at = pd.Timestamp("2022-02-01")
    data = pd.DataFrame(
        {
            # in both rings (150 m from each), control ring, control, control ring
            "x": [650.0, 750.0, 900.0, 1_400.0],
            "y": [250.0, 250.0, 250.0, 250.0],
            "occurred_at": [at] * 4,
        }
    )
    r = evaluate(data, TARGET, control, 200.0, before=BEFORE, after=AFTER)
    assert r.counts["buffer"]["before"] == 1  # 650: the target's ring has it
    assert r.counts["control"]["before"] == 1
    assert r.counts["control_buffer"]["before"] == 2  # 750 and 1,400, not 650


def test_time_zones_of_data_and_windows_may_differ():
    at = pd.to_datetime(["2022-02-01", "2022-05-01"]).tz_localize("UTC")
    data = pd.DataFrame({"x": [10.0, 10.0], "y": [10.0, 10.0], "occurred_at": at})
    r = evaluate(data, TARGET, CONTROL, before=BEFORE, after=AFTER)
    assert r.counts["target"] == {"before": 1, "after": 1}
    naive = data.assign(occurred_at=at.tz_convert(None))
    aware = (pd.Timestamp("2022-01-01", tz="UTC"), pd.Timestamp("2022-04-01", tz="UTC"))
    r = evaluate(naive, TARGET, CONTROL, before=aware, after=AFTER)
    assert r.counts["target"] == {"before": 1, "after": 1}
