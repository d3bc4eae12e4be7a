"""``hotspots serve`` as a real process on a DuckDB file, for tests that need one
(imported by test modules in this folder, which pytest puts on ``sys.path``)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

HOTSPOTS = Path(sys.executable).with_name("hotspots")
SECRET = "serve-proc-test-secret-" + "x" * 32


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cli_env(store: Path, **extra: str) -> dict[str, str]:
    """The environment of a command on the DuckDB file ``store``."""
    env = {**os.environ, "HOTSPOTS_DUCKDB_PATH": str(store), "HOTSPOTS_SECRET_KEY": SECRET}
    env.pop("HOTSPOTS_DATABASE_URL", None)
    return {**env, **extra}


def start(store: Path, port: int, **extra: str) -> subprocess.Popen:
    """``hotspots serve --store STORE --port PORT``, once it answers ``/health``."""
    server = subprocess.Popen(
        [str(HOTSPOTS), "serve", "--store", str(store), "--port", str(port)],
        env=cli_env(store, **extra),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            time.sleep(0.2)
    server.kill()
    pytest.fail("hotspots serve did not start")


def hotspots(store: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run ``hotspots ARGS`` on ``store`` and return the finished process."""
    done = subprocess.run(
        [str(HOTSPOTS), *args], env=cli_env(store), capture_output=True, text=True, timeout=300
    )
    if check:
        assert done.returncode == 0, (args, done.stdout[-2000:], done.stderr[-2000:])
    return done


def new_key(store: Path, role: str = "analyst") -> tuple[str, str]:
    """(key id, key) of a new API key made with the command line."""

    made = json.loads(
        hotspots(store, "keys", "create", f"test {role}", "--role", role, "--json").stdout
    )
    return made["key_id"], made["key"]
