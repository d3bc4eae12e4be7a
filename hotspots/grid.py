"""H3 hexagon grids over a study area: cells, counts per cell and month, adjacency.

Gi* and Emerging Hot Spot Analysis compare every cell with its neighbours, so
the grid must contain the *empty* cells of the study area as well as those
with incidents: a hotspot is a cell whose neighbourhood holds more than the
area's average, and that average counts the zeros.

Axis order: shapely geometries and GeoDataFrames are (lon, lat) as GeoJSON;
H3 takes (lat, lng). Functions here take the names in the order their
signature says (``assign_cells(lat, lng, res)``, ``area_lonlat``) and convert.

Resolutions 7–10 are accepted (mean edge ≈ 1,406 m, 531 m, 201 m, 76 m; a
cell is ≈ 5.2 km², 0.74 km², 0.105 km², 0.015 km²). Coarser cells swallow
whole neighbourhoods; finer ones leave most cells with zero or one incident.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import geopandas as gpd
import h3
import h3ronpy
import numpy as np
import pandas as pd
import pyarrow as pa
import shapely
from h3.api import basic_int as h3i
from scipy import sparse

from geodata.crs import lonlat_to_xy
from geodata.errors import HotspotsError

from .h3cells import _arrow_ints, _checked, _to_ids, _to_str, cell_polygons, cells_of
from .temporal import month_keys, month_positions
from .uniq import first_seen_pairs, unique, unique_inverse

MIN_RES, MAX_RES = 7, 10
EDGE_M = {res: h3.average_hexagon_edge_length(res, unit="m") for res in range(MIN_RES, MAX_RES + 1)}


class InvalidResolution(HotspotsError, ValueError):
    """An H3 resolution outside the range this product supports (7–10)."""

    status = 422
    type = "invalid-resolution"


def validate_resolution(res: object) -> int:
    """Return ``res`` as an int, or raise :class:`InvalidResolution` if it is not 7–10."""
    if (
        isinstance(res, bool)
        or not isinstance(res, int | np.integer)
        or not (MIN_RES <= int(res) <= MAX_RES)
    ):
        sizes = ", ".join(f"{r}: ≈{EDGE_M[r]:,.0f} m" for r in EDGE_M)
        raise InvalidResolution(
            f"H3 resolution: expected an integer 7–10 (mean edge length {sizes}), got {res!r}"
        )
    return int(res)


# --------------------------------------------------------------------------- cells


def _loop_latlng(ring) -> list[tuple[float, float]]:
    """A shapely ring (lon, lat) as H3's list of (lat, lng)."""
    return [(float(lat), float(lon)) for lon, lat, *_ in ring.coords]


def _h3shape(area_lonlat) -> h3.H3Shape:
    if isinstance(area_lonlat, shapely.Polygon):
        polys = [area_lonlat]
    elif isinstance(area_lonlat, shapely.MultiPolygon):
        polys = list(area_lonlat.geoms)
    else:
        raise TypeError(
            f"area_lonlat: expected a shapely Polygon or MultiPolygon, got {type(area_lonlat)!r}"
        )
    minx, miny, maxx, maxy = area_lonlat.bounds
    if not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
        raise ValueError(
            "area_lonlat: expected WGS84 longitude/latitude, got bounds "
            f"{(minx, miny, maxx, maxy)} (projected coordinates, e.g. EPSG:27700?)"
        )
    shapes = [
        h3.LatLngPoly(_loop_latlng(p.exterior), *(_loop_latlng(r) for r in p.interiors))
        for p in polys
        if not p.is_empty
    ]
    return shapes[0] if len(shapes) == 1 else h3.LatLngMultiPoly(*shapes)


def _area_ids(area_lonlat, res: int) -> np.ndarray:
    if area_lonlat is None or area_lonlat.is_empty:
        return np.empty(0, np.int64)
    shape = _h3shape(area_lonlat)
    if isinstance(shape, h3.LatLngMultiPoly) and len(shape) == 0:
        return np.empty(0, np.int64)
    return np.unique(np.array(h3i.h3shape_to_cells(shape, res), dtype=np.int64))


def cells_for_area(area_lonlat: shapely.Polygon | shapely.MultiPolygon, res: int) -> np.ndarray:
    """Every H3 cell at ``res`` whose centre lies in the area, sorted.

    Parameters
    ----------
    area_lonlat : Polygon or MultiPolygon in WGS84, coordinates (lon, lat)
        as in GeoJSON and shapely; holes are respected. They are swapped to
        H3's (lat, lng) before ``h3.h3shape_to_cells`` (centre containment).
    res : H3 resolution, 7–10.

    Returns
    -------
    numpy.ndarray of str
        H3 ids (15 hex digits). Cells that hold incidents but whose centre is
        outside the area are not included: :func:`build_grid` adds them.
    """
    res = validate_resolution(res)
    return _to_str(_area_ids(area_lonlat, res))


def _point_ids(lat, lng, res: int) -> np.ndarray:
    """H3 ids (int64) of points, computed once per distinct coordinate; -1 where not finite."""
    lat, lng = _checked(lat, lng)
    # police.uk snaps points to a few thousand map points: index distinct pairs only
    first, inverse = first_seen_pairs(lat, lng)
    return cells_of(lat[first], lng[first], res)[inverse]


def assign_cells(lat, lng, res: int) -> np.ndarray:
    """The H3 cell of each point, as strings; ``""`` where a coordinate is missing.

    Computed once per distinct (lat, lng) pair and mapped back, so 1M police.uk
    points (which repeat: they are snapped to map points) take well under a
    second.

    Parameters
    ----------
    lat, lng : array-like of WGS84 degrees, same length (note the order).
    res : H3 resolution, 7–10.
    """
    res = validate_resolution(res)
    ids = _point_ids(lat, lng, res)
    uniq, inverse = unique_inverse(ids)
    names = _to_str(uniq)
    names[uniq < 0] = ""
    return names[inverse]


# --------------------------------------------------------------------------- grid


@dataclass(eq=False)
class Grid:
    """Counts and harm per H3 cell of a study area, in total and per month.

    Attributes
    ----------
    res : H3 resolution.
    cells : H3 ids, sorted; the empty cells of the area are included.
    count, harm : incidents and harm per cell (float arrays aligned with ``cells``).
    months : ``YYYY-MM`` columns of the monthly arrays, sorted.
    monthly_count, monthly_harm : cells × months. A listed month with no
        incident in a cell is 0; months with no data at all are simply not
        listed (see :func:`hotspots.emerging.emerging_hotspots`). ``None`` when the
        grid was built with ``monthly=False``.
    cell_names : H3 id of each input row (``""`` if it has no coordinates), or ``None``:
        made from ``cell_index`` when :attr:`cell_of_incident` is first read (a 1M-row
        array of strings the analysis itself never reads).
    n_unlocated : rows without finite coordinates (not counted anywhere).
    cell_index : position in ``cells`` of each input row (-1 without coordinates);
        ``None`` when the grid was built without incidents.
    """

    res: int
    cells: np.ndarray
    count: np.ndarray
    harm: np.ndarray
    months: list[str]
    monthly_count: np.ndarray | None
    monthly_harm: np.ndarray | None
    cell_names: np.ndarray | None
    n_unlocated: int = 0
    cell_index: np.ndarray | None = None
    _ids: np.ndarray = field(init=False, repr=False)  # int64 ids, sorted like cells

    def __post_init__(self) -> None:
        self._ids = _to_ids(self.cells)

    @property
    def ids(self) -> np.ndarray:
        """The cells as int64 H3 ids, sorted (aligned with ``cells``)."""
        return self._ids

    @property
    def cell_of_incident(self) -> np.ndarray:
        """H3 id of each input row (``""`` if it has no coordinates)."""
        if self.cell_names is None:
            index = np.full(0, -1) if self.cell_index is None else self.cell_index
            names = np.full(index.size, "", dtype="<U15")
            names[index >= 0] = self.cells[index[index >= 0]]
            self.cell_names = names
        return self.cell_names

    def neighbours(self, k: int = 1) -> sparse.csr_matrix:
        """Binary adjacency: cells within ``k`` grid steps of each other, self included.

        Restricted to the grid's cells (a cell at the edge of the area has
        fewer neighbours). The diagonal is 1, as Gi* needs. Rows and columns
        follow ``cells``.
        """
        if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
            raise ValueError(f"k: expected a whole number of grid steps ≥ 1, got {k!r}")
        n = self._ids.size
        # every k-ring at once (h3ronpy; the same cells as h3-py's grid_disk per cell)
        disks = pa.array(h3ronpy.grid_disk(pa.array(self._ids.astype(np.uint64)), int(k)))
        lengths = np.diff(np.asarray(disks.offsets))
        cols_ids = _arrow_ints(disks.values)
        rows = np.repeat(np.arange(n), lengths)
        pos = np.searchsorted(self._ids, cols_ids)
        pos[pos == n] = 0
        keep = self._ids[pos] == cols_ids
        data = np.ones(int(keep.sum()))
        W = sparse.csr_matrix((data, (rows[keep], pos[keep])), shape=(n, n))
        W.sort_indices()
        return W

    def to_geodataframe(self, crs: str | None = None, rows=None) -> gpd.GeoDataFrame:
        """One hexagon per cell with ``cell``, ``count`` and ``harm``: in EPSG:4326, or in
        ``crs``. ``rows`` (positions): only these cells get their polygon, the others
        ``None`` (a 5M-incident grid has 1.5M cells, their polygons 0.3 GB: an analysis
        draws only its hot cells)."""
        at = np.arange(self._ids.size) if rows is None else np.asarray(rows, dtype=np.int64)
        return gpd.GeoDataFrame(
            {"cell": self.cells, "count": self.count, "harm": self.harm},
            geometry=self.drawn(at, crs),
            crs=crs or "EPSG:4326",
        )

    def drawn(self, rows: np.ndarray, crs: str | None = None) -> np.ndarray:
        """One entry per cell: the hexagon of the cells at ``rows``, ``None`` elsewhere."""
        geometry = np.full(self._ids.size, None, dtype=object)
        geometry[rows] = self.polygons(rows, crs)
        return geometry

    def polygons(self, rows: np.ndarray, crs: str | None = None) -> np.ndarray:
        """The hexagons of the cells at ``rows``, in EPSG:4326 or ``crs`` (the vertices
        projected, the rings kept: the same numbers as ``.to_crs(crs)``)."""
        if not len(rows):
            return np.empty(0, dtype=object)
        geometry = cell_polygons(self._ids[rows])
        if crs is not None:
            lonlat = shapely.get_coordinates(geometry)
            x, y = lonlat_to_xy(lonlat[:, 0], lonlat[:, 1], crs)
            geometry = shapely.set_coordinates(geometry, np.c_[x, y])
        return geometry


def build_grid(
    incidents: pd.DataFrame,
    res: int = 9,
    area_lonlat: shapely.Polygon | shapely.MultiPolygon | None = None,
    months: list[str] | None = None,
    monthly: bool = True,
) -> Grid:
    """Aggregate incidents to H3 cells covering the study area, empty cells included.

    Parameters
    ----------
    incidents : DataFrame with ``lat``, ``lon`` (WGS84), ``occurred_at``
        (datetime) and optionally ``harm`` (float; 1 per incident if absent).
    res : H3 resolution, 7–10 (:class:`InvalidResolution` otherwise).
    area_lonlat : study area, (lon, lat). Every cell whose centre lies in it
        is in the grid, with zeros where nothing happened. ``None``: the
        convex hull of the incidents stands in for the area. Incidents in
        cells outside the area are still counted: their cells are added.
    months : ``YYYY-MM`` months with data in the window (columns of the
        monthly arrays). Default: the months present in ``incidents``.
        Incidents of unlisted months count in ``count``/``harm`` only.
    monthly : build ``monthly_count`` and ``monthly_harm`` (cells × months; 0.3 GB for
        a 5M-incident grid). ``False``: they are ``None`` (Gi* needs only the totals).

    Returns
    -------
    Grid
        ``count.sum()`` equals the number of incidents with coordinates.
    """
    res = validate_resolution(res)
    missing = {"lat", "lon", "occurred_at"} - set(incidents.columns)
    if missing:
        raise ValueError(f"incidents: expected columns lat, lon, occurred_at; missing {missing}")
    point_ids = _point_ids(incidents["lat"].to_numpy(), incidents["lon"].to_numpy(), res)
    located = point_ids >= 0
    if area_lonlat is None and located.any():
        lon, lat = incidents["lon"].to_numpy()[located], incidents["lat"].to_numpy()[located]
        area_lonlat = shapely.MultiPoint(np.c_[lon, lat]).convex_hull
        if not isinstance(area_lonlat, shapely.Polygon):
            area_lonlat = None  # one point or a line: no area to fill
    ids = unique(np.concatenate([_area_ids(area_lonlat, res), point_ids[located]]))
    n = ids.size
    pos = np.searchsorted(ids, point_ids[located])
    harm = (
        incidents["harm"].to_numpy(dtype=float) if "harm" in incidents else np.ones(len(incidents))
    )[located]

    at = np.asarray(incidents["occurred_at"], "datetime64[us]")[located]
    months = sorted(set(month_keys(at).tolist())) if months is None else sorted(set(months))
    monthly_count = monthly_harm = None
    if monthly:
        col = month_positions(at, months)
        in_months = col >= 0
        flat = pos[in_months] * len(months) + col[in_months]
        size = n * len(months)
        monthly_count = np.bincount(flat, minlength=size).astype(float).reshape(n, len(months))
        monthly_harm = np.bincount(flat, weights=harm[in_months], minlength=size).reshape(
            n, len(months)
        )
    names = _to_str(ids)
    cell_index = np.full(len(incidents), -1, dtype=np.int64)
    cell_index[located] = pos
    return Grid(
        res=res,
        cells=names,
        count=np.bincount(pos, minlength=n).astype(float),
        harm=np.bincount(pos, weights=harm, minlength=n).astype(float),
        months=months,
        monthly_count=monthly_count,
        monthly_harm=monthly_harm,
        cell_names=None,
        n_unlocated=int((~located).sum()),
        cell_index=cell_index,
    )


# --------------------------------------------------------------------------- resolution


def _moran_z(values: np.ndarray, W: sparse.csr_matrix) -> tuple[float, float]:
    """Global Moran's I and its z-score under the normality assumption (binary W, no self)."""
    n = values.size
    z = values - values.mean()
    s0 = W.sum()
    denom = float(z @ z)
    if n < 3 or s0 == 0 or denom == 0:
        return float("nan"), float("nan")
    moran_i = n / s0 * float(z @ (W @ z)) / denom
    s1 = 0.5 * float(((W + W.T).power(2)).sum())
    s2 = float(((np.asarray(W.sum(1)).ravel() + np.asarray(W.sum(0)).ravel()) ** 2).sum())
    expected = -1.0 / (n - 1)
    variance = (n * n * s1 - n * s2 + 3 * s0 * s0) / ((n * n - 1) * s0 * s0) - expected**2
    return moran_i, (moran_i - expected) / np.sqrt(variance)


#: resolutions a patrol can act on (hexagons ≈ 1 km, 400 m, 150 m across), chosen from unless asked
PATROL_RES = (8, 9, 10)
#: street-block grids, searched first; res 8 (0.74 km²) only when both are too thin
STREET_RES = (9, 10)


def suggest_resolution(
    incidents: pd.DataFrame,
    area_lonlat: shapely.Polygon | shapely.MultiPolygon | None = None,
    *,
    min_mean_per_cell: float = 2.0,
    min_cells: int = 30,
    resolutions: tuple[int, ...] = PATROL_RES,
    preferred: tuple[int, ...] = STREET_RES,
) -> tuple[int, str]:
    """Choose an H3 resolution from the data, at a scale a patrol can cover, and say why.

    Incremental spatial autocorrelation, after ArcGIS's tool of that name: for each
    resolution (``resolutions``, by default 8–10: hexagons about 1 km, 400 m and 150 m
    across, 0.74, 0.11 and 0.015 km²), the counts per cell (empty cells of the area
    included) and global Moran's I with first-ring neighbours, which measures how
    strongly incidents cluster at that scale.

    The rule: among the eligible ``preferred`` resolutions (9 and 10: street blocks,
    what a patrol works in a visit), the one where Moran's I is highest; when neither
    is eligible, the eligible resolution of ``resolutions`` with the highest I (res 8);
    when none is, the coarsest. A grid is eligible only if it has at least ``min_cells``
    cells, its non-empty cells hold on average at least ``min_mean_per_cell``
    incidents (grids of singletons say little) and its z is significant (≥ 1.96,
    normality assumption). Res 8 is listed even when not chosen, so a reader sees
    whether incidents cluster more strongly at district scale (on the 2022 demo's
    ASB, I 0.47 at res 8 against 0.43 at res 9: coarser cells average out noise, so
    I tends to rise a little with cell size whatever the process).

    The z-score is not compared across resolutions as in ArcGIS: there the features
    stay fixed while the distance band grows, here the number of cells grows about 7×
    per resolution and z with its square root, so the peak of z is nearly always the
    finest grid (on Gravesham's 2022 violence: z 54 at res 10 against 37 at res 9,
    while I is 0.36 against 0.64).

    Returns
    -------
    (res, reason) : the resolution and a sentence for the provenance record, with
        I, z, mean per non-empty cell and cells for every resolution tried (the
        numbers are those used, rounded for reading).
    """
    rows = []
    for res in sorted(resolutions, reverse=True):  # finest first
        grid = build_grid(incidents, res=res, area_lonlat=area_lonlat, months=[], monthly=False)
        W = grid.neighbours(1)
        W.setdiag(0)
        W.eliminate_zeros()
        nonempty = grid.count > 0
        mean = grid.count[nonempty].mean() if nonempty.any() else 0.0
        moran_i, z = _moran_z(grid.count, W)
        ok = grid.cells.size >= min_cells and mean >= min_mean_per_cell and z >= 1.96
        rows.append((res, moran_i, z, mean, grid.cells.size, bool(ok)))
    table = "; ".join(
        f"res {r}: I={i:.3f}, z={z:.1f}, {m:.1f} per non-empty cell, {c} cells"
        for r, i, z, m, c, _ in rows
    )
    eligible = [r for r in rows if r[5]]
    coarsest = min(resolutions)
    if not eligible:
        return coarsest, (
            f"res {coarsest} (edge ≈ {EDGE_M[coarsest]:,.0f} m) by default: no resolution of "
            f"{', '.join(map(str, sorted(resolutions)))} has ≥ {min_cells} cells, "
            f"≥ {min_mean_per_cell:g} incidents per non-empty cell and significant clustering "
            f"({table})"
        )
    best = [r for r in eligible if r[0] in preferred] or eligible
    res, moran_i, z, _, _, _ = max(best, key=lambda r: r[1])
    pref = ", ".join(map(str, sorted(preferred)))
    why = (
        f"the highest global Moran's I of counts per cell among the street-block "
        f"resolutions {pref} with ≥ {min_mean_per_cell:g} incidents per non-empty cell"
        if res in preferred
        else f"no resolution of {pref} has ≥ {min_cells} "
        f"cells, ≥ {min_mean_per_cell:g} incidents per non-empty cell and significant "
        f"clustering, so the eligible coarser grid with the highest global Moran's I"
    )
    return res, (
        f"res {res} (edge ≈ {EDGE_M[res]:,.0f} m; I = {moran_i:.3f}, z = {z:.1f}): {why} ({table})"
    )
