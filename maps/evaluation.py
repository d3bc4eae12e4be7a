"""Evaluation results as pages: the map of one intervention's before/after evaluation and
the printable backtest report with its PAI chart.

:func:`evaluation_map_html` draws the target, displacement buffer and control
outlines (:mod:`maps.overlays`) on the same offline Leaflet page as the hotspot
maps (assets linked from our static route or inlined, :func:`maps.render.render_html`
refuses anything else), with a panel giving the counts before and after, the
percent changes with their intervals, the WDD and the verdict in plain words.

:func:`backtest_html` is a self-contained printable page: the PAI of every
method per test window as a hand-written inline SVG line chart (no script at
all), then the per-window and summary tables. Both take the plain documents
the API returns (``POST /interventions/{id}/evaluation``, ``POST /backtests``).
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence

import folium
from branca.element import Figure
from folium import plugins

from .assets import STATIC_PREFIX
from .controls import Assets, legend_control, tile_notice
from .forecast_page import forecast_section
from .overlays import add_overlays, outline_bounds, overlay_legend
from .render import render_html
from .settings import OSM_ATTRIBUTION, OSM_TILES

AREAS = (("target", "Target"), ("buffer", "Buffer"), ("control", "Control"))


def _e(value) -> str:
    return html.escape(str(value))


def _num(value, spec: str = ",.0f") -> str:
    if value is None:
        return "–"
    try:
        value = float(value)
    except (TypeError, ValueError):
        return "–"
    return format(value, spec) if math.isfinite(value) else "–"


def _pct(change: dict | None) -> str:
    """``-30 % (−49 % to −4 %)`` from a change document."""
    if not change or change.get("percent_change") is None:
        return "–"
    ci = [*(change.get("percent_ci") or []), None, None]
    lo, hi = ci[0], ci[1]
    text = f"{change['percent_change']:+.0f} %"
    if lo is not None:
        text += f" ({lo:+.0f} % to {'∞' if hi is None else f'{hi:+.0f} %'})"
    return text


# --------------------------------------------------------------------------- evaluation map


def evaluation_outlines(doc: dict) -> dict:
    """The evaluation's three outlines as a FeatureCollection for :mod:`maps.overlays`."""
    rec = doc.get("intervention") or {}
    plan = doc.get("plan") or {}
    props = {
        k: rec.get(k)
        for k in ("intervention_id", "title", "kind", "start_date", "end_date", "officer_hours")
    }
    props["buffer_m"] = plan.get("buffer_m")
    features = []
    for part, geometry in (doc.get("outlines") or {}).items():
        if not geometry or not geometry.get("coordinates"):
            continue  # e.g. no buffer (0 m)
        extra = {"control": plan.get("control")} if part == "control" else {}
        features.append(
            {
                "type": "Feature",
                "id": f"{props['intervention_id']}/{part}",
                "geometry": geometry,
                "properties": {**props, "part": part, **extra},
            }
        )
    return {"type": "FeatureCollection", "features": features}


def evaluation_panel(doc: dict, notes: Sequence[str] = ()) -> str:
    """The panel of the evaluation map: intervention, windows, counts, WDD, verdict."""
    rec = doc.get("intervention") or {}
    plan = doc.get("plan") or {}
    result = doc.get("result") or {}
    counts = result.get("counts") or {}
    changes = result.get("changes") or {}
    when = rec.get("start_date") or "—"
    if rec.get("end_date") and rec.get("end_date") != rec.get("start_date"):
        when += f" to {rec['end_date']}"
    before = plan.get("before") or ["", ""]
    after = plan.get("after") or ["", ""]
    rows = []
    for key, label in AREAS:
        c = counts.get(key)
        if not isinstance(c, dict):
            continue
        rows.append(
            f"<tr><th scope='row'>{label}</th><td class='num'>{_num(c.get('before'))}</td>"
            f"<td class='num'>{_num(c.get('after'))}</td>"
            f"<td class='num'>{_e(_pct(changes.get(key)))}</td></tr>"
        )
    wdd = result.get("wdd") or {}
    wdd_line = ""
    if wdd.get("estimate") is not None:
        lo, hi = wdd.get("ci") or [None, None]
        wdd_line = (
            f"<div>Weighted Displacement Difference: <b>{_num(wdd['estimate'], '+,.1f')}</b> "
            f"(95 % CI {_num(lo, '+,.1f')} to {_num(hi, '+,.1f')}; p = {_num(wdd.get('p'), '.3f')})"
            "</div>"
        )
    verdict = doc.get("verdict") or result.get("verdict") or "—"
    parts = [
        '<details open><summary><span class="hs-title">'
        f"{_e(rec.get('title') or 'Intervention')}</span> · evaluation</summary>",
        f"<div>{_e(rec.get('kind') or '')}, {_e(when)}; officer hours "
        f"{_num(rec.get('officer_hours'))}</div>",
        f'<p class="hs-verdict"><b>Verdict: {_e(verdict)}.</b> {_e(doc.get("summary") or "")}</p>',
        '<table class="hs-counts"><caption>Incidents</caption><thead><tr><th></th>'
        "<th>before</th><th>after</th><th>change (95 % CI)</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>",
        wdd_line,
        f'<div class="hs-small">Before {_e(str(before[0])[:10])} to {_e(str(before[1])[:10])}, '
        f"after {_e(str(after[0])[:10])} to {_e(str(after[1])[:10])} (ends exclusive). "
        f"Control: {_e(plan.get('control') or '—')}.</div>",
    ]
    for note in list(result.get("notes") or []) + list(notes):
        parts.append(f'<div class="hs-small">{_e(note)}</div>')
    return "".join(parts)


PANEL_CSS = """
.hs-counts{border-collapse:collapse;margin:.3rem 0;font-size:12px}
.hs-counts caption{text-align:left;font-weight:600}
.hs-counts th,.hs-counts td{padding:1px 5px;border-bottom:1px solid #ddd;text-align:left}
.hs-counts td.num{text-align:right;white-space:nowrap}
.hs-verdict{margin:.3rem 0}
@media print{.leaflet-control-zoom,.leaflet-control-layers,.leaflet-control-fullscreen,
.leaflet-control-locate{display:none}.hs-panel{max-height:none;box-shadow:none;
border:1px solid #999}}
"""


def evaluation_map_html(
    doc: dict,
    *,
    title: str | None = None,
    tile_url: str = OSM_TILES,
    tile_attribution: str = OSM_ATTRIBUTION,
    assets: str = "link",
    asset_base: str = STATIC_PREFIX,
    notes: Sequence[str] = (),
) -> str:
    """The map page of one evaluation (the document ``evaluate_intervention`` returns)."""
    rec = doc.get("intervention") or {}
    title = title or f"Evaluation — {rec.get('title') or rec.get('intervention_id') or ''}"
    outlines = evaluation_outlines(doc)
    bounds = outline_bounds(outlines)
    centre = (
        [(bounds[0][0] + bounds[1][0]) / 2, (bounds[0][1] + bounds[1][1]) / 2]
        if bounds
        else [51.43, 0.37]
    )
    fig = Figure(title=html.escape(title))
    m = folium.Map(location=centre, zoom_start=14, tiles=None, control_scale=True)
    fig.add_child(m)
    tiles = folium.TileLayer(tiles=tile_url, attr=tile_attribution, name="Base map", max_zoom=19)
    tiles.add_to(m)
    tile_notice(tiles.get_name()).add_to(m)
    drawn = add_overlays(m, outlines, fill_target=True)
    panel = evaluation_panel(doc, notes)
    legend = overlay_legend(drawn["parts"], buffer_m=(doc.get("plan") or {}).get("buffer_m"))
    legend_control(panel + legend + "</details>").add_to(m)
    plugins.Fullscreen(
        position="topleft", title="Full screen", title_cancel="Leave full screen"
    ).add_to(m)
    folium.LayerControl(position="topright", collapsed=True).add_to(m)
    if bounds:
        m.fit_bounds(bounds, padding=(10, 10))
    m.get_root().header.add_child(Assets(assets, asset_base), name="hotspots_assets")
    m.get_root().header.add_child(
        folium.Element(f"<style>{PANEL_CSS}</style>"), name="hotspots_eval_css"
    )
    return render_html(m)


# --------------------------------------------------------------------------- backtest


#: Okabe–Ito colours, dash patterns and marker shapes, so lines differ in grey print too
SERIES = (
    ("#000000", "", "circle"),
    ("#D55E00", "7 4", "square"),
    ("#0072B2", "2 3", "triangle"),
    ("#009E73", "9 3 2 3", "diamond"),
    ("#CC79A7", "4 2", "circle"),
    ("#E69F00", "1 2", "square"),
    ("#56B4E9", "6 2 1 2", "triangle"),
)


def _nice_max(value: float) -> float:
    """The smallest of 1, 2, 2.5, 5 × 10^k at or above ``value`` (at least 1)."""
    if not value or value <= 1:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if step * power >= value:
            return step * power
    return 10 * power


def _marker(shape: str, x: float, y: float, colour: str) -> str:
    if shape == "square":
        return f'<rect x="{x - 3.5:.1f}" y="{y - 3.5:.1f}" width="7" height="7" fill="{colour}"/>'
    if shape == "triangle":
        pts = f"{x:.1f},{y - 4.5:.1f} {x - 4.5:.1f},{y + 3.5:.1f} {x + 4.5:.1f},{y + 3.5:.1f}"
        return f'<polygon points="{pts}" fill="{colour}"/>'
    if shape == "diamond":
        pts = f"{x:.1f},{y - 5:.1f} {x - 4.5:.1f},{y:.1f} {x:.1f},{y + 5:.1f} {x + 4.5:.1f},{y:.1f}"
        return f'<polygon points="{pts}" fill="{colour}"/>'
    return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.8" fill="{colour}"/>'


def _finite(v) -> float | None:
    try:
        v = float(v)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def pai_chart_svg(windows: Sequence[dict], width: int = 720, height: int = 330) -> str:
    """An SVG line chart of PAI per test window (x) for each method (one line each).

    ``windows`` are the backtest's rows (``origin``, ``method``, ``pai``). A
    missing PAI (no incidents that month) breaks the line. Each series has its
    own colour, dash pattern and marker, named in the key under the chart. A
    window left out of the averages (``included`` false: too few incidents) is
    shaded grey.
    """
    origins = sorted({str(w["origin"]) for w in windows})
    methods = list(dict.fromkeys(str(w["method"]) for w in windows))
    values = {(str(w["origin"]), str(w["method"])): _finite(w.get("pai")) for w in windows}
    top = _nice_max(max([v for v in values.values() if v is not None], default=1.0))
    left, right, top_pad, bottom = 52, 34, 14, 44
    plot_w, plot_h = width - left - right, height - top_pad - bottom
    key_rows = math.ceil(len(methods) / 4) if methods else 0
    total_h = height + 20 * key_rows

    def x_of(i: int) -> float:
        if len(origins) == 1:
            return left + plot_w / 2
        return left + plot_w * i / (len(origins) - 1)

    def y_of(v: float) -> float:
        return top_pad + plot_h * (1 - v / top)

    out = [
        f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {total_h}" '
        f'width="{width}" height="{total_h}" role="img" aria-labelledby="pai-title">',
        '<title id="pai-title">PAI per test window and method</title>',
        f'<rect x="{left}" y="{top_pad}" width="{plot_w}" height="{plot_h}" fill="#fff" '
        'stroke="#999"/>',
    ]
    for k in range(6):
        v = top * k / 5
        y = y_of(v)
        out.append(
            f'<line x1="{left}" x2="{left + plot_w}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e3e3e3"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11">'
            f"{v:g}</text>"
        )
    excluded = {str(w["origin"]) for w in windows if w.get("included") is False}
    for i, origin in enumerate(origins):  # too few incidents: shown, not averaged
        if origin in excluded:
            out.append(
                f'<rect class="excluded" x="{x_of(i) - 9:.1f}" y="{top_pad}" width="18" '
                f'height="{plot_h}" fill="#ececec"><title>{_e(origin)}: too few incidents '
                "to score; left out of the averages</title></rect>"
            )
    if top >= 1:
        y1 = y_of(1.0)  # PAI 1: no better than chance
        out.append(
            f'<line class="chance" x1="{left}" x2="{left + plot_w}" y1="{y1:.1f}" y2="{y1:.1f}" '
            'stroke="#777" stroke-dasharray="1 3"/>'
        )
    step = max(1, math.ceil(len(origins) / 12))
    for i, origin in enumerate(origins):
        if i % step == 0 or i == len(origins) - 1:
            out.append(
                f'<text x="{x_of(i):.1f}" y="{top_pad + plot_h + 16}" text-anchor="middle" '
                f'font-size="11">{_e(origin)}</text>'
            )
    out.append(
        f'<text x="{left + plot_w / 2:.1f}" y="{top_pad + plot_h + 34}" text-anchor="middle" '
        'font-size="12">test window (first month)</text>'
        f'<text transform="translate(14 {top_pad + plot_h / 2:.1f}) rotate(-90)" '
        'text-anchor="middle" font-size="12">PAI</text>'
    )
    for j, method in enumerate(methods):
        colour, dash, shape = SERIES[j % len(SERIES)]
        segments: list[list[tuple[float, float]]] = [[]]
        for i, origin in enumerate(origins):
            v = values.get((origin, method))
            if v is None:
                segments.append([])
                continue
            segments[-1].append((x_of(i), y_of(min(v, top))))
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        out.append(f'<g class="series" data-method="{_e(method)}">')
        for seg in segments:
            if len(seg) > 1:
                pts = " ".join(f"{x:.1f},{y:.1f}" for x, y in seg)
                out.append(
                    f'<polyline points="{pts}" fill="none" stroke="{colour}" '
                    f'stroke-width="2"{dash_attr}/>'
                )
            for x, y in seg:
                out.append(_marker(shape, x, y, colour))
        out.append("</g>")
        kx = left + (j % 4) * (plot_w / 4)
        ky = height + 20 * (j // 4) - 4
        out.append(
            f'<line x1="{kx:.1f}" x2="{kx + 26:.1f}" y1="{ky}" y2="{ky}" stroke="{colour}" '
            f'stroke-width="2"{dash_attr}/>{_marker(shape, kx + 13, ky, colour)}'
            f'<text x="{kx + 32:.1f}" y="{ky + 4}" font-size="12">{_e(method)}</text>'
        )
    out.append("</svg>")
    return "".join(out)


PRINT_CSS = """
@page { size: A4; margin: 10mm 12mm; }
body { font-family: "DejaVu Sans", "Liberation Sans", Arial, sans-serif; font-size: 10pt;
       color: #111; margin: 1rem auto; max-width: 190mm; line-height: 1.3; }
h1 { font-size: 15pt; margin: 0 0 .3rem; }
h2 { font-size: 11.5pt; margin: 1rem 0 .4rem; border-bottom: 1px solid #999; }
.sub { color: #444; }
svg.chart { width: 100%; height: auto; max-width: 720px; }
table { border-collapse: collapse; width: 100%; font-size: 9pt; }
th, td { border-bottom: 1px solid #ccc; padding: 2px 5px; text-align: left; }
th { background: #eee; }
td.num, th.num { text-align: right; white-space: nowrap; }
td.best { font-weight: 700; }
.verdict { font-weight: 600; margin: .5rem 0; }
.note { color: #6b4e00; font-size: 9pt; }
@media print { h2 { break-after: avoid; } svg.chart, table { break-inside: avoid; } }
"""


def backtest_html(doc: dict, title: str = "Backtest of hotspot methods") -> str:
    """A printable page of a backtest document (``BacktestResult.to_dict``, as the API
    returns it): the verdict, the default forecast it chose and next month's cells
    (when asked), the PAI chart, PAI per window and method and the summary."""
    windows = list(doc.get("windows") or [])
    summary = list(doc.get("summary") or [])
    best = doc.get("best") or {}
    methods = list(dict.fromkeys(str(w["method"]) for w in windows))
    origins = sorted({str(w["origin"]) for w in windows})
    share = _finite(doc.get("area_share"))
    sub = []
    if share is not None:
        sub.append(f"{share:.1%} of the area flagged by every method")
    if doc.get("cells_selected") is not None and doc.get("cells") is not None:
        sub.append(
            f"{doc['cells_selected']:,} of {doc['cells']:,} H3 res-{doc.get('h3_resolution')} cells"
        )
    if doc.get("train_months"):
        sub.append(f"{doc['train_months']}-month training, {doc.get('test_months', 1)}-month test")
    if doc.get("incidents") is not None:
        sub.append(f"{doc['incidents']:,} incidents")
    cats = doc.get("categories") or (doc.get("request") or {}).get("categories")
    if cats:
        sub.append("categories: " + ", ".join(map(str, cats)))
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{_e(title)}</title><style>{PRINT_CSS}</style></head><body>",
        f"<h1>{_e(title)}</h1><p class='sub'>{_e('; '.join(sub))}.</p>",
    ]
    if best.get("sentence"):
        parts.append(f"<p class='verdict'>{_e(best['sentence'])}.</p>")
    parts.append(forecast_section(doc))
    parts.append("<h2>Predictive Accuracy Index per test window</h2>")
    if windows:
        parts.append(pai_chart_svg(windows))
        parts.append(
            "<p class='sub'>PAI = share of the test window's incidents in the flagged cells ÷ "
            "share of the area flagged; 1 (dotted line) is no better than chance.</p>"
        )
        pai = {(str(w["origin"]), str(w["method"])): _finite(w.get("pai")) for w in windows}
        total = {str(w["origin"]): w.get("total") for w in windows}
        head = "".join(f"<th class='num'>{_e(m)}</th>" for m in methods)
        body = []
        for origin in origins:
            row = [pai.get((origin, m)) for m in methods]
            top = max([v for v in row if v is not None], default=None)
            cells = "".join(
                f"<td class='num{' best' if v is not None and v == top else ''}'>"
                f"{_num(v, '.2f')}</td>"
                for v in row
            )
            body.append(
                f"<tr><td>{_e(origin)}</td><td class='num'>{_num(total.get(origin))}</td>"
                f"{cells}</tr>"
            )
        parts.append(
            "<table class='windows'><thead><tr><th>test window</th><th class='num'>incidents"
            f"</th>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
        )
    else:
        parts.append("<p>No test window: too few months for the training window.</p>")
    if summary:
        parts.append("<h2>Summary over the test windows</h2>")
        cols = (
            ("mean_pai", "mean PAI", ".2f"),
            ("median_pai", "median PAI", ".2f"),
            ("mean_hit_rate", "hit rate", ".1%"),
            ("mean_pei", "PEI", ".2f"),
            ("mean_rri", "RRI", ".2f"),
            ("wins", "best in", "d"),
        )
        head = "".join(f"<th class='num'>{label}</th>" for _, label, _ in cols)
        rows = []
        for r in summary:
            cells = "".join(
                f"<td class='num'>{_num(r.get(k), spec) if spec != 'd' else _e(r.get(k, '–'))}</td>"
                for k, _, spec in cols
            )
            rows.append(f"<tr><td>{_e(r.get('method'))}</td>{cells}</tr>")
        parts.append(
            f"<table class='summary'><thead><tr><th>method</th>{head}</tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>"
        )
    for note in doc.get("notes") or []:
        parts.append(f"<p class='note'>{_e(note)}</p>")
    parts.append("</body></html>")
    return "".join(parts)


__all__ = [
    "backtest_html",
    "evaluation_map_html",
    "evaluation_outlines",
    "evaluation_panel",
    "pai_chart_svg",
]
