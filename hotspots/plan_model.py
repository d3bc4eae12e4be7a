"""What a days-of-action plan is asked for and what it is: parameters, sites, the plan.

:class:`PlanParams` checks a request (one of sites or an officer-hours budget, days,
hours, categories, scale); :class:`Plan` and :class:`PlanSite` hold the result that
:func:`hotspots.planner.plan_days_of_action` makes, with its GeoJSON and summary.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from datetime import datetime

import numpy as np
import shapely

from geodata.errors import HotspotsError
from geodata.taxonomy import validate_slugs

from .grid import validate_resolution
from .temporal import WEEKDAYS

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
