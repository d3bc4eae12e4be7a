"""Incident points from GeoJSON, GeoPackage and Shapefile files."""

from __future__ import annotations

import datetime as dt

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import LineString, MultiPoint, Point

from geodata.errors import InputFileError
from geodata.readers.vector import read_points
from geodata.validate import ValidationContext, validate

LON = np.array([0.3512345, 0.3623456, 0.3734567, 0.3845678])
LAT = np.array([51.4312345, 51.4423456, 51.4354567, 51.4265678])


def incidents(crs: str = "EPSG:4326", text_dates: bool = False) -> gpd.GeoDataFrame:
    when = pd.to_datetime(
        ["2024-01-05 10:00", "2024-02-06 11:30", "2024-03-01 08:15", "2024-03-02 09:00"]
    )
    gdf = gpd.GeoDataFrame(
        {
            "ref": ["F1", "F2", "F3", "F4"],
            "kind": ["Deliberate secondary fire", "Arson fire", "Deliberate fire", "Bin fire"],
            "when": when.strftime("%d/%m/%Y %H:%M") if text_dates else when,
            "place": ["Park", "Car park", None, "Alley"],
            "crew": [1, 2, 3, 4],
        },
        geometry=gpd.points_from_xy(LON, LAT),
        crs="EPSG:4326",
    )
    gdf.loc[2, "geometry"] = None  # a feature without a location
    return gdf.to_crs(crs)


def check(records):
    batches = validate(records, ValidationContext(now=dt.datetime(2024, 12, 31)))
    assert len(batches) == 1
    return batches[0]


@pytest.mark.parametrize(
    ("filename", "crs", "coords"),
    [
        ("fires.geojson", "EPSG:4326", "lonlat"),
        ("fires.gpkg", "EPSG:27700", "EPSG:27700"),
        ("fires.shp", "EPSG:27700", "EPSG:27700"),
        ("fires_wgs84.shp", "EPSG:4326", "lonlat"),
    ],
)
def test_round_trip_to_same_lonlat(tmp_path, filename, crs, coords):
    path = tmp_path / filename
    incidents(crs, text_dates=filename.endswith(".shp")).to_file(path)
    records = read_points(
        path,
        "fire/deliberate",
        date_field="WHEN",  # field names match ignoring case
        category_field="kind",
        ref_field="ref",
        location_field="place",
        attributes={"crew": "crew"},
    )
    assert records.coords == coords
    assert list(records.frame.index) == [1, 2, 3, 4]  # feature numbers
    assert pd.isna(records.frame.loc[3, "x"])

    batch = check(records)
    assert batch.report.rows_read == 4
    assert batch.report.rejected_by_reason == {"no-coordinates": 1}
    assert batch.quarantine.column("row_number").to_pylist() == [3]
    inc = batch.incidents.to_pydict()
    assert inc["source_row"] == [1, 2, 4]
    keep = [0, 1, 3]
    np.testing.assert_allclose(inc["lon"], LON[keep], atol=1e-6, rtol=0)
    np.testing.assert_allclose(inc["lat"], LAT[keep], atol=1e-6, rtol=0)
    assert inc["occurred_at"][0] == dt.datetime(2024, 1, 5, 10, 0)
    assert inc["category"] == ["deliberate-fire", "deliberate-fire", "other"]
    assert inc["source_ref"] == ["F1", "F2", "F4"]
    assert inc["location"] == ["Park", "Car park", "Alley"]
    assert inc["attributes"][0] == '{"crew": "1"}'
    assert [w["kind"] for w in batch.report.warnings] == ["unknown-category"]


def test_fixed_category_and_multipoint_of_one(tmp_path):
    gdf = incidents()
    gdf.loc[1, "geometry"] = MultiPoint([(0.36, 51.44)])
    path = tmp_path / "fires.gpkg"
    gdf.to_file(path)
    records = read_points(path, "fire/all", date_field="when", fixed_category="deliberate-fire")
    assert records.frame.loc[2, "x"] == "0.36"
    batch = check(records)
    assert batch.incidents.column("category").unique().to_pylist() == ["deliberate-fire"]
    # a datetime field (GeoPackage DATETIME) keeps its time of day
    assert batch.incidents.column("occurred_precision").to_pylist() == ["minute"] * 3


def test_geojson_without_crs_is_wgs84(tmp_path):
    path = tmp_path / "plain.geojson"
    path.write_text(
        '{"type": "FeatureCollection", "features": [{"type": "Feature", '
        '"properties": {"date": "05/01/2024"}, '
        '"geometry": {"type": "Point", "coordinates": [0.37, 51.44]}}]}'
    )
    records = read_points(path, "test", date_field="date", fixed_category="noise")
    assert records.coords == "lonlat"
    assert check(records).incidents.column("lat").to_pylist() == [51.44]


def test_shapefile_without_prj_is_refused(tmp_path):
    path = tmp_path / "fires.shp"
    incidents("EPSG:27700", text_dates=True).to_file(path)
    path.with_suffix(".prj").unlink()
    with pytest.raises(InputFileError, match="no coordinate reference system"):
        read_points(path, "fire", date_field="when", fixed_category="deliberate-fire")


def test_non_point_file_is_refused(tmp_path):
    path = tmp_path / "lines.geojson"
    gpd.GeoDataFrame(
        {"date": ["05/01/2024", "06/01/2024"]},
        geometry=[Point(0.37, 51.44), LineString([(0.3, 51.4), (0.31, 51.41)])],
        crs="EPSG:4326",
    ).to_file(path)
    with pytest.raises(InputFileError, match="LineString") as err:
        read_points(path, "x", date_field="date", fixed_category="noise")
    assert err.value.row == 2
    multi = tmp_path / "multi.geojson"
    gpd.GeoDataFrame(
        {"date": ["05/01/2024"]}, geometry=[MultiPoint([(0.3, 51.4), (0.31, 51.41)])],
        crs="EPSG:4326",
    ).to_file(multi)  # fmt: skip
    with pytest.raises(InputFileError, match="MultiPoint of 2 points"):
        read_points(multi, "x", date_field="date", fixed_category="noise")


def test_missing_field_lists_fields(tmp_path):
    path = tmp_path / "fires.geojson"
    incidents().to_file(path)
    with pytest.raises(InputFileError, match="no field 'Incident Date'") as err:
        read_points(path, "fire", date_field="Incident Date", fixed_category="deliberate-fire")
    assert "'ref'" in str(err.value) and "'kind'" in str(err.value)


def test_layers(tmp_path):
    path = tmp_path / "two.gpkg"
    incidents().to_file(path, layer="fires")
    incidents("EPSG:27700").to_file(path, layer="fires_bng")
    with pytest.raises(InputFileError, match="2 layers"):
        read_points(path, "fire", date_field="when", fixed_category="deliberate-fire")
    records = read_points(
        path, "fire", date_field="when", fixed_category="deliberate-fire", layer="fires_bng"
    )
    assert records.coords == "EPSG:27700"
    with pytest.raises(InputFileError, match="no layer 'other'"):
        read_points(path, "fire", date_field="when", fixed_category="noise", layer="other")


def test_argument_errors(tmp_path):
    path = tmp_path / "fires.geojson"
    incidents().to_file(path)
    with pytest.raises(ValueError, match="exactly one"):
        read_points(path, "fire", date_field="when")
    with pytest.raises(ValueError, match="unknown category 'fires'"):
        read_points(path, "fire", date_field="when", fixed_category="fires")
    with pytest.raises(InputFileError, match="no such file"):
        read_points(tmp_path / "absent.gpkg", "fire", date_field="when", fixed_category="noise")
    junk = tmp_path / "junk.geojson"
    junk.write_text("this is not json")
    with pytest.raises(InputFileError, match="not a readable GIS file"):
        read_points(junk, "fire", date_field="when", fixed_category="noise")
