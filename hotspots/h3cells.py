"""H3 cells as arrays: ids and their hex names, points to cells, cells to hexagons.

Every function takes and returns whole arrays (NumPy, or h3ronpy's vectorised calls):
no Python loop over points or cells. Ids are int64 (H3's 64 bits, top bit 0); names
are the 15 lower-case hex digits h3-py writes.

Examples
--------
>>> import numpy as np
>>> ids = cells_of(np.array([51.4412]), np.array([0.37]), 9)
>>> _to_str(ids).tolist() == [format(int(ids[0]), "x")]
True
>>> bool(_to_ids(_to_str(ids))[0] == ids[0])
True
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import shapely
from h3ronpy import vector as h3vector

#: the 15 hex digits of an H3 id (bits 59–0; bits 63–60 are 0), most significant first
_NIBBLES = np.arange(56, -4, -4, dtype=np.uint64)
_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)


def _to_str(ids: np.ndarray) -> np.ndarray:
    """H3 ids (int64) as their 15-digit lower-case hex names, all at once."""
    ids = np.asarray(ids, dtype=np.int64).astype(np.uint64)
    digits = _HEX[(ids[:, None] >> _NIBBLES) & np.uint64(15)]
    return np.ascontiguousarray(digits).view("S15").ravel().astype("<U15")


def _to_ids(names) -> np.ndarray:
    """15-digit hex H3 names as int64 ids, all at once (:func:`_to_str` reversed)."""
    names = np.asarray(names, dtype="<U15")
    code = names.view(np.uint32).reshape(names.size, 15).astype(np.int64)
    value = np.where(code >= ord("a"), code - (ord("a") - 10), code - ord("0"))
    if names.size and not (
        np.all((value >= 0) & (value < 16) & ((code <= ord("9")) | (code >= ord("a"))))
    ):
        return np.array([int(str(c), 16) for c in names], dtype=np.int64)  # not all 15 hex
    return (value.astype(np.uint64) << _NIBBLES).sum(axis=1, dtype=np.uint64).astype(np.int64)


def _arrow_ints(values) -> np.ndarray:
    """H3 ids from an Arrow array (uint64, no nulls) as int64."""
    return np.asarray(pa.array(values)).astype(np.int64)


def _checked(lat, lng) -> tuple[np.ndarray, np.ndarray]:
    lat = np.asarray(lat, dtype=float).ravel()
    lng = np.asarray(lng, dtype=float).ravel()
    if lat.shape != lng.shape:
        raise ValueError(f"lat and lng: expected equal lengths, got {lat.size} and {lng.size}")
    ok = np.isfinite(lat) & np.isfinite(lng)
    if np.any(np.abs(lat[ok]) > 90) or np.any(np.abs(lng[ok]) > 180):
        raise ValueError(
            "lat/lng: expected WGS84 degrees (|lat| ≤ 90, |lng| ≤ 180), got values up to "
            f"lat {np.abs(lat[ok]).max():.1f}, lng {np.abs(lng[ok]).max():.1f}"
        )
    return lat, lng


def cells_of(lat, lng, res: int) -> np.ndarray:
    """H3 ids (int64) of each point, -1 where a coordinate is not finite: every point
    indexed (``hotspots.grid`` indexes distinct points only, then maps back)."""
    lat, lng = _checked(lat, lng)
    out = np.full(lat.size, -1, dtype=np.int64)
    ok = np.isfinite(lat) & np.isfinite(lng)
    # h3ronpy indexes a whole array at once (the same cells as h3-py's latlng_to_cell)
    out[ok] = _arrow_ints(h3vector.coordinates_to_cells(lat[ok], lng[ok], res))
    return out


def cell_polygons(ids: np.ndarray) -> np.ndarray:
    """Shapely hexagons (lon, lat) of H3 cells given as int64 ids, all at once (h3ronpy:
    h3-py's ``cell_to_boundary`` vertices, closed ring)."""
    if not len(ids):
        return np.empty(0, dtype=object)
    wkb = pa.array(h3vector.cells_to_wkb_polygons(pa.array(np.asarray(ids).astype(np.uint64))))
    return shapely.from_wkb(wkb.to_numpy(zero_copy_only=False))


__all__ = ["cell_polygons", "cells_of"]
