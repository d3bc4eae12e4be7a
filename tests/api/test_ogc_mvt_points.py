"""Incident tiles on the embedded store (:func:`api.ogc.tiles.encode` for points): the
tile ``mapbox-vector-tile`` makes of the same features, byte for byte."""

from __future__ import annotations

import mapbox_vector_tile
import morecantile
import numpy as np
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from api.ogc.tiles import BUFFER, EXTENT, TMS, WEB_MERCATOR, encode
from geodata.crs import WGS84, transformer

TILE = morecantile.Tile(8150, 5450, 14)  # Gravesend
BOUNDS = tuple(TMS.xy_bounds(TILE))
VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**40), 2**40),
    st.floats(allow_nan=False, allow_infinity=False, width=64),
    st.text(max_size=8),
    st.lists(st.integers(), max_size=2),  # not a scalar: left out of the tile
)


def reference(features: list[dict]) -> bytes:
    """The tile as mapbox-vector-tile makes it from projected, clipped shapely points."""
    left, bottom, right, top = BOUNDS
    to_3857 = transformer(WGS84, WEB_MERCATOR)
    out = []
    for f in features:
        x, y = to_3857.transform(*f["geometry"]["coordinates"])
        tx = (x - left) * EXTENT / (right - left)
        ty = (y - bottom) * EXTENT / (top - bottom)
        g = shapely.clip_by_rect(shapely.Point(tx, ty), -BUFFER, -BUFFER,
                                 EXTENT + BUFFER, EXTENT + BUFFER)  # fmt: skip
        if g.is_empty:
            continue
        props = {k: v for k, v in f["properties"].items()
                 if isinstance(v, str | int | float | bool)}  # fmt: skip
        props["id"] = str(f["id"])
        out.append({"geometry": g, "properties": props})
    if not out:
        return b""
    return mapbox_vector_tile.encode(
        [{"name": "incidents", "features": out}], default_options={"extents": EXTENT}
    )


def lonlat(fx: float, fy: float) -> list[float]:
    """The point at fraction ``fx``, ``fy`` of the tile (beyond 0-1: outside it)."""
    left, bottom, right, top = BOUNDS
    x, y = left + fx * (right - left), bottom + fy * (top - bottom)
    lon, lat = transformer(WEB_MERCATOR, WGS84).transform(x, y)
    return [float(lon), float(lat)]


FRACTION = st.one_of(st.floats(-0.1, 1.1), st.sampled_from([0.0, 1.0, 0.5, -BUFFER / EXTENT]))


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(FRACTION, FRACTION, st.dictionaries(st.sampled_from("abcd"), VALUES)),
        max_size=25,
    )
)
def test_point_tiles_are_those_of_mapbox_vector_tile(points):
    features = [
        {"type": "Feature", "id": f"b#{i}",
         "geometry": {"type": "Point", "coordinates": lonlat(fx, fy)}, "properties": props}
        for i, (fx, fy, props) in enumerate(points)
    ]  # fmt: skip
    assert encode(features, "incidents", BOUNDS) == reference(features)


def test_a_real_tile_of_incidents_decodes_to_its_points():
    rng = np.random.default_rng(3)
    features = [
        {"type": "Feature", "id": f"police-uk/kent-police/2024-01#{i}",
         "geometry": {"type": "Point", "coordinates": lonlat(*rng.uniform(-0.05, 1.05, 2))},
         "properties": {"category": "violent-crime", "location": f"On or near Street {i % 7}",
                        "occurred_at": "2024-01-01T00:00:00", "sensitive": bool(i % 2)}}
        for i in range(300)
    ]  # fmt: skip
    data = encode(features, "incidents", BOUNDS)
    assert data == reference(features)
    layer = mapbox_vector_tile.decode(data)["incidents"]
    assert 250 < len(layer["features"]) < 300  # those beyond the buffer are left out
    assert {f["properties"]["category"] for f in layer["features"]} == {"violent-crime"}
