"""Forecasting methods: how each one scores the grid cells from the training months."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import shapely

from .predictive import ALLOWED, FUNCTIONS, predictive_scores
from .study import StudyGrid

#: the methods of the hotspot backtest (the default ``methods`` of :func:`backtest`)
METHODS = ("naive", "gistar", "kde", "dbscan")
#: forecasting methods beyond last months' counts (:mod:`.predictive`)
PREDICTIVE = tuple(FUNCTIONS)
#: every method a backtest accepts
ALL_METHODS = METHODS + PREDICTIVE
NAIVE_MONTHS = 3


@dataclass(frozen=True)
class MethodSpec:
    """A forecasting method and its parameters; ``label`` names it in tables."""

    method: str
    params: Mapping = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.method not in ALL_METHODS:
            raise ValueError(f"method: expected one of {ALL_METHODS}, got {self.method!r}")
        allowed = {
            "naive": {"months"},
            "gistar": {"k"},
            "kde": {"bandwidth_m", "cell_m"},
            "dbscan": {"eps_m", "min_samples"},
            **ALLOWED,
        }[self.method]
        unknown = set(self.params) - allowed
        if unknown:
            raise ValueError(
                f"{self.method} parameters: expected some of {sorted(allowed)}, "
                f"got unknown {sorted(unknown)}"
            )

    @property
    def label(self) -> str:
        if not self.params:
            return self.method
        inner = ",".join(f"{k}={v}" for k, v in sorted(self.params.items()))
        return f"{self.method}({inner})"


def _value(text: str) -> int | float:
    try:
        number = float(text)
    except ValueError:
        raise ValueError(f"method parameter: expected a number, got {text!r}") from None
    return int(number) if number.is_integer() and "." not in text else number


def as_spec(method: str | MethodSpec | tuple) -> MethodSpec:
    """``"gistar"``, a label such as ``"gistar(k=2)"`` or ``"kde(bandwidth_m=150,cell_m=25)"``,
    ``("gistar", {"k": 2})`` or a :class:`MethodSpec`.

    >>> as_spec("kde(bandwidth_m=150)").label
    'kde(bandwidth_m=150)'
    """
    if isinstance(method, MethodSpec):
        return method
    if isinstance(method, str):
        name, paren, rest = method.strip().partition("(")
        if not paren:
            return MethodSpec(name)
        if not rest.endswith(")"):
            raise ValueError(f"method: expected name(key=value,...), got {method!r}")
        params = {}
        for item in filter(None, (p.strip() for p in rest[:-1].split(","))):
            key, eq, value = item.partition("=")
            if not eq:
                raise ValueError(f"method {method!r}: expected key=value, got {item!r}")
            params[key.strip()] = _value(value.strip())
        return MethodSpec(name.strip(), params)
    if isinstance(method, tuple) and len(method) == 2:
        return MethodSpec(method[0], dict(method[1]))
    raise ValueError(f"method: expected a name, (name, params) or MethodSpec, got {method!r}")


def cell_scores(
    spec: MethodSpec,
    grid: StudyGrid,
    train: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    train_rows: np.ndarray,
    *,
    seed: int = 0,
    forecast_month: str | None = None,
) -> tuple[np.ndarray, dict]:
    """Score every grid cell from the training months (column indices ``train``).

    ``x``, ``y`` are the incidents' coordinates (analysis CRS) and
    ``train_rows`` the boolean mask of training incidents inside the grid.
    Returns the scores (higher = more likely) and notes for the result.
    """
    p = dict(spec.params)
    if spec.method in PREDICTIVE:
        month = forecast_month or next_month(grid.months[train[-1]])
        score = predictive_scores(
            spec.method, p, grid, train, x, y, train_rows, seed=seed, forecast_month=month
        )
        return np.asarray(score, float), {}
    if spec.method == "naive":
        last = train[-int(p.get("months", NAIVE_MONTHS)) :]
        return grid.counts[:, last].sum(axis=1), {}
    counts = grid.counts[:, train].sum(axis=1)
    if spec.method == "gistar":
        from ..gistar import gi_star

        if counts.sum() == 0:
            return np.zeros_like(counts), {"significant_share": 0.0}
        res = gi_star(counts, grid.neighbours(int(p.get("k", 1))), permutations=0)
        return res.z, {"_hot": res.gi_bin >= 2}
    xs, ys = x[train_rows], y[train_rows]
    if spec.method == "kde":
        from ..kde import kernel_density

        if xs.size < 2:
            return counts.copy(), {"note": "fewer than 2 incidents: counts used"}
        margin = 2 * float(p.get("bandwidth_m") or 500.0)
        surface = kernel_density(
            xs,
            ys,
            bandwidth_m=p.get("bandwidth_m"),
            cell_m=float(p.get("cell_m", 50.0)),
            bounds=(
                grid.cx.min() - margin,
                grid.cy.min() - margin,
                grid.cx.max() + margin,
                grid.cy.max() + margin,
            ),
        )
        return surface.value_at(grid.cx, grid.cy), {"bandwidth_m": surface.bandwidth_m}
    # dbscan
    from ..cluster_scale import suggest_min_samples
    from ..clusters import DensityClusterer

    eps = float(p.get("eps_m", 150.0))
    if xs.size < 2:
        return np.zeros_like(counts), {"hull_cells": 0}
    ms = p.get("min_samples")
    if ms is None:
        ms, _ = suggest_min_samples(xs, ys, eps)
    labels = DensityClusterer(eps_m=eps, min_samples=int(ms)).fit(xs, ys).labels_
    score = np.zeros_like(counts)
    cell_pos = grid.pos[train_rows]
    centres = shapely.STRtree(shapely.points(grid.cx, grid.cy))
    for c in np.unique(labels[labels >= 0]):
        member = labels == c
        covered = np.zeros(grid.cells.size, bool)
        covered[cell_pos[member]] = True
        hull = shapely.MultiPoint(np.column_stack([xs[member], ys[member]])).convex_hull
        if isinstance(hull, shapely.Polygon):
            covered[centres.query(hull, predicate="contains")] = True
        density = member.sum() / covered.sum()
        score = np.where(covered, np.maximum(score, density), score)
    return score, {"min_samples": int(ms), "_hot": score > 0}


def select_cells(score: np.ndarray, tiebreak: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` best cells: by score, then ``tiebreak``, then cell order."""
    order = np.lexsort((np.arange(score.size), -tiebreak, -np.nan_to_num(score, nan=-np.inf)))
    return order[:k]


def next_month(month: str) -> str:
    """``"2022-12"`` → ``"2023-01"``."""
    n = int(month[:4]) * 12 + int(month[5:7])
    return f"{n // 12:04d}-{n % 12 + 1:02d}"


__all__ = [
    "ALL_METHODS",
    "METHODS",
    "PREDICTIVE",
    "MethodSpec",
    "as_spec",
    "cell_scores",
    "next_month",
    "select_cells",
]
