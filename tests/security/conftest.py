"""The attack tests use the web API's demo environment (``tests/api/conftest.py``): its
fixtures are loaded from that file, so both suites attack the same stores (DuckDB and
PostGIS) with the same keys and roles."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

_spec = importlib.util.spec_from_file_location(
    "hotspots_api_test_kit", Path(__file__).resolve().parent.parent / "api" / "conftest.py"
)
_kit = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = _kit  # dataclasses look their module up while it loads
_spec.loader.exec_module(_kit)

api_store_kind = _kit.api_store_kind
api_template = _kit.api_template
api_kit = _kit.api_kit
make_api_env = _kit.make_api_env
NOISE_HEADER = _kit.NOISE_HEADER
ingest_settings = _kit.ingest_settings
