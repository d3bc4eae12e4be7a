"""Folium elements of the hotspot map written for it: assets, legend, category filter,
month slider, clustered incident points and the notice shown when tiles fail.

Everything here is our own small JavaScript and CSS; Leaflet and its plugins come
from :mod:`maps.assets`.
"""

from __future__ import annotations

import html
import json

from branca.element import Element, MacroElement
from folium.map import Layer
from jinja2 import Template

from .assets import asset_tags
from .popups import POPUP_JS

CSS = """
html,body{margin:0;padding:0;width:100%;height:100%;overflow:hidden}
.leaflet-container{background:#eef0f2;font:14px/1.35 system-ui,-apple-system,"Segoe UI",
Roboto,sans-serif;touch-action:none}
.hs-panel{background:#fff;border-radius:6px;box-shadow:0 1px 5px rgba(0,0,0,.35);
padding:.35rem .55rem;max-width:min(19rem,calc(100vw - 5rem));max-height:45vh;overflow:auto;
font-size:13px}
.hs-panel summary{cursor:pointer;font-weight:600;min-height:24px;line-height:24px}
.hs-legend h4{margin:.45rem 0 .2rem;font-size:12px}
.hs-key{display:flex;align-items:center;gap:.35rem;margin:.1rem 0}
.hs-sw{display:inline-block;width:14px;height:14px;border:1px solid #777;flex:none}
.hs-small{font-size:11px;color:#555}
.hs-pop{font-size:13px;max-width:min(16rem,70vw)}
.hs-pop ol{margin:.1rem 0 0 1.1rem;padding:0}
.hs-arrow{font-size:15px;font-weight:700}
.hs-rank{background:rgba(255,255,255,.85);border:1px solid #444;border-radius:9px;
padding:0 4px;font-weight:700;font-size:11px;box-shadow:none}
.hs-rank:before{display:none}
.hs-cats label{display:flex;align-items:center;gap:.3rem;min-height:26px}
.hs-cats input{width:18px;height:18px}
.hs-month input{width:min(14rem,calc(100vw - 7rem))}
.hs-title{font-weight:700;font-size:14px}
.hs-notice{background:#fff3cd;border:1px solid #c9a227;border-radius:4px;padding:.3rem .5rem;
font-size:12px;max-width:calc(100vw - 5rem)}
@media (max-width:480px){.hs-panel{font-size:12px;max-height:38vh}}
"""

# Our runtime: a registry of hotspot features so the category filter and the
# month slider can restyle them, and helpers for the controls.
RUNTIME_JS = """
window.HS = window.HS || {features: [], cats: null, month: -1, points: null};
HS.register = function (feature, layer) {
  var p = feature.properties || {};
  var entry = {p: p, layer: layer, base: {fillOpacity: layer.options.fillOpacity,
    opacity: layer.options.opacity}};
  HS.features.push(entry);
  layer.bindPopup(function () { return HS.popup(p); },
    {maxWidth: 280, autoPanPadding: [10, 10]});
  if (p.label) {
    layer.bindTooltip(String(p.label), {permanent: true, direction: 'center',
      className: 'hs-rank'});
  }
  layer.on('add', function () { HS.apply(entry); });
};
HS.visible = function (p) {
  if (!HS.cats || !p.c) { return true; }
  for (var i = 0; i < p.c.length; i++) { if (HS.cats[HS.meta.slugs[p.c[i]]]) { return true; } }
  return false;
};
HS.apply = function (e) {
  var show = HS.visible(e.p);
  var el = e.layer.getElement ? e.layer.getElement() : null;
  if (el) { el.style.display = show ? '' : 'none'; }
  if (e.layer.getTooltip && e.layer.getTooltip()) {
    if (show && e.layer._map) { e.layer.openTooltip(); } else { e.layer.closeTooltip(); }
  }
  if (!show) { return; }
  if (HS.month < 0 || !e.p.m) {
    var dim = HS.month >= 0 && e.p.m === undefined;
    e.layer.setStyle({fillOpacity: dim ? 0.08 : e.base.fillOpacity,
      opacity: dim ? 0.3 : e.base.opacity});
    return;
  }
  var v = e.p.m[HS.month], top = HS.monthMax[HS.month] || 1;
  e.layer.setStyle({fillOpacity: v == null ? 0.05 : 0.1 + 0.8 * v / top,
    opacity: v ? 1 : 0.3});
};
HS.applyAll = function () {
  for (var i = 0; i < HS.features.length; i++) { HS.apply(HS.features[i]); }
  if (HS.points) { HS.points.refill(); }
};
"""


class Assets(Element):
    """Leaflet and plugins: ``<link>``/``<script>`` tags to our static route, or inlined."""

    def __init__(self, mode: str, base_url: str):
        super().__init__()
        self._name = "HotspotsAssets"
        self.mode = mode
        self.base_url = base_url

    def render(self, **kwargs) -> str:
        return (
            asset_tags(self.mode, self.base_url)
            + f"\n<style>{CSS}</style>\n<script>{RUNTIME_JS}{POPUP_JS}</script>"
        )


class Control(MacroElement):
    """A Leaflet control holding our own HTML (``html``) at ``position``, plus ``js``
    run with ``map``, ``div`` (the control's element) in scope."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function () {
          var map = {{ this._parent.get_name() }};
          var ctl = L.control({position: {{ this.position|tojson }}});
          ctl.onAdd = function () {
            var div = L.DomUtil.create('div', {{ this.css_class|tojson }});
            div.innerHTML = {{ this.html|tojson }};
            L.DomEvent.disableClickPropagation(div);
            L.DomEvent.disableScrollPropagation(div);
            return div;
          };
          ctl.addTo(map);
          var div = ctl.getContainer();
          {{ this.js }}
        })();
        {% endmacro %}
        """
    )

    def __init__(self, name: str, body: str, position: str, css_class: str, js: str = ""):
        super().__init__()
        self._name = name
        self.html = body
        self.position = position
        self.css_class = f"leaflet-control hs-panel {css_class}"
        self.js = js


def legend_control(body: str) -> Control:
    """The legend: a ``<details>`` panel, closed at first on narrow screens."""
    js = "if (window.innerWidth < 520) { div.querySelector('details').open = false; }"
    return Control("HotspotsLegend", body, "bottomright", "hs-legend", js)


def category_control(categories: list[tuple[str, str]]) -> Control:
    """Checkboxes per category; unticking hides hotspots and points of that category only."""
    boxes = "".join(
        f'<label><input type="checkbox" checked value="{html.escape(slug)}"> '
        f"{html.escape(label)}</label>"
        for slug, label in categories
    )
    body = (
        '<details class="hs-cats"><summary>Categories</summary>'
        f"{boxes}<div class='hs-small'>A hotspot stays while any ticked category is in it."
        "</div></details>"
    )
    js = """
      function read() {
        var all = true, on = {};
        div.querySelectorAll('input').forEach(function (b) {
          if (b.checked) { on[b.value] = true; } else { all = false; }
        });
        HS.cats = all ? null : on;
        HS.applyAll();
      }
      div.querySelectorAll('input').forEach(function (b) { b.addEventListener('change', read); });
    """
    return Control("HotspotsCategories", body, "topright", "hs-catctl", js)


def month_control(months: list[str], month_max: list[int]) -> Control:
    """A slider over the run's months: 0 is all months, then one month at a time."""
    body = (
        '<div class="hs-month"><label for="hs-month">Month: <b class="hs-month-label">'
        f'all months</b></label><br><input id="hs-month" type="range" min="0" '
        f'max="{len(months)}" step="1" value="0" aria-label="month">'
        '<div class="hs-small">Shading follows each profiled hotspot\'s count that month.'
        "</div></div>"
    )
    js = f"""
      var months = {json.dumps(months)};
      HS.monthMax = {json.dumps(month_max)};
      var input = div.querySelector('input'), label = div.querySelector('.hs-month-label');
      input.addEventListener('input', function () {{
        var i = parseInt(input.value, 10) - 1;
        HS.month = i;
        label.textContent = i < 0 ? 'all months' : months[i];
        HS.applyAll();
      }});
    """
    return Control("HotspotsMonths", body, "bottomleft", "hs-monthctl", js)


def tile_notice(tile_layer_name: str) -> MacroElement:
    """Says so once when base-map tiles fail; the hotspot layers stay on a plain background."""
    el = MacroElement()
    el._name = "HotspotsTileNotice"
    el._template = Template(
        """
        {% macro script(this, kwargs) %}
        (function () {
          var map = {{ this._parent.get_name() }}, shown = false;
          {{ this.tiles }}.on('tileerror', function () {
            if (shown) { return; }
            shown = true;
            var ctl = L.control({position: 'bottomleft'});
            ctl.onAdd = function () {
              var d = L.DomUtil.create('div', 'leaflet-control hs-notice');
              d.setAttribute('role', 'status');
              d.textContent = 'The base map could not be loaded; the hotspot layers are '
                + 'still shown on a plain background.';
              return d;
            };
            ctl.addTo(map);
          });
        })();
        {% endmacro %}
        """
    )
    el.tiles = tile_layer_name
    return el


class IncidentPoints(Layer):
    """Incident points aggregated by place, clustered with Leaflet.markercluster.

    ``points`` are ``[lat, lon, category index, count]`` rows; the data is one
    compact array, markers are made in the browser.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = L.markerClusterGroup({chunkedLoading: true,
          maxClusterRadius: 50, showCoverageOnHover: false,
          iconCreateFunction: function (c) {
            var n = 0;
            c.getAllChildMarkers().forEach(function (m) { n += m.options.count; });
            var size = n < 100 ? 'small' : n < 1000 ? 'medium' : 'large';
            return L.divIcon({html: '<div><span>' + n.toLocaleString() + '</span></div>',
              className: 'marker-cluster marker-cluster-' + size, iconSize: L.point(40, 40)});
          }});
        (function (group) {
          var data = {{ this.payload }};
          var markers = data.pts.map(function (r) {
            var m = L.circleMarker([r[0], r[1]], {radius: 4 + Math.min(6, Math.sqrt(r[3])),
              color: '#333', weight: 1, fillColor: '#fd8d3c', fillOpacity: 0.85,
              count: r[3], cat: data.cats[r[2]]});
            m.bindPopup(function () {
              return '<div class="hs-pop"><b>' + r[3] + '</b> × ' + HS.esc(data.labels[r[2]])
                + '<div class="hs-small">at this (anonymised) point</div></div>';
            });
            return m;
          });
          HS.points = {refill: function () {
            group.clearLayers();
            group.addLayers(HS.cats ? markers.filter(function (m) {
              return HS.cats[m.options.cat]; }) : markers);
          }};
          HS.points.refill();
        })({{ this.get_name() }});
        {% if this.show %}{{ this.get_name() }}.addTo({{ this._parent.get_name() }});{% endif %}
        {% endmacro %}
        """
    )

    def __init__(self, points: list, cats: list[str], labels: list[str], name: str, show=False):
        super().__init__(name=name, overlay=True, control=True, show=show)
        self._name = "IncidentPoints"
        self.payload = _compact({"pts": points, "cats": cats, "labels": labels})


def _compact(doc) -> str:
    # "<" as \u003c, so no text inside can close or open a tag in the <script>
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False).replace("<", "\\u003c")


class CompactGeoJson(Layer):
    """A GeoJSON layer written as compact JSON, styled from each feature's ``f`` (fill).

    ``kind="hotspots"``: features register with the runtime (popups made on
    click from compact properties, labels, category filter, month slider) and
    ``meta`` is what their popups share. Other kinds (``"areas"``,
    ``"surroundings"``, ``"artefacts"``: points as circle markers): popups are the
    features' ``popup`` HTML.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        {% if this.meta %}HS.meta = {{ this.meta }};{% endif %}
        var {{ this.get_name() }} = L.geoJSON({{ this.data }}, {
          style: function (f) {
            return {fillColor: f.properties.f, color: {{ this.stroke|tojson }},
              weight: {{ this.weight }}, opacity: 0.9, fillOpacity: {{ this.fill_opacity }},
              dashArray: {{ this.dash|tojson }}};
          },
          pointToLayer: function (f, ll) { return L.circleMarker(ll, {radius: 7}); },
          onEachFeature: {% if this.kind == "hotspots" %}HS.register{% else %}function (f, l) {
            l.bindPopup(f.properties.popup, {maxWidth: 280});
          }{% endif %}
        });
        {% if this.show %}{{ this.get_name() }}.addTo({{ this._parent.get_name() }});{% endif %}
        {% endmacro %}
        """
    )

    def __init__(self, data: dict, name: str, kind: str, *, meta=None, show=True):
        super().__init__(name=name, overlay=True, control=True, show=show)
        self._name = "CompactGeoJson"
        self.data = _compact(data)
        self.meta = _compact(meta) if meta else ""
        self.kind = kind
        # areas: thin dashed grey; surroundings: dashed red outline, no fill (not a
        # hotspot); artefacts: filled circle markers
        self.stroke = {"hotspots": "#333", "surroundings": "#b2182b", "artefacts": "#fff"}.get(
            kind, "#555"
        )
        self.dash = {"hotspots": None, "surroundings": "5 4", "artefacts": None}.get(kind, "3")
        self.fill_opacity = {"hotspots": 0.7, "surroundings": 0.0, "artefacts": 0.9}.get(kind, 0.35)
        self.weight = 2 if kind in ("surroundings", "artefacts") else 1
