"""Outline overlays for the maps: interventions (target, displacement buffer, control) and
near-repeat risk zones, with their legend entries.

Both are small layers of lines drawn from GeoJSON in WGS84: the interventions
log as :func:`api.usecases.interventions.interventions_geojson` gives it (one feature
per part, ``properties.part`` being ``target``, ``buffer`` or ``control``) and
risk zones as ``POST /knox`` (``risk_zones``) or ``hotspots knox --zones``
write them (``incidents``, ``first_occurred``, ``last_occurred``, ``expires``).
Each part has its own colour *and* line style (Okabe–Ito colours; solid,
dashed, dotted), so they stay apart in greyscale print and for colour-blind
readers. Popups are escaped HTML made here; nothing is fetched from anywhere.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable

import folium
from folium.map import Layer
from jinja2 import Template

from geodata.errors import HotspotsError

from .controls import _compact

#: part → (label, Leaflet path style); dashArray ``None`` is a solid line
PART_STYLES: dict[str, tuple[str, dict]] = {
    "target": (
        "Intervention area (target)",
        {"color": "#000000", "weight": 3, "dashArray": None, "fillColor": "#000000",
         "fillOpacity": 0.08, "opacity": 0.95},
    ),
    "buffer": (
        "Displacement buffer",
        {"color": "#E69F00", "weight": 3, "dashArray": "8 6", "fill": False,
         "opacity": 0.95},
    ),
    "control": (
        "Control area",
        {"color": "#0072B2", "weight": 3, "dashArray": "2 6", "fill": False,
         "opacity": 0.95},
    ),
}  # fmt: skip
RISK_STYLE = {
    "color": "#CC79A7",
    "weight": 2,
    "dashArray": "4 3",
    "fillColor": "#CC79A7",
    "fillOpacity": 0.18,
    "opacity": 0.95,
}
#: CSS border styles that look like the dash patterns above, for the legend
_CSS_LINE = {"target": "solid", "buffer": "dashed", "control": "dotted"}
INTERVENTIONS_LAYER = "Interventions (target, buffer, control)"
RISK_LAYER = "Near-repeat risk zones"
_DRAW_ORDER = {"control": 0, "buffer": 1, "target": 2}


class InvalidOverlay(HotspotsError, ValueError):
    """An overlay document is not what a map layer needs; says what and where."""

    status = 422
    type = "invalid-overlay"


def _e(value) -> str:
    return html.escape(str(value))


def _day(value) -> str:
    """``2022-06-15`` from a date, datetime or ISO text (``—`` when missing)."""
    if value is None or value == "":
        return "—"
    return str(value)[:10]


def _when(start, end) -> str:
    a, b = _day(start), _day(end)
    return a if a == b or b == "—" else f"{a} to {b}"


def _hours(value) -> str:
    if value is None:
        return "not recorded"
    value = float(value)
    if not math.isfinite(value):
        return "not recorded"
    return f"{value:,.0f}" if value.is_integer() else f"{value:,.1f}"


def part_popup(props: dict) -> str:
    """Popup HTML of one outline: what, when, officer hours, and which part it is."""
    part = props.get("part", "target")
    label = PART_STYLES.get(part, (part, {}))[0]
    rows = [
        f'<div class="hs-pop"><b>{_e(props.get("title") or props.get("intervention_id"))}</b>',
        f'<div class="hs-small">{_e(label)}</div>',
        f"<div>What: {_e(props.get('kind') or '—')}</div>",
        f"<div>When: {_e(_when(props.get('start_date'), props.get('end_date')))}</div>",
        f"<div>Officer hours: {_e(_hours(props.get('officer_hours')))}</div>",
    ]
    if part == "buffer" and props.get("buffer_m") is not None:
        rows.append(
            f"<div>The {float(props['buffer_m']):g} m ring round the target, where "
            "displacement (or a diffusion of benefits) would show.</div>"
        )
    if part == "control":
        what = props.get("control")
        rows.append(
            f"<div>Compared with: {_e(what) if what else 'the control area'}, target and "
            "buffer cut out.</div>"
        )
    if props.get("intervention_id"):
        rows.append(f'<div class="hs-small">{_e(props["intervention_id"])}</div>')
    rows.append("</div>")
    return "".join(rows)


def _check_collection(doc, what: str) -> list[dict]:
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection":
        got = doc.get("type") if isinstance(doc, dict) else type(doc).__name__
        raise InvalidOverlay(f"{what}: expected a GeoJSON FeatureCollection; received {got!r}")
    feats = doc.get("features")
    if not isinstance(feats, list):
        raise InvalidOverlay(f"{what}: expected a 'features' list; received {feats!r}")
    for i, f in enumerate(feats):
        geom = (f or {}).get("geometry") if isinstance(f, dict) else None
        if not isinstance(geom, dict) or geom.get("type") not in ("Polygon", "MultiPolygon"):
            kind = geom.get("type") if isinstance(geom, dict) else geom
            raise InvalidOverlay(
                f"{what}: feature {i}: expected a Polygon or MultiPolygon geometry; "
                f"received {kind!r}"
            )
    return feats


def _round(coords, digits: int = 5):
    if isinstance(coords, (int, float)):
        return round(float(coords), digits)
    return [_round(c, digits) for c in coords]


def _geometry(geom: dict) -> dict:
    return {"type": geom["type"], "coordinates": _round(geom["coordinates"])}


def intervention_features(fc: dict, fill_target: bool = False) -> dict:
    """The slim FeatureCollection the page gets: geometry, style ``st`` and ``popup``,
    controls first so targets draw on top.

    Buffers and controls are lines only (a click inside them reaches the hotspots
    below); the target is too unless ``fill_target`` (the evaluation map, where
    nothing lies below), which tints it and makes its inside clickable.
    """
    feats = _check_collection(fc, "interventions")
    out = []
    for f in sorted(feats, key=lambda f: _DRAW_ORDER.get(f["properties"].get("part"), 3)):
        p = f.get("properties") or {}
        part = p.get("part", "target")
        if part not in PART_STYLES:
            raise InvalidOverlay(
                f"interventions: feature {f.get('id')!r}: expected part target, buffer or "
                f"control; received {part!r}"
            )
        out.append(
            {
                "type": "Feature",
                "geometry": _geometry(f["geometry"]),
                "properties": {
                    "st": _style(part, fill_target),
                    "popup": part_popup(p),
                    "part": part,
                },
            }
        )
    return {"type": "FeatureCollection", "features": out}


def _style(part: str, fill_target: bool) -> dict:
    st = dict(PART_STYLES[part][1])
    if part == "target" and not fill_target:
        st["fill"] = False
    return st


def risk_zone_popup(props: dict) -> str:
    n = props.get("incidents")
    return (
        '<div class="hs-pop"><b>Near-repeat risk zone</b>'
        f"<div>{_e(n if n is not None else '—')} recent incident(s), "
        f"{_e(_when(props.get('first_occurred'), props.get('last_occurred')))}</div>"
        f"<div>Raised risk until <b>{_e(_day(props.get('expires')))}</b>.</div></div>"
    )


def risk_zone_features(fc: dict) -> dict:
    feats = _check_collection(fc, "risk zones")
    out = []
    for f in feats:
        p = f.get("properties") or {}
        out.append(
            {
                "type": "Feature",
                "geometry": _geometry(f["geometry"]),
                "properties": {"st": RISK_STYLE, "popup": risk_zone_popup(p)},
            }
        )
    return {"type": "FeatureCollection", "features": out}


class OutlineLayer(Layer):
    """A GeoJSON layer of outlines, each feature styled by its ``st`` and popped up with
    its ``popup`` (HTML made and escaped in Python)."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = L.geoJSON({{ this.data }}, {
          style: function (f) { return f.properties.st; },
          onEachFeature: function (f, l) {
            if (f.properties.popup) { l.bindPopup(f.properties.popup, {maxWidth: 280}); }
          }
        });
        {% if this.show %}{{ this.get_name() }}.addTo({{ this._parent.get_name() }});{% endif %}
        {% endmacro %}
        """
    )

    def __init__(self, data: dict, name: str, show: bool = True):
        super().__init__(name=name, overlay=True, control=True, show=show)
        self._name = "OutlineLayer"
        self.data = _compact(data)


def _line_key(part: str) -> str:
    label, st = PART_STYLES[part]
    swatch = (
        '<span class="hs-line" style="display:inline-block;width:26px;height:0;flex:none;'
        f'border-top:3px {_CSS_LINE[part]} {st["color"]}"></span>'
    )
    return f'<div class="hs-key">{swatch}{_e(label)}</div>'


def overlay_legend(
    parts: Iterable[str] = (), risk_zones: dict | None = None, buffer_m: float | None = None
) -> str:
    """Legend sections (HTML) for the outline parts present and for risk zones."""
    out = []
    parts = [p for p in ("target", "buffer", "control") if p in set(parts)]
    if parts:
        out.append("<h4>Interventions</h4>")
        out += [_line_key(p) for p in parts]
        note = "Click an outline for what was done, when and the officer hours."
        if buffer_m is not None and "buffer" in parts:
            note = f"Buffer: a {float(buffer_m):g} m ring. " + note
        out.append(f'<div class="hs-small">{_e(note)}</div>')
    if risk_zones is not None:
        swatch = (
            f'<span class="hs-sw" style="background:{RISK_STYLE["fillColor"]}4d;'
            f'border:2px dashed {RISK_STYLE["color"]}"></span>'
        )
        out.append("<h4>Near-repeat risk</h4>")
        out.append(f'<div class="hs-key">{swatch}Risk zone (raised risk until its expiry)</div>')
        as_of = risk_zones.get("as_of")
        extent = risk_zones.get("extent") or {}
        bits = []
        if as_of:
            bits.append(f"Zones active on {_day(as_of)}")
        if extent.get("radius_m") is not None and extent.get("days") is not None:
            bits.append(
                f"near repeats reach about {float(extent['radius_m']):g} m and "
                f"{float(extent['days']):g} days"
            )
        if bits:
            out.append(f'<div class="hs-small">{_e("; ".join(bits))}.</div>')
    return "".join(out)


def add_overlays(
    m,
    interventions: dict | None = None,
    risk_zones: dict | None = None,
    *,
    fill_target: bool = False,
) -> dict:
    """Add the interventions and risk-zone layers (when given and not empty) to map ``m``.

    Returns ``{"parts": [...], "risk_zones": n}``: what was drawn, for the legend.
    """
    drawn: dict = {"parts": [], "risk_zones": 0}
    if interventions is not None:
        slim = intervention_features(interventions, fill_target)
        if slim["features"]:
            OutlineLayer(slim, INTERVENTIONS_LAYER).add_to(m)
            drawn["parts"] = sorted({f["properties"]["part"] for f in slim["features"]})
    if risk_zones is not None:
        slim = risk_zone_features(risk_zones)
        as_of = risk_zones.get("as_of")
        name = f"{RISK_LAYER} (on {_day(as_of)})" if as_of else RISK_LAYER
        OutlineLayer(slim, name).add_to(m)
        drawn["risk_zones"] = len(slim["features"])
    # the layer control's script names every layer: it must come after them
    for key, child in list(m._children.items()):
        if isinstance(child, folium.LayerControl):
            m._children.move_to_end(key)
    return drawn


def outline_bounds(*collections: dict | None) -> list[list[float]] | None:
    """``[[south, west], [north, east]]`` of every geometry in the collections."""
    lons: list[float] = []
    lats: list[float] = []

    def walk(c):
        if c and isinstance(c[0], (int, float)):
            lons.append(float(c[0]))
            lats.append(float(c[1]))
        else:
            for x in c:
                walk(x)

    for fc in collections:
        for f in (fc or {}).get("features", []):
            walk(f["geometry"]["coordinates"])
    if not lats:
        return None
    return [[min(lats), min(lons)], [max(lats), max(lons)]]


__all__ = [
    "INTERVENTIONS_LAYER",
    "PART_STYLES",
    "RISK_LAYER",
    "InvalidOverlay",
    "OutlineLayer",
    "add_overlays",
    "intervention_features",
    "outline_bounds",
    "overlay_legend",
    "part_popup",
    "risk_zone_features",
]
