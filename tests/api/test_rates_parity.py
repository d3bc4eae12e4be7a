"""Area figures through either door (issue 11): with no population loaded, ``hotspots
rates`` and ``GET /areas`` both give the counts and the change on the year, no rates,
and say why — on both stores."""

from __future__ import annotations

import pandas as pd
import pytest
from cli_json import run  # tests/api/cli_json.py

NOTE = "no LSOA population is loaded"


@pytest.fixture(scope="module")
def bare(make_api_env, tmp_path_factory):
    """A copy of the demo with its population removed."""
    with make_api_env(tmp_path_factory.mktemp("no-pop")) as env:
        env.store.replace_population(
            "lsoa", pd.DataFrame({"area_code": [], "year": [], "population": []})
        )
        yield env


def _cli_store(env, monkeypatch) -> list[str]:
    if env.kind == "duckdb":
        return ["--store", env.location]
    from psycopg.conninfo import conninfo_to_dict

    c = conninfo_to_dict(env.location)
    monkeypatch.setenv(
        "HOTSPOTS_DATABASE_URL", f"postgresql://{c['user']}@{c['host']}:{c['port']}/{c['dbname']}"
    )
    return []


def test_no_population_gives_counts_and_says_why_through_both_doors(bare, monkeypatch) -> None:
    cats = "anti-social-behaviour"
    api = bare.get(f"/areas?kind=ward&categories={cats}&from=2022-01&to=2022-11")
    assert api.status_code == 200, api.text
    doc = api.json()
    assert any(NOTE in n for n in doc["notes"])
    code, cli = run("rates", *_cli_store(bare, monkeypatch), "--kind", "ward",
                    "--categories", cats, "--from", "2022-01", "--to", "2022-11")  # fmt: skip
    assert code == 0, cli
    assert NOTE in cli["period"]["population_note"]
    by_api = {f["id"]: f["properties"] for f in doc["features"]}
    assert len(by_api) == len(cli["areas"]) == 18
    for area in cli["areas"]:
        shown = by_api[area["area_code"]]
        assert area["count"] == shown["count"] and area["count"] >= 0
        assert area["rate"] is None and shown["rate"] is None
        assert area["change_pct"] == shown["change_pct"]
    assert sum(a["count"] for a in cli["areas"]) > 0
