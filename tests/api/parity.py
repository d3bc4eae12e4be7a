"""The two doors side by side, for the parity suite (``test_parity_*.py``, issue 11).

:func:`doors` wraps a module's :class:`ApiEnv` (its own copy of the demo store, on
DuckDB or PostGIS) so that one test can make the same request through the command
line (``hotspots … --json``, in-process with Typer's runner, on the *same* store:
``--store FILE`` for DuckDB, ``HOTSPOTS_DATABASE_URL`` for PostGIS) and through
HTTP (the app's ``TestClient``, as an analyst), and :func:`same` compares the two
answers field by field, naming the first path where they differ.

Imported by the parity test modules (pytest puts this folder on ``sys.path``).
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass
from typing import Any

import pytest
from cli_json import run

#: fields that differ between two requests made a moment apart, whichever door
VOLATILE = frozenset({"created_at", "updated_at", "generated", "written", "elapsed_s"})


@dataclass
class Doors:
    env: Any  # conftest.ApiEnv
    store_args: list[str]

    @property
    def kind(self) -> str:
        return self.env.kind

    def cli(self, *args: str, expect: int = 0) -> Any:
        """``hotspots ARGS --store … --json``: its JSON document (exit code ``expect``)."""
        code, doc = run(*args, *self.store_args)
        assert code == expect, f"hotspots {' '.join(args)} → exit {code}: {doc}"
        return doc

    def http(self, method: str, url: str, expect: int | tuple[int, ...] = 200, **kw) -> Any:
        """The analyst's answer to ``METHOD url`` (status ``expect``): JSON, or the text."""
        r = self.env.request(method, url, "analyst", **kw)
        wanted = (expect,) if isinstance(expect, int) else expect
        assert r.status_code in wanted, f"{method} {url} → {r.status_code}: {r.text[:2000]}"
        if r.status_code == 204:
            return None
        if "json" in r.headers.get("content-type", ""):
            return r.json()
        return r.text


@contextlib.contextmanager
def doors(env, secret: str):
    """:class:`Doors` on ``env``; the CLI signs share links with the app's ``secret``."""
    mp = pytest.MonkeyPatch()
    try:
        mp.setenv("HOTSPOTS_SECRET_KEY", secret)
        if env.kind == "duckdb":
            mp.delenv("HOTSPOTS_DATABASE_URL", raising=False)
            yield Doors(env, ["--store", env.location])
        else:
            from psycopg.conninfo import conninfo_to_dict

            c = conninfo_to_dict(env.location)
            url = f"postgresql://{c['user']}@{c['host']}:{c['port']}/{c['dbname']}"
            mp.setenv("HOTSPOTS_DATABASE_URL", url)
            yield Doors(env, [])
    finally:
        mp.undo()


def drop(doc: Any, keys: frozenset[str] | set[str] = VOLATILE) -> Any:
    """``doc`` without the fields named ``keys``, at any depth."""
    if isinstance(doc, dict):
        return {k: drop(v, keys) for k, v in doc.items() if k not in keys}
    if isinstance(doc, list | tuple):
        return [drop(v, keys) for v in doc]
    return doc


def same(cli: Any, http: Any, ignore: frozenset[str] | set[str] = VOLATILE, where: str = "$"):
    """Assert that the two doors' answers are equal field by field (after dropping the
    fields named ``ignore`` at any depth); floats equal to 1e-9 relative, NaN ≡ null."""
    cli, http = drop(cli, ignore), drop(http, ignore)
    _same(cli, http, where)


def _same(a: Any, b: Any, where: str) -> None:
    if isinstance(a, dict) and isinstance(b, dict):
        assert a.keys() == b.keys(), (
            f"{where}: keys differ: CLI only {sorted(a.keys() - b.keys())}, "
            f"HTTP only {sorted(b.keys() - a.keys())}"
        )
        for k in a:
            _same(a[k], b[k], f"{where}.{k}")
        return
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        assert len(a) == len(b), f"{where}: {len(a)} items through the CLI, {len(b)} by HTTP"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _same(x, y, f"{where}[{i}]")
        return
    if _missing(a) and _missing(b):
        return
    if isinstance(a, float | int) and isinstance(b, float | int) and not isinstance(a, bool):
        assert math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12), f"{where}: CLI {a!r}, HTTP {b!r}"
        return
    assert a == b, f"{where}: CLI {a!r}, HTTP {b!r}"


def _missing(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))
