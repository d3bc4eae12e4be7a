"""docs/evaluation.md §2b: the forecast backtest table, recomputed from the police.uk data.

Recomputes the three tables (every method, the naive variants and the oracle,
month by month, for violence, ASB and criminal damage: about 10 s in all) and
checks the page's numbers and the summary drawn from them
(``python -m benchmarks.forecast_table`` prints the tables).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from benchmarks.forecast_table import METHODS, NAIVE, pai_table
from hotspots.forecast import choose_method

DOC = Path(__file__).resolve().parents[2] / "docs" / "evaluation.md"
SUMMARY_ROW = {
    "violence": "violence",
    "asb": "anti-social behaviour",
    "criminal-damage": "criminal damage",
}


def _doc_table(category: str) -> tuple[list[str], list[list[str]]]:
    text = DOC.read_text(encoding="utf-8")
    block = text.split(f"<!-- forecast-table: {category} -->\n", 1)[1].split("\n\n", 1)[0]
    lines = [line.strip("|").split("|") for line in block.strip().splitlines()]
    header = [c.strip() for c in lines[0]]
    rows = [[c.strip().strip("*") for c in line] for line in lines[2:]]
    return header, rows


@pytest.fixture(scope="module", params=list(SUMMARY_ROW))
def table(request, shared_data):
    return request.param, pai_table(request.param, NAIVE + METHODS, shared=shared_data)


def test_the_docs_table_is_what_the_data_give(table):
    category, damage = table
    header, rows = _doc_table(category)
    assert header == ["test month", *damage.columns]
    assert [r[0] for r in rows[:-1]] == list(damage.index)
    got = np.array([[float(v) for v in r[2:]] for r in rows[:-1]])
    np.testing.assert_allclose(got, damage.drop(columns="incidents").to_numpy(), atol=0.006)
    assert [int(r[1]) for r in rows[:-1]] == damage["incidents"].tolist()
    means = [float(v) for v in rows[-1][2:]]
    np.testing.assert_allclose(means, damage.drop(columns="incidents").mean(), atol=0.006)


def test_the_oracle_bounds_every_method_every_month(table):
    _, damage = table
    methods = damage.drop(columns=["incidents", "oracle"])
    # equal numbers of cells; the oracle's area is the nominal share, so allow 1 %
    assert (methods.le(damage["oracle"] * 1.01, axis=0)).all().all()


def test_the_docs_summary_states_the_table(table):
    category, damage = table
    text = DOC.read_text(encoding="utf-8")
    mean = damage.drop(columns=["incidents", "oracle"]).mean()
    naive = mean[[c for c in mean.index if c in {"naive(months=3)", "naive(months=6)"}
                  or c in {"history", "ewm"}]]  # fmt: skip
    others = mean.drop(naive.index)
    row = re.search(
        rf"\| {SUMMARY_ROW[category]} \| `(\S+)` ([\d.]+), [\d.]+ \| `(\S+)` ([\d.]+)", text
    )
    assert row is not None
    assert row[1] == naive.idxmax() and float(row[2]) == pytest.approx(naive.max(), abs=0.006)
    assert row[3] == others.idxmax() and float(row[4]) == pytest.approx(others.max(), abs=0.006)


def test_the_backtest_chooses_the_best_mean_pai(shared_data):
    from benchmarks.forecast_table import MONTHS_2022, gravesham, load
    from hotspots.forecast import backtest

    r = backtest(
        load(MONTHS_2022, "criminal-damage", shared_data), gravesham(shared_data),
        methods=[*NAIVE, "pkde"], res=9, area_share=0.05, months=MONTHS_2022,
        expanding=True, min_test_count=0,
    )  # fmt: skip
    choice = choose_method(r)
    means = r.table.groupby("method")["pai"].mean()
    assert choice.method == means.idxmax()
    assert choice.mean_pai == pytest.approx(means.max())
    assert choice.best_naive == means.drop("pkde").idxmax()
    assert choice.months == MONTHS_2022[3:]
