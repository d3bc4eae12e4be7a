"""Every figure knows which months it stands on (issue 12), on both stores.

The scenario of the issue: police.uk 2022-01..11 (the demo) and 2024-01..04 (real
Gravesham months from ../shared/data) with a council fly-tipping export to 2024-06.
Importing the council file must not change any police figure; the ward briefing
must not claim a change on a year it does not have; the backtest must say where
the gap is. A Hypothesis property checks the rule on the pure pipeline: removing a
month of one source never changes a figure for another source's categories.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.usecases.analyse import analyse_store
from api.usecases.backtests import run_backtest
from api.usecases.plans import ward_briefing
from geodata.coverage import build_coverage
from geodata.demo import demo_dir
from geodata.ingest import context_for, import_records
from geodata.model import BatchInfo
from geodata.readers.council import read_council
from geodata.readers.police import read_police
from hotspots.analysis import AnalysisParams, run_analysis

POLICE = "police-uk/kent-police"
FLYTIPPING = demo_dir().parent / "examples" / "flytipping_synthetic.csv"
PELHAM = "E05004968"  # a Gravesham ward


def _import(env, records, api_kit) -> None:
    from geodata.settings import IngestSettings

    ingest = IngestSettings(
        study_area=demo_dir() / "gravesham-district.geojsonl",
        study_area_buffer_m=2000,
        sensitive_categories=api_kit.sensitive,
    )
    report = import_records(env.store, records, context_for(env.store, ingest))
    assert report.rows_accepted > 0


def _figures(store, method: str, categories) -> dict:
    """What a police analysis shows: per hotspot its rank, count, trend and class."""
    result = analyse_store(store, AnalysisParams(method=method, categories=categories))
    table = result.hotspots
    cols = [c for c in ("rank", "count", "trend_z", "score", "emerging") if c in table]
    out = table.set_index("hotspot_id")[cols].to_dict("index")
    return {"months": result.provenance.window["months"], "hotspots": out}


@pytest.fixture(scope="module")
def scenario(make_api_env, api_kit, shared_data, tmp_path_factory):
    with make_api_env(tmp_path_factory.mktemp("coverage")) as env:
        folder = shared_data / "police" / "gravesham_area"
        for month in ("2024-01", "2024-02", "2024-03", "2024-04"):
            _import(
                env, list(read_police(folder / f"{month}-kent-street_gravesham-area.csv")), api_kit
            )
        police_only = {
            (m, tuple(c)): _figures(env.store, m, c)
            for m in ("emerging", "gistar", "dbscan")
            for c in (["anti-social-behaviour"], ["violent-crime"])
        }
        _import(env, [read_council(FLYTIPPING, "flytipping", source="council/flytipping")], api_kit)
        yield env, police_only


def test_the_coverage_lists_exactly_the_loaded_months_per_source(scenario):
    env, _ = scenario
    doc = env.get("/coverage", "partner").json()
    police = [f"2022-{m:02d}" for m in range(1, 12)] + [f"2024-{m:02d}" for m in range(1, 5)]
    assert doc["sources"][POLICE]["months"] == police
    assert doc["sources"]["council/flytipping"]["months"] == [f"2024-{m:02d}" for m in range(1, 7)]
    assert doc["months"][0] == "2022-01" and doc["months"][-1] == "2024-06"
    row = dict(zip(doc["months"], doc["table"][POLICE]))
    assert row["2022-11"] and not row["2022-12"] and not row["2023-06"] and row["2024-04"]
    assert env.get("/coverage", "public").status_code == 403
    assert env.get("/coverage", "anonymous").status_code == 401


def test_police_figures_do_not_change_when_council_data_is_imported(scenario):
    env, police_only = scenario
    for (method, cats), before in police_only.items():
        after = _figures(env.store, method, list(cats))
        assert after["months"] == before["months"], (method, cats)
        assert "2024-05" not in after["months"] and "2023-01" not in after["months"]
        assert after["hotspots"].keys() == before["hotspots"].keys(), (method, cats)
        for hid, fig in before["hotspots"].items():
            for k, v in fig.items():
                w = after["hotspots"][hid][k]
                if isinstance(v, float) and np.isnan(v):
                    assert np.isnan(w), (method, hid, k)
                else:
                    assert w == pytest.approx(v), (method, cats, hid, k)


def test_a_mixed_analysis_uses_only_months_every_source_has_and_says_so(scenario):
    env, _ = scenario
    result = analyse_store(
        env.store,
        AnalysisParams(method="hexes", categories=("anti-social-behaviour", "fly-tipping")),
    )
    window = result.provenance.window
    assert window["months"] == ["2024-01", "2024-02", "2024-03", "2024-04"]
    assert window["skipped"]["2024-05"] == f"not loaded from {POLICE}"
    assert window["skipped"]["2022-06"] == "not loaded from council/flytipping"
    assert any("not counted as zero" in n for n in result.notes)


def test_the_2024_ward_briefing_claims_no_change_on_a_year_it_does_not_have(scenario):
    env, _ = scenario
    doc = ward_briefing(env.store, f"ward:{PELHAM}", categories=["anti-social-behaviour"])
    assert doc["period"]["label"] == "January–April 2024, 4 months"
    assert doc["period"]["months"] == ["2024-01", "2024-02", "2024-03", "2024-04"]
    assert doc["previous"]["available"] is False
    assert doc["totals"]["change_pct"] is None and doc["totals"]["previous_count"] is None
    assert any(n.startswith("Nothing to compare with") for n in doc["notes"])
    t = env.table.to_pandas()
    t = t[(t["ward_code"] == PELHAM) & (t["category"] == "anti-social-behaviour")]
    in_2024 = t[t["occurred_at"] >= datetime(2024, 1, 1)]
    assert doc["totals"]["count"] == len(in_2024)
    # a window whose year before is loaded month for month is compared
    window = type("W", (), {"start": datetime(2022, 1, 1), "end": datetime(2022, 5, 1)})()
    early = ward_briefing(env.store, f"ward:{PELHAM}", window, ["anti-social-behaviour"])
    assert early["previous"]["available"] is False  # 2021 is not loaded either


def test_the_backtest_names_the_gap_and_never_trains_across_it(scenario):
    env, _ = scenario
    _, doc, _ = run_backtest(
        env.store, categories=["anti-social-behaviour"], methods=["naive"], res=9
    )
    trains = {w["train"] for w in doc["windows"]}
    assert "2022-10..2024-01" not in trains and "2022-11..2024-02" not in trains
    origins = {w["origin"] for w in doc["windows"]}
    assert "2024-04" in origins and "2024-01" not in origins
    assert any("not consecutive" in n and "2024-01" in n for n in doc["notes"])


def test_areas_state_their_period_and_fill_the_previous_year_only_when_covered(scenario):
    env, _ = scenario
    doc = env.get(
        "/areas?kind=ward&categories=anti-social-behaviour&from=2024-01&to=2024-04"
    ).json()
    assert doc["period"]["months"] == ["2024-01", "2024-02", "2024-03", "2024-04"]
    assert doc["period"]["label"] == "January–April 2024, 4 months"
    assert all(f["properties"]["previous_year_count"] is None for f in doc["features"])
    assert any("previous year" in n for n in doc["notes"])
    mixed = env.get("/areas?kind=ward&from=2024-01&to=2024-06").json()
    assert mixed["period"]["skipped"]["2024-05"].startswith("not loaded from")


# -- the property ---------------------------------------------------------------------------
MONTHS = [f"2023-{m:02d}" for m in range(1, 13)]


def _incidents(draw_months_a, draw_months_b, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for source, cats, months in (
        ("a", ("anti-social-behaviour", "burglary"), draw_months_a),
        ("b", ("fly-tipping",), draw_months_b),
    ):
        for m in months:
            n = int(rng.integers(3, 12))
            lon = 0.37 + rng.normal(0, 0.004, n)
            lat = 51.44 + rng.normal(0, 0.003, n)
            rows.append(
                pd.DataFrame(
                    {
                        "lon": lon,
                        "lat": lat,
                        "category": rng.choice(cats, n),
                        "occurred_at": pd.Timestamp(m + "-01"),
                        "occurred_precision": "month",
                        "location": "On or near Test Street",
                        "source": source,
                        "batch_id": f"{source}/{m}",
                    }
                )
            )
    frame = pd.concat(rows, ignore_index=True)
    from geodata.crs import lonlat_to_xy

    frame["x"], frame["y"] = lonlat_to_xy(
        frame["lon"].to_numpy(), frame["lat"].to_numpy(), "EPSG:27700"
    )
    return frame


def _figures_for_a(frame: pd.DataFrame, batches) -> dict:
    cats = ["anti-social-behaviour", "burglary"]
    covered = build_coverage(batches, frame).covered(cats)
    from geodata.coverage import in_months

    data = frame.loc[in_months(frame["occurred_at"], covered.months)]
    result = run_analysis(
        data,
        AnalysisParams(method="hexes", categories=tuple(cats), resolution=9),
        months=list(covered.months),
    )
    t = result.hotspots
    return {
        "months": list(covered.months),
        "table": t[["hotspot_id", "count", "trend_z", "score"]].round(12).to_dict("records"),
    }


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    months_a=st.lists(st.sampled_from(MONTHS), min_size=3, max_size=12, unique=True),
    months_b=st.lists(st.sampled_from(MONTHS), min_size=2, max_size=12, unique=True),
    seed=st.integers(0, 10_000),
    data=st.data(),
)
def test_removing_a_month_of_one_source_never_changes_another_sources_figures(
    months_a, months_b, seed, data
):
    frame = _incidents(sorted(months_a), sorted(months_b), seed)

    def batches(f):
        return [
            BatchInfo(b, b.split("/")[0], b.split("/")[1], "", [], 0, 0, 0)
            for b in sorted(set(f["batch_id"]))
        ]

    before = _figures_for_a(frame, batches(frame))
    dropped = data.draw(st.sampled_from(sorted(months_b)))
    smaller = frame[frame["batch_id"] != f"b/{dropped}"].reset_index(drop=True)
    after = _figures_for_a(smaller, batches(smaller))
    assert after == before


def test_the_coverage_command_prints_the_loaded_months(tmp_path):
    from cli_json import run

    store = str(tmp_path / "cov.duckdb")
    code, _ = run(
        "import", "police", str(demo_dir() / "gravesham-police-2022.zip"), "--store", store
    )
    assert code == 0
    code, _ = run("import", "council", str(FLYTIPPING), "--profile", "flytipping", "--store", store)
    assert code == 0
    code, doc = run("coverage", "--store", store)
    assert code == 0
    assert doc["sources"][POLICE]["months"] == [f"2022-{m:02d}" for m in range(1, 12)]
    assert doc["sources"]["council/flytipping"]["months"] == [f"2024-{m:02d}" for m in range(1, 7)]
    assert len(doc["months"]) == 30 and sum(doc["table"][POLICE]) == 11
