"""``hotspots plan`` and ``hotspots briefing``: days-of-action plans and Ward Member briefings.

Registered on the main Typer app by :func:`register` (called from
:mod:`api.cli`). Both follow the house style: a table for people, ``--json``
for one JSON document, and the exit codes of :mod:`api.cli.output`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from .common import CategoriesOpt, FromOpt, JsonOpt, StoreOpt, ToOpt, cli_settings, parse_when
from .common import open_cli_store as _store
from .output import EXIT_CONFIG, EXIT_USAGE, fail, out, print_json, reporting_errors


def register(app: typer.Typer) -> None:
    """Add ``plan`` and ``briefing`` to the ``hotspots`` command line."""
    app.command("plan")(plan)
    app.command("briefing")(briefing)


def plan(
    area: Annotated[
        str,
        typer.Option(help="borough, a ward or LSOA code, ward:CODE, or a ward name."),
    ] = "borough",
    categories: CategoriesOpt = None,
    from_: FromOpt = None,
    to: ToOpt = None,
    sites: Annotated[int | None, typer.Option("--sites", help="Number of sites K.")] = None,
    hours: Annotated[
        float | None, typer.Option("--hours", help="Officer-hours budget (instead of --sites).")
    ] = None,
    hours_per_site: Annotated[float, typer.Option(help="Hours spent at each site.")] = 1.0,
    travel: Annotated[str, typer.Option(help="walk or drive.")] = "walk",
    speed_kmh: Annotated[
        float | None, typer.Option(help="Travel speed (default walk 4.8, drive 24).")
    ] = None,
    days: Annotated[str | None, typer.Option(help="Preferred days, e.g. Fri,Sat.")] = None,
    times: Annotated[str | None, typer.Option(help="Preferred hours, e.g. 18-23.")] = None,
    ring: Annotated[
        int, typer.Option(help="0: a site is one ~100 m hexagon; 1: with its neighbours.")
    ] = 0,
    include_artefacts: Annotated[
        bool,
        typer.Option(help="Offer recording places (e.g. police stations) as sites."),
    ] = False,
    forecast: Annotated[
        bool,
        typer.Option(
            help="Choose sites inside next month's forecast: the method the backtest "
            "chooses for these categories (notes give its PAI and PEI)."
        ),
    ] = False,
    output: Annotated[
        list[Path] | None,
        typer.Option(
            "--output", "-o", help="Write the plan: .html (briefing), .pdf, .json or .geojson."
        ),
    ] = None,
    map_file: Annotated[
        Path | None,
        typer.Option("--map", help="Write an interactive map of the sites (standalone HTML)."),
    ] = None,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Plan a day of action: the places that cover the most harm, when to go, in what order."""
    from hotspots.planner import InvalidPlan, PlanParams

    from ..usecases import plans as _plan

    try:
        params = PlanParams(
            categories=tuple(c.strip() for c in categories.split(",")) if categories else None,
            start=parse_when(from_, end=False),
            end=parse_when(to, end=True),
            sites=sites,
            hours=hours,
            hours_per_site=hours_per_site,
            travel_mode=travel,
            speed_kmh=speed_kmh,
            days=_plan.parse_days(days),
            hours_of_day=_plan.parse_times(times),
            ring=ring,
        )
    except (InvalidPlan, ValueError, typer.BadParameter) as exc:
        fail(getattr(exc, "message", None) or str(exc), EXIT_USAGE, as_json)
    for path in output or []:
        if path.suffix.lower() not in (".html", ".htm", ".pdf", ".json", ".geojson"):
            fail(
                f"--output {path}: expected a file ending .html, .pdf, .json or .geojson",
                EXIT_USAGE,
                as_json,
            )
    from maps.briefing import PdfUnavailable

    from ..disclosure import Disclosure
    from ..usecases.plan_runs import PlanRequest, plan_document, plan_run

    asked = PlanRequest(params, area, include_artefacts, forecast)
    policy = Disclosure(role="analyst")  # the command line is the analyst's door
    settings = cli_settings(store)
    with reporting_errors(as_json), _store(store, settings) as st:
        stored = plan_run(st, asked, policy)
        view = stored.view(policy)
        doc = plan_document(view)
        briefing_wanted = any(p.suffix.lower() in (".html", ".htm", ".pdf") for p in output or [])
        plan_obj = stored.plan_for(st, asked, policy) if briefing_wanted else None
    try:
        written = [_write_plan(doc, view, plan_obj, path) for path in output or []]
    except PdfUnavailable as exc:
        fail(str(exc), EXIT_CONFIG, as_json)
    if map_file is not None:
        from ..usecases.maps import plan_map_page

        page = plan_map_page(view, "analyst", 1, settings.maps, assets="inline")
        map_file.write_text(page, encoding="utf-8")
        written.append(map_file)
    if as_json:
        doc["written"] = [str(p) for p in written]
        print_json(doc)
        return
    print_plan(doc)
    out.print(
        f"Stored as run {stored.run.run_id}"
        + ("" if stored.created else " (the same plan was already stored)")
        + f": `hotspots share {stored.run.run_id}` sends it to a neighbourhood team.",
        soft_wrap=True,
    )
    for path in written:
        out.print(f"Wrote {path}.")


def _write_plan(doc: dict, view: dict, plan, path: Path) -> Path:
    from maps.briefing import html_to_pdf, plan_briefing_html

    suffix = path.suffix.lower()
    if suffix in (".html", ".htm"):
        path.write_text(plan_briefing_html(plan), encoding="utf-8")
    elif suffix == ".pdf":
        path.write_bytes(html_to_pdf(plan_briefing_html(plan)))
    elif suffix == ".geojson":
        path.write_text(json.dumps(view), encoding="utf-8")
    else:
        path.write_text(json.dumps(doc, indent=2), encoding="utf-8")
    return path


def print_plan(doc: dict) -> None:
    """A plan document (:func:`api.usecases.plan_runs.plan_document`) as a table and its notes."""
    s = doc["summary"]
    sites = doc["sites"]
    table = Table(
        title=f"Day of action — {s['area']}: {len(sites)} sites, "
        f"{s['harm_share']:.1%} of harm on {s['area_share']:.2%} of the area"
        + (f" (PAI {s['pai']:.0f})" if s["pai"] else ""),
        title_justify="left",
    )
    for col in ("#", "count", "harm", "trend", "when", "from last", "where (top street; lat, lon)"):
        table.add_column(col, justify="right" if col in ("#", "count", "harm") else "left")
    for site in sites:
        streets = site.get("top_locations") or []
        street = streets[0][0] if streets else "(no street name)"
        table.add_row(
            str(site["visit"]),
            f"{site['count']:,}",
            f"{site['harm']:,.0f}",
            site["trend"]["direction"],
            site["window"].get("short", ""),
            "start" if site["visit"] == 1 else f"{site['leg_m']:,.0f} m",
            f"{street}; {site['centre_lat']:.5f}, {site['centre_lon']:.5f}",
        )
    out.print(table)
    out.print(
        f"Route {s['distance_m']:,.0f} m in straight lines, {s['travel_hours'] * 60:.0f} min of "
        f"travel + {s['visit_hours']:g} h on site = {s['total_hours']:.1f} h"
        + (f" (budget {s['budget_hours']:g} h)" if s["budget_hours"] else "")
        + f"; {s['covered_count']:,} of {s['n_incidents']:,} incidents covered."
    )
    for note in doc["notes"]:
        out.print(f"[yellow]{note}[/]")


def briefing(
    ward: Annotated[str, typer.Argument(help="Ward code (e.g. E05004964) or name.")],
    categories: CategoriesOpt = None,
    from_: FromOpt = None,
    to: ToOpt = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the briefing (.html or .pdf).")
    ] = None,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """A Ward Member briefing: counts and rates against the borough, change, top places, map."""
    from datetime import datetime

    from maps.briefing import PdfUnavailable, html_to_pdf, ward_briefing_html

    from ..usecases.plans import ward_briefing
    from ..usecases.window import Window

    cats = [c.strip() for c in categories.split(",")] if categories else None
    try:
        if cats:
            from geodata.taxonomy import validate_slugs

            validate_slugs(cats)
        window = Window(parse_when(from_, end=False), parse_when(to, end=True))
    except (ValueError, typer.BadParameter) as exc:
        fail(str(exc), EXIT_USAGE, as_json)
    if output is not None and output.suffix.lower() not in (".html", ".htm", ".pdf"):
        fail(f"--output {output}: expected a file ending .html or .pdf", EXIT_USAGE, as_json)
    with reporting_errors(as_json), _store(store) as st:
        doc = ward_briefing(st, ward, window, cats, generated=datetime.now().strftime("%d %B %Y"))
    if output is not None:
        page = ward_briefing_html(doc)
        if output.suffix.lower() == ".pdf":
            try:
                output.write_bytes(html_to_pdf(page))
            except PdfUnavailable as exc:
                fail(str(exc), EXIT_CONFIG, as_json)
        else:
            output.write_text(page, encoding="utf-8")
    if as_json:
        print_json(doc)
        return
    t = doc["totals"]
    table = Table(
        title=f"{doc['ward']['name']} ({doc['ward']['code']}), {doc['period']['label']}: "
        f"{t['count']:,} incidents"
        + (f", {t['rate']:.1f} per 1,000 residents" if t["rate"] is not None else "")
        + (f" ({t['ratio_to_borough']:.2f}× the borough)" if t["ratio_to_borough"] else ""),
        title_justify="left",
    )
    for col in ("category", "count", "per 1,000", "borough per 1,000", "change on last year"):
        table.add_column(col, justify="left" if col == "category" else "right")
    for r in doc["categories"]:
        table.add_row(
            r["category"],
            f"{r['count']:,}",
            "–" if r["rate"] is None else f"{r['rate']:.1f}",
            "–" if r["borough_rate"] is None else f"{r['borough_rate']:.1f}",
            "–" if r["change_pct"] is None else f"{r['change_pct']:+.0f}%",
        )
    out.print(table)
    for h in doc["hotspots"]:
        street = h["top_locations"][0][0] if h["top_locations"] else "(no street name)"
        out.print(f"  top place {h['rank']}: {street} — {h['count']:,} incidents")
    for note in doc["notes"]:
        out.print(f"[dim]{note}[/]")
    if output is not None:
        out.print(f"Wrote {output}.")
