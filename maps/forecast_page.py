"""The "where next month" part of the backtest page: the chosen method, its backtest
figures and the cells it flags, drawn as an inline SVG (no script, prints as is).

Input is the ``choice`` and ``next_month`` of a backtest document
(:func:`api.usecases.backtests.run_backtest`); nothing is fetched.
"""

from __future__ import annotations

import html

import h3

WIDTH, HEIGHT, PAD = 720, 420, 12


def _e(value) -> str:
    return html.escape(str(value), quote=True)


def next_month_svg(next_month: dict) -> str:
    """The flagged hexagons (darker = higher score), numbered by rank for the first ten."""
    cells = list(next_month.get("cells") or [])
    if not cells:
        return ""
    rings = [h3.cell_to_boundary(c["cell"]) for c in cells]  # (lat, lng) pairs
    lats = [lat for ring in rings for lat, _ in ring]
    lngs = [lng for ring in rings for _, lng in ring]
    lat0, lat1, lng0, lng1 = min(lats), max(lats), min(lngs), max(lngs)
    # equirectangular at the mean latitude: enough for a borough
    from math import cos, radians

    kx = cos(radians((lat0 + lat1) / 2))
    span_x, span_y = max((lng1 - lng0) * kx, 1e-9), max(lat1 - lat0, 1e-9)
    scale = min((WIDTH - 2 * PAD) / span_x, (HEIGHT - 2 * PAD) / span_y)

    def xy(lat, lng):
        return PAD + (lng - lng0) * kx * scale, HEIGHT - PAD - (lat - lat0) * scale

    top = max(float(c.get("score") or 0) for c in cells) or 1.0
    shapes = []
    for rank, (c, ring) in enumerate(zip(cells, rings, strict=True), start=1):
        pts = " ".join(f"{x:.1f},{y:.1f}" for x, y in (xy(lat, lng) for lat, lng in ring))
        alpha = 0.25 + 0.7 * max(float(c.get("score") or 0), 0) / top
        shapes.append(
            f"<polygon points='{pts}' fill='#b35806' fill-opacity='{alpha:.2f}' "
            f"stroke='#7f3b08' stroke-width='0.6'><title>#{rank} {_e(c['cell'])} "
            f"score {_e(round(float(c.get('score') or 0), 3))}</title></polygon>"
        )
        if rank <= 10:
            cx, cy = xy(*h3.cell_to_latlng(c["cell"]))
            shapes.append(
                f"<text x='{cx:.1f}' y='{cy + 4:.1f}' text-anchor='middle' font-size='11' "
                f"font-weight='bold' fill='#fff'>{rank}</text>"
            )
    return (
        f"<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 {WIDTH} {HEIGHT}' "
        f"width='{WIDTH}' height='{HEIGHT}' role='img' aria-label='cells flagged for "
        f"{_e(next_month.get('month'))}'>{''.join(shapes)}</svg>"
    )


def forecast_section(doc: dict) -> str:
    """HTML for the choice and, when present, next month's map; empty without a choice."""
    choice = doc.get("choice") or {}
    if not choice:
        return ""
    sentence = str(choice.get("sentence", ""))
    parts = [
        "<h2>Default forecast</h2>",
        f"<p class='verdict'>{_e(sentence[:1].upper() + sentence[1:])}.</p>",
    ]
    nm = doc.get("next_month")
    if nm:
        parts.append(
            f"<h2>Where next month: {_e(nm.get('month'))}</h2><p class='sub'>"
            f"{len(nm.get('cells') or [])} H3 res-{_e(nm.get('h3_resolution'))} cells "
            f"({float(nm.get('area_share') or 0):.1%} of the area) flagged by "
            f"{_e(nm.get('method'))}, trained on {_e(', '.join(nm.get('trained_on') or []))}; "
            "numbered by rank.</p>"
        )
        parts.append(next_month_svg(nm))
    return "".join(parts)


__all__ = ["forecast_section", "next_month_svg"]
