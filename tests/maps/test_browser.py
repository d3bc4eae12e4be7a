"""The map in a real browser: Debian's headless chromium driven by Playwright, against the
running API (uvicorn on a free loopback port), with every non-loopback request aborted.

Screenshots go to ``test-artifacts/`` (gitignored).
"""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import pytest
import uvicorn

from api.app import create_app
from api.settings import ApiSettings, Settings
from geodata.settings import StoreSettings
from maps.settings import MapSettings

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
TILES = "https://tiles.invalid/{z}/{x}/{y}.png"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(demo):
    settings = Settings(
        ApiSettings(secret_key="y" * 40),
        StoreSettings(duckdb_path=demo["path"]),
        MapSettings(tile_url=TILES),
    )
    port = free_port()
    config = uvicorn.Config(
        create_app(settings, store=demo["store"]),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="on",
    )
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("uvicorn did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(10)


def open_map(browser, url: str, key: str, width: int = 1100, height: int = 800):
    page = browser.new_page(viewport={"width": width, "height": height}, has_touch=width < 500)
    if key:
        page.set_extra_http_headers({"X-API-Key": key})
    log = {"console": [], "failed": [], "outside": []}

    def console(msg):
        if msg.type == "error":
            log["console"].append((msg.text, (msg.location or {}).get("url", "")))

    def route(r):
        if r.request.url.startswith(("http://127.0.0.1", "data:")):
            r.continue_()
        else:
            log["outside"].append(r.request.url)
            r.abort()

    page.on("console", console)
    page.on("pageerror", lambda e: log["console"].append((str(e), "")))
    page.on("requestfailed", lambda r: log["failed"].append(r.url))
    page.route("**/*", route)
    started = time.perf_counter()
    response = page.goto(url, wait_until="load")
    log["load_s"] = time.perf_counter() - started
    assert response is not None and response.status == 200
    page.wait_for_selector("path.leaflet-interactive")
    return page, log


def is_tile(url: str) -> bool:
    return url.startswith("https://tiles.invalid/")


def test_map_opens_offline_with_layers_legend_and_no_errors(server, browser, demo):
    run = demo["runs"]["gistar"]
    page, log = open_map(browser, f"{server}/runs/{run.run_id}/map", demo["keys"]["analyst"])
    # tiles were asked for and refused; nothing else left the machine or failed
    assert log["outside"] and all(is_tile(u) for u in log["outside"]), log["outside"][:3]
    assert all(is_tile(u) for u in log["failed"]), log["failed"][:3]
    assert [c for c in log["console"] if not is_tile(c[1])] == []
    assert log["load_s"] < 3, log["load_s"]
    # every hotspot is drawn, the rate layers are off until asked for (so a ward's rate
    # is never read as a Gi* class), and the layer control lists the layers
    # with, for analysts, the cells hot only through their neighbours and the recording
    # places left out (issue 13), each in its own layer
    drawn = page.locator("path.leaflet-interactive")
    surroundings = run.result["surroundings"]["features"]
    places = run.result["artefact_places"]
    assert surroundings and places
    assert drawn.count() == len(run.result["features"]) + len(surroundings) + len(places)
    labels = page.locator(".leaflet-control-layers-overlays label").all_inner_texts()
    text = " ".join(labels)
    for name in (
        "Gi* hot spots",
        "Wards",
        "LSOAs",
        "Incidents (analysts only)",
        "Hot surroundings (few incidents here)",
        "Recording places left out",
    ):
        assert name in text, text
    legend = page.locator(".hs-legend")
    assert legend.is_visible() and "Hot spot, 99 % confidence" in legend.inner_text()
    assert "Hot surroundings, few incidents here (not ranked)" in legend.inner_text()
    assert "Recording place left out" in legend.inner_text()
    assert page.locator(".hs-notice").is_visible()  # tiles failed: the map says so
    assert page.locator('a[title="Full screen"]').count() == 1
    assert page.locator(".leaflet-control-locate").count() == 1
    assert page.locator(".leaflet-control-scale").count() == 1
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "map-gistar-analyst.png"))
    # the top hotspot's popup: count, trend arrow, sparkline, times unknown, streets
    top = run.result["features"][0]["properties"]
    page.evaluate("() => HS.features.find(e => e.p.r === 1).layer.openPopup()")
    popup = page.locator(".leaflet-popup-content")
    popup.wait_for()
    text = popup.inner_text()
    assert f"Incidents: {top['count']:,}" in text and "Trend: " in text
    assert "times of day are unknown" in text and top["top_locations"][0][0] in text
    assert popup.locator("svg.hs-spark polyline").count() == 1
    nasty = page.evaluate(
        "() => HS.popup({r: 1, n: 3, h: 1, s: [['<img src=x onerror=alert(1)>', 3]]})"
    )
    assert "<img" not in nasty and "&lt;img src=x" in nasty
    # incidents layer: clusters appear when switched on
    page.locator(".leaflet-control-layers").hover()
    page.locator(".leaflet-control-layers-overlays").get_by_text(
        "Incidents (analysts only)"
    ).click()
    page.wait_for_selector(".marker-cluster")
    # category filter hides hotspots without the ticked categories
    page.keyboard.press("Escape")
    page.evaluate(
        "() => { const b = [...document.querySelectorAll('.hs-catctl input')];"
        " b.forEach(x => { x.checked = x.value === 'bicycle-theft';"
        " x.dispatchEvent(new Event('change')); }); }"
    )
    hidden = page.evaluate(
        "() => [...document.querySelectorAll('path.leaflet-interactive')]"
        ".filter(p => p.style.display === 'none').length"
    )
    assert 0 < hidden <= len(run.result["features"])
    page.close()


def test_share_link_map_fits_a_phone(server, browser, demo):
    import httpx

    run = demo["runs"]["dbscan"]
    link = httpx.post(
        f"{server}/share-links",
        json={"run_id": run.run_id, "role": "public", "title": "Town centre"},
        headers={"X-API-Key": demo["keys"]["analyst"]},
    ).json()
    page, log = open_map(browser, link["url"], "", width=375, height=740)
    assert [c for c in log["console"] if not is_tile(c[1])] == []
    assert all(is_tile(u) for u in log["failed"])
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    assert page.locator(".marker-cluster").count() == 0
    assert "Incidents (analysts only)" not in page.content()
    # the legend starts closed on a phone and opens with a tap
    assert page.locator(".hs-legend details").get_attribute("open") is None
    page.locator(".hs-legend summary").tap()
    assert page.locator(".hs-legend details").get_attribute("open") is not None
    box = page.locator(".hs-legend").bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 375
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "map-dbscan-public-phone.png"))
    page.close()


def test_a_shared_plan_opens_on_a_phone_with_numbered_sites_and_tappable_popups(
    server, browser, demo
):
    """A neighbourhood team's link to a day-of-action plan: every site numbered in visiting
    order, the route drawn, and a tap on a site (even under the route) says when to go."""
    import httpx

    keys = {"X-API-Key": demo["keys"]["analyst"]}
    plan = httpx.post(
        f"{server}/plans",
        json={"categories": ["violent-crime"], "sites": 5, "days": ["Fri"], "times": "18-23"},
        headers=keys,
        timeout=60,
    )
    assert plan.status_code == 200, plan.text
    link = httpx.post(
        f"{server}/share-links",
        json={"run_id": plan.json()["run_id"], "role": "partner"},
        headers=keys,
    ).json()
    page, log = open_map(browser, link["url"], "", width=390, height=844)
    assert [c for c in log["console"] if not is_tile(c[1])] == []
    assert all(is_tile(u) for u in log["outside"])  # nothing fetched but (blocked) tiles
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    labels = sorted(int(t) for t in page.locator(".hs-rank").all_inner_texts() if t.strip())
    sites = plan.json()["sites"]
    assert labels == list(range(1, len(sites) + 1))
    assert page.locator("path.leaflet-interactive").count() >= len(sites)  # sites, not route
    assert page.locator("path[stroke-dasharray='6 6']").count() == 1  # the route
    first = page.locator("path.leaflet-interactive").first
    first.tap()
    page.wait_for_selector(".leaflet-popup-content")
    assert "When:" in page.locator(".leaflet-popup-content").inner_text()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "plan-partner-phone.png"))
    page.close()
