"""The store contract, run against both stores (DuckDB file and PostGIS) via ``store``,
and on a DuckDB file opened as the server opens it (reads answered from memory).

A small synthetic police.uk download is imported through
:func:`geodata.ingest.import_records`; every expectation (ids, coordinates,
ward codes, filters) is computed here from the input rows, never from a store.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import shapely
from pyproj import Transformer
from shapely.geometry import MultiPolygon, Polygon, box

from geodata.ingest import context_for, import_records
from geodata.model import INCIDENT_SCHEMA, QUARANTINE_SCHEMA
from geodata.readers.police import read_police
from geodata.stores.base import IncidentQuery, Store
from geodata.stores.query import SPANS_SCHEMA

TO_BNG = Transformer.from_crs("EPSG:4326", "EPSG:27700", always_xy=True)
KENT = "police-uk/kent-police"
MET = "police-uk/metropolitan-police-service"
JAN, FEB = datetime(2022, 1, 1), datetime(2022, 2, 1)
SENSITIVE = frozenset({"violent-crime"})
MAP_COLUMNS = ["id", "category", "occurred_at", "lon", "lat", "x", "y", "sensitive"]


@pytest.fixture(
    params=["duckdb", "duckdb-memory", pytest.param("postgis", marks=pytest.mark.postgis)]
)
def store_kind(request: pytest.FixtureRequest) -> str:
    return request.param


KENT_DISTRICTS = {
    "Ashford",
    "Canterbury",
    "Dartford",
    "Dover",
    "Gravesham",
    "Maidstone",
    "Medway",
    "Sevenoaks",
    "Shepway",
    "Swale",
    "Thanet",
    "Tonbridge and Malling",
    "Tunbridge Wells",
}
ASB_POINT = (0.370000, 51.441500)


def bng(lon: float, lat: float) -> tuple[float, float]:
    x, y = TO_BNG.transform(lon, lat)
    return float(x), float(y)


@dataclass
class Row:
    """One input row and what the store must make of it."""

    cells: list[str]
    file: Path
    line: int
    source: str
    month: str
    slug: str
    reason: str | None = None  # None: accepted

    @property
    def accepted(self) -> bool:
        return self.reason is None

    @property
    def batch_id(self) -> str:
        return f"{self.source}/{self.month}"

    @property
    def id(self) -> str:
        return f"{self.batch_id}#{self.line}"

    @property
    def lon(self) -> float:
        return float(self.cells[4])

    @property
    def lat(self) -> float:
        return float(self.cells[5])

    @property
    def xy(self) -> tuple[float, float]:
        return bng(self.lon, self.lat)

    @property
    def category_raw(self) -> str:
        return self.cells[9]

    @property
    def crime_id(self) -> str | None:
        return self.cells[0] or None


@dataclass
class Dataset:
    folder: Path
    rows: list[Row]
    wards: gpd.GeoDataFrame

    def accepted(self) -> list[Row]:
        return [r for r in self.rows if r.accepted]

    def ids(self, keep=lambda r: True) -> list[str]:
        return sorted(r.id for r in self.accepted() if keep(r))

    def ward_of(self, row: Row) -> str | None:
        pt = shapely.Point(row.xy)
        for code, geom in zip(self.wards["code"], self.wards.geometry):
            if geom.intersects(pt):
                return code
        return None


def crime_id(tag: str) -> str:
    return hashlib.sha256(tag.encode()).hexdigest()


def write_month(police_csv, path: Path, specs: list[dict], source: str, month: str) -> list[Row]:
    """Write one police.uk file; ``specs`` are police_row kwargs plus ``reason``/``slug``."""
    rows = []
    cells_list = []
    for i, spec in enumerate(specs):
        spec = dict(spec)
        reason = spec.pop("reason", None)
        slug = spec.pop("slug", None)
        cells = police_csv.row(month=month, **spec)
        cells_list.append(cells)
        slug = slug or police_csv.types.get(cells[9], "other")
        rows.append(Row(cells, path, i + 2, source, month, slug, reason))
    police_csv.write(path, cells_list)
    return rows


def kent_january(rng: np.random.Generator, n_crimes: int = 30, tag: str = "a") -> list[dict]:
    labels = (
        "Violence and sexual offences",
        "Burglary",
        "Criminal damage and arson",
        "Vehicle crime",
        "Shoplifting",
        "Public order",
        "Drugs",
        "Other theft",
    )
    specs: list[dict] = []
    for i in range(n_crimes):
        specs.append(
            {
                "crime_id": crime_id(f"kent-jan-{tag}-{i}"),
                "lon": round(float(rng.uniform(0.30, 0.45)), 6),
                "lat": round(float(rng.uniform(51.40, 51.47)), 6),
                "crime_type": labels[i % len(labels)],
                "location": f"On or near Street {i}",
            }
        )
    # ASB: no Crime ID, all on one snap point; none may be de-duplicated.
    for _ in range(5):
        specs.append(
            {"lon": ASB_POINT[0], "lat": ASB_POINT[1], "crime_type": "Anti-social behaviour"}
        )
    specs.append(
        {
            "crime_id": crime_id(f"kent-jan-{tag}-nocoords"),
            "lon": "",
            "lat": "",
            "crime_type": "Burglary",
            "location": 'On or near "The Grove", Gravesend — café',
            "lsoa_code": "",
            "lsoa_name": "",
            "reason": "no-coordinates",
        }
    )
    specs.append(  # repeats the Crime ID of the fourth crime
        {
            "crime_id": crime_id(f"kent-jan-{tag}-3"),
            "lon": 0.41,
            "lat": 51.45,
            "crime_type": "Vehicle crime",
            "reason": "duplicate-reference",
        }
    )
    specs.append(
        {
            "crime_id": crime_id(f"kent-jan-{tag}-fraud"),
            "lon": 0.355,
            "lat": 51.433,
            "crime_type": "Fraud and forgery",
            "slug": "other",
        }
    )
    return specs


def kent_february(rng: np.random.Generator) -> list[dict]:
    specs = []
    for i in range(10):
        asb = i % 4 == 0
        specs.append(
            {
                "crime_id": "" if asb else crime_id(f"kent-feb-{i}"),
                "lon": round(float(rng.uniform(0.30, 0.45)), 6),
                "lat": round(float(rng.uniform(51.40, 51.47)), 6),
                "crime_type": "Anti-social behaviour" if asb else "Violence and sexual offences",
            }
        )
    return specs


def met_january(rng: np.random.Generator) -> list[dict]:
    return [
        {
            "crime_id": crime_id(f"met-jan-{i}"),
            "force": "Metropolitan Police Service",
            "lon": round(float(rng.uniform(-0.15, -0.05)), 6),
            "lat": round(float(rng.uniform(51.48, 51.53)), 6),
            "crime_type": ("Robbery", "Bicycle theft", "Theft from the person")[i % 3],
            "lsoa_code": "E01004734",
            "lsoa_name": "Westminster 018A",
        }
        for i in range(6)
    ]


def make_wards() -> gpd.GeoDataFrame:
    """Two wards in BNG: one of two disjoint parts, one a single part."""

    def lonlat_box(lon0, lat0, lon1, lat1) -> Polygon:
        (x0, y0), (x1, y1) = bng(lon0, lat0), bng(lon1, lat1)
        return box(x0, y0, x1, y1)

    west = MultiPolygon(
        [lonlat_box(0.29, 51.39, 0.3451, 51.4302), lonlat_box(0.29, 51.4501, 0.3451, 51.48)]
    )
    east = MultiPolygon([lonlat_box(0.3652, 51.4203, 0.4604, 51.4705)])
    return gpd.GeoDataFrame(
        {"code": ["E05000001", "E05000002"], "name": ["West Ward", "East Ward"]},
        geometry=[west, east],
        crs="EPSG:27700",
    )


@pytest.fixture
def dataset(tmp_path: Path, police_csv) -> Dataset:
    rng = np.random.default_rng(20220101)
    folder = tmp_path / "download"
    rows = write_month(
        police_csv,
        folder / "2022-01" / "2022-01-kent-street.csv",
        kent_january(rng),
        KENT,
        "2022-01",
    )
    rows += write_month(
        police_csv,
        folder / "2022-01" / "2022-01-metropolitan-street.csv",
        met_january(rng),
        MET,
        "2022-01",
    )
    rows += write_month(
        police_csv,
        folder / "2022-02" / "2022-02-kent-street.csv",
        kent_february(rng),
        KENT,
        "2022-02",
    )
    return Dataset(folder, rows, make_wards())


def ctx_for(store: Store):
    return dataclasses.replace(context_for(store), sensitive=SENSITIVE)


def load(store: Store, data: Dataset):
    store.replace_boundaries("ward", data.wards)
    return import_records(store, read_police(data.folder), ctx_for(store))


def ids(table: pa.Table) -> list[str]:
    return table.column("id").to_pylist()


def snapshot(store: Store) -> tuple:
    """Everything an import may change, for before/after comparisons."""
    return (
        [b.to_dict() for b in store.list_batches()],
        store.query_incidents(),
        store.read_quarantine(),
    )


# --------------------------------------------------------------------------- import


def test_import_batches_and_rows(store: Store, dataset: Dataset) -> None:
    report = load(store, dataset)
    by_batch = {b.batch_id: b for b in report.batches}
    assert set(by_batch) == {f"{KENT}/2022-01", f"{KENT}/2022-02", f"{MET}/2022-01"}
    assert {b.status for b in report.batches} == {"created"}
    assert report.rows_read == len(dataset.rows)
    assert report.rows_accepted == len(dataset.accepted())
    jan = by_batch[f"{KENT}/2022-01"]
    assert jan.rejected_by_reason == {"no-coordinates": 1, "duplicate-reference": 1}
    unknown = [w for w in jan.warnings if w["kind"] == "unknown-category"]
    assert len(unknown) == 1 and "Fraud and forgery" in unknown[0]["message"]

    batches = store.list_batches()
    assert [(b.source, b.period) for b in batches] == [
        (KENT, "2022-01"),
        (KENT, "2022-02"),
        (MET, "2022-01"),
    ]
    for b in batches:
        mine = [r for r in dataset.rows if r.batch_id == b.batch_id]
        assert b.files == [str(mine[0].file)]
        assert b.rows_read == len(mine)
        assert b.rows_accepted == sum(r.accepted for r in mine)
        assert b.rows_rejected == sum(not r.accepted for r in mine)
        assert b.crs == "EPSG:27700"
        assert isinstance(b.imported_at, datetime)
        assert len(b.content_hash) == 64
    assert store.batch_hashes([b.batch_id for b in batches] + ["nope"]) == {
        b.batch_id: b.content_hash for b in batches
    }

    table = store.query_incidents()
    assert table.schema.equals(INCIDENT_SCHEMA)
    assert ids(table) == dataset.ids()
    got = {r["id"]: r for r in table.to_pylist()}
    asb_at_point = 0
    for row in dataset.accepted():
        inc = got[row.id]
        x, y = row.xy
        assert inc["batch_id"] == row.batch_id
        assert inc["source"] == row.source
        assert inc["source_ref"] == row.crime_id
        assert inc["category"] == row.slug
        assert inc["category_raw"] == row.category_raw
        assert inc["occurred_at"] == datetime.strptime(row.month, "%Y-%m")
        assert inc["occurred_precision"] == "month"
        assert (inc["lon"], inc["lat"]) == (row.lon, row.lat)
        assert inc["x"] == pytest.approx(x, abs=1e-3) and inc["y"] == pytest.approx(y, abs=1e-3)
        assert inc["location"] == row.cells[6]
        assert inc["lsoa_code"] == row.cells[7]
        assert inc["ward_code"] == dataset.ward_of(row)
        assert inc["sensitive"] is (row.slug in SENSITIVE)
        assert not inc["flags"]
        attrs = json.loads(inc["attributes"])
        assert attrs["lsoa_name"] == row.cells[8]
        assert attrs["falls_within"] == row.cells[3]
        assert "context" not in attrs  # empty cells are left out
        assert inc["source_row"] == row.line
        if row.crime_id is None and (row.lon, row.lat) == ASB_POINT:
            asb_at_point += 1
    assert asb_at_point == 5  # ASB rows sharing a snap point are all kept
    assert {dataset.ward_of(r) for r in dataset.accepted()} == {"E05000001", "E05000002", None}
    assert store.count_incidents() == len(dataset.accepted())
    assert store.schema_status()["current"] is True
    assert store.schema_status()["pending"] == []


def test_reimport_unchanged_then_replaced(store: Store, dataset: Dataset, police_csv) -> None:
    load(store, dataset)
    before = snapshot(store)

    again = import_records(store, read_police(dataset.folder), ctx_for(store))
    assert [b.status for b in again.batches] == ["unchanged"] * 3
    after = snapshot(store)
    assert after[0] == before[0]  # same hashes, same imported_at
    assert after[1].equals(before[1])
    assert after[2].equals(before[2])

    # New content for Kent 2022-01 only: 12 different crimes, no rejects.
    rng = np.random.default_rng(99)
    specs = [s for s in kent_january(rng, n_crimes=12, tag="b") if s.get("reason") is None]
    path = dataset.folder / "2022-01" / "2022-01-kent-street.csv"
    new_rows = write_month(police_csv, path, specs, KENT, "2022-01")
    dataset.rows = [r for r in dataset.rows if r.batch_id != f"{KENT}/2022-01"] + new_rows

    replaced = import_records(store, read_police(dataset.folder), ctx_for(store))
    status = {b.batch_id: b.status for b in replaced.batches}
    assert status == {
        f"{KENT}/2022-01": "replaced",
        f"{MET}/2022-01": "unchanged",
        f"{KENT}/2022-02": "unchanged",
    }
    assert ids(store.query_incidents()) == dataset.ids()
    jan = store.query_incidents(IncidentQuery(batch_ids=[f"{KENT}/2022-01"]))
    assert sorted(v for v in jan.column("source_ref").to_pylist() if v) == sorted(
        r.crime_id for r in new_rows if r.crime_id
    )
    assert store.read_quarantine(batch_id=f"{KENT}/2022-01").num_rows == 0
    old = {b["batch_id"]: b for b in before[0]}
    for b in store.list_batches():
        if b.batch_id == f"{KENT}/2022-01":
            assert b.content_hash != old[b.batch_id]["content_hash"]
            assert b.rows_read == len(new_rows) and b.rows_rejected == 0
        else:
            assert b.to_dict() == old[b.batch_id]


# --------------------------------------------------------------------------- queries


def query_cases(data: Dataset) -> list[tuple[str, IncidentQuery, object]]:
    """(name, query, predicate on Row) — predicates use only the input rows."""
    kent = [r for r in data.accepted() if r.source == KENT]
    xs = sorted(r.xy[0] for r in kent)
    ys = sorted(r.xy[1] for r in kent)
    # A metre bbox whose edges lie half-way between neighbouring points.
    bx0, bx1 = (xs[5] + xs[6]) / 2, (xs[-8] + xs[-7]) / 2
    by0, by1 = (ys[4] + ys[5]) / 2, (ys[-6] + ys[-5]) / 2
    bbox = (bx0, by0, bx1, by1)

    def in_bbox(r: Row) -> bool:
        x, y = r.xy
        return bx0 <= x <= bx1 and by0 <= y <= by1

    lonlat = (0.33, 51.41, 0.40, 51.45)

    def in_lonlat(r: Row) -> bool:
        return lonlat[0] <= r.lon <= lonlat[2] and lonlat[1] <= r.lat <= lonlat[3]

    (cx, cy) = bng(0.37, 51.44)
    triangle = Polygon([(cx - 6000, cy - 4000), (cx + 5000, cy - 3500), (cx - 500, cy + 5000)])

    def in_triangle(r: Row) -> bool:
        return triangle.intersects(shapely.Point(r.xy))

    cats = ["burglary", "anti-social-behaviour", "robbery"]
    feb_batch = f"{KENT}/2022-02"
    chosen = {r.id for r in data.accepted()[3:40:6]}
    return [
        ("all", IncidentQuery(), lambda r: True),
        ("bbox metres", IncidentQuery(bbox=bbox), in_bbox),
        ("bbox lonlat", IncidentQuery(bbox=lonlat, bbox_lonlat=True), in_lonlat),
        ("categories", IncidentQuery(categories=cats), lambda r: r.slug in cats),
        ("no categories", IncidentQuery(categories=[]), lambda r: False),
        ("start", IncidentQuery(start=FEB), lambda r: r.month == "2022-02"),
        ("end (exclusive)", IncidentQuery(end=FEB), lambda r: r.month == "2022-01"),
        ("start == end", IncidentQuery(start=JAN, end=JAN), lambda r: False),
        ("half-open month", IncidentQuery(start=JAN, end=FEB), lambda r: r.month == "2022-01"),
        ("sources", IncidentQuery(sources=[MET]), lambda r: r.source == MET),
        ("batch_ids", IncidentQuery(batch_ids=[feb_batch]), lambda r: r.batch_id == feb_batch),
        ("ids", IncidentQuery(ids=[*chosen, f"{KENT}/2022-01#9999"]), lambda r: r.id in chosen),
        ("no ids", IncidentQuery(ids=[]), lambda r: False),
        (
            "not sensitive",
            IncidentQuery(include_sensitive=False),
            lambda r: r.slug != "violent-crime",
        ),
        ("within", IncidentQuery(within=triangle), in_triangle),
        (
            "area",
            IncidentQuery(area=("ward", "E05000001")),
            lambda r: data.ward_of(r) == "E05000001",
        ),
        (
            "area + within",
            IncidentQuery(area=("ward", "E05000002"), within=triangle),
            lambda r: data.ward_of(r) == "E05000002" and in_triangle(r),
        ),
        (
            "combined attributes",
            IncidentQuery(
                bbox=lonlat,
                bbox_lonlat=True,
                categories=["anti-social-behaviour", "violent-crime", "burglary"],
                start=JAN,
                end=datetime(2022, 3, 1),
                sources=[KENT],
                include_sensitive=False,
            ),
            lambda r: (
                in_lonlat(r)
                and r.slug in ("anti-social-behaviour", "burglary")
                and r.source == KENT
            ),
        ),
        (
            "combined spatial",
            IncidentQuery(
                within=triangle,
                bbox=bbox,
                categories=["violent-crime", "anti-social-behaviour"],
                batch_ids=[f"{KENT}/2022-01", feb_batch],
            ),
            lambda r: (
                in_triangle(r)
                and in_bbox(r)
                and r.slug in ("violent-crime", "anti-social-behaviour")
            ),
        ),
    ]


def test_query_filters(store: Store, dataset: Dataset) -> None:
    load(store, dataset)
    n_all = len(dataset.accepted())
    for name, query, keep in query_cases(dataset):
        expected = dataset.ids(keep)
        if name not in ("all", "no categories", "start == end", "no ids"):
            assert 0 < len(expected) < n_all, f"{name}: the case does not discriminate"
        table = store.query_incidents(query)
        assert table.schema.equals(INCIDENT_SCHEMA), name
        assert ids(table) == expected, name
        assert store.count_incidents(query) == len(expected), name
        mapped = dataclasses.replace(query, columns=MAP_COLUMNS)  # what maps and layers read
        assert store.query_incidents(mapped).equals(table.select(MAP_COLUMNS)), name


def test_query_paging_and_columns(store: Store, dataset: Dataset) -> None:
    load(store, dataset)
    expected = dataset.ids()
    pages = []
    for offset in range(0, len(expected) + 7, 7):
        page = store.query_incidents(IncidentQuery(limit=7, offset=offset))
        assert page.num_rows <= 7
        pages += ids(page)
    assert pages == expected
    assert ids(store.query_incidents(IncidentQuery(offset=10))) == expected[10:]
    assert ids(store.query_incidents(IncidentQuery(limit=3))) == expected[:3]
    assert store.query_incidents(IncidentQuery(limit=0)).num_rows == 0
    assert store.count_incidents(IncidentQuery(limit=3, offset=5)) == len(expected)

    # Keyset paging: each page starts after the last id of the one before, in byte order.
    assert expected == sorted(expected, key=lambda i: i.encode())
    keyset, after = [], None
    while True:
        page = ids(store.query_incidents(IncidentQuery(limit=7, after_id=after)))
        if not page:
            break
        keyset += page
        after = page[-1]
    assert keyset == expected
    middle = expected[len(expected) // 2]
    later = IncidentQuery(after_id=middle)
    assert ids(store.query_incidents(later)) == [i for i in expected if i > middle]
    assert store.count_incidents(later) == len(expected) - len(expected) // 2 - 1

    # Paging after a polygon filter, and counts ignoring the paging.
    for name, query, keep in query_cases(dataset):
        if query.within is None and query.area is None:
            continue
        want = dataset.ids(keep)
        paged = dataclasses.replace(query, limit=2, offset=1)
        assert ids(store.query_incidents(paged)) == want[1:3], name
        assert store.count_incidents(paged) == len(want), name
        assert store.query_incidents(dataclasses.replace(query, limit=0)).num_rows == 0, name
        beyond = dataclasses.replace(query, offset=len(want) + 5)
        assert store.query_incidents(beyond).num_rows == 0, name

    cols = ["id", "category", "lon", "occurred_at"]
    sub = store.query_incidents(IncidentQuery(columns=cols, categories=["burglary"]))
    assert sub.schema.equals(pa.schema([INCIDENT_SCHEMA.field(c) for c in cols]))
    full = store.query_incidents(IncidentQuery(categories=["burglary"]))
    assert sub.equals(full.select(cols))
    with pytest.raises(ValueError, match="unknown incident column"):
        store.query_incidents(IncidentQuery(columns=["id", "geom"]))


def test_incident_spans_aggregate_what_a_query_reads(store: Store, dataset: Dataset) -> None:
    """The coverage's input, aggregated in the store, equals the same aggregation of
    the incidents a query returns: both views (the restricted one without sensitive)."""
    load(store, dataset)
    for include in (True, False):
        rows = store.query_incidents(IncidentQuery(include_sensitive=include)).to_pylist()
        want: dict[tuple, list] = {}
        for r in rows:
            key = (r["batch_id"], r["source"], r["category"])
            at, lon, lat = r["occurred_at"], r["lon"], r["lat"]
            span = want.setdefault(key, [at, at, 0, lon, lat, lon, lat])
            span[0], span[1] = min(span[0], at), max(span[1], at)
            span[2] += 1
            span[3:] = min(span[3], lon), min(span[4], lat), max(span[5], lon), max(span[6], lat)
        spans = store.incident_spans(include)
        assert spans.schema.equals(SPANS_SCHEMA)
        names = ["first", "last", "n", "west", "south", "east", "north"]
        got = {(s["batch_id"], s["source"], s["category"]): [s[k] for k in names]
               for s in spans.to_pylist()}  # fmt: skip
        assert got == want and len(got) > 2, include
        assert list(got) == sorted(got)
    flagged = store.count_incidents(IncidentQuery()) - store.count_incidents(
        IncidentQuery(include_sensitive=False)
    )
    assert flagged > 0, "the dataset has no sensitive incident: the views do not differ"


# --------------------------------------------------------------------------- quarantine, delete


def test_quarantine_rows(store: Store, dataset: Dataset, police_csv) -> None:
    load(store, dataset)
    q = store.read_quarantine()
    assert q.schema.equals(QUARANTINE_SCHEMA)
    rejected = sorted((r for r in dataset.rows if not r.accepted), key=lambda r: r.line)
    assert q.num_rows == len(rejected) == 2
    for got, row in zip(q.to_pylist(), rejected):
        assert got["batch_id"] == row.batch_id
        assert got["source"] == row.source
        assert got["file"] == str(row.file)
        assert got["row_number"] == row.line
        assert got["reason"] == row.reason
        original = row.file.read_text(encoding="utf-8").split("\n")[row.line - 1]
        assert got["raw"] == original == police_csv.lines([row.cells])[1]
    nocoords, dup = q.to_pylist()
    assert (nocoords["field"], nocoords["detail"]) == ("Longitude", "no coordinates given")
    first = next(r for r in dataset.rows if r.crime_id == dup["raw"].split(",")[0])
    assert dup["field"] == "Crime ID"
    assert dup["detail"] == f"reference {first.crime_id!r} already on row {first.line}"

    assert store.read_quarantine(reason="duplicate-reference").to_pylist() == [dup]
    assert store.read_quarantine(batch_id=f"{MET}/2022-01").num_rows == 0
    assert store.read_quarantine(limit=1, offset=1).to_pylist() == [dup]


def test_delete_batch(store: Store, dataset: Dataset) -> None:
    load(store, dataset)
    jan = f"{KENT}/2022-01"
    assert store.delete_batch(jan) is True
    assert [b.batch_id for b in store.list_batches()] == [f"{KENT}/2022-02", f"{MET}/2022-01"]
    assert ids(store.query_incidents()) == dataset.ids(lambda r: r.batch_id != jan)
    assert store.count_incidents(IncidentQuery(batch_ids=[jan])) == 0
    assert store.read_quarantine().num_rows == 0
    assert store.batch_hashes([jan]) == {}
    assert store.delete_batch(jan) is False
    # Importing again restores it (status "created").
    report = import_records(store, read_police(dataset.folder), ctx_for(store))
    assert {b.batch_id: b.status for b in report.batches}[jan] == "created"
    assert ids(store.query_incidents()) == dataset.ids()


# --------------------------------------------------------------------------- areas, schema


def test_boundaries_round_trip(store: Store) -> None:
    wards = make_wards()
    # A plain Polygon (with a hole) is stored as a MultiPolygon of one part.
    hole = box(562000, 172000, 563000, 173000).exterior.coords
    holed = Polygon(box(560000, 170000, 566000, 176000).exterior.coords, [hole])
    district = gpd.GeoDataFrame(
        {"code": ["E07000109"], "name": ["Gravesham"]}, geometry=[holed], crs="EPSG:27700"
    )
    assert store.replace_boundaries("ward", wards) == 2
    assert store.replace_boundaries("district", district) == 1
    got = store.boundaries()
    assert list(got.columns) == ["kind", "code", "name", "geometry"]
    assert got.crs.to_epsg() == 27700
    assert list(zip(got["kind"], got["code"])) == [
        ("district", "E07000109"),
        ("ward", "E05000001"),
        ("ward", "E05000002"),
    ]
    assert list(got["name"]) == ["Gravesham", "West Ward", "East Ward"]
    assert set(got.geom_type) == {"MultiPolygon"}
    expected = [MultiPolygon([holed]), *wards.geometry]
    for geom, want in zip(got.geometry, expected):
        assert geom.equals_exact(want, tolerance=1e-6)
    only_wards = store.boundaries("ward")
    assert list(only_wards["code"]) == ["E05000001", "E05000002"]
    assert store.area_polygon("ward", "E05000002").equals_exact(wards.geometry[1], 1e-6)

    # Replacing a kind drops its old areas and leaves other kinds alone.
    assert store.replace_boundaries("ward", wards.iloc[[1]]) == 1
    assert list(store.boundaries("ward")["code"]) == ["E05000002"]
    assert list(store.boundaries("district")["code"]) == ["E07000109"]
    with pytest.raises(LookupError, match="E05000001"):
        store.area_polygon("ward", "E05000001")
    with pytest.raises(LookupError):
        store.query_incidents(IncidentQuery(area=("ward", "E05000001")))
    with pytest.raises(ValueError, match="boundary kind"):
        store.boundaries("county")


def test_population_round_trip(store: Store) -> None:
    table = pd.DataFrame(
        {
            "area_code": ["E01024280", "E01024281", "E01024280", "E01024282"],
            "year": [2019, 2019, 2020, 2019],
            "population": [1520.0, 1633.5, 1541.0, 0.0],
        }
    )
    assert store.replace_population("lsoa", table) == 4
    assert store.replace_population("ward", table.iloc[:1]) == 1
    got = store.population("lsoa")
    assert list(got.columns) == ["kind", "area_code", "year", "population"]
    want = table.sort_values(["area_code", "year"]).reset_index(drop=True)
    assert got["kind"].tolist() == ["lsoa"] * 4
    assert got["area_code"].tolist() == want["area_code"].tolist()
    assert got["year"].astype(int).tolist() == want["year"].tolist()
    assert got["population"].tolist() == want["population"].tolist()
    assert len(store.population()) == 5
    assert store.replace_population("lsoa", table.iloc[:2]) == 2
    assert store.population("lsoa")["area_code"].tolist() == ["E01024280", "E01024281"]
    assert store.population("ward")["population"].tolist() == [1520.0]


def test_empty_store(store: Store) -> None:
    status = store.schema_status()
    assert status["current"] is True and status["pending"] == [] and status["applied"]
    assert store.list_batches() == []
    empty = store.query_incidents()
    assert empty.num_rows == 0 and empty.schema.equals(INCIDENT_SCHEMA)
    assert store.count_incidents() == 0
    assert store.read_quarantine().schema.equals(QUARANTINE_SCHEMA)
    assert store.boundaries().empty
    assert store.population().empty
    assert store.upgrade() == []  # nothing pending


# --------------------------------------------------------------------------- real data

KENT_2022_01 = "police/kent_full/2022-01-kent-street.csv"


def district_of(lsoa_name: str) -> str:
    return lsoa_name.rsplit(" ", 1)[0]


@pytest.mark.shared_data
def test_real_kent_month(store: Store, shared_data: Path) -> None:
    path = shared_data / KENT_2022_01
    report = import_records(store, read_police(path))
    assert [b.status for b in report.batches] == ["created"]
    assert report.rows_read == 16_338
    assert report.rows_accepted + report.rows_rejected == 16_338
    assert report.rejected_by_reason() == {"no-coordinates": 178}
    assert store.count_incidents() == report.rows_accepted
    q = store.read_quarantine()
    assert q.num_rows == 178
    assert set(q.column("reason").to_pylist()) == {"no-coordinates"}

    flagged = store.query_incidents(IncidentQuery(columns=["flags", "attributes"]))
    flags = flagged.column("flags").to_pylist()
    # outside-force-area rows, and rows at a recording place ("On or near Police Station")
    assert {f for fl in flags for f in fl.split(",") if f} <= {
        "outside-force-area",
        "artefact-place",
    }
    attrs = flagged.column("attributes").to_pylist()
    outside = [json.loads(a) for f, a in zip(flags, attrs) if "outside-force-area" in f]
    assert 10 <= len(outside) <= 100
    assert all(district_of(a["lsoa_name"]) not in KENT_DISTRICTS for a in outside)
    # ... and the rows from Kent's own districts are never flagged outside.
    inside = [
        json.loads(a)
        for f, a in zip(flags, attrs)
        if "outside-force-area" not in f and "lsoa_name" in a
    ]
    assert sum(district_of(a["lsoa_name"]) in KENT_DISTRICTS for a in inside) > 15_000

    before = snapshot(store)
    again = import_records(store, read_police(path))
    assert [b.status for b in again.batches] == ["unchanged"]
    after = snapshot(store)
    assert after[0] == before[0]
    assert after[1].equals(before[1]) and after[2].equals(before[2])


@pytest.mark.postgis
@pytest.mark.shared_data
def test_stores_agree_on_real_data(
    postgis_url: str, tmp_path: Path, shared_data: Path, store_factory
) -> None:
    path = shared_data / KENT_2022_01
    duck = store_factory.open("duckdb", str(tmp_path / "cross.duckdb"))
    pg = store_factory.new("postgis")
    for s in (duck, pg):
        import_records(s, read_police(path))
    (cx, cy) = bng(0.37, 51.4415)
    queries = [
        IncidentQuery(),
        IncidentQuery(
            bbox=(0.36, 51.43, 0.38, 51.45), bbox_lonlat=True, categories=["violent-crime"]
        ),
        IncidentQuery(start=JAN, end=FEB, categories=["anti-social-behaviour", "drugs"]),
        IncidentQuery(start=datetime(2022, 1, 2)),
        IncidentQuery(within=shapely.Point(cx, cy).buffer(300), columns=["id", "x", "y"]),
        IncidentQuery(bbox=(cx - 5000, cy - 5000, cx + 5000, cy + 5000), limit=50, offset=100),
    ]
    for i, q in enumerate(queries):
        a, b = duck.query_incidents(q), pg.query_incidents(q)
        assert a.equals(b), f"query {i}: {a.num_rows} vs {b.num_rows} rows"
        assert duck.count_incidents(q) == pg.count_incidents(q)
    assert queries and duck.query_incidents(queries[1]).num_rows > 0
    assert duck.read_quarantine().equals(pg.read_quarantine())
    assert [b.content_hash for b in duck.list_batches()] == [
        b.content_hash for b in pg.list_batches()
    ]
