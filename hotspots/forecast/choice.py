"""The default forecast of a category and area, chosen by its backtest, and next month's map.

:func:`choose_method` reads a :class:`~hotspots.forecast.rolling.BacktestResult`
and names the method with the highest mean PAI over the included test months;
a method within 0.1 % of it that comes earlier in :data:`CANDIDATES` (simpler:
the naive variants first) wins the tie. The choice carries its own backtest
figures (mean PAI and PEI, months) and the best naive variant's, so a map or
plan that uses it can say how well it predicted.

:func:`forecast_next_month` scores every cell with the chosen method from all
the consecutive months up to the last one given and flags the top
``area_share`` of the cells for the month after.

Examples
--------
>>> CANDIDATES[:4]
('naive(months=3)', 'naive(months=6)', 'history', 'ewm')
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .methods import as_spec, cell_scores, next_month, select_cells
from .rolling import BacktestResult, consecutive_start
from .scoring import _num
from .study import study_grid

#: naive variants the new methods must beat
NAIVE_VARIANTS = ("naive(months=3)", "naive(months=6)", "history", "ewm")
#: what a backtest compares to choose the default forecast, simplest first
CANDIDATES = (*NAIVE_VARIANTS, "pkde", "sepp", "gbm", "ensemble")
#: the grid and share the choice is made at (issue 13: H3 res 9, 5 % of the area)
FORECAST_RES, FORECAST_SHARE = 9, 0.05


@dataclass(frozen=True)
class ForecastChoice:
    """The chosen method and its backtest figures (means over the included test months)."""

    method: str
    mean_pai: float
    mean_pei: float
    months: list[str]
    best_naive: str | None
    best_naive_mean_pai: float | None

    @property
    def gain_over_naive(self) -> float | None:
        """Mean PAI relative to the best naive variant, minus 1 (0.08 = 8 % better)."""
        if not self.best_naive_mean_pai:
            return None
        return self.mean_pai / self.best_naive_mean_pai - 1

    def sentence(self) -> str:
        text = (
            f"forecast by {self.method}: in its backtest over {len(self.months)} months "
            f"({self.months[0]}..{self.months[-1]}) it caught a mean PAI of "
            f"{self.mean_pai:.1f} (PEI {self.mean_pei:.2f})"
        ) if self.months else f"forecast by {self.method}: no backtest month"  # fmt: skip
        if self.best_naive and self.best_naive != self.method and self.gain_over_naive is not None:
            text += (
                f", {self.gain_over_naive:+.0%} against the best naive map "
                f"({self.best_naive}, {self.best_naive_mean_pai:.1f})"
            )
        return text

    def to_dict(self) -> dict:
        return {
            "method": self.method,
            "mean_pai": _num(self.mean_pai),
            "mean_pei": _num(self.mean_pei),
            "months": list(self.months),
            "best_naive": self.best_naive,
            "best_naive_mean_pai": _num(self.best_naive_mean_pai),
            "gain_over_naive": _num(self.gain_over_naive),
            "sentence": self.sentence(),
        }


def choose_method(
    result: BacktestResult, candidates: Sequence[str] = CANDIDATES
) -> ForecastChoice | None:
    """The method with the highest mean PAI in ``result`` (ties to the earlier
    candidate); ``None`` when no test month was included."""
    t = result.table
    t = t[t["included"]] if "included" in t else t
    if t.empty:
        return None
    order = [as_spec(c).label for c in candidates]
    g = t.groupby("method")
    means = pd.DataFrame({"pai": g["pai"].mean(), "pei": g["pei"].mean()})
    rank = {m: i for i, m in enumerate(order)}
    means["order"] = [rank.get(m, len(order)) for m in means.index]
    top = means["pai"].max()
    best = means[means["pai"] >= top * (1 - 1e-3)].sort_values("order").index[0]
    naive = means[means.index.isin([as_spec(n).label for n in NAIVE_VARIANTS])]
    best_naive = naive["pai"].idxmax() if not naive.empty else None
    return ForecastChoice(
        method=str(best),
        mean_pai=float(means.loc[best, "pai"]),
        mean_pei=float(means.loc[best, "pei"]),
        months=sorted(t["origin"].unique().tolist()),
        best_naive=best_naive,
        best_naive_mean_pai=None if best_naive is None else float(naive.loc[best_naive, "pai"]),
    )


@dataclass(frozen=True)
class NextMonth:
    """The cells flagged for ``month``: H3 ids (hex strings), scores, area share."""

    month: str
    method: str
    res: int
    cells: np.ndarray
    scores: np.ndarray
    area_share: float
    trained_on: list[str]

    def to_dict(self) -> dict:
        return {
            "month": self.month,
            "method": self.method,
            "h3_resolution": self.res,
            "area_share": self.area_share,
            "trained_on": self.trained_on,
            "cells": [
                {"cell": str(c), "score": _num(s)}
                for c, s in zip(self.cells.tolist(), self.scores.tolist(), strict=True)
            ],
        }


def forecast_next_month(
    incidents: pd.DataFrame,
    area,
    method: str,
    *,
    months: Sequence[str],
    res: int = FORECAST_RES,
    area_share: float = FORECAST_SHARE,
    crs: str = "EPSG:27700",
    seed: int = 0,
) -> NextMonth:
    """The top ``area_share`` of the cells for the month after the last of ``months``,
    scored by ``method`` from the consecutive run of ``months`` that ends there."""
    if not months:
        raise ValueError("months: expected at least one loaded month to forecast from")
    grid = study_grid(incidents, area, crs=crs, res=res)
    grid.restrict(months)
    end = len(grid.months)
    train = np.arange(consecutive_start(grid.months, end), end)
    rows = np.isin(grid.month_of, train) & (grid.pos >= 0)
    x, y = incidents["x"].to_numpy(float), incidents["y"].to_numpy(float)
    target = next_month(grid.months[-1])
    score, _ = cell_scores(
        as_spec(method), grid, train, x, y, rows, seed=seed, forecast_month=target
    )
    k = max(1, round(area_share * grid.cells.size))
    chosen = select_cells(score, grid.counts[:, train].sum(axis=1), k)
    return NextMonth(
        month=target,
        method=as_spec(method).label,
        res=grid.res,
        cells=grid.cells[chosen],
        scores=score[chosen],
        area_share=k / grid.cells.size,
        trained_on=[grid.months[i] for i in train],
    )


__all__ = [
    "CANDIDATES",
    "NAIVE_VARIANTS",
    "ForecastChoice",
    "NextMonth",
    "choose_method",
    "forecast_next_month",
]
