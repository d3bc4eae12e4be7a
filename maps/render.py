"""The hotspot map of an analysis run, as one HTML page that needs no CDN.

:func:`build_map` turns a run's FeatureCollection (already shaped for the
viewer's role, see ``api.disclosure.Disclosure.run_view``) plus optional area rates
and incident points into a :class:`folium.Map`; other pages (plans,
briefings) may add their own layers to it. :func:`render_html` then writes
the page with Leaflet and its plugins linked from our static route or
inlined, and refuses any element that would fetch a script from elsewhere.
:func:`embed_html` wraps a page for an ``<iframe>`` inside another page.

Size discipline: hotspots and areas are aggregates; incident points (analysts
only) are aggregated by place and sent as one compact array, never as one
Folium marker each.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field, replace

import folium
import numpy as np
import pandas as pd
from branca.element import Figure
from folium import plugins

from geodata.taxonomy import CATEGORIES

from . import style
from .assets import STATIC_PREFIX
from .context_layers import add_context_layers
from .controls import (
    Assets,
    CompactGeoJson,
    IncidentPoints,
    category_control,
    legend_control,
    month_control,
    tile_notice,
)
from .popups import compact_properties, popup_meta
from .settings import OSM_ATTRIBUTION, OSM_TILES

#: at most this many aggregated incident places are sent to the browser
MAX_POINTS = 20_000
ROLES = ("public", "partner", "analyst")
# folium's own asset links that our vendored copies replace, or that we drop (unused:
# jQuery, Bootstrap, Font Awesome, awesome-markers).
_REPLACED_ASSETS = frozenset(
    {
        "leaflet",
        "jquery",
        "bootstrap",
        "awesome_markers",
        "leaflet_css",
        "bootstrap_css",
        "glyphicons_css",
        "awesome_markers_font_css",
        "awesome_markers_css",
        "awesome_rotate_css",
        "Control.Fullscreen.js",
        "Control.FullScreen.css",
        "Control_locate_min_js",
        "Control_locate_min_css",
        "markerclusterjs",
        "markerclustercss",
        "markerclusterdefaultcss",
    }
)


@dataclass(frozen=True)
class MapOptions:
    """How to draw a map.

    ``role`` decides what is shown: incident points only for ``analyst``;
    ``assets`` is ``"link"`` (served under ``asset_base`` by the API) or
    ``"inline"`` (a standalone file).
    """

    role: str = "public"
    title: str = "Hotspots"
    min_count: int = 5
    tile_url: str = OSM_TILES
    tile_attribution: str = OSM_ATTRIBUTION
    assets: str = "link"
    asset_base: str = STATIC_PREFIX
    max_points: int = MAX_POINTS
    notes: tuple[str, ...] = field(default_factory=tuple)
    #: more legend sections, HTML made (and escaped) by our code, e.g. maps.overlays
    legend_extra: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValueError(f"role must be one of {ROLES}; received {self.role!r}")
        if self.assets not in ("link", "inline"):
            raise ValueError(f"assets must be 'link' or 'inline'; received {self.assets!r}")


def _round_coords(coords, digits: int = 5):
    """Coordinates of any GeoJSON geometry rounded to ``digits`` (1e-5° ≈ 1 m)."""
    arr = np.asarray(coords, dtype=object if _ragged(coords) else float)
    if arr.dtype != object:
        return np.round(arr, digits).tolist()
    return [_round_coords(c, digits) for c in coords]


def _ragged(coords) -> bool:
    try:
        np.asarray(coords, dtype=float)
    except ValueError:
        return True
    return False


def _geometry(geom: dict, digits: int = 5) -> dict:
    return {"type": geom["type"], "coordinates": _round_coords(geom["coordinates"], digits)}


_LABELS = {c.slug: c.label for c in CATEGORIES}


def _label(slug: str) -> str:
    return _LABELS.get(slug, slug)


def _months(fc: dict) -> list[str]:
    window = (fc.get("provenance") or {}).get("window") or {}
    months = list(window.get("months") or [])
    if not months:
        seen: set[str] = set()
        for f in fc.get("features", []):
            seen.update(((f["properties"].get("profile") or {}).get("monthly") or {}).keys())
        months = sorted(seen)
    return months


def _hotspot_layer(fc: dict, method: str, months: list[str], cat_index: dict[str, int]):
    """The run's hotspots as a slim GeoJSON (geometry and compact properties), the class
    breaks used for colours, and each month's highest count (for the slider)."""
    feats = fc.get("features", [])
    if method == "kde":
        breaks = style.quantile_breaks([f["properties"].get("harm_density_per_km2") for f in feats])
    else:
        breaks = style.quantile_breaks([f["properties"].get("count") for f in feats])
    slim = []
    month_max = [0] * len(months)
    for f in feats:
        props = compact_properties(f["properties"], method, breaks, months, cat_index)
        if "m" in props:
            month_max = [max(a, b or 0) for a, b in zip(month_max, props["m"])]
        slim.append({"type": "Feature", "geometry": _geometry(f["geometry"]), "properties": props})
    return {"type": "FeatureCollection", "features": slim}, breaks, month_max


def _area_layer(fc: dict) -> tuple[dict, list[float]]:
    feats = fc.get("features", [])
    breaks = style.quantile_breaks(
        [None if f["properties"].get("suppressed") else f["properties"].get("rate") for f in feats]
    )
    kind = fc.get("kind", "area")
    slim = []
    for f in feats:
        p = f["properties"]
        rate = None if p.get("suppressed") else p.get("rate")
        k = style.class_of(rate, breaks)
        slim.append(
            {
                "type": "Feature",
                "geometry": _geometry(f["geometry"]),
                "properties": {
                    "f": style.NO_DATA if k is None else style.RATE[k],
                    "popup": style.area_popup(p, kind),
                },
            }
        )
    return {"type": "FeatureCollection", "features": slim}, breaks


def aggregate_points(incidents: pd.DataFrame, max_points: int = MAX_POINTS) -> pd.DataFrame:
    """Incidents (``lon``, ``lat``, ``category``) summed by place and category.

    police.uk points are already snapped to shared places; they are summed on a
    1e-5° grid (≈ 1 m) and, while more than ``max_points`` places remain, on ever
    coarser grids (each at least twice as coarse) until they fit. Returns
    ``lat``, ``lon``, ``category``, ``count``.

    Examples
    --------
    >>> df = pd.DataFrame({"lon": [0.1, 0.1, 0.2], "lat": [51.0, 51.0, 51.0],
    ...                    "category": ["drugs", "drugs", "robbery"]})
    >>> aggregate_points(df)["count"].tolist()
    [2, 1]
    """
    if incidents.empty:
        return pd.DataFrame({"lat": [], "lon": [], "category": [], "count": []})
    codes, cats = pd.factorize(incidents["category"].astype(str), sort=True)
    lat = incidents["lat"].to_numpy(float)
    lon = incidents["lon"].to_numpy(float)
    weight = np.ones(len(lat), dtype=np.int64)
    ncat = len(cats)
    step = 1e-5
    while True:
        iy = np.round(lat / step).astype(np.int64)
        ix = np.round(lon / step).astype(np.int64)
        y0, x0 = iy.min(), ix.min()
        span_x = int(ix.max() - x0) + 1
        # one int64 key per (grid place, category)
        key = ((iy - y0) * span_x + (ix - x0)) * ncat + codes
        keys, inverse = np.unique(key, return_inverse=True)
        counts = np.bincount(inverse, weights=weight).astype(np.int64)
        place = keys // ncat
        lat = (place // span_x + y0) * step
        lon = (place % span_x + x0) * step
        codes = keys % ncat
        weight = counts
        if len(keys) <= max_points:
            break
        # places shrink about with the square of the step: jump most of the way at once
        step *= max(2.0, float(np.sqrt(len(keys) / max_points)))
    return pd.DataFrame(
        {
            "lat": np.round(lat, 5),
            "lon": np.round(lon, 5),
            "category": np.asarray(cats)[codes],
            "count": counts,
        }
    )


def _legend_html(method, breaks, area_breaks, has_points, opts, months_ok) -> str:
    def key(colour: str, text: str) -> str:
        swatch = f'<span class="hs-sw" style="background:{colour}"></span>'
        return f'<div class="hs-key">{swatch}{text}</div>'

    title = html.escape(opts.title)
    parts = [f'<details open><summary><span class="hs-title">{title}</span> · key</summary>']
    parts.append(f"<h4>{html.escape(style.METHOD_NAMES.get(method, method))}</h4>")
    if method == "gistar":
        parts += [key(c, t) for _, (c, t) in sorted(style.GI_CLASSES.items(), reverse=True)]
    elif method == "emerging":
        parts += [key(c, html.escape(t)) for t, c in style.EMERGING.items()]
    elif method in ("dbscan", "hdbscan"):
        parts += [
            key(style.HEAT[4], "ranks 1–10"),
            key(style.HEAT[3], "ranks 11–50"),
            key(style.HEAT[1], "ranks 51 and below"),
            '<div class="hs-small">Numbers on the map are ranks '
            f"(top {style.LABELLED_RANKS}).</div>",
        ]
    else:
        what = "harm per km²" if method == "kde" else "incidents"
        lo = 0.0
        for colour, hi in zip(style.HEAT, breaks):
            parts.append(key(colour, f"{what} {lo:,.0f}–{hi:,.0f}"))
            lo = hi
    parts.append(
        '<div class="hs-small">Ranked by volume, harm, trend and community concern. '
        "Click a shape for counts, harm, trend, months and top streets.</div>"
    )
    if area_breaks:
        parts.append("<h4>Areas: incidents per 1,000 residents</h4>")
        lo = 0.0
        for colour, hi in zip(style.RATE, area_breaks):
            parts.append(key(colour, f"{lo:,.1f}–{hi:,.1f}"))
            lo = hi
        parts.append(key(style.NO_DATA, "no rate (suppressed or no population)"))
    if has_points:
        parts.append("<h4>Incidents (analysts only)</h4>")
        parts.append(
            '<div class="hs-small">Grouped by anonymised place; circles grow with the count.</div>'
        )
    if opts.role == "public":
        parts.append(f'<div class="hs-small">Counts below {opts.min_count} are not shown.</div>')
    if not months_ok:
        parts.append('<div class="hs-small">No monthly series: the month slider is off.</div>')
    parts.extend(opts.legend_extra)
    for note in opts.notes:
        parts.append(f'<div class="hs-small">{html.escape(note)}</div>')
    parts.append("</details>")
    return "".join(parts)


def build_map(
    fc: dict,
    method: str,
    opts: MapOptions | None = None,
    *,
    areas: dict[str, dict] | None = None,
    incidents: pd.DataFrame | None = None,
) -> folium.Map:
    """The map of a run.

    Parameters
    ----------
    fc
        the run's FeatureCollection as ``opts.role`` may see it (counts of the
        public role already suppressed);
    method
        the run's method (``gistar``, ``dbscan``, …): decides how hotspots look;
    areas
        ``{"ward": FeatureCollection, "lsoa": …}`` with ``rate`` and friends per
        area, as ``GET /areas`` returns them (suppressed for the public role);
    incidents
        ``lon``, ``lat``, ``category`` (and ``sensitive``) of the run's incidents;
        drawn for ``analyst`` only and ignored for every other role.
    """
    opts = opts or MapOptions()
    feats = fc.get("features", [])
    fig = Figure(title=html.escape(opts.title))  # branca writes the title unescaped
    if feats:
        lons = [
            f["properties"].get("centroid_lon")
            for f in feats
            if f["properties"].get("centroid_lon")
        ]
        lats = [
            f["properties"].get("centroid_lat")
            for f in feats
            if f["properties"].get("centroid_lat")
        ]
    else:
        lons, lats = [], []
    m = folium.Map(
        location=[float(np.mean(lats)) if lats else 51.43, float(np.mean(lons)) if lons else 0.37],
        zoom_start=13,
        tiles=None,
        control_scale=True,
        prefer_canvas=False,
    )
    fig.add_child(m)
    tiles = folium.TileLayer(
        tiles=opts.tile_url, attr=opts.tile_attribution, name="Base map", max_zoom=19
    )
    tiles.add_to(m)
    tile_notice(tiles.get_name()).add_to(m)

    # areas first, so hotspots draw above them
    area_breaks: list[float] = []
    # rate layers are off until asked for: the hotspots are what the map is about
    for kind, label, show in (("ward", "Wards", False), ("lsoa", "LSOAs", False)):
        doc = (areas or {}).get(kind)
        if not doc or not doc.get("features"):
            continue
        slim, area_breaks_k = _area_layer(doc)
        area_breaks = area_breaks or area_breaks_k
        name = f"{label}: incidents per 1,000 residents"
        CompactGeoJson(slim, name, "areas", show=show).add_to(m)

    points = None
    if opts.role == "analyst" and incidents is not None and len(incidents):
        points = aggregate_points(incidents, opts.max_points)
    categories = sorted(
        {k for f in feats for k in (f["properties"].get("categories") or {})}
        | (set(points["category"]) if points is not None else set())
    )
    cat_index = {c: i for i, c in enumerate(categories)}
    labels = [_label(c) for c in categories]
    months = _months(fc)
    hot, breaks, month_max = _hotspot_layer(fc, method, months, cat_index)
    meta = popup_meta(fc, method, opts.min_count, months, labels)
    meta["slugs"] = categories
    CompactGeoJson(
        hot, style.METHOD_NAMES.get(method, "Hotspots"), "hotspots", meta=meta, show=True
    ).add_to(m)

    # analysts' context: cells hot only through neighbours, recording places left out
    context_legend = add_context_layers(m, fc, opts.role)
    if context_legend:
        opts = replace(opts, legend_extra=(*context_legend, *opts.legend_extra))
    has_points = points is not None
    if points is not None:
        rows = [
            [la, lo, cat_index[c], int(n)]
            for la, lo, c, n in zip(
                points["lat"].tolist(),
                points["lon"].tolist(),
                points["category"].tolist(),
                points["count"].tolist(),
            )
        ]
        IncidentPoints(rows, categories, labels, "Incidents (analysts only)", show=False).add_to(m)

    if len(categories) > 1:
        category_control(list(zip(categories, labels))).add_to(m)
    months_ok = len(months) > 1 and any(month_max)
    if months_ok:
        month_control(months, month_max).add_to(m)
    legend_control(_legend_html(method, breaks, area_breaks, has_points, opts, months_ok)).add_to(m)
    plugins.Fullscreen(
        position="topleft", title="Full screen", title_cancel="Leave full screen"
    ).add_to(m)
    plugins.LocateControl(
        position="topleft",
        strings={"title": "Show where I am"},
        flyTo=True,
        keepCurrentZoomLevel=False,
    ).add_to(m)
    folium.LayerControl(position="topright", collapsed=True).add_to(m)
    if feats:
        bounds = _bounds(hot)
        if bounds:
            m.fit_bounds(bounds, padding=(10, 10))
    m.get_root().header.add_child(Assets(opts.assets, opts.asset_base), name="hotspots_assets")
    return m


def _bounds(fc: dict) -> list[list[float]] | None:
    lats: list[float] = []
    lons: list[float] = []

    def walk(c):
        if isinstance(c[0], (int, float)):
            lons.append(c[0])
            lats.append(c[1])
        else:
            for x in c:
                walk(x)

    for f in fc["features"]:
        walk(f["geometry"]["coordinates"])
    if not lats:
        return None
    return [[min(lats), min(lons)], [max(lats), max(lons)]]


def _strip_outside_assets(element) -> None:
    """Drop folium's CDN links (we load our own copies); refuse ones we do not have."""
    for attr in ("default_js", "default_css"):
        links = getattr(element, attr, None)
        if links:
            unknown = [(n, u) for n, u in links if n not in _REPLACED_ASSETS]
            if unknown:
                raise ValueError(
                    f"{type(element).__name__} needs {unknown[0][1]!r}, which is not among the "
                    "map's offline assets (maps/vendor.txt); add it there or drop the element"
                )
            setattr(element, attr, [])
    for child in list(getattr(element, "_children", {}).values()):
        _strip_outside_assets(child)


def render_html(m: folium.Map) -> str:
    """The page of a map built by :func:`build_map` (possibly with more layers added)."""
    root = m.get_root()
    _strip_outside_assets(root)
    page = root.render()
    return page.replace("<html>", '<html lang="en">', 1)


def run_map_html(
    fc: dict,
    method: str,
    opts: MapOptions | None = None,
    *,
    areas: dict[str, dict] | None = None,
    incidents: pd.DataFrame | None = None,
) -> str:
    """:func:`build_map` then :func:`render_html`: the whole page."""
    return render_html(build_map(fc, method, opts, areas=areas, incidents=incidents))


def embed_html(page: str, height: str = "480px", title: str = "Map") -> str:
    """An ``<iframe>`` holding a map page, to place a map inside another HTML page
    (briefings, plans). The page keeps its own scripts; nothing is fetched elsewhere.
    """
    return (
        f'<iframe class="hs-map" title="{html.escape(title)}" style="width:100%;'
        f'height:{html.escape(height)};border:0" srcdoc="{html.escape(page, quote=True)}">'
        "</iframe>"
    )


__all__ = [
    "MAX_POINTS",
    "OSM_ATTRIBUTION",
    "OSM_TILES",
    "MapOptions",
    "aggregate_points",
    "build_map",
    "embed_html",
    "render_html",
    "run_map_html",
]
