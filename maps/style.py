"""Colours, legends and popups of the hotspot map: pure functions of a feature's properties.

Palettes are colour-blind safe: ColorBrewer RdBu (diverging) for Getis-Ord Gi*
classes, YlOrRd (sequential) for counts and density, Purples for rates, and the
Okabe–Ito set for emerging hot-spot categories.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence

#: Gi_Bin → (colour, label), ColorBrewer RdBu 7 (hot = red, cold = blue)
GI_CLASSES: dict[int, tuple[str, str]] = {
    3: ("#b2182b", "Hot spot, 99 % confidence"),
    2: ("#ef8a62", "Hot spot, 95 % confidence"),
    1: ("#fddbc7", "Hot spot, 90 % confidence"),
    0: ("#f7f7f7", "Not significant"),
    -1: ("#d1e5f0", "Cold spot, 90 % confidence"),
    -2: ("#67a9cf", "Cold spot, 95 % confidence"),
    -3: ("#2166ac", "Cold spot, 99 % confidence"),
}
#: ColorBrewer YlOrRd 5 (counts, density, cluster rank bands)
HEAT = ("#ffffb2", "#fecc5c", "#fd8d3c", "#f03b20", "#bd0026")
#: ColorBrewer Purples 5 (rates per 1,000 residents): one hue that no Gi* class
#: (reds and blues) or count band (yellow to red) uses, so a ward's rate is never
#: read as a cold or hot spot
RATE = ("#f2f0f7", "#cbc9e2", "#9e9ac8", "#756bb1", "#54278f")
NO_DATA = "#bdbdbd"
#: Okabe–Ito, for the eight hot categories of emerging hot-spot analysis
EMERGING = {
    "new hot spot": "#E69F00",
    "consecutive hot spot": "#56B4E9",
    "intensifying hot spot": "#D55E00",
    "persistent hot spot": "#CC79A7",
    "diminishing hot spot": "#009E73",
    "sporadic hot spot": "#F0E442",
    "oscillating hot spot": "#0072B2",
    "historical hot spot": "#000000",
}
#: hotspot ranks labelled on the map (clusters, hexagons, density areas)
LABELLED_RANKS = 20

METHOD_NAMES = {
    "gistar": "Gi* hot spots (H3 hexagons)",
    "hexes": "H3 hexagons by count",
    "emerging": "Emerging hot spots (H3 hexagons)",
    "dbscan": "Clusters (DBSCAN), by rank",
    "hdbscan": "Clusters (HDBSCAN), by rank",
    "kde": "Density (KDE), densest areas",
    "plan": "Day-of-action sites, numbered in visiting order",
}


def quantile_breaks(values: Sequence[float | None], classes: int = 5) -> list[float]:
    """Upper bounds of ``classes`` quantile classes of the finite values (may repeat).

    Examples
    --------
    >>> quantile_breaks([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 5)
    [2.8, 4.6, 6.4, 8.2, 10.0]
    """
    finite = sorted(float(v) for v in values if v is not None and math.isfinite(float(v)))
    if not finite:
        return []
    out = []
    for i in range(1, classes + 1):
        pos = (len(finite) - 1) * i / classes
        lo = math.floor(pos)
        hi = min(lo + 1, len(finite) - 1)
        out.append(round(finite[lo] + (finite[hi] - finite[lo]) * (pos - lo), 6))
    return out


def class_of(value: float | None, breaks: Sequence[float]) -> int | None:
    """Index of the class of ``value`` (0-based), ``None`` for no value."""
    if value is None or not breaks or not math.isfinite(float(value)):
        return None
    for i, upper in enumerate(breaks):
        if value <= upper:
            return i
    return len(breaks) - 1


def hotspot_fill(props: dict, method: str, breaks: Sequence[float]) -> str:
    """The fill colour of a hotspot for its method."""
    if method == "gistar":
        return GI_CLASSES.get(int(props.get("gi_bin") or 0), GI_CLASSES[0])[0]
    if method == "emerging":
        return EMERGING.get(str(props.get("emerging")), NO_DATA)
    if method in ("dbscan", "hdbscan"):
        rank = props.get("rank") or 10**9
        return HEAT[4] if rank <= 10 else HEAT[3] if rank <= 50 else HEAT[1]
    value = props.get("harm_density_per_km2") if method == "kde" else props.get("count")
    k = class_of(value, breaks)
    return NO_DATA if k is None else HEAT[k]


DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def peak_times(profile: dict | None) -> str | None:
    """The busiest day and hour when times are known, else ``None``."""
    matrix = (profile or {}).get("hour_weekday")
    if not matrix:
        return None
    by_day = [sum(row) for row in matrix]
    by_hour = [sum(row[h] for row in matrix) for h in range(24)]
    day = max(range(7), key=lambda d: by_day[d])
    hour = max(range(24), key=lambda h: by_hour[h])
    return f"busiest {DAYS[day]}; busiest hour {hour:02d}:00–{(hour + 1) % 24:02d}:00"


def _num(value, digits: int = 0) -> str:
    if value is None:
        return "–"
    return f"{value:,.{digits}f}"


def area_popup(props: dict, kind: str) -> str:
    """The popup HTML of a ward or LSOA with its rate against the borough."""
    name = html.escape(str(props.get("area_name") or props.get("name") or props.get("area_code")))
    if props.get("suppressed"):
        return f'<div class="hs-pop"><b>{name}</b><div>Too few incidents to show.</div></div>'
    rate = props.get("rate")
    rows = [
        f'<div class="hs-pop"><b>{name}</b> <span class="hs-small">({kind})</span>',
        f"<div>Incidents: <b>{_num(props.get('count'))}</b></div>",
    ]
    if rate is not None:
        ci = ""
        if props.get("rate_low") is not None and props.get("rate_high") is not None:
            ci = f" (95 % CI {props['rate_low']:.1f}–{props['rate_high']:.1f})"
        rows.append(f"<div>Rate: <b>{rate:.1f}</b> per 1,000 residents{ci}</div>")
        ratio = props.get("ratio_to_borough")
        if ratio is not None:
            rows.append(f"<div>{ratio:.2f} × the borough rate</div>")
    else:
        rows.append("<div>Rate: no population loaded</div>")
    if props.get("change_pct") is not None:
        rows.append(f"<div>Change on a year earlier: {props['change_pct']:+.1f} %</div>")
    rows.append("</div>")
    return "".join(rows)
