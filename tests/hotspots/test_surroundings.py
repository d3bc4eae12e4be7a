"""Cells hot only through their neighbours (issue 13) on the Gravesham demo: named apart,
not ranked, counted in the notes with the threshold used."""

from __future__ import annotations

import re

import numpy as np
import pytest
import shapely

from api.usecases.analyse import without_artefacts
from geodata.crs import WGS84
from geodata.demo import load_demo
from geodata.stores import DuckDBStore
from hotspots.analysis import AnalysisParams, run_analysis
from hotspots.surroundings import NEIGHBOUR_CLASS, NEIGHBOUR_LABEL


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    store = DuckDBStore(tmp_path_factory.mktemp("surr") / "demo.duckdb")
    load_demo(store)
    incidents, _ = without_artefacts(store.query_incidents().to_pandas())
    area = shapely.union_all(store.boundaries("district").to_crs(WGS84).geometry.to_numpy())
    store.close()
    return incidents, area


@pytest.mark.parametrize("method", ["gistar", "emerging"])
@pytest.mark.parametrize("category", ["anti-social-behaviour", "violent-crime"])
def test_hot_cells_with_few_incidents_are_not_ranked(demo, method, category) -> None:
    incidents, area = demo
    params = AnalysisParams(method=method, categories=(category,), resolution=9)
    result = run_analysis(incidents, params, area_lonlat=area)
    cells = result.cells
    threshold = cells.loc[cells["count"] > 0, "count"].mean()
    ranked = result.hotspots
    assert len(ranked) >= 3
    # no ranked cell below the mean of occupied cells, so none with zero incidents
    assert (ranked["count"] >= threshold).all() and (ranked["count"] > 0).all()
    assert ranked["rank"].tolist() == list(range(1, len(ranked) + 1))
    # every hot cell is either a ranked hotspot or a named surrounding, never both
    hot = cells["hot_class"] != ""
    surr = result.surroundings
    assert len(surr) == int((cells["hot_class"] == NEIGHBOUR_CLASS).sum()) > 0
    assert set(surr["cell"]).isdisjoint(set(ranked["cell"]))
    assert set(surr["cell"]) | set(ranked["cell"]) == set(cells.loc[hot, "cell"])
    assert (surr["count"] < threshold).all()
    assert set(surr["label"]) == {NEIGHBOUR_LABEL}
    # the note quotes the numbers used
    note = next(n for n in result.notes if "hot through their neighbours" in n)
    m = re.match(r"(\d+) of (\d+) hot cells have fewer than ([\d.,]+) incidents", note)
    assert m, note
    assert int(m[1]) == len(surr) and int(m[2]) == len(surr) + len(ranked)
    shown = f"{threshold:.1f}" if threshold < 10 else f"{threshold:,.0f}"
    assert m[3] == shown
    # GeoJSON: surroundings travel beside the ranked features, lon/lat, with their class
    doc = result.to_geojson()
    assert len(doc["features"]) == len(ranked)
    props = [f["properties"] for f in doc["surroundings"]["features"]]
    assert {p["hot_class"] for p in props} == {NEIGHBOUR_CLASS}
    lon, lat = np.asarray(doc["surroundings"]["features"][0]["geometry"]["coordinates"][0][0])
    assert 0.2 < lon < 0.6 and 51.3 < lat < 51.5
