"""The interventions log, run against both stores via ``store``.

A record must come back exactly as stored (dates, GeoJSON, hours, naive UTC
time); a bad record is refused with an error naming the field, by either
store, before anything is written.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta, timezone

import h3
import pytest
import shapely
from shapely.geometry import shape

from geodata.errors import StoreError
from geodata.interventions import InvalidIntervention, intervention_polygon
from geodata.model import InterventionRecord
from geodata.stores.base import Store

T0 = datetime(2024, 3, 1, 9, 30, 15, 123456)
# A small square in Gravesend town centre, lon/lat.
SQUARE = {
    "type": "Polygon",
    "coordinates": [
        [
            [0.3680, 51.4400],
            [0.3720, 51.4400],
            [0.3720, 51.4425],
            [0.3680, 51.4425],
            [0.3680, 51.4400],
        ]
    ],
}


def record(intervention_id: str = "iv-1", **kw) -> InterventionRecord:
    values = dict(
        intervention_id=intervention_id,
        title="Day of action: town centre",
        kind="day-of-action",
        area_type="polygon",
        area_codes=[],
        geometry=SQUARE,
        start_date=date(2022, 6, 15),
        end_date=date(2022, 6, 15),
        officer_hours=42.5,
        notes="with Kent Police and council wardens — ✓",
        created_at=T0,
        created_by="analyst-key",
    )
    values.update(kw)
    return InterventionRecord(**values)


def test_add_get_list_delete(store: Store) -> None:
    cells = sorted(h3.grid_disk(h3.latlng_to_cell(51.4412, 0.3700, 9), 1))
    cells_geom = {
        "type": "Polygon",
        "coordinates": [[[0.37, 51.44], [0.371, 51.44], [0.37, 51.441], [0.37, 51.44]]],
    }
    a = record("iv-a", start_date=date(2022, 6, 15), end_date=date(2022, 6, 15))
    b = record(
        "iv-b",
        kind="cctv",
        area_type="cells",
        area_codes=cells,
        geometry=cells_geom,
        start_date=date(2022, 9, 1),
        end_date=date(2023, 2, 28),
        officer_hours=None,
        notes="",
        created_at=datetime(2024, 3, 1, 10, tzinfo=timezone(timedelta(hours=1))),
    )
    c = record("iv-c", start_date=date(2022, 9, 1), end_date=date(2022, 9, 30))
    stored = [store.add_intervention(r) for r in (a, b, c)]
    assert stored[1].created_at == datetime(2024, 3, 1, 9)  # aware → naive UTC

    got = store.get_intervention("iv-a")
    assert got == a
    assert isinstance(got.start_date, date) and not isinstance(got.start_date, datetime)
    assert store.get_intervention("iv-b") == dataclasses.replace(
        b, created_at=datetime(2024, 3, 1, 9)
    )
    assert store.get_intervention("nope") is None
    # latest start first, ties by id descending
    assert [r.intervention_id for r in store.list_interventions()] == ["iv-c", "iv-b", "iv-a"]
    assert store.list_interventions()[2] == a

    assert store.delete_intervention("iv-b") is True
    assert store.delete_intervention("iv-b") is False
    assert [r.intervention_id for r in store.list_interventions()] == ["iv-c", "iv-a"]


def test_duplicate_id_is_refused(store: Store) -> None:
    store.add_intervention(record("dup"))
    with pytest.raises(StoreError, match="already stored"):
        store.add_intervention(record("dup", title="another"))
    assert store.get_intervention("dup").title == "Day of action: town centre"


def test_feature_collection_and_multipolygon_are_stored_as_one_geometry(store: Store) -> None:
    fc = {
        "type": "FeatureCollection",
        "features": [{"type": "Feature", "properties": {}, "geometry": SQUARE}],
    }
    got = store.add_intervention(record("fc", geometry=fc))
    assert got.geometry["type"] == "Polygon"
    assert shape(store.get_intervention("fc").geometry).equals(shape(SQUARE))


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"end_date": date(2022, 6, 14)}, "end_date", "on or after the start"),
        ({"kind": "knitting"}, "kind", "day-of-action"),
        ({"title": "  "}, "title", "characters"),
        ({"officer_hours": -3}, "officer_hours", "0 or more"),
        ({"officer_hours": float("nan")}, "officer_hours", "0 or more"),
        ({"start_date": "15/06/2022"}, "start_date", "YYYY-MM-DD"),
        ({"area_type": "postcode"}, "area_type", "polygon"),
        ({"area_type": "ward", "area_codes": []}, "area_codes", "one area code"),
        ({"area_type": "cells", "area_codes": ["zzz"]}, "area_codes[0]", "H3 cell"),
        ({"geometry": {"type": "Point", "coordinates": [0.37, 51.44]}}, "geometry", "Polygon"),
        ({"geometry": {"coordinates": []}}, "geometry", "'type'"),
        (
            {
                "geometry": {
                    "type": "Polygon",
                    "coordinates": [
                        [[564000, 174000], [565000, 174000], [565000, 175000], [564000, 174000]]
                    ],
                }
            },
            "geometry",
            "British National Grid",
        ),
        (
            {
                "geometry": {
                    "type": "Polygon",
                    "coordinates": [[[51.44, 0.37], [51.45, 0.37], [51.45, 0.38], [51.44, 0.37]]],
                }
            },
            "geometry",
            "swapped",
        ),
        (
            {
                "geometry": {
                    "type": "Polygon",
                    "coordinates": [
                        [[0.36, 51.44], [0.38, 51.45], [0.38, 51.44], [0.36, 51.45], [0.36, 51.44]]
                    ],
                }
            },
            "geometry",
            "Self-intersection",
        ),
    ],
)
def test_bad_records_name_the_field(store: Store, change: dict, field: str, words: str) -> None:
    with pytest.raises(InvalidIntervention, match=words) as info:
        store.add_intervention(record("bad", **change))
    assert info.value.field == field
    assert f"'{field}'" in str(info.value)
    assert isinstance(info.value, ValueError)
    assert store.get_intervention("bad") is None


def test_polygon_in_analysis_crs(store: Store) -> None:
    rec = store.add_intervention(record("m"))
    poly = intervention_polygon(rec, store.analysis_crs)
    x0, y0, x1, y1 = poly.bounds
    assert 564_000 < x0 < x1 < 566_000 and 173_000 < y0 < y1 < 175_000  # Gravesend, BNG metres
    # ~0.004° lon × 0.0025° lat at 51.44° N ≈ 278 m × 278 m
    assert poly.area == pytest.approx(278 * 278, rel=0.05)
    assert shapely.is_valid(poly)


@pytest.mark.postgis
def test_postgis_geom_column_matches(store_factory) -> None:
    store = store_factory.new("postgis")
    rec = store.add_intervention(record("g"))
    with store._conn() as conn:
        area, srid = conn.execute(
            "SELECT ST_Area(geom), ST_SRID(geom) FROM interventions WHERE intervention_id = 'g'"
        ).fetchone()
    assert srid == 27700
    assert area == pytest.approx(intervention_polygon(rec, "EPSG:27700").area, rel=1e-9)


def test_created_at_must_be_a_datetime(store: Store) -> None:
    with pytest.raises(ValueError, match="created_at"):
        store.add_intervention(record("t", created_at="yesterday"))  # type: ignore[arg-type]
    store.add_intervention(record("t", created_at=datetime(2024, 1, 1, tzinfo=UTC)))
    assert store.get_intervention("t").created_at == datetime(2024, 1, 1)
