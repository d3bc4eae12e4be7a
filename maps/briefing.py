"""Printable briefings: a one-page days-of-action plan and a Ward Member briefing.

Both are self-contained HTML (A4 print styles, inline SVG maps, no scripts,
fonts or images from anywhere else), so they open offline, print well and can
be attached to an email. :func:`html_to_pdf` turns either into a PDF with
WeasyPrint (which uses the system's Pango).

The SVG maps (:mod:`maps.briefing_svg`) draw the area outline and the sites,
numbered in visiting order (plans) or by rank (ward briefings), over a plain
background.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime

from shapely.geometry import shape

from geodata.errors import HotspotsError
from geodata.taxonomy import BY_SLUG
from hotspots.plan_model import Plan

from .briefing_svg import _e, _maps, _metres, svg_map

ATTRIBUTION = (
    "Contains public sector information licensed under the Open Government Licence v3.0. "
    "Contains OS data © Crown copyright and database right."
)
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

PRINT_CSS = """
@page { size: A4; margin: 9mm 11mm; }
* { box-sizing: border-box; }
body { font-family: "DejaVu Sans", "Liberation Sans", Arial, sans-serif; font-size: 9.5pt;
       color: #111; margin: 0 auto; max-width: 190mm; line-height: 1.25; }
h1 { font-size: 15pt; margin: 0 0 1mm; }
h2 { font-size: 11pt; margin: 3mm 0 1.5mm; border-bottom: 1px solid #999; }
p { margin: 1mm 0; }
.sub { color: #444; margin-bottom: 2mm; }
.figures { display: flex; flex-wrap: wrap; gap: 2mm; margin: 2mm 0; }
.figure { border: 1px solid #bbb; border-radius: 2mm; padding: 0.8mm 2mm; min-width: 22mm; }
.figure b { display: block; font-size: 11pt; }
.maps { display: flex; gap: 3mm; align-items: flex-start; }
.maps figure { margin: 0; flex: 0 1 49%; max-width: 49%; }
.maps figure.area { flex-basis: 36%; max-width: 36%; }
.maps figure.zoom { flex-basis: 62%; max-width: 62%; }
.maps figcaption { font-size: 8pt; color: #444; }
svg.map { width: 100%; height: auto; max-height: 88mm; border: 1px solid #bbb;
          background: #fbfbf8; }
table { border-collapse: collapse; width: 100%; font-size: 8.5pt; }
th, td { border-bottom: 1px solid #ccc; padding: 1mm 1.2mm; text-align: left;
         vertical-align: top; }
th { background: #eee; }
td.num, th.num { text-align: right; white-space: nowrap; }
tr { page-break-inside: avoid; break-inside: avoid; }
.badge { display: inline-block; min-width: 5mm; padding: 0 1mm; border-radius: 3mm;
         background: #d7301f; color: #fff; font-weight: bold; text-align: center; }
.notes { font-size: 8pt; color: #333; }
.notes li { margin: 0.5mm 0; }
footer { font-size: 7.5pt; color: #555; margin-top: 2mm; }
@media screen { body { padding: 6mm; } }
@media print { svg.map { max-height: 78mm; } .no-print { display: none; }
                a { color: inherit; text-decoration: none; } }
"""


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] if text else text


def _label(slug: str) -> str:
    cat = BY_SLUG.get(slug)
    return cat.label if cat else slug


def _num(value: float | int | None, digits: int = 0) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    return f"{value:,.{digits}f}"


def _pct(share: float | None, digits: int = 1) -> str:
    return "–" if share is None else f"{100 * share:.{digits}f}%"


def _page(title: str, body: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en-GB"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>{PRINT_CSS}</style></head>"
        f"<body>{body}<footer>{_e(ATTRIBUTION)}</footer></body></html>\n"
    )


def _categories_text(categories: Mapping[str, int | None], top: int = 3) -> str:
    known = [(c, n) for c, n in categories.items() if n]
    ranked = sorted(known, key=lambda t: (-t[1], t[0]))[:top]
    return ", ".join(f"{_label(c).lower()} {n:,}" for c, n in ranked)


def _trend_text(trend: dict) -> str:
    direction = trend.get("direction") or "no clear trend"
    if trend.get("p") is None:
        return direction
    p = trend["p"]
    return f"{direction} (p {'< 0.001' if p < 0.001 else f'= {p:.3f}'})"


# --------------------------------------------------------------------------- plan


def _period(params) -> str:
    def month(d, end=False):
        if d is None:
            return None
        if end:  # exclusive end → last month included
            d = datetime(d.year - (d.month == 1), (d.month - 2) % 12 + 1, 1) if d.day == 1 else d
        return f"{MONTHS[d.month - 1]} {d.year}"

    a, b = month(params.start), month(params.end, end=True)
    if a and b:
        return a if a == b else f"{a} to {b}"
    return (a and f"from {a}") or (b and f"up to {b}") or "all dates loaded"


def plan_briefing_html(
    plan: Plan, *, title: str | None = None, generated: str | None = None
) -> str:
    """One printable page: key figures, maps, and each site with where, why and when to go."""
    p = plan.params
    area = plan.area_name or "the area"
    cats = ", ".join(_label(c) for c in p.categories) if p.categories else "all categories"
    title = title or f"Day of action plan — {area}"
    budget = (
        f"{p.hours:g} officer-hours budget" if p.hours is not None else f"{p.sites} sites asked for"
    )
    head = (
        f"<h1>{_e(title)}</h1>"
        f'<p class="sub">{_e(cats)} · {_e(_period(p))} · {_e(budget)} · '
        f"{p.hours_per_site:g} h per site · "
        f"{'walking' if p.travel_mode == 'walk' else 'driving'} at {p.speed:g} km/h"
        + (f" · preferred {_e(p.describe_preference())}" if p.describe_preference() else "")
        + (f" · made {_e(generated)}" if generated else "")
        + "</p>"
    )
    pai = plan.pai
    figures = [
        ("sites", f"{len(plan.sites)}"),
        ("harm covered", _pct(plan.harm_share)),
        ("incidents covered", f"{plan.covered_count:,} of {plan.n_incidents:,}"),
        ("share of area", _pct(plan.area_share, 2)),
        ("PAI (harm)", _num(pai, 1)),
        ("route", _metres(plan.distance_m)),
        ("time", f"{plan.total_hours:.1f} h"),
    ]
    fig_html = (
        '<div class="figures">'
        + "".join(f'<div class="figure"><b>{_e(v)}</b>{_e(k)}</div>' for k, v in figures)
        + "</div>"
    )
    explain = (
        f"<p>These {len(plan.sites)} places cover {_pct(plan.harm_share)} of the harm "
        f"({_pct(plan.count_share)} of incidents) on {_pct(plan.area_share, 2)} of the area: "
        + (
            f"a Predictive Accuracy Index of {pai:,.0f} (harm share ÷ area share; 1 would be "
            "no better than anywhere). "
            if pai is not None
            else ""
        )
        + f"Visit them in the numbered order: {_metres(plan.distance_m)} in straight lines, about "
        f"{plan.travel_hours * 60:.0f} min of travel plus {plan.visit_hours:g} h on site.</p>"
    )
    sites = [(s.visit, s.geometry, s.centre_lon, s.centre_lat) for s in plan.sites]
    rows = []
    for s in plan.sites:
        where = "; ".join(f"{loc} ({n})" for loc, n in s.top_locations[:3]) or (
            "no street name published"
        )
        why = (
            f"{s.count:,} incidents · harm {s.harm:,.0f}"
            + (f" · {_e(_categories_text(s.categories))}" if s.categories else "")
            + f" · {_e(_trend_text(s.trend))}"
        )
        rows.append(
            f'<tr><td><span class="badge">{s.visit}</span></td>'
            f"<td>{_e(where)}<br><small>{s.centre_lat:.5f}, {s.centre_lon:.5f}</small></td>"
            f"<td>{why}</td><td>{_when_to_go(s)}</td>"
            f'<td class="num">{_e(_metres(s.leg_m)) if s.visit > 1 else "start"}</td></tr>'
        )
    table = (
        "<h2>Sites, in visiting order</h2><table><thead><tr><th>#</th><th>Where</th>"
        "<th>Why chosen</th><th>When to go</th><th class='num'>From last</th></tr></thead>"
        "<tbody>" + "".join(rows) + "</tbody></table>"
        if rows
        else "<p><b>No site could be chosen.</b></p>"
    )
    notes = [*plan.notes, _method_sentence(plan)]
    notes_html = (
        '<h2>Notes</h2><ul class="notes">'
        + "".join(f"<li>{_e(_sentence(n))}</li>" for n in notes)
        + "</ul>"
    )
    body = head + fig_html + explain + _maps(plan.area_lonlat, sites, True, area) + table
    return _page(title, body + notes_html)


def _method_sentence(plan: Plan) -> str:
    p = plan.params
    size = "an H3 cell (≈ 0.015 km²)" if p.resolution == 10 else f"an H3 cell (res {p.resolution})"
    if p.ring:
        size += f" with its neighbours within {p.ring} step(s)"
    return (
        f"Each site is {size}. Sites were chosen to cover the most harm ({plan.weights_version}: "
        "harm weights in days of imprisonment equivalent) by greedy maximum coverage; the order "
        "by nearest neighbour and 2-opt; trends are Mann–Kendall tests of the monthly counts "
        "(p < 0.05 to call one rising or falling); travel assumes streets are "
        f"{p.detour_factor:g}× the straight line. police.uk locations are anonymised snap "
        "points near the real place."
    )


# --------------------------------------------------------------------------- ward


def ward_briefing_html(briefing: dict) -> str:
    """A printable Ward Member briefing from :func:`api.usecases.plans.ward_briefing`'s dict.

    The dict has ``ward`` (code, name), ``period``, ``totals``, ``borough``,
    ``categories`` (rows), ``hotspots`` (with GeoJSON ``geometry``),
    ``outline`` (GeoJSON), ``notes`` and ``suppressed_below`` (public role).
    """
    ward = briefing["ward"]
    name = ward["name"] or ward["code"]
    period = briefing["period"]["label"]
    totals, borough = briefing["totals"], briefing["borough"]
    below = briefing.get("suppressed_below")
    title = f"{name} ward — briefing for Ward Members"

    def count(v):
        return f"fewer than {below}" if v is None and below else _num(v)

    change = totals.get("change_pct")
    if briefing["previous"]["available"]:
        if change is None:
            trend = "There is no count to compare with for the same months a year earlier."
        else:
            word = "up" if change > 0 else "down" if change < 0 else "unchanged"
            trend = (
                f"That is {word} {abs(change):.0f}% on the same months a year earlier "
                f"({count(totals.get('previous_count'))})."
                if word != "unchanged"
                else "That is the same as the same months a year earlier."
            )
    else:
        trend = (
            "No data for the same months a year earlier is loaded, so the change on last year "
            "cannot be given."
        )
    ratio = totals.get("ratio_to_borough")
    compare = (
        f"{ratio:.1f} times the rate across {borough['name']}"
        if ratio is not None and ratio >= 1.05
        else f"below the rate across {borough['name']}"
        if ratio is not None and ratio <= 0.95
        else f"about the same as the rate across {borough['name']}"
        if ratio is not None
        else ""
    )
    chosen = briefing.get("categories_filter")
    what = (
        "incidents of " + ", ".join(_label(c).lower() for c in chosen)
        if chosen
        else "crimes and incidents of anti-social behaviour"
    )
    rate = ""
    if totals.get("rate") is not None:
        rate = f": <b>{_num(totals['rate'], 1)} per 1,000 residents</b>"
        if compare:
            rate += f", {_e(compare)} ({_num(borough.get('rate'), 1)} per 1,000)"
    lead = (
        f"<p>In {_e(period)}, <b>{count(totals['count'])}</b> {_e(what)} were recorded in "
        f"{_e(name)}{rate}. {_e(trend)}</p>"
    )
    rows = []
    for r in briefing["categories"]:
        ch = r.get("change_pct")
        rows.append(
            f"<tr><td>{_e(_label(r['category']))}</td>"
            f'<td class="num">{count(r["count"])}</td>'
            f'<td class="num">{_num(r.get("rate"), 1)}</td>'
            f'<td class="num">{_num(r.get("borough_rate"), 1)}</td>'
            f'<td class="num">{_num(r.get("ratio_to_borough"), 1)}'
            f"{'×' if r.get('ratio_to_borough') is not None else ''}</td>"
            f'<td class="num">{"–" if ch is None else f"{ch:+.0f}%"}</td></tr>'
        )
    table = (
        "<h2>What was recorded</h2><table><thead><tr><th>Category</th>"
        "<th class='num'>Count</th><th class='num'>Per 1,000 residents</th>"
        f"<th class='num'>{_e(borough['name'])} per 1,000</th><th class='num'>vs borough</th>"
        "<th class='num'>Change on last year</th></tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table>"
    )
    outline = shape(briefing["outline"]) if briefing.get("outline") else None
    hotspots = briefing.get("hotspots") or []
    sites = [(h["rank"], shape(h["geometry"]), h["centre_lon"], h["centre_lat"]) for h in hotspots]
    hs_rows = []
    for h in hotspots:
        where = "; ".join(f"{loc} ({n})" for loc, n in (h.get("top_locations") or [])[:3])
        cats = _categories_text(h.get("categories") or {})
        hs_rows.append(
            f'<tr><td><span class="badge">{h["rank"]}</span></td>'
            f"<td>{_e(where or 'no street name published')}</td>"
            f'<td class="num">{count(h.get("count"))}</td><td>{_e(cats)}</td>'
            f"<td>{_e(_trend_text(h.get('trend') or {}))}</td>"
            f"<td>{_e((h.get('window') or {}).get('short', ''))}</td></tr>"
        )
    hs_table = (
        "<h2>Where it happens most</h2><p>The places (≈ 100 m hexagons) with the most harm in "
        "the ward, numbered on the map.</p><table><thead><tr><th>#</th><th>Where</th>"
        "<th class='num'>Count</th><th>Mostly</th><th>Trend</th><th>When</th></tr></thead>"
        "<tbody>" + "".join(hs_rows) + "</tbody></table>"
        if hs_rows
        else "<h2>Where it happens most</h2><p>No place stands out in this period.</p>"
    )
    notes = list(briefing.get("notes") or [])
    if below:
        notes.append(f"Counts below {below} are not shown, to protect privacy.")
    notes_html = (
        '<h2>Notes</h2><ul class="notes">'
        + "".join(f"<li>{_e(_sentence(n))}</li>" for n in notes)
        + "</ul>"
    )
    head = (
        f"<h1>{_e(title)}</h1><p class='sub'>{_e(ward['code'])} · {_e(period)} · "
        f"{_num(totals.get('population'))} residents"
        + (f" · made {_e(briefing['generated'])}" if briefing.get("generated") else "")
        + "</p>"
    )
    figures = [
        f"<figure>{svg_map(outline, sites, title=f'{name}: top places')}"
        f"<figcaption>{_e(name)}: the top places, numbered</figcaption></figure>"
    ]
    if briefing.get("borough_outline") and outline is not None:
        where = f"{name} within {borough['name']}"
        context = svg_map(shape(briefing["borough_outline"]), [], highlight=outline, title=where)
        figures.append(f"<figure>{context}<figcaption>{_e(where)}</figcaption></figure>")
    maps_html = '<div class="maps">' + "".join(figures) + "</div>"
    body = head + lead + maps_html + hs_table + table + notes_html
    return _page(title, body)


# --------------------------------------------------------------------------- PDF


class PdfUnavailable(HotspotsError, RuntimeError):
    """WeasyPrint (or the Pango library it needs) is not installed (406: ask for HTML)."""

    status = 406
    type = "pdf-unavailable"


def _when_to_go(site) -> str:
    """The shift slot (day, arrive–leave) when the plan was fitted to shifts, then the
    patrol window's reasoning."""
    text = _e(site.window.get("short") or site.window["text"])
    shift = getattr(site, "shift", None)
    if not shift:
        return text
    return f"<b>{_e(shift['day'])} {_e(shift['arrive'])}–{_e(shift['leave'])}</b><br>{text}"


def html_to_pdf(document: str) -> bytes:
    """Render a briefing to PDF with WeasyPrint, fitted to one A4 page
    (:func:`render_one_page`); :class:`PdfUnavailable` if WeasyPrint cannot load."""
    return render_one_page(document).write_pdf()


def render_one_page(document: str):
    """The briefing laid out by WeasyPrint, tightened step by step (:data:`FIT_ONE_PAGE`:
    smaller maps, then smaller type) until it fits one A4 page."""
    try:
        import weasyprint
    except (ImportError, OSError) as exc:  # OSError: Pango missing
        raise PdfUnavailable(
            f"PDF needs WeasyPrint and Pango (apt install libpango-1.0-0): {exc}"
        ) from exc
    html = weasyprint.HTML(string=document)
    rendered = html.render()
    for css in FIT_ONE_PAGE:
        if len(rendered.pages) <= 1:
            break
        rendered = html.render(stylesheets=[weasyprint.CSS(string=css)])
    return rendered


#: Ever tighter print styles, tried in turn until a briefing fits one A4 page (``!important``:
#: WeasyPrint adds them as user styles, which the page's own styles would otherwise win).
FIT_ONE_PAGE = tuple(
    " ".join(f"{sel} {{ {'; '.join(d + ' !important' for d in decls)} }}" for sel, decls in step)
    for step in (
        (("svg.map", ["max-height: 62mm"]), ("h2", ["margin: 2mm 0 1mm"])),
        (
            ("svg.map", ["max-height: 52mm"]),
            ("body", ["font-size: 8.5pt"]),
            ("table", ["font-size: 7.5pt"]),
            (".notes, footer", ["font-size: 7pt"]),
            ("h2", ["margin: 1.5mm 0 1mm"]),
        ),
        (
            ("svg.map", ["max-height: 44mm"]),
            ("body", ["font-size: 8pt", "line-height: 1.15"]),
            ("table", ["font-size: 7pt"]),
            ("td, th", ["padding: 0.4mm 1mm"]),
            (".notes, footer", ["font-size: 6.5pt"]),
        ),
        (
            ("svg.map", ["max-height: 36mm"]),
            ("body", ["font-size: 7.5pt", "line-height: 1.1"]),
            ("table", ["font-size: 6.5pt"]),
            ("td, th", ["padding: 0.2mm 0.8mm"]),
            (".notes, footer", ["font-size: 6pt"]),
            ("h1", ["font-size: 13pt"]),
        ),
    )
)


__all__ = [
    "PdfUnavailable",
    "html_to_pdf",
    "plan_briefing_html",
    "render_one_page",
    "svg_map",
    "ward_briefing_html",
]
