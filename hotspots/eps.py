"""An eps for DBSCAN from the data: the knee of the k-distance curve."""

from __future__ import annotations

import math

import numpy as np

from .points import collapse


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
