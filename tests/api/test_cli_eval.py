"""``hotspots backtest`` and ``hotspots knox`` on the real Gravesham demo data."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from cli_json import run, runner  # tests/api/cli_json.py

from api.cli import app
from api.cli.output import EXIT_USAGE
from geodata.demo import load_demo
from geodata.stores import DuckDBStore


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("eval") / "demo.duckdb"
    with DuckDBStore(path) as store:
        load_demo(store)
    return path


def test_backtest_reports_pai_per_month_and_method(demo: Path) -> None:
    code, doc = run(
        "backtest", "--store", str(demo), "--from", "2022-01", "--to", "2022-06",
        "--methods", "naive,gistar",
    )  # fmt: skip
    assert code == 0, doc
    origins = sorted({w["origin"] for w in doc["windows"]})
    assert origins == ["2022-04", "2022-05", "2022-06"]
    assert {w["method"] for w in doc["windows"]} == {"naive", "gistar"}
    for w in doc["windows"]:
        assert w["pai"] == pytest.approx(w["hit_rate"] / w["area_share"])
        assert 0 < w["pei"] <= 1 and w["hits"] <= w["max_hits"] <= w["total"]
    assert abs(doc["area_share"] - 0.05) < 0.001
    assert doc["best"]["method"] in {"naive", "gistar"}
    assert doc["summary"][0]["mean_pai"] >= doc["summary"][1]["mean_pai"]

    text = runner.invoke(
        app, ["backtest", "--store", str(demo), "--from", "2022-01", "--to", "2022-05"]
    )
    assert text.exit_code == 0, text.output
    assert "PAI" in text.output and "2022-04" in text.output and "mean PAI" in text.output


def test_backtest_refuses_bad_options(demo: Path, tmp_path: Path) -> None:
    code, doc = run("backtest", "--store", str(demo), "--methods", "crystal-ball")
    assert code == EXIT_USAGE and "expected one of" in doc["error"]["detail"]
    code, doc = run("backtest", "--store", str(demo), "--area-share", "2")
    assert code == EXIT_USAGE and "area_share" in doc["error"]["detail"]
    code, doc = run("backtest", "--store", str(demo), "--categories", "nonsense")
    assert code == EXIT_USAGE and "nonsense" in doc["error"]["detail"]
    code, doc = run("backtest", "--store", str(tmp_path / "empty.duckdb"))
    assert code == EXIT_USAGE and "boundaries" in doc["error"]["detail"]


def test_knox_on_burglary_matches_an_all_pairs_count(demo: Path, tmp_path: Path) -> None:
    zones = tmp_path / "zones.geojson"
    code, doc = run(
        "knox", "--store", str(demo), "--categories", "burglary", "--permutations", "19",
        "--space-bands", "0,200,400", "--zones", str(zones),
    )  # fmt: skip
    assert code == 0, doc
    assert doc["month_precision"] is True
    assert doc["time_bands_days"] == [0, 1, 32, 63, 93]  # month-wide by default
    with DuckDBStore(demo) as store:
        from geodata.stores import IncidentQuery

        b = store.query_incidents(IncidentQuery(categories=["burglary"])).to_pandas()
    # independent count over all pairs (n² matrix)
    x, y = b["x"].to_numpy(), b["y"].to_numpy()
    t = b["occurred_at"].to_numpy("datetime64[D]").astype(float)
    d = np.hypot(x[:, None] - x[None, :], y[:, None] - y[None, :])
    dt = np.abs(t[:, None] - t[None, :])
    upper = np.triu(np.ones_like(d, dtype=bool), 1)
    same_month_near = upper & (d < 200) & (dt < 1)
    cell = next(c for c in doc["cells"] if c["space_to_m"] == 200 and c["time_to_days"] == 1)
    assert cell["observed"] == same_month_near.sum()
    assert doc["n_pairs"] == int((upper & (d < 400) & (dt < 93)).sum())
    assert zones.exists() == (doc["extent"] is not None)


def test_knox_table_and_bad_bands(demo: Path) -> None:
    text = runner.invoke(
        app, ["knox", "--store", str(demo), "--categories", "burglary", "--permutations", "9"]
    )
    assert text.exit_code == 0, text.output
    assert "[0, 100) m" in text.output and "[1, 32) days" in text.output
    assert "Near Repeat Calculator" in text.output
    code, doc = run("knox", "--store", str(demo), "--time-bands", "7,1", "--permutations", "9")
    assert code == EXIT_USAGE and "increasing" in doc["error"]["detail"]


def test_acceptance_table_in_the_docs_is_what_the_code_computes(demo: Path) -> None:
    """docs/evaluation.md reports PAI per month for Gravesham 2022: regenerate it if this fails
    (``python scripts/backtest_report.py``)."""
    docs = Path(__file__).resolve().parents[2] / "docs" / "evaluation.md"
    text = docs.read_text(encoding="utf-8")
    table = text.split("**PAI by test month**", 1)[1].split("\n\n", 2)[1]
    rows = [line.strip("|").split("|") for line in table.splitlines()[2:]]
    documented = {
        (r[0].strip(), m): float(v) for r in rows for m, v in zip(("naive", "gistar"), r[2:4])
    }
    assert len(documented) == 16
    code, doc = run("backtest", "--store", str(demo), "--methods", "naive,gistar")
    assert code == 0, doc
    computed = {(w["origin"], w["method"]): w["pai"] for w in doc["windows"]}
    assert set(computed) == set(documented)
    for key, value in documented.items():
        assert computed[key] == pytest.approx(value, abs=0.006), key


def test_backtest_chooses_the_default_forecast_and_maps_next_month(
    demo: Path, tmp_path: Path
) -> None:
    methods = "naive(months=3),history,ewm,pkde,sepp"
    code, doc = run(
        "backtest", "--store", str(demo), "--categories", "anti-social-behaviour",
        "--methods", methods, "--resolution", "9", "--expanding", "--next-month",
    )  # fmt: skip
    assert code == 0, doc
    # expanding: every window trains from January
    assert {w["train"].split("..")[0] for w in doc["windows"]} == {"2022-01"}
    best = max(doc["summary"], key=lambda s: s["mean_pai"])
    choice = doc["choice"]
    assert choice["mean_pai"] == pytest.approx(best["mean_pai"], rel=1e-3)
    assert choice["mean_pei"] == pytest.approx(
        next(s["mean_pei"] for s in doc["summary"] if s["method"] == choice["method"])
    )
    naive = [s for s in doc["summary"] if s["method"] in {"naive(months=3)", "history", "ewm"}]
    assert choice["best_naive_mean_pai"] == pytest.approx(max(s["mean_pai"] for s in naive))
    nm = doc["next_month"]
    assert nm["month"] == "2022-12" and nm["method"] == choice["method"]
    assert nm["trained_on"] == [f"2022-{m:02d}" for m in range(1, 12)]
    assert nm["backtest"]["mean_pai"] == choice["mean_pai"]
    assert len(nm["cells"]) == round(0.05 * doc["cells"])

    page = tmp_path / "backtest.html"
    code, _ = run(
        "backtest", "--store", str(demo), "--categories", "anti-social-behaviour",
        "--methods", methods, "--resolution", "9", "--expanding", "--next-month",
        "--html", str(page),
    )  # fmt: skip
    text = page.read_text(encoding="utf-8")
    assert code == 0 and "Where next month: 2022-12" in text and "<script" not in text
    assert text.count("fill='#b35806'") == len(nm["cells"])  # one hexagon per cell
    assert f"mean PAI of {choice['mean_pai']:.1f} (PEI {choice['mean_pei']:.2f})" in text

    # with history alone the map is the busiest cells of the eleven months: count them here
    code, doc = run(
        "backtest", "--store", str(demo), "--categories", "anti-social-behaviour",
        "--methods", "history", "--resolution", "9", "--expanding", "--next-month",
    )  # fmt: skip
    assert code == 0 and doc["choice"]["method"] == "history"
    import h3

    from geodata.stores import IncidentQuery

    with DuckDBStore(demo) as store:
        asb = store.query_incidents(IncidentQuery(categories=["anti-social-behaviour"]))
        asb = asb.to_pandas()
    counts = pd.Series(
        [h3.latlng_to_cell(lat, lng, 9) for lat, lng in zip(asb["lat"], asb["lon"], strict=True)]
    ).value_counts()
    cells = [c["cell"] for c in doc["next_month"]["cells"]]
    got = sorted(counts.reindex(cells).fillna(0).tolist(), reverse=True)
    assert got == [float(c["score"]) for c in doc["next_month"]["cells"]]
    # listed busiest first, and no flagged cell is empty (there are more busy cells than 5 %)
    scores = [c["score"] for c in doc["next_month"]["cells"]]
    assert scores == sorted(scores, reverse=True) and scores[-1] >= 1


def test_a_plan_on_the_forecast_puts_every_site_in_next_months_cells(demo: Path) -> None:
    import h3

    cats = "anti-social-behaviour"
    code, back = run(
        "backtest", "--store", str(demo), "--categories", cats, "--resolution", "9",
        "--expanding", "--next-month",
        "--methods", "naive(months=3),naive(months=6),history,ewm,pkde,sepp,gbm,ensemble",
    )  # fmt: skip
    assert code == 0, back
    flagged = {c["cell"] for c in back["next_month"]["cells"]}
    plan_args = ("plan", "--store", str(demo), "--categories", cats, "--sites", "20")
    code, plan = run(*plan_args, "--forecast")
    assert code == 0, plan
    # the plan's months' incidents, with their res-10 (site) and res-9 (forecast) cells
    with DuckDBStore(demo) as store:
        from geodata.stores import IncidentQuery

        asb = store.query_incidents(
            IncidentQuery(categories=[cats], start=datetime(2022, 9, 1), end=datetime(2022, 12, 1))
        ).to_pandas()
    pts = list(zip(asb["lat"], asb["lon"], strict=True))
    cell10 = np.array([h3.latlng_to_cell(lat, lng, 10) for lat, lng in pts])
    inside = np.array([h3.latlng_to_cell(lat, lng, 9) in flagged for lat, lng in pts])
    assert plan["sites"]
    for site in plan["sites"]:  # a site counts only its incidents inside the forecast
        assert 0 < site["count"] == int((np.isin(cell10, site["cells"]) & inside).sum())
    note = next(n for n in plan["notes"] if "forecast" in n)
    assert "2022-12" in note and back["choice"]["method"] in note
    assert f"mean PAI of {back['choice']['mean_pai']:.1f}" in note
    # without --forecast the plan is not restricted (and says nothing of a forecast): of
    # the twenty busiest recent places, some lie outside next month's forecast cells
    code, plain = run(*plan_args)
    assert code == 0 and not any("forecast" in n for n in plain["notes"])
    outside = [s for s in plain["sites"] if (np.isin(cell10, s["cells"]) & ~inside).any()]
    assert outside
