"""Partitioned GeoParquet exports (issue 16): every incident once, in its H3 parent and
month partition, readable as GeoParquet in the analysis CRS, from either store."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pyarrow.parquet as pq
import pytest

from geodata.demo import demo_dir
from geodata.errors import ConfigurationError
from geodata.ingest import import_records
from geodata.partitioned import export_partitioned, parent_cells, parents_of, read_partition
from geodata.readers.police import read_police
from geodata.stores.base import IncidentQuery, Store


@pytest.fixture
def loaded(store: Store) -> Store:
    import_records(store, read_police(demo_dir() / "gravesham-police-2022.zip"))
    return store


def test_every_incident_is_exported_once_in_its_partition(loaded: Store, tmp_path):
    folder = tmp_path / "parts"
    # small pages: the export reads the store page by page (keyset), never all at once
    report = export_partitioned(loaded, folder, parent_res=6, chunk_rows=7_000).to_dict()
    stored = loaded.query_incidents(IncidentQuery(columns=["id", "x", "y", "lat", "lon"]))
    assert report["rows"] == stored.num_rows > 20_000
    assert report["parents"] == len(parents_of(folder)) > 1 and report["files"] >= 12
    back = gpd.read_parquet(folder).sort_values("row")
    assert back["row"].tolist() == list(range(stored.num_rows))
    assert back["id"].tolist() == stored["id"].to_pylist()  # the store's id order
    assert back.crs.to_epsg() == 27700
    assert np.allclose(back.geometry.x, back["x"]) and np.allclose(back.geometry.y, back["y"])
    want = parent_cells(back["lat"], back["lon"], 6)
    assert [format(int(p), "x") for p in want] == back["parent"].astype(str).tolist()
    months = back["occurred_at"].dt.strftime("%Y-%m")
    assert (months == back["month"].astype(str)).all()
    one = next(folder.glob("parent=*/month=*/*.parquet"))
    geo = json.loads(pq.read_schema(one).metadata[b"geo"])
    assert geo["columns"]["geometry"]["encoding"] == "WKB"
    assert geo["columns"]["geometry"]["crs"]["id"]["code"] == 27700
    part = read_partition(folder, parents_of(folder)[0], ["row", "x"])
    assert part["row"].to_pylist() == sorted(part["row"].to_pylist())


def test_a_selection_and_the_refusals(loaded: Store, tmp_path):
    asb = export_partitioned(
        loaded, tmp_path / "asb", query=IncidentQuery(categories=["anti-social-behaviour"])
    )
    want = loaded.count_incidents(IncidentQuery(categories=["anti-social-behaviour"]))
    assert asb.rows == want > 1_000
    with pytest.raises(ConfigurationError, match="expected an empty or new folder"):
        export_partitioned(loaded, tmp_path / "asb")
    with pytest.raises(ConfigurationError, match="parent_res: expected one of"):
        export_partitioned(loaded, tmp_path / "other", parent_res=9)
