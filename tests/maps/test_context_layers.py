"""Analysts' context on the map (issue 13): cells hot only through their neighbours and
recording places left out, drawn apart with a legend entry; never shown below analyst."""

from __future__ import annotations

import pytest

from api.disclosure import Disclosure
from api.usecases.maps import run_map_page
from maps.context_layers import ARTEFACT_TEXT

STATION = "On or near Police Station"


def test_analyst_map_draws_hot_surroundings_and_recording_places(demo):
    run = demo["runs"]["gistar"]
    surroundings = run.result["surroundings"]["features"]
    places = run.result["artefact_places"]
    assert surroundings and places
    assert places[0]["location"] == STATION and places[0]["count"] > 50
    page = run_map_page(demo["store"], run, "analyst", 5, "Gravesham")
    # own layers, named in the layer control, styled apart (dashed outline, no fill)
    assert "Hot surroundings (few incidents here)" in page
    assert "Recording places left out" in page
    assert '"5 4"' in page and "L.circleMarker" in page
    # legend entries and popups say what they are and what to do
    assert "Hot surroundings, few incidents here (not ranked)" in page
    assert f"({sum(p['count'] for p in places):,} incidents, e.g. a police station)" in page
    assert "include_artefacts brings them back" in page and ARTEFACT_TEXT[:40] in page
    assert "it is not ranked as a hotspot" in page
    # the note says how many incidents were left out, at how many places
    n = sum(p["count"] for p in places)
    assert any(
        note.startswith(f"{n:,} incidents at {len(places)} recording place")
        for note in run.result["notes"]
    )


@pytest.mark.parametrize("role", ["partner", "public"])
def test_context_layers_are_for_analysts_only(demo, role):
    run = demo["runs"]["gistar"]
    view = Disclosure(role=role).run_view(run.result)
    assert "surroundings" not in view and "artefact_places" not in view
    assert not any(n[:1].isdigit() and "recording place" in n for n in view["notes"])
    page = run_map_page(demo["store"], run, role, 5, "Gravesham")
    assert "Hot surroundings" not in page and "Recording places left out" not in page
    assert STATION not in page


def test_public_notes_round_the_count_left_out_at_recording_places():
    """A run with no sensitive incidents has no restricted view: roles below analyst read
    the analyst's notes, whose count of incidents left out goes through the policy."""
    note = "3 incidents at 1 recording place (e.g. 'On or near Police Station') are left out"
    big = "1,234 incidents at 2 recording places (e.g. 'On or near Police Station') are left out"
    fc = {"type": "FeatureCollection", "features": [], "notes": [note, big, "other"]}
    public = Disclosure(role="public").run_view(fc)["notes"]
    assert public[0].startswith("fewer than 5 incidents at 1 recording place (")
    assert public[1].startswith("about 1,235 incidents at 2 recording places (")
    assert public[2] == "other"
    assert Disclosure(role="partner").run_view(fc)["notes"] == [note, big, "other"]
