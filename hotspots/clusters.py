"""Density clusters of incidents: exact grid DBSCAN, HDBSCAN, cluster summaries, eps.

:class:`DensityClusterer` finds clusters in projected coordinates (metres,
EPSG:27700 by default) in the scikit-learn manner. ``method="dbscan"`` runs
our own exact DBSCAN (:func:`dbscan_labels`), which returns the same labels as
``sklearn.cluster.DBSCAN(eps, min_samples)`` but is built for this data:

- repeated coordinates (police.uk snap points) become one weighted point,
  in the same sort that puts points into square cells of side eps/√2
  (:func:`hotspots.points.cell_grid`);
- every pair in one cell lies within eps: a cell holding at least
  ``min_samples`` of weight makes all its points core without a single
  distance, and all core points of a cell are in one cluster;
- points in lighter cells are ruled out first by the weight of the block of
  cells they can reach (a summed-area table), then counted against the 5 × 5
  surrounding cells, with exact bounds from each cell's bounding box before
  any point-to-point distance;
- neighbouring core cells are joined when any core–core pair lies within eps
  (bounding boxes, then the cells' extreme points, then exact checks,
  skipping cells already joined); border points join the lowest-numbered
  cluster with a core point within eps.

Memory and time grow about linearly with the number of distinct points at a
given density. :func:`summarise_clusters` profiles the clusters (hull, counts,
harm, dates, categories, locations) and :func:`suggest_eps_m` picks eps from
the data.
"""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.sparse import coo_array
from scipy.sparse.csgraph import connected_components

from geodata.crs import xy_to_lonlat

from .points import CellGrid, as_weight, as_xy, blocks, cell_grid, collapse, expand_ranges

METHODS = ("dbscan", "hdbscan")
#: Largest number of candidate point pairs held in memory at once (≈ 40 bytes each).
PAIR_BUDGET = 1 << 21
#: Cells are a hair smaller than eps/√2 so float rounding never breaks "one cell ⇒ within eps".
_CELL_SHRINK = 1.0 - 1e-6
_FORWARD = [(dx, dy) for dx in range(3) for dy in range(-2, 3) if dx > 0 or dy > 0]
# Compass directions for the extreme points of each cell (index k, opposite k + 4).
_DIRS = [(1, 0), (1, 1), (0, 1), (-1, 1), (-1, 0), (-1, -1), (0, -1), (1, -1)]


class DensityClusterer:
    """Density clusters of points in metres, in the scikit-learn manner.

    Parameters
    ----------
    eps_m : float
        DBSCAN radius in metres: points within ``eps_m`` (``<=``, as in
        scikit-learn) are neighbours.
    min_samples : int
        DBSCAN: a point is core when the total weight within ``eps_m``, itself
        included, is at least ``min_samples``. HDBSCAN: its ``min_samples``.
    method : {"dbscan", "hdbscan"}
        ``"dbscan"``: our exact grid DBSCAN (same labels as scikit-learn's).
        ``"hdbscan"``: ``sklearn.cluster.HDBSCAN`` on the points themselves.
    min_cluster_size : int, optional
        HDBSCAN's smallest cluster (default 15); ignored by DBSCAN.
    seed : int
        Kept for the estimator interface: both methods are deterministic.
    hdbscan_max_points : int
        HDBSCAN refuses more points than this: its time grows faster than
        linearly (measured here: 0.7 s at 10k points, 3.6 s at 30k).

    Attributes
    ----------
    labels_ : numpy.ndarray
        Cluster per input point, ``-1`` for noise. DBSCAN numbers clusters as
        scikit-learn does (in order of their first core point in the input).
    core_sample_mask_ : numpy.ndarray
        DBSCAN: the core points. HDBSCAN (no core points): the clustered ones.
    n_clusters_ : int
        Number of clusters.
    probabilities_ : numpy.ndarray or None
        HDBSCAN membership strengths; ``None`` for DBSCAN.

    Notes
    -----
    Duplicates and weights. DBSCAN treats a point of weight ``w`` exactly as
    ``w`` points at that spot (``sklearn.cluster.DBSCAN(sample_weight=...)``
    semantics), so collapsing duplicates into weights never changes a label.
    scikit-learn's HDBSCAN has no weights: it runs on the raw points, duplicates
    included (nothing is jittered); integer weights are expanded into that many
    repeated points and fractional weights are refused.

    Examples
    --------
    >>> x = np.r_[np.zeros(12), 1000.0]
    >>> y = np.r_[np.arange(12.0), 0.0]
    >>> model = DensityClusterer(eps_m=150, min_samples=10).fit(x, y)
    >>> model.n_clusters_, model.labels_[-1]
    (1, np.int64(-1))
    """

    def __init__(
        self,
        eps_m: float = 150.0,
        min_samples: int = 10,
        method: str = "dbscan",
        min_cluster_size: int | None = None,
        seed: int = 0,
        hdbscan_max_points: int = 100_000,
    ) -> None:
        self.eps_m = eps_m
        self.min_samples = min_samples
        self.method = method
        self.min_cluster_size = min_cluster_size
        self.seed = seed
        self.hdbscan_max_points = hdbscan_max_points

    def fit(self, x, y, weight=None) -> DensityClusterer:
        """Cluster points ``x``, ``y`` (metres, projected), optionally weighted; returns self."""
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}; got {self.method!r}")
        if self.method == "dbscan":
            labels, core = dbscan_labels(x, y, self.eps_m, self.min_samples, weight)
            self.probabilities_ = None
        else:
            labels, self.probabilities_ = _hdbscan(
                x, y, weight, self.min_cluster_size or 15, self.min_samples,
                self.hdbscan_max_points,
            )  # fmt: skip
            core = labels >= 0
        self.labels_ = labels
        self.core_sample_mask_ = core
        self.n_clusters_ = int(labels.max()) + 1 if len(labels) else 0
        return self

    def fit_predict(self, x, y, weight=None) -> np.ndarray:
        """``fit`` and return ``labels_``."""
        return self.fit(x, y, weight).labels_


def dbscan_labels(x, y, eps_m: float, min_samples: int, weight=None):
    """Exact DBSCAN of weighted points: ``(labels, core_mask)`` per input point.

    Same result as ``sklearn.cluster.DBSCAN(eps=eps_m, min_samples=min_samples)
    .fit(np.c_[x, y], sample_weight=weight)``: the same core points, the same
    clusters numbered the same way, and border points in the lowest-numbered
    cluster that reaches them (as scikit-learn's expansion order gives).
    Distances are compared as ``dx*dx + dy*dy <= eps_m*eps_m`` in float64,
    the test scikit-learn's ``kd_tree`` and ``ball_tree`` make at their leaves
    (its ``"auto"`` choice for all but tiny inputs). Caveats, all at the level
    of rounding: scikit-learn's ``brute`` algorithm (chosen by ``"auto"`` for
    11 points or fewer) computes distances as ``|a|² - 2a·b + |b|²``,
    which at British National Grid magnitudes is off by ~1e-7 m; its trees may
    take a pair within an ulp of ``eps_m`` by a node's bounding box; and with
    fractional weights, a total equal to ``min_samples`` up to rounding may be
    summed in a different order. Weights must be >= 0.
    """
    eps = float(eps_m)
    if not (eps > 0 and math.isfinite(eps)):
        raise ValueError(f"eps_m must be a positive number of metres; got {eps_m!r}")
    if isinstance(min_samples, bool) or int(min_samples) != min_samples or min_samples < 1:
        raise ValueError(f"min_samples must be an integer >= 1; got {min_samples!r}")
    xa, ya = as_xy(x, y)
    w = as_weight(weight, len(xa))
    if len(xa) == 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=bool)
    grid = cell_grid(xa, ya, w, eps / math.sqrt(2.0) * _CELL_SHRINK)
    labels, core = _dbscan_grid(grid, eps, min_samples)
    return labels[grid.inverse], core[grid.inverse]


# ------------------------------------------------------------------------ DBSCAN


def _dbscan_grid(grid: CellGrid, eps: float, min_samples: int):
    """DBSCAN of the grid's distinct weighted points: ``(labels, core)`` in grid order.

    Clusters are numbered by the smallest input index among their core points.
    """
    eps2 = eps * eps
    diam2 = (grid.c_xmax - grid.c_xmin) ** 2 + (grid.c_ymax - grid.c_ymin) ** 2
    if np.any(diam2 > eps2):  # cannot happen unless coordinates are ~1e9 times eps
        raise ValueError(f"coordinates too large for eps_m={eps} at float64 precision")
    core = _core_mask(grid, eps, min_samples)
    cp = np.flatnonzero(core)
    labels = np.full(grid.n_points, -1, dtype=np.int64)
    if not len(cp):
        return labels, core
    cc = _CoreCells(grid, cp)
    comp = _connect(cc, eps2)
    first = np.minimum.reduceat(grid.p_first[cp], cc.start)
    comp_first = np.full(comp.max() + 1, np.iinfo(np.int64).max)
    np.minimum.at(comp_first, comp, first)
    rank = np.empty_like(comp_first)
    rank[np.argsort(comp_first)] = np.arange(len(comp_first))
    cc_label = rank[comp]
    labels[cp] = np.repeat(cc_label, cc.count)
    border = np.flatnonzero(~core)
    labels[border] = _border_labels(grid, cc, cc_label, border, eps)
    return labels, core


def _core_mask(grid: CellGrid, eps: float, min_samples: int) -> np.ndarray:
    """Core flag per point (cell order): heavy cells at once, others by exact counting."""
    eps2 = eps * eps
    core = (grid.c_weight >= min_samples)[grid.p_cell]
    light = np.flatnonzero(~core)
    # Points whose whole reachable block of cells weighs too little cannot be core.
    bound = grid.reachable_sums(grid.c_weight, light, eps)
    if bound is not None:
        slack = 1e-9 * float(grid.c_weight.sum())  # sums of fractional weights round
        light = light[bound + slack >= min_samples]
    if not len(light):
        return core
    lcell = grid.p_cell[light]
    px, py = grid.p_x[light], grid.p_y[light]
    lower = grid.c_weight[lcell]  # own cell: every point within eps
    upper = lower.copy()
    part_p, part_c = [], []
    for dx, dy, sub in grid.reachable_offsets(light, eps):
        nb = grid.neighbour(lcell[sub], dx, dy)
        found = nb >= 0
        i, c = sub[found], nb[found]
        lo, hi = grid.box_d2(px[i], py[i], c)
        full = hi <= eps2
        near = lo <= eps2
        lower[i[full]] += grid.c_weight[c[full]]
        upper[i[near]] += grid.c_weight[c[near]]
        part = near & ~full
        part_p.append(i[part])
        part_c.append(c[part])
    pp, pc = np.concatenate(part_p), np.concatenate(part_c)
    open_ = (lower < min_samples) & (upper >= min_samples)
    keep = open_[pp]
    pp, pc = pp[keep], pc[keep]
    lengths = grid.c_count[pc]
    for blk in blocks(lengths, PAIR_BUDGET):
        own, q = expand_ranges(grid.c_start[pc[blk]], lengths[blk])
        p = pp[blk][own]
        hit = (px[p] - grid.p_x[q]) ** 2 + (py[p] - grid.p_y[q]) ** 2 <= eps2
        lower += np.bincount(p[hit], weights=grid.p_weight[q[hit]], minlength=len(light))
    core[light] = lower >= min_samples
    return core


class _CoreCells:
    """The core points of each cell that has any: ranges into ``cp`` and their boxes."""

    def __init__(self, grid: CellGrid, cp: np.ndarray) -> None:
        self.grid = grid
        cell = grid.p_cell[cp]
        new = np.empty(len(cp), dtype=bool)
        new[0] = True
        np.not_equal(cell[1:], cell[:-1], out=new[1:])
        self.start = np.flatnonzero(new)
        self.count = np.diff(np.append(self.start, len(cp)))
        self.cell = cell[self.start]
        self.index = np.full(grid.n_cells, -1, dtype=np.int64)
        self.index[self.cell] = np.arange(len(self.cell))
        self.x, self.y = grid.p_x[cp], grid.p_y[cp]
        self.xmin = np.minimum.reduceat(self.x, self.start)
        self.xmax = np.maximum.reduceat(self.x, self.start)
        self.ymin = np.minimum.reduceat(self.y, self.start)
        self.ymax = np.maximum.reduceat(self.y, self.start)

    def __len__(self) -> int:
        return len(self.start)

    def neighbour(self, k: np.ndarray, dx: int, dy: int) -> np.ndarray:
        """Core-cell index ``(dx, dy)`` cells from core cells ``k`` (-1: none)."""
        nb = self.grid.neighbour(self.cell[k], dx, dy)
        return np.where(nb >= 0, self.index[nb], -1)

    def point_box_d2(self, px, py, k):
        """Exact lower bound on squared distances from points to the core points of ``k``."""
        gx = np.maximum(np.maximum(self.xmin[k] - px, px - self.xmax[k]), 0.0)
        gy = np.maximum(np.maximum(self.ymin[k] - py, py - self.ymax[k]), 0.0)
        return gx * gx + gy * gy

    def extremes(self) -> np.ndarray:
        """Per direction of ``_DIRS``, the core point (index into ``x``) furthest that way."""
        reps = np.empty((len(_DIRS), len(self)), dtype=np.int64)
        pos = np.arange(len(self.x))
        for k, (ux, uy) in enumerate(_DIRS):
            proj = ux * self.x + uy * self.y
            top = np.repeat(np.maximum.reduceat(proj, self.start), self.count)
            reps[k] = np.minimum.reduceat(np.where(proj == top, pos, len(pos)), self.start)
        return reps


def _connect(cc: _CoreCells, eps2: float) -> np.ndarray:
    """Cluster (connected component) of each core cell."""
    n = len(cc)
    reps = cc.extremes()
    a_all, b_all, e_a, e_b = [], [], [], []
    every = np.arange(n)
    for dx, dy in _FORWARD:
        b = cc.neighbour(every, dx, dy)
        a = np.flatnonzero(b >= 0)
        b = b[a]
        gx = np.maximum(np.maximum(cc.xmin[b] - cc.xmax[a], cc.xmin[a] - cc.xmax[b]), 0.0)
        gy = np.maximum(np.maximum(cc.ymin[b] - cc.ymax[a], cc.ymin[a] - cc.ymax[b]), 0.0)
        fx = np.maximum(cc.xmax[b] - cc.xmin[a], cc.xmax[a] - cc.xmin[b])
        fy = np.maximum(cc.ymax[b] - cc.ymin[a], cc.ymax[a] - cc.ymin[b])
        near = gx * gx + gy * gy <= eps2
        joined = (fx * fx + fy * fy <= eps2) & near
        # Quick sufficient test: the points of each cell furthest towards the other.
        k = _DIRS.index((int(np.sign(dx)), int(np.sign(dy))))
        for j in (k, (k + 1) % 8, (k - 1) % 8):
            ra, rb = reps[j][a], reps[(j + 4) % 8][b]
            joined |= near & ((cc.x[ra] - cc.x[rb]) ** 2 + (cc.y[ra] - cc.y[rb]) ** 2 <= eps2)
        e_a.append(a[joined])
        e_b.append(b[joined])
        undecided = near & ~joined
        a_all.append(a[undecided])
        b_all.append(b[undecided])
    ea, eb = list(e_a), list(e_b)
    comp = _components(n, ea, eb)
    pa, pb = np.concatenate(a_all), np.concatenate(b_all)
    while len(pa):
        keep = comp[pa] != comp[pb]
        pa, pb = pa[keep], pb[keep]
        if not len(pa):
            break
        cost = cc.count[pa] + cc.count[pb]
        blk = blocks(cost, PAIR_BUDGET)[0]
        hit = _any_pair_within(cc, pa[blk], pb[blk], eps2)
        ea.append(pa[blk][hit])
        eb.append(pb[blk][hit])
        comp = _components(n, ea, eb)
        pa, pb = pa[blk.stop :], pb[blk.stop :]
    return comp


def _components(n: int, ea: list, eb: list) -> np.ndarray:
    a, b = np.concatenate(ea), np.concatenate(eb)
    graph = coo_array((np.ones(len(a), dtype=np.int8), (a, b)), shape=(n, n))
    return connected_components(graph, directed=False)[1]


def _any_pair_within(cc: _CoreCells, pa, pb, eps2) -> np.ndarray:
    """For each core-cell pair, whether any core point of one is within eps of the other."""
    # Keep only the points of each side that are within eps of the other side's box.
    own_a, a = expand_ranges(cc.start[pa], cc.count[pa])
    ka = cc.point_box_d2(cc.x[a], cc.y[a], pb[own_a]) <= eps2
    own_a, a = own_a[ka], a[ka]
    own_b, b = expand_ranges(cc.start[pb], cc.count[pb])
    kb = cc.point_box_d2(cc.x[b], cc.y[b], pa[own_b]) <= eps2
    own_b, b = own_b[kb], b[kb]
    nb = np.bincount(own_b, minlength=len(pa))
    b_start = np.cumsum(nb) - nb
    hit = np.zeros(len(pa), dtype=bool)
    lengths = nb[own_a]
    for blk in blocks(lengths, PAIR_BUDGET):
        i, j = expand_ranges(b_start[own_a[blk]], lengths[blk])
        ai, bj = a[blk][i], b[j]
        close = (cc.x[ai] - cc.x[bj]) ** 2 + (cc.y[ai] - cc.y[bj]) ** 2 <= eps2
        hit[own_a[blk][i[close]]] = True
    return hit


def _border_labels(grid, cc: _CoreCells, cc_label, border, eps) -> np.ndarray:
    """Lowest cluster label among core points within eps of each non-core point, or -1."""
    eps2 = eps * eps
    none = np.iinfo(np.int64).max
    labels = np.full(len(border), -1, dtype=np.int64)
    # Only points with a core cell in their reachable block can be border points.
    has_core = np.zeros(grid.n_cells)
    has_core[cc.cell] = 1.0
    bound = grid.reachable_sums(has_core, border, eps)
    cand = np.flatnonzero(bound > 0) if bound is not None else np.arange(len(border))
    border = border[cand]
    best = np.full(len(border), none, dtype=np.int64)
    bcell = grid.p_cell[border]
    px, py = grid.p_x[border], grid.p_y[border]
    part_p, part_k = [], []
    for dx, dy, sub in grid.reachable_offsets(border, eps, include_self=True):
        nb = grid.neighbour(bcell[sub], dx, dy)
        i = sub[nb >= 0]
        k = cc.index[nb[nb >= 0]]
        i, k = i[k >= 0], k[k >= 0]
        lo, hi = _core_box_d2(cc, px[i], py[i], k)
        full = hi <= eps2
        best[i[full]] = np.minimum(best[i[full]], cc_label[k[full]])
        part = (lo <= eps2) & ~full
        part_p.append(i[part])
        part_k.append(k[part])
    pp, pk = np.concatenate(part_p), np.concatenate(part_k)
    keep = cc_label[pk] < best[pp]
    pp, pk = pp[keep], pk[keep]
    lengths = cc.count[pk]
    for blk in blocks(lengths, PAIR_BUDGET):
        own, q = expand_ranges(cc.start[pk[blk]], lengths[blk])
        p = pp[blk][own]
        close = (px[p] - cc.x[q]) ** 2 + (py[p] - cc.y[q]) ** 2 <= eps2
        np.minimum.at(best, p[close], cc_label[pk[blk][own[close]]])
    labels[cand] = np.where(best == none, -1, best)
    return labels


def _core_box_d2(cc: _CoreCells, px, py, k):
    lo = cc.point_box_d2(px, py, k)
    fx = np.maximum(px - cc.xmin[k], cc.xmax[k] - px)
    fy = np.maximum(py - cc.ymin[k], cc.ymax[k] - py)
    return lo, fx * fx + fy * fy


# ----------------------------------------------------------------------- HDBSCAN


def _hdbscan(x, y, weight, min_cluster_size, min_samples, max_points):
    from sklearn.cluster import HDBSCAN

    xa, ya = as_xy(x, y)
    n = len(xa)
    if weight is not None:
        w = as_weight(weight, n)
        if np.any(w != np.round(w)):
            raise ValueError(
                "HDBSCAN has no sample weights: weights must be whole numbers (each is "
                "expanded into that many repeated points); got fractional weights"
            )
        reps = w.astype(np.int64)
    else:
        reps = None
    n_run = int(reps.sum()) if reps is not None else n
    if n_run > max_points:
        raise ValueError(
            f"HDBSCAN is limited to {max_points:,} points (its time grows faster than "
            f"linearly); got {n_run:,}. Use method='dbscan' or a shorter window"
        )
    labels = np.full(n, -1, dtype=np.int64)
    prob = np.zeros(n)
    if n_run <= min_cluster_size:
        return labels, prob
    if reps is not None:
        xa, ya = np.repeat(xa, reps), np.repeat(ya, reps)
    model = HDBSCAN(min_cluster_size=min_cluster_size, min_samples=min_samples, copy=True)
    model.fit(np.column_stack([xa, ya]))
    if reps is None:
        return model.labels_.astype(np.int64), model.probabilities_
    # A weighted point takes the label of its first copy (copies sit at one spot).
    first = np.cumsum(reps) - reps
    has = reps > 0
    labels[has] = model.labels_[first[has]]
    prob[has] = model.probabilities_[first[has]]
    return labels, prob


# --------------------------------------------------------------------- summaries

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
    ids, inv, count = np.unique(labels[member], return_inverse=True, return_counts=True)
    k = len(ids)
    sub = incidents.iloc[member]
    x, y = sub["x"].to_numpy(np.float64), sub["y"].to_numpy(np.float64)
    harm_sum = np.bincount(inv, weights=harm[member], minlength=k)
    cx = np.bincount(inv, weights=x, minlength=k) / count
    cy = np.bincount(inv, weights=y, minlength=k) / count
    # Distinct points per cluster, and the hull of each cluster's distinct points.
    wp = collapse(x, y)
    pairs = np.unique(inv.astype(np.int64) * wp.n_distinct + wp.inverse)
    cl, pt = np.divmod(pairs, wp.n_distinct)
    hull = shapely.convex_hull(shapely.multipoints(np.c_[wp.ux[pt], wp.uy[pt]], indices=cl))
    geometry = shapely.buffer(hull, float(buffer_m), quad_segs=16)
    area = shapely.area(geometry)
    km2 = area / 1e6
    lon, lat = xy_to_lonlat(cx, cy, crs)
    when = pd.Series(sub["occurred_at"].to_numpy()).groupby(inv)
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
            "top_locations": _tallies(inv, sub["location"], k, top_n, as_pairs=True),
            "first_date": when.min().to_numpy(),
            "last_date": when.max().to_numpy(),
            "categories": _tallies(inv, sub["category"], k, None, as_pairs=False),
            "distinct_points": np.bincount(cl, minlength=k),
        }
    )
    out = gpd.GeoDataFrame(out, geometry=gpd.GeoSeries(geometry, crs=crs), crs=crs)
    order = np.lexsort((out["cluster_id"], -out["count"], -out["harm"]))
    return out.iloc[order].reset_index(drop=True)


def _tallies(group: np.ndarray, values: pd.Series, k: int, top: int | None, as_pairs: bool):
    """Per group: value counts, most frequent first (ties by value), as pairs or a dict."""
    codes, uniques = pd.factorize(values, sort=True)  # sorted: code order is text order
    ok = codes >= 0  # missing values are not counted
    key = group[ok].astype(np.int64) * max(len(uniques), 1) + codes[ok]
    pairs, counts = np.unique(key, return_counts=True)
    g, code = np.divmod(pairs, max(len(uniques), 1))
    order = np.lexsort((code, -counts, g))
    g, code, counts = g[order], code[order], counts[order]
    if top is not None:
        first = np.searchsorted(g, g)  # start of each group (g is sorted)
        keep = np.arange(len(g)) - first < top
        g, code, counts = g[keep], code[keep], counts[keep]
    out: list = [[] if as_pairs else {} for _ in range(k)]
    used = np.unique(code)
    names = dict(zip(used.tolist(), (str(u) for u in uniques.take(used))))
    for gi, ci, n in zip(g.tolist(), code.tolist(), counts.tolist()):
        if as_pairs:
            out[gi].append([names[ci], n])
        else:
            out[gi][names[ci]] = n
    return out


# -------------------------------------------------------------------------- eps


def suggest_eps_m(
    x, y, min_samples: int, weight=None, bounds_m: tuple[float, float] = (50.0, 500.0)
) -> tuple[float, str]:
    """An eps for DBSCAN from the data: the knee of the k-distance curve, k = ``min_samples``.

    For every incident, the *k-distance* is the smallest radius within which
    the total weight (itself included) reaches ``min_samples``, i.e. the eps
    that would make it core. Sorted, these distances stay low through the
    clustered incidents and rise steeply through the scattered ones; the
    knee (the point of the sorted curve furthest below its chord, after the
    top 2 % of outliers is set aside) separates the two. The value is rounded
    to the metre and kept within ``bounds_m``: below ~50 m a cluster is a
    handful of police.uk snap points on one street; above ~500 m it is a
    neighbourhood rather than a place to patrol.

    Returns
    -------
    (float, str)
        eps in metres and the reason in plain words, for provenance.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = np.r_[rng.normal(0, 40, 500), rng.uniform(-5000, 5000, 500)]
    >>> y = np.r_[rng.normal(0, 40, 500), rng.uniform(-5000, 5000, 500)]
    >>> eps, reason = suggest_eps_m(x, y, 10)
    >>> 50 <= eps <= 500
    True
    """
    low, high = (float(b) for b in bounds_m)
    wp = collapse(x, y, weight)
    if wp.n_distinct < 2 or float(wp.weight.sum()) < min_samples:
        eps = min(max(150.0, low), high)
        return eps, (
            f"eps {eps:.0f} m: the default, since {wp.n_input} incident(s) are too few to "
            f"measure a k-distance with k = {min_samples}"
        )
    dist, w = _k_distances(wp, int(min_samples))
    finite = np.isfinite(dist)
    order = np.argsort(dist[finite], kind="stable")
    d, w = dist[finite][order], w[finite][order]
    share = np.cumsum(w) / w.sum()
    keep = share <= 0.98
    keep[0] = True
    d, share = d[keep], share[keep]
    span = d[-1] - d[0]
    knee = int(np.argmax(share - (d - d[0]) / span)) if span > 0 else len(d) - 1
    raw = float(d[knee])
    eps = float(min(max(round(raw), low), high))
    core_share = float(w[dist[finite][order] <= eps].sum() / w.sum())
    why = (
        f"eps {eps:.0f} m: the knee of the k-distance curve (distance within which each "
        f"incident has {min_samples} incidents, itself included) over {wp.n_input:,} "
        f"incidents at {wp.n_distinct:,} distinct points; {core_share:.0%} of incidents "
        f"reach {min_samples} within {eps:.0f} m"
    )
    if round(raw) != eps:
        why += f"; the knee was at {raw:.0f} m, outside the {low:.0f}–{high:.0f} m range"
    else:
        why += f"; eps is kept within {low:.0f}–{high:.0f} m"
    return eps, why


#: k-distances are measured for at most this many distinct points (an even stride).
_K_SAMPLE = 200_000


def _k_distances(wp, min_samples: int) -> tuple[np.ndarray, np.ndarray]:
    """k-distance and weight of (a stride sample of) the distinct points."""
    from scipy.spatial import cKDTree

    pts = np.c_[wp.ux, wp.uy]
    tree = cKDTree(pts)
    step = max(1, math.ceil(wp.n_distinct / _K_SAMPLE))
    q = np.arange(0, wp.n_distinct, step)
    dist = np.full(len(q), np.inf)
    todo = np.arange(len(q))
    k = min(min_samples, wp.n_distinct)
    while len(todo):
        d, j = tree.query(pts[q[todo]], k=k, workers=-1)
        d, j = d.reshape(len(todo), k), j.reshape(len(todo), k)
        found = j < wp.n_distinct  # missing neighbours come back as index n
        wsum = np.cumsum(np.where(found, wp.weight[np.where(found, j, 0)], 0.0), axis=1)
        ok = wsum[:, -1] >= min_samples
        first = np.argmax(wsum >= min_samples, axis=1)
        dist[todo[ok]] = d[ok, first[ok]]
        if k >= wp.n_distinct or k >= 64 * min_samples:
            break
        todo, k = todo[~ok], min(4 * k, wp.n_distinct)
    return dist, wp.weight[q]
