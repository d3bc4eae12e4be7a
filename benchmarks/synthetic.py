"""Deterministic synthetic incidents round Gravesend, for benchmarks and tests.

The recipe (see ``/work/shared/BENCHMARKS.md``): a square of side ``side_m``
centred on Gravesend (EPSG:27700 x=564 800, y=174 200); about 60 % of the
incidents in Gaussian clusters (standard deviation 50–300 m, about 40 clusters
per 30 × 30 km), the rest uniform over the square. Up to 100k incidents the
square is 30 km across; above that, with ``keep_density=True``, its side grows
by √(n / 100k) and the number of clusters with its area, so the density (and
the neighbourhood of a point) stays as at 100k.

``snapped=True`` imitates police.uk's anonymisation: about n / 2.3 distinct
"snap points" are drawn by the same recipe and every incident is put on one of
them (each point used at least once, the rest by a skewed popularity), so many
incidents share exact coordinates.

Every random draw comes from ``numpy.random.default_rng(seed)``: the same
arguments always give the same frame.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from geodata.crs import BNG, xy_to_lonlat

GRAVESEND_XY = (564_800.0, 174_200.0)
BASE_N = 100_000
BASE_SIDE_M = 30_000.0
BASE_CLUSTERS = 40
CLUSTERED_SHARE = 0.6
SNAP_RATIO = 2.3  # police.uk: about 2.3 incidents per distinct snap point
START_MONTH = "2022-01-01"

#: police.uk street-level categories with shares close to England & Wales' recent years.
CATEGORY_SHARES: dict[str, float] = {
    "violent-crime": 0.38,
    "anti-social-behaviour": 0.16,
    "criminal-damage-arson": 0.10,
    "public-order": 0.08,
    "shoplifting": 0.07,
    "vehicle-crime": 0.05,
    "other-theft": 0.05,
    "burglary": 0.04,
    "drugs": 0.02,
    "other-crime": 0.015,
    "theft-from-the-person": 0.01,
    "robbery": 0.01,
    "possession-of-weapons": 0.01,
    "bicycle-theft": 0.005,
}


def square_side_m(n: int, keep_density: bool = True) -> float:
    """Side of the square for ``n`` incidents: 30 km, grown by √(n/100k) above 100k."""
    if keep_density and n > BASE_N:
        return BASE_SIDE_M * math.sqrt(n / BASE_N)
    return BASE_SIDE_M


def synthetic_xy(
    n: int,
    rng: np.random.Generator,
    side_m: float,
    n_clusters: int,
    centre: tuple[float, float] = GRAVESEND_XY,
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` points by the cluster recipe, in metres; the order is shuffled."""
    half = side_m / 2.0
    cx0, cy0 = centre
    n_clustered = round(n * CLUSTERED_SHARE) if n_clusters > 0 else 0
    n_uniform = n - n_clustered
    sizes = rng.lognormal(0.0, 0.5, n_clusters)
    members = rng.multinomial(n_clustered, sizes / sizes.sum()) if n_clusters else []
    # Cluster centres kept 1 km inside the square; sd 50–300 m.
    inner = max(half - 1_000.0, 0.0)
    ccx = cx0 + rng.uniform(-inner, inner, n_clusters)
    ccy = cy0 + rng.uniform(-inner, inner, n_clusters)
    sd = rng.uniform(50.0, 300.0, n_clusters)
    which = np.repeat(np.arange(n_clusters), members)
    x = np.empty(n)
    y = np.empty(n)
    x[:n_clustered] = ccx[which] + sd[which] * rng.standard_normal(n_clustered)
    y[:n_clustered] = ccy[which] + sd[which] * rng.standard_normal(n_clustered)
    x[n_clustered:] = cx0 + rng.uniform(-half, half, n_uniform)
    y[n_clustered:] = cy0 + rng.uniform(-half, half, n_uniform)
    order = rng.permutation(n)
    return x[order], y[order]


def synthetic_incidents(
    n: int,
    seed: int = 0,
    side_m: float | None = None,
    keep_density: bool = True,
    snapped: bool = False,
    n_clusters: int | None = None,
    months: int = 24,
    xy_only: bool = False,
) -> pd.DataFrame:
    """Synthetic incidents with the columns analysis needs, deterministic in ``seed``.

    Parameters
    ----------
    n : int
        Number of incidents.
    seed : int
        Seed of the only random generator used.
    side_m : float, optional
        Side of the square in metres. Default: 30 km, or 30 km × √(n / 100k)
        above 100k incidents when ``keep_density`` is true.
    keep_density : bool
        Grow the square (and the number of clusters) with ``n`` above 100k.
    snapped : bool
        Put incidents on about n / 2.3 shared snap points, as police.uk does.
    n_clusters : int, optional
        Number of Gaussian clusters. Default: 40 per 900 km².
    months : int
        Incidents are spread uniformly over this many months from January 2022.
    xy_only : bool
        Return only ``x`` and ``y`` (fast, for large benchmarks).

    Returns
    -------
    pandas.DataFrame
        ``x``, ``y`` (metres, EPSG:27700), and unless ``xy_only``: ``lon``,
        ``lat`` (WGS84), ``occurred_at`` (first of the month), ``category``
        (police.uk slug), ``location`` ("On or near Street N", one name per
        distinct location).

    Examples
    --------
    >>> df = synthetic_incidents(1_000, seed=1, snapped=True)
    >>> len(df), df[["x", "y"]].drop_duplicates().shape[0] == round(1_000 / 2.3)
    (1000, True)
    """
    if n < 0:
        raise ValueError(f"n must be >= 0; got {n}")
    rng = np.random.default_rng(seed)
    side = float(side_m) if side_m is not None else square_side_m(n, keep_density)
    if n_clusters is None:
        n_clusters = max(1, round(BASE_CLUSTERS * (side / BASE_SIDE_M) ** 2))
    if snapped:
        n_loc = max(1, min(n, round(n / SNAP_RATIO)))
        lx, ly = synthetic_xy(n_loc, rng, side, n_clusters)
        # Every snap point used once, the rest by a skewed popularity.
        popularity = rng.lognormal(0.0, 1.0, n_loc)
        extra = rng.choice(n_loc, size=n - n_loc, p=popularity / popularity.sum())
        loc = rng.permutation(np.concatenate([np.arange(n_loc), extra]))
        x, y = lx[loc], ly[loc]
    else:
        x, y = synthetic_xy(n, rng, side, n_clusters)
        loc = np.arange(n)
    frame = pd.DataFrame({"x": x, "y": y})
    if xy_only:
        return frame
    frame["lon"], frame["lat"] = xy_to_lonlat(x, y, BNG)
    starts = pd.date_range(START_MONTH, periods=months, freq="MS").values.astype("M8[us]")
    frame["occurred_at"] = starts[rng.integers(0, months, n)]
    slugs = np.array(list(CATEGORY_SHARES))
    shares = np.array(list(CATEGORY_SHARES.values()))
    frame["category"] = slugs[rng.choice(len(slugs), size=n, p=shares / shares.sum())]
    names, codes = np.unique(loc, return_inverse=True)
    frame["location"] = pd.Categorical.from_codes(
        codes, categories=[f"On or near Street {i}" for i in names]
    ).astype(object)
    return frame


__all__ = ["CATEGORY_SHARES", "GRAVESEND_XY", "square_side_m", "synthetic_incidents"]
