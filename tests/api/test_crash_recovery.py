"""A real crash during an import (issue 14): ``hotspots serve`` is killed with SIGKILL
while a large upload is being imported as a background job; at the next start the job
reads "failed" with the reason, its upload folder is gone, and the store holds only
what it held before (the import's transaction never committed)."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import httpx
import serve_proc  # tests/api/serve_proc.py
from street_csv import police_csv  # tests/api/street_csv.py


def start(store: Path, tmp: Path, port: int) -> subprocess.Popen:
    # the import goes on as a job after 1.6 s; its upload folder lives under TMPDIR
    return serve_proc.start(store, port, HOTSPOTS_REQUEST_TIMEOUT_S="2", TMPDIR=str(tmp))


def new_key(store: Path) -> str:
    return serve_proc.new_key(store)[1]


def test_kill_9_mid_import_then_restart_fails_the_job_and_removes_its_files(tmp_path):
    store, tmp = tmp_path / "crash.duckdb", tmp_path / "tmp"
    tmp.mkdir()
    key = {"X-API-Key": new_key(store)}
    port = serve_proc.free_port()
    server = start(store, tmp, port)
    base = f"http://127.0.0.1:{port}"
    try:
        upload = police_csv("2023-01", 150_000, step_deg=0.0000001)
        r = httpx.post(
            f"{base}/imports",
            files={"file": ("2023-01-kent-street.csv", upload, "text/csv")},
            data={"kind": "police"},
            headers=key,
            timeout=60,
        )
        assert r.status_code == 202, r.text
        job = r.headers["location"].rsplit("/", 1)[-1]
        assert httpx.get(f"{base}/jobs/{job}", headers=key).json()["status"] == "running"
        assert list(tmp.glob("hotspots-upload-*")), list(tmp.iterdir())  # while it imports
    finally:
        os.kill(server.pid, signal.SIGKILL)
        server.wait(10)
    server = start(store, tmp, port)
    try:
        got = httpx.get(f"{base}/jobs/{job}", headers=key).json()
        assert got["status"] == "failed", got
        assert "nothing was stored" in got["message"], got
        assert not list(tmp.glob("hotspots-upload-*")), list(tmp.iterdir())
        assert httpx.get(f"{base}/batches", headers=key).json() == []  # the store as before
        incidents = httpx.get(f"{base}/incidents?limit=1", headers=key).json()
        assert incidents["numberMatched"] == 0, incidents
    finally:
        server.kill()
        server.wait(10)
