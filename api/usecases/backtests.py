"""The backtest use case: what ``hotspots backtest`` and ``POST /backtests`` both run.

It reads the incidents of the categories and window, keeps the months every source
of those categories has loaded (:mod:`geodata.coverage`: a month one lacks is
unknown, never zero), weighs harm with the default weights, and runs
:func:`hotspots.forecast.backtest` on the borough. The answer says which months it
stood on and which it skipped, and why.
"""

from __future__ import annotations

from datetime import datetime

from geodata.coverage import coverage_of, in_months
from geodata.errors import HotspotsError
from geodata.stores import IncidentQuery, Store
from hotspots.harm import HarmWeights

from ..worker import run_stoppable
from .evaluation import study_area


class NoStudyArea(HotspotsError, ValueError):
    """A backtest needs the borough's boundary."""

    status = 422
    type = "no-study-area"


def run_backtest(
    store: Store,
    *,
    categories: list[str] | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    methods: list[str] | None = None,
    train_months: int = 3,
    test_months: int = 1,
    area_share: float = 0.05,
    res: int = 10,
    min_test_count: int = 30,
    expanding: bool = False,
    seed: int = 0,
    next_month: bool = False,
    include_sensitive: bool = True,
):
    """(the :class:`hotspots.forecast.BacktestResult`, its JSON document with the months
    used and skipped, the number of incidents). :class:`ValueError` for bad parameters;
    :class:`NoStudyArea` when no district or ward boundaries are loaded.

    The document's ``choice`` is the method this backtest chose as the default
    forecast for these categories and area (:func:`hotspots.forecast.choose_method`:
    highest mean PAI, the simpler on a tie) with its PAI and PEI; with
    ``next_month`` its ``next_month`` holds that method's map for the month after
    the last covered one (:func:`hotspots.forecast.forecast_next_month`).
    ``include_sensitive`` False leaves sensitive incidents out (for a partner's plan)."""
    from hotspots.forecast import METHODS, backtest, choose_method, forecast_next_month

    area = study_area(store)
    if area is None:
        raise NoStudyArea(
            "no district or ward boundaries are loaded: a backtest needs the study area "
            "(`hotspots import boundaries`, or `hotspots demo`)"
        )
    covered = coverage_of(store, include_sensitive).covered(categories, start, end)
    incidents = store.query_incidents(
        IncidentQuery(
            start=start,
            end=end,
            categories=categories,
            include_sensitive=include_sensitive,
            columns=["lon", "lat", "x", "y", "occurred_at", "category"],
        )
    ).to_pandas()
    incidents = incidents.loc[in_months(incidents["occurred_at"], covered.months)]
    incidents = incidents.reset_index(drop=True)
    incidents["harm"] = HarmWeights.default().weigh(incidents["category"].to_numpy())
    result = run_stoppable(  # stopped at the request's time limit (api.worker)
        backtest,
        incidents,
        area,
        what="the backtest",
        methods=list(methods or METHODS),
        train_months=train_months,
        test_months=test_months,
        area_share=area_share,
        res=res,
        crs=store.analysis_crs,
        months=list(covered.months),
        min_test_count=min_test_count,
        expanding=expanding,
        seed=seed,
    )
    choice = choose_method(result, candidates=list(methods or METHODS))
    if covered.note:
        result.notes.insert(0, covered.note)
    if len(covered.sources) > 1:
        result.notes.insert(
            0,
            "categories from several sources ("
            + ", ".join(covered.sources)
            + "): only the months every one of them has loaded are used",
        )
    doc = result.to_dict()
    doc["incidents"] = len(incidents)
    doc["categories"] = categories
    doc["coverage"] = covered.to_dict()
    doc["choice"] = choice.to_dict() if choice else None
    if next_month and choice is not None:
        doc["next_month"] = forecast_next_month(
            incidents,
            area,
            choice.method,
            months=list(covered.months),
            res=res,
            area_share=area_share,
            crs=store.analysis_crs,
            seed=seed,
        ).to_dict()
        doc["next_month"]["backtest"] = doc["choice"]
    return result, doc, len(incidents)


__all__ = ["NoStudyArea", "run_backtest"]
