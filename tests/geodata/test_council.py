"""Council exports through column-mapping profiles, end to end through validation."""

from __future__ import annotations

import datetime as dt
import importlib.util
from pathlib import Path

import openpyxl
import pytest

from geodata.errors import InputFileError, ProfileError
from geodata.readers.council import Profile, list_profiles, load_profile, read_council
from geodata.validate import ValidationContext, validate

EXAMPLES = Path(__file__).resolve().parents[2] / "geodata" / "examples"
FLYTIPPING = EXAMPLES / "flytipping_synthetic.csv"
NOISE = EXAMPLES / "noise_synthetic.csv"
NOW = dt.datetime(2024, 12, 31)


def check(records):
    batches = validate(records, ValidationContext(now=NOW))
    assert len(batches) == 1
    return batches[0]


def write_profile(tmp_path: Path, text: str, name: str = "custom.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


LONLAT_PROFILE = """
[profile]
name = "test-lonlat"
category = "noise"
[columns]
reference = "Ref"
date = "Date"
longitude = "Lon"
latitude = "Lat"
"""


# --------------------------------------------------------------------------- shipped profiles


def test_shipped_profiles_load():
    assert {"flytipping", "noise"} <= set(list_profiles())
    fly = load_profile("flytipping")
    assert isinstance(fly, Profile)
    assert fly.source == "council/flytipping"
    assert fly.coords == "bng"
    assert fly.columns["type"] == "Waste Type"
    assert set(fly.categories.values()) == {"fly-tipping"}
    noise = load_profile("noise")
    assert noise.coords == "lonlat"
    assert noise.columns["time"] == "Time Received"
    assert load_profile(Path(fly.path)) == fly


def test_flytipping_example_end_to_end():
    records = read_council(FLYTIPPING, "flytipping")
    assert records.encoding == "cp1252"
    assert records.source == "council/flytipping"
    assert records.coords == "bng"
    assert records.fields.ward_code is None  # the Ward column holds names
    assert records.fields.attributes == {"size": "Size", "land_type": "Land Type", "ward": "Ward"}
    batch = check(records)
    report = batch.report
    assert report.rows_read == 60
    assert report.rows_accepted == 55
    assert report.rows_rejected == 5
    assert report.rejected_by_reason == {
        "no-coordinates": 3,
        "invalid-date": 1,
        "duplicate-reference": 1,
    }
    assert report.categories == {"fly-tipping": 54, "other": 1}
    unknown = [w for w in report.warnings if w["kind"] == "unknown-category"]
    assert len(unknown) == 1
    assert "Abandoned Trolley" in unknown[0]["message"]
    assert unknown[0]["count"] == 1

    quarantine = batch.quarantine.to_pydict()
    assert quarantine["row_number"] == [9, 17, 25, 43, 54]
    assert quarantine["reason"] == [
        "no-coordinates", "invalid-date", "no-coordinates", "no-coordinates",
        "duplicate-reference",
    ]  # fmt: skip
    assert "31/02/2024" in quarantine["detail"][1]
    assert "FT24/01011" in quarantine["detail"][4] and "row 12" in quarantine["detail"][4]

    inc = batch.incidents.to_pydict()
    assert "St George\u2019s Square" in inc["location"]  # cp1252 0x92 decoded
    assert all(0.30 < lon < 0.50 for lon in inc["lon"])
    assert all(51.38 < lat < 51.47 for lat in inc["lat"])
    assert set(inc["occurred_precision"]) == {"day"}
    assert min(inc["occurred_at"]) >= dt.datetime(2024, 1, 1)
    assert '"land_type"' in inc["attributes"][0]
    assert inc["category_raw"][inc["source_row"].index(35)] == "Abandoned Trolley"


def test_noise_example_end_to_end():
    records = read_council(NOISE, "noise")
    assert records.encoding == "utf-8-sig"
    assert records.coords == "lonlat"
    batch = check(records)
    report = batch.report
    assert (report.rows_read, report.rows_accepted, report.rows_rejected) == (40, 36, 4)
    assert report.rejected_by_reason == {
        "no-coordinates": 2,
        "invalid-date": 1,
        "duplicate-reference": 1,
    }
    assert report.categories == {"noise": 35, "other": 1}
    assert [w["kind"] for w in report.warnings] == ["unknown-category"]
    assert "Bonfire smoke" in report.warnings[0]["message"]
    assert batch.quarantine.column("row_number").to_pylist() == [7, 14, 30, 38]

    inc = batch.incidents.to_pydict()
    by_row = dict(zip(inc["source_row"], inc["occurred_precision"], strict=True))
    assert by_row.pop(11) == "day"  # blank time received
    assert set(by_row.values()) == {"minute"}
    first = inc["source_row"].index(2)
    assert inc["occurred_at"][first] == dt.datetime(2024, 2, 14, 16, 51)
    assert inc["category_raw"][first] == "DIY"
    assert inc["category"][first] == "noise"


def test_examples_are_reproducible(tmp_path):
    spec = importlib.util.spec_from_file_location("make_synthetic", EXAMPLES / "make_synthetic.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main(tmp_path)
    for name in ("flytipping_synthetic.csv", "noise_synthetic.csv"):
        assert (tmp_path / name).read_bytes() == (EXAMPLES / name).read_bytes()
    assert "synthetic" in (EXAMPLES / "README.md").read_text(encoding="utf-8").lower()


def test_source_and_period_override():
    records = read_council(NOISE, "noise", source="council/gravesham-noise", period="2024-H1")
    batch = check(records)
    assert batch.info.batch_id == "council/gravesham-noise/2024-H1"


# --------------------------------------------------------------------------- profile errors


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[profile]\nname='x'\n[colums]\ndate='D'\n", "unknown section"),
        ("[profile]\nname='x'\ncolour='red'\n", "colour"),
        ("[profile]\nname='x'\ncategory='noise'\n[columns]\ndate='D'\nx='E'\n", "['x']"),
        (
            "[profile]\ncategory='noise'\n[columns]\ndate='D'\neasting='E'\nnorthing='N'\n"
            "longitude='Lo'\nlatitude='La'\n",
            "maps both",
        ),
        ("[profile]\ncategory='noise'\n[columns]\ndate='D'\n", "no coordinates"),
        ("[profile]\ncategory='noise'\n[columns]\ndate='D'\neasting='E'\n", "not northing"),
        ("[profile]\ncategory='noise'\n[columns]\neasting='E'\nnorthing='N'\n", "date"),
        ("[columns]\ndate='D'\neasting='E'\nnorthing='N'\n", "no category"),
        ("[profile]\ncategory='flytip'\n[columns]\ndate='D'\neasting='E'\nnorthing='N'\n",
         "'flytip' is not a taxonomy category"),
        (
            "[columns]\ndate='D'\ntype='T'\neasting='E'\nnorthing='N'\n"
            "[categories]\n'Bags'='rubbish'\n",
            "[categories] 'Bags'",
        ),
        (
            "[profile]\ncrs='EPSG:4326'\ncategory='noise'\n"
            "[columns]\ndate='D'\neasting='E'\nnorthing='N'\n",
            "in degrees",
        ),
        (
            "[profile]\ncrs='EPSG:27700'\ncategory='noise'\n"
            "[columns]\ndate='D'\nlongitude='E'\nlatitude='N'\n",
            "projected",
        ),
        ("[profile]\ncrs='nonsense'\ncategory='noise'\n[columns]\ndate='D'\neasting='E'\n"
         "northing='N'\n", "not a CRS"),
        ("[profile]\nname='Fly Tipping'\ncategory='noise'\n[columns]\ndate='D'\neasting='E'\n"
         "northing='N'\n", "lower-case"),
        ("[profile]\ndate_format='dd/mm/yyyy'\ncategory='noise'\n[columns]\ndate='D'\n"
         "easting='E'\nnorthing='N'\n", "no % directives"),
        ("[profile]\nname = \n", "not valid TOML"),
        ("[columns]\ndate=3\n", "must be a string"),
    ],
)  # fmt: skip
def test_profile_errors_name_file_and_key(tmp_path, text, expected):
    path = write_profile(tmp_path, text)
    with pytest.raises(ProfileError) as err:
        load_profile(path)
    assert expected in str(err.value)
    assert str(path) in str(err.value)


def test_unknown_profile_lists_known():
    with pytest.raises(ProfileError, match="unknown profile 'graffiti'") as err:
        load_profile("graffiti")
    assert "flytipping" in str(err.value) and "noise" in str(err.value)
    with pytest.raises(ProfileError, match="does not exist"):
        load_profile("/no/such/profile.toml")


def test_profile_defaults(tmp_path):
    path = write_profile(tmp_path, LONLAT_PROFILE.replace('name = "test-lonlat"\n', ""),
                         "my-source.toml")  # fmt: skip
    prof = load_profile(str(path))
    assert prof.name == "my-source"  # the file's stem
    assert prof.crs == "EPSG:4326" and prof.coords == "lonlat"
    assert prof.date_format is None and prof.sheet is None
    text = LONLAT_PROFILE.replace('category = "noise"', 'category = "noise"\ncrs = "auto"')
    assert load_profile(write_profile(tmp_path, text)).coords == "auto"


# --------------------------------------------------------------------------- headers


def test_missing_header_names_profile_and_headers(tmp_path):
    path = tmp_path / "fly.csv"
    path.write_text("Case Ref,Date Reported,Easting,Northing,Street,Ward,Size,Land Type\n"
                    "A1,01/02/2024,565000,173000,High St,Central,Small,Highway\n")  # fmt: skip
    with pytest.raises(InputFileError) as err:
        read_council(path, "flytipping")
    msg = str(err.value)
    assert "'Waste Type'" in msg
    assert "'flytipping'" in msg
    assert "'Case Ref'" in msg and "'Land Type'" in msg  # the headers found
    assert err.value.row == 1 and err.value.field == "Waste Type"


def test_header_matching_ignores_case_and_spaces(tmp_path):
    path = tmp_path / "fly.csv"
    path.write_text(
        " case ref ,DATE REPORTED,waste type,size,LAND TYPE, Easting ,northing,street,ward\n"
        "A1,01/02/2024,Tyres,Small,Highway,565000,173000,High St,E05004964\n"
        "A2,02/02/2024,Green,Small,Highway,565100,173100,High St,E05004965\n"
    )
    records = read_council(path, "flytipping")
    assert records.fields.x == " Easting "
    assert records.fields.source_ref == " case ref "
    assert records.fields.ward_code == "ward"  # ONS codes: used as ward codes
    batch = check(records)
    assert batch.report.rows_accepted == 2
    assert batch.incidents.column("ward_code").to_pylist() == ["E05004964", "E05004965"]
    assert batch.incidents.column("source_ref").to_pylist() == ["A1", "A2"]


# --------------------------------------------------------------------------- categories


def test_fixed_category_with_type_column(tmp_path):
    prof = write_profile(tmp_path, """
[profile]
name = "env"
category = "fly-tipping"
[columns]
reference = "Ref"
date = "Date"
type = "Type"
easting = "E"
northing = "N"
[categories]
"Abandoned car" = "abandoned-vehicle"
""")  # fmt: skip
    data = tmp_path / "env.csv"
    data.write_text(
        "Ref,Date,Type,E,N\n"
        "A,01/02/2024,Other,565000,173000\n"
        "B,01/02/2024,ABANDONED CAR ,565000,173000\n"
        "C,01/02/2024,Sofa,565000,173000\n"
    )
    batch = check(read_council(data, prof))
    inc = batch.incidents.to_pydict()
    assert inc["category"] == ["fly-tipping", "abandoned-vehicle", "fly-tipping"]
    assert [r.strip() for r in inc["category_raw"]] == ["Other", "ABANDONED CAR", "Sofa"]
    assert batch.report.warnings == []


def test_fixed_category_without_type_column(tmp_path):
    data = tmp_path / "n.csv"
    data.write_text("Ref,Date,Lon,Lat\nA,01/02/2024,0.37,51.44\n")
    records = read_council(data, load_profile(write_profile(tmp_path, LONLAT_PROFILE)))
    assert records.fixed_category == "noise" and records.fields.category is None
    assert check(records).incidents.column("category").to_pylist() == ["noise"]


# --------------------------------------------------------------------------- coordinates


def test_bng_declared_as_wgs84_is_refused(tmp_path):
    data = tmp_path / "n.csv"
    data.write_text("Ref,Date,Lon,Lat\nA,01/02/2024,565000,173000\nB,02/02/2024,565100,173200\n")
    records = read_council(data, write_profile(tmp_path, LONLAT_PROFILE))
    assert records.coords == "lonlat"
    with pytest.raises(InputFileError, match="British National Grid") as err:
        validate(records, ValidationContext(now=NOW))
    assert err.value.row == 2


def test_swapped_lat_lon_is_corrected_with_a_warning(tmp_path):
    data = tmp_path / "noise.csv"
    data.write_text(
        "Reference,Date Received,Time Received,Complaint Type,Premises Type,Latitude,Longitude,"
        "Street,Ward\n"
        "R1,01/02/2024,22:15,Loud music,Residential,0.371,51.441,King Street,Central\n"
        "R2,02/02/2024,23:40,Barking dog,Residential,0.352,51.433,Milton Road,Riverside\n"
    )
    batch = check(read_council(data, "noise"))
    kinds = [w["kind"] for w in batch.report.warnings]
    assert kinds == ["swapped-coordinates"]
    assert batch.incidents.column("lon").to_pylist() == [0.371, 0.352]
    assert batch.incidents.column("lat").to_pylist() == [51.441, 51.433]


# --------------------------------------------------------------------------- Excel


def test_xlsx_reading(tmp_path):
    prof = write_profile(tmp_path, """
[profile]
name = "fly-xlsx"
sheet = "Cases"
[columns]
reference = "Case Ref"
date = "Date Reported"
time = "Time"
type = "Waste Type"
easting = "Easting"
northing = "Northing"
""")  # fmt: skip
    book = openpyxl.Workbook()
    notes = book.active
    notes.title = "Notes"
    notes.append(["This sheet is not the data"])
    sheet = book.create_sheet("Cases")
    sheet.append(["Case Ref", "Date Reported", "Time", "Waste Type", "Easting", "Northing"])
    sheet.append([1001, dt.datetime(2024, 3, 5), dt.time(14, 30), "Tyres", 565000, 173000.0])
    sheet.append([1002, "06/03/2024", "09:15", "Green", 565100.5, 173100])
    sheet.append([None, None, None, None, None, None])  # blank row 4: skipped
    sheet.append([1003, dt.datetime(2024, 3, 7, 0, 0), None, "Sofa", None, None])
    path = tmp_path / "fly.xlsx"
    book.save(path)

    records = read_council(path, prof)
    frame = records.frame
    assert list(frame.index) == [2, 3, 5]  # Excel row numbers
    assert frame["Case Ref"].tolist() == ["1001", "1002", "1003"]
    assert frame["Date Reported"].tolist() == ["2024-03-05", "06/03/2024", "2024-03-07"]
    assert frame.loc[2, "Time"] == "14:30:00"
    assert frame.loc[2, "Northing"] == "173000"
    assert frame.loc[3, "Easting"] == "565100.5"

    batch = check(records)
    assert batch.report.rejected_by_reason == {"no-coordinates": 1}
    assert batch.quarantine.column("row_number").to_pylist() == [5]
    inc = batch.incidents.to_pydict()
    assert inc["occurred_at"] == [dt.datetime(2024, 3, 5, 14, 30), dt.datetime(2024, 3, 6, 9, 15)]
    assert inc["source_row"] == [2, 3]


def test_xlsx_date_cells_without_time_column(tmp_path):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Ref", "Date", "Lon", "Lat"])
    sheet.append(["A", dt.datetime(2024, 3, 5, 21, 10), 0.37, 51.44])
    sheet.append(["B", dt.datetime(2024, 3, 6), 0.371, 51.441])
    path = tmp_path / "n.xlsx"
    book.save(path)
    records = read_council(path, write_profile(tmp_path, LONLAT_PROFILE))
    assert records.frame["Date"].tolist() == ["2024-03-05 21:10:00", "2024-03-06 00:00:00"]
    inc = check(records).incidents.to_pydict()
    assert inc["occurred_at"][0] == dt.datetime(2024, 3, 5, 21, 10)


def test_xlsx_errors(tmp_path):
    prof = write_profile(tmp_path, LONLAT_PROFILE.replace("[columns]", 'sheet = "Data"\n[columns]'))
    book = openpyxl.Workbook()
    book.active.append(["Ref", "Date", "Lon", "Lat"])
    path = tmp_path / "n.xlsx"
    book.save(path)
    with pytest.raises(InputFileError, match="no sheet 'Data'"):
        read_council(path, prof)
    with pytest.raises(InputFileError, match="no data rows"):
        read_council(path, write_profile(tmp_path, LONLAT_PROFILE))
    fake = tmp_path / "fake.xlsx"
    fake.write_text("Ref,Date\n")
    with pytest.raises(InputFileError, match=r"expected an Excel \.xlsx workbook"):
        read_council(fake, write_profile(tmp_path, LONLAT_PROFILE))
    with pytest.raises(InputFileError, match="no such file"):
        read_council(tmp_path / "absent.csv", "noise")
