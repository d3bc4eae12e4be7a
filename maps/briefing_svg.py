"""The briefings' maps as inline SVG: the area outline, the sites as numbered markers
spread apart where they would overlap, the route and a scale bar, over a plain
background (no base-map tiles, so nothing is fetched). Longitude is scaled by
cos(latitude) about the map's centre, true to within a fraction of a percent over a
borough."""

from __future__ import annotations

import html
import itertools
import math
from collections.abc import Sequence

import shapely

SITE_FILL = "#d7301f"
ROUTE_STROKE = "#2b5c8a"
_CLIP_IDS = itertools.count(1)


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _metres(m: float) -> str:
    return f"{m:,.0f} m" if m < 1000 else f"{m / 1000:,.1f} km"


class _Projection:
    """lon/lat → SVG pixels, fitted to ``bounds`` (minlon, minlat, maxlon, maxlat)."""

    def __init__(self, bounds, width: int, pad: int = 14, min_span_m: float = 400.0):
        minx, miny, maxx, maxy = bounds
        self.lat0 = (miny + maxy) / 2
        self.kx = math.cos(math.radians(self.lat0))
        cx, cy = (minx + maxx) / 2, (miny + maxy) / 2
        span_x = max((maxx - minx) * self.kx, min_span_m / 111_320)
        span_y = max(maxy - miny, min_span_m / 111_320)
        self.width = width
        self.height = round(width * min(1.25, max(0.6, span_y / span_x)))
        self.scale = min((width - 2 * pad) / span_x, (self.height - 2 * pad) / span_y)
        self.cx, self.cy = cx, cy

    def __call__(self, lon: float, lat: float) -> tuple[float, float]:
        x = self.width / 2 + (lon - self.cx) * self.kx * self.scale
        y = self.height / 2 - (lat - self.cy) * self.scale
        return x, y

    @property
    def metres_per_px(self) -> float:
        return 111_320 / self.scale


def _path(geom, proj: _Projection) -> str:
    parts = []
    for poly in shapely.get_parts(geom):
        if not isinstance(poly, shapely.Polygon):
            continue
        for ring in (poly.exterior, *poly.interiors):
            pts = [proj(x, y) for x, y, *_ in ring.coords]
            parts.append("M" + " L".join(f"{x:.1f},{y:.1f}" for x, y in pts) + " Z")
    return " ".join(parts)


def _scale_bar(proj: _Projection) -> str:
    target = proj.metres_per_px * proj.width / 4
    nice = max(
        (n for n in (50, 100, 200, 250, 500, 1000, 2000, 2500, 5000, 10000) if n <= target),
        default=50,
    )
    px = nice / proj.metres_per_px
    x0, y0 = 10, proj.height - 10
    return (
        f'<g class="scale"><rect x="{x0 - 3}" y="{y0 - 15}" width="{px + 6:.1f}" height="19" '
        'fill="#fff" fill-opacity="0.8"/>'
        f'<line x1="{x0}" y1="{y0}" x2="{x0 + px:.1f}" y2="{y0}" stroke="#000" '
        'stroke-width="2"/>'
        f'<text x="{x0}" y="{y0 - 4}" font-size="9">{_e(_metres(nice))}</text></g>'
        f'<text x="{proj.width - 14}" y="18" font-size="12" font-weight="bold" '
        'text-anchor="middle">N</text>'
        f'<path d="M{proj.width - 14},22 l-4,9 h8 Z" fill="#000"/>'
    )


MARKER_R = 8


def _spread(points: list[tuple[float, float]], width: float, height: float):
    """Marker positions that do not overlap: a marker closer than two radii to one already
    placed is moved round it (on a ring, in steps of 45°) to the first free spot; its leader
    line shows where the site really is. Deterministic; markers stay inside the map."""
    placed: list[tuple[float, float]] = []
    gap = 2 * MARKER_R + 1
    for x, y in points:
        spot = (x, y)
        if any(math.dist(spot, q) < gap for q in placed):
            for ring in (1, 2, 3):
                ok = None
                for k in range(8):
                    angle = math.radians(-90 + 45 * k)
                    c = (x + ring * gap * math.cos(angle), y + ring * gap * math.sin(angle))
                    inside = MARKER_R <= c[0] <= width - MARKER_R and (
                        MARKER_R <= c[1] <= height - MARKER_R
                    )
                    if inside and all(math.dist(c, q) >= gap for q in placed):
                        ok = c
                        break
                if ok is not None:
                    spot = ok
                    break
        placed.append(spot)
    return placed


def svg_map(
    outline_lonlat: shapely.Geometry | None,
    sites: Sequence[tuple[int, shapely.Geometry, float, float]],
    *,
    width: int = 360,
    route: bool = False,
    bounds: tuple[float, float, float, float] | None = None,
    title: str = "map",
    highlight: shapely.Geometry | None = None,
) -> str:
    """An inline SVG map: the outline, site polygons and numbered markers (and the route).

    ``sites`` are ``(number, polygon_lonlat, centre_lon, centre_lat)``.
    ``bounds`` (lon/lat) defaults to the outline's (or the sites') extent.
    ``highlight`` is an area drawn shaded (e.g. a ward within its borough).
    """
    geoms = [g for _, g, _, _ in sites]
    if bounds is None:
        source = outline_lonlat if outline_lonlat is not None else shapely.union_all(geoms)
        bounds = source.bounds if source is not None and not source.is_empty else (0, 0, 0, 0)
    proj = _Projection(bounds, width)
    w, h = proj.width, proj.height
    clip = f"clip-{next(_CLIP_IDS)}"  # unique within a page holding several maps
    out = [
        f'<svg class="map" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" '
        f'width="{w}" height="{h}" role="img" aria-label="{_e(title)}">',
        f"<title>{_e(title)}</title>",
        f'<clipPath id="{clip}"><rect width="{w}" height="{h}"/></clipPath>',
        f'<g clip-path="url(#{clip})">',
    ]
    if outline_lonlat is not None and not outline_lonlat.is_empty:
        out.append(
            f'<path class="outline" d="{_path(outline_lonlat, proj)}" fill="#eef0e8" '
            'fill-rule="evenodd" stroke="#555" stroke-width="1.2"/>'
        )
    if highlight is not None and not highlight.is_empty:
        out.append(
            f'<path class="highlight" d="{_path(highlight, proj)}" fill="#fdae61" '
            'fill-opacity="0.8" fill-rule="evenodd" stroke="#a35200" stroke-width="1.2"/>'
        )
    for _, geom, _, _ in sites:
        out.append(
            f'<path class="site" d="{_path(geom, proj)}" fill="{SITE_FILL}" '
            'fill-opacity="0.55" stroke="#7f0000" stroke-width="0.8"/>'
        )
    if route and len(sites) > 1:
        pts = " ".join(f"{x:.1f},{y:.1f}" for x, y in (proj(lon, lat) for *_, lon, lat in sites))
        out.append(
            f'<polyline class="route" points="{pts}" fill="none" stroke="{ROUTE_STROKE}" '
            'stroke-width="1.6" stroke-dasharray="5 3"/>'
        )
    true_xy = [proj(lon, lat) for *_, lon, lat in sites]
    for (number, *_), (x0, y0), (x, y) in zip(sites, true_xy, _spread(true_xy, w, h)):
        leader = (
            f'<line x1="{x0:.1f}" y1="{y0:.1f}" x2="{x:.1f}" y2="{y:.1f}" stroke="#333" '
            'stroke-width="0.8"/>'
            if (x, y) != (x0, y0)
            else ""
        )
        out.append(
            f'<g class="marker">{leader}<circle cx="{x:.1f}" cy="{y:.1f}" r="{MARKER_R}" '
            f'fill="#fff" stroke="{SITE_FILL}" stroke-width="2"/><text x="{x:.1f}" '
            f'y="{y + 3.5:.1f}" font-size="10" font-weight="bold" text-anchor="middle">'
            f"{number}</text></g>"
        )
    out.append("</g>")
    out.append(_scale_bar(proj))
    out.append("</svg>")
    return "".join(out)


def _maps(outline, sites, route: bool, what: str) -> str:
    """The area map, and a close-up of the sites when they sit in a small part of it."""
    whole = svg_map(outline, sites, route=route, title=f"{what}: the whole area")
    zoom = ""
    if sites and outline is not None:
        union = shapely.union_all([g for _, g, _, _ in sites])
        sx0, sy0, sx1, sy1 = union.bounds
        ax0, ay0, ax1, ay1 = outline.bounds
        if max(sx1 - sx0, 1e-9) < (ax1 - ax0) / 3 and max(sy1 - sy0, 1e-9) < (ay1 - ay0) / 3:
            pad_x, pad_y = max((sx1 - sx0) * 0.15, 0.002), max((sy1 - sy0) * 0.15, 0.0012)
            bounds = (sx0 - pad_x, sy0 - pad_y, sx1 + pad_x, sy1 + pad_y)
            close = svg_map(outline, sites, route=route, bounds=bounds, title="close-up", width=520)
            zoom = (
                f'<figure class="zoom">{close}<figcaption>Close-up of the sites, numbered in '
                "visiting order</figcaption></figure>"
            )
    return (
        f'<div class="maps"><figure class="{"area" if zoom else ""}">{whole}'
        f"<figcaption>{_e(what)}: the whole area</figcaption></figure>{zoom}</div>"
    )
