"""Coordinate reference systems: transforms and detection of what a file holds.

Distances are always metres in the *analysis CRS* (EPSG:27700, British National
Grid, unless configured otherwise). Degrees appear only at the edges, in
``lon``/``lat`` order (``always_xy``).
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np

from .errors import ConfigurationError

if TYPE_CHECKING:  # pyproj is imported when a CRS is first needed (quick CLI start)
    from pyproj import Transformer

WGS84 = "EPSG:4326"
BNG = "EPSG:27700"

#: A generous lon/lat box round the United Kingdom (incl. Northern Ireland, Shetland).
UK_BOUNDS_LONLAT = (-8.75, 49.8, 1.9, 60.95)
#: British National Grid's valid easting / northing range.
BNG_BOUNDS = (0.0, 0.0, 700_000.0, 1_300_000.0)


def check_crs(crs: str) -> str:
    """Return ``crs`` normalised to ``AUTHORITY:CODE``; refuse geographic CRSs for analysis."""
    from pyproj import CRS
    from pyproj.exceptions import CRSError

    try:
        parsed = CRS.from_user_input(crs)
    except CRSError as exc:
        raise ConfigurationError(
            f"analysis CRS {crs!r} is not a CRS pyproj knows; expected e.g. 'EPSG:27700'"
        ) from exc
    if not parsed.is_projected:
        raise ConfigurationError(
            f"analysis CRS {crs!r} is geographic (degrees); distances need a projected CRS "
            "in metres such as EPSG:27700"
        )
    auth = parsed.to_authority()
    return f"{auth[0]}:{auth[1]}" if auth else parsed.to_string()


def srid(crs: str) -> int:
    """The EPSG code of ``crs`` as an integer (for PostGIS)."""
    from pyproj import CRS

    auth = CRS.from_user_input(crs).to_authority()
    if not auth or auth[0] != "EPSG":
        raise ConfigurationError(f"CRS {crs!r} has no EPSG code; PostGIS needs one")
    return int(auth[1])


@lru_cache(maxsize=32)
def transformer(src: str, dst: str) -> Transformer:
    """A cached ``always_xy`` transformer (x/lon first, y/lat second)."""
    from pyproj import Transformer

    return Transformer.from_crs(src, dst, always_xy=True)


def lonlat_to_xy(lon: np.ndarray, lat: np.ndarray, crs: str) -> tuple[np.ndarray, np.ndarray]:
    """WGS84 lon/lat → metres in ``crs``."""
    x, y = transformer(WGS84, crs).transform(np.asarray(lon, float), np.asarray(lat, float))
    return np.asarray(x), np.asarray(y)


def xy_to_lonlat(x: np.ndarray, y: np.ndarray, crs: str) -> tuple[np.ndarray, np.ndarray]:
    """Metres in ``crs`` → WGS84 lon/lat."""
    lon, lat = transformer(crs, WGS84).transform(np.asarray(x, float), np.asarray(y, float))
    return np.asarray(lon), np.asarray(lat)


def _share(mask: np.ndarray, valid: np.ndarray) -> float:
    n = int(valid.sum())
    return float((mask & valid).sum()) / n if n else 0.0


def detect_pair_kind(a: np.ndarray, b: np.ndarray, threshold: float = 0.9) -> str:
    """Say what a pair of coordinate columns holds, from their values.

    ``a`` is the column meant as x (longitude / easting) and ``b`` the one meant
    as y (latitude / northing). Returns ``"lonlat"``, ``"latlon"`` (the two
    columns are swapped), ``"bng"`` (British National Grid metres) or
    ``"unknown"``, judged on the share of rows with both values present.

    >>> import numpy as np
    >>> detect_pair_kind(np.array([0.37]), np.array([51.44]))
    'lonlat'
    >>> detect_pair_kind(np.array([51.44]), np.array([0.37]))
    'latlon'
    >>> detect_pair_kind(np.array([564800.0]), np.array([174200.0]))
    'bng'
    """
    a = np.asarray(a, float)
    b = np.asarray(b, float)
    valid = np.isfinite(a) & np.isfinite(b)
    if not valid.any():
        return "unknown"
    x0, y0, x1, y1 = UK_BOUNDS_LONLAT
    lonlat = (a >= x0) & (a <= x1) & (b >= y0) & (b <= y1)
    latlon = (b >= x0) & (b <= x1) & (a >= y0) & (a <= y1)
    e0, n0, e1, n1 = BNG_BOUNDS
    bng = (a >= e0) & (a <= e1) & (b >= n0) & (b <= n1) & ((a > 1000) | (b > 1000))
    for kind, mask in (("lonlat", lonlat), ("latlon", latlon), ("bng", bng)):
        if _share(mask, valid) >= threshold:
            return kind
    return "unknown"


def inside_uk(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Boolean mask: lon/lat inside the UK box."""
    x0, y0, x1, y1 = UK_BOUNDS_LONLAT
    return (lon >= x0) & (lon <= x1) & (lat >= y0) & (lat <= y1)
