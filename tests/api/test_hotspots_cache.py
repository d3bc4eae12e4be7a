"""The hotspots GeoJSON is served from memory, per role, with an ETag (issue 4, load).

The body kept in memory must be exactly what shaping the stored run for the
caller's role gives, whichever role asked first; ``If-None-Match`` with its ETag
gets 304; a deleted run stops being served once its entry is older than the TTL.
"""

from __future__ import annotations

import json
import time

import pytest

from api.disclosure import Disclosure
from api.usecases.analyse import SHAPED_RUNS

ROLES = ("public", "partner", "analyst")


@pytest.fixture(scope="module")
def env(api_env):
    return api_env


def test_each_role_gets_its_own_shaping_of_the_stored_run(env):
    settings = env.client.app.state.settings.api
    for run_id in env.run_ids:
        run = env.store.get_run(run_id)
        etags = set()
        for _ in range(2):  # the second time from memory
            for role in ROLES:
                r = env.get(f"/runs/{run_id}/hotspots", role)
                assert r.status_code == 200, r.text
                assert r.headers["content-type"].startswith("application/geo+json")
                assert "private" in r.headers["cache-control"]
                assert json.loads(r.content) == json.loads(
                    json.dumps(
                        Disclosure.for_role(role, settings).run_view(run.result), default=str
                    )
                ), (run_id, role)
                etags.add((role, r.headers["etag"]))
        assert len(etags) == len(ROLES)  # one per role, stable across requests
        assert len({e for _, e in etags}) > 1  # public differs from analyst


def test_if_none_match_gets_304_with_the_etag(env):
    url = f"/runs/{env.run_ids[0]}/hotspots"
    first = env.get(url, "partner")
    etag = first.headers["etag"]
    assert etag.startswith('"') and etag.endswith('"')
    same = env.get(url, "partner", headers={"If-None-Match": etag})
    assert same.status_code == 304 and same.content == b""
    assert same.headers["etag"] == etag
    listed = env.get(url, "partner", headers={"If-None-Match": f'"other", W/{etag}'})
    assert listed.status_code == 304
    other = env.get(url, "partner", headers={"If-None-Match": '"something-else"'})
    assert other.status_code == 200 and other.content == first.content
    # another role's ETag is not this role's document
    public = env.get(url, "public", headers={"If-None-Match": etag})
    assert public.status_code == 200 and public.headers["etag"] != etag


def test_an_unknown_run_is_404_problem(env):
    r = env.get("/runs/run-0000000000000000/hotspots")
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("application/problem+json")


def test_a_deleted_run_is_gone_once_its_entry_is_older_than_the_ttl(env, monkeypatch):
    monkeypatch.setattr(SHAPED_RUNS, "ttl_s", 0.3)
    run_id = env.run_ids[-1]
    assert env.get(f"/runs/{run_id}/hotspots", "public").status_code == 200
    assert env.store.delete_run(run_id)
    time.sleep(0.35)
    r = env.get(f"/runs/{run_id}/hotspots", "public")
    assert r.status_code == 404, r.text


def test_the_benchmarks_naive_baseline_serves_the_same_documents(env, api_kit):
    from benchmarks.load_api import add_naive_route

    app = add_naive_route(api_kit.make_app(env.store, env.kind))
    with api_kit.TestClient(app) as client:
        for role in ROLES:
            for run_id in env.run_ids[:2]:
                ours = env.get(f"/runs/{run_id}/hotspots", role)
                url = f"/bench/naive/runs/{run_id}/hotspots"
                naive = client.get(url, headers=env.headers[role])
                assert naive.status_code == ours.status_code == 200
                assert naive.json() == ours.json(), (role, run_id)
