"""Recording places (issue 13): police.uk puts crimes recorded at a police station on the
station's snap point ("On or near Police Station"). Those rows are flagged on import and
left out of hotspots and plans by default, with a note; an option brings them back."""

from __future__ import annotations

from datetime import datetime

import pytest

from api.usecases.analyse import run_or_reuse
from api.usecases.plans import plan_from_store
from geodata.demo import load_demo
from geodata.stores import DuckDBStore, IncidentQuery
from hotspots.analysis import AnalysisParams
from hotspots.planner import PlanParams

STATION = "On or near Police Station"


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    st = DuckDBStore(tmp_path_factory.mktemp("artefacts") / "demo.duckdb")
    load_demo(st)
    yield st
    st.close()


def test_police_station_rows_are_flagged_on_import(store):
    t = store.query_incidents(IncidentQuery(columns=["location", "flags"])).to_pandas()
    at = t["location"].str.strip().str.lower() == STATION.lower()
    assert at.sum() > 50  # Gravesham's station is a busy snap point
    assert t.loc[at, "flags"].str.contains("artefact-place").all()
    assert not t.loc[~at, "flags"].fillna("").str.contains("artefact-place").any()


def _streets(run) -> set[str]:
    return {loc for f in run.result["features"] for loc, _ in f["properties"]["top_locations"]}


def test_hotspots_leave_recording_places_out_unless_asked(store):
    params = AnalysisParams(method="hexes", categories=("violent-crime",), resolution=10)
    plain, _ = run_or_reuse(store, {"method": "hexes", "v": 1}, params)
    kept, _ = run_or_reuse(store, {"method": "hexes", "v": 1, "include_artefacts": True}, params)
    assert STATION not in _streets(plain) and STATION in _streets(kept)
    assert plain.provenance["n_incidents"] < kept.provenance["n_incidents"]
    # the note says how many incidents were left out, and where (analysts' maps mark them)
    left_out = kept.provenance["n_incidents"] - plain.provenance["n_incidents"]
    assert f"{left_out} incidents at 1 recording place (" in " ".join(plain.result["notes"])
    assert [p["location"] for p in plain.result["artefact_places"]] == [STATION]
    assert plain.result["artefact_places"][0]["count"] == left_out
    assert "artefact_places" not in kept.result


def test_plans_do_not_send_officers_to_the_police_station(store):
    # the demo's station snap point holds crimes from January to June 2022
    params = PlanParams(
        sites=6, categories=("violent-crime",), start=datetime(2022, 1, 1), end=datetime(2022, 7, 1)
    )
    plan = plan_from_store(store, params, "borough")
    streets = {loc for s in plan.sites for loc, _ in s.top_locations}
    assert STATION not in streets
    assert any("recording places" in n for n in plan.notes)
    asked = plan_from_store(store, params, "borough", include_artefacts=True)
    assert STATION in {loc for s in asked.sites for loc, _ in s.top_locations}
