"""OGC API – Features Part 2 (CRS by reference): ``crs`` and ``bbox-crs``.

Two CRSs are offered: CRS84 (WGS84 longitude, latitude; the default) and
EPSG:27700 (British National Grid eastings, northings in metres). Incidents
are written in EPSG:27700 from the stored ``x``/``y`` when the store's analysis
CRS is British National Grid, so GIS clients get exactly the store's metres.
"""

from __future__ import annotations

import re

import numpy as np
import shapely
from shapely.geometry import mapping, shape

from geodata.crs import BNG, WGS84, transformer

from ..filters import invalid
from ..params import BBOX46

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
BNG_URI = "http://www.opengis.net/def/crs/EPSG/0/27700"
#: the CRSs offered, by URI, and the ``AUTHORITY:CODE`` pyproj knows them by
SUPPORTED = {CRS84: WGS84, BNG_URI: BNG}
CRS_HELP = f"one of {CRS84} or {BNG_URI}"
BBOX_HELP = (
    "minX,minY,maxX,maxY (or 6 numbers with heights) in bbox-crs: CRS84 degrees "
    "(longitude, latitude) by default, or EPSG:27700 metres"
)
_ALIASES = {
    "crs84": CRS84,
    "ogc:crs84": CRS84,
    "[ogc:crs84]": CRS84,
    "epsg:27700": BNG_URI,
    "[epsg:27700]": BNG_URI,
}
#: every spelling accepted (the URIs over http or https; short forms in upper or lower
#: case), published as the parameters' enum
CRS_NAMES = sorted(
    {*SUPPORTED, *(u.replace("http://", "https://", 1) for u in SUPPORTED)}
    | {*_ALIASES, *(a.upper() for a in _ALIASES)}
)


def parse_crs(value: str | None, param: str) -> str:
    """The URI of the CRS named by query parameter ``param`` (CRS84 when absent).

    Accepts the OGC URIs (http or https) and the ``EPSG:27700`` / ``[EPSG:27700]``
    short forms; anything else is a 422 naming ``param``.
    """
    if value is None:
        return CRS84
    if value not in CRS_NAMES:
        raise invalid(param, CRS_HELP, value)
    uri = value.replace("https://", "http://", 1)
    return uri if uri in SUPPORTED else _ALIASES[value.lower()]


def parse_bbox(text: str | None, crs: str) -> tuple[float, float, float, float] | None:
    """The ``bbox`` parameter as (minX, minY, maxX, maxY) in ``crs`` (heights dropped)."""
    if text is None:
        return None
    if not re.fullmatch(BBOX46, text):
        raise invalid("bbox", BBOX_HELP + " (decimal numbers)", text)
    v = [float(p) for p in text.split(",")]
    if len(v) == 6:
        v = [v[0], v[1], v[3], v[4]]
    rule = "invalid-bbox"  # a rule the schema cannot state (api.params.CROSS_FIELD_RULES)
    if v[0] > v[2] or v[1] > v[3]:
        raise invalid("bbox", BBOX_HELP + " with min <= max", text, type=rule)
    if crs == CRS84 and not (v[0] >= -180 and v[2] <= 180 and v[1] >= -90 and v[3] <= 90):
        raise invalid("bbox", BBOX_HELP + " within lon -180..180 and lat -90..90", text, type=rule)
    if crs != CRS84 and not all(abs(x) <= 1e8 for x in v):
        raise invalid("bbox", BBOX_HELP + " within ±100,000 km", text, type=rule)
    return (v[0], v[1], v[2], v[3])


def box_in_crs84(bbox: tuple[float, float, float, float], crs: str) -> shapely.Polygon:
    """The bbox as a CRS84 polygon (edges densified, so a projected box stays exact)."""
    box = shapely.box(*bbox)
    if crs == CRS84:
        return box
    step = max(bbox[2] - bbox[0], bbox[3] - bbox[1], 1.0) / 64
    return _transform(shapely.segmentize(box, step), SUPPORTED[crs], WGS84)


def lonlat_bbox(bbox: tuple[float, float, float, float], crs: str) -> tuple[float, ...]:
    """Bounds in CRS84 degrees of a bbox given in ``crs``."""
    return tuple(float(v) for v in box_in_crs84(bbox, crs).bounds)


def _transform(geom, src: str, dst: str):
    t = transformer(src, dst)

    def apply(coords: np.ndarray) -> np.ndarray:
        x, y = t.transform(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    return shapely.transform(geom, apply)


def features_to_crs(features: list[dict], crs: str) -> list[dict]:
    """GeoJSON features (CRS84) with their geometries in ``crs`` (new dicts)."""
    if crs == CRS84 or not features:
        return features
    geoms = [shape(f["geometry"]) if f.get("geometry") else None for f in features]
    present = [g for g in geoms if g is not None]
    moved = iter(_transform(np.array(present, dtype=object), WGS84, SUPPORTED[crs]))
    return [
        {**f, "geometry": mapping(next(moved)) if g is not None else None}
        for f, g in zip(features, geoms, strict=True)
    ]


def points_in_crs(lon: np.ndarray, lat: np.ndarray, crs: str) -> tuple[np.ndarray, np.ndarray]:
    """Longitudes and latitudes as coordinates in ``crs``."""
    if crs == CRS84:
        return lon, lat
    return transformer(WGS84, SUPPORTED[crs]).transform(lon, lat)


def content_crs(crs: str) -> dict:
    """The ``Content-Crs`` header naming the CRS of the coordinates answered."""
    return {"Content-Crs": f"<{crs}>"}
