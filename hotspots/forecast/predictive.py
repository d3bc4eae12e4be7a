"""Forecasting methods that use more than the last months' counts.

Each function scores every cell of a :class:`~hotspots.forecast.study.StudyGrid`
for the month after the training months ``train`` (column indices, sorted,
consecutive), from those months only: nothing here reads a column after
``train[-1]`` (``tests/hotspots/test_forecast_methods.py`` checks it by changing
the future and asserting that no score moves). Higher scores mean more
expected incidents; only the order matters for PAI.

``history``
    all training months' counts per cell.
``ewm``
    exponentially weighted counts: month ``t`` months before the forecast
    weighs ``0.5 ** ((t - 1) / halflife)`` (``halflife`` in months).
``pkde``
    prospective hot-spotting (Bowers, Johnson & Pease 2004): every training
    incident raises risk round it by a spatial kernel in metres (quartic,
    ``bandwidth_m``) times a temporal decay (half-life ``halflife`` months),
    summed at each cell centre.
``sepp``
    a discrete-time self-exciting point process (after Mohler et al. 2011):
    ``λ(c, t) = μ_c + θ Σ_l ω(1−ω)^(l−1) (S y)_{c, t−l}``, a constant
    background rate per cell plus triggering by the incidents of the previous
    months in the cell and its ring (spatial kernel ``S``: the cell 1, its
    1-ring ``ring``). ``μ`` and ``θ`` are fitted by EM (the branching
    structure as latent variable) on the training months; ``ω`` is fixed.
``gbm``
    gradient-boosted Poisson regression (scikit-learn's
    ``HistGradientBoostingRegressor(loss="poisson")``) of a cell's month count
    on its lagged counts (1, 2, 3 months, the last 6, all history), its 1- and
    2-ring neighbours' counts and the month of year, trained on every
    (cell, month) of the training window with at least one earlier month.
``ensemble``
    the mean of the members' scores turned into ranks (0–1), members
    ``pkde``, ``sepp``, ``gbm`` and ``ewm`` with their defaults.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse
from scipy.spatial import cKDTree

from .study import StudyGrid

#: chosen on the Gravesham months 2018-10..2019-02 (benchmarks/forecast_table.py
#: --tuning), never on the 2022 months the docs report
DEFAULTS = {
    "history": {},
    "ewm": {"halflife": 2.0},
    "pkde": {"bandwidth_m": 400.0, "halflife": 2.0},
    "sepp": {"omega": 0.5, "ring": 0.0, "iterations": 50},
    "gbm": {"max_iter": 60, "learning_rate": 0.05, "max_leaf_nodes": 7},
    "ensemble": {},
}


def _p(method: str, params) -> dict:
    return {**DEFAULTS[method], **dict(params)}


def history(grid: StudyGrid, train: np.ndarray, **_) -> np.ndarray:
    return grid.counts[:, train].sum(axis=1)


def ewm(grid: StudyGrid, train: np.ndarray, *, halflife: float = 2.0, **_) -> np.ndarray:
    _positive("halflife", halflife)
    age = np.arange(train.size, 0, -1)  # months before the forecast month
    return grid.counts[:, train] @ (0.5 ** ((age - 1) / halflife))


def pkde(
    grid: StudyGrid,
    train: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    train_rows: np.ndarray,
    *,
    bandwidth_m: float = 400.0,
    halflife: float = 2.0,
    **_,
) -> np.ndarray:
    _positive("bandwidth_m", bandwidth_m)
    _positive("halflife", halflife)
    months = grid.month_of[train_rows]
    age = train[-1] + 1 - months
    w = 0.5 ** ((age - 1) / halflife)
    pts = np.column_stack([x[train_rows], y[train_rows]])
    if pts.shape[0] == 0:
        return np.zeros(grid.cells.size)
    # snap points repeat: weigh each distinct point once
    uniq, inv = np.unique(pts, axis=0, return_inverse=True)
    weight = np.bincount(inv.ravel(), weights=w, minlength=uniq.shape[0])
    centres = cKDTree(np.column_stack([grid.cx, grid.cy]))
    d = centres.sparse_distance_matrix(cKDTree(uniq), bandwidth_m, output_type="coo_matrix")
    k = (1 - (d.data / bandwidth_m) ** 2) ** 2  # quartic kernel
    K = sparse.csr_matrix((k, (d.row, d.col)), shape=(grid.cells.size, uniq.shape[0]))
    return K @ weight


def _spatial(grid: StudyGrid, ring: float) -> sparse.csr_matrix:
    W = grid.neighbours(1).tocsr().astype(float)
    return sparse.identity(W.shape[0], format="csr") + ring * (W - sparse.identity(W.shape[0]))


def sepp(
    grid: StudyGrid,
    train: np.ndarray,
    *,
    omega: float = 0.5,
    ring: float = 0.0,
    iterations: int = 50,
    **_,
) -> np.ndarray:
    if not 0 < omega <= 1:
        raise ValueError(f"sepp omega: expected 0 < omega ≤ 1, got {omega!r}")
    if ring < 0:
        raise ValueError(f"sepp ring: expected a weight ≥ 0, got {ring!r}")
    Y = grid.counts[:, train]
    T = Y.shape[1]
    excite = np.asarray(_spatial(grid, ring) @ Y)  # (S y)_{c, t}
    # trigger intensity per unit θ for month t from months before it (geometric lags)
    G = np.zeros_like(Y)
    for t in range(1, T):
        lags = np.arange(1, t + 1)
        G[:, t] = excite[:, t - lags] @ (omega * (1 - omega) ** (lags - 1))
    mu = np.maximum(Y.mean(axis=1), 1e-9)
    theta = 0.1
    for _ in range(int(iterations)):
        lam = mu[:, None] + theta * G
        p_bg = np.divide(mu[:, None], lam, out=np.ones_like(lam), where=lam > 0)
        mu = np.maximum((p_bg * Y).sum(axis=1) / T, 1e-9)
        g_sum = G.sum()
        theta = float(((1 - p_bg) * Y).sum() / g_sum) if g_sum > 0 else 0.0
    lags = np.arange(1, T + 1)
    g_next = excite[:, T - lags] @ (omega * (1 - omega) ** (lags - 1))
    return mu + theta * g_next


def _month_of_year(month: str) -> int:
    return int(month[5:7])


def _features(grid: StudyGrid, Y: np.ndarray, t: int, moy: int) -> np.ndarray:
    """Features of every cell for month ``t`` of ``Y`` (uses columns ``< t`` only)."""
    n = Y.shape[0]
    past = Y[:, :t]

    mean_all = past.mean(axis=1)

    def lag(j):  # a month before the history: its mean stands in
        return past[:, t - j] if t - j >= 0 else mean_all

    last3 = past[:, max(0, t - 3) :].mean(axis=1)
    last6 = past[:, max(0, t - 6) :].mean(axis=1)
    W1, W2 = grid.neighbours(1), grid.neighbours(2)
    ring1 = W1 @ last3 - last3
    ring2 = W2 @ last3 - W1 @ last3
    ring1_mean = W1 @ mean_all - mean_all
    return np.column_stack(
        [lag(1), lag(2), lag(3), last3, last6, mean_all, ring1, ring2, ring1_mean,
         np.full(n, moy), np.full(n, t)]
    )  # fmt: skip


def gbm(
    grid: StudyGrid,
    train: np.ndarray,
    *,
    seed: int = 0,
    forecast_month: str,
    max_iter: int = 60,
    learning_rate: float = 0.05,
    max_leaf_nodes: int = 7,
    **_,
) -> np.ndarray:
    from sklearn.ensemble import HistGradientBoostingRegressor
    from threadpoolctl import threadpool_limits

    Y = grid.counts[:, train]
    T = Y.shape[1]
    if T < 2 or Y[:, 1:].sum() == 0:
        return Y.sum(axis=1)
    months = [grid.months[i] for i in train]
    X = np.vstack([_features(grid, Y, t, _month_of_year(months[t])) for t in range(1, T)])
    target = np.concatenate([Y[:, t] for t in range(1, T)])
    model = HistGradientBoostingRegressor(
        loss="poisson",
        max_iter=int(max_iter),
        learning_rate=float(learning_rate),
        max_leaf_nodes=int(max_leaf_nodes),
        min_samples_leaf=20,
        early_stopping=False,
        random_state=seed,
    )
    # a few thousand rows: one thread is faster than OpenMP's start-up and contention
    with threadpool_limits(1, user_api="openmp"):
        model.fit(X, target)
        # the model saw months 1..T-1 as "t"; the forecast month is T
        return model.predict(_features(grid, Y, T, _month_of_year(forecast_month)))


def rank01(score: np.ndarray) -> np.ndarray:
    """Scores as average ranks scaled to 0–1 (ties share their mean rank)."""
    from scipy.stats import rankdata

    if score.size < 2:
        return np.zeros(score.size)
    return (rankdata(score) - 1) / (score.size - 1)


def ensemble(grid, train, x, y, train_rows, *, seed: int = 0, forecast_month: str, **_):
    members = [
        ewm(grid, train, **DEFAULTS["ewm"]),
        pkde(grid, train, x, y, train_rows, **DEFAULTS["pkde"]),
        sepp(grid, train, **DEFAULTS["sepp"]),
        gbm(grid, train, seed=seed, forecast_month=forecast_month, **DEFAULTS["gbm"]),
    ]
    return np.mean([rank01(m) for m in members], axis=0)


def _positive(name: str, v) -> None:
    if not (isinstance(v, int | float) and v > 0):
        raise ValueError(f"{name}: expected a number > 0, got {v!r}")


FUNCTIONS = {
    "history": history,
    "ewm": ewm,
    "pkde": pkde,
    "sepp": sepp,
    "gbm": gbm,
    "ensemble": ensemble,
}
ALLOWED = {m: set(DEFAULTS[m]) for m in FUNCTIONS}


def predictive_scores(method, params, grid, train, x, y, train_rows, *, seed, forecast_month):
    """Scores of one of :data:`FUNCTIONS` for the month ``forecast_month`` after ``train``."""
    p = _p(method, params)
    return FUNCTIONS[method](
        grid, train, x=x, y=y, train_rows=train_rows, seed=seed, forecast_month=forecast_month, **p
    )


__all__ = ["ALLOWED", "DEFAULTS", "FUNCTIONS", "predictive_scores", "rank01"]
