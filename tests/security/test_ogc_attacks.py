"""Disclosure attacks on the OGC API's CQL2 filters and vector tiles, on both stores.

The planted incidents and runs of ``test_disclosure_attacks`` (its ``attack``
fixture): below analyst, a filter aimed at them (their street, kinds, time or a
small square round their place) answers only from the role's unfiltered view, and
vector tiles round their places give no vertex, circle or centroid near them, nor
their street or times. The same probes by an analyst do find them: the attacks work.
"""

from __future__ import annotations

import json
import math

import mapbox_vector_tile
import numpy as np
import pytest
import test_disclosure_attacks as planted
from ogc_probes import STREET, probes_for
from test_disclosure_attacks import NEAR_M, TIMES, located

attack = planted.attack  # the planted incidents and runs, built again for this module

R = 6_378_137.0
HALF = math.pi * R


def _all_items(env, url: str, role: str) -> dict[str, dict]:
    features: dict[str, dict] = {}
    while url:
        r = env.get(url, role)
        assert r.status_code == 200, r.text
        doc = r.json()
        features.update({f["id"]: f for f in doc["features"]})
        nxt = [lk["href"] for lk in doc["links"] if lk["rel"] == "next"]
        url = nxt[0].replace("http://testserver", "") if nxt else None
    return features


@pytest.mark.parametrize("role", ["public", "partner"])
def test_filters_below_analyst_only_select_from_the_disclosed_view(attack, role):
    """A filter aimed at the planted incidents (their street, kinds, time or place) gives
    back features of the role's unfiltered view, unchanged, and never a sensitive one."""
    env, places, runs = attack
    probes = probes_for(places)
    ok = 0
    for cid in (*runs.values(), "wards", "lsoas", "incidents"):
        base = f"/ogc/collections/{cid}/items?limit=10000"
        if env.get(base, role).status_code != 200:
            assert role == "public" and cid == "incidents"
            continue
        shown = _all_items(env, base, role) if cid != "incidents" else None
        for text, crs in probes.values():
            r = env.get(base, role, params={"filter": text, "filter-crs": crs})
            assert r.status_code in (200, 400), (cid, text, r.text)
            if r.status_code == 400:  # a property this role is not shown: refused
                assert r.json()["detail"].startswith("query parameter 'filter'")
                continue
            ok += 1
            for f in r.json()["features"]:
                if shown is None:
                    assert not f["properties"]["sensitive"], (cid, text)
                    assert f["properties"]["location"] != STREET, (cid, text)
                else:
                    assert f == shown[f["id"]], (role, cid, text)
    assert ok > len(runs)
    for name in ("lone", "address"):  # the analyst's own probe does find them
        text, crs = probes[f"near-{name}"]
        got = env.get(
            "/ogc/collections/incidents/items", params={"filter": text, "filter-crs": crs}
        ).json()
        assert any(f["properties"]["location"] == STREET for f in got["features"]), name


def _tile_at(lon: float, lat: float, z: int) -> tuple[int, int, tuple[float, ...]]:
    """(row, col, Web Mercator bounds) of the tile holding a point."""
    x = R * math.radians(lon)
    y = R * math.log(math.tan(math.pi / 4 + math.radians(lat) / 2))
    size = 2 * HALF / 2**z
    row, col = int((HALF - y) // size), int((x + HALF) // size)
    left, top = -HALF + col * size, HALF - row * size
    return row, col, (left, top - size, left + size, top)


def _lonlat_text(features: list[dict], bounds: tuple[float, ...]) -> str:
    """The tile's vertices as ``[lon, lat]`` pairs in a JSON text, for :func:`located`
    (less those the clipping put on the clip box)."""
    left, bottom, right, top = bounds
    out = []
    for f in features:
        coords = np.array(_flatten(f["geometry"]["coordinates"]), float).reshape(-1, 2)
        # vertices on the clip box (the tile and its 64-unit buffer) are made by clipping:
        # the tile address, which the attacker chose, fixes them; they say nothing
        coords = coords[~np.isin(coords, (-64.0, 4160.0)).any(axis=1)]
        x = left + coords[:, 0] / 4096 * (right - left)
        y = bottom + coords[:, 1] / 4096 * (top - bottom)
        lon = np.degrees(x / R)
        lat = np.degrees(2 * np.arctan(np.exp(y / R)) - np.pi / 2)
        out.append([[round(a, 7), round(b, 7)] for a, b in zip(lon, lat, strict=True)])
    return json.dumps(out)


def _flatten(c) -> list[float]:
    if c and isinstance(c[0], int | float):
        return list(c[:2])
    return [v for part in c for v in _flatten(part)]


def _tiles_round(env, places, cid: str, role: str):
    """Decoded tiles of ``cid`` round each planted place at zooms 12–18: (status,
    features, bounds) each."""
    for lon, lat in places.values():
        for z in (12, 14, 16, 18):
            row, col, bounds = _tile_at(lon, lat, z)
            r = env.get(f"/ogc/collections/{cid}/tiles/WebMercatorQuad/{z}/{row}/{col}", role)
            if r.status_code == 200:
                assert r.headers["content-type"] == "application/vnd.mapbox-vector-tile"
                layers = mapbox_vector_tile.decode(r.content)
                yield 200, layers[cid]["features"], bounds
            else:
                yield r.status_code, [], bounds


@pytest.mark.parametrize("role", ["anonymous", "public", "partner"])
def test_tiles_below_analyst_neither_locate_nor_name_a_planted_incident(attack, role):
    env, places, runs = attack
    isolated = {k: v for k, v in places.items() if k != "edge"}
    seen = 0
    for cid in (*runs.values(), "wards", "lsoas", "incidents"):
        shown = None
        for status, features, bounds in _tiles_round(env, places, cid, role):
            if cid == "incidents":
                assert status in (401, 403, 404), (role, status)
                continue
            assert status in (200, 204, 404), (role, cid, status)
            if shown is None:
                r = env.get(f"/ogc/collections/{cid}/items?limit=10000", role)
                shown = {f["id"]: f["properties"] for f in r.json()["features"]}
            seen += len(features)
            hits = located(_lonlat_text(features, bounds), isolated)
            assert all(d > NEAR_M for d in hits.values()), (role, cid, hits)
            for f in features:
                props = dict(f["properties"])
                fid = props.pop("id")
                want = {k: v for k, v in shown[fid].items() if isinstance(v, str | int | float)}
                assert props == pytest.approx(want), (role, cid, fid)
                text = json.dumps(props)
                assert STREET not in text and not any(t in text for t in TIMES), (cid, fid)
    assert seen > 0


def test_the_tile_attack_works_on_the_analysts_incident_tiles(attack):
    env, places, _ = attack
    isolated = {k: v for k, v in places.items() if k != "edge"}
    found = {name: math.inf for name in isolated}
    for status, features, bounds in _tiles_round(env, isolated, "incidents", "analyst"):
        assert status == 200
        hits = located(_lonlat_text(features, bounds), isolated)
        found = {k: min(v, hits[k]) for k, v in found.items()}
        assert any(f["properties"].get("location") == STREET for f in features)
    assert all(d < 1.0 for d in found.values()), found


def _view(env, cid: str, role: str) -> list[dict]:
    """The role's disclosure view of a run, as JSON (what its items must be)."""
    from api.disclosure import Disclosure

    settings = env.client.app.state.settings.api
    policy = Disclosure.for_role("public" if role == "anonymous" else role, settings)
    features = policy.run_view(env.store.get_run(cid).result)["features"]
    return json.loads(json.dumps([{**f, "id": str(f.get("id"))} for f in features]))


@pytest.mark.parametrize("role", ["anonymous", "public", "partner"])
def test_run_rows_below_analyst_are_the_disclosed_view_whatever_the_probe(attack, role):
    """Run items are read from rows kept per disclosure view, made on first read. Read
    after the analyst's view was made, a role's items are exactly its own view; a bbox
    round a planted place, or a filter aimed at small or withheld counts, answers from
    that view only (features unchanged, numberMatched counting only them) and no answer
    comes within ``NEAR_M`` of an isolated planted incident."""
    env, places, runs = attack
    answers, hits = [], 0
    for cid in runs.values():
        base = f"/ogc/collections/{cid}/items?limit=10000"
        env.get(base, "analyst")  # the analyst's view is made first: it must not leak
        shown = _all_items(env, base, role)
        assert list(shown.values()) == _view(env, cid, role), (role, cid)
        probes = [
            {"bbox": f"{lon - 0.002:.6f},{lat - 0.002:.6f},{lon + 0.002:.6f},{lat + 0.002:.6f}"}
            for lon, lat in places.values()
        ]
        probes += [
            {"filter": text}
            for text in ("count < 5", "count IS NULL", "NOT (count >= 0)", "distinct_points < 3")
        ]
        for params in probes:
            r = env.get(base, role, params=params)
            assert r.status_code in (200, 400), (cid, params, r.text)
            if r.status_code == 400:  # a property this role is not shown: refused
                continue
            doc = r.json()
            assert doc["numberMatched"] == len(doc["features"])
            for f in doc["features"]:
                assert f == shown[f["id"]], (role, cid, params)
            answers.append(r.text)
            hits += len(doc["features"]) if "bbox" in params else 0
    assert hits  # the boxes round the planted places do find (disclosed) hotspots
    # "edge" sits near the H3 lattice by chance (see test_disclosure_attacks)
    isolated = {k: v for k, v in places.items() if k != "edge"}
    for text in answers:
        near = located(text, isolated)
        assert min(near.values()) > NEAR_M, near
