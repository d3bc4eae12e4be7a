"""Generalised hotspot outlines and distinct places: what a hotspot looks like below analyst.

A density cluster's exact outline is a buffered hull round its outer incidents,
and a kernel-density contour is drawn round the incidents that raise it: both
can be traced back to incident positions (fit a circle through three vertices
of an arc and its centre is an incident). Roles below analyst therefore see a
hotspot as the union of the H3 cells (resolution :data:`OUTLINE_RES`, cells
about 350 m across) that hold its incidents: every vertex is an H3 vertex, a
fixed lattice that knows nothing of where in the cell an incident lies.

``distinct_places`` counts the distinct coordinates a hotspot's incidents sit
on, for the single-place rule (a hotspot on fewer than a few places is a map
of those places, whatever its outline).

Examples
--------
>>> import numpy as np
>>> lat = np.array([51.4412, 51.4412, 51.4430, 51.50])
>>> lng = np.array([0.3700, 0.3700, 0.3720, 0.40])
>>> hs_of = np.array([0, 0, 0, -1])
>>> distinct_places(lat, lng, hs_of, 1).tolist()
[2]
>>> outlines = cell_outlines(lat, lng, hs_of, 1)
>>> outlines[0].geom_type in ("Polygon", "MultiPolygon")
True
"""

from __future__ import annotations

import numpy as np
import shapely
from h3.api import basic_int as h3i

from .grid import _point_ids
from .uniq import unique, unique_inverse, unique_pairs

#: H3 resolution of generalised outlines (≈ 0.1 km² cells, edge ≈ 175 m)
OUTLINE_RES = 9


def distinct_places(lat, lng, hs_of: np.ndarray, n: int) -> np.ndarray:
    """How many distinct (lat, lng) coordinates the incidents of each of ``n`` hotspots
    sit on; ``hs_of`` gives each incident's hotspot (0..n-1) or -1 (in none)."""
    hs_of = np.asarray(hs_of, dtype=np.int64)
    inside = hs_of >= 0
    if not inside.any():
        return np.zeros(n, dtype=np.int64)
    lat = np.asarray(lat, dtype=float)[inside]
    lng = np.asarray(lng, dtype=float)[inside]
    _, place = unique_pairs(lat, lng)
    pairs = unique(hs_of[inside] * (int(place.max()) + 1) + place)
    return np.bincount(pairs // (int(place.max()) + 1), minlength=n).astype(np.int64)


def _cell_polygons(ids: np.ndarray) -> np.ndarray:
    """Shapely polygons (lon, lat) of H3 cells given as int64 ids."""
    boundaries = [h3i.cell_to_boundary(int(c)) for c in ids.tolist()]
    lengths = np.fromiter((len(b) for b in boundaries), dtype=np.int64, count=len(boundaries))
    latlng = np.array([p for b in boundaries for p in b], dtype=float).reshape(-1, 2)
    indices = np.repeat(np.arange(lengths.size), lengths)
    return shapely.polygons(shapely.linearrings(latlng[:, ::-1], indices=indices))


def cell_outlines(lat, lng, hs_of: np.ndarray, n: int, res: int = OUTLINE_RES) -> np.ndarray:
    """For each of ``n`` hotspots, the union (WGS84 lon/lat) of the H3 cells at ``res`` that
    hold its incidents; ``None`` for a hotspot with no incidents.

    Cells are computed once per distinct coordinate; the loop is over hotspots,
    not incidents.
    """
    hs_of = np.asarray(hs_of, dtype=np.int64)
    out = np.full(n, None, dtype=object)
    inside = hs_of >= 0
    if not inside.any():
        return out
    cells = _point_ids(np.asarray(lat)[inside], np.asarray(lng)[inside], res)
    ok = cells >= 0
    if not ok.any():
        return out
    # (hotspot, cell) pairs as one integer each: hotspot × cells + the cell's rank
    unique_cells, rank = unique_inverse(cells[ok])
    pairs = unique(hs_of[inside][ok] * unique_cells.size + rank)
    hs, cell_index = np.divmod(pairs, unique_cells.size)
    polygons = _cell_polygons(unique_cells)
    starts = np.searchsorted(hs, np.arange(n + 1))
    for h in range(n):
        members = cell_index[starts[h] : starts[h + 1]]
        if len(members):
            out[h] = shapely.coverage_union_all(polygons[members])
    return out


__all__ = ["OUTLINE_RES", "cell_outlines", "distinct_places"]
