"""The interactive API docs are served from our own copy of Swagger UI, not a CDN."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import ApiSettings, Settings
from geodata.stores import DuckDBStore


def test_docs_page_loads_swagger_ui_from_the_service_itself(tmp_path: Path) -> None:
    store = DuckDBStore(tmp_path / "docs.duckdb")
    settings = Settings(ApiSettings(secret_key="k" * 8 + "docs-page-test-secret-0123456789"))
    with store, TestClient(create_app(settings, store=store)) as client:
        page = client.get("/docs")
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]
        urls = re.findall(r"""(?:src|href)=["']([^"']+)["']""", page.text)
        urls += re.findall(r"""(?:url|openapi_url)\s*:\s*['"]([^'"]+)['"]""", page.text)
        assert any(u.endswith("swagger-ui-bundle.js") for u in urls), urls
        assert "/openapi.json" in urls
        for url in urls:  # every resource is ours, and is there
            assert not url.startswith(("http:", "https:", "//")), url
            assert client.get(url).status_code == 200, url
        assert client.get("/redoc").status_code == 404  # redoc would load from a CDN
