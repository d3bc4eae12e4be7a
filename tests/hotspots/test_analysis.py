"""Whole analyses on the real Gravesham demo data (shipped in the project) and planted data."""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from geodata.crs import WGS84, lonlat_to_xy
from geodata.demo import load_demo
from geodata.stores import DuckDBStore, IncidentQuery
from hotspots.analysis import AnalysisParams, run_analysis
from hotspots.temporal import month_keys

STATION_LAT, STATION_LON = 51.4415, 0.3700  # Gravesend railway station: the "transport quarter"


def metres_from_station(lat: float, lon: float) -> float:
    x, y = lonlat_to_xy(np.array([lon, STATION_LON]), np.array([lat, STATION_LAT]), "EPSG:27700")
    return float(math.hypot(x[0] - x[1], y[0] - y[1]))


@pytest.fixture(scope="module")
def gravesham(tmp_path_factory: pytest.TempPathFactory):
    store = DuckDBStore(tmp_path_factory.mktemp("demo") / "demo.duckdb")
    load_demo(store)
    incidents = store.query_incidents().to_pandas()
    area = shapely.union_all(store.boundaries("district").to_crs(WGS84).geometry.to_numpy())
    months = sorted(set(month_keys(incidents["occurred_at"])))
    batches = {b.batch_id: b.content_hash for b in store.list_batches()}
    store.close()
    return incidents, area, months, batches


def analyse(gravesham, **kw):
    incidents, area, months, batches = gravesham
    return run_analysis(
        incidents, AnalysisParams(**kw), area_lonlat=area, months=months, batches=batches
    )


@pytest.mark.parametrize("method", ["dbscan", "gistar"])
def test_top_violence_hotspot_is_the_transport_quarter(gravesham, method: str) -> None:
    """The strategy: violence concentrates round Gravesend station and bus hub."""
    result = analyse(gravesham, method=method, categories=("violent-crime",))
    top = result.hotspots.iloc[0]
    assert top["rank"] == 1
    assert metres_from_station(top["centroid_lat"], top["centroid_lon"]) < 300
    # ... and it is violence, ranked on visible components
    assert set(top["categories"]) == {"violent-crime"}
    for c in ("volume", "harm", "trend", "concern"):
        assert 0 <= top[f"{c}_component"] <= 1


def test_automatic_choices_are_reported_with_reasons(gravesham) -> None:
    result = analyse(gravesham, method="dbscan", categories=("violent-crime",))
    auto = result.provenance.automatic
    assert set(auto) == {"eps_m", "min_samples"}
    eps = auto["eps_m"]["value"]
    assert 50 <= eps <= 150 and "k-distance" in auto["eps_m"]["reason"]
    # min_samples: the count of an eps disc at 16x the study area's mean density, rounded up
    incidents, area, months, _ = gravesham
    n = int((incidents["category"] == "violent-crime").sum())
    area_km2 = gpd.GeoSeries([area], crs=WGS84).to_crs("EPSG:27700").area.iloc[0] / 1e6
    disc = 16 * n / area_km2 * math.pi * (eps / 1000) ** 2
    assert auto["min_samples"]["value"] == math.ceil(disc)
    reason = auto["min_samples"]["reason"]
    assert f"holds {disc:.1f} incidents" in reason and f"{n:,} incidents" in reason
    assert f"in {area_km2:,.0f} km²" in reason and f"{len(months)} months" in reason
    grid = analyse(gravesham, method="gistar", categories=("violent-crime",))
    assert 7 <= grid.provenance.automatic["resolution"]["value"] <= 10


def test_same_inputs_same_run_id_and_numbers(gravesham) -> None:
    a = analyse(
        gravesham, method="gistar", categories=("anti-social-behaviour",), permutations=99, seed=3
    )
    b = analyse(
        gravesham, method="gistar", categories=("anti-social-behaviour",), permutations=99, seed=3
    )
    assert a.run_id == b.run_id
    pd.testing.assert_frame_equal(
        a.hotspots.drop(columns="geometry"), b.hotspots.drop(columns="geometry")
    )
    c = analyse(
        gravesham, method="gistar", categories=("anti-social-behaviour",), permutations=99, seed=4
    )
    assert c.run_id != a.run_id
    prov = a.provenance.to_dict()
    assert prov["seed"] == 3 and prov["parameters"]["permutations"] == 99
    assert len(prov["batches"]) == 11 and all(prov["batches"].values())
    assert prov["weights_version"].startswith("hotspots-harm")
    assert prov["libraries"]["numpy"] == np.__version__


def test_every_method_ranks_and_exports_geojson(gravesham) -> None:
    for method in ("hdbscan", "hexes", "emerging", "kde"):
        result = analyse(gravesham, method=method, categories=("violent-crime",))
        assert len(result.hotspots) > 0, method
        doc = result.to_geojson()
        assert doc["type"] == "FeatureCollection" and doc["run_id"] == result.run_id
        first = doc["features"][0]
        lon, lat = shapely.geometry.shape(first["geometry"]).centroid.coords[0]
        assert 0.2 < lon < 0.6 and 51.3 < lat < 51.5, method  # lon/lat order, WGS84
        props = first["properties"]
        assert props["rank"] == 1 and props["count"] > 0 and props["harm"] > 0
        assert props["harm_density_per_km2"] > 0
        assert props["profile"]["hour_weekday"] is None  # police.uk: month only
        assert "month only" in props["profile"]["hour_weekday_note"]


def test_emerging_uses_only_months_with_data(gravesham) -> None:
    result = analyse(gravesham, method="emerging", categories=("anti-social-behaviour",))
    assert result.provenance.window["months"] == [f"2022-{m:02d}" for m in range(1, 12)]
    cats = set(result.cells["emerging"])
    assert cats <= {
        f"{p} {k} spot"
        for p in (
            "new",
            "consecutive",
            "intensifying",
            "persistent",
            "diminishing",
            "sporadic",
            "oscillating",
            "historical",
        )
        for k in ("hot", "cold")
    } | {"no pattern detected"}
    assert all("hot spot" in c for c in result.hotspots["emerging"])


def planted(seed: int = 0) -> pd.DataFrame:
    """Uniform background over 10 × 10 km plus one dense planted hotspot of robbery."""
    rng = np.random.default_rng(seed)
    n_bg, n_hot = 3000, 300
    x = np.r_[rng.uniform(560_000, 570_000, n_bg), rng.normal(566_000, 40, n_hot)]
    y = np.r_[rng.uniform(170_000, 180_000, n_bg), rng.normal(172_000, 40, n_hot)]
    from geodata.crs import xy_to_lonlat

    lon, lat = xy_to_lonlat(x, y, "EPSG:27700")
    months = pd.to_datetime(
        rng.choice(pd.date_range("2023-01-01", periods=12, freq="MS"), n_bg + n_hot)
    )
    return pd.DataFrame(
        {
            "x": x,
            "y": y,
            "lon": lon,
            "lat": lat,
            "occurred_at": months,
            "occurred_precision": "month",
            "category": ["burglary"] * n_bg + ["robbery"] * n_hot,
            "location": "On or near Somewhere",
            "batch_id": "synthetic/2023",
        }
    )


@pytest.mark.parametrize("method", ["dbscan", "gistar", "kde"])
def test_planted_hotspot_is_found_and_ranked_first(method: str) -> None:
    result = run_analysis(planted(), AnalysisParams(method=method))
    top = result.hotspots.iloc[0]
    assert top.geometry.buffer(50).contains(shapely.Point(566_000, 172_000))
    assert top["categories"].get("robbery", 0) >= 0.7 * top["count"]
    assert top["categories"]["robbery"] >= 0.9 * 300  # the planted incidents are in it


def test_empty_selection_is_reported_not_an_error(gravesham) -> None:
    incidents, *_ = gravesham
    result = run_analysis(
        incidents,
        AnalysisParams(
            method="dbscan",
            categories=("violent-crime",),
            start=pd.Timestamp("2030-01-01").to_pydatetime(),
        ),
    )
    assert result.hotspots.empty
    assert "no incidents" in result.notes[0]


def test_bad_parameters_are_refused() -> None:
    with pytest.raises(ValueError, match="method must be one of"):
        AnalysisParams(method="kmeans")
    with pytest.raises(ValueError, match="unknown category"):
        AnalysisParams(categories=("mugging",))
    with pytest.raises(ValueError, match="start"):
        AnalysisParams(
            start=pd.Timestamp("2023-02-01").to_pydatetime(),
            end=pd.Timestamp("2023-01-01").to_pydatetime(),
        )


def test_store_query_feeds_analysis(tmp_path) -> None:
    """The CLI path: incidents straight from a store, filtered there."""
    store = DuckDBStore(tmp_path / "s.duckdb")
    load_demo(store)
    table = store.query_incidents(IncidentQuery(categories=["violent-crime"])).to_pandas()
    store.close()
    assert (table["category"] == "violent-crime").all()
    result = run_analysis(table, AnalysisParams(method="hexes", resolution=8))
    assert result.hotspots["count"].sum() == len(table)


@pytest.mark.parametrize("method", ["gistar", "dbscan"])
def test_stage_times_are_in_the_provenance_not_the_run_id(tmp_path, method: str) -> None:
    """Each stage's seconds are recorded (store read to profiles); runs of the same
    request keep one run id whatever their timings."""
    from api.usecases.analyse import analyse_store

    store = DuckDBStore(tmp_path / "s.duckdb")
    load_demo(store)
    params = AnalysisParams(method=method, categories=("violent-crime",), resolution=9)
    a, b = analyse_store(store, params), analyse_store(store, params)
    store.close()
    finder = {"gistar": ["grid", "statistics", "cell polygons", "hotspot table"],
              "dbscan": ["clustering", "cluster summary"]}[method]  # fmt: skip
    expected = ["coverage", "read", "months+area", "select", "harm", *finder, "outlines"]
    stages = a.provenance.stages
    assert [k for k in stages if k in expected] == expected
    assert all(isinstance(v, float) and v >= 0 for v in stages.values())
    assert a.run_id == b.run_id
    b.provenance.stages = {k: v + 1.0 for k, v in b.provenance.stages.items()}
    assert b.provenance.compute_run_id() == a.run_id
    assert a.provenance.to_dict()["stages"] == stages


@pytest.mark.parametrize("method", ["dbscan", "emerging"])
def test_progress_hears_every_stage_in_order_as_it_ends(gravesham, method: str) -> None:
    """What the command line's progress display is fed (issue 17): each stage of the run's
    provenance, in the order they ran, as each ends, with its seconds."""
    incidents, area, months, _ = gravesham
    heard: list[tuple[str, float]] = []
    result = run_analysis(
        incidents,
        AnalysisParams(method=method, resolution=9),
        area_lonlat=area,
        months=months,
        progress=lambda stage, seconds: heard.append((stage, seconds)),
    )
    stages = result.provenance.stages
    assert list(dict.fromkeys(s for s, _ in heard)) == list(stages) and len(stages) >= 6
    for stage, spent in stages.items():
        assert sum(s for n, s in heard if n == stage) == pytest.approx(spent, abs=1e-3)
