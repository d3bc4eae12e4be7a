"""Near-repeat victimisation: the Knox test over space and time bands, and risk zones.

After a burglary, the homes nearby are at raised risk for a few weeks. The
Knox test measures this: it counts pairs of incidents that are close in both
space and time, and compares the count with what chance would give if the
times were unrelated to the places (Knox 1964; Johnson & Bowers 2004, as in
Ratcliffe's Near Repeat Calculator).

Bands are **half-open intervals**, exactly: a space band ``[a, b)`` holds the
pairs at distance ``a ≤ d < b`` metres, a time band ``[a, b)`` the pairs
whose times differ by ``a ≤ |Δt| < b`` days. With whole-day times and bands
``(0, 1, 8, 15)`` the bands are "same day" (Δt = 0), "1 to 7 days"
(Δt = 1…7) and "8 to 14 days" (Δt = 8…14). The widely used Near Repeat
Calculator counts a band it labels "a to b days" as ``[a − 1, b)``, so its
first band after "same day" silently includes same-day pairs; this module
does not reproduce that, and every table states its bands.

Significance is by Monte Carlo: the times are permuted among the incidents
(places fixed), ``P`` times; the expected count of a cell is the mean over
permutations and its one-sided pseudo p-value is
``(#{permuted ≥ observed} + 1) / (P + 1)``. Permutation ``k`` uses the
``k``-th ``rng.permutation(n)`` of ``numpy.random.default_rng(seed)``, so a
result is reproducible from its seed.

**police.uk dates are months.** Their incidents carry the first day of the
month, so ``|Δt|`` can only be 0 (same month) or a whole number of months
(28–31 days per step). Knox on such data only makes sense with month-wide
time bands, e.g. :data:`MONTH_BANDS_DAYS` = ``(0, 1, 32, 63, 93)``: same
month, next month, two months, three months apart. Day-wide bands on month
data compare snapping artefacts, not behaviour.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.spatial import cKDTree

from .points import as_xy

#: Time bands for month-precision data (police.uk): same month, then 1, 2, 3 months apart.
MONTH_BANDS_DAYS = (0.0, 1.0, 32.0, 63.0, 93.0)
#: Time bands for day-precision data: same day, then weekly up to four weeks.
DAY_BANDS_DAYS = (0.0, 1.0, 8.0, 15.0, 22.0, 29.0)
_PAIR_BLOCK = 4_000_000  # pair × permutation elements per block (≈ 32 MB of float64)


def _edges(values, name: str, unit: str) -> np.ndarray:
    e = np.asarray(values, dtype=float).ravel()
    if e.size < 2 or not np.all(np.isfinite(e)) or e[0] < 0 or np.any(np.diff(e) <= 0):
        raise ValueError(
            f"{name}: expected at least two increasing edges ≥ 0 in {unit} (bands [a, b) "
            f"between consecutive edges), got {list(values)!r}"
        )
    return e


def days_since(occurred_at, origin: datetime | str | None = None) -> np.ndarray:
    """Times as float days since ``origin`` (default: the earliest), for :func:`knox`."""
    at = pd.to_datetime(pd.Series(occurred_at))
    if at.isna().any():
        raise ValueError(f"occurred_at: {int(at.isna().sum())} missing or unreadable dates")
    start = pd.Timestamp(origin) if origin is not None else at.min()
    return ((at - start) / pd.Timedelta(days=1)).to_numpy(float)


@dataclass
class KnoxResult:
    """Observed and expected pair counts per (space band, time band), with p-values.

    Arrays are space bands × time bands. ``ratio`` is observed / expected
    (the Knox ratio; NaN where nothing is expected).
    """

    space_bands_m: np.ndarray
    time_bands_days: np.ndarray
    observed: np.ndarray
    expected: np.ndarray
    p: np.ndarray
    permutations: int
    seed: int
    n_events: int
    n_pairs: int  # pairs inside the bands
    notes: list[str] = field(default_factory=list)

    @property
    def ratio(self) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(self.expected > 0, self.observed / self.expected, np.nan)

    def space_labels(self) -> list[str]:
        e = self.space_bands_m
        return [f"[{a:g}, {b:g}) m" for a, b in itertools.pairwise(e)]

    def time_labels(self) -> list[str]:
        e = self.time_bands_days
        return [f"[{a:g}, {b:g}) days" for a, b in itertools.pairwise(e)]

    def table(self) -> pd.DataFrame:
        """One row per cell: bands, observed, expected, Knox ratio, p."""
        s, t = (a.ravel() for a in np.indices(self.observed.shape))
        return pd.DataFrame(
            {
                "space_band": np.array(self.space_labels())[s],
                "time_band": np.array(self.time_labels())[t],
                "space_from_m": self.space_bands_m[s],
                "space_to_m": self.space_bands_m[s + 1],
                "time_from_days": self.time_bands_days[t],
                "time_to_days": self.time_bands_days[t + 1],
                "observed": self.observed.ravel(),
                "expected": self.expected.ravel(),
                "ratio": self.ratio.ravel(),
                "p": self.p.ravel(),
            }
        )

    def extent(self, alpha: float = 0.05) -> tuple[float, float] | None:
        """How far and how long near repeats reach: ``(radius_m, days)`` or ``None``.

        The nearest cell must be significant (``p < alpha`` and ratio > 1);
        the radius is the outer edge of the last space band that is
        significant at the shortest time band with every nearer band
        significant too, and likewise the days along the nearest space band.
        Use it for :func:`risk_zones`.
        """
        sig = (self.p < alpha) & (self.ratio > 1)
        if not sig.size or not sig[0, 0]:
            return None
        ns = int(np.argmin(np.append(sig[:, 0], False)))
        nt = int(np.argmin(np.append(sig[0, :], False)))
        return float(self.space_bands_m[ns]), float(self.time_bands_days[nt])

    def to_dict(self) -> dict:
        rows = self.table().to_dict("records")
        for r in rows:
            for k, v in r.items():
                if isinstance(v, float) and not np.isfinite(v):
                    r[k] = None
        ext = self.extent()
        return {
            "bands": "half-open [a, b): a ≤ distance < b metres, a ≤ |Δt| < b days",
            "space_bands_m": self.space_bands_m.tolist(),
            "time_bands_days": self.time_bands_days.tolist(),
            "permutations": self.permutations,
            "seed": self.seed,
            "n_events": self.n_events,
            "n_pairs": self.n_pairs,
            "cells": rows,
            "extent": None if ext is None else {"radius_m": ext[0], "days": ext[1]},
            "notes": self.notes,
        }


def knox(
    x,
    y,
    t_days,
    space_bands_m: Sequence[float],
    time_bands_days: Sequence[float],
    permutations: int = 999,
    seed: int = 0,
) -> KnoxResult:
    """Knox test of space–time interaction with Monte Carlo p-values.

    Parameters
    ----------
    x, y : coordinates in metres (projected CRS).
    t_days : times in days (float), e.g. :func:`days_since`. For police.uk
        month-precision data use month-wide bands (:data:`MONTH_BANDS_DAYS`).
    space_bands_m : band edges in metres, increasing; band ``k`` is
        ``[e[k], e[k+1])``. Pairs nearer than the first edge or at least the
        last are not counted.
    time_bands_days : band edges in days, increasing; band ``l`` is
        ``[e[l], e[l+1])`` of ``|Δt|``: exactly, not the Near Repeat
        Calculator's ``[a − 1, b)``.
    permutations : Monte Carlo permutations of the times (≥ 1; 999 resolves
        p down to 0.001).
    seed : seed of ``numpy.random.default_rng``.

    Returns
    -------
    KnoxResult

    Notes
    -----
    Pairs are found once with a k-d tree within the largest space edge, so
    cost grows with the number of close pairs times permutations, not with
    ``n²``. Each unordered pair counts once.

    Examples
    --------
    >>> r = knox([0, 10, 500], [0, 0, 0], [0, 2, 30], [0, 100, 1000], [0, 7, 60],
    ...          permutations=9)
    >>> r.observed.tolist()
    [[1, 0], [0, 2]]
    """
    x, y = as_xy(x, y)
    t = np.ascontiguousarray(t_days, dtype=float).ravel()
    if t.shape != x.shape:
        raise ValueError(f"t_days: expected {x.size} times (one per point), got {t.size}")
    if not np.all(np.isfinite(t)):
        raise ValueError(f"t_days: expected finite numbers, got {int((~np.isfinite(t)).sum())} not")
    se = _edges(space_bands_m, "space_bands_m", "metres")
    te = _edges(time_bands_days, "time_bands_days", "days")
    if isinstance(permutations, bool) or not isinstance(permutations, int) or permutations < 1:
        raise ValueError(f"permutations: expected a whole number ≥ 1, got {permutations!r}")
    n_s, n_t = se.size - 1, te.size - 1
    n = x.size
    if n >= 2:
        pairs = cKDTree(np.column_stack([x, y])).query_pairs(se[-1], output_type="ndarray")
    else:
        pairs = np.empty((0, 2), dtype=np.int64)
    i, j = pairs[:, 0], pairs[:, 1]
    d = np.hypot(x[i] - x[j], y[i] - y[j])
    s_band = np.searchsorted(se, d, side="right") - 1
    keep = (s_band >= 0) & (s_band < n_s)
    i, j, s_band = i[keep], j[keep], s_band[keep]

    # searchsorted gives 0 below the first time edge and n_t + 1 at or beyond the last:
    # two spill columns per space band, dropped after one bincount (no masking per draw)
    width = n_t + 2
    offset = s_band.astype(np.int64) * width
    i32, j32 = i.astype(np.intp), j.astype(np.intp)

    def count(times: np.ndarray) -> np.ndarray:
        dt = np.abs(times[i32] - times[j32])
        flat = offset + np.searchsorted(te, dt, side="right")
        return np.bincount(flat, minlength=n_s * width).reshape(n_s, width)[:, 1 : n_t + 1]

    observed = count(t)
    rng = np.random.default_rng(seed)
    total = np.zeros((n_s, n_t))
    at_least = np.zeros((n_s, n_t), dtype=np.int64)
    for _ in range(permutations):
        sim = count(t[rng.permutation(n)])
        total += sim
        at_least += sim >= observed
    notes = []
    u = np.unique(t)
    widths = np.diff(te)
    if u.size > 1 and np.diff(u).min() >= 27.5 and np.any(widths[1:] < 27.5):
        notes.append(
            "distinct times are at least 28 days apart (month-precision data, as police.uk?): "
            "time bands narrower than a month compare the snapping of dates, not behaviour; "
            "use month-wide bands such as MONTH_BANDS_DAYS"
        )
    return KnoxResult(
        space_bands_m=se,
        time_bands_days=te,
        observed=observed,
        expected=total / permutations,
        p=(at_least + 1) / (permutations + 1),
        permutations=permutations,
        seed=seed,
        n_events=n,
        n_pairs=int(observed.sum()),
        notes=notes,
    )


def risk_zones(
    x,
    y,
    occurred_at,
    *,
    as_of: datetime | str,
    radius_m: float,
    days: float,
    crs: str = "EPSG:27700",
    dissolve: bool = True,
) -> gpd.GeoDataFrame:
    """Near-repeat risk zones: a circle round each recent incident, with an expiry date.

    An incident at time ``t`` raises the risk within ``radius_m`` until
    ``t + days`` (take both from :meth:`KnoxResult.extent`). Zones active at
    ``as_of`` (``t ≤ as_of < t + days``) are returned.

    Parameters
    ----------
    x, y : coordinates in ``crs`` (metres).
    occurred_at : dates or datetimes, one per point.
    dissolve : merge overlapping circles; each merged zone expires when its
        last incident's zone does.

    Returns
    -------
    GeoDataFrame in ``crs`` with ``incidents``, ``first_occurred``,
    ``last_occurred`` and ``expires`` (a map can fade a zone towards it),
    sorted by ``expires``.
    """
    x, y = as_xy(x, y)
    if not radius_m > 0 or not days > 0:
        raise ValueError(f"radius_m and days: expected > 0, got {radius_m!r} and {days!r}")
    at = pd.to_datetime(pd.Series(occurred_at)).reset_index(drop=True)
    if len(at) != x.size:
        raise ValueError(f"occurred_at: expected {x.size} dates (one per point), got {len(at)}")
    when = pd.Timestamp(as_of)
    expires = at + pd.Timedelta(days=float(days))
    active = ((at <= when) & (expires > when)).to_numpy()
    xa, ya, ta, ea = x[active], y[active], at[active], expires[active]
    columns = ["incidents", "first_occurred", "last_occurred", "expires"]
    if not active.any():
        return gpd.GeoDataFrame({c: [] for c in columns}, geometry=[], crs=crs)
    circles = shapely.buffer(shapely.points(xa, ya), float(radius_m))
    if not dissolve:
        out = gpd.GeoDataFrame(
            {
                "incidents": 1,
                "first_occurred": ta.to_numpy(),
                "last_occurred": ta.to_numpy(),
                "expires": ea.to_numpy(),
            },
            geometry=circles,
            crs=crs,
        )
        return out.sort_values("expires", kind="stable").reset_index(drop=True)
    parts = shapely.get_parts(shapely.union_all(circles))
    tree = shapely.STRtree(parts)
    member, part = tree.query(shapely.points(xa, ya), predicate="within")
    df = pd.DataFrame({"part": part, "t": ta.to_numpy()[member], "e": ea.to_numpy()[member]})
    g = df.groupby("part")
    out = gpd.GeoDataFrame(
        {
            "incidents": g.size().to_numpy(),
            "first_occurred": g["t"].min().to_numpy(),
            "last_occurred": g["t"].max().to_numpy(),
            "expires": g["e"].max().to_numpy(),
        },
        geometry=parts[g.size().index.to_numpy()],
        crs=crs,
    )
    return out.sort_values("expires", kind="stable").reset_index(drop=True)


__all__ = ["MONTH_BANDS_DAYS", "KnoxResult", "days_since", "knox", "risk_zones"]
