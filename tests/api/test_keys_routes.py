"""API keys through the API, on both stores: an analyst lists them (never the keys or
their hashes) and revokes one, which stops working at once on every route."""

from __future__ import annotations

import pytest

PROBLEM = "application/problem+json"


@pytest.fixture(scope="module")
def env(api_env):
    return api_env


def test_an_analyst_revokes_a_leaked_partner_key(env, api_kit) -> None:
    key_id, key = api_kit.add_key(env.store, "partner", "leaked on a bus")
    leaked = {"X-API-Key": key}
    assert env.client.get("/runs", headers=leaked).status_code == 200

    listed = env.get("/keys")
    assert listed.status_code == 200
    mine = next(k for k in listed.json() if k["key_id"] == key_id)
    assert mine == {**mine, "name": "leaked on a bus", "role": "partner", "revoked_at": None}
    assert not any(key in str(v) or "hash" in k for row in listed.json() for k, v in row.items())

    r = env.request("DELETE", f"/keys/{key_id}")
    assert r.status_code == 204, r.text
    after = env.client.get("/runs", headers=leaked)
    assert after.status_code == 401 and after.headers["content-type"] == PROBLEM
    row = next(k for k in env.get("/keys").json() if k["key_id"] == key_id)
    assert row["revoked_at"] is not None
    # the store says the same to the command line
    assert next(k for k in env.store.list_api_keys() if k.key_id == key_id).revoked_at
    again = env.request("DELETE", f"/keys/{key_id}")
    assert again.status_code == 404 and "no live API key" in again.json()["detail"]


@pytest.mark.parametrize("role", ["partner", "public"])
def test_only_analysts_see_or_revoke_keys(env, api_kit, role) -> None:
    key_id, _ = api_kit.add_key(env.store, "partner")
    assert env.get("/keys", role=role).status_code in (401, 403)
    assert env.request("DELETE", f"/keys/{key_id}", role=role).status_code in (401, 403)
    assert next(k for k in env.store.list_api_keys() if k.key_id == key_id).revoked_at is None


def test_a_malformed_key_id_names_the_parameter(env) -> None:
    r = env.request("DELETE", "/keys/not-a-key")
    assert r.status_code == 422 and r.headers["content-type"] == PROBLEM
    assert "key_id" in r.text and "key_0123456789ab" in r.text
