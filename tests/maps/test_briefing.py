"""Printable briefings: HTML fragments, inline SVG maps, no outside resources, PDF."""

from __future__ import annotations

import math
import re

import h3
import pandas as pd
import pytest
import shapely

from hotspots.planner import PlanParams, plan_days_of_action
from maps.briefing import (
    html_to_pdf,
    plan_briefing_html,
    render_one_page,
    svg_map,
    ward_briefing_html,
)

# Gravesend town centre and a few places round it (lat, lon)
PLACES = [(51.4431, 0.3685), (51.4440, 0.3700), (51.4428, 0.3702), (51.4405, 0.3777)]
AREA = shapely.box(0.30, 51.40, 0.45, 51.47)  # (lon, lat)


def _incidents(precision: str = "month") -> pd.DataFrame:
    rows = []
    for i, (lat, lon) in enumerate(PLACES):
        for k in range(8 - i):
            rows.append(
                {
                    "lat": lat,
                    "lon": lon,
                    "occurred_at": pd.Timestamp(f"2022-{1 + k % 12:02d}-01 21:30"),
                    "occurred_precision": precision,
                    "category": "violent-crime" if k % 2 else "anti-social-behaviour",
                    "location": f"On or near <Street {i}> & Co",
                    "sensitive": False,
                }
            )
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def plan():
    return plan_days_of_action(
        _incidents(), PlanParams(sites=3), area_lonlat=AREA, area_name="Testham"
    )


def test_plan_briefing_lists_each_site_with_where_why_and_when(plan):
    page = plan_briefing_html(plan, generated="27 November 2026")
    assert page.startswith("<!DOCTYPE html>")
    assert "@page { size: A4" in page and "@media print" in page
    assert "<h1>Day of action plan — Testham</h1>" in page
    # sites in visiting order, each numbered, with its street (escaped), counts and window
    badges = re.findall(r'<span class="badge">(\d+)</span>', page)
    assert badges == ["1", "2", "3"]
    for site in plan.sites:
        street = site.top_locations[0][0]
        assert street.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;") in page
        assert f"{site.count:,} incidents" in page
    assert "<Street" not in page  # user text is escaped
    assert "Time unknown" in page and "Times of day are unknown" in page
    assert f"{plan.pai:,.0f}" in page and "Predictive Accuracy Index" in page


def test_plan_briefing_needs_nothing_from_outside(plan):
    page = plan_briefing_html(plan)
    assert "<script" not in page and "<link" not in page and "<img" not in page
    assert "@import" not in page
    assert all(ref.startswith("#") for ref in re.findall(r"url\(([^)]*)\)", page))
    urls = set(re.findall(r"https?://[^\s\"')]+", page))
    assert urls <= {"http://www.w3.org/2000/svg"}


def test_maps_number_sites_in_visiting_order_over_the_outline(plan):
    page = plan_briefing_html(plan)
    svgs = re.findall(r"<svg class=\"map\".*?</svg>", page, flags=re.S)
    assert 1 <= len(svgs) <= 2  # the whole area, and a close-up when sites are close together
    for svg in svgs:
        assert svg.count('class="outline"') == 1
        assert svg.count('class="site"') == len(plan.sites)
        numbers = re.findall(r'font-weight="bold" text-anchor="middle">(\d+)</text>', svg)
        assert numbers == [str(s.visit) for s in plan.sites]
        assert 'class="route"' in svg
    assert len(svgs) == 2  # these sites sit in a small corner of the box


def test_svg_map_places_points_where_they_are():
    square = shapely.box(0.0, 51.0, 0.1, 51.1)
    cell = h3.latlng_to_cell(51.05, 0.05, 10)
    hexagon = shapely.Polygon([(b, a) for a, b in h3.cell_to_boundary(cell)])
    svg = svg_map(square, [(1, hexagon, 0.05, 51.05)], width=300)
    w, h = (int(v) for v in re.search(r'viewBox="0 0 (\d+) (\d+)"', svg).groups())
    cx, cy = (float(v) for v in re.search(r'<circle cx="([\d.]+)" cy="([\d.]+)"', svg).groups())
    assert cx == pytest.approx(w / 2, abs=1) and cy == pytest.approx(h / 2, abs=1)
    # the box is 0.1° × 0.1°: at 51° N it is taller than wide
    assert h > w


def test_timed_data_shows_the_peak_window():
    plan = plan_days_of_action(_incidents("minute"), PlanParams(sites=1), area_lonlat=AREA)
    page = plan_briefing_html(plan)
    w = plan.sites[0].window
    assert w["times_known"] and f"{w['day']} {w['start_hour']:02d}:00" in page
    assert "Time unknown" not in page


def _ward(count=120, suppressed=None):
    hexagon = shapely.Polygon(
        [(b, a) for a, b in h3.cell_to_boundary(h3.latlng_to_cell(51.443, 0.369, 10))]
    )
    return {
        "ward": {"code": "E05000001", "name": "Riverside & Docks"},
        "period": {"label": "January 2022 to November 2022"},
        "previous": {"available": True},
        "totals": {
            "count": count,
            "population": 6000.0,
            "rate": count / 6,
            "ratio_to_borough": 1.8,
            "previous_count": 100,
            "change_pct": 20.0,
        },
        "borough": {"name": "Gravesham", "rate": 11.1},
        "categories": [
            {
                "category": "anti-social-behaviour",
                "count": count,
                "rate": count / 6,
                "borough_rate": 11.1,
                "ratio_to_borough": 1.8,
                "change_pct": 20.0,
            },
            {
                "category": "drugs",
                "count": None,
                "rate": None,
                "borough_rate": 1.0,
                "ratio_to_borough": None,
                "change_pct": None,
            },
        ],
        "hotspots": [
            {
                "rank": 1,
                "geometry": shapely.geometry.mapping(hexagon),
                "centre_lon": 0.369,
                "centre_lat": 51.443,
                "count": 40,
                "categories": {"anti-social-behaviour": 40},
                "top_locations": [["On or near Harbour Way", 30]],
                "trend": {"direction": "rising", "p": 0.01},
                "window": {"short": "Time unknown; busiest Aug 2022"},
            }
        ],
        "outline": shapely.geometry.mapping(shapely.box(0.35, 51.43, 0.39, 51.45)),
        "borough_outline": shapely.geometry.mapping(shapely.box(0.30, 51.38, 0.45, 51.46)),
        "notes": ["no data for the previous year"],
        "suppressed_below": suppressed,
    }


def test_ward_briefing_in_plain_english():
    page = ward_briefing_html(_ward())
    assert "<h1>Riverside &amp; Docks ward — briefing for Ward Members</h1>" in page
    assert "<b>120</b> crimes and incidents" in page
    assert "20.0 per 1,000 residents" in page and "1.8 times the rate across Gravesham" in page
    assert "up 20% on the same months a year earlier" in page
    assert "Anti-social behaviour" in page and "+20%" in page
    assert "On or near Harbour Way (30)" in page and "rising (p = 0.010)" in page
    assert page.count('class="highlight"') == 1  # the ward within the borough
    assert page.count('<g class="marker">') == 1
    assert "No data for the previous year" in page  # notes read as sentences
    assert "<script" not in page and "<link" not in page


def test_ward_briefing_for_the_public_says_what_was_suppressed():
    page = ward_briefing_html(_ward(count=120, suppressed=5))
    assert "fewer than 5" in page  # the drugs row
    assert "Counts below 5 are not shown" in page


def test_pdf_is_one_a4_page(plan):
    import weasyprint  # a dependency: PDF briefings

    page = plan_briefing_html(plan)
    pdf = html_to_pdf(page)
    assert pdf.startswith(b"%PDF")
    doc = weasyprint.HTML(string=page).render()
    assert len(doc.pages) == 1
    width_px, height_px = doc.pages[0].width, doc.pages[0].height  # CSS px, 96 per inch
    assert (round(width_px / 96 * 25.4), round(height_px / 96 * 25.4)) == (210, 297)


def test_markers_of_nearby_sites_do_not_overlap():
    cell = h3.latlng_to_cell(51.05, 0.05, 10)
    hexagon = shapely.Polygon([(b, a) for a, b in h3.cell_to_boundary(cell)])
    square = shapely.box(0.0, 51.0, 0.1, 51.1)
    sites = [(k, hexagon, 0.05, 51.05) for k in (1, 2, 3)]  # three sites at one spot
    svg = svg_map(square, sites, width=300)
    centres = [
        (float(x), float(y)) for x, y in re.findall(r'<circle cx="([\d.]+)" cy="([\d.]+)"', svg)
    ]
    assert len(centres) == 3
    for i, a in enumerate(centres):
        for b in centres[i + 1 :]:
            assert math.dist(a, b) >= 16
    # the first keeps its place; the others point back to it with a leader line
    assert svg.count("<line x1=") == 2 + 1  # two leaders and the scale bar


def _pages(page: str) -> int:
    """Pages of the PDF html_to_pdf writes (the same fitted layout)."""
    assert html_to_pdf(page).startswith(b"%PDF")
    return len(render_one_page(page).pages)


@pytest.mark.parametrize("sites", [6, 12])
def test_real_plans_and_ward_briefings_print_on_one_a4_page(demo, sites):
    """On the Gravesham demo: a Fri/Sat evening plan of 6 or 12 sites and the ward
    briefings of the two busiest wards each print as one page."""
    from api.usecases.plans import plan_from_store, ward_briefing
    from hotspots.planner import PlanParams

    store = demo["store"]
    plan = plan_from_store(
        store, PlanParams(sites=sites, days=("Fri", "Sat"), hours_of_day=(18, 23)), "borough"
    )
    assert len(plan.sites) == sites
    assert _pages(plan_briefing_html(plan)) == 1
    if sites == 6:
        for ward in ("E05004964", "E05004968"):  # Central, Pelham
            doc = ward_briefing(store, f"ward:{ward}")
            assert _pages(ward_briefing_html(doc)) == 1, ward
