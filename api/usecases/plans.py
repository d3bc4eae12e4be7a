"""Days-of-action plans and Ward Member briefings on a store: what the CLI and the API share.

:func:`resolve_area` turns what a user types (``borough``, a ward or LSOA code,
``ward:CODE``, a ward name) into a stored boundary; :func:`plan_from_store`
runs :func:`hotspots.planner.plan_days_of_action` on the store's incidents in
that area; :func:`ward_briefing` gathers a ward's figures for
:func:`maps.briefing.ward_briefing_html`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import shapely

from geodata.coverage import coverage_of, in_months, month_span, months_label
from geodata.crs import WGS84
from geodata.errors import NotFound
from geodata.stores import IncidentQuery, Store
from hotspots.harm import HarmWeights
from hotspots.planner import Plan, PlanParams, plan_days_of_action
from hotspots.rates import area_rates, lsoa_population_to_areas

from ..disclosure import Disclosure
from ..worker import run_stoppable
from .analyse import ARTEFACT_NOTE, without_artefacts
from .rates import incidents_in_months, sensitive_categories_stored
from .window import Window

BOROUGH_WORDS = ("borough", "district", "all")


@dataclass
class Area:
    kind: str  # "district", "ward", "lsoa"
    code: str | None
    name: str
    geometry_lonlat: shapely.Geometry
    geometry_xy: shapely.Geometry


def resolve_area(store: Store, text: str | None, kinds=("ward", "lsoa")) -> Area:
    """The stored boundary the user means; :class:`NotFound` naming what was tried.

    ``None``, ``borough``, ``district`` or ``all``: the district (all of it);
    ``ward:CODE`` / ``lsoa:CODE``; a bare code; or a ward/LSOA name
    (case-insensitive, exact).
    """
    wanted = (text or "borough").strip()
    if wanted.lower() in BOROUGH_WORDS:
        district = store.boundaries("district")
        if district.empty:
            raise NotFound("no district boundary is loaded; see `hotspots import boundaries`")
        name = ", ".join(str(n) for n in district["name"] if n) or "the district"
        return _area(district, "district", None, name)
    kind, sep, code = wanted.partition(":")
    candidates = [kind] if sep and kind in kinds else list(kinds)
    key = code if sep and kind in kinds else wanted
    for k in candidates:
        areas = store.boundaries(k)
        if areas.empty:
            continue
        hit = areas[areas["code"].astype(str).str.upper() == key.upper()]
        if hit.empty:
            hit = areas[areas["name"].astype(str).str.lower() == key.lower()]
        if len(hit):
            row = hit.iloc[[0]]
            return _area(row, k, str(row["code"].iloc[0]), str(row["name"].iloc[0] or key))
    raise NotFound(
        f"area {wanted!r}: expected 'borough', a {' or '.join(kinds)} code (e.g. E05004964), "
        f"'ward:CODE' or a ward name; none of the loaded {', '.join(kinds)} boundaries matches"
    )


def parse_times(text: str | None) -> tuple[int, int] | None:
    """``18-23`` or ``20:00-02:00`` → (18, 23) / (20, 2); end exclusive, may wrap midnight.
    Plans work in whole hours: an end with minutes is taken to the next hour
    (``22:08-22:30`` → (22, 23))."""
    if text is None:
        return None
    a, sep, b = text.replace("–", "-").partition("-")
    try:
        if not sep:
            raise ValueError
        start = int(a.strip().split(":")[0])
        end_hour, _, end_minutes = b.strip().partition(":")
        end = (int(end_hour) + (int(end_minutes or 0) > 0)) % 24
    except ValueError:
        raise ValueError(
            f"times: expected a range of hours such as 18-23 or 20:00-02:00, got {text!r}"
        ) from None
    return start, end


def parse_days(text: str | None) -> tuple[str, ...] | None:
    """``Fri,Sat`` or ``fri-sun`` → weekday names as in :data:`hotspots.temporal.WEEKDAYS`."""
    from hotspots.temporal import WEEKDAYS

    if text is None:
        return None
    names = {d.lower(): d for d in WEEKDAYS}
    days: list[str] = []
    for part in (p.strip().lower()[:3] for p in text.split(",") if p.strip()):
        days.append(part)
    if "-" in text and len(days) == 1:  # a range such as fri-sun
        a, b = (p.strip().lower()[:3] for p in text.split("-"))
        if a in names and b in names:
            i, j = WEEKDAYS.index(names[a]), WEEKDAYS.index(names[b])
            return tuple(WEEKDAYS[(i + k) % 7] for k in range((j - i) % 7 + 1))
    bad = [d for d in days if d not in names]
    if bad or not days:
        raise ValueError(f"days: expected weekdays such as Fri,Sat or Fri-Sun, got {text!r}")
    return tuple(names[d] for d in days)


def _area(frame, kind: str, code: str | None, name: str) -> Area:
    xy = shapely.union_all(frame.geometry.to_numpy())
    lonlat = shapely.union_all(frame.to_crs(WGS84).geometry.to_numpy())
    return Area(kind, code, name, lonlat, xy)


def _incidents_in(
    store: Store, area: Area, categories, start, end, include_sensitive: bool = True
) -> pd.DataFrame:
    bbox = area.geometry_xy.bounds
    return store.query_incidents(
        IncidentQuery(
            bbox=bbox,
            categories=categories,
            start=start,
            end=end,
            include_sensitive=include_sensitive,
        )
    ).to_pandas()


def plan_from_store(
    store: Store,
    params: PlanParams,
    area_text: str | None = None,
    *,
    role: str = "analyst",
    min_count: int = 5,
    harm_weights: HarmWeights | None = None,
    policy: Disclosure | None = None,
    include_artefacts: bool = False,
    forecast: bool = False,
) -> Plan:
    """A plan for the store's incidents in an area, as the role's disclosure ``policy``
    allows (default: ``role`` with ``min_count``). With ``forecast`` the sites are
    chosen inside the cells the backtest's default forecast flags for next month
    (:func:`api.usecases.plan_forecast.forecast_filter`); a note gives its PAI and PEI.

    Below ``analyst`` the plan is made without sensitive incidents, and a place on fewer
    than ``policy.min_places`` distinct locations is not offered as a site."""
    policy = policy or Disclosure(role=role, min_count=min_count)
    area = resolve_area(store, area_text)
    coverage = coverage_of(store, policy.include_sensitive)
    if params.start is None and params.end is None:  # the latest 3 covered months
        latest = coverage.latest(params.categories, 3)
        if latest.months:
            params = replace(
                params, start=month_span(latest.months)[0], end=month_span(latest.months)[1]
            )
    covered = coverage.covered(params.categories, params.start, params.end)
    incidents = _incidents_in(
        store, area, params.categories, params.start, params.end, policy.include_sensitive
    )
    incidents = incidents.loc[in_months(incidents["occurred_at"], covered.months)]
    incidents, artefacts = without_artefacts(incidents, include_artefacts)
    forecast_note = None
    if forecast:
        from .plan_forecast import forecast_filter

        incidents, forecast_note = forecast_filter(
            store, incidents, params.categories, include_sensitive=policy.include_sensitive
        )
    months = list(covered.months)
    plan = run_stoppable(  # stopped at the request's time limit (api.worker)
        plan_days_of_action,
        incidents,
        params,
        what="the plan",
        crs=store.analysis_crs,
        area_lonlat=area.geometry_lonlat,
        area_name=area.name,
        months=months,
        harm_weights=harm_weights,
        show_sensitive_locations=policy.analyst,
        min_places=None if policy.analyst else policy.min_places,
    )
    plan.notes.insert(0, f"period: {months_label(covered.months)}")
    if covered.note:
        plan.notes.insert(1, covered.note)
    if artefacts:
        plan.notes.append(ARTEFACT_NOTE)
    if forecast_note:
        plan.notes.insert(1, forecast_note)
    return plan


def ward_briefing(
    store: Store,
    ward_text: str,
    window: Window | None = None,
    categories: list[str] | None = None,
    *,
    role: str = "analyst",
    min_count: int = 5,
    top: int = 5,
    generated: str | None = None,
    policy: Disclosure | None = None,
) -> dict:
    """A ward's figures for Ward Members: counts and rates by category against the borough,
    change on the previous year, and the top places by harm (as plan sites).

    Figures pass the role's disclosure ``policy`` (default: ``role`` with ``min_count``):
    the public gets counts rounded, small ones suppressed, the rates worked out from the
    rounded counts, and sensitive categories left out unless asked for on their own.
    """
    policy = policy or Disclosure(role=role, min_count=min_count)
    with_sensitive = True
    if policy.public:
        with_sensitive, scope_note = policy.area_scope(
            categories, sensitive_categories_stored(store)
        )
    area = resolve_area(store, ward_text, kinds=("ward",))
    coverage = coverage_of(store, not policy.public)
    window = window if window is not None and (window.start or window.end) else None
    if window is None:  # the latest 12 months through the latest covered one
        latest = coverage.latest(categories, 12)
        window = Window(*month_span(latest.months)) if latest.months else Window()
    covered = coverage.covered(categories, window.start, window.end)
    earlier = [f"{int(m[:4]) - 1}{m[4:]}" for m in covered.months]
    before_cov = coverage.covered(categories, *month_span(earlier)) if earlier else None
    comparable = before_cov is not None and set(earlier) <= set(before_cov.months)
    wards = store.boundaries("ward")
    population = store.population("lsoa")
    notes: list[str] = []
    if population.empty:
        ward_pop = pd.DataFrame({"area_code": wards["code"], "population": np.nan})
        notes.append("No population is loaded, so rates per 1,000 residents cannot be given.")
    else:
        year = population["year"].max()
        population = population[population["year"] == year]
        ward_pop = lsoa_population_to_areas(store.boundaries("lsoa"), wards, population)
        notes.append(
            f"Residents: ONS mid-{year} LSOA estimates, summed to wards by each LSOA's "
            "representative point."
        )

    def table(months):
        return incidents_in_months(
            store, categories, months, ["category", "ward_code"], with_sensitive
        )

    now = table(covered.months)
    previous = table(earlier) if comparable else None
    if covered.note:
        notes.append(covered.note[0].upper() + covered.note[1:] + ".")
    names = dict(zip(wards["code"], wards["name"]))
    overall, borough = area_rates(now["ward_code"], ward_pop, names=names)
    row = overall[overall["area_code"] == area.code]
    pop = float(row["population"].iloc[0]) if len(row) else float("nan")
    ward_rows = now[now["ward_code"] == area.code]
    totals = {
        "count": len(ward_rows),
        "population": pop if np.isfinite(pop) else None,
        "rate": _f(row["rate"].iloc[0]) if len(row) else None,
        "rate_low": _f(row["rate_low"].iloc[0]) if len(row) else None,
        "rate_high": _f(row["rate_high"].iloc[0]) if len(row) else None,
        "ratio_to_borough": _f(row["ratio_to_borough"].iloc[0]) if len(row) else None,
        "rank": int(row.index[0]) + 1 if len(row) else None,
        "of_wards": len(overall),
        "previous_count": None,
        "change_pct": None,
    }
    prev_ward = (
        previous[previous["ward_code"] == area.code] if previous is not None else pd.DataFrame()
    )
    if previous is not None:
        totals["previous_count"] = len(prev_ward)
        totals["change_pct"] = _change(len(ward_rows), len(prev_ward))
    in_wards = now[now["ward_code"].isin(ward_pop["area_code"])]
    borough_pop = float(ward_pop["population"].sum())
    by_cat = ward_rows["category"].value_counts()
    borough_by_cat = in_wards["category"].value_counts()
    prev_by_cat = prev_ward["category"].value_counts() if previous is not None else None
    rows = []
    for cat in sorted(set(by_cat.index) | set(borough_by_cat.index)):
        n = int(by_cat.get(cat, 0))
        rate = n / pop * 1000 if np.isfinite(pop) and pop else None
        b_rate = borough_by_cat.get(cat, 0) / borough_pop * 1000 if borough_pop else None
        p = int(prev_by_cat.get(cat, 0)) if prev_by_cat is not None else None
        rows.append(
            {
                "category": cat,
                "count": n,
                "rate": rate,
                "borough_count": int(borough_by_cat.get(cat, 0)),
                "borough_rate": b_rate,
                "ratio_to_borough": (rate / b_rate) if rate is not None and b_rate else None,
                "previous_count": p,
                "change_pct": _change(n, p) if p is not None else None,
            }
        )
    rows.sort(key=lambda r: (-r["count"], r["category"]))
    unassigned = policy.count(int(now["ward_code"].isna().sum()))
    if unassigned:
        notes.append(
            f"{'About ' if policy.public else ''}{unassigned:,} incidents in the period are in "
            "no ward (they lie outside the wards, e.g. in a buffer kept round the borough) and "
            "count in no ward's figures."
        )

    hotspots: list[dict] = []
    if len(ward_rows):
        params = PlanParams(
            categories=tuple(categories) if categories else None,
            start=window.start,
            end=window.end,
            sites=top,
        )
        plan = plan_from_store(store, params, f"ward:{area.code}", policy=policy)
        for s in sorted(plan.sites, key=lambda s: s.pick):
            d = s.to_dict()
            d["rank"] = s.pick
            d["geometry"] = shapely.geometry.mapping(s.geometry)
            d.pop("profile", None)
            hotspots.append(d)
        notes.extend(n for n in plan.notes if n.startswith("times of day are unknown"))
    if previous is None:
        notes.append(
            "Nothing to compare with: the same months a year earlier "
            f"({', '.join(earlier) or 'none'}) are not all loaded, so no change is given."
        )
    if not with_sensitive:
        notes.append(scope_note.capitalize() + ".")
    doc = {
        "ward": {"code": area.code, "name": area.name},
        "period": {
            "from": window.start.isoformat() if window.start else None,
            "to": window.end.isoformat() if window.end else None,
            "label": months_label(covered.months),
            "months": list(covered.months),
            "skipped": covered.skipped,
        },
        "previous": {"available": previous is not None},
        "categories_filter": categories,
        "totals": totals,
        "borough": {
            "name": _borough_name(store),
            "count": borough["count"],
            "population": borough["population"],
            "rate": _f(borough["rate"]),
        },
        "categories": rows,
        "hotspots": hotspots,
        "outline": shapely.geometry.mapping(area.geometry_lonlat),
        "borough_outline": _borough_outline(store),
        "notes": notes,
        "generated": generated,
        "suppressed_below": None,
    }
    return suppress_briefing(doc, policy) if policy.public else doc


def _borough_outline(store: Store) -> dict | None:
    district = store.boundaries("district")
    if district.empty:
        return None
    geom = shapely.union_all(district.to_crs(WGS84).geometry.to_numpy())
    return shapely.geometry.mapping(geom.simplify(0.0002))  # ≈ 15 m: enough for a small map


def _borough_name(store: Store) -> str:
    district = store.boundaries("district")
    names = [str(n) for n in district["name"] if n] if len(district) else []
    return names[0] if len(names) == 1 else "the borough"


def _f(v) -> float | None:
    v = float(v)
    return v if np.isfinite(v) else None


def _change(now: int, before: int | None) -> float | None:
    if not before:
        return None
    return round(100 * (now - before) / before, 1)


def suppress_briefing(doc: dict, policy: Disclosure) -> dict:
    """The briefing as the public may see it: every count rounded to the nearest
    ``policy.rounding`` and those below ``policy.min_count`` suppressed (``None``), the
    rates and changes worked out from the rounded counts, street names with small counts
    dropped, and no shares or windows that would give a suppressed count back."""
    count = policy.count
    out = {**doc, "suppressed_below": policy.min_count, "rounded_to": policy.rounding}
    t = dict(doc["totals"])
    t["rank"] = None  # the order of exact rates would give suppressed counts away
    n, before = count(t["count"]), count(t.get("previous_count"))
    pop = t.get("population")
    t.update(count=n, previous_count=before, change_pct=_change(n, before) if n else None)
    if n is None or not pop:
        t.update(rate=None, rate_low=None, rate_high=None, ratio_to_borough=None)
    else:
        t["rate"] = round(1000 * n / pop, 2)
        t.update(rate_low=None, rate_high=None)
    b = dict(doc["borough"])
    b["count"] = count(b["count"])
    b["rate"] = (
        round(1000 * b["count"] / b["population"], 2) if b["count"] and b["population"] else None
    )
    if t["rate"] is not None and b["rate"]:
        t["ratio_to_borough"] = round(t["rate"] / b["rate"], 1)
    out["totals"], out["borough"] = t, b
    rows = []
    for r in doc["categories"]:
        r = dict(r)
        n, before, bn = count(r["count"]), count(r.get("previous_count")), count(r["borough_count"])
        if bn is None:
            continue  # a row would say the borough had 1–4 of them
        rate = round(1000 * n / pop, 2) if n is not None and pop else None
        b_rate = r.get("borough_rate")
        b_rate = round(b_rate * bn / r["borough_count"], 2) if bn and b_rate else None
        r.update(
            count=n,
            previous_count=before,
            change_pct=_change(n, before) if n is not None else None,
            borough_count=bn,
            rate=rate,
            borough_rate=b_rate,
            ratio_to_borough=round(rate / b_rate, 1) if rate and b_rate else None,
        )
        rows.append(r)
    rows.sort(key=lambda r: (-(r["count"] or 0), r["category"]))  # by the rounded counts
    out["categories"] = rows
    spots = []
    for h in doc["hotspots"]:
        h = dict(h)
        h["count"] = count(h["count"])
        if h["count"] is None:
            continue  # a place with fewer than the threshold is not shown at all
        h.update(harm=policy.figure(h.get("harm")), window=None, trend=None)
        h["categories"] = {k: count(v) for k, v in h["categories"].items() if count(v) is not None}
        h["top_locations"] = [
            [loc, count(v)] for loc, v in h["top_locations"] if count(v) is not None
        ]
        spots.append(h)
    out["hotspots"] = spots
    return out
