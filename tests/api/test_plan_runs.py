"""Plans are runs (issue 11, item 2): ``hotspots plan`` and ``POST /plans`` store one run,
reused for an identical request through either door; it is listed, mapped and shared
with a neighbourhood team like a hotspot run, partners only, as the partner's plan.

On both stores (``tests/api/conftest.py``: ``bicycle-theft`` is sensitive there, so the
partner's plan is made without it). Expected values come from the stored run's views.
"""

from __future__ import annotations

import json
import re

import pytest
from test_plans import cli, get, post  # this folder's plan helpers (both stores)

BODY = {"categories": ["bicycle-theft", "violent-crime"], "from": "2022-01", "to": "2022-12"}


@pytest.fixture(scope="module")
def env(make_api_env, tmp_path_factory):
    with make_api_env(tmp_path_factory.mktemp("plan-runs")) as api:
        yield {
            "client": api.client,
            "store": api.store,
            "keys": api.headers,
            "kind": api.kind,
            "location": api.location,
        }


def test_one_plan_run_whichever_door_asks(env, monkeypatch):
    body = {**BODY, "sites": 4, "days": ["Fri", "Sat"], "times": "18-23"}
    first = post(env, body, "analyst")
    assert first.status_code == 200, first.text
    run_id = first.json()["run_id"]
    assert run_id.startswith("plan-") and first.headers["location"] == f"/runs/{run_id}"
    again = post(env, body, "analyst").json()
    assert again["run_id"] == run_id and again == first.json()  # reused, not made again
    made = env["store"].get_run(run_id)
    assert made.method == "plan" and made.params["request_key"]

    result = cli(
        env,
        monkeypatch,
        *("plan", "--categories", "bicycle-theft,violent-crime", "--from", "2022-01"),
        *("--to", "2022-12", "--sites", "4", "--days", "Fri,Sat", "--times", "18-23", "--json"),
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["run_id"] == run_id  # the command line finds the same run
    assert [s["cell"] for s in doc["sites"]] == [s["cell"] for s in first.json()["sites"]]
    assert env["store"].get_run(run_id).created_at == made.created_at

    listed = {r["run_id"]: r for r in get(env, "/runs", "partner").json()}
    assert listed[run_id]["method"] == "plan" and listed[run_id]["hotspots"] >= 1
    assert run_id not in {r["run_id"] for r in get(env, "/runs", "public").json()}
    # a plan is not a hotspot layer: the OGC catalogue leaves it out
    ids = {c["id"] for c in get(env, "/ogc/collections", "analyst").json()["collections"]}
    assert run_id not in ids and f"run-{run_id}" not in ids
    assert get(env, f"/ogc/collections/{run_id}", "analyst").status_code == 404


def test_partners_get_the_plan_made_without_sensitive_incidents(env):
    run_id = post(env, {**BODY, "sites": 6}, "analyst").json()["run_id"]
    analyst = get(env, f"/runs/{run_id}/hotspots", "analyst").json()
    partner = get(env, f"/runs/{run_id}/hotspots", "partner").json()
    stored = env["store"].get_run(run_id).result
    assert [f["id"] for f in analyst["features"]] == [
        f["id"] for f in stored["analyst"]["features"]
    ]
    assert [f["properties"]["cell"] for f in partner["features"]] == [
        f["properties"]["cell"] for f in stored["restricted"]["features"]
    ]
    assert any("bicycle-theft" in f["properties"]["categories"] for f in analyst["features"])
    for f in partner["features"]:  # made without the sensitive category
        assert "bicycle-theft" not in f["properties"]["categories"]
    assert partner["disclosure"]["role"] == "partner"
    public = get(env, f"/runs/{run_id}/hotspots", "public").json()
    assert public["features"] == [] and "partners and analysts only" in public["notes"][0]
    # the partner asking the same gets the same run, and its partner view
    by_partner = post(env, {**BODY, "sites": 6}, "partner").json()
    assert by_partner["run_id"] == run_id
    assert [s["cell"] for s in by_partner["sites"]] == [
        f["properties"]["cell"] for f in partner["features"]
    ]


def test_a_plan_is_shared_with_partners_as_a_numbered_map(env, monkeypatch, tmp_path):
    run_id = post(env, {**BODY, "sites": 5}, "analyst").json()["run_id"]
    shared = env["client"].post(
        "/share-links", json={"run_id": run_id, "role": "partner"}, headers=env["keys"]["analyst"]
    )
    assert shared.status_code == 201, shared.text
    url = shared.json()["url"].replace("http://testserver", "")
    page = env["client"].get(url)
    assert page.status_code == 200
    view = env["client"].get(url + "hotspots.geojson").json()
    sites = view["features"]
    assert sites and [f["properties"]["visit"] for f in sites] == list(range(1, len(sites) + 1))
    labels = [int(x) for x in re.findall(r'"label":\s*(\d+)', page.text)]
    assert sorted(labels) == list(range(1, len(sites) + 1))  # every site numbered
    assert "route in visiting order" in page.text and "Day of action" in page.text
    assert '"go":' in page.text  # each popup says when to be there
    assert all("bicycle-theft" not in f["properties"]["categories"] for f in sites)

    public = env["client"].post(
        "/share-links", json={"run_id": run_id, "role": "public"}, headers=env["keys"]["analyst"]
    )
    assert public.status_code == 422 and "partners only" in public.json()["detail"]
    narrowed = env["client"].post(
        "/share-links",
        json={"run_id": run_id, "role": "partner", "filters": {"categories": ["violent-crime"]}},
        headers=env["keys"]["analyst"],
    )
    assert narrowed.status_code == 422 and "shared whole" in narrowed.json()["detail"]

    link_id = shared.json()["link_id"]
    r = env["client"].delete(f"/share-links/{link_id}", headers=env["keys"]["analyst"])
    assert r.status_code == 204
    assert env["client"].get(url).status_code == 410  # withdrawn like a run's link

    written = tmp_path / "plan.html"
    result = cli(env, monkeypatch, "map", run_id, "-o", str(written), "--json")
    assert result.exit_code == 0, result.output
    assert "route in visiting order" in written.read_text(encoding="utf-8")
    shown = cli(env, monkeypatch, "runs", "show", run_id)
    assert shown.exit_code == 0 and "Day of action" in shown.stdout
