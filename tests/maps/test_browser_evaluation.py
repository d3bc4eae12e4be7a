"""Evaluation pages in a real browser (Debian's headless chromium via Playwright): the
evaluation map and the backtest chart, written as standalone files (scripts inlined) and
opened from disk with every outside request aborted. No server: seconds, not minutes."""

from __future__ import annotations

from pathlib import Path

import pytest

from maps.evaluation import backtest_html, evaluation_map_html, evaluation_outlines
from maps.overlays import INTERVENTIONS_LAYER, add_overlays
from maps.render import MapOptions, build_map, render_html

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
TILES = "https://tiles.invalid/{z}/{x}/{y}.png"


def square(x0: float, y0: float, dx: float, dy: float) -> dict:
    ring = [[x0, y0], [x0 + dx, y0], [x0 + dx, y0 + dy], [x0, y0 + dy], [x0, y0]]
    return {"type": "Polygon", "coordinates": [ring]}


def ring(outer: dict, inner: dict) -> dict:
    return {"type": "Polygon", "coordinates": [outer["coordinates"][0], inner["coordinates"][0]]}


TARGET = square(0.368, 51.44, 0.004, 0.0025)
GROWN = square(0.365, 51.438, 0.010, 0.0065)
WARD = square(0.355, 51.43, 0.03, 0.025)
DOC = {
    "intervention": {"intervention_id": "iv-abc", "title": "Day of action <b>x</b>",
                     "kind": "day-of-action", "start_date": "2022-06-15",
                     "end_date": "2022-06-15", "officer_hours": 40},
    "plan": {"buffer_m": 200, "control": "ward E05000001", "before": ["2022-03-01", "2022-06-01"],
             "after": ["2022-07-01", "2022-10-01"]},
    "verdict": "reduction",
    "summary": "Evidence of a reduction: the target fell 30 %",
    "result": {"counts": {"target": {"before": 300, "after": 210},
                          "buffer": {"before": 60, "after": 61},
                          "control": {"before": 300, "after": 298}},
               "changes": {"target": {"percent_change": -30.0, "percent_ci": [-41.0, -17.0]}},
               "wdd": {"estimate": -88.0, "ci": [-140.0, -36.0], "p": 0.001}},
    "outlines": {"target": TARGET, "buffer": ring(GROWN, TARGET), "control": ring(WARD, GROWN)},
}  # fmt: skip


def open_file(browser, path: Path):
    page = browser.new_page(viewport={"width": 1000, "height": 700})
    log = {"console": [], "outside": []}
    page.on(
        "console",
        lambda m: log["console"].append(m.text) if m.type == "error" and "tiles" not in (
            (m.location or {}).get("url", "")) else None,
    )  # fmt: skip
    page.on("pageerror", lambda e: log["console"].append(str(e)))

    def route(r):
        if r.request.url.startswith(("file://", "data:")):
            r.continue_()
        else:
            log["outside"].append(r.request.url)
            r.abort()

    page.route("**/*", route)
    page.goto(path.as_uri(), wait_until="load")
    return page, log


def test_evaluation_map_draws_outlines_panel_and_popups(browser, tmp_path):
    path = tmp_path / "evaluation.html"
    path.write_text(evaluation_map_html(DOC, tile_url=TILES, assets="inline"), encoding="utf-8")
    page, log = open_file(browser, path)
    page.wait_for_selector("path.leaflet-interactive")
    assert all(u.startswith("https://tiles.invalid/") for u in log["outside"]), log["outside"]
    assert log["console"] == []
    paths = page.locator("path.leaflet-interactive")
    assert paths.count() == 3
    dashes = paths.evaluate_all("ps => ps.map(p => p.getAttribute('stroke-dasharray'))")
    assert sorted(map(str, dashes)) == ["2 6", "8 6", "None"]  # control, buffer, target
    legend = page.locator(".hs-legend").inner_text()
    assert "Verdict: reduction." in legend and "Displacement buffer" in legend
    assert "Target" in legend and "210" in legend and "-30 % (-41 % to -17 %)" in legend
    # the target (drawn last, on top) opens its popup when clicked in its middle
    box = page.locator(".leaflet-container").bounding_box()
    centre = page.evaluate(
        "() => { const m = Object.values(window).find(v => v && v._container && v.setView);"
        " const p = m.latLngToContainerPoint([51.44125, 0.37]); return [p.x, p.y]; }"
    )
    page.mouse.click(box["x"] + centre[0], box["y"] + centre[1])
    popup = page.locator(".leaflet-popup-content")
    popup.wait_for()
    text = popup.inner_text()
    assert "Day of action <b>x</b>" in text and "Officer hours: 40" in text
    assert "Intervention area (target)" in text
    ARTIFACTS.mkdir(exist_ok=True)
    page.wait_for_timeout(300)  # the popup's fade-in
    page.screenshot(path=str(ARTIFACTS / "evaluation-map.png"))
    page.close()


def test_backtest_page_chart_renders_without_scripts(browser, tmp_path):
    windows = [
        {"origin": f"2022-{m:02d}", "method": method, "pai": pai, "total": 100}
        for m in range(4, 13)
        for method, pai in (("naive", 3 + m % 3), ("gistar", 5 + m % 4))
    ]
    path = tmp_path / "backtest.html"
    path.write_text(backtest_html({"windows": windows, "area_share": 0.05}), encoding="utf-8")
    page, log = open_file(browser, path)
    assert log["outside"] == [] and log["console"] == []
    assert page.locator("svg.chart polyline").count() == 2
    box = page.locator("svg.chart").bounding_box()
    assert box["width"] > 300 and box["height"] > 150
    assert page.locator("table.windows tbody tr").count() == 9
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "backtest-chart.png"), full_page=True)
    page.close()


def test_run_map_outlines_leave_hotspots_clickable(browser, tmp_path):
    """On a run map the outlines are lines: a hotspot inside the control area still opens
    its own popup, the layer control lists the interventions, and no script fails."""
    hexagon = square(0.375, 51.445, 0.002, 0.0015)  # inside the control area
    fc = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": hexagon,
                "properties": {"rank": 1, "count": 12, "centroid_lon": 0.376,
                               "centroid_lat": 51.44575},
            }
        ],
    }  # fmt: skip
    m = build_map(fc, "hexes", MapOptions(role="partner", tile_url=TILES, assets="inline"))
    add_overlays(m, evaluation_outlines(DOC))
    path = tmp_path / "run.html"
    path.write_text(render_html(m), encoding="utf-8")
    page, log = open_file(browser, path)
    page.wait_for_selector("path.leaflet-interactive")
    assert log["console"] == []
    assert page.locator("path.leaflet-interactive").count() == 4
    labels = " ".join(page.locator(".leaflet-control-layers-overlays label").all_inner_texts())
    assert INTERVENTIONS_LAYER in labels
    box = page.locator(".leaflet-container").bounding_box()
    at = page.evaluate(
        "() => { const m = Object.values(window).find(v => v && v._container && v.setView);"
        " const p = m.latLngToContainerPoint([51.44575, 0.376]); return [p.x, p.y]; }"
    )
    page.mouse.click(box["x"] + at[0], box["y"] + at[1])
    popup = page.locator(".leaflet-popup-content")
    popup.wait_for()
    assert "Incidents: 12" in popup.inner_text()
    page.close()
