"""OGC feature pages, single features and vector tiles run on threads of their own
(``HOTSPOTS_READ_THREADS``; api/read_lane.py): at most that many at once, while other
requests go on at the same time on the worker threads."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx

import api.ogc.routes as ogc_routes
import api.ogc.tile_routes as tile_routes
from api.ogc.items import Page


class Meter:
    """How many calls run at once, at most, and when each ended."""

    def __init__(self) -> None:
        self.lock, self.running, self.most, self.ended = threading.Lock(), 0, 0, []

    def run(self, result):
        with self.lock:
            self.running += 1
            self.most = max(self.most, self.running)
        time.sleep(0.1)
        with self.lock:
            self.running -= 1
            self.ended.append(time.monotonic())
        return result


def test_gis_reads_take_turns_on_their_lane_and_leave_the_workers_free(
    api_kit, tmp_path, monkeypatch
):
    from live_server import serve  # tests/api/live_server.py

    from geodata.stores import DuckDBStore

    lane, workers = Meter(), Meter()
    monkeypatch.setattr(tile_routes, "tile_bytes", lambda *a: lane.run(b""))
    monkeypatch.setattr(ogc_routes, "select", lambda *a: lane.run(Page([], 0)))
    monkeypatch.setattr(ogc_routes, "one", lambda *a: lane.run(None))
    store = DuckDBStore(tmp_path / "s.duckdb")
    _, key = api_kit.add_key(store, "analyst")
    app = api_kit.make_app(store, worker_threads=4, read_threads=1)
    app.add_api_route("/busy", lambda: workers.run({}))  # a sync route: a worker thread
    coll = "/ogc/collections/incidents"
    paths = [f"{coll}/items", f"{coll}/items/b%231", f"{coll}/tiles/WebMercatorQuad/14/5460/8190"]
    try:
        with serve(app) as port, ThreadPoolExecutor(12) as pool:

            def get(path: str) -> int:
                url = f"http://127.0.0.1:{port}{path}"
                return httpx.get(url, headers={"X-API-Key": key}, timeout=30).status_code

            codes = list(pool.map(get, paths * 3 + ["/busy"] * 3))
    finally:
        store.close()
    assert codes == [200, 404, 204] * 3 + [200] * 3
    assert lane.most == 1 and len(lane.ended) == 9  # one at a time on a lane of one
    assert workers.most >= 2  # meanwhile the workers served several at once
    assert max(workers.ended) < max(lane.ended) - 0.3  # without waiting for the lane
