"""Rolling backtest of hotspot methods on the Gravesham demo data (police.uk, 2022).

Prints the Markdown tables pasted into ``docs/evaluation.md``: PAI month by
month of Gi* hot cells, KDE, DBSCAN and the naive "last three months"
baseline at equal area, the summary, and Gi* hot cells at their own
(natural) area against the naive map of the same size.

    python scripts/backtest_report.py                 # the demo, loaded into a temp store
    python scripts/backtest_report.py --store my.duckdb

The demo zip holds Kent Police rows for January–November 2022 in and round
Gravesham (the same rows as ``../shared/data/police/gravesham_area``); the
study area is the Gravesham district boundary.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import shapely

from geodata.demo import load_demo
from geodata.settings import StoreSettings
from geodata.stores import IncidentQuery, open_store
from hotspots.forecast import (
    MethodSpec,
    backtest,
    cell_scores,
    score_forecast,
    select_cells,
    study_grid,
)
from hotspots.harm import HarmWeights


def load(store_path: Path | None) -> tuple[pd.DataFrame, shapely.Geometry, str]:
    with tempfile.TemporaryDirectory() as tmp:
        path = store_path or Path(tmp) / "demo.duckdb"
        with open_store(StoreSettings(duckdb_path=path, database_url=None)) as st:
            if store_path is None:
                load_demo(st)
            incidents = st.query_incidents(
                IncidentQuery(columns=["lon", "lat", "x", "y", "occurred_at", "category"])
            ).to_pandas()
            district = st.boundaries("district")
            crs = st.analysis_crs
    incidents["harm"] = HarmWeights.default().weigh(incidents["category"].to_numpy())
    return incidents, shapely.union_all(district.geometry.to_numpy()), crs


def markdown(df: pd.DataFrame, floats: str = "{:.2f}") -> str:
    cols = list(df.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for _, r in df.iterrows():
        cells = [
            floats.format(v) if isinstance(v, float | np.floating) else str(v) for v in r.tolist()
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def by_month(result, value: str = "pai") -> pd.DataFrame:
    t = result.table
    wide = t.pivot(index="origin", columns="method", values=value)
    wide = wide[list(dict.fromkeys(t["method"]))]
    totals = t.groupby("origin")["total"].first()
    out = wide.reset_index().rename(columns={"origin": "test month"})
    out.insert(1, "incidents", totals.to_numpy().astype(int))
    return out


def natural_gistar(incidents, area, crs, train_months=3) -> pd.DataFrame:
    """Gi* hot cells (95 %) at their own area vs the naive map with as many cells."""
    grid = study_grid(incidents, area, crs=crs, res=10)
    x, y = incidents["x"].to_numpy(float), incidents["y"].to_numpy(float)
    rows = []
    for i in range(train_months, len(grid.months)):
        train = np.arange(i - train_months, i)
        train_rows = (grid.month_of >= train[0]) & (grid.month_of <= train[-1]) & (grid.pos >= 0)
        test = grid.counts[:, i]
        train_counts = grid.counts[:, train].sum(axis=1)
        _, extra = cell_scores(MethodSpec("gistar"), grid, train, x, y, train_rows)
        hot = np.flatnonzero(extra["_hot"])
        naive, _ = cell_scores(MethodSpec("naive"), grid, train, x, y, train_rows)
        chosen = select_cells(naive, train_counts, hot.size)
        row = {"test month": grid.months[i], "hot cells": hot.size}
        for name, cells in (("Gi* hot cells", hot), ("naive, same cells", chosen)):
            s = score_forecast(
                float(grid.cell_area_m2[cells].sum()),
                grid.total_area_m2,
                float(test[cells].sum()),
                float(test.sum()),
            )
            row["area share"] = f"{s.area_share:.1%}"
            row[f"{name} hit rate"] = f"{s.hit_rate:.1%}"
            row[f"{name} PAI"] = s.pai
        rows.append(row)
    return pd.DataFrame(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path, help="a DuckDB store with Gravesham data")
    args = parser.parse_args(argv)
    incidents, area, crs = load(args.store)
    months = sorted(incidents["occurred_at"].dt.strftime("%Y-%m").unique())
    print(f"{len(incidents):,} incidents; months {months[0]}..{months[-1]}\n")

    main_run = backtest(incidents, area, train_months=3, area_share=0.05, crs=crs)
    print(
        f"## All crime and ASB: PAI by test month (3 training months, "
        f"{main_run.area_share:.2%} of Gravesham = {main_run.k_cells} of "
        f"{main_run.n_cells} H3 res-10 cells)\n"
    )
    print(markdown(by_month(main_run)))
    print("\nPEI by test month:\n")
    print(markdown(by_month(main_run, "pei")))
    print("\nSummary:\n")
    print(markdown(main_run.summary()))
    print(f"\n{main_run.best()['sentence']}.\n")
    gi = main_run.table.query("method == 'gistar'")["in_hotspots_share"]
    print(f"Share of the Gi* selection that is hot at 95 %: {gi.min():.0%}–{gi.max():.0%}\n")

    print("## Gi* hot cells (95 %) at their own area vs the naive map of the same size\n")
    print(markdown(natural_gistar(incidents, area, crs)))

    print("\n## Sensitivity (mean PAI over the test windows)\n")
    rows = []
    for label, sub, kw in (
        ("all, 6 training months", incidents, {"train_months": 6}),
        ("all, 1 % of area", incidents, {"area_share": 0.01}),
        ("all, 10 % of area", incidents, {"area_share": 0.10}),
        ("burglary", incidents[incidents["category"] == "burglary"], {}),
        ("anti-social behaviour", incidents[incidents["category"] == "anti-social-behaviour"], {}),
        ("violent crime", incidents[incidents["category"] == "violent-crime"], {}),
    ):
        r = backtest(sub, area, crs=crs, **{"train_months": 3, "area_share": 0.05, **kw})
        s = r.summary().set_index("method")["mean_pai"]
        rows.append({"data": label, "windows": r.table["origin"].nunique(), **s.to_dict()})
    print(markdown(pd.DataFrame(rows)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
