"""Days of action: choose micro-places that cover the most harm, say when to go, and in what order.

:func:`plan_days_of_action` takes incidents (columns of
``geodata.model.INCIDENT_SCHEMA``), an area, categories and a period, and
either a number of sites ``K`` or an officer-hours budget. It returns a
:class:`Plan`: the sites (H3 cells, resolution 10 by default: ≈ 0.015 km²,
edge ≈ 76 m, a few minutes' walk across), why each was chosen, a patrol
window for each, and a visiting order.

How sites are chosen
    A site is an H3 cell, or with ``ring=1`` a cell and its six neighbours
    (a "cluster core" ≈ 0.1 km²). The objective is harm covered: the sum of
    harm weights (:mod:`hotspots.harm`) of the incidents inside the chosen
    sites, each incident counted once. Selection is **greedy maximum
    coverage** (repeatedly take the site that adds the most harm not yet
    covered; lazy evaluation). For ``ring=0`` the cells are disjoint, so the
    greedy choice is the exact optimum (the K cells with most harm); for
    ``ring>0`` greedy is within a factor 1 − 1/e of the optimum.
    With a budget, a site is taken only if the whole plan still fits:
    ``sites × hours_per_site + travel`` where travel is the route's
    straight-line length × ``detour_factor`` at ``speed_kmh``.

Preferred days and times
    When incidents have times (council, fire-service data), the objective
    counts only the harm of incidents inside the preferred days/hours
    (incidents whose time is unknown count in full: nothing says they fall
    outside). police.uk is dated to the month only: preferences cannot
    change where to go, and each site's window says times are unknown.

Visiting order
    Nearest neighbour from every site (and the chosen order itself), each
    improved by 2-opt on projected metres; the shortest open path wins, so
    it is never longer than the order the sites were chosen in.

PAI
    Chainey's Predictive Accuracy Index: share of harm covered ÷ share of
    the area covered (also given for counts). The area is the study area
    (borough, ward or LSOA polygon); without one, the convex hull of the
    incidents.
"""

from __future__ import annotations

import heapq

import geopandas as gpd
import h3
import numpy as np
import pandas as pd
import shapely

from geodata.crs import lonlat_to_xy

from .analysis import ANONYMISED_SOURCES, category_window_mask
from .codes import starts_with
from .grid import assign_cells
from .harm import HarmWeights
from .patrol_window import _trend, _when_fitted, patrol_window
from .plan_model import (
    MAX_SITES,
    InvalidPlan,
    Plan,
    PlanParams,
    PlanSite,
)
from .route import insertion_cost, path_length, visiting_order
from .temporal import month_keys, temporal_profile


def _filter(incidents: pd.DataFrame, params: PlanParams, area_lonlat) -> pd.DataFrame:
    keep = np.isfinite(incidents["lon"].to_numpy(float)) & np.isfinite(
        incidents["lat"].to_numpy(float)
    )
    keep &= category_window_mask(incidents, params.categories, params.start, params.end)
    if area_lonlat is not None:
        shapely.prepare(area_lonlat)
        keep &= shapely.contains_xy(
            area_lonlat, incidents["lon"].to_numpy(float), incidents["lat"].to_numpy(float)
        )
    return incidents.loc[keep].reset_index(drop=True)


def _cells_polygon(cells: list[str]) -> shapely.Geometry:
    polys = [shapely.Polygon([(lng, lat) for lat, lng in h3.cell_to_boundary(c)]) for c in cells]
    return polys[0] if len(polys) == 1 else shapely.union_all(polys)


def _area_m2(geoms_lonlat, crs: str) -> np.ndarray:
    return gpd.GeoSeries(list(geoms_lonlat), crs="EPSG:4326").to_crs(crs).area.to_numpy()


def plan_days_of_action(
    incidents: pd.DataFrame,
    params: PlanParams,
    *,
    crs: str = "EPSG:27700",
    area_lonlat: shapely.Geometry | None = None,
    area_name: str | None = None,
    months: list[str] | None = None,
    harm_weights: HarmWeights | None = None,
    show_sensitive_locations: bool = False,
    min_places: int | None = None,
) -> Plan:
    """Choose sites for a day of action, give each a patrol window and put them in a short route.

    Parameters
    ----------
    incidents : columns of ``INCIDENT_SCHEMA`` (lon, lat, category,
        occurred_at, occurred_precision; location and sensitive when present).
    params : :class:`PlanParams`.
    area_lonlat : the area (WGS84 polygon); incidents outside it are left
        out and its area is the PAI's denominator.
    months : months with data (``YYYY-MM``) in the period, of any category;
        default: those present in the selected incidents.
    show_sensitive_locations : list street names of sensitive incidents in
        a site's top locations (analysts only); otherwise they are counted
        but never named.
    min_places : for roles below analyst: a place whose incidents sit on fewer
        distinct locations is never offered as a site (see ``api.disclosure``),
        unless it holds a police.uk snap point (anonymised at source: each stands
        for several addresses); roles below analyst also get incidents without the
        sensitive ones.
    """
    harm_weights = harm_weights or HarmWeights.default()
    data = _filter(incidents, params, area_lonlat)
    notes: list[str] = []
    harm = harm_weights.weigh(data["category"].to_numpy()) if len(data) else np.zeros(0)
    prec = (
        data["occurred_precision"].to_numpy(str)
        if "occurred_precision" in data
        else np.full(len(data), "month")
    )
    timed = prec == "minute"
    stamps = pd.to_datetime(data["occurred_at"])
    months = sorted(months) if months is not None else sorted(set(month_keys(stamps)))
    # The objective: harm inside the preferred days/hours where the time is known.
    objective = harm.copy()
    if timed.any() and (params.days or params.hours_of_day):
        dow = stamps.dt.day_of_week.to_numpy()
        hour = stamps.dt.hour.to_numpy()
        inside = params.preferred_days()[dow] & params.preferred_hours()[hour]
        objective[timed & ~inside] = 0.0
        notes.append(
            f"{int((timed & ~inside).sum()):,} of {int(timed.sum()):,} timed incidents fall "
            f"outside the preferred {params.describe_preference()} and do not count towards "
            "choosing sites (they still count in coverage and PAI)"
        )
    elif params.days or params.hours_of_day:
        notes.append(
            "no incident has a time of day, so the preferred days and times cannot steer "
            "where to go; sites are chosen on all the harm"
        )
    if len(data) and not timed.any() and (prec == "month").any():
        notes.append(
            "times of day are unknown: police.uk data is dated to the month only; patrol "
            "windows use the months and seasons instead"
        )

    # Study area
    if area_lonlat is not None:
        area_m2 = float(_area_m2([area_lonlat], crs)[0])
    elif len(data) >= 3:
        hull = shapely.MultiPoint(data[["lon", "lat"]].to_numpy()).convex_hull
        area_m2 = float(_area_m2([hull], crs)[0]) if hull.area > 0 else 0.0
        notes.append("no area given: the convex hull of the incidents is the PAI's area")
    else:
        area_m2 = 0.0

    cell_of = (
        assign_cells(data["lat"].to_numpy(), data["lon"].to_numpy(), params.resolution)
        if len(data)
        else np.array([], dtype="<U15")
    )
    elements, inc_elem = np.unique(cell_of, return_inverse=True)
    n_el = len(elements)
    el_obj = np.bincount(inc_elem, weights=objective, minlength=n_el)
    el_harm = np.bincount(inc_elem, weights=harm, minlength=n_el)
    el_count = np.bincount(inc_elem, minlength=n_el)
    index = {c: i for i, c in enumerate(elements.tolist())}
    if params.ring == 0:
        disks = [[c] for c in elements.tolist()]
    else:
        disks = [sorted(h3.grid_disk(c, params.ring)) for c in elements.tolist()]
    members = [np.array([index[c] for c in d if c in index], dtype=np.int64) for d in disks]

    start_xy = None
    if params.start_lonlat is not None:
        sx, sy = lonlat_to_xy(
            np.array([params.start_lonlat[0]]), np.array([params.start_lonlat[1]]), crs
        )
        start_xy = (float(sx[0]), float(sy[0]))
    centre_ll = np.array([h3.cell_to_latlng(c) for c in elements.tolist()]).reshape(-1, 2)
    cx, cy = lonlat_to_xy(centre_ll[:, 1], centre_ll[:, 0], crs) if n_el else (np.zeros(0),) * 2
    xy = np.column_stack([cx, cy])
    speed_m_per_h = params.speed * 1000.0 / params.detour_factor  # straight-line metres per hour

    # Below analyst a site on fewer than ``min_places`` distinct places is a map of those
    # places (the single-place rule of api.disclosure): it is not offered.
    offered = np.ones(n_el, bool)
    sensitive = (
        data["sensitive"].fillna(False).to_numpy(bool)
        if "sensitive" in data
        else np.zeros(len(data), bool)
    )
    if min_places is not None and n_el:
        # police.uk locations are already anonymised at source (each snap point stands
        # for several addresses), so a place there counts as enough; exact coordinates
        # (council, fire-service records) must sit on at least ``min_places`` places
        snapped = (
            starts_with(data["source"], ANONYMISED_SOURCES)
            if "source" in data
            else np.zeros(len(data), bool)
        )
        el_snapped = np.bincount(inc_elem, weights=snapped, minlength=n_el) > 0
        pairs = np.unique(
            np.column_stack([inc_elem, data["lon"].to_numpy(), data["lat"].to_numpy()]), axis=0
        )
        el_points = np.bincount(pairs[:, 0].astype(np.int64), minlength=n_el)
        for c, m in enumerate(members):
            if el_points[m].sum() < min_places and not el_snapped[m].any():
                offered[c] = False
        if (~offered).any():
            notes.append(
                f"{int((~offered).sum()):,} place(s) on fewer than {min_places} distinct "
                "locations were not offered as sites: they would show those locations"
            )

    # Lazy greedy maximum coverage (exact for disjoint single cells).
    covered = np.zeros(n_el, bool)
    heap = [
        (-float(el_obj[m].sum()), -int(el_count[m].sum()), c)
        for c, m in enumerate(members)
        if offered[c]
    ]
    heapq.heapify(heap)
    chosen: list[int] = []
    gains: list[np.ndarray] = []
    limit = params.sites if params.sites is not None else MAX_SITES
    travel_m = 0.0
    route: list[int] = []  # chosen candidates in travel order (budget: cheapest insertion)
    while heap and len(chosen) < limit:
        neg_gain, neg_count, cand = heapq.heappop(heap)
        new = members[cand][~covered[members[cand]]]
        gain, count = float(el_obj[new].sum()), int(el_count[new].sum())
        if gain <= 0 and count <= 0:
            continue
        if (-gain, -count) != (neg_gain, neg_count):  # stale: re-queue with the true gain
            heapq.heappush(heap, (-gain, -count, cand))
            continue
        if gain <= 0 and el_obj.sum() > 0:
            break  # nothing left that the objective values
        if params.hours is not None:
            extra, where = insertion_cost(xy, route, cand, start_xy)
            hours = (len(chosen) + 1) * params.hours_per_site + (travel_m + extra) / speed_m_per_h
            if hours > params.hours + 1e-9:
                continue
            travel_m += extra
            route.insert(where, cand)
        else:
            route.append(cand)
        chosen.append(cand)
        gains.append(new)
        covered[new] = True
    if params.hours is not None and len(chosen) == MAX_SITES:
        notes.append(f"a plan holds at most {MAX_SITES} sites; the budget allows more")
    if params.sites is not None and len(chosen) < params.sites:
        notes.append(
            f"only {len(chosen)} place(s) have incidents that count; asked for {params.sites}"
        )

    # The route so far is tried as given, so the final order is never longer than it
    # (and a budget plan stays within budget).
    pos = {c: k for k, c in enumerate(chosen)}
    in_route = [pos[c] for c in route]
    sub_order, distance_m = visiting_order(
        xy[route, 0] if route else np.zeros(0), xy[route, 1] if route else np.zeros(0), start_xy
    )
    order = [in_route[i] for i in sub_order]
    # Per-site incidents: those in the cells this site added.
    site_of_el = np.full(n_el, -1)
    for k, new in enumerate(gains):
        site_of_el[new] = k
    site_of_inc = site_of_el[inc_elem] if len(data) else np.zeros(0, int)
    disk_cells = [disks[c] for c in chosen]
    geoms = [_cells_polygon(cells) for cells in disk_cells]
    all_cells = sorted({c for cells in disk_cells for c in cells})
    covered_area = float(_area_m2([_cells_polygon(all_cells)], crs)[0]) if all_cells else 0.0
    site_areas = _area_m2(geoms, crs) if geoms else np.zeros(0)
    sites: list[PlanSite] = []
    previous = np.asarray(start_xy, float) if start_xy is not None else None
    for visit, k in enumerate(order, start=1):
        rows = np.flatnonzero(site_of_inc == k)
        sub = data.iloc[rows]
        profile = temporal_profile(sub["occurred_at"], prec[rows], months).to_dict()
        monthly = np.array([profile["monthly"][m] for m in months], float)
        here = xy[chosen[k]]
        leg = 0.0 if previous is None else float(np.hypot(*(here - previous)))
        previous = here
        cats = sub["category"].value_counts()
        sites.append(
            PlanSite(
                visit=visit,
                pick=k + 1,
                cell=elements[chosen[k]],
                cells=list(disk_cells[k]),
                centre_lon=float(centre_ll[chosen[k], 1]),
                centre_lat=float(centre_ll[chosen[k], 0]),
                count=len(rows),
                harm=float(harm[rows].sum()),
                categories={str(c): int(n) for c, n in cats.items()},
                top_locations=_top_locations(sub, sensitive[rows], show_sensitive_locations),
                area_m2=float(site_areas[k]),
                trend=_trend(monthly),
                window=patrol_window(sub["occurred_at"], prec[rows], months, params, profile),
                profile=profile,
                leg_m=leg,
                geometry=geoms[k],
            )
        )
    if not len(data):
        notes.append("no incidents match the area, categories and period")
    shifts = None
    if params.hours_of_day is not None and sites:
        from .shifts import fit_shifts

        shifts = fit_shifts(
            [s.leg_m for s in sites],
            params.hours_per_site,
            speed_m_per_h,
            params.days,
            params.hours_of_day,
        )
        for shift in shifts.shifts:
            for t in shift.times:
                site = sites[t["visit"] - 1]
                site.shift = {"day": shift.day, **t}
                _when_fitted(site.window, f"{shift.day} {t['arrive']}–{t['leave']}")
        notes[:0] = shifts.notes
    return Plan(
        params=params,
        sites=sites,
        area_name=area_name,
        n_incidents=len(data),
        total_harm=float(harm.sum()),
        covered_count=int(el_count[covered].sum()),
        covered_harm=float(el_harm[covered].sum()),
        area_m2=area_m2,
        covered_area_m2=covered_area,
        distance_m=distance_m,
        travel_hours=distance_m / speed_m_per_h,
        visit_hours=len(sites) * params.hours_per_site,
        weights_version=harm_weights.identity(),
        months=months,
        times_known=bool(timed.any()),
        notes=notes,
        area_lonlat=area_lonlat,
        start_xy=start_xy,
        shifts=shifts,
    )


def _top_locations(sub: pd.DataFrame, sensitive: np.ndarray, show_sensitive: bool, top: int = 5):
    if "location" not in sub:
        return []
    locs = sub["location"]
    if not show_sensitive:
        locs = locs[~sensitive]
    locs = locs.dropna()
    locs = locs[~locs.str.strip().str.lower().isin(["on or near", ""])]
    counts = locs.value_counts()
    ranked = sorted(counts.items(), key=lambda t: (-t[1], t[0]))[:top]
    return [[str(loc), int(n)] for loc, n in ranked]


__all__ = [
    "MAX_SITES",
    "InvalidPlan",
    "Plan",
    "PlanParams",
    "PlanSite",
    "path_length",
    "patrol_window",
    "plan_days_of_action",
    "visiting_order",
]
