"""Numbered SQL migrations for PostGIS: ``migrations/NNNN_name.sql``, applied in order.

Each file runs in its own transaction and is recorded in
``schema_migrations`` (version, name, checksum, applied_at). A migration that
was applied and then edited is reported, never re-run silently. A session
advisory lock keeps two upgrades from racing.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import psycopg

from ..errors import ConfigurationError

_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_LOCK_ID = 7_245_001  # arbitrary, fixed: the advisory lock taken during upgrades


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def migrations_dir() -> Path:
    """``migrations/`` beside the packages (source checkout) or inside the wheel (another
    folder is given by ``StoreSettings.migrations_dir``, ``HOTSPOTS_MIGRATIONS_DIR``)."""
    here = Path(__file__).resolve().parents[2] / "migrations"
    if here.is_dir():
        return here
    return Path(str(resources.files("geodata") / "migrations"))


def load_migrations(folder: Path | None = None) -> list[Migration]:
    folder = folder or migrations_dir()
    found = []
    for path in sorted(folder.glob("*.sql")):
        m = _NAME.match(path.name)
        if not m:
            raise ConfigurationError(f"migration file {path} is not named NNNN_name.sql")
        found.append(Migration(int(m.group(1)), m.group(2), path.read_text(encoding="utf-8")))
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise ConfigurationError(f"two migrations share a number in {folder}: {versions}")
    return found


_BOOKKEEPING = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version integer PRIMARY KEY,
    name text NOT NULL,
    checksum text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)"""


def applied(conn: psycopg.Connection) -> dict[int, tuple[str, str]]:
    exists = conn.execute("SELECT to_regclass('schema_migrations') IS NOT NULL").fetchone()
    if not exists or not exists[0]:
        return {}
    rows = conn.execute("SELECT version, name, checksum FROM schema_migrations").fetchall()
    return {v: (n, c) for v, n, c in rows}


def status(conn: psycopg.Connection, folder: Path | None = None) -> dict[str, object]:
    done = applied(conn)
    known = load_migrations(folder)
    changed = [
        f"{m.version:04d}_{m.name}"
        for m in known
        if m.version in done and done[m.version][1] != m.checksum
    ]
    pending = [f"{m.version:04d}_{m.name}" for m in known if m.version not in done]
    return {
        "current": not pending and not changed,
        "applied": [f"{v:04d}_{n}" for v, (n, _) in sorted(done.items())],
        "pending": pending,
        "changed": changed,
    }


def upgrade(conn: psycopg.Connection, folder: Path | None = None) -> list[str]:
    """Apply pending migrations (of ``folder``, default :func:`migrations_dir`); return
    their names. ``conn`` must be in autocommit mode."""
    ran: list[str] = []
    conn.execute("SELECT pg_advisory_lock(%s)", [_LOCK_ID])
    try:
        conn.execute(_BOOKKEEPING)
        done = applied(conn)
        for m in load_migrations(folder):
            label = f"{m.version:04d}_{m.name}"
            if m.version in done:
                if done[m.version][1] != m.checksum:
                    raise ConfigurationError(
                        f"migration {label} was edited after it was applied; add a new "
                        "numbered migration instead"
                    )
                continue
            with conn.transaction():
                conn.execute(m.sql.encode())  # type: ignore[call-overload]
                conn.execute(
                    "INSERT INTO schema_migrations (version, name, checksum) VALUES (%s, %s, %s)",
                    [m.version, m.name, m.checksum],
                )
            ran.append(label)
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", [_LOCK_ID])
    return ran
