"""Rates per 1,000 residents by area (LSOA, ward), with the borough rate for comparison.

Incidents carry ``lsoa_code`` (police.uk gives it; for other sources it is
set by point in polygon at import) and ``ward_code`` (point in polygon when
ward boundaries are loaded). Population comes per LSOA; ward population, when
not published, is built from LSOAs by :func:`lsoa_population_to_areas`, which
assigns each LSOA to the area containing its representative point (LSOAs nest
in wards only approximately: the method is stated in the output).
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
from scipy.stats import chi2


def poisson_interval(count: np.ndarray, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Exact (Garwood) confidence interval for Poisson counts."""
    count = np.asarray(count, float)
    a = 1 - level
    lo = np.where(count > 0, chi2.ppf(a / 2, 2 * count) / 2, 0.0)
    hi = chi2.ppf(1 - a / 2, 2 * (count + 1)) / 2
    return lo, hi


def lsoa_population_to_areas(
    lsoas: gpd.GeoDataFrame, areas: gpd.GeoDataFrame, population: pd.DataFrame
) -> pd.DataFrame:
    """Population of each area (``code``) as the sum of LSOAs whose representative point is in it.

    ``population`` has ``area_code`` (LSOA codes) and ``population``.
    """
    pts = gpd.GeoDataFrame(
        {"lsoa": lsoas["code"].to_numpy()},
        geometry=lsoas.geometry.representative_point(),
        crs=lsoas.crs,
    )
    joined = gpd.sjoin(pts, areas[["code", "geometry"]], how="inner", predicate="within")
    pop = population.set_index("area_code")["population"]
    joined["population"] = joined["lsoa"].map(pop)
    out = joined.groupby("code", as_index=False)["population"].sum()
    return out.rename(columns={"code": "area_code"})


def area_rates(
    area_codes: pd.Series,
    population: pd.DataFrame,
    *,
    names: dict[str, str] | None = None,
    per: float = 1000.0,
) -> tuple[pd.DataFrame, dict]:
    """Counts and rates per ``per`` residents for each area with a population.

    ``area_codes`` holds one code per incident (missing → not in any area);
    ``population`` has ``area_code`` and ``population``. Returns the table
    (area_code, name, count, population, rate, rate_low, rate_high,
    ratio_to_borough) and the borough figures (count, population, rate) over
    the areas with a population.
    """
    pop = population.groupby("area_code")["population"].sum()
    counts = area_codes.dropna().value_counts()
    table = pd.DataFrame({"area_code": pop.index, "population": pop.to_numpy()})
    table["count"] = table["area_code"].map(counts).fillna(0).astype(int)
    table["name"] = table["area_code"].map(names or {}).fillna("")
    table["rate"] = table["count"] / table["population"] * per
    lo, hi = poisson_interval(table["count"].to_numpy())
    table["rate_low"] = lo / table["population"] * per
    table["rate_high"] = hi / table["population"] * per
    total_count = int(table["count"].sum())
    total_pop = float(table["population"].sum())
    borough_rate = total_count / total_pop * per if total_pop else float("nan")
    table["ratio_to_borough"] = table["rate"] / borough_rate if borough_rate else np.nan
    table = table.sort_values("rate", ascending=False).reset_index(drop=True)
    cols = [
        "area_code",
        "name",
        "count",
        "population",
        "rate",
        "rate_low",
        "rate_high",
        "ratio_to_borough",
    ]
    return table[cols], {
        "count": total_count,
        "population": total_pop,
        "rate": borough_rate,
        "per": per,
        "outside_areas": int(
            area_codes.isna().sum() + (~area_codes.dropna().isin(pop.index)).sum()
        ),
    }
