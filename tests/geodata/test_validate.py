"""Validation rules on small police.uk frames, plus Hypothesis properties."""

from __future__ import annotations

import dataclasses
from datetime import datetime

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyproj import Transformer
from shapely.geometry import box

from geodata.crs import detect_pair_kind, xy_to_lonlat
from geodata.errors import InputFileError
from geodata.readers.police import read_police_bytes
from geodata.validate import ValidationContext, validate

NOW = datetime(2022, 1, 15)
CTX = ValidationContext(now=NOW)
KENT = "police-uk/kent-police"
TO_BNG = Transformer.from_crs("EPSG:4326", "EPSG:27700", always_xy=True)
HYPO = settings(
    max_examples=40,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def records(police_csv, rows, name: str = "test.csv"):
    text = "\n".join(police_csv.lines(rows)) + "\n"
    return read_police_bytes(text.encode("utf-8"), name)


def cid(n: int) -> str:
    return f"{n:064x}"


def one_batch(police_csv, rows, ctx=CTX):
    (batch,) = validate(records(police_csv, rows), ctx)
    return batch


def rejected(batch) -> dict[int, dict]:
    return {r["row_number"]: r for r in batch.quarantine.to_pylist()}


# --------------------------------------------------------------------------- rejection rules


def test_each_rejection_reason(police_csv) -> None:
    r = police_csv.row
    rows = [
        r(cid(1)),  # 2: accepted
        r(cid(2), month=""),  # 3
        r(cid(3), month="2022-13"),  # 4
        r(cid(4), lon="", lat=""),  # 5
        r(cid(5), lon="0", lat="0"),  # 6: 0,0 is "no coordinates"
        r(cid(6), lon="abc", lat="51.44"),  # 7
        r(cid(7), lon="0.37", lat="north"),  # 8
        r(cid(8), lon=12.5, lat=41.9),  # 9: Rome
        r(cid(1), lon=0.38, lat=51.45),  # 10: repeats row 2's reference
        r(cid(9), crime_type=""),  # 11
        r(cid(10), month="Jan 2022", lon="", lat=""),  # 12: the first failing rule wins
        r(cid(6), lon=0.39, lat=51.43),  # 13: row 7 had this reference but was rejected
        r("   ", lon=0.36, lat=51.43),  # 14: a blank reference is no reference
    ]
    batch = one_batch(police_csv, rows)
    q = rejected(batch)
    expected = {
        3: ("missing-date", "Month", "no date given"),
        4: ("invalid-date", "Month", "expected YYYY-MM, got '2022-13'"),
        5: ("no-coordinates", "Longitude", "no coordinates given"),
        6: ("no-coordinates", "Longitude", "no coordinates given"),
        7: ("invalid-coordinates", "Longitude", "expected numbers, got 'abc', '51.44'"),
        8: ("invalid-coordinates", "Latitude", "expected numbers, got '0.37', 'north'"),
        9: ("outside-uk", "Longitude", "lon 12.50000, lat 41.90000 is outside the UK"),
        10: ("duplicate-reference", "Crime ID", f"reference {cid(1)!r} already on row 2"),
        11: ("missing-category", "Crime type", "no category given"),
        12: ("invalid-date", "Month", "expected YYYY-MM, got 'Jan 2022'"),
    }
    assert {k: (v["reason"], v["field"], v["detail"]) for k, v in q.items()} == expected
    assert batch.incidents.column("source_row").to_pylist() == [2, 13, 14]
    assert batch.incidents.column("source_ref").to_pylist() == [cid(1), cid(6), None]
    lines = police_csv.lines(rows)
    assert all(v["raw"] == lines[k - 1] for k, v in q.items())
    assert all(v["batch_id"] == f"{KENT}/2022-01" and v["file"] == "test.csv" for v in q.values())
    rep = batch.report
    assert (rep.rows_read, rep.rows_accepted, rep.rows_rejected) == (13, 3, 10)
    assert rep.rejected_by_reason == {
        "missing-date": 1,
        "invalid-date": 2,
        "no-coordinates": 2,
        "invalid-coordinates": 2,
        "outside-uk": 1,
        "duplicate-reference": 1,
        "missing-category": 1,
    }
    assert [e["row"] for e in rep.examples["invalid-date"]] == [4, 12]
    assert rep.examples["outside-uk"][0]["raw"] == lines[8]


def test_asb_without_reference_at_one_point_is_never_deduplicated(police_csv) -> None:
    asb = police_csv.row(crime_type="Anti-social behaviour")
    rows = [asb] * 6 + [police_csv.row(cid(1))] * 2
    batch = one_batch(police_csv, rows)
    inc = batch.incidents
    assert inc.num_rows == 7
    assert inc.column("category").to_pylist() == ["anti-social-behaviour"] * 6 + ["burglary"]
    assert inc.column("source_ref").null_count == 6
    assert len(set(zip(inc.column("x").to_pylist(), inc.column("y").to_pylist()))) == 1
    assert inc.column("id").to_pylist() == [f"{KENT}/2022-01#{n}" for n in range(2, 9)]
    assert rejected(batch)[9]["reason"] == "duplicate-reference"


def test_unknown_category_is_kept_as_other_with_a_warning(police_csv) -> None:
    rows = [
        police_csv.row(cid(1), crime_type="Fraud and forgery"),
        police_csv.row(cid(2), crime_type="Burglary"),
        police_csv.row(cid(3), crime_type="Fraud and forgery"),
        police_csv.row(cid(4), crime_type="  violence AND sexual-offences "),
    ]
    batch = one_batch(police_csv, rows)
    inc = batch.incidents
    assert inc.column("category").to_pylist() == ["other", "burglary", "other", "violent-crime"]
    assert inc.column("category_raw").to_pylist()[0] == "Fraud and forgery"
    (warning,) = [w for w in batch.report.warnings if w["kind"] == "unknown-category"]
    assert "'Fraud and forgery'" in warning["message"] and "'other'" in warning["message"]
    assert warning["count"] == 2
    assert batch.report.categories == {"other": 2, "burglary": 1, "violent-crime": 1}


def test_outside_uk_versus_study_area(police_csv) -> None:
    rows = [
        police_csv.row(cid(1), lon=0.3700, lat=51.4415),  # Gravesend
        police_csv.row(cid(2), lon=0.5225, lat=51.2720),  # Maidstone: UK, not study area
        police_csv.row(cid(3), lon=12.4964, lat=41.9028),  # Rome
    ]
    plain = one_batch(police_csv, rows)
    assert {k: v["reason"] for k, v in rejected(plain).items()} == {4: "outside-uk"}

    x, y = TO_BNG.transform(0.37, 51.4415)
    area = box(x - 5000, y - 5000, x + 5000, y + 5000)
    ctx = dataclasses.replace(CTX, study_area=area, study_area_name="Gravesham + 5 km")
    batch = one_batch(police_csv, rows, ctx)
    q = rejected(batch)
    assert {k: v["reason"] for k, v in q.items()} == {
        3: "outside-study-area",
        4: "outside-study-area",
    }
    assert q[3]["detail"] == "outside Gravesham + 5 km"
    assert batch.incidents.column("source_row").to_pylist() == [2]
    # The study area is part of the content hash: a new area re-imports.
    assert batch.info.content_hash != plain.info.content_hash


def test_swapped_latitude_longitude_is_corrected(police_csv) -> None:
    points = [(0.3700, 51.4415), (0.3512, 51.4333), (0.4101, 51.4250)]
    rows = [police_csv.row(cid(i), lon=lat, lat=lon) for i, (lon, lat) in enumerate(points)]
    batch = one_batch(police_csv, rows)
    (warning,) = [w for w in batch.report.warnings if w["kind"] == "swapped-coordinates"]
    assert warning["count"] == 3
    inc = batch.incidents
    assert list(zip(inc.column("lon").to_pylist(), inc.column("lat").to_pylist())) == points
    xs, ys = TO_BNG.transform([p[0] for p in points], [p[1] for p in points])
    assert np.allclose(inc.column("x").to_numpy(), xs, atol=1e-3)
    assert np.allclose(inc.column("y").to_numpy(), ys, atol=1e-3)


def test_bng_in_lonlat_columns_is_refused(police_csv) -> None:
    rows = [police_csv.row(cid(1), lon="", lat="")]
    rows += [police_csv.row(cid(i), lon=f"{564800 + i}", lat="174200") for i in range(2, 5)]
    with pytest.raises(InputFileError, match=r"declared WGS84 .* British National Grid") as err:
        validate(records(police_csv, rows), CTX)
    assert (err.value.row, err.value.field) == (3, "Longitude")  # the first row with values


def test_two_months_make_two_batches(police_csv) -> None:
    rows = [
        police_csv.row(cid(1), month="2021-12"),
        police_csv.row(cid(2), month="2022-01"),
        police_csv.row(cid(3), month="2021-12"),
        police_csv.row(cid(4), month="2021-12", lon="", lat=""),
        police_csv.row(cid(5), month="December"),  # undated: kept with the main month
        police_csv.row(cid(1), month="2022-01"),  # a reference repeats only per batch
    ]
    dec, jan = validate(records(police_csv, rows), CTX)
    assert (dec.info.batch_id, jan.info.batch_id) == (f"{KENT}/2021-12", f"{KENT}/2022-01")
    assert (dec.info.period, jan.info.period) == ("2021-12", "2022-01")
    assert dec.incidents.column("source_row").to_pylist() == [2, 4]
    assert jan.incidents.column("source_row").to_pylist() == [3, 7]
    assert {k: v["reason"] for k, v in rejected(dec).items()} == {
        5: "no-coordinates",
        6: "invalid-date",
    }
    assert (dec.info.rows_read, jan.info.rows_read) == (4, 2)
    assert dec.incidents.column("occurred_at").to_pylist() == [datetime(2021, 12, 1)] * 2
    assert dec.info.content_hash != jan.info.content_hash


def test_content_hash_is_stable_and_sensitive_to_content(police_csv) -> None:
    rows = [police_csv.row(cid(i), lon=0.3 + i / 100) for i in range(5)]
    text = "\n".join(police_csv.lines(rows)) + "\n"

    def hash_of(data: bytes, ctx=CTX) -> str:
        (batch,) = validate(read_police_bytes(data, "any-name.csv"), ctx)
        return batch.info.content_hash

    first = hash_of(text.encode())
    assert hash_of(text.encode()) == first
    # The hash is of the rows, not of the bytes: line endings and a BOM do not matter.
    assert hash_of(text.replace("\n", "\r\n").encode()) == first
    assert hash_of(b"\xef\xbb\xbf" + text.encode()) == first
    changed = [list(r) for r in rows]
    changed[3][6] = "On or near Another Street"
    assert hash_of(("\n".join(police_csv.lines(changed)) + "\n").encode()) != first
    swapped = [rows[1], rows[0], *rows[2:]]
    assert hash_of(("\n".join(police_csv.lines(swapped)) + "\n").encode()) != first
    ctx = dataclasses.replace(CTX, sensitive=frozenset({"burglary"}))
    assert hash_of(text.encode(), ctx) != first


def test_dates_in_the_future_are_rejected(police_csv) -> None:
    rows = [police_csv.row(cid(1), month="2022-01"), police_csv.row(cid(2), month="2022-02")]
    jan, feb = validate(records(police_csv, rows), ValidationContext(now=datetime(2022, 1, 15)))
    assert jan.report.rows_accepted == 1
    (q,) = feb.quarantine.to_pylist()
    assert (q["reason"], q["field"]) == ("invalid-date", "Month")
    assert q["detail"] == "date '2022-02' is in the future"
    # Within a day of "now" is not the future (clocks and time zones differ).
    _, feb = validate(records(police_csv, rows), ValidationContext(now=datetime(2022, 1, 31, 9)))
    assert feb.report.rows_accepted == 1


def test_far_outliers_are_flagged_not_dropped(police_csv) -> None:
    rng = np.random.default_rng(3)
    rows = [
        police_csv.row(
            cid(i),
            lon=float(rng.uniform(0.30, 0.45)),
            lat=float(rng.uniform(51.40, 51.47)),
            lsoa_name=f"Gravesham 0{i % 10:02d}A",
        )
        for i in range(250)
    ]
    rows.append(police_csv.row(cid(900), lon=-0.1372, lat=50.8225, lsoa_name="Brighton 027E"))
    rows.append(police_csv.row(cid(901), lon=0.2210, lat=51.4400, lsoa_name="Dartford 001A"))
    batch = one_batch(police_csv, rows)
    inc = batch.incidents
    assert inc.num_rows == 252
    flags = dict(zip(inc.column("source_row").to_pylist(), inc.column("flags").to_pylist()))
    assert flags[252] == "outside-force-area"
    assert flags[253] == ""  # a rare district next door is not far away
    assert sum(f == "outside-force-area" for f in flags.values()) == 1
    (warning,) = [w for w in batch.report.warnings if w["kind"] == "outside-force-area"]
    assert warning["count"] == 1 and "Brighton 027E" in warning["message"]


def test_sensitive_categories_and_attributes(police_csv) -> None:
    rows = [
        police_csv.row(cid(1), crime_type="Violence and sexual offences", context="Note"),
        police_csv.row(cid(2), crime_type="Drugs"),
    ]
    ctx = dataclasses.replace(CTX, sensitive=frozenset({"violent-crime"}))
    inc = one_batch(police_csv, rows, ctx).incidents
    assert inc.column("sensitive").to_pylist() == [True, False]
    assert inc.column("attributes").to_pylist()[0] == (
        '{"reported_by": "Kent Police", "falls_within": "Kent Police", '
        '"lsoa_name": "Gravesham 010C", "outcome": "Under investigation", "context": "Note"}'
    )
    assert inc.column("occurred_precision").to_pylist() == ["month", "month"]


# --------------------------------------------------------------------------- properties

UK_LON = st.floats(-8.0, 1.75, allow_nan=False)
UK_LAT = st.floats(50.0, 60.8, allow_nan=False)


@HYPO
@given(points=st.lists(st.tuples(UK_LON, UK_LAT), min_size=1, max_size=30))
def test_xy_round_trips_to_lonlat(police_csv, points) -> None:
    rows = [police_csv.row(cid(i), lon=repr(a), lat=repr(b)) for i, (a, b) in enumerate(points)]
    inc = one_batch(police_csv, rows).incidents
    assert inc.num_rows == len(points)
    lon, lat = xy_to_lonlat(inc.column("x").to_numpy(), inc.column("y").to_numpy(), "EPSG:27700")
    want_lon = np.array([p[0] for p in points])
    want_lat = np.array([p[1] for p in points])
    assert np.array_equal(inc.column("lon").to_numpy(), want_lon)
    assert np.array_equal(inc.column("lat").to_numpy(), want_lat)
    assert np.abs(lon - want_lon).max() < 1e-7
    assert np.abs(lat - want_lat).max() < 1e-7


def _with_gaps(draw, pairs: list[tuple[float, float]]) -> tuple[np.ndarray, np.ndarray]:
    """Arrays of the pairs, with a few missing values mixed in (ignored by detection)."""
    gaps = draw(st.integers(0, 3))
    a = np.array([p[0] for p in pairs] + [np.nan] * gaps)
    b = np.array([p[1] for p in pairs] + [np.nan] * gaps)
    order = np.random.default_rng(draw(st.integers(0, 2**16))).permutation(len(a))
    return a[order], b[order]


@HYPO
@given(data=st.data(), n=st.integers(1, 40))
def test_detect_pair_kind(data, n) -> None:
    lonlat = data.draw(st.lists(st.tuples(UK_LON, UK_LAT), min_size=n, max_size=n))
    a, b = _with_gaps(data.draw, lonlat)
    assert detect_pair_kind(a, b) == "lonlat"
    assert detect_pair_kind(b, a) == "latlon"
    east = st.floats(1000.5, 700_000, allow_nan=False)
    north = st.floats(1000.5, 1_300_000, allow_nan=False)
    grid = data.draw(st.lists(st.tuples(east, north), min_size=n, max_size=n))
    e, no = _with_gaps(data.draw, grid)
    assert detect_pair_kind(e, no) == "bng"
    # Half degrees and half metres is neither.
    if n >= 2:
        half = n // 2
        mixed_a = np.concatenate([a[~np.isnan(a)][:half], e[~np.isnan(e)][: n - half]])
        mixed_b = np.concatenate([b[~np.isnan(b)][:half], no[~np.isnan(no)][: n - half]])
        assert detect_pair_kind(mixed_a, mixed_b) == "unknown"
    assert detect_pair_kind(np.array([np.nan]), np.array([np.nan])) == "unknown"


ROW_KINDS = {
    "good": None,
    "asb": None,
    "dup": "duplicate-reference",
    "no-coords": "no-coordinates",
    "zero": "no-coordinates",
    "bad-lon": "invalid-coordinates",
    "abroad": "outside-uk",
    "bad-month": "invalid-date",
    "no-month": "missing-date",
    "no-type": "missing-category",
}


@HYPO
@given(
    kinds=st.lists(st.sampled_from(sorted(ROW_KINDS)), min_size=1, max_size=40),
    months=st.lists(st.sampled_from(["2021-11", "2021-12"]), min_size=40, max_size=40),
    seed=st.integers(0, 2**16),
)
def test_every_row_is_accepted_or_rejected(police_csv, kinds, months, seed) -> None:
    rng = np.random.default_rng(seed)
    labels = list(police_csv.types)
    rows, expected = [], {}
    last_good: dict[str, str] = {}  # month -> reference of the latest accepted crime
    for i, kind in enumerate(kinds):
        month = months[i]
        lon, lat = f"{rng.uniform(-3, 1.5):.6f}", f"{rng.uniform(51, 54):.6f}"
        kw = {"crime_type": labels[i % len(labels)]}
        ref = cid(i)
        if kind == "dup" and month not in last_good:
            kind = "good"  # nothing to repeat yet
        if kind == "dup":
            ref = last_good[month]
        elif kind == "asb":
            ref, kw["crime_type"] = "", "Anti-social behaviour"
        elif kind in ("no-coords", "zero"):
            lon = lat = "" if kind == "no-coords" else "0"
        elif kind == "bad-lon":
            lon = "E564800"
        elif kind == "abroad":
            lon, lat = f"{rng.uniform(10, 20):.4f}", f"{rng.uniform(40, 45):.4f}"
        elif kind == "bad-month":
            month = "2021-13"
        elif kind == "no-month":
            month = ""
        elif kind == "no-type":
            kw["crime_type"] = ""
        if kind == "good":
            last_good[month] = ref
        rows.append(police_csv.row(ref, month, lon, lat, **kw))
        expected[i + 2] = ROW_KINDS[kind]

    batches = validate(records(police_csv, rows), CTX)
    assert sum(b.report.rows_read for b in batches) == len(rows)
    accepted = sum(b.report.rows_accepted for b in batches)
    rejected_n = sum(b.report.rows_rejected for b in batches)
    assert accepted + rejected_n == len(rows)
    assert sum(b.incidents.num_rows + b.quarantine.num_rows for b in batches) == len(rows)
    got = {}
    for b in batches:
        got.update(dict.fromkeys(b.incidents.column("source_row").to_pylist()))
        for q in b.quarantine.to_pylist():
            got[q["row_number"]] = q["reason"]
    assert got == expected
    assert len({b.info.batch_id for b in batches}) == len(batches)
