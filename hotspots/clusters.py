"""Density clusters of incidents in the scikit-learn manner: DBSCAN and HDBSCAN.

:class:`DensityClusterer` finds clusters in projected coordinates (metres,
EPSG:27700 by default). ``method="dbscan"`` runs our exact grid DBSCAN
(:func:`hotspots.dbscan.dbscan_labels`, the labels of scikit-learn's);
``method="hdbscan"`` runs :func:`hotspots.hdbscan.hdbscan_labels`, scikit-learn's
HDBSCAN clusters from weighted distinct points without its O(n²) spanning tree.
Cluster profiles are in :mod:`hotspots.cluster_summary`, the choice of eps in
:mod:`hotspots.eps`; both are re-exported here.
"""

from __future__ import annotations

import numpy as np

from .cluster_summary import SUMMARY_COLUMNS, summarise_clusters
from .dbscan import dbscan_labels
from .eps import suggest_eps_m

__all__ = [
    "METHODS",
    "SUMMARY_COLUMNS",
    "DensityClusterer",
    "dbscan_labels",
    "suggest_eps_m",
    "summarise_clusters",
]

METHODS = ("dbscan", "hdbscan")


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
        ``"hdbscan"``: the clusters of ``sklearn.cluster.HDBSCAN`` (excess of
        mass), from weighted distinct points (:mod:`hotspots.hdbscan`): about
        0.4 s at 100k incidents (scikit-learn's own: about a minute; its time
        grows as n²) and 13 s at 1M (see ``benchmarks/bench_hdbscan.py``).
    min_cluster_size : int, optional
        HDBSCAN's smallest cluster (default 15); ignored by DBSCAN.
    cluster_selection : {"eom", "leaf"}
        HDBSCAN's ``cluster_selection_method`` (default ``"eom"``, scikit-learn's);
        ignored by DBSCAN.
    seed : int
        Kept for the estimator interface: both methods are deterministic.

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
    HDBSCAN counts incidents: a point of integer weight ``w`` is ``w``
    incidents at one spot, as scikit-learn's HDBSCAN sees repeated rows
    (nothing is jittered); fractional weights are refused. Its labels do not
    depend on the order of the rows; scikit-learn's can, where merges tie.

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
        cluster_selection: str = "eom",
    ) -> None:
        self.eps_m = eps_m
        self.min_samples = min_samples
        self.method = method
        self.min_cluster_size = min_cluster_size
        self.seed = seed
        self.cluster_selection = cluster_selection

    def fit(self, x, y, weight=None) -> DensityClusterer:
        """Cluster points ``x``, ``y`` (metres, projected), optionally weighted; returns self."""
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}; got {self.method!r}")
        if self.method == "dbscan":
            labels, core = dbscan_labels(x, y, self.eps_m, self.min_samples, weight)
            self.probabilities_ = None
        else:
            from .hdbscan import hdbscan_labels  # numba: imported when HDBSCAN runs

            labels, self.probabilities_ = hdbscan_labels(
                x,
                y,
                weight,
                self.min_cluster_size or 15,
                self.min_samples,
                self.cluster_selection,
            )
            core = labels >= 0
        self.labels_ = labels
        self.core_sample_mask_ = core
        self.n_clusters_ = int(labels.max()) + 1 if len(labels) else 0
        return self

    def fit_predict(self, x, y, weight=None) -> np.ndarray:
        """``fit`` and return ``labels_``."""
        return self.fit(x, y, weight).labels_
