"""``hotspots backtest`` (how well hotspot methods predict) and ``hotspots knox`` (near repeats).

Registered on the main app by :mod:`api.cli`. House rules: ``--json`` prints one
JSON document; exit codes as in :mod:`api.cli.output` (2 a bad option value or
too little data, 4 the store failed).
"""

from __future__ import annotations

import itertools
import json
import math
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from .common import (
    CategoriesOpt,
    FromOpt,
    JsonOpt,
    StoreOpt,
    ToOpt,
    parse_when,
    write_text_file,
)
from .common import open_cli_store as _store
from .output import EXIT_USAGE, fail, out, print_json, reporting_errors


def _when(text: str | None, *, end: bool, option: str, as_json: bool) -> datetime | None:
    """``YYYY-MM`` or ``YYYY-MM-DD``; an end is inclusive (through that month or day)."""
    try:
        return parse_when(text, end=end)
    except typer.BadParameter as exc:
        fail(f"{option}: {exc}", EXIT_USAGE, as_json)
    return None  # pragma: no cover


def _categories(text: str | None, as_json: bool) -> list[str] | None:
    if text is None:
        return None
    from geodata.taxonomy import CATEGORIES

    slugs = [c.strip() for c in text.split(",") if c.strip()]
    known = {c.slug for c in CATEGORIES}
    bad = [c for c in slugs if c not in known]
    if bad or not slugs:
        fail(
            f"--categories: expected slugs from `hotspots categories`, got unknown {bad or text!r}",
            EXIT_USAGE,
            as_json,
        )
    return slugs


def _selection(
    categories: str | None, from_: str | None, to: str | None, as_json: bool
) -> tuple[list[str] | None, datetime | None, datetime | None]:
    """``--categories``, ``--from`` and ``--to``: (slugs, start, exclusive end)."""
    return (
        _categories(categories, as_json),
        _when(from_, end=False, option="--from", as_json=as_json),
        _when(to, end=True, option="--to", as_json=as_json),
    )


def _floats(text: str, option: str, as_json: bool) -> list[float]:
    try:
        return [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        fail(f"{option}: expected comma-separated numbers, got {text!r}", EXIT_USAGE, as_json)
        return []


def _split_methods(text: str) -> list[str]:
    """Split at commas outside parentheses: ``naive,gistar(k=1,),kde(bandwidth_m=150)``."""
    parts, depth, current = [], 0, ""
    for ch in text:
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if ch == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += ch
    parts.append(current)
    return [p.strip() for p in parts if p.strip()]


def _fmt(v: float, spec: str = ".2f") -> str:
    return "–" if v is None or (isinstance(v, float) and math.isnan(v)) else format(v, spec)


def backtest_cmd(
    categories: CategoriesOpt = None,
    from_: FromOpt = None,
    to: ToOpt = None,
    methods: Annotated[
        str,
        typer.Option(
            help="Comma-separated: naive, gistar, kde, dbscan, and the forecasts history, "
            "ewm, pkde, sepp, gbm, ensemble, each optionally with parameters, e.g. "
            "'naive,gistar(k=2),kde(bandwidth_m=150),naive(months=6)'."
        ),
    ] = "naive,gistar,kde,dbscan",
    train_months: Annotated[int, typer.Option(help="Training window, months.")] = 3,
    test_months: Annotated[int, typer.Option(help="Test window, months.")] = 1,
    area_share: Annotated[float, typer.Option(help="Share of the area every method flags.")] = 0.05,
    resolution: Annotated[int, typer.Option(help="H3 resolution of the common grid.")] = 10,
    min_test_count: Annotated[
        int,
        typer.Option(help="Test months with fewer incidents are left out of the averages."),
    ] = 30,
    expanding: Annotated[
        bool,
        typer.Option(help="Train on every consecutive month before each test month."),
    ] = False,
    seed: Annotated[int, typer.Option(help="Seed of methods with a random step (gbm).")] = 0,
    next_month: Annotated[
        bool,
        typer.Option(
            "--next-month",
            help="Also map the month after the last loaded one with the method the "
            "backtest chose (highest mean PAI), with its PAI and PEI.",
        ),
    ] = False,
    html_file: Annotated[
        Path | None,
        typer.Option(
            "--html",
            help="Also write a printable page: PAI per month and method as a chart, and tables.",
        ),
    ] = None,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Backtest hotspot methods month by month: hit rate, PAI, PEI, RRI at equal area.

    Uses only the months every source of the categories has loaded; a window across
    a gap is skipped and test months with fewer than --min-test-count incidents are
    shown but left out of the averages (the notes say which)."""
    from ..usecases.backtests import NoStudyArea
    from ..usecases.stored_documents import stored_backtest

    cats, start, end = _selection(categories, from_, to, as_json)
    names = _split_methods(methods)
    with reporting_errors(as_json), _store(store) as st:
        try:
            doc, created = stored_backtest(
                st,
                categories=cats,
                start=start,
                end=end,
                methods=names,
                train_months=train_months,
                test_months=test_months,
                area_share=area_share,
                res=resolution,
                min_test_count=min_test_count,
                expanding=expanding,
                seed=seed,
                next_month=next_month,
            )
        except NoStudyArea as exc:
            fail(exc.message, EXIT_USAGE, as_json)
        except ValueError as exc:
            fail(str(exc), EXIT_USAGE, as_json)
    if html_file is not None:
        from maps.evaluation import backtest_html

        from ..usecases.evaluation import finite_json

        page = backtest_html(finite_json(doc))
        write_text_file(html_file, page, "--html", as_json)
        doc["html"] = {"file": str(html_file), "bytes": len(page)}
    if as_json:
        print_json(doc)
        return
    print_backtest(doc, title=f"Backtest, {doc['incidents']:,} incidents")
    if doc.get("choice"):
        out.print(f"Default forecast: {doc['choice']['sentence']}")
    if doc.get("next_month"):
        nm = doc["next_month"]
        out.print(
            f"Where next month ({nm['month']}): {len(nm['cells'])} H3 res-{nm['h3_resolution']} "
            f"cells ({nm['area_share']:.1%} of the area) by {nm['method']}; --json lists them"
        )
    if html_file is not None:
        out.print(f"Chart and tables: wrote {html_file}")
    out.print(
        f"Stored as run {doc['run_id']}"
        + ("" if created else " (the same backtest was already stored)")
        + "; `hotspots runs show` gives it again."
    )


def print_backtest(doc: dict, title: str) -> None:
    """PAI per test window and method, then the summary and the verdict, from a backtest's
    document (:func:`api.usecases.backtests.run_backtest`, as stored)."""
    rows = doc["windows"]
    labels = list(dict.fromkeys(r["method"] for r in rows))
    table = Table(
        title=f"{title}: PAI with {doc['area_share']:.1%} of the area flagged "
        f"({doc['cells_selected']} of {doc['cells']} H3 res-{doc['h3_resolution']} cells), "
        f"{doc['train_months']}-month training",
        title_justify="left",
    )
    table.add_column("test month")
    table.add_column("incidents", justify="right")
    for label in labels:
        table.add_column(label, justify="right")
    for origin in sorted({r["origin"] for r in rows}):
        these = [r for r in rows if r["origin"] == origin]
        pai = {r["method"]: _nan(r["pai"]) for r in these}
        best = max(pai, key=lambda k: -1 if math.isnan(pai[k]) else pai[k])
        table.add_row(
            origin,
            f"{these[0]['total']:,.0f}",
            *(
                f"[bold]{_fmt(pai[m])}[/]" if m == best else _fmt(pai.get(m, math.nan))
                for m in labels
            ),
        )
    out.print(table)
    summary = Table(title="Summary over the test windows", title_justify="left")
    for col in ("method", "mean PAI", "median PAI", "hit rate", "PEI", "RRI", "best in"):
        summary.add_column(col, justify="left" if col == "method" else "right")
    for r in doc["summary"]:
        summary.add_row(
            r["method"],
            _fmt(_nan(r.get("mean_pai"))),
            _fmt(_nan(r.get("median_pai"))),
            _fmt(_nan(r.get("mean_hit_rate")), ".1%"),
            _fmt(_nan(r.get("mean_pei"))),
            _fmt(_nan(r.get("mean_rri"))),
            str(r.get("wins")),
        )
    out.print(summary)
    out.print(doc["best"]["sentence"] + ".")
    for note in doc["notes"]:
        out.print(f"[yellow]{note}[/]")


def _nan(value) -> float:
    """A stored figure (``None`` where it was not a number) as a float."""
    return math.nan if value is None else float(value)


def knox_cmd(
    categories: Annotated[str, typer.Option(help="Comma-separated category slugs.")] = "burglary",
    from_: FromOpt = None,
    to: ToOpt = None,
    space_bands: Annotated[
        str, typer.Option(help="Space band edges, m; bands are [a, b).")
    ] = "0,100,200,400,800",
    time_bands: Annotated[
        str | None,
        typer.Option(
            help="Time band edges, days; bands are [a, b). Default: month-wide for "
            "police.uk (month-dated) data, else weekly."
        ),
    ] = None,
    permutations: Annotated[int, typer.Option(help="Monte Carlo permutations.")] = 999,
    seed: Annotated[int, typer.Option(help="Seed of the permutations.")] = 0,
    zones: Annotated[
        Path | None,
        typer.Option(help="Write near-repeat risk zones (GeoJSON, WGS84) active at --as-of."),
    ] = None,
    as_of: Annotated[
        str | None, typer.Option(help="Day the zones are for (default: end of the data).")
    ] = None,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Knox test of near repeats (space-time pairs vs chance), optionally risk zones."""
    from ..usecases.knox import KnoxQuery, run_knox

    cats, start, end = _selection(categories, from_, to, as_json)
    query = KnoxQuery(
        categories=cats or [],
        start=start,
        end=end,
        space_bands_m=_floats(space_bands, "--space-bands", as_json),
        time_bands_days=_floats(time_bands, "--time-bands", as_json) if time_bands else None,
        permutations=permutations,
        seed=seed,
        risk_zones=zones is not None,
        as_of=_when(as_of, end=False, option="--as-of", as_json=as_json).date() if as_of else None,
    )
    with reporting_errors(as_json), _store(store) as st:
        doc = run_knox(st, query)  # the one Knox code path (POST /knox runs it too)
    found = doc.pop("risk_zones", None)
    if zones is not None:
        if doc["extent"] is None:
            doc["zones"] = {"written": 0, "reason": "no significant near-repeat pattern"}
        else:
            zones.write_text(json.dumps(found), encoding="utf-8")
            doc["zones"] = {
                "written": len(found["features"]),
                "file": str(zones),
                "as_of": found["as_of"],
            }
    if as_json:
        print_json(doc)
        return
    _print_knox(doc, zones)


def _print_knox(doc: dict, zones: Path | None) -> None:
    space = doc["space_bands_m"]
    times = doc["time_bands_days"]
    table = Table(
        title=f"Knox test, {', '.join(doc['categories'])}: {doc['n_events']:,} incidents, "
        f"{doc['permutations']} permutations (observed / expected pairs, ratio, p)",
        title_justify="left",
    )
    table.add_column("distance")
    for a, b in itertools.pairwise(times):
        table.add_column(f"[{a:g}, {b:g}) days", justify="right")
    cells = {(c["space_from_m"], c["time_from_days"]): c for c in doc["cells"]}
    for a, b in itertools.pairwise(space):
        row = []
        for t in times[:-1]:
            c = cells[(a, t)]
            ratio = c["ratio"]
            text = f"{c['observed']:,} / {c['expected']:,.1f}  ×{_fmt(ratio)}  p={c['p']:.3f}"
            significant = c["p"] < 0.05 and ratio is not None and ratio > 1
            row.append(f"[bold]{text}[/]" if significant else text)
        table.add_row(f"[{a:g}, {b:g}) m", *row)
    out.print(table)
    out.print(
        "[dim]Bands are half-open: [a, b) means a ≤ distance < b and a ≤ |Δt| < b "
        "(not the Near Repeat Calculator's [a−1, b)).[/]"
    )
    extent = doc["extent"]
    if extent is None:
        out.print("No significant near-repeat pattern in the nearest band (p < 0.05).")
    else:
        out.print(
            f"Near repeats reach about {extent['radius_m']:g} m and {extent['days']:g} days "
            "(the bands significant at p < 0.05, ratio > 1, from the nearest outwards)."
        )
    if doc["month_precision"]:
        out.print(
            "[yellow]police.uk dates are months: only month-wide time bands are meaningful.[/]"
        )
    for note in doc["notes"]:
        out.print(f"[yellow]{note}[/]")
    if zones is not None:
        out.print(f"Risk zones: {doc['zones']}")
