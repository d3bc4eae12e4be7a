"""Hotspot popups: compact properties in the page, HTML made in the browser on click.

A run over a million incidents has thousands of hotspot cells; sending each
one's popup as HTML would be most of the page. Instead every feature carries
a few short keys (:func:`compact_properties`) and :data:`POPUP_JS` turns them
into the popup — count, harm, trend arrow, Gi* class or pattern, a monthly
sparkline (inline SVG), peak times (or why they are unknown), main categories
and top streets — escaping every text it inserts.

Keys: ``r`` rank, ``n`` count (``null`` when suppressed), ``h`` harm,
``tz`` Mann–Kendall z of the monthly counts, ``g``/``gz`` Gi_Bin and z,
``e`` emerging pattern, ``c`` indices of the categories present (for the
filter), ``tc`` top three ``[index, count]``, ``s`` top streets
``[name, count]``, ``m`` monthly counts aligned with the run's months (top
profiled hotspots only), ``pk`` peak day and hour when times are known,
``f`` fill colour, ``label`` rank shown on the map; a plan's sites (method
``plan``, ranked in visiting order) also carry ``go``, when to be there (the site's
slot in the shifts, else its patrol window).
"""

from __future__ import annotations

import math

from . import style
from .style import GI_CLASSES


def _round(value, digits: int):
    if value is None:
        return None
    value = float(value)
    if not math.isfinite(value):
        return None
    return round(value, digits) if digits else round(value)


def compact_properties(
    p: dict, method: str, breaks, months: list[str], cat_index: dict[str, int]
) -> dict:
    """The short properties of one hotspot feature (see the module docstring)."""
    out: dict = {"r": p.get("rank"), "f": style.hotspot_fill(p, method, breaks)}
    out["n"] = p.get("count")
    out["h"] = _round(p.get("harm"), 0)
    if p.get("trend_z") is not None:
        out["tz"] = _round(p["trend_z"], 2)
    if method == "gistar" and p.get("gi_bin") is not None:
        out["g"] = int(p["gi_bin"])
        out["gz"] = _round(p.get("gi_z"), 1)
    if method == "emerging" and p.get("emerging"):
        out["e"] = str(p["emerging"])
    cats = p.get("categories") or {}
    present = [k for k, v in cats.items() if v is None or v > 0]
    if present:
        out["c"] = sorted(cat_index[k] for k in present)
        top = sorted(present, key=lambda k: -(cats[k] or 0))[:3]
        out["tc"] = [[cat_index[k], cats[k]] for k in top]
    streets = p.get("top_locations") or []
    if streets:
        out["s"] = [[str(name), int(n)] for name, n in streets[:5]]
    profile = p.get("profile") or {}
    monthly = profile.get("monthly") or {}
    if monthly and months:
        out["m"] = [monthly.get(m) for m in months]
    peak = style.peak_times(profile)
    if peak:
        out["pk"] = peak
    window = p.get("window") or {}
    if method == "plan" and (window.get("short") or window.get("text")):
        out["go"] = str(window.get("short") or window["text"])
    # every method's top hotspots carry their rank on the map (hexagons too); every site
    # of a plan its number in the visiting order
    if method == "plan" or (p.get("rank") or 10**9) <= style.LABELLED_RANKS:
        out["label"] = p["rank"]
    return out


def popup_meta(fc: dict, method: str, min_count: int, months: list[str], labels: list[str]):
    """What every popup shares: method, suppression threshold, months, category labels,
    Gi* class names and the run's note on times of day."""
    note = None
    for f in fc.get("features", []):
        prof = f["properties"].get("profile")
        if prof and prof.get("hour_weekday_note") and not prof.get("hour_weekday"):
            note = prof["hour_weekday_note"]
            break
    return {
        "method": method,
        "minCount": min_count,
        "months": months,
        "cats": labels,
        "gi": {str(k): v[1] for k, v in GI_CLASSES.items()},
        "timesNote": note,
    }


POPUP_JS = r"""
HS.esc = function (s) {
  return String(s).replace(/[&<>"']/g, function (c) {
    return {'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;'}[c];
  });
};
HS.fmt = function (v) { return v == null ? '–' : Number(v).toLocaleString('en-GB'); };
HS.trend = function (z) {
  if (z == null) { return ['–', 'no trend measured']; }
  if (z >= 1.96) { return ['↑', 'rising (significant at 95 %)']; }
  if (z <= -1.96) { return ['↓', 'falling (significant at 95 %)']; }
  if (z >= 1) { return ['↗', 'rising a little (not significant)']; }
  if (z <= -1) { return ['↘', 'falling a little (not significant)']; }
  return ['→', 'steady'];
};
HS.spark = function (series, months) {
  var known = series.filter(function (v) { return v != null; });
  if (series.length < 2 || !known.length) { return ''; }
  var w = 150, h = 34, top = Math.max.apply(null, known) || 1;
  var step = (w - 4) / (series.length - 1), segs = [[]], out = '';
  series.forEach(function (v, i) {
    if (v == null) { segs.push([]); return; }
    segs[segs.length - 1].push((2 + i * step).toFixed(1) + ',' +
      (h - 2 - (h - 4) * v / top).toFixed(1));
  });
  segs.forEach(function (s) {
    if (s.length > 1) {
      out += '<polyline points="' + s.join(' ') +
        '" fill="none" stroke="#b2182b" stroke-width="1.5"/>';
    } else if (s.length === 1) {
      var xy = s[0].split(',');
      out += '<circle cx="' + xy[0] + '" cy="' + xy[1] + '" r="1.5" fill="#b2182b"/>';
    }
  });
  var a = months[0], b = months[months.length - 1], mx = Math.max.apply(null, known);
  return '<svg class="hs-spark" width="' + w + '" height="' + h + '" viewBox="0 0 ' + w +
    ' ' + h + '" role="img" aria-label="monthly incidents ' + a + ' to ' + b +
    ', highest ' + mx + '"><rect width="' + w + '" height="' + h + '" fill="#fafafa"/>' +
    out + '</svg><div class="hs-small">' + a + ' – ' + b + ' · max ' + HS.fmt(mx) +
    '/month</div>';
};
HS.popup = function (p) {
  var M = HS.meta, where = p.s && p.s.length ? HS.esc(p.s[0][0]) : 'unnamed place';
  var count = p.n == null ? 'fewer than ' + M.minCount : HS.fmt(p.n);
  var harm = p.n == null ? '–' : HS.fmt(p.h);
  var t = HS.trend(p.tz);
  var html = '<div class="hs-pop"><b>#' + p.r + ' · ' + where + '</b>' +
    '<div>Incidents: <b>' + count + '</b> · harm: <b>' + harm + '</b> days</div>' +
    '<div>Trend: <span class="hs-arrow">' + t[0] + '</span> ' + t[1] + '</div>';
  if (p.g != null) {
    html += '<div>Gi*: ' + M.gi[String(p.g)] + ' (z = ' + p.gz + ')</div>';
  }
  if (p.go) { html += '<div>When: <b>' + HS.esc(p.go) + '</b></div>'; }
  if (p.e) { html += '<div>Pattern: ' + HS.esc(p.e) + '</div>'; }
  if (p.m) { html += HS.spark(p.m, M.months); }
  var times = p.pk ? p.pk : (M.timesNote ? M.timesNote :
    (p.m ? 'no incident has a time of day' : 'not profiled (only the top-ranked hotspots are)'));
  html += '<div>Times: ' + HS.esc(times) + '</div>';
  if (p.tc) {
    html += '<div>Mostly: ' + p.tc.map(function (x) {
      return HS.esc(M.cats[x[0]]) + (x[1] == null ? ' (few)' : ' ' + HS.fmt(x[1]));
    }).join(', ') + '</div>';
  }
  if (p.s && p.s.length) {
    html += '<div>Top streets:</div><ol class="hs-streets">' + p.s.map(function (x) {
      return '<li>' + HS.esc(x[0]) + ' (' + HS.fmt(x[1]) + ')</li>';
    }).join('') + '</ol>';
  }
  return html + '</div>';
};
"""
