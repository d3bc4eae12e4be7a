"""HDBSCAN at scale: scikit-learn's clusters from weighted distinct points.

``sklearn.cluster.HDBSCAN`` spends nearly all its time on the minimum spanning
tree of the mutual-reachability graph, which it grows with Prim's algorithm
over all pairs of points (O(n²): ~86 s at 100k incidents here). Police.uk
data is also highly repetitive: about 2.3 incidents per snap point. This
module gets the same hierarchy, and so the same clusters, much faster:

1. Repeated coordinates become one point weighted by how many incidents it
   holds (:func:`hotspots.points.collapse`).
2. Core distances are exact: for each distinct point, the smallest distance
   within which the total weight, itself included, reaches ``min_samples``
   — what scikit-learn measures as the distance to the ``min_samples``-th
   neighbour of each repeated point (:func:`core_distances`).
3. The minimum spanning tree of the distinct points' mutual-reachability
   graph comes from Borůvka's algorithm over a k-d tree
   (:func:`hotspots.mrd_mst.mutual_reachability_mst`).
4. The tree of the repeated points follows without more distances: the ``w``
   copies of a point are ``mrd = core`` apart and no edge leaving them is
   cheaper, so the ``w - 1`` edges joining them to the first copy at their
   core distance, plus the distinct points' tree, are a minimum spanning tree
   of all the incidents.
5. That tree, sorted by distance, goes through scikit-learn's own single-linkage
   construction and cluster extraction (``make_single_linkage``,
   ``tree_to_labels``: excess of mass or leaves, no single cluster), so every step after
   the spanning tree is scikit-learn's code.

Where several spanning-tree edges have exactly equal weights, scikit-learn's
order among them is that of an unstable sort; ours is stable (copies of one
point join one at a time). Clusters can then differ only when equal-weight
merges split a cluster into parts of at least ``min_cluster_size`` each, which
the tests check does not happen on snapped police.uk-like data.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

from .mrd_mst import mutual_reachability_mst
from .points import as_weight, as_xy, collapse


def core_distances(x, y, weight, min_samples: int) -> np.ndarray:
    """Distance within which each (distinct) point's total weight reaches ``min_samples``.

    The point's own weight counts, as scikit-learn counts a point among its own
    neighbours. ``inf`` where all the weight together is less than ``min_samples``.

    Examples
    --------
    >>> core_distances([0.0, 3.0, 10.0], [0.0, 4.0, 0.0], [2.0, 1.0, 1.0], 3).tolist()
    [5.0, 5.0, 10.0]
    """
    pts = np.column_stack([np.asarray(x, np.float64), np.asarray(y, np.float64)])
    w = np.asarray(weight, dtype=np.float64)
    n = len(pts)
    core = np.full(n, np.inf)
    if n == 0:
        return core
    tree = cKDTree(pts)
    todo = np.arange(n)
    k = min(int(min_samples), n)
    while len(todo):
        d, j = tree.query(pts[todo], k=k, workers=-1)
        d, j = d.reshape(len(todo), k), j.reshape(len(todo), k)
        wsum = np.cumsum(w[j], axis=1)
        ok = wsum[:, -1] >= min_samples
        first = np.argmax(wsum >= min_samples, axis=1)
        core[todo[ok]] = d[ok, first[ok]]
        if k >= n:
            break
        todo, k = todo[~ok], min(4 * k, n)
    return core


def hdbscan_labels(
    x,
    y,
    weight=None,
    min_cluster_size: int = 15,
    min_samples: int = 10,
    cluster_selection: str = "eom",
) -> tuple[np.ndarray, np.ndarray]:
    """HDBSCAN of points in metres: ``(labels, probabilities)`` per input point.

    The clusters of ``sklearn.cluster.HDBSCAN(min_cluster_size, min_samples)``
    run on the points with each one repeated ``weight`` times (see the module
    notes), computed without the O(n²) spanning tree.

    Parameters
    ----------
    x, y : array_like
        Coordinates in metres (projected), finite.
    weight : array_like, optional
        Whole number of incidents at each point (default 1); a point of weight
        0 is left out and labelled noise.
    min_cluster_size : int
        Smallest cluster, in incidents (>= 2).
    min_samples : int
        Incidents within a point's core distance, itself included (>= 1).
    cluster_selection : {"eom", "leaf"}
        scikit-learn's ``cluster_selection_method``: ``"eom"`` (excess of mass,
        its default) keeps the most persistent clusters, which on sparse data can
        be whole districts; ``"leaf"`` keeps the leaves of the condensed tree, the
        smallest dense places of at least ``min_cluster_size`` incidents.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        Cluster per input point (``-1`` for noise) and membership strength.

    Examples
    --------
    >>> x = np.r_[np.zeros(20), np.full(20, 500.0), 2000.0]
    >>> y = np.r_[np.arange(20.0), np.arange(20.0), 0.0]
    >>> labels, _ = hdbscan_labels(x, y, min_cluster_size=10, min_samples=5)
    >>> len(set(labels[:20].tolist())), len(set(labels[20:40].tolist())), int(labels[-1])
    (1, 1, -1)
    """
    from sklearn.cluster._hdbscan._linkage import MST_edge_dtype, make_single_linkage
    from sklearn.cluster._hdbscan._tree import tree_to_labels

    if int(min_cluster_size) != min_cluster_size or min_cluster_size < 2:
        raise ValueError(f"min_cluster_size must be an integer >= 2; got {min_cluster_size!r}")
    if int(min_samples) != min_samples or min_samples < 1:
        raise ValueError(f"min_samples must be an integer >= 1; got {min_samples!r}")
    if cluster_selection not in ("eom", "leaf"):
        raise ValueError(f"cluster_selection must be 'eom' or 'leaf'; got {cluster_selection!r}")
    xa, ya = as_xy(x, y)
    n = len(xa)
    w = as_weight(weight, n)
    if np.any(w != np.round(w)):
        raise ValueError(
            "HDBSCAN counts incidents: weights must be whole numbers (a point of weight w "
            "stands for w incidents at one spot); got fractional weights"
        )
    reps = w.astype(np.int64)
    labels = np.full(n, -1, dtype=np.int64)
    prob = np.zeros(n)
    n_run = int(reps.sum())
    if n_run <= min_cluster_size or n_run < min_samples:
        return labels, prob
    rows = np.flatnonzero(reps > 0)
    wp = collapse(xa[rows], ya[rows], reps[rows])
    # Distinct points in coordinate order: ties break the same whatever the row order.
    rank = np.empty(wp.n_distinct, dtype=np.int64)
    rank[np.lexsort((wp.uy, wp.ux))] = np.arange(wp.n_distinct)
    ux, uy, inverse = np.empty_like(wp.ux), np.empty_like(wp.uy), rank[wp.inverse]
    ux[rank], uy[rank] = wp.ux, wp.uy
    count = np.empty(wp.n_distinct, dtype=np.int64)
    count[rank] = wp.weight.astype(np.int64)
    core = core_distances(ux, uy, count, int(min_samples))
    a, b, dist = mutual_reachability_mst(ux, uy, core)
    # Expanded incidents grouped by distinct point: point d holds [off[d], off[d] + count[d]).
    off = np.cumsum(count) - count
    copy = np.arange(n_run) - np.repeat(off, count)
    extra = copy > 0
    mst = np.empty(n_run - 1, dtype=MST_edge_dtype)
    mst["current_node"] = np.r_[off[a], np.repeat(off, count)[extra]]
    mst["next_node"] = np.r_[off[b], np.flatnonzero(extra)]
    mst["distance"] = np.r_[dist, np.repeat(core, count)[extra]]
    mst = mst[np.argsort(mst["distance"], kind="stable")]
    tree = make_single_linkage(mst)
    run_labels, run_prob = tree_to_labels(
        tree, int(min_cluster_size), cluster_selection, False, 0.0, None
    )
    point_label, point_prob = _modal_labels(run_labels, run_prob, count)
    labels[rows] = point_label[inverse]
    prob[rows] = point_prob[inverse]
    return labels, prob


def _modal_labels(run_labels, run_prob, count):
    """Per distinct point, the label most of its copies have (ties: the lower) and its strength.

    Copies of one point sit at one spot; they part only when the point bridges
    clusters that merge at its core distance, where scikit-learn's labels, too,
    follow the order of the input rows.
    """
    n_points = len(count)
    point = np.repeat(np.arange(n_points), count)
    span = int(run_labels.max()) + 2
    key = point * span + (run_labels + 1)
    uniq, first, votes = np.unique(key, return_index=True, return_counts=True)
    owner = uniq // span
    best = np.lexsort((uniq % span, -votes, owner))
    pick = best[np.r_[True, owner[best][1:] != owner[best][:-1]]]
    return run_labels[first[pick]].astype(np.int64), run_prob[first[pick]]
