"""Getis-Ord Gi* local statistic with analytical and conditional-permutation inference.

Gi* compares the sum of a variable over a cell's neighbourhood (the cell
itself included) with what the study-area mean would give. Weights are
binary: ``W[i, j] = 1`` if cell ``j`` is in cell ``i``'s neighbourhood,
``W[i, i] = 1``. With ``c_i = Σ_j W[i, j]``, ``n`` cells, mean ``ȳ`` and
standard deviation ``s`` (denominator ``n``)::

    z_i = (Σ_j W[i, j] y_j − ȳ c_i) / (s √((n c_i − c_i²) / (n − 1)))

which is Getis & Ord (1992) / Ord & Getis (1995) and exactly what
``esda.G_Local(y, w, transform="B", star=True)`` computes as ``Zs`` when the
weights carry the self-neighbour (esda keeps a non-zero diagonal as is and
fills an empty one with 1 for binary weights, so both agree).

Classes follow ArcGIS's ``Gi_Bin``: ``+3/+2/+1`` hot at 99/95/90 %
confidence, ``−3/−2/−1`` cold, 0 not significant.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse, stats

CONFIDENCE_ALPHA = (0.10, 0.05, 0.01)  # 90 %, 95 %, 99 %: Gi_Bin ±1, ±2, ±3
_BLOCK_ELEMENTS = 4_000_000  # float64 cells × permutations per block (32 MB)


@dataclass
class GiStarResult:
    """Gi* per cell, aligned with the input values.

    Attributes
    ----------
    z : analytical z-score.
    p : two-sided p-value of ``z`` under the normal approximation.
    p_sim : one-sided conditional-permutation pseudo p-value,
        ``(min(n_ge, n_le) + 1) / (P + 1)``; NaN when ``permutations == 0``.
    p_fdr : Benjamini–Hochberg adjusted two-sided p (of ``p``, or of
        ``min(1, 2 p_sim)`` with permutations).
    gi_bin : −3…+3 (int8), as ArcGIS's Gi_Bin; FDR-based when ``fdr``.
    n_neighbours : neighbourhood size ``c_i``, the cell itself included.
    """

    z: np.ndarray
    p: np.ndarray
    p_sim: np.ndarray
    p_fdr: np.ndarray
    gi_bin: np.ndarray
    n_neighbours: np.ndarray
    permutations: int = 0
    fdr: bool = False


def _check(values, W) -> tuple[np.ndarray, sparse.csr_matrix]:
    y = np.asarray(values, dtype=float).ravel()
    if not np.all(np.isfinite(y)):
        raise ValueError(f"values: expected finite numbers, got {np.sum(~np.isfinite(y))} NaN/inf")
    W = sparse.csr_matrix(W, dtype=float, copy=True)
    if W.shape != (y.size, y.size):
        raise ValueError(f"W: expected shape {(y.size, y.size)} to match values, got {W.shape}")
    W.sum_duplicates()
    W.eliminate_zeros()
    if np.any(W.data != 1.0):
        raise ValueError("W: expected binary weights (every stored weight 1)")
    if np.any(W.diagonal() != 1.0):
        missing = int(np.sum(W.diagonal() != 1.0))
        raise ValueError(
            f"W: expected the cell itself in its neighbourhood (diagonal 1) for Gi*, "
            f"got {missing} cells without it (add scipy.sparse.identity)"
        )
    W.sort_indices()
    return y, W


def benjamini_hochberg(p: np.ndarray) -> np.ndarray:
    """Benjamini–Hochberg adjusted p-values: ``min_{k ≥ rank} (m p_(k) / k)``, capped at 1.

    ``adjusted ≤ α`` exactly when ``p`` passes the BH step-up procedure at
    level ``α`` (largest ``k`` with ``p_(k) ≤ k α / m``).
    """
    p = np.asarray(p, dtype=float)
    m = p.size
    if m == 0:
        return p.copy()
    order = np.argsort(p, kind="stable")
    scaled = p[order] * m / np.arange(1, m + 1)
    adjusted = np.minimum.accumulate(scaled[::-1])[::-1]
    out = np.empty(m)
    out[order] = np.minimum(adjusted, 1.0)
    return out


def gi_bins(z: np.ndarray, p: np.ndarray, alpha: Sequence[float] = CONFIDENCE_ALPHA) -> np.ndarray:
    """ArcGIS-style classes: ``sign(z) × #{α in alpha : p < α}`` (int8).

    With the default ``alpha = (0.10, 0.05, 0.01)`` a cell with ``p < 0.01``
    and ``z > 0`` is +3 (hot, 99 %), ``p < 0.05`` is ±2, ``p < 0.10`` ±1,
    otherwise 0. For the normal p this is ``|z|`` above 1.645 / 1.960 / 2.576.
    """
    levels = np.sort(np.asarray(alpha, dtype=float))[::-1]
    if levels.size != 3 or not np.all((levels > 0) & (levels < 1)):
        raise ValueError(f"alpha: expected three levels in (0, 1), got {tuple(alpha)}")
    p = np.asarray(p, dtype=float)
    count = (p[..., None] < levels).sum(axis=-1)
    sign = np.sign(np.nan_to_num(np.asarray(z, dtype=float)))
    return (sign * count).astype(np.int8)


def _analytical(y: np.ndarray, W: sparse.csr_matrix) -> tuple[np.ndarray, np.ndarray]:
    return analytical_rows(
        y, W, float(y.mean()) if y.size else 0.0, float(y.std()) if y.size else 0.0
    )


def analytical_rows(
    y: np.ndarray, W: sparse.csr_matrix, mean: float, std: float
) -> tuple[np.ndarray, np.ndarray]:
    """Gi* z of the rows of ``W`` (any subset of cells × all ``n`` cells of ``y``), given
    the mean and standard deviation of all ``n`` values: ``(z, c)`` per row. One machine
    passes every row; a partition of a Dask run its own (:mod:`hotspots.scaleout`)."""
    n = y.size
    card = np.diff(W.indptr).astype(float)
    if n == 0:
        return np.zeros(0), card
    spread = std * np.sqrt(np.maximum(n * card - card**2, 0.0) / max(n - 1, 1))
    num = W @ y - mean * card
    z = np.zeros(card.size)
    ok = spread > 0
    z[ok] = num[ok] / spread[ok]
    return z, card


def _random_neighbour_ids(rng: np.random.Generator, n: int, k: int, permutations: int):
    """``permutations × k`` draws from ``range(n − 1)``, distinct within each row (as esda)."""
    ids = rng.integers(0, n - 1, size=(permutations, k))
    if k > 1:
        s = np.sort(ids, axis=1)
        for row in np.flatnonzero((s[:, 1:] == s[:, :-1]).any(axis=1)):
            ids[row] = rng.choice(n - 1, size=k, replace=False)
    return ids


def permutation_counts(
    values: np.ndarray,
    W: sparse.csr_matrix,
    permutations: int = 999,
    seed: int | np.random.Generator | None = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Conditional-permutation counts for Gi*: how many draws are ≥ and ≤ the observed.

    Same scheme as esda's ``crand`` (Anselin 1995): the cell's own value
    stays fixed and its ``c_i − 1`` other neighbours are replaced by values
    drawn without replacement from the *other* ``n − 1`` cells. As in esda,
    one set of random indices ``r`` (``permutations × max(c_i − 1)``,
    distinct within a row, drawn from ``range(n − 1)``) serves every cell:
    cell ``i`` takes the first ``c_i − 1`` of them and reads index ``r`` as
    cell ``r + (r ≥ i)``, i.e. skips itself.

    Vectorisation: take one permutation and the cells with ``c`` other
    neighbours. The simulated sum of their neighbours is, for cell ``i``,
    ``Σ_{t<c} y[r_t + (r_t ≥ i)] = A + Σ_{t<c} [r_t < i] (y[r_t] − y[r_t + 1])``
    with ``A = Σ_{t<c} y[r_t + 1]``: a step function of ``i`` with at most
    ``c`` steps. So, for all permutations at once, the simulated sums of
    these cells (in index order) are one cumulative sum, down the cells, of
    a sparse matrix holding ``A`` and the ``P × c`` steps. It is built block
    by block (at most ``4·10⁶`` float64 values, 32 MB, at a time — never
    cells × permutations at once) and compared with the observed sums.
    Cost: ``O(n × P)`` vectorised operations instead of esda's per-cell
    loop over gathered random neighbours.

    Ties count on both sides: ``n_ge`` counts draws ≥ the observed, ``n_le``
    draws ≤ it (within a relative ``1e-9`` of the largest possible
    neighbourhood sum, so floating-point summation order cannot split a tie).

    Returns
    -------
    (n_ge, n_le) : int arrays per cell. Cells without other neighbours get
        ``P`` for both (every draw equals the observed).
    """
    y, W = _check(values, W)
    P = int(permutations)
    if P < 1:
        raise ValueError(f"permutations: expected ≥ 1, got {permutations}")
    n = y.size
    other = np.diff(W.indptr) - 1  # neighbours besides the cell itself
    kmax = int(other.max()) if n else 0
    if kmax == 0:
        return np.full(n, P, dtype=np.int64), np.full(n, P, dtype=np.int64)
    rids = _random_neighbour_ids(np.random.default_rng(seed), n, kmax, P)
    return counts_for_rows(y, W, np.arange(n), rids)


def counts_for_rows(
    y: np.ndarray, W: sparse.csr_matrix, rows: np.ndarray, rids: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`permutation_counts` of the cells ``rows`` (sorted positions in ``y``; ``W``
    holds their rows) with the random indices ``rids`` drawn for all ``n`` cells. The
    counts of a cell depend only on ``y``, its own neighbourhood and ``rids``, so any
    partition of the rows gives the single run's counts."""
    P, kmax = rids.shape
    rows = np.asarray(rows, np.int64)
    other = np.diff(W.indptr) - 1
    n_ge = np.full(rows.size, P, dtype=np.int64)
    n_le = np.full(rows.size, P, dtype=np.int64)
    observed = W @ y - y[rows]  # neighbour sum without the cell itself (fixed in every draw)
    tol = 1e-9 * max(float(np.abs(y).max()) * (kmax + 1), np.finfo(float).tiny)
    block = max(1, _BLOCK_ELEMENTS // P)
    perm = np.arange(P)
    for c in np.unique(other[other > 0]):
        sel = np.flatnonzero(other == c)
        cells = rows[sel]
        r = rids[:, :c]
        upper = y[r + 1]
        start = upper.sum(axis=1)
        step = (y[r] - upper).ravel()
        first = np.searchsorted(cells, (r + 1).ravel())  # first cell (rank) a step applies to
        order = np.argsort(first, kind="stable")
        first, step, owner = first[order], step[order], np.repeat(perm, c)[order]
        for a in range(0, cells.size, block):
            b = min(a + block, cells.size)
            done = np.searchsorted(first, a, side="right")
            upto = np.searchsorted(first, b - 1, side="right")
            sims = np.zeros((b - a, P))
            sims[0] = start + np.bincount(owner[:done], weights=step[:done], minlength=P)
            np.add.at(sims, (first[done:upto] - a, owner[done:upto]), step[done:upto])
            np.cumsum(sims, axis=0, out=sims)
            obs = observed[sel[a:b], None]
            n_ge[sel[a:b]] = np.count_nonzero(sims >= obs - tol, axis=1)
            n_le[sel[a:b]] = np.count_nonzero(sims <= obs + tol, axis=1)
    return n_ge, n_le


def gi_star(
    values: np.ndarray,
    W: sparse.csr_matrix,
    permutations: int = 0,
    seed: int | np.random.Generator | None = 0,
    fdr: bool = False,
    alpha: Sequence[float] = CONFIDENCE_ALPHA,
) -> GiStarResult:
    """Getis-Ord Gi* per cell, with ArcGIS-style hot/cold classes.

    Parameters
    ----------
    values : one number per cell (counts or harm), empty cells as 0.
    W : binary adjacency, cell itself included (diagonal 1), e.g.
        :meth:`hotspots.grid.Grid.neighbours`.
    permutations : conditional permutations for pseudo p-values (0: none;
        999 to reach the 99 % class, see below). See
        :func:`permutation_counts` for the method.
    seed : seed of ``numpy.random.default_rng``; same seed, same result.
    fdr : classify with Benjamini–Hochberg adjusted p-values.
    alpha : the three significance levels of classes 1, 2, 3.

    Returns
    -------
    GiStarResult

    Notes
    -----
    ``p_sim`` is one-sided, in the direction the observed sum lies:
    ``(min(n_ge, n_le) + 1) / (P + 1)``. Without ties this is esda's
    default ("directed": count draws ≥ observed, fold to the smaller tail),
    so it agrees with ``esda.G_Local(..., star=True).p_sim`` within Monte
    Carlo error. esda's fold counts ties only on the upper side, so a cell
    whose draws all equal the observed (an empty cell among empty cells, an
    island) gets esda's smallest p, ``1/(P + 1)``; here it gets 1.

    Classification uses a two-sided p: ``p`` (normal), or with permutations
    ``min(1, 2 p_sim)``, so 95 % means the same as ``|z| > 1.96`` and the
    smallest attainable value is ``2 / (P + 1)`` (99 % needs P ≥ 200). With
    FDR that floor matters more: BH over ``m`` cells passes level ``α`` only
    if at least ``m · 2 / ((P + 1) α)`` cells sit at the floor (999
    permutations, 3,500 cells: 700 cells for 99 %), so combine ``fdr`` with
    the analytical p or with 9,999 permutations.
    ``p_fdr`` is that p adjusted by Benjamini–Hochberg over all cells. The
    class is ``sign(z) × #{α in alpha : p' < α}`` with ``p' = p_fdr`` if
    ``fdr`` else the two-sided p. Since ``p_fdr ≤ α`` exactly when the cell
    passes BH at level ``α``, this is ArcGIS's FDR rule: BH applied
    separately at each confidence level. With permutations a cell is also
    0 when the permutation tail (``n_ge < n_le``: high) disagrees with the
    sign of ``z`` — possible when the cell's own value, fixed in every draw,
    drives ``z``.

    A constant variable (or a neighbourhood of every cell) gives ``z = 0``.
    """
    y, W = _check(values, W)
    z, card = _analytical(y, W)
    counts = permutation_counts(y, W, int(permutations), seed) if permutations else None
    return finish(z, card, counts, permutations, fdr, alpha)


def finish(
    z: np.ndarray,
    card: np.ndarray,
    counts: tuple[np.ndarray, np.ndarray] | None,
    permutations: int = 0,
    fdr: bool = False,
    alpha: Sequence[float] = CONFIDENCE_ALPHA,
) -> GiStarResult:
    """p-values and classes from the z-scores and permutation counts of every cell
    (the FDR correction is over all cells, so it runs once, after any partitioned work)."""
    p = 2.0 * stats.norm.sf(np.abs(z))
    p_sim = np.full(z.size, np.nan)
    p_two = p
    agree = np.ones(z.size, dtype=bool)
    if permutations:
        P = int(permutations)
        n_ge, n_le = counts
        p_sim = (np.minimum(n_ge, n_le) + 1.0) / (P + 1.0)
        p_two = np.minimum(1.0, 2.0 * p_sim)
        agree = np.sign(n_le - n_ge) == np.sign(z)
    p_fdr = benjamini_hochberg(p_two)
    bins = gi_bins(z, p_fdr if fdr else p_two, alpha)
    bins[~agree] = 0
    return GiStarResult(
        z=z,
        p=p,
        p_sim=p_sim,
        p_fdr=p_fdr,
        gi_bin=bins,
        n_neighbours=card.astype(np.int64),
        permutations=int(permutations),
        fdr=bool(fdr),
    )
