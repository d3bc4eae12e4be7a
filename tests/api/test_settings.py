"""One root settings object (issue 11, item 6): :class:`api.settings.Settings`.

Each door builds one and passes it down; the parts are read from ``HOTSPOTS_*`` when
first asked for, so a command that signs nothing is not stopped by a bad secret, and a
bad value is one line naming its variable, never a pydantic dump.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import street_csv  # tests/api/street_csv.py
from typer.testing import CliRunner

from api.app import create_app
from api.cli import app as cli
from api.security import new_api_key, now_utc
from api.settings import ApiSettings, Settings
from geodata.errors import ConfigurationError
from geodata.model import ApiKeyRecord
from geodata.settings import IngestSettings, StoreSettings
from geodata.stores import DuckDBStore

SECRET = "settings-test-secret-" + "s" * 32


def test_parts_are_read_when_first_asked_for_and_name_their_variable(monkeypatch, tmp_path):
    monkeypatch.setenv("HOTSPOTS_SECRET_KEY", "changeme")
    monkeypatch.setenv("HOTSPOTS_SENSITIVE_CATEGORIES", "burglary")
    settings = Settings.from_env(tmp_path / "s.duckdb")
    # the store and imports are readable although the secret is a placeholder
    assert settings.store.duckdb_path == tmp_path / "s.duckdb"
    assert settings.store.database_url is None
    assert settings.ingest.sensitive_categories == frozenset({"burglary"})
    with pytest.raises(ConfigurationError) as caught:
        settings.api  # noqa: B018 - reading the part is the test
    assert "HOTSPOTS_SECRET_KEY" in caught.value.message
    assert "changeme" not in caught.value.message  # the bad value is not echoed
    monkeypatch.setenv("HOTSPOTS_PUBLIC_MIN_COUNT", "0")
    monkeypatch.setenv("HOTSPOTS_SECRET_KEY", "s" * 40)
    with pytest.raises(ConfigurationError, match="HOTSPOTS_PUBLIC_MIN_COUNT"):
        Settings().api  # noqa: B018


def test_given_parts_are_used_as_they_are_and_signing_needs_a_key(monkeypatch):
    monkeypatch.delenv("HOTSPOTS_SECRET_KEY", raising=False)
    given = IngestSettings(sensitive_categories=frozenset({"burglary"}))
    settings = Settings(ingest=given)
    assert settings.ingest is given
    with pytest.raises(ConfigurationError, match="HOTSPOTS_SECRET_KEY is not set"):
        settings.signing_key()
    with pytest.raises(ConfigurationError, match="HOTSPOTS_SECRET_KEY is not set"):
        create_app(settings)  # no service without a key to sign its share links
    signed = settings.with_parts(api=ApiSettings(secret_key=SECRET))
    assert signed.signing_key() == SECRET and signed.ingest is given


def test_a_bad_secret_stops_only_the_commands_that_sign(monkeypatch, tmp_path):
    """``hotspots categories`` reads the import settings; ``hotspots share`` needs the key."""
    monkeypatch.setenv("HOTSPOTS_SECRET_KEY", "short")
    monkeypatch.setenv("HOTSPOTS_SENSITIVE_CATEGORIES", "burglary,domestic-abuse")
    runner = CliRunner()
    listed = runner.invoke(cli, ["categories", "--json"])
    assert listed.exit_code == 0, listed.output
    sensitive = {c["slug"] for c in json.loads(listed.output) if c["sensitive"]}
    assert sensitive == {"burglary", "domestic-abuse"}
    store = tmp_path / "s.duckdb"
    shared = runner.invoke(cli, ["share", "no-such-run", "--store", str(store)])
    assert shared.exit_code == 5, shared.output
    assert "HOTSPOTS_SECRET_KEY" in shared.output and "validation error" not in shared.output


def test_a_bad_store_variable_is_one_line_naming_it(monkeypatch):
    monkeypatch.setenv("HOTSPOTS_DATABASE_URL", "mysql://nope")
    result = CliRunner().invoke(cli, ["batches"])
    assert result.exit_code == 5, result.output
    assert "HOTSPOTS_DATABASE_URL" in result.output
    assert "validation error" not in result.output and "Traceback" not in result.output


def test_web_imports_use_the_import_settings_of_the_root_object(tmp_path: Path):
    """``POST /imports`` validates with the app's settings (here: burglary made sensitive),
    not with settings read again from the environment."""
    from fastapi.testclient import TestClient

    store = DuckDBStore(tmp_path / "s.duckdb")
    key_id, key, key_hash = new_api_key()
    store.add_api_key(ApiKeyRecord(key_id, "analyst", "analyst", key_hash, now_utc()))
    settings = Settings(
        ApiSettings(secret_key=SECRET),
        StoreSettings(duckdb_path=tmp_path / "s.duckdb"),
        ingest=IngestSettings(sensitive_categories=frozenset({"burglary"})),
    )
    try:
        with TestClient(create_app(settings, store=store)) as client:
            r = client.post(
                "/imports",
                files={"file": ("2023-01.csv", street_csv.police_csv("2023-01", 4), "text/csv")},
                headers={"X-API-Key": key},
            )
            assert r.status_code == 201, r.text
        flagged = store.query_incidents().column("sensitive").to_pylist()
        assert flagged == [True] * 4  # the default settings would flag none of them
    finally:
        store.close()
