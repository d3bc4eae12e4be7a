"""Share links for neighbourhood teams, on both stores: made by analysts for one run, a role
and an expiry; opened without a key (each open recorded); tampered, expired and revoked
links answer with a plain-language page; a link cannot be edited to show more."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from api.security import new_link_id, now_utc, sign_link
from geodata.model import ShareLinkRecord

PROBLEM = "application/problem+json"
TRACE = re.compile(r"Traceback|File \"|Exception|Error:|SELECT |psycopg|duckdb", re.I)


@pytest.fixture(scope="module")
def env(api_env):
    return api_env


def make_link(env, run_id: str, **body) -> dict:
    r = env.post("/share-links", json={"run_id": run_id, **body})
    assert r.status_code == 201, r.text
    link = r.json()
    assert link["url"].startswith("http://testserver/share/") and link["url"].endswith("/")
    return link


def path_of(link: dict) -> str:
    return link["url"].removeprefix("http://testserver")


def token_of(link: dict) -> str:
    return path_of(link).split("/")[2]


def opens(env, link_id: str) -> list[dict]:
    r = env.get(f"/share-links/{link_id}/opens")
    assert r.status_code == 200
    return r.json()


def check_page(r, status: int, words: str) -> None:
    """A plain-language HTML page with this status, and no trace of the machinery."""
    assert r.status_code == status, r.text[:300]
    assert r.headers["content-type"].startswith("text/html")
    assert r.text.lower().startswith("<!doctype html>")
    assert words in r.text and "Ask" in r.text
    assert not TRACE.search(r.text), r.text


def test_an_analyst_makes_a_link_that_opens_without_a_key_and_records_each_open(env):
    run_id = env.run_ids[0]
    before = now_utc()
    link = make_link(env, run_id, role="partner", expires_in_days=10, title="Town centre")
    assert link["run_id"] == run_id and link["role"] == "partner"
    assert link["created_by"] == "test analyst" and link["revoked_at"] is None
    expires = link["expires_at"]
    assert str(before + timedelta(days=10))[:10] <= expires[:10]
    assert opens(env, link["link_id"]) == []

    page = env.client.get(path_of(link))  # no key at all
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "Town centre" in page.text
    geo = env.client.get(path_of(link) + "hotspots.geojson")
    assert geo.status_code == 200 and geo.headers["content-type"].startswith("application/geo+json")
    assert geo.json() == env.get(f"/runs/{run_id}/hotspots", "partner").json()
    seen = opens(env, link["link_id"])
    assert len(seen) == 2
    for o in seen:
        assert o["client"] == "testclient"
        assert before.isoformat()[:16] <= o["opened_at"][:16]
    listed = {x["link_id"]: x for x in env.get("/share-links").json()}
    assert listed[link["link_id"]]["expires_at"] == expires
    assert listed[link["link_id"]]["url"] is None  # the token is shown once, when made


def test_a_public_link_gets_small_counts_suppressed(env):
    # hexagons by count: many hotspots with small counts (Gi* no longer ranks cells with
    # few incidents of their own: issue 13)
    made = env.post("/analyses", json={"method": "hexes", "resolution": 10})
    assert made.status_code == 201, made.text
    run_id = made.json()["run_id"]
    link = make_link(env, run_id, role="public")
    doc = env.client.get(path_of(link) + "hotspots.geojson").json()
    assert doc == env.get(f"/runs/{run_id}/hotspots", "public").json()
    assert doc["suppression"]["role"] == "public"
    assert doc["withheld"]["small_count"] > 0
    assert all(f["properties"]["count"] % 5 == 0 for f in doc["features"])


def test_a_link_never_shows_sensitive_points(env, sensitive_run):
    full = env.get(f"/runs/{sensitive_run}/hotspots").json()
    assert full["features"]
    for role in ("partner", "public"):
        link = make_link(env, sensitive_run, role=role)
        doc = env.client.get(path_of(link) + "hotspots.geojson").json()
        assert doc["features"] == []  # the run's hotspots are made without sensitive incidents
        page = env.client.get(path_of(link))
        assert page.status_code == 200
        for cat in ("domestic-abuse", "sexual-offences"):
            assert cat not in page.text


@pytest.mark.parametrize("role", ["anonymous", "public", "partner", "revoked", "garbage"])
def test_only_analysts_make_list_and_revoke_links(env, role):
    link = make_link(env, env.run_ids[0])
    expected = 401 if role in ("anonymous", "revoked", "garbage") else 403
    attempts = [
        env.post("/share-links", role, json={"run_id": env.run_ids[0]}),
        env.get("/share-links", role),
        env.request("DELETE", f"/share-links/{link['link_id']}", role),
        env.get(f"/share-links/{link['link_id']}/opens", role),
    ]
    for r in attempts:
        assert r.status_code == expected and r.headers["content-type"] == PROBLEM
    assert env.client.get(path_of(link)).status_code == 200  # still live


def test_a_revoked_link_is_withdrawn_at_once(env):
    link = make_link(env, env.run_ids[0])
    assert env.client.get(path_of(link)).status_code == 200
    r = env.request("DELETE", f"/share-links/{link['link_id']}")
    assert r.status_code == 204 and not r.content
    check_page(env.client.get(path_of(link)), 410, "withdrawn")
    geo = env.client.get(path_of(link) + "hotspots.geojson")
    assert geo.status_code == 410 and geo.headers["content-type"] == PROBLEM
    again = env.request("DELETE", f"/share-links/{link['link_id']}")
    assert again.status_code == 404 and again.headers["content-type"] == PROBLEM
    listed = {x["link_id"]: x for x in env.get("/share-links").json()}
    assert listed[link["link_id"]]["revoked_at"] is not None
    assert len(opens(env, link["link_id"])) == 1  # refused opens are not recorded as opens


def add_link(env, api_kit, run_id: str, *, days: float, role: str = "partner") -> str:
    """A link stored directly (so it can be made already expired); its token."""
    made = now_utc()
    link_id = new_link_id()
    env.store.add_share_link(
        ShareLinkRecord(
            link_id, run_id, role, {"title": "t"}, "test", made, made + timedelta(days=days), None
        )
    )
    return sign_link(link_id, api_kit.secret)


def test_an_expired_link_says_so_with_410(env, api_kit):
    token = add_link(env, api_kit, env.run_ids[0], days=-1)
    check_page(env.client.get(f"/share/{token}/"), 410, "expired")
    geo = env.client.get(f"/share/{token}/hotspots.geojson")
    assert geo.status_code == 410 and geo.headers["content-type"] == PROBLEM
    live = add_link(env, api_kit, env.run_ids[0], days=1 / 24)
    assert env.client.get(f"/share/{live}/").status_code == 200


def test_a_link_to_a_removed_run_says_the_map_is_gone(env, api_kit):
    made = env.post("/analyses", json={"method": "kde", "categories": ["robbery"]})
    run_id = made.json()["run_id"]
    token = add_link(env, api_kit, run_id, days=5)
    assert env.client.get(f"/share/{token}/").status_code == 200
    assert env.store.delete_run(run_id)
    check_page(env.client.get(f"/share/{token}/"), 410, "no longer available")


def tampered(token: str, other: str) -> list[str]:
    link_id, sig = token.split(".")
    other_id, other_sig = other.split(".")
    flipped = sig[:-1] + ("A" if sig[-1] != "A" else "B")
    return [
        f"{link_id}.{flipped}",  # signature changed
        f"{other_id}.{sig}",  # another link's id under this signature
        f"{link_id}.{other_sig}",
        f"{link_id}x.{sig}",
        link_id,  # no signature
        f"{link_id}.",
        f"{token}.extra",
        "." + sig,
        "%20",
        "a" * 300,
    ]


def test_a_tampered_or_forged_token_gets_a_plain_page_and_is_not_recorded(env, api_kit):
    link = make_link(env, env.run_ids[0])
    other = make_link(env, env.run_ids[1], role="public")
    for bad in tampered(token_of(link), token_of(other)):
        check_page(env.client.get(f"/share/{bad}/"), 404, "does not work")
        geo = env.client.get(f"/share/{bad}/hotspots.geojson")
        assert geo.status_code == 404 and geo.headers["content-type"] == PROBLEM
    forged = sign_link(link["link_id"], "another-secret-" + "z" * 40)
    check_page(env.client.get(f"/share/{forged}/"), 404, "does not work")
    assert opens(env, link["link_id"]) == [] and opens(env, other["link_id"]) == []
    unknown = sign_link(new_link_id(), api_kit.secret)  # genuine form, no such link
    check_page(env.client.get(f"/share/{unknown}/"), 404, "not known")


def test_a_link_cannot_be_widened(env, sensitive_run):
    """What a link shows is kept server-side under its signed id: the token carries no
    role, run or filter to edit, query parameters change nothing, and it is no API key."""
    link = make_link(env, sensitive_run, role="public")
    token = token_of(link)
    assert "public" not in token and sensitive_run not in token
    base = env.client.get(path_of(link) + "hotspots.geojson").json()
    for query in ("?role=analyst", "?run_id=" + env.run_ids[0], "?f=json&min_count=0"):
        assert env.client.get(path_of(link) + "hotspots.geojson" + query).json() == base
    assert base["features"] == []
    for header in ({"X-API-Key": token}, {"Authorization": f"Bearer {token}"}):
        r = env.client.get("/incidents", headers=header)
        assert r.status_code == 401 and r.headers["content-type"] == PROBLEM
    as_analyst = env.client.get(path_of(link) + "hotspots.geojson", headers=env.headers["analyst"])
    assert as_analyst.json() == base  # a key does not widen a link either


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"role": "analyst"}, "role"),
        ({"expires_in_days": 0}, "expires_in_days"),
        ({"expires_in_days": 91}, "expires_in_days"),  # share_link_max_days = 90
        ({"expires_in_days": 400}, "expires_in_days"),
        ({"title": "x" * 200}, "title"),
        ({"scope": "everything"}, "scope"),
        ({"run_id": ""}, "run_id"),
    ],
)
def test_bad_link_requests_are_422_naming_the_field(env, body, field):
    r = env.post("/share-links", json={"run_id": env.run_ids[0], **body})
    assert r.status_code == 422 and r.headers["content-type"] == PROBLEM, r.text
    doc = r.json()
    assert field in doc["detail"] and "received" in doc["detail"]


def test_link_ids_never_start_with_a_dash(monkeypatch):
    """A link id is typed on the command line (``hotspots share revoke ID``), where a
    leading ``-`` reads as an option: such ids are drawn again (1 in 64 used to be)."""
    import api.security as security

    draws = iter([b"\xf8" + bytes(11), b"\x00" * 12])  # the first encodes to "-…"
    monkeypatch.setattr(security.secrets, "token_bytes", lambda n: next(draws))
    assert new_link_id() == "A" * 16
    monkeypatch.undo()
    assert not any(new_link_id().startswith("-") for _ in range(2_000))
