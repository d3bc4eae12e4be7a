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

from .choice import (
    CANDIDATES,
    ForecastChoice,
    NextMonth,
    choose_method,
    forecast_next_month,
)
from .methods import METHODS, MethodSpec, as_spec, cell_scores, select_cells
from .rolling import BacktestResult, backtest
from .scoring import ForecastScore, score_forecast
from .study import StudyGrid, study_grid

__all__ = [
    "CANDIDATES",
    "METHODS",
    "BacktestResult",
    "ForecastChoice",
    "ForecastScore",
    "MethodSpec",
    "NextMonth",
    "StudyGrid",
    "as_spec",
    "backtest",
    "cell_scores",
    "choose_method",
    "forecast_next_month",
    "score_forecast",
    "select_cells",
    "study_grid",
]
