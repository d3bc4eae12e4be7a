"""Exact grid DBSCAN of weighted points (:func:`dbscan_labels`).

The same labels as ``sklearn.cluster.DBSCAN(eps, min_samples)``, built for
this data:

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
given density.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.sparse import coo_array
from scipy.sparse.csgraph import connected_components

from .points import CellGrid, as_weight, as_xy, blocks, cell_grid, expand_ranges

#: Largest number of candidate point pairs held in memory at once (≈ 40 bytes each).
PAIR_BUDGET = 1 << 21
#: Cells are a hair smaller than eps/√2 so float rounding never breaks "one cell ⇒ within eps".
_CELL_SHRINK = 1.0 - 1e-6
_FORWARD = [(dx, dy) for dx in range(3) for dy in range(-2, 3) if dx > 0 or dy > 0]
# Compass directions for the extreme points of each cell (index k, opposite k + 4).
_DIRS = [(1, 0), (1, 1), (0, 1), (-1, 1), (-1, 0), (-1, -1), (0, -1), (1, -1)]


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
    eps, min_samples = check_scale(eps_m, min_samples)
    xa, ya = as_xy(x, y)
    w = as_weight(weight, len(xa))
    if len(xa) == 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=bool)
    grid = cell_grid(xa, ya, w, eps / math.sqrt(2.0) * _CELL_SHRINK)
    labels, core = _dbscan_grid(grid, eps, min_samples)
    return labels[grid.inverse], core[grid.inverse]


def check_scale(eps_m: float, min_samples: int) -> tuple[float, int]:
    """``(eps, min_samples)`` as float and int, or a ValueError saying what was expected."""
    eps = float(eps_m)
    if not (eps > 0 and math.isfinite(eps)):
        raise ValueError(f"eps_m must be a positive number of metres; got {eps_m!r}")
    if isinstance(min_samples, bool) or int(min_samples) != min_samples or min_samples < 1:
        raise ValueError(f"min_samples must be an integer >= 1; got {min_samples!r}")
    return eps, int(min_samples)


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
