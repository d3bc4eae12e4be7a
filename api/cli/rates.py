"""``hotspots rates``: incidents per 1,000 residents by ward or LSOA (as ``/areas``)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from .common import JsonOpt, StoreOpt
from .common import open_cli_store as _store
from .common import parse_when as _parse_when
from .output import (
    EXIT_NOT_FOUND,
    fail,
    out,
    print_json,
    reporting_errors,
)


def rates(
    kind: Annotated[str, typer.Option(help="Areas: lsoa or ward.")] = "ward",
    categories: Annotated[str | None, typer.Option(help="Comma-separated category slugs.")] = None,
    from_: Annotated[
        str | None, typer.Option("--from", help="First month or day (YYYY-MM[-DD]).")
    ] = None,
    to: Annotated[str | None, typer.Option(help="Last month or day, inclusive.")] = None,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Incidents per 1,000 residents by LSOA or ward, against the borough rate."""
    from ..usecases.evaluation import finite_json
    from ..usecases.rates import area_table
    from ..usecases.window import Window

    if kind not in ("lsoa", "ward"):
        fail(f"--kind must be lsoa or ward; got {kind!r}", 2, as_json)
    cats = [c.strip() for c in categories.split(",")] if categories else None
    try:
        if cats:
            from geodata.taxonomy import validate_slugs

            validate_slugs(cats)
    except ValueError as exc:
        fail(str(exc), 2, as_json)
    start, end = _parse_when(from_, end=False), _parse_when(to, end=True)
    with reporting_errors(as_json), _store(store) as st:
        population = st.population("lsoa")
        method = (
            f"ONS LSOA population, {population['year'].max()}"
            if not population.empty
            else "no population loaded: counts only"
        )
        if st.boundaries(kind).empty:
            fail(
                f"no {kind} boundaries are loaded; see `hotspots import boundaries`",
                EXIT_NOT_FOUND,
                as_json,
            )
        if kind == "ward" and not population.empty:
            method += ", summed to wards by each LSOA's representative point"
        table, borough, _ = area_table(st, kind, cats, Window(start, end))
    period = borough.pop("period", {})
    if as_json:
        print_json(  # JSON has no NaN: a rate that cannot be worked out is null, as in the API
            finite_json(
                {
                    "kind": kind,
                    "categories": cats,
                    "population": method,
                    "period": period,
                    "borough": borough,
                    "areas": table.to_dict("records"),
                }
            )
        )
        return
    t = Table(title=f"Incidents per 1,000 residents by {kind} ({method})", title_justify="left")
    for col in ("area", "name", "count", "population", "rate", "95% interval", "× borough"):
        t.add_column(col, justify="left" if col in ("area", "name") else "right")
    for r in table.itertuples():
        t.add_row(
            r.area_code,
            r.name,
            f"{r.count:,}",
            _num(r.population, ",.0f"),
            _num(r.rate, ".1f"),
            f"{_num(r.rate_low, '.1f')}–{_num(r.rate_high, '.1f')}",
            _num(r.ratio_to_borough, ".2f"),
        )
    out.print(t)
    out.print(
        f"Borough: {borough['count']:,} incidents, {_num(borough['population'], ',.0f')} "
        f"residents, {_num(borough['rate'], '.1f')} per 1,000; {borough['outside_areas']:,} "
        f"incidents outside these {kind}s. Period: {period.get('label')}."
    )
    for note in (period.get("note"), period.get("previous_note"), period.get("population_note")):
        if note:
            out.print(note)


def _num(value, spec: str) -> str:
    """A figure for the table, or "–" when there is none (no population: no rate)."""
    if value is None or value != value:
        return "–"
    return format(value, spec)
