"""The Gravesham demo in a DuckDB store with a Gi* and a DBSCAN run, for map tests.

``bicycle-theft`` is configured as sensitive, so role rules have something to hide.
"""

from __future__ import annotations

import pytest

from api.security import new_api_key, now_utc
from api.usecases.analyse import run_or_reuse
from geodata.demo import load_demo
from geodata.model import ApiKeyRecord
from geodata.settings import StoreSettings
from geodata.stores import DuckDBStore, open_store
from hotspots.analysis import AnalysisParams

SENSITIVE = "bicycle-theft"


def load(store: DuckDBStore) -> None:
    """The demo, with ``SENSITIVE`` and the safeguarding categories as sensitive."""
    load_demo(
        store, sensitive_categories=frozenset({SENSITIVE, "domestic-abuse", "sexual-offences"})
    )


@pytest.fixture(scope="session")
def demo(tmp_path_factory):
    """{store, runs: {method: RunRecord}, keys: {role: key}, path}."""
    path = tmp_path_factory.mktemp("maps") / "demo.duckdb"
    store = open_store(StoreSettings(duckdb_path=path))
    load(store)
    runs = {}
    for method in ("gistar", "dbscan"):
        runs[method], _ = run_or_reuse(store, {"method": method}, AnalysisParams(method=method))
    keys = {}
    for role in ("analyst", "partner"):
        key_id, key, key_hash = new_api_key()
        store.add_api_key(ApiKeyRecord(key_id, f"{role} test", role, key_hash, now_utc(), None))
        keys[role] = key
    yield {"store": store, "runs": runs, "keys": keys, "path": path}
    store.close()


@pytest.fixture(scope="module")
def browser(chromium_path):
    """Debian's headless chromium through Playwright, one per test module."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(chromium_path), args=["--no-sandbox"])
        yield b
        b.close()
