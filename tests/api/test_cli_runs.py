"""One path from the command line to the web: analyse → stored run → map → share link
→ the same run and link through the API (issue 11's first acceptance), and the
``hotspots runs`` / ``hotspots share`` commands."""

from __future__ import annotations

import os
import stat
import warnings
from pathlib import Path

import pytest
from cli_json import run
from starlette.exceptions import StarletteDeprecationWarning

from api.app import create_app
from api.settings import ApiSettings, Settings
from geodata.demo import demo_dir
from geodata.settings import StoreSettings

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient


@pytest.fixture(scope="module")
def store(tmp_path_factory, monkeypatch_module) -> Path:
    monkeypatch_module.delenv("HOTSPOTS_SECRET_KEY", raising=False)
    path = tmp_path_factory.mktemp("cli-runs") / "s.duckdb"
    demo = demo_dir()
    for args in (
        ("import", "boundaries", str(demo / "gravesham-district.geojsonl"), "--kind", "district"),
        ("import", "boundaries", str(demo / "gravesham-wards-2013.geojson"), "--kind", "ward"),
        ("import", "police", str(demo / "gravesham-police-2022.zip")),
    ):
        code, doc = run(*args, "--store", str(path))
        assert code == 0, doc
    return path


@pytest.fixture(scope="module")
def monkeypatch_module():
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


def test_an_analysis_made_on_the_command_line_is_a_run_everywhere(store: Path, tmp_path: Path):
    args = ("analyse", "--method", "gistar", "--categories", "anti-social-behaviour")
    code, doc = run(*args, "--resolution", "9", "--store", str(store))
    assert code == 0, doc
    run_id = doc["stored"]["run_id"]
    assert doc["stored"]["created"] is True and doc["run_id"] == run_id
    code, again = run(*args, "--resolution", "9", "--store", str(store))
    assert again["stored"] == {"run_id": run_id, "created": False}  # reused, not recomputed

    code, page = run("map", run_id, "-o", str(tmp_path / "m.html"), "--store", str(store))
    assert code == 0, page
    assert (tmp_path / "m.html").stat().st_size > 10_000

    code, link = run("share", run_id, "--role", "public", "--expires", "2w", "--store", str(store))
    assert code == 0, link
    assert link["run_id"] == run_id and link["role"] == "public"
    keyfile = Path(f"{store}.secret")
    assert stat.S_IMODE(keyfile.stat().st_mode) == 0o600

    code, listed = run("runs", "--store", str(store))
    assert code == 0 and run_id in {r["run_id"] for r in listed}
    code, shown = run("runs", "show", run_id, "--store", str(store))
    assert code == 0 and shown["run_id"] == run_id and shown["features"]

    # the web service on the same store (signing with the key kept beside it)
    settings = Settings(
        ApiSettings(secret_key=keyfile.read_text().strip()), StoreSettings(duckdb_path=store)
    )
    with TestClient(create_app(settings)) as client:
        assert run_id in {r["run_id"] for r in client.get("/runs").json()}
        token_path = link["url"].split("8000", 1)[1]
        opened = client.get(token_path + "hotspots.geojson")
        assert opened.status_code == 200 and opened.json()["run_id"] == run_id
        assert opened.json()["suppression"]["role"] == "public"

    code, links = run("share", "list", "--store", str(store))
    assert link["link_id"] in {k["link_id"] for k in links}
    code, revoked = run("share", "revoke", link["link_id"], "--store", str(store))
    assert code == 0 and revoked == {"revoked": link["link_id"]}
    code, again = run("share", "revoke", link["link_id"], "--store", str(store))
    assert code == 6
    code, narrowed = run("share", run_id, "--categories", "burglary", "--store", str(store))
    assert code == 2 and "filters.categories" in narrowed["error"]["detail"]
    code, _ = run("runs", "delete", run_id, "--store", str(store))
    assert code == 0
    code, _ = run("runs", "show", run_id, "--store", str(store))
    assert code == 6


def test_serve_refuses_a_weak_secret_in_one_line_naming_the_variable(monkeypatch):
    from typer.testing import CliRunner

    from api.cli import app

    monkeypatch.setenv("HOTSPOTS_SECRET_KEY", "short")
    result = CliRunner().invoke(app, ["serve", "--port", "1"])
    assert result.exit_code == 5
    assert "HOTSPOTS_SECRET_KEY" in result.output and "validation error" not in result.output
    assert os.environ["HOTSPOTS_SECRET_KEY"] == "short"
