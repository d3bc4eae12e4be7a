"""Same request, same result through either door (issue 11), part 1: the store's records.

Each test makes one request through the command line (``hotspots … --json``) and
through HTTP (as an analyst) on the same store — DuckDB and PostGIS — and compares
the answers field by field (:func:`parity.same`), leaving out only what differs
between two requests a moment apart (times of creation) or by the door's nature:

- import: the CLI names a file by the path it was given, HTTP by the name it was
  uploaded under; both are compared by that base name;
- runs: the listing compares every field HTTP gives (the CLI's ``categories`` is
  checked against each run's provenance, which ``GET /runs/{id}`` shows); HTTP's
  ``links`` are URLs only a web answer has; ``runs show`` is compared with
  ``GET /runs/{id}`` and ``GET /runs/{id}/hotspots`` together;
- maps: the CLI inlines Leaflet and its plugins (a file that opens offline), the
  service links them from ``/static/vendor``; the pages are compared with the
  script and style blocks set aside, so every hotspot, area and incident drawn
  is compared;
- keys: made only on the command line (the key is shown once, on the machine
  holding the store); listing and revoking are compared both ways;
- share links: made, listed and revoked through each door, seen through the other.

Part 2 (:mod:`test_parity_figures`) covers rates, plans, briefings, backtests,
Knox, interventions and their evaluation.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from parity import doors, same
from street_csv import police_csv

RUN_REQUEST = {
    "method": "gistar",
    "categories": ["burglary"],
    "from": "2022-01",
    "to": "2022-06",
    "resolution": 9,
}
RUN_ARGS = ("--method", "gistar", "--categories", "burglary", "--from", "2022-01",
            "--to", "2022-06", "--resolution", "9")  # fmt: skip


@pytest.fixture(scope="module")
def both(api_env, api_kit):
    with doors(api_env, api_kit.secret) as d:
        yield d


@pytest.fixture(scope="module")
def gistar_run(both) -> str:
    """A run made through the CLI (and asked for again through HTTP: the same run)."""
    made = both.cli("analyse", *RUN_ARGS)
    assert made["stored"]["created"] is True
    return made["stored"]["run_id"]


def test_coverage_batches_and_quarantine(both) -> None:
    cov = both.cli("coverage")
    same(cov, both.http("GET", "/coverage"))
    assert len(cov["months"]) == 12 and len(cov["sources"]) == 2
    same(both.cli("batches"), both.http("GET", "/batches"))


def test_import_dry_run_then_import_then_unchanged(both, tmp_path: Path) -> None:
    path = tmp_path / "2023-01-kent-street.csv"
    path.write_bytes(police_csv("2023-01", 12, no_coords=3, prefix="par"))
    form = {"kind": "police", "dry_run": "true"}

    def upload(data=form):
        files = {"file": (path.name, path.read_bytes(), "text/csv")}
        return both.http("POST", "/imports", expect=(200, 201), files=files, data=data)

    cli_dry = both.cli("import", "police", str(path), "--dry-run")
    http_dry = upload()
    same(_named_by_base(cli_dry), _named_by_base(http_dry))
    assert cli_dry["rows_accepted"] == 12 and cli_dry["rows_rejected"] == 3
    assert "2023-01" not in both.cli("coverage")["months"]  # a dry run stores nothing

    cli_done = both.cli("import", "police", str(path))
    assert [b["status"] for b in cli_done["batches"]] == ["created"]
    http_again = upload({"kind": "police"})
    assert [b["status"] for b in http_again["batches"]] == ["unchanged"]
    assert http_again["batches"][0]["batch_id"] == cli_done["batches"][0]["batch_id"]
    cov = both.cli("coverage")
    assert "2023-01" in cov["months"]
    same(cov, both.http("GET", "/coverage"))
    same(both.cli("batches"), both.http("GET", "/batches"))
    batch = cli_done["batches"][0]["batch_id"]
    cli_q = both.cli("quarantine", "--batch", batch)
    http_q = both.http("GET", f"/quarantine?batch_id={batch}")
    assert len(cli_q) == 3
    same(cli_q, http_q)


def _named_by_base(report: dict) -> dict:
    """An import report with every file named by its base name."""
    text = repr(report)
    assert "file" in text
    return _rename(report)


def _rename(doc):
    if isinstance(doc, dict):
        return {
            k: (
                Path(v).name
                if k == "file" and isinstance(v, str)
                else [Path(f).name for f in v]
                if k == "files"
                else _rename(v)
            )
            for k, v in doc.items()
        }
    if isinstance(doc, list):
        return [_rename(v) for v in doc]
    return doc


def test_analyse_makes_one_run_whichever_door(both, gistar_run: str) -> None:
    again = both.http("POST", "/analyses", expect=200, json=RUN_REQUEST)
    assert again["run_id"] == gistar_run  # reused: the same request, the same run
    made = both.http(
        "POST", "/analyses", expect=201, json={**RUN_REQUEST, "method": "hexes", "k": 2}
    )
    cli = both.cli("analyse", *RUN_ARGS[2:], "--method", "hexes", "--k", "2")
    assert cli["stored"] == {"run_id": made["run_id"], "created": False}


def test_runs_list_and_show(both, gistar_run: str) -> None:
    listed_cli = both.cli("runs", "--limit", "100")
    listed_http = both.http("GET", "/runs?limit=100")
    for r in listed_cli:
        assert r.pop("categories") == (
            both.http("GET", f"/runs/{r['run_id']}")["provenance"].get("categories")
        )
    same(listed_cli, listed_http, ignore={"links"})
    assert gistar_run in {r["run_id"] for r in listed_cli}
    assert all(r["hotspots"] >= 0 and r["n_incidents"] > 0 for r in listed_cli)

    shown = both.cli("runs", "show", gistar_run)
    meta = both.http("GET", f"/runs/{gistar_run}")
    hotspots = both.http("GET", f"/runs/{gistar_run}/hotspots")
    assert shown.pop("request") == meta["request"]
    same(shown, hotspots)
    assert len(shown["features"]) == meta["hotspots"] > 0
    ranks = [f["properties"]["rank"] for f in shown["features"]]
    assert ranks == sorted(ranks)


def test_runs_delete_through_either_door(both) -> None:
    a = both.http("POST", "/analyses", expect=201, json={**RUN_REQUEST, "to": "2022-03"})
    b = both.http("POST", "/analyses", expect=201, json={**RUN_REQUEST, "to": "2022-04"})
    assert both.cli("runs", "delete", a["run_id"]) == {"deleted": a["run_id"]}
    both.http("GET", f"/runs/{a['run_id']}", expect=404)
    for role, status in (("partner", 403), ("anonymous", 401)):  # analysts only
        assert both.env.request("DELETE", f"/runs/{b['run_id']}", role).status_code == status
    both.http("DELETE", f"/runs/{b['run_id']}", expect=204)
    both.cli("runs", "show", b["run_id"], expect=6)
    both.http("DELETE", f"/runs/{b['run_id']}", expect=404)
    both.cli("runs", "delete", b["run_id"], expect=6)
    # a deleted run is made again, not found by its request's key
    again = both.http("POST", "/analyses", expect=201, json={**RUN_REQUEST, "to": "2022-03"})
    assert again["run_id"] == a["run_id"]


def _page(page: str, assets: str) -> str:
    """A map page with its asset block (``assets``) set aside and Folium's random element
    ids numbered in order of appearance."""
    assert page.count(assets) == 1
    page = page.replace(assets, "<!-- assets -->")
    ids: dict[str, str] = {}
    return re.sub(
        r"_[0-9a-f]{32}(?![0-9a-f])", lambda m: ids.setdefault(m[0], f"_id{len(ids)}"), page
    )


def test_map_of_a_run(both, gistar_run: str, tmp_path: Path) -> None:
    from maps.assets import asset_tags

    path = tmp_path / "m.html"
    doc = both.cli("map", gistar_run, "--role", "analyst", "-o", str(path))
    cli_page = path.read_text(encoding="utf-8")
    assert doc["bytes"] == len(cli_page)
    http_page = both.http("GET", f"/runs/{gistar_run}/map")
    cli_page = _page(cli_page, asset_tags("inline"))
    http_page = _page(http_page, asset_tags("link", "../../static/vendor"))
    assert cli_page == http_page
    features = both.http("GET", f"/runs/{gistar_run}/hotspots")["features"]
    assert features and cli_page.count('"type":"Feature"') > len(features)  # and areas


def test_api_keys(both) -> None:
    made = both.cli("keys", "create", "parity partner", "--role", "partner")
    listed = both.cli("keys", "list")
    same(listed, both.http("GET", "/keys"), ignore=set())
    assert made["key_id"] in {k["key_id"] for k in listed}
    assert both.env.client.get("/runs", headers={"X-API-Key": made["key"]}).status_code == 200
    both.http("DELETE", f"/keys/{made['key_id']}", expect=204)
    after = both.cli("keys", "list")
    same(after, both.http("GET", "/keys"), ignore=set())
    assert next(k for k in after if k["key_id"] == made["key_id"])["revoked_at"]
    assert both.env.client.get("/runs", headers={"X-API-Key": made["key"]}).status_code == 401
    other = both.cli("keys", "create", "parity public", "--role", "public")
    assert both.cli("keys", "revoke", other["key_id"]) == {"revoked": other["key_id"]}
    both.http("DELETE", f"/keys/{other['key_id']}", expect=404)
    both.cli("keys", "revoke", made["key_id"], expect=6)


def test_share_links(both, gistar_run: str) -> None:
    by_cli = both.cli("share", gistar_run, "--role", "public", "--expires", "7d")
    by_http = both.http(
        "POST",
        "/share-links",
        expect=201,
        json={"run_id": gistar_run, "role": "public", "expires_in_days": 7},
    )
    for link in (by_cli, by_http):  # each opens through the service
        path = "/" + link["url"].split("/", 3)[3]
        opened = both.env.client.get(path + "hotspots.geojson")
        assert opened.status_code == 200 and opened.json()["run_id"] == gistar_run
    listed = both.cli("share", "list")
    shown = both.http("GET", "/share-links")
    same(listed, shown, ignore={"created_at", "url"})
    ids = {k["link_id"] for k in listed}
    assert {by_cli["link_id"], by_http["link_id"]} <= ids
    assert both.cli("share", "revoke", by_http["link_id"]) == {"revoked": by_http["link_id"]}
    both.http("DELETE", f"/share-links/{by_cli['link_id']}", expect=204)
    listed = both.cli("share", "list")
    same(listed, both.http("GET", "/share-links"), ignore={"created_at", "url"})
    revoked = {k["link_id"] for k in listed if k["revoked_at"]}
    assert {by_cli["link_id"], by_http["link_id"]} <= revoked
