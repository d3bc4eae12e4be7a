"""One row per density cluster: where it is, how big, how harmful, what and when."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geodata.crs import xy_to_lonlat

from .codes import tallies
from .points import collapse
from .uniq import unique, unique_inverse

SUMMARY_COLUMNS = (
    "cluster_id", "count", "harm", "centroid_x", "centroid_y", "centroid_lon", "centroid_lat",
    "area_m2", "density_per_km2", "harm_density_per_km2", "top_locations", "first_date",
    "last_date", "categories", "distinct_points",
)  # fmt: skip
_NEEDED = ("x", "y", "occurred_at", "category", "location")


def summarise_clusters(
    incidents: pd.DataFrame,
    labels,
    harm,
    crs: str = "EPSG:27700",
    buffer_m: float = 25.0,
    top_n: int = 5,
) -> gpd.GeoDataFrame:
    """One row per cluster: where it is, how big, how harmful, what and when.

    Parameters
    ----------
    incidents : pandas.DataFrame
        One row per incident, in the order of ``labels``, with ``x``, ``y``
        (metres in ``crs``), ``occurred_at``, ``category`` and ``location``.
    labels : array_like
        Cluster per incident, ``-1`` (any negative) for noise.
    harm : array_like
        Harm weight per incident (e.g. ``HarmWeights.weigh``).
    crs : str
        The projected CRS of ``x``/``y`` and of the returned geometry.
    buffer_m : float
        The convex hull of a cluster's points is buffered by this, so a
        cluster on one or two snap points still has an area (π·buffer_m² for
        one point).
    top_n : int
        How many locations ``top_locations`` lists.

    Returns
    -------
    geopandas.GeoDataFrame
        Sorted by ``harm`` descending (then ``count``), columns
        ``cluster_id``, ``count``, ``harm``, ``centroid_x``/``centroid_y``
        (mean of the incidents' coordinates), ``centroid_lon``/``centroid_lat``
        (the same point in WGS84), ``area_m2`` (of the buffered hull),
        ``density_per_km2`` and ``harm_density_per_km2`` (per km² of that area),
        ``top_locations`` (``[[location text, count], ...]``, most frequent
        first, ties by text), ``first_date``/``last_date`` (of ``occurred_at``),
        ``categories`` (dict slug → count, largest first), ``distinct_points``
        (distinct coordinates) and ``geometry``.
    """
    missing = [c for c in _NEEDED if c not in incidents.columns]
    if missing:
        raise ValueError(f"incidents lack column(s) {missing}; summarise_clusters needs {_NEEDED}")
    labels = np.asarray(labels)
    harm = np.asarray(harm, dtype=np.float64)
    n = len(incidents)
    if labels.shape != (n,) or harm.shape != (n,):
        raise ValueError(
            f"labels and harm need one value per incident ({n}); "
            f"got shapes {labels.shape} and {harm.shape}"
        )
    member = np.flatnonzero(labels >= 0)
    if not len(member):
        frame = pd.DataFrame({c: pd.Series(dtype=object) for c in SUMMARY_COLUMNS})
        return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries([], crs=crs), crs=crs)
    ids, inv = unique_inverse(labels[member])
    count = np.bincount(inv, minlength=ids.size)
    k = len(ids)
    x = incidents["x"].to_numpy(np.float64)[member]
    y = incidents["y"].to_numpy(np.float64)[member]
    harm_sum = np.bincount(inv, weights=harm[member], minlength=k)
    cx = np.bincount(inv, weights=x, minlength=k) / count
    cy = np.bincount(inv, weights=y, minlength=k) / count
    # Distinct points per cluster, and the hull of each cluster's distinct points.
    wp = collapse(x, y)
    pairs = unique(inv.astype(np.int64) * wp.n_distinct + wp.inverse)
    cl, pt = np.divmod(pairs, wp.n_distinct)
    px, py = wp.ux[pt], wp.uy[pt]
    hull_side = _not_inside_extremes(cl, px, py, k)  # the others cannot be hull vertices
    hull = shapely.convex_hull(
        shapely.multipoints(np.c_[px[hull_side], py[hull_side]], indices=cl[hull_side])
    )
    geometry = shapely.buffer(hull, float(buffer_m), quad_segs=16)
    area = shapely.area(geometry)
    km2 = area / 1e6
    lon, lat = xy_to_lonlat(cx, cy, crs)
    when = pd.Series(incidents["occurred_at"].to_numpy()[member]).groupby(inv)
    out = pd.DataFrame(
        {
            "cluster_id": ids.astype(np.int64),
            "count": count.astype(np.int64),
            "harm": harm_sum,
            "centroid_x": cx,
            "centroid_y": cy,
            "centroid_lon": lon,
            "centroid_lat": lat,
            "area_m2": area,
            "density_per_km2": count / km2,
            "harm_density_per_km2": harm_sum / km2,
            "top_locations": [
                [list(pair) for pair in pairs]
                for pairs in tallies(inv, incidents["location"], member, k, top=top_n)
            ],
            "first_date": when.min().to_numpy(),
            "last_date": when.max().to_numpy(),
            "categories": [dict(pairs) for pairs in tallies(inv, incidents["category"], member, k)],
            "distinct_points": np.bincount(cl, minlength=k),
        }
    )
    out = gpd.GeoDataFrame(out, geometry=gpd.GeoSeries(geometry, crs=crs), crs=crs)
    order = np.lexsort((out["cluster_id"], -out["count"], -out["harm"]))
    return out.iloc[order].reset_index(drop=True)


#: m²: a point this close to a side of its cluster's extreme quadrilateral is kept
_INSIDE_MARGIN = 1e-3


def _not_inside_extremes(group: np.ndarray, x: np.ndarray, y: np.ndarray, k: int) -> np.ndarray:
    """False for the points strictly inside the quadrilateral of their group's extreme
    points (leftmost, lowest, rightmost, highest): they lie inside the group's convex
    hull, so dropping them leaves the hull as it is (Akl–Toussaint) and saves making a
    geometry of every point. ``group`` is sorted; points within :data:`_INSIDE_MARGIN`
    of a side, and every point of a degenerate quadrilateral, are kept.

    Examples
    --------
    >>> g = np.zeros(5, int)
    >>> x, y = np.array([0.0, 2, 4, 2, 2]), np.array([2.0, 0, 2, 4, 2])
    >>> _not_inside_extremes(g, x, y, 1).tolist()
    [True, True, True, True, False]
    """
    starts = np.searchsorted(group, np.arange(k))
    ext = []
    for coord, other, pick in ((x, y, np.minimum), (y, x, np.minimum), (x, y, np.maximum),
                               (y, x, np.maximum)):  # fmt: skip
        best = pick.reduceat(coord, starts)
        # the other coordinate of a point reaching it (the smallest, for ties)
        at = np.where(coord == best[group], other, np.inf)
        ext.append((best, np.minimum.reduceat(at, starts)))
    # counter-clockwise: leftmost (x, y), lowest (y, x), rightmost (x, y), highest (y, x)
    (wx, wy), (sy, sx), (ex, ey), (ny, nx) = ext
    corners = [(wx, wy), (sx, sy), (ex, ey), (nx, ny)]
    inside = np.ones(x.size, dtype=bool)
    for (ax, ay), (bx, by) in zip(corners, corners[1:] + corners[:1]):
        ax, ay, bx, by = ax[group], ay[group], bx[group], by[group]
        inside &= (bx - ax) * (y - ay) - (by - ay) * (x - ax) > _INSIDE_MARGIN
    return ~inside
