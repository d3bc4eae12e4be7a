"""Harm weights and the partnership's priority ranking."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from geodata.taxonomy import BY_SLUG, POLICE_UK_SLUGS
from hotspots.harm import HarmWeights
from hotspots.ranking import GRAVESHAM_2023, RankingWeights, concern_share, rank_hotspots


def test_default_weights_cover_every_category_with_reasoning() -> None:
    weights = HarmWeights.default()
    table = weights.as_dict()
    assert set(table) == set(BY_SLUG)
    assert all(e.reasoning for e in weights.entries)
    assert all(e.provisional for e in weights.entries)  # all estimated: say so
    assert weights.version.endswith("provisional")
    # the ordering the sentencing starting points imply
    assert table["robbery"] > table["burglary"] > table["violent-crime"] > table["shoplifting"]
    assert table["anti-social-behaviour"] > 0


def test_weigh_maps_categories_and_unknowns_weigh_one() -> None:
    w = HarmWeights.default()
    got = w.weigh(np.array(["violent-crime", "shoplifting", "not-a-category"]))
    np.testing.assert_array_equal(
        got, [w.as_dict()["violent-crime"], w.as_dict()["shoplifting"], 1.0]
    )


def test_user_table_fills_missing_and_refuses_bad_values() -> None:
    user = HarmWeights.from_mapping(
        {
            "version": "kent-2024",
            "weights": {
                "violent-crime": {"weight": 200, "reasoning": "force CCHI"},
                "burglary": 300,
            },
        }
    )
    assert user.as_dict()["violent-crime"] == 200 and user.as_dict()["burglary"] == 300
    assert "shoplifting" in user.missing and user.as_dict()["shoplifting"] == 1.0
    with pytest.raises(ValueError, match="unknown category 'mugging'"):
        HarmWeights.from_mapping({"version": "x", "weights": {"mugging": 5}})
    with pytest.raises(ValueError, match="must be a number >= 0, got -1"):
        HarmWeights.from_mapping({"version": "x", "weights": {"drugs": {"weight": -1}}})
    with pytest.raises(ValueError, match="'version'"):
        HarmWeights.from_mapping({"weights": {"drugs": 1}})


def test_gravesham_concern_profile_puts_asb_first() -> None:
    w = GRAVESHAM_2023.category_weights()
    assert w["anti-social-behaviour"] == 1.0
    # town-centre (27.9 + 23.5/2) / ASB (46.3 + 32.4/2)
    assert w["public-order"] == pytest.approx((27.9 + 11.75) / (46.3 + 16.2))
    assert w["violent-crime"] == pytest.approx(15.4 / 62.5)
    assert w["burglary"] == pytest.approx(2.9 / 62.5)
    assert set(w) <= set(BY_SLUG)
    assert all(s in w for s in POLICE_UK_SLUGS if s != "other-crime")


def test_concern_share() -> None:
    w = {"a": 1.0, "b": 0.5}
    assert concern_share({"a": 2, "b": 2}, w) == pytest.approx(0.75)
    assert concern_share({"c": 3}, w) == 0.0
    assert concern_share({}, w) == 0.0


def frame(counts, harms, cats):
    return pd.DataFrame(
        {
            "hotspot_id": [f"h{i}" for i in range(len(counts))],
            "count": counts,
            "harm": harms,
            "categories": cats,
        }
    )


def test_rank_components_are_visible_and_score_is_their_weighted_sum() -> None:
    hs = frame(
        [10, 40, 20],
        [100.0, 50.0, 400.0],
        [{"violent-crime": 10}, {"anti-social-behaviour": 40}, {"robbery": 20}],
    )
    ranked = rank_hotspots(hs, trend_z=np.array([0.0, 2.0, -1.0])).table
    w = RankingWeights().normalised()
    for _, r in ranked.iterrows():
        expected = sum(w[c] * r[f"{c}_component"] for c in w)
        assert r["score"] == pytest.approx(expected, abs=1e-6)
    h1 = ranked.set_index("hotspot_id").loc["h1"]
    assert h1["volume_component"] == 1.0 and h1["concern_component"] == 1.0
    assert h1["trend_component"] == pytest.approx(norm.cdf(2.0), abs=1e-6)
    assert ranked.set_index("hotspot_id").loc["h2", "harm_component"] == 1.0
    assert list(ranked["rank"]) == [1, 2, 3]
    assert ranked["score"].is_monotonic_decreasing


def test_weights_change_the_order() -> None:
    hs = frame([100, 10], [10.0, 1000.0], [{"anti-social-behaviour": 100}, {"robbery": 10}])
    by_volume = rank_hotspots(hs, weights=RankingWeights(1, 0, 0, 0)).table
    by_harm = rank_hotspots(hs, weights=RankingWeights(0, 1, 0, 0)).table
    assert by_volume["hotspot_id"].iloc[0] == "h0"
    assert by_harm["hotspot_id"].iloc[0] == "h1"
    with pytest.raises(ValueError):
        RankingWeights(-1, 1, 1, 1)


def test_empty_ranking() -> None:
    out = rank_hotspots(frame([], [], [])).table
    assert out.empty and "score" in out
