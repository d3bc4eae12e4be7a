"""Same request, same result through either door (issue 11), part 2: figures.

Rates, plans, briefings, backtests, Knox tests, interventions and their
evaluation, each asked through the command line (``hotspots … --json``) and
through HTTP (as an analyst) on the same store — DuckDB and PostGIS — and
compared field by field (:func:`parity.same`). Set aside, and why:

- ``generated`` (a briefing's date of making), ``created_at``, and ``run_id`` /
  ``written`` / ``stored`` of plans, backtests and evaluations (stored as runs by
  another change; a run's id is compared where both doors give one);
- rates: the CLI gives a table (one row per area), HTTP GeoJSON (one feature per
  area, with its outline); every figure of each row is compared with the feature's
  properties, and the borough's figures and the period with the document's;
- a backtest's ``request`` (HTTP echoes its body; the CLI has no body);
- an intervention's ``links`` (URLs only a web answer has); who logged it is the
  caller's key name on HTTP, ``--by`` on the command line (given the same here).

Part 1 (:mod:`test_parity_runs`) covers the store's records (imports, runs, maps,
share links, keys, coverage).
"""

from __future__ import annotations

import pytest
from parity import VOLATILE, doors, same

WINDOW = {"from": "2022-01", "to": "2022-06"}
ASB = "anti-social-behaviour"
STORED = VOLATILE | {"run_id", "stored", "links"}


@pytest.fixture(scope="module")
def both(api_env, api_kit):
    with doors(api_env, api_kit.secret) as d:
        yield d


@pytest.fixture(scope="module")
def ward(both) -> str:
    """The ward with the most anti-social behaviour in the window."""
    doc = both.http("GET", f"/areas?kind=ward&categories={ASB}&from=2022-01&to=2022-06")
    return max(doc["features"], key=lambda f: f["properties"]["count"] or 0)["id"]


@pytest.mark.parametrize("kind", ["ward", "lsoa"])
def test_rates(both, kind: str) -> None:
    cli = both.cli("rates", "--kind", kind, "--categories", f"{ASB},burglary",
                   "--from", WINDOW["from"], "--to", WINDOW["to"])  # fmt: skip
    http = both.http("GET", f"/areas?kind={kind}&categories={ASB},burglary&from=2022-01&to=2022-06")
    features = {f["id"]: f["properties"] for f in http["features"]}
    assert [a["area_code"] for a in cli["areas"]] == list(features)
    for area in cli["areas"]:
        shown = features[area["area_code"]]
        same({k: area[k] for k in area if k in shown}, {k: shown[k] for k in area if k in shown})
        assert {"count", "rate", "population", "change_pct"} <= area.keys() & shown.keys()
    assert sum(a["count"] for a in cli["areas"]) > 100
    assert any(a["rate"] for a in cli["areas"])
    for key in ("borough", "period"):
        assert key in http, f"GET /areas gives no {key!r}: {sorted(http)}"
        same(cli[key], {k: http[key][k] for k in cli[key] if k in http[key]})


def test_plans(both) -> None:
    body = {"area": "borough", "categories": [ASB], **WINDOW, "sites": 4, "days": ["Fri", "Sat"]}
    cli = both.cli("plan", "--area", "borough", "--categories", ASB, "--from", WINDOW["from"],
                   "--to", WINDOW["to"], "--sites", "4", "--days", "Fri,Sat")  # fmt: skip
    http = both.http("POST", "/plans", json=body)
    same(cli, http, ignore=STORED)
    assert len(cli["sites"]) == 4 and [s["visit"] for s in cli["sites"]] == [1, 2, 3, 4]
    by_hours = both.http("POST", "/plans", json={**body, "sites": None, "hours": 3})
    same(both.cli("plan", "--categories", ASB, "--from", WINDOW["from"], "--to", WINDOW["to"],
                  "--hours", "3", "--days", "Fri,Sat"), by_hours, ignore=STORED)  # fmt: skip


def test_ward_briefing(both, ward: str) -> None:
    cli = both.cli("briefing", ward, "--categories", f"{ASB},burglary",
                   "--from", WINDOW["from"], "--to", WINDOW["to"])  # fmt: skip
    http = both.http(
        "GET",
        f"/areas/wards/{ward}/briefing?f=json&categories={ASB},burglary&from=2022-01&to=2022-06",
    )
    same(cli, http)
    assert cli["ward"]["code"] == ward and cli["totals"]["count"] > 0
    assert [c["category"] for c in cli["categories"]] and cli["hotspots"]


def test_backtest(both) -> None:
    body = {"categories": [ASB], "from": "2022-01", "to": "2022-08",
            "methods": ["naive", "gistar"], "train_months": 3, "min_test_count": 10}  # fmt: skip
    cli = both.cli("backtest", "--categories", ASB, "--from", "2022-01", "--to", "2022-08",
                   "--methods", "naive,gistar", "--train-months", "3",
                   "--min-test-count", "10")  # fmt: skip
    http = both.http("POST", "/backtests", json=body)
    same(cli, http, ignore=STORED | {"request"})
    text = repr(cli)
    assert "pai" in text and "hit_rate" in text


def test_knox(both) -> None:
    body = {"categories": ["burglary"], "from": "2022-01", "to": "2022-06",
            "permutations": 99, "seed": 3, "risk_zones": True}  # fmt: skip
    cli = both.cli("knox", "--categories", "burglary", "--from", "2022-01", "--to", "2022-06",
                   "--permutations", "99", "--seed", "3")  # fmt: skip
    http = both.http("POST", "/knox", json={**body, "risk_zones": False})
    same(cli, http, ignore=STORED)
    assert cli["n_events"] > 50 and all(0 < c["p"] <= 1 for c in cli["cells"])
    assert sum(c["observed"] for c in cli["cells"]) > 0


def test_interventions_and_their_evaluation(both, ward: str, tmp_path) -> None:
    name = "test analyst"  # the analyst key's name (conftest.add_key)
    by_cli = both.cli("interventions", "add", "--title", "Parity patrols", "--kind", "patrols",
                      "--start", "2022-04-01", "--end", "2022-04-30", "--ward", ward,
                      "--hours", "12", "--by", name)  # fmt: skip
    by_http = both.http(
        "POST",
        "/interventions",
        expect=201,
        json={"title": "Parity patrols", "kind": "patrols", "start_date": "2022-04-01",
              "end_date": "2022-04-30", "ward": ward, "officer_hours": 12},
    )  # fmt: skip
    ignore = {"intervention_id", "created_at", "links"}
    same(by_cli, by_http, ignore=ignore)
    same(both.cli("interventions", "list"), both.http("GET", "/interventions"), ignore={"links"})
    iid = by_cli["intervention_id"]
    same(both.cli("interventions", "show", iid), both.http("GET", f"/interventions/{iid}"),
         ignore={"links"})  # fmt: skip

    cli = both.cli("evaluate", iid, "--months", "2", "--categories", ASB)
    http = both.http(
        "POST", f"/interventions/{iid}/evaluation", json={"months": 2, "categories": [ASB]}
    )
    same(cli, http, ignore=STORED)
    assert cli["run_id"] == http["run_id"]  # one stored evaluation, whichever door asked
    # the analyst's own harm weights: a file on the command line, a table in the body
    weights = tmp_path / "w.toml"
    weights.write_text(f'version = "parity"\n[weights.{ASB}]\nweight = 7\n')
    table = {"version": "parity", "weights": {ASB: {"weight": 7}}}
    weighed = both.cli("evaluate", iid, "--months", "2", "--categories", ASB,
                       "--harm-weights", str(weights))  # fmt: skip
    same(
        weighed,
        both.http("POST", f"/interventions/{iid}/evaluation",
                  json={"months": 2, "categories": [ASB], "harm_weights": table}),
        ignore=VOLATILE,
    )  # fmt: skip
    assert weighed["run_id"] != cli["run_id"]  # another request: another stored evaluation
    assert cli["verdict"] and cli["summary"] and cli["plan"]["before"] and cli["plan"]["after"]
    windows = {"before": ["2022-01", "2022-04"], "after": ["2022-05", "2022-08"]}
    same(
        both.cli("evaluate", iid, "--before-from", "2022-01", "--before-to", "2022-03",
                 "--after-from", "2022-05", "--after-to", "2022-07", "--control", "borough"),
        both.http("POST", f"/interventions/{iid}/evaluation",
                  json={**windows, "control": "borough"}),
        ignore=STORED,
    )  # fmt: skip

    assert both.cli("interventions", "delete", iid) == {"deleted": iid}
    both.http("GET", f"/interventions/{iid}", expect=404)
    both.http("DELETE", f"/interventions/{by_http['intervention_id']}", expect=204)
    both.cli("interventions", "show", by_http["intervention_id"], expect=6)
