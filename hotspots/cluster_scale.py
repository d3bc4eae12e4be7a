"""Patrol-scale defaults for DBSCAN and HDBSCAN, from the study area and the data.

A hotspot an officer can act on is a few streets, not a district. The rule,
written in every run's provenance with the numbers it used:

1. **The study area's average density.** ``n`` incidents (the whole window,
   so the months analysed are counted in) over the study area's ``A`` km² (the
   district when the store has one, else the convex hull of the incidents):
   ``n / A`` incidents per km².
2. **The hotspot density** is :data:`DENSITY_MULTIPLE` (16) times that
   average. Police.uk points are snapped to a few thousand places, so towns
   already look dense next to fields; 16× is where, on Gravesham's police.uk
   months (violence, ASB, criminal damage, 4 to 11 months), town centres
   break into several street-scale clusters rather than one town-sized one.
3. **eps** (DBSCAN) is the knee of the 10-distance curve
   (:func:`hotspots.eps.suggest_eps_m`), capped at :data:`PATROL_EPS_M`
   (150 m, a few streets) and never below 50 m.
4. **min_samples** (DBSCAN) is the number of incidents a disc of radius eps
   holds at the hotspot density, ``ceil(16 · n / A · π eps²)``, at least
   :data:`MIN_SAMPLES_FLOOR` (5): a core incident has that many incidents
   within eps, itself included.
   Sparse categories are held to a floor of 5 incidents within 150 m (71 per km²).
5. **HDBSCAN** uses half of the 150 m disc's count for both ``min_cluster_size``
   (at least 5) and ``min_samples`` (at least 2), keeps the leaves of its
   condensed tree (the smallest dense places, scikit-learn's
   ``cluster_selection_method="leaf"``), and leaves out clusters less dense
   than the hotspot density: HDBSCAN finds groups at any density, and a
   sparse group of villages is not a hotspot.

When nothing reaches the threshold (sparse categories such as fly-tipping
over a short window), :func:`no_cluster_advice` tries smaller ``min_samples``
and larger ``eps_m`` and says which setting would give clusters.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import shapely

#: the largest automatic eps: a few streets of a town centre
PATROL_EPS_M = 150.0
#: hotspot density as a multiple of the study area's average
DENSITY_MULTIPLE = 16.0
#: the smallest automatic DBSCAN min_samples / HDBSCAN min_cluster_size
MIN_SAMPLES_FLOOR = 5


@dataclass(frozen=True)
class StudyDensity:
    """Incidents per km² over the study area, and the hotspot density derived from it."""

    n: int
    area_km2: float
    area_source: str  # "the study area" or "the incidents' convex hull"
    n_months: int

    @property
    def mean_per_km2(self) -> float:
        return self.n / self.area_km2 if self.area_km2 > 0 else 0.0

    @property
    def floor_per_km2(self) -> float:
        """:data:`MIN_SAMPLES_FLOOR` incidents in a :data:`PATROL_EPS_M` disc, per km²."""
        return MIN_SAMPLES_FLOOR / (math.pi * (PATROL_EPS_M / 1000.0) ** 2)

    @property
    def hotspot_per_km2(self) -> float:
        return max(DENSITY_MULTIPLE * self.mean_per_km2, self.floor_per_km2)

    def disc_count(self, radius_m: float) -> float:
        """Incidents a disc of ``radius_m`` holds at the hotspot density.

        Examples
        --------
        >>> d = StudyDensity(n=1000, area_km2=100.0, area_source="the study area", n_months=12)
        >>> round(d.hotspot_per_km2), round(d.disc_count(150), 1)
        (160, 11.3)
        """
        return self.hotspot_per_km2 * math.pi * (radius_m / 1000.0) ** 2

    def describe(self) -> str:
        months = f" over {self.n_months} month{'s' if self.n_months != 1 else ''}"
        text = (
            f"{self.n:,} incidents{months if self.n_months else ''} in {self.area_km2:,.0f} km² "
            f"({self.area_source}): {_people(self.mean_per_km2)} per km² on average; a hotspot "
            f"is {DENSITY_MULTIPLE:g}× that"
        )
        if DENSITY_MULTIPLE * self.mean_per_km2 < self.floor_per_km2:
            return text + (
                f" but at least {MIN_SAMPLES_FLOOR} incidents within {PATROL_EPS_M:.0f} m, "
                f"{_people(self.hotspot_per_km2)} per km²"
            )
        return text + f", {_people(self.hotspot_per_km2)} per km²"


def _people(v: float) -> str:
    """A figure rounded for reading: whole numbers from 10, one decimal below."""
    return f"{v:,.0f}" if abs(v) >= 10 else f"{v:.1f}"


def study_density(
    x: np.ndarray, y: np.ndarray, area_m2: float | None, n_months: int = 0
) -> StudyDensity:
    """The average density of ``x``/``y`` (metres) over ``area_m2`` (the study area in the
    analysis CRS), or over the incidents' convex hull (at least 1 km²) when it is unknown."""
    n = len(x)
    if area_m2 and area_m2 > 0:
        return StudyDensity(n, area_m2 / 1e6, "the study area", n_months)
    hull = shapely.convex_hull(shapely.multipoints(np.c_[x, y])) if n else None
    km2 = max(1.0, (hull.area if hull is not None else 0.0) / 1e6)
    return StudyDensity(n, km2, "the incidents' convex hull", n_months)


def dbscan_scale(
    x: np.ndarray,
    y: np.ndarray,
    density: StudyDensity,
    eps_m: float | None = None,
    min_samples: int | None = None,
) -> tuple[dict, float, int]:
    """``(automatic, eps_m, min_samples)``: the values not given, with their reasons.

    ``automatic`` maps each chosen parameter to ``{"value", "reason"}`` for the
    provenance; the reasons quote the numbers used, rounded for people.
    """
    from .eps import suggest_eps_m

    auto: dict[str, dict] = {}
    if eps_m is None:
        if len(x) > 10:
            eps_m, reason = suggest_eps_m(x, y, 10, bounds_m=(50.0, PATROL_EPS_M))
            reason += f" ({PATROL_EPS_M:.0f} m: a few streets, what a patrol covers)"
        else:
            eps_m, reason = PATROL_EPS_M, f"eps {PATROL_EPS_M:.0f} m: too few incidents to judge"
        auto["eps_m"] = {"value": eps_m, "reason": reason}
    if min_samples is None:
        raw = density.disc_count(eps_m)
        min_samples = max(MIN_SAMPLES_FLOOR, math.ceil(raw))
        auto["min_samples"] = {
            "value": min_samples,
            "reason": (
                f"min_samples {min_samples}: a {eps_m:.0f} m disc holds {raw:.1f} incidents "
                f"at hotspot density ({density.describe()}), rounded up and never below "
                f"{MIN_SAMPLES_FLOOR}: a core incident has that many within {eps_m:.0f} m"
            ),
        }
    return auto, float(eps_m), int(min_samples)


def hdbscan_scale(
    density: StudyDensity,
    min_cluster_size: int | None = None,
    min_samples: int | None = None,
) -> tuple[dict, int, int]:
    """``(automatic, min_cluster_size, min_samples)`` for HDBSCAN, with reasons."""
    auto: dict[str, dict] = {}
    disc = density.disc_count(PATROL_EPS_M)
    half = disc / 2
    lead = (
        f"half the {disc:.1f} incidents a {PATROL_EPS_M:.0f} m disc holds at hotspot "
        f"density ({density.describe()}), rounded down"
    )
    if min_cluster_size is None:
        min_cluster_size = max(MIN_SAMPLES_FLOOR, math.floor(half))
        auto["min_cluster_size"] = {
            "value": min_cluster_size,
            "reason": f"min_cluster_size {min_cluster_size}: {lead}; never below "
            f"{MIN_SAMPLES_FLOOR}",
        }
    if min_samples is None:
        min_samples = max(2, math.floor(half))
        auto["min_samples"] = {
            "value": min_samples,
            "reason": f"min_samples {min_samples}: {lead}; never below 2",
        }
    return auto, int(min_cluster_size), int(min_samples)


def dense_enough(count: np.ndarray, area_m2: np.ndarray, density: StudyDensity) -> np.ndarray:
    """True for clusters whose incidents per km² of their outline reach the hotspot density."""
    km2 = np.maximum(np.asarray(area_m2, float), 1.0) / 1e6
    return np.asarray(count, float) / km2 >= density.hotspot_per_km2


def no_cluster_advice(x, y, method: str, eps_m: float | None, min_samples: int) -> str:
    """What to change when no cluster reaches the threshold: the first of smaller
    ``min_samples`` (down to 3) or larger ``eps_m`` (up to 400 m) that gives clusters."""
    from .dbscan import dbscan_labels

    if method == "hdbscan":
        dbscan = no_cluster_advice(x, y, "dbscan", PATROL_EPS_M, MIN_SAMPLES_FLOOR)
        return "no HDBSCAN cluster is as dense as a hotspot; for DBSCAN: " + dbscan
    eps = float(eps_m or PATROL_EPS_M)
    lead = (
        f"no cluster reaches the density threshold (at least {min_samples} incidents within "
        f"{eps:.0f} m)"
    )
    # the largest min_samples that makes a core point at this eps is the most incidents
    # any disc of radius eps around an incident holds (itself included): one count, not
    # one DBSCAN per smaller value
    tries = []
    if len(x):
        from scipy.spatial import cKDTree

        xy = np.column_stack([np.asarray(x, float), np.asarray(y, float)])
        most = int(cKDTree(xy).query_ball_point(xy, eps, return_length=True).max())
        if 3 <= most < min_samples:
            tries.append((eps, most))
    tries += [(e, min_samples) for e in (200.0, 250.0, 300.0, 400.0) if e > eps]
    for e, ms in tries:
        labels, _ = dbscan_labels(x, y, e, ms)
        k = int(labels.max()) + 1 if len(labels) else 0
        if k:
            change = f"min_samples {ms}" if e == eps else f"eps_m {e:.0f}"
            return (
                f"{lead}; with {change} there would be {k} cluster{'s' if k > 1 else ''} "
                "(set it explicitly), or use method gistar or kde, which suit sparse points"
            )
    return (
        f"{lead}, and none would form with min_samples down to 3 or eps_m up to 400 m: these "
        "points are too sparse to cluster; use method gistar or kde, or a longer window"
    )


def suggest_min_samples(
    x: np.ndarray,
    y: np.ndarray,
    eps_m: float,
    *,
    quantile: float = 0.90,
    sample: int = 20_000,
    seed: int = 0,
) -> tuple[int, str]:
    """The former analysis default, still used by the backtest's ``dbscan`` method
    (:mod:`hotspots.forecast`): the ``quantile`` of incidents within ``eps_m`` of each
    incident (itself included; a seeded sample of ``sample``), at least 10."""
    from scipy.spatial import cKDTree

    n = len(x)
    pts = np.column_stack([x, y])
    rng = np.random.default_rng(seed)
    idx = rng.choice(n, size=sample, replace=False) if n > sample else np.arange(n)
    counts = cKDTree(pts).query_ball_point(pts[idx], eps_m, return_length=True)
    value = int(max(10, np.ceil(np.quantile(counts, quantile))))
    return value, (
        f"min_samples {value}: {quantile:.0%} of incidents have at most that many incidents "
        f"within {eps_m:.0f} m"
    )


__all__ = [
    "DENSITY_MULTIPLE",
    "MIN_SAMPLES_FLOOR",
    "PATROL_EPS_M",
    "StudyDensity",
    "dbscan_scale",
    "dense_enough",
    "hdbscan_scale",
    "no_cluster_advice",
    "study_density",
    "suggest_min_samples",
]
