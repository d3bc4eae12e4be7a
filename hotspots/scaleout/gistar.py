"""Getis-Ord Gi* and Emerging Hot Spot Analysis on a Dask cluster, cell partition by
cell partition, with the single machine's numbers.

The grid (every cell of the study area, sorted by H3 id) is cut into the runs of
cells sharing an H3 parent (:func:`hotspots.scaleout.partition.cell_slices`).

1. Global pass: the mean and standard deviation of the values over all ``n`` cells
   (and, with permutations, the largest neighbourhood and the random draws, drawn
   once from the run's seed exactly as :func:`hotspots.gistar.permutation_counts`
   draws them).
2. Per partition, on a worker: the k-ring of each of its cells (h3ronpy), i.e. its
   rows of the adjacency with the halo of neighbouring partitions' cells, the z-scores
   (:func:`hotspots.gistar.analytical_rows`) and the permutation counts
   (:func:`hotspots.gistar.counts_for_rows`). A cell's draws are the run's draws read
   from its own position, so its p-value does not depend on the partitioning.
3. Reduce: p-values, the FDR correction over all cells and the classes
   (:func:`hotspots.gistar.finish`). Emerging hot spots do the monthly Gi* and the
   Mann–Kendall trend and category of each cell inside the partition
   (:func:`hotspots.emerging.from_series`).

The values of all cells travel to every worker once (``Client.scatter(broadcast=True)``):
a permutation draws any cell of the area, and the cells × months of England and
Wales at res 9 are ≈ 1.4M × 36 × 8 bytes ≈ 0.4 GB, well within a worker.
"""

from __future__ import annotations

import h3ronpy
import numpy as np
import pyarrow as pa
from scipy import sparse

from ..emerging import EmergingResult, from_series, month_generators
from ..gistar import GiStarResult, _random_neighbour_ids, analytical_rows, counts_for_rows, finish


def adjacency_rows(ids: np.ndarray, part: slice, k: int) -> sparse.csr_matrix:
    """Rows ``part`` of the grid's binary k-ring adjacency (self included): the same
    entries as :meth:`hotspots.grid.Grid.neighbours`."""
    own = ids[part]
    n = ids.size
    disks = pa.array(h3ronpy.grid_disk(pa.array(own.astype(np.uint64)), int(k)))
    lengths = np.diff(np.asarray(disks.offsets))
    cols = np.asarray(disks.values).astype(np.int64)
    rows = np.repeat(np.arange(own.size), lengths)
    pos = np.searchsorted(ids, cols)
    pos[pos == n] = 0
    keep = ids[pos] == cols
    W = sparse.csr_matrix((np.ones(int(keep.sum())), (rows[keep], pos[keep])), shape=(own.size, n))
    W.sort_indices()
    return W


def _part_gi(ids, values, part, k, mean, std, rids):
    """One partition's z, neighbourhood sizes and permutation counts (on a worker)."""
    W = adjacency_rows(ids, part, k)
    z, card = analytical_rows(values, W, mean, std)
    counts = None
    if rids is not None:
        counts = counts_for_rows(values, W, np.arange(part.start, part.stop), rids)
    return z, card, counts


def _kmax(ids, part, k) -> int:
    W = adjacency_rows(ids, part, k)
    return int((np.diff(W.indptr) - 1).max()) if W.shape[0] else 0


def _draws(engine, ids, parts, k, n, permutations, generators) -> list:
    """The random neighbour indices of each month (one entry per generator), drawn as
    the single run draws them: ``permutations × max(c_i − 1)`` over all cells."""
    if not permutations:
        return [None] * len(generators)
    kmax = max(engine.map(_kmax, [(ids, p, k) for p in parts], "largest neighbourhood"))
    if kmax == 0:
        return [None] * len(generators)
    return [_random_neighbour_ids(g, n, kmax, int(permutations)) for g in generators]


def gi_star(engine, values, ids, parts, k=1, permutations=0, seed=0, fdr=False) -> GiStarResult:
    """:func:`hotspots.gistar.gi_star` of the grid ``ids`` (sorted int64 H3 ids) on the
    engine's cluster, one task per partition ``parts`` (slices of ``ids``)."""
    y = np.asarray(values, float)
    n = y.size
    rids = _draws(engine, ids, parts, k, n, permutations, [np.random.default_rng(seed)])[0]
    shared = engine.share(ids, y)
    out = engine.map(
        _part_gi,
        [(*shared, p, k, float(y.mean()), float(y.std()), rids) for p in parts],
        "Gi* per partition",
    )
    z = np.concatenate([o[0] for o in out]) if out else np.zeros(0)
    card = np.concatenate([o[1] for o in out]) if out else np.zeros(0)
    counts = None
    if rids is not None:
        counts = tuple(np.concatenate([o[2][i] for o in out]) for i in range(2))
    elif permutations:  # no cell has another neighbour: every draw equals the observed
        counts = (np.full(n, int(permutations)), np.full(n, int(permutations)))
    return finish(z, card, counts, permutations, fdr)


def _part_emerging(ids, monthly, part, k, stats, draws, permutations, alpha, sporadic):
    W = adjacency_rows(ids, part, k)
    t = monthly.shape[0]
    z = np.zeros((W.shape[0], t))
    bins = np.zeros((W.shape[0], t), dtype=np.int8)
    rows = np.arange(part.start, part.stop)
    for j in range(t):
        y = monthly[j]  # months × cells: each month's values contiguous
        zj, card = analytical_rows(y, W, *stats[j])
        counts = None
        if permutations:
            counts = (
                counts_for_rows(y, W, rows, draws[j])
                if draws[j] is not None
                else (np.full(rows.size, permutations), np.full(rows.size, permutations))
            )
        r = finish(zj, card, counts, permutations, fdr=False)
        z[:, j], bins[:, j] = r.z, r.gi_bin
    return from_series(z, bins, np.arange(t), alpha, sporadic)


def emerging_hotspots(
    engine,
    monthly_values,
    ids,
    parts,
    k=1,
    alpha=0.10,
    permutations=0,
    seed=0,
    sporadic_needs_final=False,
) -> EmergingResult:
    """:func:`hotspots.emerging.emerging_hotspots` (without FDR) on the engine's cluster."""
    x = np.asarray(monthly_values, float)
    missing = np.isnan(x)
    if (missing.any(axis=0) & ~missing.all(axis=0)).any():
        raise ValueError("monthly_values: a month with no data must be NaN in every cell")
    used = np.flatnonzero(~missing.all(axis=0)) if x.shape[0] else np.arange(x.shape[1])
    by_month = np.ascontiguousarray(x[:, used].T)  # months × cells
    t, n = by_month.shape
    draws = _draws(engine, ids, parts, k, n, permutations, month_generators(seed, t))
    stats = [(float(v.mean()), float(v.std())) for v in by_month]
    shared = engine.share(ids, by_month)
    out = engine.map(
        _part_emerging,
        [
            (*shared, p, k, stats, draws, int(permutations), alpha, sporadic_needs_final)
            for p in parts
        ],
        "emerging hot spots per partition",
    )
    if not out:
        return from_series(np.zeros((0, t)), np.zeros((0, t), np.int8), used, alpha)
    fields = EmergingResult.__dataclass_fields__
    merged = {f: np.concatenate([getattr(o, f) for o in out]) for f in fields if f != "months_used"}
    return EmergingResult(**merged, months_used=used)
