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
import math
from dataclasses import asdict, dataclass, field
from datetime import datetime

import geopandas as gpd
import h3
import numpy as np
import pandas as pd
import shapely

from geodata.crs import lonlat_to_xy
from geodata.errors import HotspotsError
from geodata.taxonomy import validate_slugs

from .analysis import ANONYMISED_SOURCES, category_window_mask
from .emerging import _mk_rows
from .grid import assign_cells, validate_resolution
from .harm import HarmWeights
from .route import insertion_cost, path_length, visiting_order
from .temporal import WEEKDAYS, month_keys, temporal_profile

SPEED_KMH = {"walk": 4.8, "drive": 24.0}  # drive: urban average including stops
DETOUR_FACTOR = 1.3  # street distance ÷ straight-line distance, a common urban figure
MAX_SITES = 40
MIN_TIMED_FOR_PEAK = 5
MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


class InvalidPlan(HotspotsError, ValueError):
    """Plan parameters that cannot make a plan (what was expected, what was received)."""

    status = 422
    type = "invalid-plan"


class PlanBudgetTooSmall(InvalidPlan):
    """An officer-hours budget smaller than one visit (one field against another)."""

    type = "plan-budget"


class EmptyHours(InvalidPlan):
    """A range of hours that starts and ends at the same hour."""

    type = "empty-hours"


@dataclass(frozen=True)
class PlanParams:
    """What to plan for. Give exactly one of ``sites`` (K) and ``hours`` (an officer-hours budget).

    ``days`` are weekday names (``Mon`` … ``Sun``); ``hours_of_day`` is
    ``(first_hour, end_hour)`` on the 24-hour clock, end exclusive, and may
    wrap midnight (``(20, 2)`` is 20:00–02:00).
    """

    categories: tuple[str, ...] | None = None
    start: datetime | None = None  # inclusive
    end: datetime | None = None  # exclusive
    sites: int | None = None
    hours: float | None = None
    hours_per_site: float = 1.0
    travel_mode: str = "walk"
    speed_kmh: float | None = None
    detour_factor: float = DETOUR_FACTOR
    days: tuple[str, ...] | None = None
    hours_of_day: tuple[int, int] | None = None
    resolution: int = 10
    ring: int = 0
    start_lonlat: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        if self.categories is not None:
            validate_slugs(self.categories)
        if (self.sites is None) == (self.hours is None):
            raise InvalidPlan(
                "give either sites (a number of sites K) or hours (an officer-hours budget); "
                f"got sites={self.sites!r}, hours={self.hours!r}"
            )
        if self.sites is not None and not (
            isinstance(self.sites, int) and 1 <= self.sites <= MAX_SITES
        ):
            raise InvalidPlan(f"sites: expected a whole number 1–{MAX_SITES}, got {self.sites!r}")
        if self.hours is not None and not (0 < self.hours <= 24 * 7):
            raise InvalidPlan(f"hours: expected a budget in hours, > 0 and ≤ 168, got {self.hours}")
        if not (0 < self.hours_per_site <= 24):
            raise InvalidPlan(
                f"hours_per_site: expected hours > 0 and ≤ 24, got {self.hours_per_site}"
            )
        if self.hours is not None and self.hours < self.hours_per_site:
            raise PlanBudgetTooSmall(
                f"hours: a budget of {self.hours:g} h cannot pay for one visit of "
                f"{self.hours_per_site:g} h (hours_per_site)"
            )
        if self.travel_mode not in SPEED_KMH:
            raise InvalidPlan(
                f"travel_mode: expected one of {sorted(SPEED_KMH)}, got {self.travel_mode!r}"
            )
        if self.speed_kmh is not None and not (0 < self.speed_kmh <= 130):
            raise InvalidPlan(f"speed_kmh: expected 0 < km/h ≤ 130, got {self.speed_kmh}")
        if not (1 <= self.detour_factor <= 3):
            raise InvalidPlan(f"detour_factor: expected 1–3, got {self.detour_factor}")
        if self.days is not None:
            bad = [d for d in self.days if d not in WEEKDAYS]
            if bad or not self.days:
                raise InvalidPlan(f"days: expected some of {', '.join(WEEKDAYS)}; got {bad}")
        if self.hours_of_day is not None:
            h = self.hours_of_day
            if len(h) != 2 or not all(isinstance(v, int) and 0 <= v <= 24 for v in h):
                raise InvalidPlan(
                    f"hours_of_day: expected (first_hour, end_hour), whole hours 0–24, got {h!r}"
                )
            if h[0] % 24 == h[1] % 24:
                raise EmptyHours(f"hours_of_day: the window {h[0]}–{h[1]} is empty")
        validate_resolution(self.resolution)
        if self.ring not in (0, 1, 2):
            raise InvalidPlan(f"ring: expected 0, 1 or 2 grid steps, got {self.ring!r}")
        if self.start and self.end and self.start >= self.end:
            raise InvalidPlan(f"start {self.start} must be before end {self.end}")
        if self.start_lonlat is not None:
            lon, lat = self.start_lonlat
            finite = math.isfinite(lon) and math.isfinite(lat)
            if not (finite and -180 <= lon <= 180 and -90 <= lat <= 90):
                raise InvalidPlan(
                    f"start_lonlat: expected WGS84 (lon, lat), got {self.start_lonlat!r}"
                )

    @property
    def speed(self) -> float:
        return self.speed_kmh or SPEED_KMH[self.travel_mode]

    def preferred_hours(self) -> np.ndarray:
        """A boolean mask over hours 0–23 (all true when no preference)."""
        mask = np.ones(24, bool)
        if self.hours_of_day is not None:
            a, b = self.hours_of_day[0] % 24, self.hours_of_day[1] % 24
            hours = np.arange(24)
            mask = (hours >= a) & (hours < b) if a < b else (hours >= a) | (hours < b)
        return mask

    def preferred_days(self) -> np.ndarray:
        mask = np.ones(7, bool)
        if self.days is not None:
            mask = np.isin(np.array(WEEKDAYS), self.days)
        return mask

    def describe_preference(self) -> str | None:
        parts = []
        if self.days:
            parts.append(", ".join(self.days))
        if self.hours_of_day:
            a, b = self.hours_of_day
            parts.append(f"{a % 24:02d}:00–{b % 24:02d}:00")
        return " ".join(parts) or None

    def to_dict(self) -> dict:
        out = asdict(self)
        out["start"] = self.start.isoformat() if self.start else None
        out["end"] = self.end.isoformat() if self.end else None
        out["speed_kmh"] = self.speed
        return out


@dataclass
class PlanSite:
    """One place to visit. ``visit`` is its place in the route (1 = first)."""

    visit: int
    pick: int  # order of choice: 1 added the most harm
    cell: str  # centre cell
    cells: list[str]
    centre_lon: float
    centre_lat: float
    count: int
    harm: float
    categories: dict[str, int]
    top_locations: list[list]
    area_m2: float
    trend: dict
    window: dict
    profile: dict
    leg_m: float  # straight-line distance from the previous stop (0 for the first)
    geometry: shapely.Geometry = field(repr=False)
    #: the shift it is visited in and when (``hotspots.shifts``), when hours were given
    shift: dict | None = None

    def to_dict(self) -> dict:
        out = {k: v for k, v in asdict(self).items() if k != "geometry"}
        return _plain(out)


@dataclass
class Plan:
    """A days-of-action plan: sites in visiting order with coverage, PAI and the route."""

    params: PlanParams
    sites: list[PlanSite]
    area_name: str | None
    n_incidents: int
    total_harm: float
    covered_count: int
    covered_harm: float
    area_m2: float
    covered_area_m2: float
    distance_m: float
    travel_hours: float
    visit_hours: float
    weights_version: str
    months: list[str]
    times_known: bool
    notes: list[str]
    area_lonlat: shapely.Geometry | None = field(default=None, repr=False)
    start_xy: tuple[float, float] | None = None
    #: the sites fitted into the shifts asked for (``hotspots.shifts.ShiftFit``)
    shifts: object | None = None

    @property
    def count_share(self) -> float:
        return self.covered_count / self.n_incidents if self.n_incidents else 0.0

    @property
    def harm_share(self) -> float:
        return self.covered_harm / self.total_harm if self.total_harm else 0.0

    @property
    def area_share(self) -> float:
        return self.covered_area_m2 / self.area_m2 if self.area_m2 else 0.0

    @property
    def pai(self) -> float | None:
        """Share of harm covered ÷ share of area covered (None when no area is covered)."""
        return self.harm_share / self.area_share if self.area_share else None

    @property
    def pai_count(self) -> float | None:
        return self.count_share / self.area_share if self.area_share else None

    @property
    def total_hours(self) -> float:
        return self.visit_hours + self.travel_hours

    def summary(self) -> dict:
        return _plain(
            {
                "area": self.area_name,
                "sites": len(self.sites),
                "n_incidents": self.n_incidents,
                "total_harm": self.total_harm,
                "covered_count": self.covered_count,
                "covered_harm": self.covered_harm,
                "count_share": self.count_share,
                "harm_share": self.harm_share,
                "area_m2": self.area_m2,
                "covered_area_m2": self.covered_area_m2,
                "area_share": self.area_share,
                "pai": self.pai,
                "pai_count": self.pai_count,
                "distance_m": self.distance_m,
                "travel_hours": self.travel_hours,
                "visit_hours": self.visit_hours,
                "total_hours": self.total_hours,
                "budget_hours": self.params.hours,
                "times_known": self.times_known,
                "fits_shifts": self.shifts.fits if self.shifts is not None else None,
                "months": self.months,
                "weights_version": self.weights_version,
            }
        )

    def to_dict(self) -> dict:
        """The plan as JSON-ready data: parameters, summary, sites in visiting order, notes."""
        return {
            "type": "days-of-action-plan",
            "params": self.params.to_dict(),
            "summary": self.summary(),
            "method": METHOD_NOTE,
            "sites": [s.to_dict() for s in self.sites],
            "route_lonlat": self.route_lonlat(),
            "shifts": self.shifts.to_dict() if self.shifts is not None else None,
            "notes": list(self.notes),
        }

    def route_lonlat(self) -> list[list[float]]:
        return [[s.centre_lon, s.centre_lat] for s in self.sites]

    def to_geojson(self) -> dict:
        """Sites as WGS84 polygons (properties: everything in ``to_dict``'s site), plus the plan."""
        features = []
        for s in self.sites:
            features.append(
                {
                    "type": "Feature",
                    "id": f"site-{s.visit}",
                    "geometry": shapely.geometry.mapping(s.geometry),
                    "properties": s.to_dict(),
                }
            )
        return {
            "type": "FeatureCollection",
            "features": features,
            "plan": {
                "params": self.params.to_dict(),
                "summary": self.summary(),
                "method": METHOD_NOTE,
                "notes": list(self.notes),
            },
            "route": {"type": "LineString", "coordinates": self.route_lonlat()},
        }


METHOD_NOTE = (
    "Sites are H3 cells (or a cell with its neighbours) chosen by greedy maximum coverage of "
    "harm-weighted incidents (exact for single cells, which do not overlap); visiting order by "
    "nearest neighbour and 2-opt on straight-line metres; travel time = distance × detour "
    "factor ÷ speed."
)


def _plain(v):
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_plain(x) for x in v]
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


# --------------------------------------------------------------------------- windows


def _busiest_months(monthly: dict[str, int], top: int = 3) -> list[str]:
    ranked = sorted(((c, m) for m, c in monthly.items() if c > 0), key=lambda t: (-t[0], t[1]))
    return [m for _, m in ranked[:top]]


def _month_label(key: str) -> str:
    return f"{MONTH_NAMES[int(key[5:7]) - 1]} {key[:4]}"


def patrol_window(
    occurred_at, precision, months: list[str], params: PlanParams, profile: dict | None = None
) -> dict:
    """When to patrol one site, from its incidents' times; says plainly when times are unknown.

    With ≥ 5 timed incidents: the ``L``-hour block (``L`` = the visit length
    rounded up, at least 2) and weekday holding most of them, within the
    preferred days and hours. Otherwise: times unknown; the busiest months
    and seasonal flags (May–August, Halloween to Bonfire Night) from
    :func:`hotspots.temporal.temporal_profile`.
    """
    stamps = pd.to_datetime(pd.Series(np.asarray(occurred_at, "datetime64[us]")))
    prec = np.asarray(precision)
    timed = prec == "minute"
    profile = profile or temporal_profile(stamps, prec, months).to_dict()
    busiest = _busiest_months(profile["monthly"])
    seasons = []
    if profile["summer"]["flag"]:
        seasons.append("May–August")
    if profile["halloween_bonfire"]["flag"]:
        seasons.append(
            "Halloween to Bonfire Night"
            + (" (October–November as a whole)" if (prec == "month").any() else "")
        )
    out: dict = {
        "times_known": False,
        "timed_incidents": int(timed.sum()),
        "day": None,
        "start_hour": None,
        "end_hour": None,
        "share_in_window": None,
        "busiest_months": busiest,
        "seasonal": seasons,
        "preferred": params.describe_preference(),
    }
    month_text = "busiest months " + ", ".join(_month_label(m) for m in busiest) if busiest else ""
    season_text = ("; more than expected in " + " and ".join(seasons)) if seasons else ""
    if timed.sum() >= MIN_TIMED_FOR_PEAK:
        t = stamps[timed]
        matrix = np.zeros((7, 24))
        np.add.at(matrix, (t.dt.day_of_week.to_numpy(), t.dt.hour.to_numpy()), 1)
        length = max(2, math.ceil(params.hours_per_site))
        ok_hours, ok_days = params.preferred_hours(), params.preferred_days()
        n_ok = int(ok_hours.sum())
        length = min(length, n_ok)
        best: tuple[float, int, int] = (-1.0, 0, 0)
        for day in (int(d) for d in np.flatnonzero(ok_days)):
            for h0 in range(24):
                hours = [(h0 + i) for i in range(length)]
                if not all(ok_hours[h % 24] for h in hours):
                    continue
                score = sum(matrix[(day + h // 24) % 7, h % 24] for h in hours)
                if score > best[0]:
                    best = (float(score), day, h0)
        score, day, h0 = best
        share = score / timed.sum()
        out.update(
            times_known=True,
            day=WEEKDAYS[day],
            start_hour=h0,
            end_hour=(h0 + length) % 24,
            share_in_window=round(float(share), 3),
        )
        out["text"] = (
            f"{WEEKDAYS[day]} {h0:02d}:00–{(h0 + length) % 24:02d}:00: {int(score)} of "
            f"{int(timed.sum())} timed incidents here fell in this window"
            + (f" (within your preference: {out['preferred']})" if out["preferred"] else "")
            + (f"; {month_text}" if month_text else "")
            + season_text
        )
        out["short"] = (
            f"{WEEKDAYS[day]} {h0:02d}:00–{(h0 + length) % 24:02d}:00 "
            f"({int(score)} of {int(timed.sum())} timed incidents)"
        )
    else:
        why = (
            "times of day are unknown (police.uk is dated to the month only)"
            if (prec == "month").any()
            else f"too few incidents with a time of day ({int(timed.sum())}) to find a peak"
        )
        out["text"] = (
            why[0].upper()
            + why[1:]
            + (f"; {month_text}" if month_text else "")
            + season_text
            + (
                f". Go at your preferred times: {out['preferred']}"
                if out["preferred"]
                else ". Choose the time from local knowledge"
            )
            + "."
        )
        short_months = ", ".join(_month_label(m) for m in busiest)
        out["short"] = (
            (f"Too few timed incidents ({int(timed.sum())})" if timed.any() else "Time unknown")
            + (f"; busiest {short_months}" if busiest else "")
            + (f"; peak {' and '.join(s.split(' (')[0] for s in seasons)}" if seasons else "")
            + (f"; go {out['preferred']}" if out["preferred"] else "")
        )
    return out


def _when_fitted(window: dict, slot: str) -> None:
    """The site's own slot in the fitted shifts ("Fri 18:50–19:50") in place of the
    preference the plan was asked for, in its one-line summary."""
    preferred = window.get("preferred")
    echo = f"; go {preferred}" if preferred else None
    short = window.get("short", "")
    window["short"] = (short.removesuffix(echo) if echo else short) + f"; go {slot}"


def _trend(monthly: np.ndarray) -> dict:
    if len(monthly) < 3:
        return {"z": None, "p": None, "direction": "too few months to judge"}
    _, _, z_row, p_row = _mk_rows(monthly[None, :].astype(float))
    z, p = float(z_row[0]), float(p_row[0])
    direction = "rising" if (p < 0.05 and z > 0) else "falling" if (p < 0.05) else "no clear trend"
    return {"z": round(z, 3), "p": round(p, 4), "direction": direction}


# --------------------------------------------------------------------------- planner


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
            data["source"].astype(str).str.startswith(ANONYMISED_SOURCES).to_numpy()
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
        weights_version=harm_weights.version,
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
    "InvalidPlan",
    "Plan",
    "PlanParams",
    "PlanSite",
    "path_length",
    "patrol_window",
    "plan_days_of_action",
    "visiting_order",
]
