"""Forecast backtests: ``POST /backtests`` (analysts only), over
:func:`api.usecases.backtests.run_backtest`.

The answer gives PAI, PEI and RRI per month and method, the method the backtest
chose as the default forecast (``choice``) and, when asked, that method's map
for the month after the last loaded one (``next_month``). Bad input is a 422
problem naming the field; a backtest the stored data cannot support is a 409.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from ..deps import AnalystDep, SettingsDep, StoreDep
from ..filters import parse_categories, parse_window
from ..params import Bool, CategorySlug, Int, MonthOrDay, Num
from ..problems import Problem
from ..usecases.backtests import NoStudyArea
from ..usecases.stored_documents import stored_backtest

router = APIRouter(tags=["evaluation"])


BacktestMethod = Literal[
    "naive", "gistar", "kde", "dbscan", "history", "ewm", "pkde", "sepp", "gbm", "ensemble"
]


class BacktestRequest(BaseModel):
    """A rolling-origin backtest of hotspot methods with the flagged area held equal."""

    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "categories": ["anti-social-behaviour"],
                    "from": "2022-01",
                    "to": "2022-12",
                    "methods": ["naive", "gistar"],
                    "train_months": 3,
                    "area_share": 0.05,
                }
            ]
        },
    )

    categories: list[CategorySlug] | None = Field(
        None, description="category slugs; all when left out"
    )
    date_from: MonthOrDay | None = Field(None, alias="from")
    date_to: MonthOrDay | None = Field(None, alias="to", description="inclusive")
    methods: list[BacktestMethod] = Field(
        default_factory=lambda: ["naive", "gistar", "kde", "dbscan"], min_length=1
    )
    train_months: Int = Field(3, ge=1, le=24)
    test_months: Int = Field(1, ge=1, le=12)
    area_share: Num = Field(0.05, gt=0, lt=1, strict=True)
    resolution: Int = Field(10, ge=7, le=10)
    min_test_count: Int = Field(
        30, ge=0, le=100_000, description="test months with fewer incidents are not averaged"
    )
    expanding: Bool = Field(
        False, description="train on every consecutive month before each test month"
    )
    seed: Int = Field(0, ge=0, le=2**31 - 1, description="seed of methods with a random step")
    next_month: Bool = Field(
        False,
        description="also give the cells the chosen method (highest mean PAI) flags for "
        "the month after the last loaded one, with its backtest PAI and PEI",
    )


@router.post(
    "/backtests",
    operation_id="create_backtest",
    summary="Backtest hotspot methods: hit rate, PAI, PEI and RRI month by month",
    response_model=None,
    responses={200: {"content": {"application/json": {}, "text/html": {}}}},
)
def create_backtest(
    body: BacktestRequest,
    request: Request,
    store: StoreDep,
    settings: SettingsDep,
    caller: AnalystDep,
    f: Annotated[
        Literal["json", "html"] | None,
        Query(description="json, or html: a printable page with the PAI chart (or Accept)"),
    ] = None,
) -> Any:
    window = parse_window(body.date_from, body.date_to, None, settings, where="body")
    cats = parse_categories(",".join(body.categories), "body") if body.categories else None
    try:
        doc, _ = stored_backtest(
            store,
            categories=cats,
            start=window.start,
            end=window.end,
            methods=list(dict.fromkeys(body.methods)),
            train_months=body.train_months,
            test_months=body.test_months,
            area_share=body.area_share,
            res=body.resolution,
            min_test_count=body.min_test_count,
            expanding=body.expanding,
            seed=body.seed,
            next_month=body.next_month,
        )
    except NoStudyArea as exc:  # 409: what the store holds cannot answer this request
        raise Problem(
            409,
            exc.message,
            errors=[{"field": None, "where": "store", "expected": "district boundaries"}],
        ) from None
    except ValueError as exc:  # e.g. too few loaded months for the windows asked
        raise Problem(409, str(exc)) from None
    doc["request"] = body.model_dump(mode="json", by_alias=True)
    if f == "html" or (f is None and "text/html" in request.headers.get("accept", "")):
        from maps.evaluation import backtest_html

        return Response(backtest_html(doc), media_type="text/html; charset=utf-8")
    return doc
