"""Plans that fit the shift (issue 13): sites split across the evenings asked for, with
travel and time on site inside each window, and what does not fit said, not squeezed in."""

from __future__ import annotations

from datetime import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hotspots.shifts import fit_shifts


def _minutes(clock: str) -> int:
    h, m = map(int, clock.split(":"))
    return h * 60 + m


@settings(max_examples=200, deadline=None)
@given(
    legs=st.lists(st.floats(0, 5000), min_size=1, max_size=15),
    per_site=st.sampled_from([0.5, 1.0, 1.5]),
    days=st.sampled_from([("Fri",), ("Fri", "Sat"), None, ("Mon", "Tue", "Wed")]),
    start=st.integers(0, 23),
    length=st.integers(1, 10),
)
def test_every_placed_visit_lies_inside_its_shift_and_nothing_is_lost(
    legs, per_site, days, start, length
):
    legs = [0.0, *legs[1:]]
    fit = fit_shifts(legs, per_site, 4000.0, days, (start, (start + length) % 24))
    placed = [v for s in fit.shifts for v in s.sites]
    assert sorted(placed + fit.unplaced) == list(range(1, len(legs) + 1))
    assert placed == sorted(placed)  # the visiting order is kept
    assert len(fit.shifts) == (len(days) if days else 1)
    for shift in fit.shifts:
        assert shift.hours_used <= length + 1e-6
        for t in shift.times:
            arrive = (_minutes(t["arrive"]) - start * 60) % (24 * 60)
            stay = (_minutes(t["leave"]) - _minutes(t["arrive"])) % (24 * 60)
            assert arrive + stay <= length * 60 + 1 and stay == round(per_site * 60)
    assert fit.fits == (not fit.unplaced)
    if fit.unplaced:
        assert any("do not fit" in n or "no site fits" in n for n in fit.notes)


def test_a_friday_and_saturday_evening_plan_on_the_demo_is_split_to_fit(demo_store):
    from api.usecases.plans import plan_from_store
    from hotspots.planner import PlanParams

    plan = plan_from_store(
        demo_store,
        PlanParams(
            sites=6,
            days=("Fri", "Sat"),
            hours_of_day=(18, 23),
            start=datetime(2022, 1, 1),
            end=datetime(2022, 12, 1),
        ),
        "borough",
    )
    doc = plan.to_dict()
    assert doc["summary"]["total_hours"] > 5  # more than one evening's work
    assert doc["summary"]["fits_shifts"] is True
    days = {s["shift"]["day"] for s in doc["sites"]}
    assert days == {"Fri", "Sat"}
    for shift in doc["shifts"]["shifts"]:
        assert shift["hours_used"] <= 5
    # each site's line says its own slot, not the preference asked for
    for site in doc["sites"]:
        slot = f"go {site['shift']['day']} {site['shift']['arrive']}–{site['shift']['leave']}"
        assert site["window"]["short"].endswith(slot), site["window"]["short"]
        assert "Fri, Sat" not in site["window"]["short"]
    assert any(n.startswith("Fri 18:00–23:00: sites 1–") for n in doc["notes"])
    too_many = plan_from_store(
        demo_store, PlanParams(sites=12, days=("Fri",), hours_of_day=(18, 23)), "borough"
    )
    assert too_many.shifts.unplaced and not too_many.shifts.fits
    assert any("do not fit in 1 shift(s) of 5 h" in n for n in too_many.notes)


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory):
    from geodata.demo import load_demo
    from geodata.stores import DuckDBStore

    store = DuckDBStore(tmp_path_factory.mktemp("shifts") / "demo.duckdb")
    load_demo(store)
    yield store
    store.close()
