"""Area boundaries and populations: real Gravesham files and small synthetic ones."""

from __future__ import annotations

import json

import geopandas as gpd
import pytest
import shapely
from shapely.geometry import Point, Polygon, box

from geodata.errors import InputFileError
from geodata.readers.areas import read_boundaries, read_population

MARTINJC = "boundaries/martinjc_UK-GeoJSON"
LAD21 = "boundaries/open-innovations_geography-bits/LAD21CD_E07000109.geojsonl"


def assert_clean(areas: gpd.GeoDataFrame, kind: str) -> None:
    assert list(areas.columns) == ["kind", "code", "name", "geometry"]
    assert areas.crs.to_epsg() == 27700
    assert set(areas["kind"]) == {kind}
    assert set(areas.geom_type) == {"MultiPolygon"}
    assert areas.is_valid.all()
    assert areas["code"].is_unique


# --------------------------------------------------------------------------- real data


@pytest.mark.shared_data
def test_gravesham_wards_2013(shared_data):
    wards = read_boundaries(
        shared_data / MARTINJC / "gravesham_wards2013_E07000109.geojson", "ward"
    )
    assert_clean(wards, "ward")
    assert len(wards) == 18
    assert wards["code"].str.fullmatch(r"E05\d{6}").all()
    assert {"Central", "Pelham", "Riverside", "Woodlands"} <= set(wards["name"])
    # BNG metres: the borough is about 99 km²
    assert 95e6 < wards.area.sum() < 103e6


@pytest.mark.shared_data
def test_gravesham_lsoa_2011(shared_data):
    lsoas = read_boundaries(shared_data / MARTINJC / "gravesham_lsoa2011_E07000109.geojson", "lsoa")
    assert_clean(lsoas, "lsoa")
    assert len(lsoas) == 64
    assert lsoas["name"].str.startswith("Gravesham ").all()
    with pytest.raises(InputFileError, match="expected ward codes") as err:
        read_boundaries(shared_data / MARTINJC / "gravesham_lsoa2011_E07000109.geojson", "ward")
    assert "LSOA11CD" in str(err.value)


@pytest.mark.shared_data
def test_gravesham_district_geojsonl(shared_data):
    district = read_boundaries(shared_data / LAD21, "district")
    assert_clean(district, "district")
    assert district[["code", "name"]].values.tolist() == [["E07000109", "Gravesham"]]
    # the LAD21 outline contains the town centre (Gravesend station)
    station = gpd.GeoSeries([Point(0.3700, 51.4415)], crs="EPSG:4326").to_crs(27700)[0]
    assert district.geometry[0].contains(station)


@pytest.mark.shared_data
def test_gravesham_population(shared_data):
    derived = shared_data / "population" / "gravesham_lsoa_population_DERIVED.csv"
    mid2022 = read_population(derived)
    assert list(mid2022.columns) == ["kind", "area_code", "year", "population"]
    assert len(mid2022) == 65
    assert set(mid2022["year"]) == {2022}
    assert mid2022["population"].sum() == 106_970
    # 2019 figures are per 2011 LSOA; 006A is listed against both its successors, once here
    mid2019 = read_population(derived, year=2019)
    assert len(mid2019) == 64
    assert mid2019["population"].sum() == 106_939


@pytest.mark.shared_data
def test_headerless_population_file(shared_data):
    ew = read_population(shared_data / "population" / "lsoa11_population_mid2019_EW.csv")
    assert len(ew) == 34_753
    assert set(ew["year"]) == {2019}  # from the file name
    assert ew["population"].sum() == 59_439_840
    assert ew["area_code"].iat[0] == "E01011950"  # first line is data, not a header
    lsoas = read_boundaries(shared_data / MARTINJC / "gravesham_lsoa2011_E07000109.geojson", "lsoa")
    assert ew[ew["area_code"].isin(lsoas["code"])]["population"].sum() == 106_939


# --------------------------------------------------------------------------- synthetic files


def square(x: float, y: float, size: float = 0.01) -> Polygon:
    return box(x, y, x + size, y + size)


def test_lowercase_ons_fields_and_repair(tmp_path):
    bowtie = Polygon([(0.30, 51.40), (0.32, 51.42), (0.32, 51.40), (0.30, 51.42)])
    assert not bowtie.is_valid
    path = tmp_path / "lads.geojson"
    gpd.GeoDataFrame(
        {"objectid": [1, 2], "lad21cd": ["E07000109", "E07000107"],
         "lad21nm": ["Gravesham", "Dartford"]},
        geometry=[bowtie, square(0.2, 51.4)], crs="EPSG:4326",
    ).to_file(path)  # fmt: skip
    areas = read_boundaries(path, "district")
    assert_clean(areas, "district")
    assert areas["name"].tolist() == ["Gravesham", "Dartford"]
    assert len(areas.geometry[0].geoms) == 2  # the bow-tie becomes two triangles


def test_geojsonl_and_gpkg_in_bng(tmp_path):
    features = [
        {"type": "Feature", "properties": {"WD13CD": f"E0500496{i}", "WD13NM": f"Ward {i}"},
         "geometry": shapely.geometry.mapping(square(0.30 + i / 100, 51.42))}
        for i in range(3)
    ]  # fmt: skip
    seq = tmp_path / "wards.geojsonl"
    seq.write_text("".join(json.dumps(f) + "\n" for f in features))
    from_seq = read_boundaries(seq, "ward")
    assert_clean(from_seq, "ward")
    assert from_seq["code"].tolist() == ["E05004960", "E05004961", "E05004962"]

    gpkg = tmp_path / "wards.gpkg"
    gpd.read_file(seq).to_crs(27700).to_file(gpkg)
    from_gpkg = read_boundaries(gpkg, "ward")
    assert from_gpkg["name"].tolist() == ["Ward 0", "Ward 1", "Ward 2"]
    assert abs(from_gpkg.area.sum() - from_seq.area.sum()) < 1.0


def test_custom_areas_with_named_fields_and_merged_parts(tmp_path):
    path = tmp_path / "zones.gpkg"
    gpd.GeoDataFrame(
        {"zone": ["TC", "TC", "RIV"], "label": ["Town centre", "Town centre", "Riverside"]},
        geometry=[square(0.36, 51.44), square(0.38, 51.44), square(0.34, 51.445)],
        crs="EPSG:4326",
    ).to_crs(27700).to_file(path)  # fmt: skip
    with pytest.raises(InputFileError, match="no field holding ONS area codes") as err:
        read_boundaries(path, "custom")
    assert "'zone'" in str(err.value)
    areas = read_boundaries(path, "custom", code_field="ZONE", name_field="label")
    assert_clean(areas, "custom")
    assert areas["code"].tolist() == ["TC", "RIV"]
    assert len(areas.geometry[0].geoms) == 2


def test_boundary_errors(tmp_path):
    points = tmp_path / "points.geojson"
    gpd.GeoDataFrame(
        {"LSOA11CD": ["E01024257"]}, geometry=[Point(0.37, 51.44)], crs="EPSG:4326"
    ).to_file(points)
    with pytest.raises(InputFileError, match=r"expected polygon areas.*Point"):
        read_boundaries(points, "lsoa")
    with pytest.raises(ValueError, match="unknown area kind 'parish'"):
        read_boundaries(points, "parish")
    blank = tmp_path / "blank.geojson"
    gpd.GeoDataFrame(
        {"LSOA11CD": ["E01024257", None]}, geometry=[square(0.3, 51.4), square(0.4, 51.4)],
        crs="EPSG:4326",
    ).to_file(blank)  # fmt: skip
    with pytest.raises(InputFileError, match="feature 2 has no area code"):
        read_boundaries(blank, "lsoa", code_field="LSOA11CD")


# --------------------------------------------------------------------------- population


def test_population_headerless_with_bom(tmp_path):
    path = tmp_path / "lsoa_pop_mid2020.csv"
    path.write_bytes("\ufeffE01024257,1500\nE01024258,1620\n".encode())
    pop = read_population(path)
    assert pop.to_dict("list") == {
        "kind": ["lsoa", "lsoa"],
        "area_code": ["E01024257", "E01024258"],
        "year": [2020, 2020],
        "population": [1500.0, 1620.0],
    }


@pytest.mark.parametrize(
    ("body", "row", "match"),
    [
        ("E01024257,1500\nE01024258,-3\n", 3, "got '-3'"),
        ("E01024257,1500\nE01024258,many\n", 3, "got 'many'"),
        ("E01024257,\nE01024258,12\n", 2, "got a blank"),
        ("E01024257,1500\nGravesham,12\n", 3, "ONS area code"),
        ("E01024257,1500\nE01024257,1501\n", 3, "different populations on rows"),
    ],
)
def test_population_errors_name_row_and_column(tmp_path, body, row, match):
    path = tmp_path / "pop.csv"
    path.write_text("lsoa11cd,population\n" + body)
    with pytest.raises(InputFileError, match=match) as err:
        read_population(path, year=2019)
    assert err.value.row == row
    assert err.value.field in ("population", "lsoa11cd")


def test_population_column_choice(tmp_path):
    path = tmp_path / "wards.csv"
    path.write_text(
        'WD13CD,WD13NM,pop_2019,pop_2021\nE05004964,Central,"5,400",5500\n'
        "E05004965,Chalk,2100,2050\n"
    )
    latest = read_population(path, kind="ward")
    assert latest["year"].tolist() == [2021, 2021]
    assert latest["population"].tolist() == [5500.0, 2050.0]
    older = read_population(path, kind="ward", year=2019)
    assert older["population"].tolist() == [5400.0, 2100.0]  # thousands separator accepted
    chosen = read_population(path, kind="ward", population_column="POP_2019", year=2019)
    assert chosen["population"].sum() == 7500
    plain = tmp_path / "plain.csv"
    plain.write_text("code,people\nE05004964,10\n")
    with pytest.raises(InputFileError, match="no population column"):
        read_population(plain, kind="ward")
    with pytest.raises(InputFileError, match="which year"):
        read_population(plain, kind="ward", code_column="code", population_column="people")
