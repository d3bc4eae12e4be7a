"""The embedded store while the service runs (issue 11): with ``hotspots serve`` holding
the DuckDB file, other commands — imports, the interventions log, keys, runs, maps —
work through the service (``geodata.stores.sharing``) while the API keeps answering."""

from __future__ import annotations

import json
import os
import stat
import threading
import time
from pathlib import Path

import httpx
import pytest
import serve_proc  # tests/api/serve_proc.py
from street_csv import police_csv  # tests/api/street_csv.py

from geodata.demo import load_demo
from geodata.errors import ConfigurationError, NotFound, StoreUnavailable
from geodata.stores import DuckDBStore, sharing


@pytest.fixture(scope="module")
def demo_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("serving") / "demo.duckdb"
    with DuckDBStore(path) as store:
        load_demo(store)
    return path


class Hammer(threading.Thread):
    """GETs the API in a loop until stopped, keeping every status it gets."""

    def __init__(self, base: str, key: str, run_id: str) -> None:
        super().__init__(daemon=True)
        self.paths = ["/health", f"/runs/{run_id}/hotspots", "/incidents?limit=50", "/runs"]
        self.headers = {"X-API-Key": key}
        self.base, self.statuses, self.stop = base, [], threading.Event()

    def run(self) -> None:
        with httpx.Client(base_url=self.base, headers=self.headers, timeout=30) as client:
            while not self.stop.is_set():
                for path in self.paths:
                    self.statuses.append((path, client.get(path).status_code))


def test_commands_work_while_the_service_holds_the_file(demo_file, tmp_path) -> None:
    store = tmp_path / "live.duckdb"
    store.write_bytes(demo_file.read_bytes())
    run = serve_proc.hotspots(store, "analyse", "--method", "dbscan", "--json")
    run_id = json.loads(run.stdout)["run_id"]
    _, key = serve_proc.new_key(store)
    port = serve_proc.free_port()
    server = serve_proc.start(store, port)
    base = f"http://127.0.0.1:{port}"
    hammer = Hammer(base, key, run_id)
    try:
        served = sharing.serve_file(store)
        assert stat.S_IMODE(served.stat().st_mode) == 0o600
        with pytest.raises(StoreUnavailable):  # the file itself is held by the service
            DuckDBStore(store)
        hammer.start()
        time.sleep(0.5)
        folder = tmp_path / "police"
        folder.mkdir()
        (folder / "2023-01-kent-street.csv").write_bytes(police_csv("2023-01", 40))
        imported = serve_proc.hotspots(store, "import", "police", str(folder))
        assert "2023-01" in imported.stdout
        logged = serve_proc.hotspots(
            store, "interventions", "add", "--title", "Day of action", "--kind",
            "day-of-action", "--start", "2022-06-10", "--cells", "89195da49b7ffff", "--json",
        )  # fmt: skip
        iv = json.loads(logged.stdout)["intervention_id"]
        partner_id, partner = serve_proc.new_key(store, "partner")
        assert httpx.get(f"{base}/runs", headers={"X-API-Key": partner}).status_code == 200
        serve_proc.hotspots(store, "keys", "revoke", partner_id)
        assert httpx.get(f"{base}/runs", headers={"X-API-Key": partner}).status_code == 401
        made = serve_proc.hotspots(store, "map", run_id, "-o", str(tmp_path / "m.html"))
        assert (tmp_path / "m.html").stat().st_size > 10_000, made.stdout
        again = serve_proc.hotspots(store, "analyse", "--method", "gistar", "--json")
        new_run = json.loads(again.stdout)["run_id"]
        listed = serve_proc.hotspots(store, "runs", "--json").stdout
        assert new_run in listed and run_id in listed
        time.sleep(0.5)
        hammer.stop.set()
        hammer.join(30)
        # the service saw every change made through it
        with httpx.Client(base_url=base, headers={"X-API-Key": key}, timeout=30) as client:
            assert client.get(f"/runs/{new_run}").status_code == 200
            assert client.get(f"/interventions/{iv}").status_code == 200
            assert "2023-01" in client.get("/coverage").text
    finally:
        hammer.stop.set()
        server.terminate()
        server.wait(30)
    # the API answered throughout, and never with an error
    assert len(hammer.statuses) > 20
    assert {s for _, s in hammer.statuses} == {200}, sorted(set(hammer.statuses))
    assert not sharing.serve_file(store).exists()  # gone with the service
    with DuckDBStore(store) as st:  # and everything the commands did is in the file
        assert any(b.period == "2023-01" for b in st.list_batches())
        assert st.get_intervention(iv) is not None and st.get_run(new_run) is not None


def test_the_shared_store_answers_as_the_store_would(demo_file, tmp_path) -> None:
    path = tmp_path / "shared.duckdb"
    path.write_bytes(demo_file.read_bytes())
    with DuckDBStore(path) as store:
        shared = sharing.share(store, path)
        try:
            # (in another process open_store gives this; here DuckDB would share the file)
            remote = sharing.connect(path, store.analysis_crs)
            assert isinstance(remote, sharing.RemoteStore)
            assert remote.list_batches() == store.list_batches()
            assert remote.query_incidents().equals(store.query_incidents())
            assert remote.analysis_crs == store.analysis_crs
            # errors arrive as themselves
            with pytest.raises(NotFound):
                remote.area_polygon("ward", "E05999999")
            assert remote.get_run("run-nope") is None
            # only the store's interface is reachable
            with pytest.raises(AttributeError, match="no shared method"):
                remote._call("_run", "DROP TABLE incidents")
            assert store.count_incidents() > 0
            with pytest.raises(ConfigurationError, match="HOTSPOTS_ANALYSIS_CRS=EPSG:27700"):
                sharing.connect(path, "EPSG:32631")
            remote.close()
            # a process without the key cannot connect
            info = json.loads(sharing.serve_file(path).read_text())
            info["key"] = os.urandom(32).hex()
            sharing.serve_file(path).write_text(json.dumps(info))
            assert sharing.connect(path) is None
        finally:
            shared.close()
    assert not sharing.serve_file(path).exists()
