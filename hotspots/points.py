"""Weighted points: repeated coordinates collapsed, and a cell grid for radius searches.

police.uk publishes every incident on an anonymised "snap point", so a month of
a force's data has only about one distinct coordinate pair for every 2.3
incidents. Density methods that accept weights (our DBSCAN, kernel density)
do the same work on the distinct points with the number (or total weight) of
incidents at each, and map results back with ``inverse``.

- :func:`collapse` gives the distinct points in order of first appearance;
- :func:`cell_grid` collapses in the same sort that buckets the distinct
  points into square cells, with exact float64 bounds for radius searches
  (used by :mod:`hotspots.clusters`).

Equality is exact (float64 bit-for-bit after folding ``-0.0`` into ``0.0``);
nothing is rounded, so collapsing never changes a distance.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from .uniq import MIX_X, MIX_Y, first_seen_pairs


@dataclass(frozen=True)
class WeightedPoints:
    """Distinct points with the total weight of the input points at each.

    Attributes
    ----------
    ux, uy : numpy.ndarray
        float64 coordinates of the distinct points, in order of first
        appearance in the input.
    weight : numpy.ndarray
        float64 sum of the input weights at each distinct point (the count of
        input points when no weights were given).
    inverse : numpy.ndarray
        For each input point, the index of its distinct point:
        ``ux[inverse]`` is the input ``x``.
    n_input : int
        Number of input points.
    first_index : numpy.ndarray
        For each distinct point, the smallest input index at that location
        (increasing, since distinct points are in order of first appearance).
    """

    ux: np.ndarray
    uy: np.ndarray
    weight: np.ndarray
    inverse: np.ndarray
    n_input: int
    first_index: np.ndarray

    def __len__(self) -> int:
        return len(self.ux)

    @property
    def n_distinct(self) -> int:
        """Number of distinct points."""
        return len(self.ux)


def as_xy(x, y) -> tuple[np.ndarray, np.ndarray]:
    """``x`` and ``y`` as equal-length finite 1-D float64 arrays, or ``ValueError``."""
    xa = np.ascontiguousarray(x, dtype=np.float64)
    ya = np.ascontiguousarray(y, dtype=np.float64)
    if xa.ndim != 1 or ya.shape != xa.shape:
        raise ValueError(
            f"x and y must be 1-D arrays of one length; got shapes {xa.shape} and {ya.shape}"
        )
    bad = ~(np.isfinite(xa) & np.isfinite(ya))
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"coordinates must be finite numbers; {int(bad.sum())} are not "
            f"(first at index {first}: x={xa[first]!r}, y={ya[first]!r})"
        )
    return xa, ya


def as_weight(weight, n: int) -> np.ndarray:
    """``weight`` as a non-negative finite float64 array of length ``n`` (ones if ``None``)."""
    if weight is None:
        return np.ones(n)
    w = np.ascontiguousarray(weight, dtype=np.float64)
    if w.shape != (n,):
        raise ValueError(f"weight must have one value per point ({n}); got shape {w.shape}")
    bad = ~np.isfinite(w) | (w < 0)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"weights must be finite and >= 0; {int(bad.sum())} are not "
            f"(first at index {first}: {w[first]!r})"
        )
    return w


def collapse(x, y, weight=None) -> WeightedPoints:
    """Merge input points with exactly equal coordinates, summing their weights.

    Parameters
    ----------
    x, y : array_like
        Coordinates (any units; metres for the analysis), finite.
    weight : array_like, optional
        Non-negative weight per point; default 1 (so ``weight`` counts points).

    Returns
    -------
    WeightedPoints
        Distinct points in order of first appearance, with ``inverse`` mapping
        every input point to its distinct point.

    Notes
    -----
    Vectorised (:func:`hotspots.uniq.first_seen_pairs`): one hash pass over a 64-bit
    key mixed from the coordinates' bit patterns, then every point compared exactly
    with its group's first (no rounding: points one ulp apart stay apart). Should two
    different points share a key (astronomically rare), the groups are found by an
    exact sort instead, so the result is always exact.

    Examples
    --------
    >>> wp = collapse([0.0, 1.0, 0.0, 2.0], [5.0, 5.0, 5.0, 5.0])
    >>> wp.ux.tolist(), wp.weight.tolist(), wp.inverse.tolist()
    ([0.0, 1.0, 2.0], [2.0, 1.0, 1.0], [0, 1, 0, 2])
    """
    xa, ya = as_xy(x, y)
    n = len(xa)
    w = as_weight(weight, n)
    if n == 0:
        empty = np.empty(0, dtype=np.intp)
        return WeightedPoints(np.empty(0), np.empty(0), np.empty(0), empty, 0, empty)
    first_index, inverse = first_seen_pairs(xa, ya)
    total = np.bincount(inverse, weights=w, minlength=len(first_index))
    return WeightedPoints(
        ux=xa[first_index],
        uy=ya[first_index],
        weight=total,
        inverse=inverse,
        n_input=n,
        first_index=first_index,
    )


# ----------------------------------------------------------------------------- grid

#: Largest dense cell lookup table (entries); beyond it, cells are found by binary search.
_MAX_TABLE = 1 << 24


@dataclass(frozen=True)
class CellGrid:
    """Distinct weighted points bucketed into square cells, for exact radius searches.

    Built by :func:`cell_grid`, which also merges repeated coordinates. Arrays
    prefixed ``p_`` have one entry per distinct point, in cell order; ``c_``
    one entry per non-empty cell. ``c_xmin`` … ``c_ymax`` bound the points
    actually in each cell, which gives exact float64 bounds on every
    point-to-cell distance (see :meth:`box_d2`).

    Attributes
    ----------
    inverse : numpy.ndarray
        For each input point, its distinct point (index into ``p_*``).
    p_first : numpy.ndarray
        For each distinct point, the smallest input index at it.
    """

    cell_m: float
    x0: float
    y0: float
    p_x: np.ndarray
    p_y: np.ndarray
    p_weight: np.ndarray
    p_first: np.ndarray
    p_cell: np.ndarray
    inverse: np.ndarray
    c_key: np.ndarray
    c_start: np.ndarray
    c_count: np.ndarray
    c_weight: np.ndarray
    c_xmin: np.ndarray
    c_xmax: np.ndarray
    c_ymin: np.ndarray
    c_ymax: np.ndarray
    stride: int
    table: np.ndarray | None

    @property
    def n_cells(self) -> int:
        return len(self.c_key)

    @property
    def n_points(self) -> int:
        return len(self.p_x)

    def neighbour(self, cells: np.ndarray, dx: int, dy: int) -> np.ndarray:
        """Index of the cell ``(dx, dy)`` cells away from each of ``cells`` (-1: empty)."""
        keys = self.c_key[cells] + (dx * self.stride + dy)
        if self.table is not None:
            return self.table[keys]
        pos = np.searchsorted(self.c_key, keys)
        pos[pos == len(self.c_key)] = 0
        return np.where(self.c_key[pos] == keys, pos, -1)

    def box_d2(self, px: np.ndarray, py: np.ndarray, cells: np.ndarray):
        """Squared distances from points to the nearest and farthest corner of cells' boxes.

        Computed with the same float64 operations as a point-to-point squared
        distance, so for every point ``q`` in the cell the computed
        ``(px - qx)**2 + (py - qy)**2`` lies between the two bounds, exactly.
        """
        # In-place arithmetic: fewer temporaries, same float64 operations.
        lo_x = self.c_xmin[cells]
        np.subtract(px, lo_x, out=lo_x)  # px - xmin
        hi_x = self.c_xmax[cells]
        np.subtract(hi_x, px, out=hi_x)  # xmax - px
        lo_y = self.c_ymin[cells]
        np.subtract(py, lo_y, out=lo_y)
        hi_y = self.c_ymax[cells]
        np.subtract(hi_y, py, out=hi_y)
        # Far corner: the larger of the two gaps on each axis.
        far = np.maximum(lo_x, hi_x)
        far *= far
        fy = np.maximum(lo_y, hi_y)
        fy *= fy
        far += fy
        # Near side: how far the point lies outside the box on each axis (0 inside).
        np.negative(np.minimum(lo_x, hi_x, out=lo_x), out=lo_x)
        np.maximum(lo_x, 0.0, out=lo_x)
        np.negative(np.minimum(lo_y, hi_y, out=lo_y), out=lo_y)
        np.maximum(lo_y, 0.0, out=lo_y)
        lo_x *= lo_x
        lo_y *= lo_y
        lo_x += lo_y
        return lo_x, far

    def _reach(self, pos: np.ndarray, reach: float):
        """Cell column/row of points ``pos`` and which far columns/rows they may reach.

        A cell two columns away is within ``reach`` only from the near side of
        a point's own cell; the test is conservative by a relative 1e-6.
        """
        ratio = reach / self.cell_m
        if not ratio < 2.0:
            raise ValueError(f"reach {reach} m is more than two cells of {self.cell_m} m")
        key = self.c_key[self.p_cell[pos]]
        cx, cy = np.divmod(key, self.stride)
        u = (self.p_x[pos] - self.x0) / self.cell_m - (cx - 2)
        v = (self.p_y[pos] - self.y0) / self.cell_m - (cy - 2)
        far, near = 2.0 - ratio - 1e-6, ratio - 1.0 + 1e-6
        return cx, cy, {(0, 2): u >= far, (0, -2): u <= near, (1, 2): v >= far, (1, -2): v <= near}

    def reachable_offsets(self, pos: np.ndarray, reach: float, include_self: bool = False):
        """``(dx, dy, subset)`` for the cell offsets points ``pos`` may reach within ``reach``.

        ``subset`` indexes ``pos``: the points whose place in their cell lets
        them come within ``reach`` of that neighbouring cell. No pair within
        reach is left out.
        """
        side = self._reach(pos, reach)[2]
        every = np.arange(len(pos))
        out = []
        for dx in range(-2, 3):
            for dy in range(-2, 3):
                if dx == 0 and dy == 0 and not include_self:
                    continue
                mask = None
                for axis, d in ((0, dx), (1, dy)):
                    if abs(d) == 2:
                        mask = side[axis, d] if mask is None else mask & side[axis, d]
                out.append((dx, dy, every if mask is None else np.flatnonzero(mask)))
        return out

    def reachable_sums(self, cell_values: np.ndarray, pos: np.ndarray, reach: float):
        """Sum of ``cell_values`` over the block of cells each of points ``pos`` may reach.

        An upper bound on any non-negative per-cell total within ``reach`` of
        each point (a 3–4 × 3–4 block, by the point's place in its cell), from
        a summed-area table: four look-ups per point. ``None`` when the cells
        are too sparse for a dense table.
        """
        if self.table is None:
            return None
        ncx = len(self.table) // self.stride
        # Summed-area table with a zero first row and column, built in place.
        table = np.zeros((ncx + 1, self.stride + 1))
        cx, cy = np.divmod(self.c_key, self.stride)
        table[cx + 1, cy + 1] = cell_values
        np.cumsum(table, axis=0, out=table)
        np.cumsum(table, axis=1, out=table)
        cx, cy, side = self._reach(pos, reach)
        a = cx - 1 - side[0, -2]
        b = cx + 2 + side[0, 2]  # exclusive
        c = cy - 1 - side[1, -2]
        d = cy + 2 + side[1, 2]
        return table[b, d] - table[a, d] - table[b, c] + table[a, c]


def cell_grid(x: np.ndarray, y: np.ndarray, weight: np.ndarray, cell_m: float) -> CellGrid:
    """Merge repeated coordinates and bucket the distinct points into cells of ``cell_m``.

    One sort does both: by a 64-bit key whose high bits are the cell and low
    bits a hash of the exact coordinates (an exact lexicographic sort is used
    instead if two different points share a key, or if there are too many
    cells to leave room for the hash). Coordinates are kept as given; cells
    have a margin of two empty columns/rows on every side, so neighbour keys
    up to two cells away never wrap.
    """
    n = len(x)
    x0, y0 = (float(x.min()), float(y.min())) if n else (0.0, 0.0)
    cx = np.floor((x - x0) / cell_m).astype(np.int64) + 2
    cy = np.floor((y - y0) / cell_m).astype(np.int64) + 2
    stride = int(cy.max()) + 3 if n else 5
    size = (int(cx.max()) + 3 if n else 5) * stride
    if size >= 1 << 62:
        raise ValueError(
            f"cells of {cell_m} m over an extent of {float(np.ptp(x)):.0f} × "
            f"{float(np.ptp(y)):.0f} m are too many to index; use a larger radius"
        )
    key = cx * stride + cy
    del cx, cy
    xb = (x + 0.0).view(np.uint64)  # + 0.0 folds -0.0 into 0.0
    yb = (y + 0.0).view(np.uint64)
    order = None
    bits = size.bit_length()
    if bits <= 40:
        with np.errstate(over="ignore"):
            mixed = xb * MIX_X ^ (yb * MIX_Y + (xb >> np.uint64(29)))
        full = (key.astype(np.uint64) << np.uint64(64 - bits)) | (mixed >> np.uint64(bits))
        del mixed
        order = np.argsort(full)
        full = full[order]
        same_key = full[1:] == full[:-1]
        del full
        xs, ys = xb[order], yb[order]
        same = (xs[1:] == xs[:-1]) & (ys[1:] == ys[:-1])
        if np.any(same_key & ~same):
            order = None
    if order is None:
        order = np.lexsort((yb, xb, key))
        xs, ys = xb[order], yb[order]
        same = (xs[1:] == xs[:-1]) & (ys[1:] == ys[:-1])
    del xs, ys, xb, yb
    new = np.empty(n, dtype=bool)
    new[:1] = True
    np.logical_not(same, out=new[1:])
    del same
    starts = np.flatnonzero(new)
    inverse = np.empty(n, dtype=np.intp)
    inverse[order] = np.cumsum(new) - 1
    del new
    take = order[starts]
    p_x, p_y = x[take], y[take]
    if len(starts) == n:  # no repeated coordinates
        p_w, p_first = weight[order], order
    else:
        p_w = np.add.reduceat(weight[order], starts)
        p_first = np.minimum.reduceat(order, starts)
    key = key[take]
    del order, take, starts
    m = len(key)
    newc = np.empty(m, dtype=bool)
    newc[:1] = True
    np.not_equal(key[1:], key[:-1], out=newc[1:])
    c_start = np.flatnonzero(newc)
    c_count = np.diff(np.append(c_start, m))
    p_cell = np.cumsum(newc) - 1
    table = None
    if size <= max(_MAX_TABLE, 8 * m) and size <= 1 << 31:
        table = np.full(size, -1, dtype=np.int64 if len(c_start) >= 1 << 31 else np.int32)
        table[key[c_start]] = np.arange(len(c_start))

    def per_cell(ufunc, values):
        return ufunc.reduceat(values, c_start) if m else np.empty(0)

    return CellGrid(
        cell_m=float(cell_m),
        x0=x0,
        y0=y0,
        p_x=p_x,
        p_y=p_y,
        p_weight=p_w,
        p_first=p_first,
        p_cell=p_cell,
        inverse=inverse,
        c_key=key[c_start],
        c_start=c_start,
        c_count=c_count,
        c_weight=per_cell(np.add, p_w),
        c_xmin=per_cell(np.minimum, p_x),
        c_xmax=per_cell(np.maximum, p_x),
        c_ymin=per_cell(np.minimum, p_y),
        c_ymax=per_cell(np.maximum, p_y),
        stride=stride,
        table=table,
    )


def expand_ranges(starts: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All ``(owner, element)`` pairs for ranges ``[starts[i], starts[i] + lengths[i])``.

    ``owner`` indexes ``starts``; ``element`` runs through each range in turn.

    Examples
    --------
    >>> owner, element = expand_ranges(np.array([10, 3]), np.array([2, 3]))
    >>> owner.tolist(), element.tolist()
    ([0, 0, 1, 1, 1], [10, 11, 3, 4, 5])
    """
    lengths = np.asarray(lengths, dtype=np.int64)
    owner = np.repeat(np.arange(len(lengths)), lengths)
    shift = np.asarray(starts, dtype=np.int64) - (np.cumsum(lengths) - lengths)
    return owner, np.arange(int(lengths.sum()), dtype=np.int64) + shift[owner]


def blocks(lengths: np.ndarray, budget: int) -> list[slice]:
    """Consecutive slices of ``lengths`` whose sums stay near ``budget`` (one item at least)."""
    if len(lengths) == 0:
        return []
    ends = np.cumsum(lengths)
    cuts = np.searchsorted(ends, np.arange(budget, int(ends[-1]), budget), side="right")
    edges = np.unique(np.concatenate(([0], cuts, [len(lengths)])))
    return [slice(int(a), int(b)) for a, b in itertools.pairwise(edges) if b > a]


__all__ = [
    "CellGrid",
    "WeightedPoints",
    "as_weight",
    "as_xy",
    "blocks",
    "cell_grid",
    "collapse",
    "expand_ranges",
]
