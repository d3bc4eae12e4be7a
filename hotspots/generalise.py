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

Both start from :func:`places_of`: the distinct coordinates of the incidents in
hotspots, found once (one hash pass over the coordinates) for every count and outline.

Examples
--------
>>> import numpy as np
>>> lat = np.array([51.4412, 51.4412, 51.4430, 51.50])
>>> lng = np.array([0.3700, 0.3700, 0.3720, 0.40])
>>> places = places_of(lat, lng, np.array([0, 0, 0, -1]))
>>> distinct_places(places, 1).tolist()
[2]
>>> outlines = cell_outlines(places, 1)
>>> outlines[0].geom_type in ("Polygon", "MultiPolygon")
True
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely

from .h3cells import cell_polygons, cells_of
from .uniq import first_seen_pairs, unique, unique_inverse

#: H3 resolution of generalised outlines (≈ 0.1 km² cells, edge ≈ 175 m)
OUTLINE_RES = 9


@dataclass(frozen=True)
class Places:
    """The incidents that are in a hotspot, and the distinct coordinates they sit on.

    ``hs``: each such incident's hotspot; ``place``: its coordinate's position in
    ``lat``/``lng`` (the distinct coordinates, in order of first appearance); ``rows``:
    its row in the input.
    """

    hs: np.ndarray
    place: np.ndarray
    lat: np.ndarray
    lng: np.ndarray
    rows: np.ndarray


def places_of(lat, lng, hs_of: np.ndarray) -> Places:
    """:class:`Places` of the incidents with ``hs_of`` ≥ 0 (their hotspot, 0..n-1)."""
    hs_of = np.asarray(hs_of, dtype=np.int64)
    rows = np.flatnonzero(hs_of >= 0)
    lat, lng = np.asarray(lat, float)[rows], np.asarray(lng, float)[rows]
    first, place = first_seen_pairs(lat, lng)
    return Places(hs_of[rows], place, lat[first], lng[first], rows)


def distinct_places(places: Places, n: int, among: np.ndarray | None = None) -> np.ndarray:
    """How many distinct coordinates the incidents of each of ``n`` hotspots sit on;
    ``among`` (a boolean per input row) counts only the incidents it marks."""
    hs, place = places.hs, places.place
    if among is not None:
        keep = np.asarray(among, bool)[places.rows]
        hs, place = hs[keep], place[keep]
    width = max(places.lat.size, 1)
    pairs = unique(hs * width + place)
    return np.bincount(pairs // width, minlength=n).astype(np.int64)


def cell_outlines(places: Places, n: int, res: int = OUTLINE_RES) -> np.ndarray:
    """For each of ``n`` hotspots, the union (WGS84 lon/lat) of the H3 cells at ``res`` that
    hold its incidents; ``None`` for a hotspot with no incidents.

    Cells are computed once per distinct coordinate, and drawn once per cell; the loop
    is over hotspots, not incidents.
    """
    out = np.full(n, None, dtype=object)
    cells = cells_of(places.lat, places.lng, res)[places.place]
    ok = cells >= 0
    if not ok.any():
        return out
    # (hotspot, cell) pairs as one integer each: hotspot × cells + the cell's rank
    unique_cells, rank = unique_inverse(cells[ok])
    pairs = unique(places.hs[ok] * unique_cells.size + rank)
    hs, cell_index = np.divmod(pairs, unique_cells.size)
    polygons = cell_polygons(unique_cells)
    starts = np.searchsorted(hs, np.arange(n + 1))
    for h in range(n):
        members = cell_index[starts[h] : starts[h + 1]]
        if len(members):
            out[h] = shapely.coverage_union_all(polygons[members])
    return out


__all__ = ["OUTLINE_RES", "Places", "cell_outlines", "distinct_places", "places_of"]
