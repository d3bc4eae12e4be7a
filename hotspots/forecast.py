"""How well hotspots predict: hit rate, PAI, PEI and RRI, and a rolling-origin backtest.

A hotspot map is a forecast: "next month, crime will be here". This module
scores that forecast on the months that followed, and compares methods with
the area they flag held equal.

Definitions (``n`` test incidents inside the selected area ``a``, ``N`` test
incidents in the study area ``A``; ``n₁``/``N₁`` the same for the training
window):

hit rate
    ``n / N``: the share of the test incidents that fell in the selected area.
PAI, Predictive Accuracy Index (Chainey, Tompson & Uhlig 2008)
    ``(n / N) / (a / A)``: the hit rate per unit of area share. 1 is what a
    random choice of area gives on average; PAI 10 means the selected area
    caught ten times its share of incidents.
PEI, Predictive Efficiency Index (Hunt 2016)
    ``PAI / PAI*`` where ``PAI* = (n* / N) / (a / A)`` is the largest PAI any
    selection of the same area could have reached on the test data: ``n*`` is
    the test count of the best ``k`` grid cells, ``k`` the number of cells
    selected. Because the areas are equal this is ``n / n*`` (between 0 and 1).
RRI, Recapture Rate Index (Levine 2008, CrimeStat)
    ``(n / n₁) / (N / N₁)``: how the selected area's incidents changed from
    the training to the test window relative to the whole study area. 1 means
    the hotspots kept their share; above 1 they gained. Undefined (NaN) when
    the area held no training incident. Other tools differ: some call the
    ratio of test to training hit rate ``(n/N) / (n₁/N₁)`` the "recapture
    rate", which is the same number; others divide by the area share or
    count the test map's own hotspots; ours is Levine's, without area.

Every method is scored on one common grid of H3 cells (resolution 10 by
default, ≈ 0.015 km² each) covering the study area (cells whose centre lies
in it). Each method gives every cell a score from the training window; the
top ``k = round(area_share × cells)`` cells by score are the forecast, so all
methods flag the same number of cells (and, H3 cells being near-equal in
area, the same area within a fraction of a percent: the exact areas are
reported). Ties are broken by the training count of the cell, then by cell
id, so the selection is deterministic. How each method scores a cell:

``naive``
    incidents in the cell over the last three training months (the "last
    three months" baseline every analyst can make by hand);
``gistar``
    Getis-Ord Gi* z-score of training counts per cell (neighbourhood: the
    cell and its ``k``-ring, default ``k = 1``). The top cells are the hottest
    Gi* cells; ``significant_share`` reports how many of them are hot at 95 %;
``kde``
    quartic kernel density of the training incidents at the cell centre
    (bandwidth by the spatial Silverman rule unless given), i.e. the densest
    ``area_share`` of the surface;
``dbscan``
    DBSCAN clusters of the training incidents (``eps_m`` 150 m,
    ``min_samples`` from the data as in ``hotspots analyse``). Cells with a
    clustered incident or with their centre inside a cluster's convex hull
    score the cluster's incidents per covered cell; the densest clusters
    come first, and the remaining cells are ranked by training count when
    the clusters cover less than the share (trimmed when they cover more).
    ``hull_share`` reports the selected share that lies in clusters.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import shapely
from h3.api import basic_int as h3i

from geodata.crs import lonlat_to_xy, xy_to_lonlat

from .grid import Grid, assign_cells, cells_for_area, validate_resolution
from .temporal import month_keys

METHODS = ("naive", "gistar", "kde", "dbscan")
NAIVE_MONTHS = 3


@dataclass(frozen=True)
class ForecastScore:
    """Scores of one forecast on one test window. See the module docstring for definitions."""

    hits: float
    total: float
    selected_area_m2: float
    total_area_m2: float
    hit_rate: float
    pai: float
    pei: float
    rri: float
    max_hits: float | None = None
    train_hits: float | None = None
    train_total: float | None = None
    harm_hit_rate: float | None = None
    harm_pai: float | None = None

    @property
    def area_share(self) -> float:
        return self.selected_area_m2 / self.total_area_m2

    def to_dict(self) -> dict:
        d = {k: _num(v) for k, v in self.__dict__.items()}
        d["area_share"] = _num(self.area_share)
        return d


def _num(v):
    if v is None:
        return None
    v = float(v)
    return None if math.isnan(v) or math.isinf(v) else v


def _ratio(a: float, b: float) -> float:
    return a / b if b > 0 else float("nan")


def score_forecast(
    selected_area_m2: float,
    total_area_m2: float,
    hits: float,
    total: float,
    *,
    max_hits: float | None = None,
    train_hits: float | None = None,
    train_total: float | None = None,
    harm_hits: float | None = None,
    harm_total: float | None = None,
) -> ForecastScore:
    """Hit rate, PAI, PEI and RRI of a selected area on a test window.

    Parameters
    ----------
    selected_area_m2, total_area_m2 : area ``a`` flagged and study area ``A``, m².
    hits, total : test incidents inside the selected area (``n``) and in the
        study area (``N``).
    max_hits : ``n*``, the most test incidents any selection of the same area
        could have caught (for PEI); PEI is NaN without it.
    train_hits, train_total : ``n₁`` and ``N₁`` of the training window (for
        RRI); RRI is NaN without them or when ``n₁ = 0``.
    harm_hits, harm_total : the same as ``hits``/``total`` for harm weights;
        gives ``harm_hit_rate`` and ``harm_pai``.

    Returns
    -------
    ForecastScore
        Ratios with a zero denominator are NaN (``None`` in ``to_dict``).

    Examples
    --------
    >>> s = score_forecast(5.0, 100.0, hits=20, total=100, max_hits=40,
    ...                    train_hits=25, train_total=200)
    >>> round(s.hit_rate, 3), round(s.pai, 3), round(s.pei, 3), round(s.rri, 3)
    (0.2, 4.0, 0.5, 1.6)
    """
    for name, v in (
        ("selected_area_m2", selected_area_m2),
        ("total_area_m2", total_area_m2),
        ("hits", hits),
        ("total", total),
    ):
        if not (isinstance(v, int | float | np.number) and math.isfinite(v) and v >= 0):
            raise ValueError(f"{name}: expected a finite number ≥ 0, got {v!r}")
    if total_area_m2 <= 0 or selected_area_m2 > total_area_m2 * (1 + 1e-9):
        raise ValueError(
            f"areas: expected 0 ≤ selected ≤ total and total > 0, got selected "
            f"{selected_area_m2} m², total {total_area_m2} m²"
        )
    if hits > total:
        raise ValueError(f"hits: expected at most total ({total}), got {hits}")
    if max_hits is not None and not (hits <= max_hits <= total):
        raise ValueError(f"max_hits: expected hits ≤ max_hits ≤ total, got {max_hits}")
    share = selected_area_m2 / total_area_m2
    hit_rate = _ratio(hits, total)
    pai = _ratio(hit_rate, share)
    pei = _ratio(hits, max_hits) if max_hits is not None else float("nan")
    rri = float("nan")
    if train_hits is not None and train_total is not None:
        rri = _ratio(_ratio(hits, train_hits), _ratio(total, train_total))
    harm_hit_rate = harm_pai = None
    if harm_hits is not None and harm_total is not None:
        harm_hit_rate = _ratio(harm_hits, harm_total)
        harm_pai = _ratio(harm_hit_rate, share)
    return ForecastScore(
        hits=float(hits),
        total=float(total),
        selected_area_m2=float(selected_area_m2),
        total_area_m2=float(total_area_m2),
        hit_rate=hit_rate,
        pai=pai,
        pei=pei,
        rri=rri,
        max_hits=None if max_hits is None else float(max_hits),
        train_hits=None if train_hits is None else float(train_hits),
        train_total=None if train_total is None else float(train_total),
        harm_hit_rate=harm_hit_rate,
        harm_pai=harm_pai,
    )


# --------------------------------------------------------------------------- common grid


@dataclass(eq=False)
class StudyGrid:
    """The common H3 grid of a backtest: cells of the area, their areas and centres.

    ``counts`` is cells × months (incidents whose cell is in the grid);
    ``pos`` gives each input incident's cell index, -1 outside the area.
    """

    res: int
    cells: np.ndarray
    cell_area_m2: np.ndarray
    cx: np.ndarray
    cy: np.ndarray
    months: list[str]
    counts: np.ndarray
    harm: np.ndarray
    pos: np.ndarray
    month_of: np.ndarray
    _W: dict = field(default_factory=dict, repr=False)

    @property
    def total_area_m2(self) -> float:
        return float(self.cell_area_m2.sum())

    def neighbours(self, k: int):
        if k not in self._W:
            zeros = np.zeros(self.cells.size)
            grid = Grid(
                self.res, self.cells, zeros, zeros, [], np.zeros((self.cells.size, 0)),
                np.zeros((self.cells.size, 0)), np.empty(0, "<U15"),
            )  # fmt: skip
            self._W[k] = grid.neighbours(k)
        return self._W[k]


def study_grid(
    incidents: pd.DataFrame, area, *, crs: str = "EPSG:27700", res: int = 10
) -> StudyGrid:
    """Build the common grid of a study area (polygon in ``crs``) and count incidents on it.

    ``incidents`` needs ``lat``, ``lon`` and ``occurred_at``; ``harm`` is used
    when present (else 1 per incident).
    """
    res = validate_resolution(res)
    missing = {"lat", "lon", "occurred_at"} - set(incidents.columns)
    if missing:
        raise ValueError(
            f"incidents: expected columns lat, lon, occurred_at; missing {sorted(missing)}"
        )
    if not isinstance(area, shapely.Polygon | shapely.MultiPolygon) or area.is_empty:
        raise ValueError(
            f"area: expected a non-empty shapely Polygon or MultiPolygon in {crs}, "
            f"got {type(area).__name__}"
        )
    area_ll = shapely.transform(
        area, lambda xy: np.column_stack(xy_to_lonlat(xy[:, 0], xy[:, 1], crs))
    )
    cells = cells_for_area(area_ll, res)
    if cells.size < 2:
        raise ValueError(
            f"area: expected at least 2 H3 res-{res} cells inside it, got {cells.size}"
        )
    ids = [int(c, 16) for c in cells]
    cell_area = np.array([h3i.cell_area(i, unit="m^2") for i in ids])
    latlng = np.array([h3i.cell_to_latlng(i) for i in ids])
    cx, cy = lonlat_to_xy(latlng[:, 1], latlng[:, 0], crs)
    of = assign_cells(incidents["lat"].to_numpy(), incidents["lon"].to_numpy(), res)
    pos = np.searchsorted(cells, of)
    pos[pos >= cells.size] = 0
    pos = np.where(cells[pos] == of, pos, -1).astype(np.int64)
    keys = month_keys(incidents["occurred_at"]) if len(incidents) else np.empty(0, str)
    months = sorted(set(keys[pos >= 0].tolist()))
    month_of = pd.Index(months).get_indexer(keys) if len(keys) else np.empty(0, np.int64)
    ok = pos >= 0
    flat = pos[ok] * len(months) + month_of[ok]
    size = cells.size * len(months)
    harm = incidents["harm"].to_numpy(float) if "harm" in incidents else np.ones(len(incidents))
    counts = np.bincount(flat, minlength=size).reshape(cells.size, len(months)).astype(float)
    harm_m = np.bincount(flat, weights=harm[ok], minlength=size).reshape(cells.size, len(months))
    return StudyGrid(
        res, cells, cell_area, np.asarray(cx), np.asarray(cy), months, counts, harm_m, pos,
        np.where(ok, month_of, -1),
    )  # fmt: skip


# --------------------------------------------------------------------------- methods


@dataclass(frozen=True)
class MethodSpec:
    """A forecasting method and its parameters; ``label`` names it in tables."""

    method: str
    params: Mapping = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"method: expected one of {METHODS}, got {self.method!r}")
        allowed = {
            "naive": {"months"},
            "gistar": {"k"},
            "kde": {"bandwidth_m", "cell_m"},
            "dbscan": {"eps_m", "min_samples"},
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
) -> tuple[np.ndarray, dict]:
    """Score every grid cell from the training months (column indices ``train``).

    ``x``, ``y`` are the incidents' coordinates (analysis CRS) and
    ``train_rows`` the boolean mask of training incidents inside the grid.
    Returns the scores (higher = more likely) and notes for the result.
    """
    p = dict(spec.params)
    if spec.method == "naive":
        last = train[-int(p.get("months", NAIVE_MONTHS)) :]
        return grid.counts[:, last].sum(axis=1), {}
    counts = grid.counts[:, train].sum(axis=1)
    if spec.method == "gistar":
        from .gistar import gi_star

        if counts.sum() == 0:
            return np.zeros_like(counts), {"significant_share": 0.0}
        res = gi_star(counts, grid.neighbours(int(p.get("k", 1))), permutations=0)
        return res.z, {"_hot": res.gi_bin >= 2}
    xs, ys = x[train_rows], y[train_rows]
    if spec.method == "kde":
        from .kde import kernel_density

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
    from .cluster_scale import suggest_min_samples
    from .clusters import DensityClusterer

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


# --------------------------------------------------------------------------- backtest


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
    methods : names from :data:`METHODS`, ``(name, params)`` pairs or
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
    min_test_count : a test window with fewer incidents is reported
        (``included`` False) but left out of the averages and the verdict:
        its PAI swings with a handful of incidents.
    params : parameters per method name, for methods given without their
        own, e.g. ``{"gistar": {"k": 2}, "kde": {"bandwidth_m": 150}}``.
    """
    specs = [as_spec(m) for m in methods]
    if params:
        unknown = set(params) - set(METHODS)
        if unknown:
            raise ValueError(f"params: expected keys from {METHODS}, got {sorted(unknown)}")
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
        wanted = sorted(set(months))
        idx = pd.Index(grid.months).get_indexer(wanted)
        counts = np.zeros((grid.cells.size, len(wanted)))
        harm = np.zeros_like(counts)
        counts[:, idx >= 0] = grid.counts[:, idx[idx >= 0]]
        harm[:, idx >= 0] = grid.harm[:, idx[idx >= 0]]
        remap = np.full(len(grid.months) + 1, -1)
        remap[idx[idx >= 0]] = np.flatnonzero(idx >= 0)
        grid.month_of = remap[grid.month_of]
        grid.months, grid.counts, grid.harm = wanted, counts, harm
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
        train = np.arange(i - train_months, i)
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
            score, extra = cell_scores(spec, grid, train, x, y, train_rows)
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


__all__ = [
    "METHODS",
    "BacktestResult",
    "ForecastScore",
    "MethodSpec",
    "StudyGrid",
    "backtest",
    "cell_scores",
    "score_forecast",
    "select_cells",
    "study_grid",
]
