"""Issue 13: default hotspots an officer can patrol, on real Gravesham police.uk months.

The demo (2022, shipped with the project) and the 2024 months in the shared data
are analysed as the service does (``api.usecases.analyse.analyse_store``: recording places
left out), with no scale given.
"""

from __future__ import annotations

import re
import shutil

import numpy as np
import pytest

from api.usecases.analyse import analyse_store
from geodata.demo import STUDY_AREA_BUFFER_M, demo_dir, load_demo
from geodata.ingest import context_for, import_records
from geodata.readers.areas import read_boundaries
from geodata.readers.police import read_police
from geodata.settings import IngestSettings
from geodata.stores import DuckDBStore
from hotspots.analysis import AnalysisParams
from hotspots.cluster_scale import no_cluster_advice

PATROL_KM2 = 0.5
CATEGORIES = ("violent-crime", "anti-social-behaviour")


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory: pytest.TempPathFactory):
    store = DuckDBStore(tmp_path_factory.mktemp("patrol") / "demo.duckdb")
    load_demo(store)
    yield store
    store.close()


@pytest.fixture(scope="module")
def store_2024(shared_data, tmp_path_factory: pytest.TempPathFactory):
    """Gravesham's 2024 police.uk months (within 2 km of the district, as the demo)."""
    folder = tmp_path_factory.mktemp("police2024")
    for f in sorted((shared_data / "police" / "gravesham_area").glob("2024-*.csv")):
        shutil.copy(f, folder)
    store = DuckDBStore(tmp_path_factory.mktemp("patrol24") / "g2024.duckdb")
    district = demo_dir() / "gravesham-district.geojsonl"
    store.replace_boundaries(
        "district", read_boundaries(district, "district", analysis_crs=store.analysis_crs)
    )
    settings = IngestSettings(study_area=district, study_area_buffer_m=STUDY_AREA_BUFFER_M)
    import_records(store, read_police(folder), context_for(store, settings))
    yield store
    store.close()


def _check_patrol_sized(store, method: str, category: str) -> None:
    result = analyse_store(store, AnalysisParams(method=method, categories=(category,)))
    hs = result.hotspots
    assert len(hs) >= 3, (method, category, result.notes)
    top = hs.iloc[0]
    assert top["rank"] == 1
    assert top["area_m2"] / 1e6 <= PATROL_KM2, (method, category, top["area_m2"])
    if method == "gistar":  # no cell ranked on its neighbours' incidents alone
        occupied = result.cells.loc[result.cells["count"] > 0, "count"]
        assert (hs["count"] > 0).all() and (hs["count"] >= occupied.mean()).all()
    # the recording place at the police station is no hotspot's site
    for locations in hs["top_locations"]:
        assert not any(str(name).lower() == "on or near police station" for name, _ in locations)


@pytest.mark.parametrize("method", ["dbscan", "hdbscan", "gistar"])
@pytest.mark.parametrize("category", CATEGORIES)
def test_demo_defaults_give_several_patrol_sized_hotspots(demo_store, method, category) -> None:
    _check_patrol_sized(demo_store, method, category)


@pytest.mark.parametrize("method", ["dbscan", "hdbscan", "gistar"])
@pytest.mark.parametrize("category", CATEGORIES)
def test_2024_defaults_give_several_patrol_sized_hotspots(store_2024, method, category) -> None:
    _check_patrol_sized(store_2024, method, category)


def test_sparse_points_get_advice_that_works(store_2024) -> None:
    """Four months of bicycle theft do not reach the density of a hotspot; the note says
    which parameter to change, to what, and that setting gives clusters."""
    params = AnalysisParams(method="dbscan", categories=("bicycle-theft",))
    result = analyse_store(store_2024, params)
    assert len(result.hotspots) == 0
    advice = next(n for n in result.notes if n.startswith("no cluster reaches"))
    m = re.search(r"with min_samples (\d+) there would be (\d+) cluster", advice)
    assert m, advice
    again = analyse_store(
        store_2024,
        AnalysisParams(method="dbscan", categories=("bicycle-theft",), min_samples=int(m[1])),
    )
    assert len(again.hotspots) == int(m[2])
    # HDBSCAN says it too, through the same advice
    hdb = analyse_store(store_2024, AnalysisParams(method="hdbscan", categories=("bicycle-theft",)))
    if not len(hdb.hotspots):
        assert any("min_samples" in n and "gistar" in n for n in hdb.notes), hdb.notes


def test_hdbscan_cluster_selection_is_a_parameter(demo_store) -> None:
    with pytest.raises(ValueError, match="cluster_selection"):
        AnalysisParams(method="hdbscan", cluster_selection="largest")
    leaf = analyse_store(demo_store, AnalysisParams(method="hdbscan", categories=CATEGORIES[:1]))
    eom = analyse_store(
        demo_store,
        AnalysisParams(method="hdbscan", categories=CATEGORIES[:1], cluster_selection="eom"),
    )
    assert leaf.provenance.parameters["cluster_selection"] == "leaf"
    assert eom.provenance.parameters["cluster_selection"] == "eom"
    assert leaf.run_id != eom.run_id
    assert sorted(eom.hotspots["count"]) != sorted(leaf.hotspots["count"])


def test_no_cluster_advice_names_the_setting_that_works() -> None:
    # three groups of 4 incidents 10 m apart, km from each other: below the floor of 5
    base = np.array([[0.0, 0.0], [3000.0, 0.0], [0.0, 3000.0]])
    xy = np.concatenate([b + np.arange(4)[:, None] * [10.0, 0.0] for b in base])
    advice = no_cluster_advice(xy[:, 0], xy[:, 1], "dbscan", 150.0, 5)
    assert advice.startswith("no cluster reaches the density threshold (at least 5 incidents")
    assert "with min_samples 4 there would be 3 clusters" in advice
    # spread too thin for any setting: says so, and what else to use
    lone = np.arange(6) * 1000.0
    advice = no_cluster_advice(lone, lone, "dbscan", 150.0, 5)
    assert "too sparse to cluster" in advice and "gistar or kde" in advice
