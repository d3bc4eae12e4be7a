"""Hostile uploads (issue 14): a chunked body from a caller who may not import is refused
before it is read; zip bombs are refused from the archive's directory; odd file names
are made safe; a job left running by a killed process is marked failed at the next
start and its upload folder removed. On both stores.
"""

from __future__ import annotations

import io
import json
import os
import select
import signal
import socket
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import street_csv  # tests/api/street_csv.py
from live_server import serve  # tests/api/live_server.py

from api import import_jobs
from api.import_jobs import safe_filename
from geodata.model import JobRecord

PROBLEM = "application/problem+json"
MB = 1024 * 1024


@pytest.fixture(scope="module")
def env(api_env):
    return api_env


def upload(client, headers, name: str, data: bytes, **form):
    files = {"file": (name, data, "application/octet-stream")}
    return client.post("/imports", files=files, data=form, headers=headers)


class CountingApp:
    """ASGI wrapper counting the request-body bytes the app pulled from the server."""

    def __init__(self, app):
        self.app = app
        self.received = 0

    async def __call__(self, scope, receive, send):
        async def counted():
            message = await receive()
            self.received += len(message.get("body", b""))
            return message

        await self.app(scope, counted, send)


def test_a_chunked_200_mb_upload_without_a_key_is_refused_before_1_mb_is_read(env, api_kit):
    counting = CountingApp(api_kit.make_app(env.store, env.kind))
    sent, answer = 0, b""
    with serve(counting) as port, socket.create_connection(("127.0.0.1", port), 10) as conn:
        conn.sendall(
            b"POST /imports HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n"
            b"Content-Type: multipart/form-data; boundary=xyz\r\n\r\n"
        )
        chunk = b"%x\r\n" % (64 * 1024) + b"a" * (64 * 1024) + b"\r\n"
        while sent < 200 * MB:  # stops at the answer (or the server closing)
            if select.select([conn], [], [], 0)[0]:
                break
            try:
                conn.sendall(chunk)
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += 64 * 1024
        answer = conn.recv(65536)
    assert answer.startswith(b"HTTP/1.1 401"), answer[:200]
    assert b"application/problem+json" in answer
    assert counting.received < MB, counting.received
    assert sent < 200 * MB


@pytest.fixture(scope="session")
def bomb() -> bytes:
    """A police.uk-looking zip under 1 MB whose one member inflates to 150 MB."""
    size_mb = 150
    out = io.BytesIO()
    with (
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z,
        z.open("2023-01/2023-01-kent-street.csv", "w", force_zip64=True) as member,
    ):
        block = b"0" * MB
        for _ in range(size_mb):
            member.write(block)
    return out.getvalue()


def test_a_zip_bomb_is_refused_from_its_directory_naming_the_limit(env, tmp_path, bomb):
    data = bomb
    assert len(data) < MB
    r = upload(env.client, env.headers["analyst"], "police.zip", data)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == PROBLEM
    assert "HOTSPOTS_ZIP_MAX_RATIO" in r.json()["detail"]
    # the reader itself, in a process of its own: its peak memory barely moves
    path = tmp_path / "bomb.zip"
    path.write_bytes(data)
    script = (
        "import resource, sys\n"
        "from geodata.readers.police import iter_police_files\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "try:\n"
        "    list(iter_police_files(sys.argv[1]))\n"
        "except ValueError as exc:\n"
        "    print('refused:', exc)\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script, str(path)], capture_output=True, text=True, timeout=120
    )
    lines = out.stdout.strip().splitlines()
    assert lines[0].startswith("refused:") and "zip bomb" in lines[0], out.stdout + out.stderr
    assert int(lines[-1]) * 1024 < 100 * MB  # ru_maxrss is in KiB on Linux


def test_zip_limits_on_members_and_total_size_are_configurable(env, monkeypatch):
    members = io.BytesIO()
    with zipfile.ZipFile(members, "w") as z:
        for i in range(5):
            z.writestr(f"2023-0{i + 1}/2023-0{i + 1}-kent-street.csv", "x\n")
    monkeypatch.setenv("HOTSPOTS_ZIP_MAX_MEMBERS", "3")
    r = upload(env.client, env.headers["analyst"], "many.zip", members.getvalue())
    assert r.status_code == 422 and "HOTSPOTS_ZIP_MAX_MEMBERS" in r.json()["detail"]
    monkeypatch.setenv("HOTSPOTS_ZIP_MAX_MEMBERS", "10")
    monkeypatch.setenv("HOTSPOTS_ZIP_MAX_UNCOMPRESSED_MB", "0.000001")
    r = upload(env.client, env.headers["analyst"], "big.zip", members.getvalue())
    assert r.status_code == 422 and "HOTSPOTS_ZIP_MAX_UNCOMPRESSED_MB" in r.json()["detail"]


def test_csv_rows_and_bytes_are_bounded_naming_the_limit(env, monkeypatch):
    data = street_csv.police_csv("2023-01", 30, prefix="lim", step_deg=0.0002)
    monkeypatch.setenv("HOTSPOTS_MAX_ROWS", "10")
    r = upload(env.client, env.headers["analyst"], "2023-01-kent-street.csv", data)
    assert r.status_code == 422 and "HOTSPOTS_MAX_ROWS" in r.json()["detail"], r.text
    monkeypatch.setenv("HOTSPOTS_MAX_ROWS", "1000")
    monkeypatch.setenv("HOTSPOTS_MAX_FILE_MB", "0.001")
    r = upload(env.client, env.headers["analyst"], "2023-01-kent-street.csv", data)
    assert r.status_code == 422 and "HOTSPOTS_MAX_FILE_MB" in r.json()["detail"], r.text


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("..", "upload"),
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\x\\2023-01-kent-street.csv", "2023-01-kent-street.csv"),
        ("a\x00b;rm -rf $HOME.csv", "a_b_rm -rf _HOME.csv"),
        ("", "upload"),
    ],
)
def test_upload_names_are_made_safe(raw, expected):
    assert safe_filename(raw) == expected


def test_a_300_character_upload_name_is_shortened_keeping_its_suffix(env):
    long_name = "2023-02-kent-street" + "x" * 300 + ".csv"
    assert len(safe_filename(long_name)) == import_jobs.MAX_NAME_CHARS
    r = upload(env.client, env.headers["analyst"], "..", b"a,b\n1,2\n")
    assert r.status_code == 422 and "upload" in r.json()["detail"], r.text
    r = upload(env.client, env.headers["analyst"], long_name, b"a,b\n1,2\n")
    assert r.status_code == 422 and r.headers["content-type"] == PROBLEM, r.text


def test_a_job_of_a_killed_process_is_failed_at_the_next_start_and_its_folder_removed(
    env, api_kit, tmp_path, monkeypatch
):
    monkeypatch.setattr(import_jobs.tempfile, "tempdir", str(tmp_path))
    dead = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    live_folder = import_jobs.new_upload_folder("job_live")  # this process: left alone
    folder = import_jobs.new_upload_folder("job_killed")
    (folder / "2023-01-kent-street.csv").write_bytes(b"half an upload")
    (folder / import_jobs.OWNER_FILE).write_text(json.dumps({"pid": dead.pid, "job_id": "job_x"}))
    now = import_jobs.now_utc()
    job = JobRecord("job_x", "import-police", "running", 0.4, "importing", None, now, now)
    env.store.add_job(job)
    os.kill(dead.pid, signal.SIGKILL)
    dead.wait()
    with api_kit.TestClient(api_kit.make_app(env.store, env.kind)) as client:
        got = client.get("/jobs/job_x", headers=env.headers["analyst"]).json()
    assert got["status"] == "failed" and f"pid {dead.pid}" in got["message"]
    assert "nothing was stored" in got["message"]
    assert not folder.exists() and live_folder.exists()
    assert [p.name for p in Path(tmp_path).iterdir()] == [live_folder.name]
