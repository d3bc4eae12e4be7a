"""HDBSCAN at scale against scikit-learn's HDBSCAN and a dense minimum spanning tree."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.sparse.csgraph import minimum_spanning_tree
from sklearn.cluster import HDBSCAN
from sklearn.metrics import adjusted_rand_score

from benchmarks.synthetic import synthetic_incidents
from hotspots import points
from hotspots.clusters import DensityClusterer
from hotspots.hdbscan import core_distances, hdbscan_labels
from hotspots.mrd_mst import mutual_reachability_mst


def sklearn_hdbscan(x, y, min_cluster_size, min_samples, order=None, selection="eom"):
    """scikit-learn's labels and strengths, optionally fed the rows in another order."""
    order = np.arange(len(x)) if order is None else order
    model = HDBSCAN(
        min_cluster_size=min_cluster_size,
        min_samples=min_samples,
        copy=True,
        cluster_selection_method=selection,
    )
    model.fit(np.c_[x[order], y[order]])
    labels, prob = np.empty(len(x), np.int64), np.empty(len(x))
    labels[order], prob[order] = model.labels_, model.probabilities_
    return labels, prob, model


def snapped(n, seed):
    df = synthetic_incidents(n, seed=seed, side_m=8_000, n_clusters=8, snapped=True)
    return df["x"].to_numpy(), df["y"].to_numpy()


def assert_same_partition(a, b):
    np.testing.assert_array_equal(a < 0, b < 0)
    pairs = np.unique(np.c_[a[a >= 0], b[b >= 0]], axis=0)
    assert len(np.unique(pairs[:, 0])) == len(pairs) == len(np.unique(pairs[:, 1]))


# -------------------------------------------------------------- spanning tree


@settings(max_examples=40, deadline=None)
@given(
    st.integers(2, 120),
    st.integers(0, 2**32 - 1),
    st.sampled_from([0.0, 1.0, 50.0]),
)
def test_mst_matches_a_dense_minimum_spanning_tree(n, seed, snap):
    rng = np.random.default_rng(seed)
    xy = rng.normal(0, 300, (n, 2)) + np.array([564_800.0, 174_200.0])
    if snap:
        xy = np.round(xy / snap) * snap
    xy = np.unique(xy, axis=0)
    core = rng.choice([0.0, 10.0, 40.0], len(xy)) + rng.uniform(0, 5, len(xy)) * (snap == 0)
    a, b, w = mutual_reachability_mst(xy[:, 0], xy[:, 1], core)
    dx, dy = (xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1)
    d = np.sqrt(dx * dx + dy * dy)  # as scikit-learn's DistanceMetric (np.hypot can differ)
    mrd = np.maximum(np.maximum(core[:, None], core[None, :]), d)
    np.testing.assert_array_equal(w, mrd[a, b])  # every edge carries its true weight
    # Spanning: n - 1 edges joining everything; minimum: the same weight as a dense MST.
    assert len(w) == len(xy) - 1
    parent = np.arange(len(xy))
    for i, j in zip(a, b):
        while parent[i] != i:
            i = parent[i]
        while parent[j] != j:
            j = parent[j]
        assert i != j
        parent[max(i, j)] = min(i, j)
    dense = minimum_spanning_tree(np.where(mrd > 0, mrd, 1e-300) * (1 - np.eye(len(xy))))
    np.testing.assert_allclose(np.sort(w), np.sort(np.maximum(dense.data, 0)), atol=1e-290)


@pytest.mark.parametrize("seed", [4, 5])
def test_merge_heights_equal_sklearn_single_linkage(seed):
    x, y = snapped(3_000, seed)
    _, _, model = sklearn_hdbscan(x, y, 15, 10)
    wp = points.collapse(x, y)
    core = core_distances(wp.ux, wp.uy, wp.weight, 10)
    _, _, w = mutual_reachability_mst(wp.ux, wp.uy, core)
    # The incidents' tree: the distinct points' tree plus each copy joined at its core distance.
    ours = np.sort(np.r_[w, np.repeat(core, wp.weight.astype(int) - 1)])
    np.testing.assert_array_equal(ours, np.sort(model._single_linkage_tree_["value"]))


def test_core_distances_equal_sklearn_kth_neighbour():
    from sklearn.neighbors import NearestNeighbors

    x, y = snapped(2_000, 6)
    wp = points.collapse(x, y)
    core = core_distances(wp.ux, wp.uy, wp.weight, 10)
    d, _ = NearestNeighbors(n_neighbors=10).fit(np.c_[x, y]).kneighbors(np.c_[x, y])
    np.testing.assert_array_equal(core[wp.inverse], d[:, -1])


# ------------------------------------------------------------------ clusters


@pytest.mark.parametrize("selection", ["eom", "leaf"])
@pytest.mark.parametrize("min_samples", [1, 2])
def test_identical_to_sklearn_where_no_merges_tie(min_samples, selection):
    # Continuous coordinates and min_samples <= 2: no two merge heights are equal.
    rng = np.random.default_rng(min_samples)
    centres = rng.uniform(0, 5_000, (6, 2))
    xy = np.r_[centres[rng.integers(0, 6, 2_000)] + rng.normal(0, 120, (2_000, 2)),
               rng.uniform(0, 5_000, (1_000, 2))] + [560_000.0, 170_000.0]  # fmt: skip
    labels, prob = hdbscan_labels(
        xy[:, 0],
        xy[:, 1],
        min_cluster_size=10,
        min_samples=min_samples,
        cluster_selection=selection,
    )
    ref, ref_prob, _ = sklearn_hdbscan(xy[:, 0], xy[:, 1], 10, min_samples, selection=selection)
    assert ref.max() > 2
    assert_same_partition(labels, ref)
    np.testing.assert_allclose(prob, ref_prob, rtol=1e-12)


def test_same_clusters_as_sklearn_on_snapped_data():
    x, y = snapped(3_000, 4)
    model = DensityClusterer(method="hdbscan", min_samples=5, min_cluster_size=20).fit(x, y)
    ref, _, _ = sklearn_hdbscan(x, y, 20, 5)
    assert model.n_clusters_ == ref.max() + 1 > 0
    assert adjusted_rand_score(model.labels_, ref) >= 0.99
    np.testing.assert_array_equal(model.core_sample_mask_, model.labels_ >= 0)


def test_no_further_from_sklearn_than_sklearn_from_itself():
    # Where merges tie (snap points, shared core distances), scikit-learn's labels follow
    # the order of the rows: the same incidents in another order give other clusters.
    x, y = snapped(3_000, 5)
    labels, _ = hdbscan_labels(x, y, min_cluster_size=15, min_samples=10)
    ref, _, _ = sklearn_hdbscan(x, y, 15, 10)
    rng = np.random.default_rng(0)
    spread = [
        adjusted_rand_score(ref, sklearn_hdbscan(x, y, 15, 10, rng.permutation(len(x)))[0])
        for _ in range(3)
    ]
    assert adjusted_rand_score(labels, ref) >= min(spread) > 0.5


def test_labels_do_not_depend_on_row_order_or_weighting():
    x, y = snapped(3_000, 6)
    labels, prob = hdbscan_labels(x, y, min_cluster_size=15, min_samples=10)
    order = np.random.default_rng(1).permutation(len(x))
    again, again_prob = hdbscan_labels(x[order], y[order], min_cluster_size=15, min_samples=10)
    np.testing.assert_array_equal(again, labels[order])
    np.testing.assert_array_equal(again_prob, prob[order])
    wp = points.collapse(x, y)
    weighted, _ = hdbscan_labels(wp.ux, wp.uy, wp.weight, min_cluster_size=15, min_samples=10)
    np.testing.assert_array_equal(weighted[wp.inverse], labels)
    # Weight 0 leaves a point out.
    w0, _ = hdbscan_labels(np.r_[wp.ux, 0.0], np.r_[wp.uy, 0.0], np.r_[wp.weight, 0.0], 15, 10)
    np.testing.assert_array_equal(w0, np.r_[weighted, -1])


def test_refuses_fractional_weights_and_bad_parameters():
    x, y = snapped(500, 7)
    wp = points.collapse(x, y)
    with pytest.raises(ValueError, match="whole numbers"):
        DensityClusterer(method="hdbscan").fit(wp.ux, wp.uy, weight=wp.weight * 0.5)
    with pytest.raises(ValueError, match="min_cluster_size"):
        hdbscan_labels(x, y, min_cluster_size=1)
    with pytest.raises(ValueError, match="min_samples"):
        hdbscan_labels(x, y, min_samples=0)
    labels, prob = hdbscan_labels(x[:10], y[:10], min_cluster_size=15)
    assert (labels == -1).all() and (prob == 0).all()


def test_runs_above_the_old_100k_limit():
    df = synthetic_incidents(120_000, seed=8, snapped=True, xy_only=True)
    model = DensityClusterer(method="hdbscan", min_samples=10, min_cluster_size=15)
    model.fit(df["x"], df["y"])
    assert model.n_clusters_ > 40
    assert 0.2 < (model.labels_ < 0).mean() < 0.7
