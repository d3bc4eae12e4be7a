"""Backtests and evaluations are runs (issue 11, item 2): either door stores one, an
identical request on unchanged data answers from it without computing again, and a
changed intervention makes a new one. They are analysts' work: listed, shown to
analysts only, never a map and never shared.

On the Gravesham demo of ``tests/api/conftest.py``, once per store (DuckDB, PostGIS).
"""

from __future__ import annotations

import json

import pytest
from test_plans import cli  # runs ``hotspots`` on the module's store (both kinds)

import api.usecases.backtests
import api.usecases.evaluation

BACKTEST = {
    "categories": ["anti-social-behaviour"],
    "from": "2022-01",
    "to": "2022-06",
    "methods": ["naive", "gistar"],
    "resolution": 9,
}
SQUARE = {
    "type": "Polygon",
    "coordinates": [
        [[0.368, 51.44], [0.372, 51.44], [0.372, 51.4425], [0.368, 51.4425], [0.368, 51.44]]
    ],
}


@pytest.fixture(scope="module")
def env(make_api_env, tmp_path_factory):
    with make_api_env(tmp_path_factory.mktemp("stored-docs")) as api:
        yield api


def as_cli_env(env) -> dict:
    return {"kind": env.kind, "location": env.location}


def counting(monkeypatch, module, name: str) -> list:
    """Count calls of ``module.name`` (still calling it)."""
    calls: list = []
    real = getattr(module, name)

    def counted(*args, **kw):
        calls.append(1)
        return real(*args, **kw)

    monkeypatch.setattr(module, name, counted)
    return calls


def test_a_backtest_is_a_run_reused_through_either_door(env, monkeypatch):
    calls = counting(monkeypatch, api.usecases.backtests, "run_backtest")
    first = env.post("/backtests", json=BACKTEST)
    assert first.status_code == 200, first.text
    run_id = first.json()["run_id"]
    assert run_id.startswith("backtest-") and len(calls) == 1
    again = env.post("/backtests", json=BACKTEST).json()
    assert again["run_id"] == run_id and len(calls) == 1  # answered from the stored run
    assert again["windows"] == first.json()["windows"]

    result = cli(
        as_cli_env(env),
        monkeypatch,
        *("backtest", "--categories", "anti-social-behaviour", "--from", "2022-01"),
        *("--to", "2022-06", "--methods", "naive,gistar", "--resolution", "9", "--json"),
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["run_id"] == run_id and len(calls) == 1
    assert doc["summary"] == first.json()["summary"]
    shown = cli(as_cli_env(env), monkeypatch, "backtest", "--categories",
                "anti-social-behaviour", "--from", "2022-01", "--to", "2022-06",
                "--methods", "naive,gistar", "--resolution", "9")  # fmt: skip
    assert shown.exit_code == 0 and "already stored" in shown.stdout and "PAI" in shown.stdout

    listed = cli(as_cli_env(env), monkeypatch, "runs", "show", run_id)
    assert listed.exit_code == 0 and "Summary over the test windows" in listed.stdout

    other = env.post("/backtests", json={**BACKTEST, "to": "2022-07"}).json()
    assert other["run_id"] != run_id and len(calls) == 2

    listed = {r["run_id"]: r for r in env.get("/runs").json()}
    assert listed[run_id]["method"] == "backtest"
    stored = env.get(f"/runs/{run_id}/hotspots").json()
    assert stored["document"]["summary"] == first.json()["summary"]
    for role in ("partner", "public"):
        seen = env.get(f"/runs/{run_id}/hotspots", role).json()
        assert "document" not in seen and seen["features"] == []
        assert "analysts only" in seen["notes"][0]
        assert "windows" not in json.dumps(env.get(f"/runs/{run_id}", role).json())
    assert env.get(f"/runs/{run_id}/map").status_code == 409
    shared = env.post("/share-links", json={"run_id": run_id, "role": "partner"})
    assert shared.status_code == 409 and "not shared" in shared.json()["detail"]
    mapped = cli(as_cli_env(env), monkeypatch, "map", run_id, "-o", "/dev/null", "--json")
    assert mapped.exit_code == 2 and "has no map" in mapped.stdout


def test_an_evaluation_is_a_run_and_a_changed_intervention_a_new_one(env, monkeypatch):
    calls = counting(monkeypatch, api.usecases.evaluation, "evaluate_intervention")
    logged = env.post(
        "/interventions",
        json={
            "title": "Day of action: town centre",
            "kind": "day-of-action",
            "start_date": "2022-06-15",
            "geometry": SQUARE,
            "officer_hours": 40,
        },
    )
    assert logged.status_code == 201, logged.text
    iv = logged.json()["intervention_id"]
    first = env.post(f"/interventions/{iv}/evaluation", json={"months": 3})
    assert first.status_code == 200, first.text
    run_id = first.json()["run_id"]
    assert run_id.startswith("evaluation-") and len(calls) == 1
    again = env.post(f"/interventions/{iv}/evaluation", json={"months": 3}).json()
    assert again == first.json() and len(calls) == 1

    result = cli(as_cli_env(env), monkeypatch, "evaluate", iv, "--months", "3", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["run_id"] == run_id and len(calls) == 1
    shown = cli(as_cli_env(env), monkeypatch, "runs", "show", run_id)
    assert shown.exit_code == 0 and "Verdict:" in shown.stdout, shown.stdout

    # the same intervention logged again is another record: another evaluation
    relogged = env.post(
        "/interventions",
        json={
            "title": "Day of action: town centre (re-logged)",
            "kind": "day-of-action",
            "start_date": "2022-06-15",
            "geometry": SQUARE,
            "officer_hours": 40,
        },
    ).json()["intervention_id"]
    moved = env.post(f"/interventions/{relogged}/evaluation", json={"months": 3}).json()
    assert moved["run_id"] != run_id and len(calls) == 2
    # deleting the intervention keeps its evaluation: it is history
    assert env.request("DELETE", f"/interventions/{iv}").status_code == 204
    assert env.get(f"/runs/{run_id}").status_code == 200
