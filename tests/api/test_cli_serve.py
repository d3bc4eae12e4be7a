"""``hotspots serve`` with no ``HOTSPOTS_SECRET_KEY`` (issue 11, item 4): on the embedded
store it makes a signing key beside the DuckDB file (mode 0600) and says so in one line
— the same key ``hotspots share`` signs with, so its links open on the service — and
where no key can be kept (a PostGIS URL, a place nothing can be written) it stops in one
line naming the variable. Real processes, a real port."""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from street_csv import police_csv  # tests/api/street_csv.py

HOTSPOTS = Path(sys.executable).with_name("hotspots")


def env_without_secret(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOTSPOTS_")}
    env["COLUMNS"] = "60"  # a narrow terminal: messages must still be one line
    return {**env, **extra}


def hotspots(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(HOTSPOTS), *args],
        env=env or env_without_secret(),
        capture_output=True,
        text=True,
        timeout=120,  # a serve that started instead of stopping fails here
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serving(store: Path) -> Iterator[tuple[str, str]]:
    """``hotspots serve`` on ``store`` with no secret in the environment, once it answers:
    (its first line of output, its base URL); stopped afterwards."""
    port = free_port()
    server = subprocess.Popen(
        [str(HOTSPOTS), "serve", "--store", str(store), "--port", str(port)],
        env=env_without_secret(),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, "hotspots serve stopped"
            assert time.monotonic() < deadline, "hotspots serve did not start"
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        yield server.stdout.readline().strip(), base
    finally:
        server.terminate()
        server.communicate(timeout=30)  # and closes the pipe


def test_serve_makes_a_key_beside_the_store_once_and_share_links_open_with_it(tmp_path):
    store = tmp_path / "s.duckdb"
    csv = tmp_path / "2024-01-kent-street.csv"
    csv.write_bytes(police_csv("2024-01", 60, step_deg=0.00005))
    assert hotspots("import", "police", str(csv), "--store", str(store)).returncode == 0
    analysed = hotspots("analyse", "--method", "hexes", "--json", "--store", str(store))
    assert analysed.returncode == 0, analysed.stderr
    run_id = json.loads(analysed.stdout)["stored"]["run_id"]
    keyfile = Path(f"{store}.secret")
    assert not keyfile.exists()

    with serving(store) as (line, _):
        assert line == (
            f"Made a key for signing share links in {keyfile} (mode 0600); "
            "set HOTSPOTS_SECRET_KEY to use your own."
        )
    assert stat.S_IMODE(keyfile.stat().st_mode) == 0o600
    key = keyfile.read_text()
    assert len(key.strip()) >= 32

    shared = hotspots("share", run_id, "--json", "--store", str(store))  # no secret either
    assert shared.returncode == 0, shared.stdout + shared.stderr
    token_path = json.loads(shared.stdout)["url"].split("127.0.0.1:8000", 1)[1]
    with serving(store) as (line, base):
        assert line == (
            f"Share links are signed with the key in {keyfile} (or set HOTSPOTS_SECRET_KEY)."
        )
        opened = httpx.get(base + token_path + "hotspots.geojson", timeout=30)
        assert opened.status_code == 200 and opened.json()["run_id"] == run_id
        forged = httpx.get(base + token_path.rstrip("/") + "x/hotspots.geojson", timeout=30)
        assert forged.status_code in (403, 404)
    assert keyfile.read_text() == key  # kept, not remade
    assert stat.S_IMODE(keyfile.stat().st_mode) == 0o600


@pytest.mark.parametrize("where", ["postgis", "unwritable"])
def test_serve_with_nowhere_to_keep_a_key_stops_in_one_line_naming_the_variable(where, tmp_path):
    if where == "postgis":  # stops before connecting: no server is needed at this address
        env = env_without_secret(HOTSPOTS_DATABASE_URL="postgresql://nobody@127.0.0.1:9/none")
        args = ("serve", "--port", "9")
    else:  # the store's folder would be inside a plain file
        (tmp_path / "a-file").write_text("not a folder")
        env = env_without_secret()
        args = ("serve", "--store", str(tmp_path / "a-file" / "s.duckdb"), "--port", "9")
    result = hotspots(*args, env=env)
    assert result.returncode == 5
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: cannot start:") and "HOTSPOTS_SECRET_KEY" in lines[0]
    assert "validation error" not in lines[0] and "Traceback" not in result.stderr
    assert not list(tmp_path.rglob("*.secret"))


def test_serve_names_the_key_file_when_the_key_in_it_is_unusable(tmp_path):
    store = tmp_path / "s.duckdb"
    Path(f"{store}.secret").write_text("short\n")
    result = hotspots("serve", "--store", str(store), "--port", "9")
    assert result.returncode == 5
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert f"{store}.secret" in lines[0] and "HOTSPOTS_SECRET_KEY" in lines[0]


def _children(pid: int) -> list[int]:
    """Processes whose parent is ``pid`` (from /proc)."""
    found = []
    for stat_file in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat_file.read_text().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        if int(fields[1]) == pid:
            found.append(int(stat_file.parent.name))
    return found


@pytest.mark.postgis
def test_serve_workers_runs_that_many_processes_on_postgis(postgis_url, tmp_path):
    """``hotspots serve --workers 2`` on PostGIS: two server processes answer on one port
    (each building the app from the same variables); the embedded store refuses it."""
    port = free_port()
    env = env_without_secret(HOTSPOTS_DATABASE_URL=postgis_url, HOTSPOTS_SECRET_KEY="k" * 40)
    server = subprocess.Popen(
        [str(HOTSPOTS), "serve", "--workers", "2", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 90
        answered = False
        while time.monotonic() < deadline and not answered:
            try:
                answered = httpx.get(f"http://127.0.0.1:{port}/ready", timeout=2).is_success
            except httpx.HTTPError:
                time.sleep(0.3)
        assert answered, "hotspots serve --workers 2 did not answer /ready"
        spawned = [  # uvicorn's workers (not a forkserver or resource tracker)
            p for p in _children(server.pid)
            if b"spawn_main" in Path(f"/proc/{p}/cmdline").read_bytes()
        ]  # fmt: skip
        assert len(spawned) == 2, spawned
        codes = {
            httpx.get(f"http://127.0.0.1:{port}/ogc", timeout=5).status_code for _ in range(20)
        }
        assert codes == {200}
    finally:
        server.terminate()
        server.wait(30)
    refused = hotspots("serve", "--workers", "2", "--store", str(tmp_path / "s.duckdb"))
    assert refused.returncode == 2 and "one process" in refused.stderr
