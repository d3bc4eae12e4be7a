"""Forecast backtest table on the Gravesham police.uk months (docs/evaluation.md §2b).

Rolling one-month-ahead backtest at H3 resolution 9 and 5 % of the area, every
forecasting method beside the naive variants and the oracle (the test month's
own counts: the best map any method could draw), for violence, ASB and
criminal damage. Reads ``../shared/data`` directly (the CSVs as police.uk
publishes them and the Gravesham LSOA boundaries), so it needs no store.

    python -m benchmarks.forecast_table            # prints the Markdown for the docs

``tests/hotspots/test_forecast_table.py`` recomputes a part of it and checks the
docs' table matches.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd
import shapely

from geodata.crs import lonlat_to_xy
from hotspots.forecast import backtest

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
CATEGORIES = {
    "violence": "Violence and sexual offences",
    "asb": "Anti-social behaviour",
    "criminal-damage": "Criminal damage and arson",
}
#: the 2022 months published for Gravesham (January to November: December is absent)
MONTHS_2022 = [f"2022-{m:02d}" for m in range(1, 12)]
#: an earlier, separate run of months, for choosing hyper-parameters
MONTHS_TUNING = ["2018-10", "2018-11", "2018-12", "2019-01", "2019-02"]
NAIVE = ["naive(months=3)", "naive(months=6)", "history", "ewm"]
METHODS = ["pkde", "sepp", "gbm", "ensemble"]
RES, SHARE, MIN_TRAIN = 9, 0.05, 3


def load(months: list[str], category: str, shared: Path = SHARED) -> pd.DataFrame:
    """Incidents of one category (key of :data:`CATEGORIES`) with lon/lat, x/y (EPSG:27700)."""
    folder = shared / "police" / "gravesham_area"
    frames = [
        pd.read_csv(folder / f"{m}-kent-street_gravesham-area.csv", dtype=str) for m in months
    ]
    df = pd.concat(frames, ignore_index=True)
    df = df[(df["Crime type"] == CATEGORIES[category]) & df["Longitude"].notna()]
    lon = df["Longitude"].astype(float).to_numpy()
    lat = df["Latitude"].astype(float).to_numpy()
    x, y = lonlat_to_xy(lon, lat, "EPSG:27700")
    return pd.DataFrame(
        {
            "lon": lon,
            "lat": lat,
            "x": x,
            "y": y,
            "occurred_at": pd.to_datetime(df["Month"].to_numpy() + "-01"),
        }
    )


def gravesham(shared: Path = SHARED) -> shapely.Geometry:
    """The Gravesham district (union of its 2011 LSOAs), EPSG:27700."""
    import geopandas as gpd

    path = shared / "boundaries" / "martinjc_UK-GeoJSON" / "gravesham_lsoa2011_E07000109.geojson"
    lsoa = gpd.read_file(path).to_crs("EPSG:27700")
    return shapely.union_all(lsoa.geometry.to_numpy())


def pai_table(
    category: str, methods: list[str], months: list[str] = MONTHS_2022, *, seed: int = 0,
    shared: Path = SHARED, params: dict | None = None, min_train: int = MIN_TRAIN,
) -> pd.DataFrame:  # fmt: skip
    """PAI per test month (rows) and method (columns), plus ``oracle`` and ``incidents``."""
    r = backtest(
        load(months, category, shared),
        gravesham(shared),
        methods=methods,
        train_months=min_train,
        area_share=SHARE,
        res=RES,
        months=months,
        expanding=True,
        seed=seed,
        params=params,
        min_test_count=0,
    )
    t = r.table
    wide = t.pivot(index="origin", columns="method", values="pai")[list(_labels(methods))]
    first = t.drop_duplicates("origin").set_index("origin")
    wide["oracle"] = first["max_hits"] / first["total"] / r.area_share
    wide.insert(0, "incidents", first["total"].astype(int))
    wide.attrs["pei"] = t.groupby("method")["pei"].mean()[list(_labels(methods))]
    wide.attrs["cells"] = (r.n_cells, r.k_cells)
    return wide


def _labels(methods):
    from hotspots.forecast import as_spec

    return [as_spec(m).label for m in methods]


def markdown(wide: pd.DataFrame) -> str:
    cols = ["test month", *wide.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for origin, row in wide.iterrows():
        cells = [origin, str(int(row["incidents"]))]
        cells += [f"{v:.2f}" for v in row.drop("incidents")]
        lines.append("| " + " | ".join(cells) + " |")
    mean = wide.drop(columns="incidents").mean()
    lines.append("| **mean** | " + " | ".join([""] + [f"**{v:.2f}**" for v in mean]) + " |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "--tuning",
        action="store_true",
        help="the 2018-10..2019-02 months, test months from the third (where the "
        "hyper-parameters were chosen)",
    )
    ap.add_argument(
        "--methods",
        default=",".join(NAIVE + METHODS),
        help="comma-separated; ';'-separated when a label has parameters, "
        "e.g. 'pkde(bandwidth_m=200,halflife=4);sepp(omega=0.3)'",
    )
    ap.add_argument("--categories", default=",".join(CATEGORIES))
    ap.add_argument("--params", default=None, help="JSON {method: {param: value}}")
    args = ap.parse_args()
    methods = args.methods.split(";") if ";" in args.methods else args.methods.split(",")
    months = MONTHS_TUNING if args.tuning else MONTHS_2022
    params = json.loads(args.params) if args.params else None
    for cat in args.categories.split(","):
        wide = pai_table(cat, methods, months, params=params, min_train=2 if args.tuning else 3)
        print(f"\n### {cat}\n\n{markdown(wide)}")
        print(f"\ncells {wide.attrs['cells']}; mean PEI:")
        print(wide.attrs["pei"].round(3).to_string())
        best_naive = max(wide[m].mean() for m in _labels(methods) if m in _labels(NAIVE)) if any(
            m in _labels(NAIVE) for m in _labels(methods)) else np.nan  # fmt: skip
        print(f"\nbest naive mean PAI {best_naive:.2f}")


if __name__ == "__main__":
    main()
