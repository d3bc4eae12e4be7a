"""Density clusters: our DBSCAN against scikit-learn's, summaries, eps (HDBSCAN: test_hdbscan)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.cluster import DBSCAN

from benchmarks.synthetic import synthetic_incidents
from geodata.crs import BNG, lonlat_to_xy, xy_to_lonlat
from hotspots import points
from hotspots.clusters import DensityClusterer, dbscan_labels, suggest_eps_m, summarise_clusters


def sklearn_dbscan(x, y, eps, min_samples, weight=None):
    # kd_tree: "auto" would pick brute force for tiny inputs, whose dot-product distances
    # round differently; the trees test dx*dx + dy*dy <= eps*eps, as ours does.
    model = DBSCAN(eps=eps, min_samples=min_samples, algorithm="kd_tree")
    model.fit(np.c_[x, y], sample_weight=weight)
    core = np.zeros(len(x), dtype=bool)
    core[model.core_sample_indices_] = True
    return model.labels_, core


def assert_same_core_partition(labels_a, core_a, labels_b, core_b):
    """Identical core points, and the same partition of them (up to renumbering)."""
    np.testing.assert_array_equal(core_a, core_b)
    pairs = np.unique(np.c_[labels_a[core_a], labels_b[core_b]], axis=0)
    assert len(np.unique(pairs[:, 0])) == len(pairs) == len(np.unique(pairs[:, 1]))
    # Border points are in a cluster exactly when they are in one for the other.
    np.testing.assert_array_equal(labels_a >= 0, labels_b >= 0)


# ------------------------------------------------------------------- vs sklearn


@pytest.mark.parametrize("snapped", [False, True])
@pytest.mark.parametrize("seed", [0, 1])
def test_dbscan_matches_sklearn_on_synthetic_incidents(seed, snapped):
    df = synthetic_incidents(8_000, seed=seed, side_m=10_000, n_clusters=12, snapped=snapped)
    x, y = df["x"].to_numpy(), df["y"].to_numpy()
    for eps, min_samples in [(150.0, 10), (75.0, 4), (300.0, 40)]:
        model = DensityClusterer(eps_m=eps, min_samples=min_samples).fit(x, y)
        ref_labels, ref_core = sklearn_dbscan(x, y, eps, min_samples)
        assert_same_core_partition(model.labels_, model.core_sample_mask_, ref_labels, ref_core)
        # Numbered and with border points placed as scikit-learn does: labels identical.
        np.testing.assert_array_equal(model.labels_, ref_labels)
        assert model.n_clusters_ == ref_labels.max() + 1


def test_dbscan_finds_planted_blobs_and_leaves_scatter_as_noise():
    rng = np.random.default_rng(7)
    centres = np.array([[2_000, 2_000], [8_000, 3_000], [5_000, 8_000], [1_500, 7_500]])
    blob_x = np.concatenate([rng.normal(cx, 30, 150) for cx, _ in centres])
    blob_y = np.concatenate([rng.normal(cy, 30, 150) for _, cy in centres])
    noise_x, noise_y = rng.uniform(0, 10_000, 800), rng.uniform(0, 10_000, 800)
    x, y = np.r_[blob_x, noise_x], np.r_[blob_y, noise_y]
    model = DensityClusterer(eps_m=150, min_samples=10).fit(x, y)
    assert model.n_clusters_ == len(centres)
    found = set()
    for b in range(len(centres)):
        lab = model.labels_[b * 150 : (b + 1) * 150]
        main = np.bincount(lab[lab >= 0]).argmax()
        assert np.mean(lab == main) >= 0.97
        found.add(main)
    assert len(found) == len(centres)
    assert np.mean(model.labels_[-800:] == -1) >= 0.95


def test_dbscan_matches_sklearn_on_police_uk_data(shared_data):
    files = sorted((shared_data / "police" / "gravesham_area").glob("2022-*.csv"))
    assert files, "no 2022 police.uk files for gravesham_area"
    frame = pd.concat([pd.read_csv(f, usecols=["Longitude", "Latitude"]) for f in files])
    frame = frame.dropna()
    x, y = lonlat_to_xy(frame["Longitude"].to_numpy(), frame["Latitude"].to_numpy(), BNG)
    assert len(np.unique(np.c_[x, y], axis=0)) < len(x) / 2  # snap points repeat
    for eps, min_samples in [(150.0, 10), (50.0, 25)]:
        labels, core = dbscan_labels(x, y, eps, min_samples)
        ref_labels, ref_core = sklearn_dbscan(x, y, eps, min_samples)
        assert_same_core_partition(labels, core, ref_labels, ref_core)
        np.testing.assert_array_equal(labels, ref_labels)


def test_weights_match_sklearn_sample_weight():
    rng = np.random.default_rng(5)
    x, y = rng.uniform(0, 2_000, 3_000), rng.uniform(0, 2_000, 3_000)
    w = rng.integers(0, 4, 3_000).astype(float)
    labels, core = dbscan_labels(x, y, 120.0, 12, weight=w)
    ref_labels, ref_core = sklearn_dbscan(x, y, 120.0, 12, weight=w)
    np.testing.assert_array_equal(core, ref_core)
    np.testing.assert_array_equal(labels, ref_labels)


def test_distance_equal_to_eps_counts_as_within():
    # 3-4-5 triangles: distances of exactly eps (sklearn's radius test is <=).
    x, y = np.array([0.0, 3.0, 6.0, 100.0]), np.array([0.0, 4.0, 8.0, 0.0])
    labels, core = dbscan_labels(x, y, 5.0, 2)
    assert labels.tolist() == [0, 0, 0, -1] and core.tolist() == [True, True, True, False]
    labels, core = dbscan_labels(x, y, np.nextafter(5.0, 0), 2)
    assert labels.tolist() == [-1, -1, -1, -1]


def test_sparse_extent_uses_the_binary_search_lookup(monkeypatch):
    monkeypatch.setattr(points, "_MAX_TABLE", 0)
    rng = np.random.default_rng(2)
    # Four towns 200 km apart: the dense cell table would be mostly empty.
    x = np.concatenate([rng.normal(cx, 200, 600) for cx in (0, 200_000, 0, 200_000)])
    y = np.concatenate([rng.normal(cy, 200, 600) for cy in (0, 0, 200_000, 200_000)])
    labels, core = dbscan_labels(x, y, 100.0, 8)
    ref_labels, ref_core = sklearn_dbscan(x, y, 100.0, 8)
    np.testing.assert_array_equal(core, ref_core)
    np.testing.assert_array_equal(labels, ref_labels)


def test_edge_cases():
    labels, core = dbscan_labels([], [], 150.0, 10)
    assert len(labels) == len(core) == 0
    assert DensityClusterer().fit([], []).n_clusters_ == 0
    labels, core = dbscan_labels([1.0], [2.0], 150.0, 1)
    assert labels.tolist() == [0] and core.tolist() == [True]
    labels, core = dbscan_labels([1.0, 1.0], [2.0, 2.0], 150.0, 3, weight=[0.0, 2.0])
    assert labels.tolist() == [-1, -1]
    with pytest.raises(ValueError, match="eps_m"):
        dbscan_labels([0.0], [0.0], 0.0, 5)
    with pytest.raises(ValueError, match="min_samples"):
        dbscan_labels([0.0], [0.0], 10.0, 0)
    with pytest.raises(ValueError, match="method"):
        DensityClusterer(method="optics").fit([0.0], [0.0])


# Small integer coordinates: many exact ties at eps and many duplicates.
grid_points = st.lists(
    st.tuples(st.integers(0, 12), st.integers(0, 12), st.integers(1, 4)), min_size=1, max_size=80
)


@settings(max_examples=60, deadline=None)
@given(grid_points, st.sampled_from([1.0, 2.0, 2.5, 5.0]), st.integers(1, 8))
def test_duplicates_are_weights(rows, eps, min_samples):
    """Raw points with duplicates ≡ distinct points with weights ≡ scikit-learn on raw points."""
    xy = np.array([r[:2] for r in rows], dtype=float)
    reps = np.array([r[2] for r in rows])
    raw = np.repeat(xy, reps, axis=0)
    order = np.random.default_rng(len(rows)).permutation(len(raw))
    raw = raw[order]
    labels_raw, core_raw = dbscan_labels(raw[:, 0], raw[:, 1], eps, min_samples)
    wp = points.collapse(raw[:, 0], raw[:, 1])
    labels_w, core_w = dbscan_labels(wp.ux, wp.uy, eps, min_samples, weight=wp.weight)
    assert_same_core_partition(labels_raw, core_raw, labels_w[wp.inverse], core_w[wp.inverse])
    ref_labels, ref_core = sklearn_dbscan(raw[:, 0], raw[:, 1], eps, min_samples)
    np.testing.assert_array_equal(core_raw, ref_core)
    np.testing.assert_array_equal(labels_raw, ref_labels)


# -------------------------------------------------------------------- summaries


def incidents_frame(xy, locations, categories, months, crs=BNG):
    x, y = np.asarray(xy, float).T
    lon, lat = xy_to_lonlat(x, y, crs)
    return pd.DataFrame(
        {
            "x": x,
            "y": y,
            "lon": lon,
            "lat": lat,
            "occurred_at": pd.to_datetime(months),
            "category": categories,
            "location": locations,
        }
    )


def test_summaries_count_harm_hull_dates_and_locations():
    frame = incidents_frame(
        [(560_000, 170_000)] * 3 + [(561_000, 170_000), (561_100, 170_000), (561_000, 170_100)]
        + [(565_000, 175_000)],
        ["On or near High Street"] * 3 + ["On or near B Road", "On or near A Road"] * 1
        + ["On or near A Road", "Nowhere"],
        ["violent-crime", "violent-crime", "drugs", "shoplifting", "shoplifting", "robbery",
         "burglary"],
        ["2023-03-01", "2023-01-01", "2023-02-01", "2023-05-01", "2023-04-01", "2023-04-01",
         "2023-01-01"],
    )  # fmt: skip
    labels = np.array([7, 7, 7, 2, 2, 2, -1])
    harm = np.array([10.0, 10.0, 1.0, 5.0, 5.0, 50.0, 99.0])
    out = summarise_clusters(frame, labels, harm, buffer_m=25.0)
    assert list(out["cluster_id"]) == [2, 7]  # by harm, descending
    two, seven = out.iloc[0], out.iloc[1]
    assert (two["count"], two["harm"], two["distinct_points"]) == (3, 60.0, 3)
    assert (seven["count"], seven["harm"], seven["distinct_points"]) == (3, 21.0, 1)
    # One snap point: a buffered point, area π·buffer².
    assert seven["area_m2"] == pytest.approx(math.pi * 25.0**2, rel=2e-3)
    assert seven["geometry"].contains(seven["geometry"].centroid)
    # A right triangle of legs 100 m buffered by 25 m: 5000 + perimeter·25 + π·25².
    expected = 5_000 + (200 + 100 * math.sqrt(2)) * 25 + math.pi * 25**2
    assert two["area_m2"] == pytest.approx(expected, rel=2e-3)
    assert two["density_per_km2"] == pytest.approx(3 / (two["area_m2"] / 1e6))
    assert two["harm_density_per_km2"] == pytest.approx(60 / (two["area_m2"] / 1e6))
    assert seven["top_locations"] == [["On or near High Street", 3]]
    assert two["top_locations"] == [["On or near A Road", 2], ["On or near B Road", 1]]
    assert seven["categories"] == {"violent-crime": 2, "drugs": 1}
    assert (two["first_date"], two["last_date"]) == (
        pd.Timestamp("2023-04-01"),
        pd.Timestamp("2023-05-01"),
    )
    assert (two["centroid_x"], two["centroid_y"]) == pytest.approx((561_033.33, 170_033.33))
    lon, lat = xy_to_lonlat(np.array([two["centroid_x"]]), np.array([two["centroid_y"]]), BNG)
    assert (two["centroid_lon"], two["centroid_lat"]) == pytest.approx((lon[0], lat[0]))
    assert out.crs.to_epsg() == 27700


def test_summaries_keep_five_top_locations_and_handle_no_clusters():
    names = [f"On or near Street {i}" for i in range(7) for _ in range(7 - i)]
    n = len(names)
    frame = incidents_frame(
        [(560_000 + i, 170_000) for i in range(n)], names, ["drugs"] * n, ["2023-01-01"] * n
    )
    out = summarise_clusters(frame, np.zeros(n, dtype=int), np.ones(n))
    assert out["top_locations"].iloc[0] == [[f"On or near Street {i}", 7 - i] for i in range(5)]
    empty = summarise_clusters(frame, np.full(n, -1), np.ones(n))
    assert empty.empty and "geometry" in empty and "harm" in empty
    with pytest.raises(ValueError, match="location"):
        summarise_clusters(frame.drop(columns="location"), np.zeros(n, dtype=int), np.ones(n))
    with pytest.raises(ValueError, match="one value per incident"):
        summarise_clusters(frame, np.zeros(n - 1, dtype=int), np.ones(n))


def test_summaries_of_real_clusters_add_up():
    df = synthetic_incidents(5_000, seed=3, side_m=8_000, n_clusters=10, snapped=True)
    labels = DensityClusterer(eps_m=150, min_samples=10).fit(df["x"], df["y"]).labels_
    out = summarise_clusters(df, labels, np.full(len(df), 2.0))
    assert out["count"].sum() == np.sum(labels >= 0)
    assert np.allclose(out["harm"], 2 * out["count"])
    assert all(sum(c.values()) == n for c, n in zip(out["categories"], out["count"]))
    assert np.all(np.diff(out["harm"].to_numpy()) <= 0)


# -------------------------------------------------------------------------- eps


def test_suggest_eps_is_in_range_with_a_reason():
    df = synthetic_incidents(20_000, seed=0, snapped=True)
    eps, reason = suggest_eps_m(df["x"], df["y"], 10)
    assert 50 <= eps <= 500
    assert f"{eps:.0f} m" in reason and "k-distance" in reason and "50–500 m" in reason


def test_suggest_eps_states_the_bound_when_clipped():
    rng = np.random.default_rng(1)
    tight = rng.normal(0, 3, (2_000, 2))
    eps, reason = suggest_eps_m(tight[:, 0], tight[:, 1], 5)
    assert eps == 50.0 and "outside the 50–500 m range" in reason
    sparse = rng.uniform(0, 200_000, (400, 2))
    eps, reason = suggest_eps_m(sparse[:, 0], sparse[:, 1], 10, bounds_m=(50, 400))
    assert eps == 400.0 and "outside the 50–400 m range" in reason
    eps, reason = suggest_eps_m([0.0, 1.0], [0.0, 1.0], 10)
    assert eps == 150.0 and "too few" in reason


def test_suggest_eps_weights_equal_duplicates():
    df = synthetic_incidents(4_000, seed=2, side_m=10_000, n_clusters=10, snapped=True)
    wp = points.collapse(df["x"], df["y"])
    raw = suggest_eps_m(df["x"], df["y"], 10)
    weighted = suggest_eps_m(wp.ux, wp.uy, 10, weight=wp.weight)
    assert raw[0] == weighted[0]


def test_points_left_out_of_hulls_never_change_them() -> None:
    """The Akl–Toussaint filter keeps every hull vertex: same hulls, to the bit."""
    import shapely

    from hotspots.cluster_summary import _not_inside_extremes

    rng = np.random.default_rng(11)
    k = 300
    group = np.sort(rng.integers(0, k, 20_000))
    x = np.round(rng.normal(560_000, 80, group.size) + group * 500, 1)  # snapped: ties
    y = np.round(rng.normal(170_000, 80, group.size), 1)
    keep = _not_inside_extremes(group, x, y, k)
    assert 0 < keep.sum() < keep.size / 2
    every = shapely.convex_hull(shapely.multipoints(np.c_[x, y], indices=group))
    kept = shapely.convex_hull(shapely.multipoints(np.c_[x[keep], y[keep]], indices=group[keep]))
    assert (shapely.to_wkb(every) == shapely.to_wkb(kept)).all()
