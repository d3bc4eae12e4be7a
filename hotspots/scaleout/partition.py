"""Partitions of points and of grid cells by H3 parent cell.

A partition is every incident (or grid cell) whose H3 cell at a coarse *parent*
resolution is the same: res 4 ≈ 1,770 km², res 5 ≈ 250 km², res 6 ≈ 36 km². A
borough is a handful of res-5 partitions, England and Wales about 600.

Grid cells sort by their 64-bit H3 index, and the resolution field sits above the
base cell and digits in that index, so the children of one parent are one
contiguous run of a sorted grid: a partition of cells is a slice, and the
concatenation of the partitions in parent order is the single-machine grid.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import h3ronpy
import numpy as np
import pyarrow as pa

from geodata.partitioned import PARENT_RES, check_parent_res, parent_cells  # noqa: F401 (re-exported)

from ..uniq import first_seen_pairs, unique_inverse

DEFAULT_PARENT_RES = 5


def point_parents(lat, lon, parent_res: int) -> np.ndarray:
    """H3 parent cell (int64) of each point, computed once per distinct coordinate;
    -1 where a coordinate is missing."""
    lat = np.asarray(lat, float)
    lon = np.asarray(lon, float)
    out = np.full(lat.size, -1, np.int64)
    ok = np.isfinite(lat) & np.isfinite(lon)
    if not ok.any():
        check_parent_res(parent_res)
        return out
    lat, lon = lat[ok], lon[ok]
    first, inverse = first_seen_pairs(lat, lon)  # police.uk: a few points per street
    out[ok] = parent_cells(lat[first], lon[first], parent_res)[inverse]
    return out


def cell_parents(cells: np.ndarray, parent_res: int) -> np.ndarray:
    """H3 parent (int64) of each grid cell id (int64)."""
    parent_res = check_parent_res(parent_res)
    ids = pa.array(np.asarray(cells, np.int64).astype(np.uint64))
    return np.asarray(pa.array(h3ronpy.change_resolution(ids, parent_res))).astype(np.int64)


@dataclass(frozen=True)
class Groups:
    """Rows grouped by partition: ``order[starts[g]:starts[g + 1]]`` are group ``g``'s rows
    (in their original order), ``keys[g]`` its parent cell."""

    keys: np.ndarray
    order: np.ndarray
    starts: np.ndarray

    def __len__(self) -> int:
        return self.keys.size

    def rows(self, g: int) -> np.ndarray:
        return self.order[self.starts[g] : self.starts[g + 1]]


def group(parents: np.ndarray) -> Groups:
    """Group rows by parent cell (rows without one, -1, are left out)."""
    keys, inverse = unique_inverse(parents)
    order = np.argsort(inverse, kind="stable")
    starts = np.searchsorted(inverse[order], np.arange(keys.size + 1))
    drop = int(np.searchsorted(keys, 0)) if keys.size and keys[0] < 0 else 0
    return Groups(keys[drop:], order, starts[drop:])


def cell_slices(cells: np.ndarray, parent_res: int) -> list[slice]:
    """Slices of a sorted grid (int64 H3 ids), one per parent cell, in order."""
    if not cells.size:
        return []
    parents = cell_parents(cells, parent_res)
    edges = np.flatnonzero(parents[1:] != parents[:-1]) + 1
    bounds = np.r_[0, edges, cells.size]
    if np.any(np.diff(parents[bounds[:-1]]) <= 0):
        raise ValueError("cells: expected H3 ids sorted ascending at one resolution")
    return [slice(int(a), int(b)) for a, b in itertools.pairwise(bounds)]
