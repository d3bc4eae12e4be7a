"""Security headers of map and share pages, and the audit log of refused share-link
opens (issue 14). On both stores."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest

from api.page_headers import content_security_policy
from api.security import new_link_id, now_utc, sign_link
from geodata.model import ShareLinkRecord


@pytest.fixture(scope="module")
def env(api_env):
    return api_env


def share_token(env, api_kit, *, days: float, revoked: bool = False) -> tuple[str, str]:
    made = now_utc()
    link_id = new_link_id()
    env.store.add_share_link(
        ShareLinkRecord(
            link_id, env.run_ids[0], "partner", {"title": "t"}, "test", made,
            made + timedelta(days=days), made if revoked else None,
        )
    )  # fmt: skip
    return link_id, sign_link(link_id, api_kit.secret)


def check_page_headers(r) -> dict:
    assert r.headers["cache-control"] == "private, no-store"
    assert r.headers["referrer-policy"] == "no-referrer"
    csp = dict(p.strip().split(" ", 1) for p in r.headers["content-security-policy"].split(";"))
    assert csp["default-src"] == "'none'" and csp["frame-ancestors"] == "'self'"
    assert csp["script-src"].split()[0] == "'self'" and "https:" not in csp["script-src"]
    return csp


def test_share_and_map_pages_send_no_store_no_referrer_and_a_csp_with_the_tile_host(env, api_kit):
    _, token = share_token(env, api_kit, days=1)
    page = env.client.get(f"/share/{token}/")
    assert page.status_code == 200
    csp = check_page_headers(page)
    assert csp["img-src"].endswith("https://tile.openstreetmap.org")
    geo = env.client.get(f"/share/{token}/hotspots.geojson")
    assert geo.headers["cache-control"] == "private, no-store"
    assert geo.headers["referrer-policy"] == "no-referrer"
    run_map = env.get(f"/runs/{env.run_ids[0]}/map")
    assert run_map.status_code == 200
    check_page_headers(run_map)
    assert "content-security-policy" not in env.get("/health").headers


def test_the_csp_names_the_configured_tile_host():
    csp = content_security_policy("https://{s}.tiles.example.gov.uk/{z}/{x}/{y}.png")
    assert "img-src 'self' data: blob: https://*.tiles.example.gov.uk;" in csp


def test_refused_share_link_opens_are_logged_with_the_reason(env, api_kit, caplog):
    revoked_id, revoked = share_token(env, api_kit, days=1, revoked=True)
    expired_id, expired = share_token(env, api_kit, days=-1)
    _, good = share_token(env, api_kit, days=1)
    tampered = good[:-1] + ("A" if good[-1] != "A" else "B")
    with caplog.at_level(logging.WARNING, logger="hotspots.audit"):
        for token in (revoked, expired, tampered):
            r = env.client.get(f"/share/{token}/")
            assert r.status_code in (404, 410)
            check_page_headers(r)
        assert env.client.get(f"/share/{good}/").status_code == 200
    refused = [r.getMessage() for r in caplog.records if r.name == "hotspots.audit"]
    assert len(refused) == 3, refused
    assert "revoked" in refused[0] and revoked_id in refused[0]
    assert "expired" in refused[1] and expired_id in refused[1]
    assert "tampered" in refused[2]
