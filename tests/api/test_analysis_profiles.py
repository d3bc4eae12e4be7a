"""Harm weights and concern profiles through either door (issue 11): ``POST /analyses``
takes them inline in the shapes of the TOML files ``hotspots analyse`` reads; the same
tables give the same run from both doors, another table another run, and a share
link's filtered re-run keeps them."""

from __future__ import annotations

import pytest
from cli_json import run  # tests/api/cli_json.py

WEIGHTS = {"version": "kent-test", "weights": {"violent-crime": {"weight": 2}}}
CONCERN = {
    "name": "ward survey",
    "themes": [{"name": "street drinking", "first_choice_pct": 40, "categories": ["public-order"]}],
}
BODY = {"method": "hexes", "resolution": 8, "categories": ["violent-crime", "public-order"]}


@pytest.fixture(scope="module")
def env(api_env):
    return api_env


def _post(env, **extra):
    r = env.post("/analyses", json={**BODY, **extra})
    assert r.status_code in (200, 201), r.text
    return r


def test_inline_profiles_weigh_and_rank_the_run(env) -> None:
    plain = _post(env).json()["run_id"]
    made = _post(env, harm_weights=WEIGHTS, concern=CONCERN)
    run_id = made.json()["run_id"]
    assert run_id != plain and made.status_code == 201
    run = env.store.get_run(run_id)
    assert run.provenance["weights_version"].startswith("kent-test (sha256 ")
    assert run.provenance["concern_profile"].startswith("ward survey (sha256 ")
    for f in run.result["features"]:
        p = f["properties"]
        share = p["categories"].get("violent-crime", 0)
        assert p["harm"] == pytest.approx(2 * share + (p["count"] - share))
    # the same tables again: the stored run; a table of the same version but other
    # weights is another request
    assert _post(env, harm_weights=WEIGHTS, concern=CONCERN).status_code == 200
    other = {**WEIGHTS, "weights": {"violent-crime": {"weight": 3}}}
    assert _post(env, harm_weights=other, concern=CONCERN).json()["run_id"] != run_id


def test_both_doors_give_the_same_run(env, tmp_path, monkeypatch) -> None:
    weights = tmp_path / "w.toml"
    weights.write_text('version = "kent-test"\n[weights.violent-crime]\nweight = 2\n')
    concern = tmp_path / "c.toml"
    concern.write_text(
        'name = "ward survey"\n[[themes]]\nname = "street drinking"\n'
        'first_choice_pct = 40\ncategories = ["public-order"]\n'
    )
    api_run = _post(env, harm_weights=WEIGHTS, concern=CONCERN).json()["run_id"]
    if env.kind == "postgis":
        from psycopg.conninfo import conninfo_to_dict

        c = conninfo_to_dict(env.location)
        url = f"postgresql://{c['user']}@{c['host']}:{c['port']}/{c['dbname']}"
        monkeypatch.setenv("HOTSPOTS_DATABASE_URL", url)
        store = []
    else:
        store = ["--store", env.location]
    code, doc = run(
        "analyse", *store, "--method", "hexes", "--resolution", "8",
        "--categories", "violent-crime,public-order",
        "--harm-weights", str(weights), "--concern", str(concern),
    )  # fmt: skip
    assert code == 0, doc
    assert doc["run_id"] == api_run


def test_bad_tables_name_the_field(env) -> None:
    r = env.post("/analyses", json={**BODY, "harm_weights": {"version": "x", "weights": {}}})
    assert r.status_code == 422 and "harm_weights" in r.text
    bad = {**CONCERN, "themes": [{**CONCERN["themes"][0], "first_choice_pct": 0}]}
    r = env.post("/analyses", json={**BODY, "concern": bad})
    assert r.status_code == 422 and "concern" in r.json()["detail"]
    r = env.post("/analyses", json={**BODY, "harm_weights": {**WEIGHTS, "extra": 1}})
    assert r.status_code == 422


def test_a_share_link_filter_keeps_the_runs_tables(env) -> None:
    run_id = _post(env, harm_weights=WEIGHTS).json()["run_id"]
    version = env.store.get_run(run_id).provenance["weights_version"]
    r = env.post(
        "/share-links",
        json={"run_id": run_id, "role": "partner", "filters": {"categories": ["violent-crime"]}},
    )
    assert r.status_code == 201, r.text
    # the filtered run the link shows was made with the same table
    filtered = [
        run
        for run in env.store.list_runs("hexes")
        if (run.params.get("request") or {}).get("categories") == ["violent-crime"]
    ]
    assert filtered
    assert all(
        env.store.get_run(x.run_id).provenance["weights_version"] == version for x in filtered
    )
