"""The rolling-origin backtest: every method scored month by month at equal area."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .methods import ALL_METHODS, METHODS, MethodSpec, as_spec, cell_scores, select_cells
from .scoring import _num, score_forecast
from .study import study_grid


@dataclass
class BacktestResult:
    """A rolling-origin backtest: one row per (test window, method) and a summary.

    ``table`` columns: ``origin`` (first test month), ``train`` (first and
    last training month), ``method`` (label), ``hits``, ``total``,
    ``max_hits``, ``area_share``, ``hit_rate``, ``pai``, ``pei``, ``rri``,
    ``in_hotspots_share`` (selected share that the method itself calls hot:
    Gi* 95 % hot cells, DBSCAN cluster cells; NaN for others).
    """

    table: pd.DataFrame
    area_share: float
    res: int
    train_months: int
    test_months: int
    total_area_m2: float
    n_cells: int
    k_cells: int
    notes: list[str] = field(default_factory=list)

    def summary(self) -> pd.DataFrame:
        """Per method: mean and median PAI, mean hit rate, PEI, RRI and windows won.

        ``wins`` counts the test windows where the method's PAI was the best
        or within 0.1 % of it (equal hits give PAIs that differ by the tiny
        differences between H3 cell areas).
        """
        t = self.table
        if "included" in t:
            t = t[t["included"]]
        if t.empty:
            return pd.DataFrame(
                columns=["method", "mean_pai", "median_pai", "mean_hit_rate", "wins"]
            )
        top_pai = t.groupby("origin")["pai"].transform("max")
        # ties (within 0.1 %: cell areas differ slightly) count for each method
        wins = t.loc[t["pai"] >= top_pai * (1 - 1e-3), "method"].value_counts()
        g = t.groupby("method", sort=False)
        out = pd.DataFrame(
            {
                "mean_pai": g["pai"].mean(),
                "median_pai": g["pai"].median(),
                "mean_hit_rate": g["hit_rate"].mean(),
                "mean_pei": g["pei"].mean(),
                "mean_rri": g["rri"].mean(),
                "wins": wins.reindex(g["pai"].mean().index).fillna(0).astype(int),
            }
        )
        return out.sort_values("mean_pai", ascending=False).reset_index()

    def best(self) -> dict:
        """The method with the highest mean PAI, and by how much it beat the runner-up."""
        s = self.summary()
        if s.empty:
            return {"method": None, "sentence": "no test window: too few months"}
        top = s.iloc[0]
        d = {"method": top["method"], "mean_pai": float(top["mean_pai"])}
        scored = self.table[self.table["included"]] if "included" in self.table else self.table
        windows = int(scored["origin"].nunique())
        if len(s) > 1:
            second = s.iloc[1]
            paired = scored.pivot(index="origin", columns="method", values="pai")
            diff = (paired[top["method"]] - paired[second["method"]]).dropna()
            se = float(diff.std(ddof=1) / np.sqrt(diff.size)) if diff.size > 1 else math.nan
            clear = bool(diff.size > 1 and diff.mean() > 2 * se)
            d.update(
                runner_up=second["method"],
                runner_up_mean_pai=float(second["mean_pai"]),
                pai_ratio=_num(top["mean_pai"] / second["mean_pai"])
                if second["mean_pai"] > 0
                else None,
                pai_difference=float(top["mean_pai"] - second["mean_pai"]),
                pai_difference_se=_num(se),
                clear=clear,
            )
            lead = (
                f"{top['method']} predicted best"
                if clear
                else f"{top['method']} and {second['method']} predicted about equally well"
            )
            d["sentence"] = (
                f"{lead}: mean PAI {top['mean_pai']:.2f} against {second['mean_pai']:.2f} "
                f"for {second['method']} (paired difference {diff.mean():+.2f}, standard error "
                f"{se:.2f} over {diff.size} windows); best or equal best in "
                f"{int(top['wins'])} of {windows} test windows, with {self.area_share:.1%} "
                "of the area flagged by every method"
            )
        else:
            d["sentence"] = (
                f"{top['method']}: mean PAI {top['mean_pai']:.2f} over {windows} windows"
            )
        return d

    def to_dict(self) -> dict:
        rows = [
            {k: (_num(v) if isinstance(v, float | np.floating) else v) for k, v in r.items()}
            for r in self.table.to_dict("records")
        ]
        summary = [
            {k: (_num(v) if isinstance(v, float | np.floating) else v) for k, v in r.items()}
            for r in self.summary().to_dict("records")
        ]
        return {
            "area_share": self.area_share,
            "h3_resolution": self.res,
            "cells": self.n_cells,
            "cells_selected": self.k_cells,
            "total_area_m2": self.total_area_m2,
            "train_months": self.train_months,
            "test_months": self.test_months,
            "windows": rows,
            "summary": summary,
            "best": {
                k: (int(v) if isinstance(v, np.integer) else v) for k, v in self.best().items()
            },
            "notes": self.notes,
        }


def backtest(
    incidents: pd.DataFrame,
    area,
    *,
    methods: Sequence[str | MethodSpec | tuple] = METHODS,
    train_months: int = 3,
    test_months: int = 1,
    area_share: float = 0.05,
    res: int = 10,
    crs: str = "EPSG:27700",
    months: Sequence[str] | None = None,
    params: Mapping[str, Mapping] | None = None,
    min_test_count: int = 30,
    expanding: bool = False,
    seed: int = 0,
) -> BacktestResult:
    """Rolling-origin backtest of hotspot methods with the flagged area held equal.

    For every origin ``i`` (``train_months ≤ i ≤ M − test_months`` over the
    ``M`` months, sorted), each method is trained on months
    ``[i − train_months, i)`` and scored on ``[i, i + test_months)``.

    Parameters
    ----------
    incidents : ``lat``, ``lon`` (WGS84), ``x``, ``y`` (``crs``), ``occurred_at``;
        ``harm`` optional. Select categories before calling.
    area : study area, shapely (Multi)Polygon in ``crs``.
    methods : names from :data:`~hotspots.forecast.methods.ALL_METHODS` (default
        the hotspot methods :data:`METHODS`), ``(name, params)`` pairs or
        :class:`MethodSpec` (several parameter sets of one method may be
        compared side by side).
    train_months, test_months : window lengths in months (≥ 1). The naive
        baseline uses the last three training months (fewer if the window is
        shorter).
    area_share : share of the area every method flags (0 < share < 1).
    res : H3 resolution of the common grid (7–10).
    months : the months to use (``YYYY-MM``): those every source of the
        categories has loaded (``geodata.coverage``); default the months with
        data. A month listed with no incident counts as zero; a month not listed
        is unknown, so a training or test window running across it (its months
        not consecutive) is skipped, and the notes say so.
    expanding : train on every consecutive month before the origin (at least
        ``train_months``) instead of the last ``train_months`` only; methods
        such as ``naive(months=6)``, ``history`` or ``gbm`` need the history.
    seed : passed to every method with a random step (``gbm``).
    min_test_count : a test window with fewer incidents is reported
        (``included`` False) but left out of the averages and the verdict:
        its PAI swings with a handful of incidents.
    params : parameters per method name, for methods given without their
        own, e.g. ``{"gistar": {"k": 2}, "kde": {"bandwidth_m": 150}}``.
    """
    specs = [as_spec(m) for m in methods]
    if params:
        unknown = set(params) - set(ALL_METHODS)
        if unknown:
            raise ValueError(f"params: expected keys from {ALL_METHODS}, got {sorted(unknown)}")
        specs = [
            MethodSpec(s.method, dict(params.get(s.method, {})))
            if not s.params and s.method in params
            else s
            for s in specs
        ]
    labels = [s.label for s in specs]
    if len(set(labels)) != len(labels):
        raise ValueError(f"methods: expected distinct methods/parameters, got {labels}")
    if not (0 < area_share < 1):
        raise ValueError(f"area_share: expected a share between 0 and 1, got {area_share!r}")
    for name, v in (("train_months", train_months), ("test_months", test_months)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{name}: expected a whole number of months ≥ 1, got {v!r}")
    missing = {"x", "y"} - set(incidents.columns)
    if missing:
        raise ValueError(f"incidents: expected columns x, y; missing {sorted(missing)}")
    grid = study_grid(incidents, area, crs=crs, res=res)
    if months is not None:
        grid.restrict(months)
    n_cells = grid.cells.size
    k = max(1, round(area_share * n_cells))
    x, y = incidents["x"].to_numpy(float), incidents["y"].to_numpy(float)
    total_area = grid.total_area_m2
    rows = []
    notes = []
    n_months = len(grid.months)
    if n_months < train_months + test_months:
        notes.append(
            f"{n_months} months of data: a backtest needs at least train_months + test_months = "
            f"{train_months + test_months}"
        )
    skipped_gaps, small = [], []
    for i in range(train_months, n_months - test_months + 1):
        first = i - train_months
        if expanding:  # back to the first month of the consecutive run before i
            while (
                first > 0
                and _month_number(grid.months[first - 1]) == _month_number(grid.months[first]) - 1
            ):
                first -= 1
        train = np.arange(first, i)
        test = np.arange(i, i + test_months)
        span = grid.months[train[0] : test[-1] + 1]
        if _month_number(span[-1]) - _month_number(span[0]) != len(span) - 1:
            skipped_gaps.append(f"{span[0]}..{span[-1]}")
            continue
        train_rows = (grid.month_of >= train[0]) & (grid.month_of <= train[-1]) & (grid.pos >= 0)
        test_counts = grid.counts[:, test].sum(axis=1)
        train_counts = grid.counts[:, train].sum(axis=1)
        test_harm = grid.harm[:, test].sum(axis=1)
        total = float(test_counts.sum())
        max_hits = float(np.sort(test_counts)[::-1][:k].sum())
        for spec in specs:
            score, extra = cell_scores(
                spec, grid, train, x, y, train_rows, seed=seed, forecast_month=grid.months[i]
            )
            chosen = select_cells(score, train_counts, k)
            hot = extra.get("_hot")
            s = score_forecast(
                float(grid.cell_area_m2[chosen].sum()),
                total_area,
                float(test_counts[chosen].sum()),
                total,
                max_hits=max_hits,
                train_hits=float(train_counts[chosen].sum()),
                train_total=float(train_counts.sum()),
                harm_hits=float(test_harm[chosen].sum()),
                harm_total=float(test_harm.sum()),
            )
            rows.append(
                {
                    "origin": grid.months[i],
                    "train": f"{grid.months[train[0]]}..{grid.months[train[-1]]}",
                    "method": spec.label,
                    **{
                        k_: getattr(s, k_)
                        for k_ in ("hits", "total", "max_hits", "hit_rate", "pai", "pei", "rri")
                    },
                    "area_share": s.area_share,
                    "harm_pai": s.harm_pai,
                    "in_hotspots_share": float(hot[chosen].mean()) if hot is not None else np.nan,
                    "included": total >= min_test_count,
                }
            )
        if total < min_test_count:
            small.append(f"{grid.months[i]} ({total:.0f})")
    if skipped_gaps:
        notes.append(
            f"{len(skipped_gaps)} window(s) skipped because their months are not consecutive "
            f"(a month between is not loaded, so unknown, not zero): {', '.join(skipped_gaps)}"
        )
    if small:
        notes.append(
            f"test windows with fewer than {min_test_count} incidents are shown but left out of "
            f"the averages: {', '.join(small)}"
        )
    table = pd.DataFrame(
        rows,
        columns=[
            "origin", "train", "method", "hits", "total", "max_hits", "hit_rate", "pai", "pei",
            "rri", "area_share", "harm_pai", "in_hotspots_share", "included",
        ],
    )  # fmt: skip
    return BacktestResult(
        table=table,
        area_share=float(k / n_cells),
        res=grid.res,
        train_months=train_months,
        test_months=test_months,
        total_area_m2=total_area,
        n_cells=n_cells,
        k_cells=k,
        notes=notes,
    )


def _month_number(month: str) -> int:
    return int(month[:4]) * 12 + int(month[5:7]) - 1


def consecutive_start(months: Sequence[str], end: int) -> int:
    """The first index of the run of consecutive months ending just before ``end``."""
    first = end - 1
    while first > 0 and _month_number(months[first - 1]) == _month_number(months[first]) - 1:
        first -= 1
    return max(first, 0)


__all__ = ["BacktestResult", "backtest"]
