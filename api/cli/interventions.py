"""``hotspots interventions …`` (the interventions log) and ``hotspots evaluate`` (before/after).

Registered on the main app by :mod:`api.cli`. Same house rules: ``--json`` prints
one JSON document; exit codes as in :mod:`api.cli.output` (2 a bad option value,
3 an unusable polygon file, 4 the store failed, 6 no such intervention).
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from geodata.errors import InputFileError
from geodata.vocab import (
    CONTROL_CHOICES,
    DEFAULT_BUFFER_M,
    DEFAULT_WINDOW_MONTHS,
    INTERVENTION_KINDS,
)

from .common import JsonOpt, StoreOpt, load_harm_weights, parse_when, write_text_file
from .common import open_cli_store as _store
from .output import EXIT_NOT_FOUND, EXIT_USAGE, fail, out, print_json, reporting_errors

interventions_app = typer.Typer(
    help="The interventions log: days of action, CCTV, lighting, patrols.", no_args_is_help=True
)


def _date(text: str | None, option: str, as_json: bool) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        fail(f"{option}: expected a date YYYY-MM-DD; got {text!r}", EXIT_USAGE, as_json)
    return None  # pragma: no cover


def _read_geojson(path: Path, option: str) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputFileError(path, f"cannot be read ({exc.strerror or exc})", field=option) from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputFileError(path, f"expected a GeoJSON file (JSON text); {exc}") from exc


@interventions_app.command("add")
def add(
    title: Annotated[str, typer.Option(help="What was done, e.g. 'Day of action: Windmill Hill'.")],
    kind: Annotated[str, typer.Option(help=f"One of: {', '.join(INTERVENTION_KINDS)}.")],
    start: Annotated[str, typer.Option(help="First day, YYYY-MM-DD.")],
    end: Annotated[
        str | None, typer.Option(help="Last day, YYYY-MM-DD, inclusive (default: the start).")
    ] = None,
    polygon: Annotated[
        Path | None, typer.Option(help="GeoJSON file of the area (WGS84 polygon).")
    ] = None,
    ward: Annotated[str | None, typer.Option(help="A stored ward code, e.g. E05000275.")] = None,
    lsoa: Annotated[str | None, typer.Option(help="A stored LSOA code.")] = None,
    cells: Annotated[str | None, typer.Option(help="Comma-separated H3 cell ids.")] = None,
    hours: Annotated[float | None, typer.Option(help="Officer hours spent.")] = None,
    notes: Annotated[str, typer.Option(help="Anything else worth recording.")] = "",
    by: Annotated[str, typer.Option(help="Who logged it.")] = "cli",
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Log an intervention: what, where (one of --polygon, --ward, --lsoa, --cells) and when."""
    start_date = _date(start, "--start", as_json)
    end_date = _date(end, "--end", as_json) if end is not None else start_date
    given = [o for o, v in (("--polygon", polygon), ("--ward", ward), ("--lsoa", lsoa),
                            ("--cells", cells)) if v is not None]  # fmt: skip
    if len(given) != 1:
        fail(
            "give the area with exactly one of --polygon FILE, --ward CODE, --lsoa CODE or "
            f"--cells IDS; got {', '.join(given) or 'none'}",
            EXIT_USAGE,
            as_json,
        )
    from geodata.interventions import InvalidIntervention

    from ..usecases.interventions import build_intervention

    with reporting_errors(as_json):
        geometry = _read_geojson(polygon, "--polygon") if polygon is not None else None
        with _store(store) as st:
            try:
                record = build_intervention(
                    st,
                    title=title,
                    kind=kind,
                    start_date=start_date,
                    end_date=end_date,
                    created_by=by,
                    geometry=geometry,
                    ward=ward,
                    lsoa=lsoa,
                    cells=[c.strip() for c in cells.split(",") if c.strip()] if cells else None,
                    officer_hours=hours,
                    notes=notes,
                )
                record = st.add_intervention(record)
            except InvalidIntervention as exc:
                if polygon is not None and exc.field.startswith("geometry"):
                    raise InputFileError(polygon, exc.message) from None
                fail(exc.message, EXIT_USAGE, as_json)
    if as_json:
        print_json(record.to_dict())
        return
    out.print(
        f"Logged {record.intervention_id}: {record.title} ({record.kind}, "
        f"{_when(record)}). Evaluate it with `hotspots evaluate {record.intervention_id}`."
    )


def _when(rec) -> str:
    if rec.start_date == rec.end_date:
        return f"{rec.start_date:%d %b %Y}"
    return f"{rec.start_date:%d %b %Y} to {rec.end_date:%d %b %Y}"


def _where(rec) -> str:
    if rec.area_type in ("ward", "lsoa"):
        return f"{rec.area_type} {rec.area_codes[0]}"
    if rec.area_type == "cells":
        return f"{len(rec.area_codes)} H3 cells"
    return "drawn polygon"


@interventions_app.command("list")
def list_(store: StoreOpt = None, as_json: JsonOpt = False) -> None:
    """The interventions log, latest first."""
    with reporting_errors(as_json), _store(store) as st:
        records = st.list_interventions()
    if as_json:
        print_json([r.to_dict() for r in records])
        return
    table = Table(title=f"{len(records)} interventions", title_justify="left")
    for col in ("id", "when", "kind", "title", "where", "officer hours"):
        table.add_column(col, justify="right" if col == "officer hours" else "left")
    for r in records:
        table.add_row(
            r.intervention_id,
            _when(r),
            r.kind,
            r.title,
            _where(r),
            "" if r.officer_hours is None else f"{r.officer_hours:g}",
        )
    out.print(table)


@interventions_app.command("show")
def show(intervention_id: str, store: StoreOpt = None, as_json: JsonOpt = False) -> None:
    """One intervention with its outline (GeoJSON, WGS84)."""
    with reporting_errors(as_json), _store(store) as st:
        record = st.get_intervention(intervention_id)
    if record is None:
        fail(
            f"no intervention {intervention_id!r}; see `hotspots interventions list`",
            EXIT_NOT_FOUND,
            as_json,
        )
    if as_json:
        print_json(record.to_dict())
        return
    out.print(f"[bold]{record.title}[/] ({record.intervention_id})")
    out.print(f"  kind: {record.kind}; when: {_when(record)}; where: {_where(record)}")
    if record.officer_hours is not None:
        out.print(f"  officer hours: {record.officer_hours:g}")
    if record.notes:
        out.print(f"  notes: {record.notes}")
    out.print(f"  logged {record.created_at:%Y-%m-%d %H:%M} UTC by {record.created_by}")


@interventions_app.command("delete")
def delete(intervention_id: str, store: StoreOpt = None, as_json: JsonOpt = False) -> None:
    """Remove an intervention from the log."""
    with reporting_errors(as_json), _store(store) as st:
        found = st.delete_intervention(intervention_id)
    if not found:
        fail(
            f"no intervention {intervention_id!r}; see `hotspots interventions list`",
            EXIT_NOT_FOUND,
            as_json,
        )
    if as_json:
        print_json({"deleted": intervention_id})
    else:
        out.print(f"Deleted {intervention_id}.")


def _window(a: str | None, b: str | None, name: str, as_json: bool):
    """``--NAME-from`` / ``--NAME-to`` (``YYYY-MM`` or dates, inclusive) → (start, end)."""
    if a is None and b is None:
        return None
    if a is None or b is None:
        fail(f"give both --{name}-from and --{name}-to, or neither", EXIT_USAGE, as_json)
    try:
        return (parse_when(a, end=False), parse_when(b, end=True))
    except typer.BadParameter as exc:
        fail(f"--{name}-from/--{name}-to: {exc}", EXIT_USAGE, as_json)
    return None  # pragma: no cover


def evaluate(
    intervention_id: Annotated[str, typer.Argument(help="The intervention's id.")],
    buffer_m: Annotated[
        float, typer.Option(help="Width of the displacement buffer round the target, m.")
    ] = DEFAULT_BUFFER_M,
    control: Annotated[
        str,
        typer.Option(
            help="Control area: auto (the target's ward, or the borough for a ward-wide "
            "intervention), borough, ward, ward:CODE, lsoa:CODE, or a GeoJSON file. Target "
            "and buffer are cut out."
        ),
    ] = "auto",
    months: Annotated[
        int, typer.Option(help="Whole months before and after (default windows).")
    ] = DEFAULT_WINDOW_MONTHS,
    before_from: Annotated[
        str | None, typer.Option(help="Before window start, YYYY-MM[-DD].")
    ] = None,
    before_to: Annotated[str | None, typer.Option(help="Before window end, inclusive.")] = None,
    after_from: Annotated[
        str | None, typer.Option(help="After window start, YYYY-MM[-DD].")
    ] = None,
    after_to: Annotated[str | None, typer.Option(help="After window end, inclusive.")] = None,
    categories: Annotated[
        str | None, typer.Option(help="Comma-separated category slugs (default all).")
    ] = None,
    harm_weights: Annotated[Path | None, typer.Option(help="Your own harm weights (TOML).")] = None,
    map_file: Annotated[
        Path | None,
        typer.Option(
            "--map",
            help="Also write the evaluation as a map (HTML, works offline): outlines, "
            "counts and the verdict.",
        ),
    ] = None,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Before/after evaluation of an intervention: target, control and displacement buffer,
    WDQ and the weighted displacement difference, with a verdict in plain words."""
    before = _window(before_from, before_to, "before", as_json)
    after = _window(after_from, after_to, "after", as_json)
    control_arg: str | dict = control
    with reporting_errors(as_json):
        if control not in CONTROL_CHOICES and ":" not in control:
            path = Path(control)
            if not path.exists():
                fail(
                    "--control: expected auto, borough, ward, ward:CODE, lsoa:CODE or a "
                    f"GeoJSON file; got {control!r}",
                    EXIT_USAGE,
                    as_json,
                )
            control_arg = _read_geojson(path, "--control")
        from ..usecases.evaluation import InvalidEvaluation
        from ..usecases.stored_documents import stored_evaluation

        weights = None
        if harm_weights is not None:
            weights = load_harm_weights(harm_weights)
        with _store(store) as st:
            try:
                doc, _ = stored_evaluation(
                    st,
                    intervention_id,
                    harm_weights=weights,
                    buffer_m=buffer_m,
                    control=control_arg,
                    before=before,
                    after=after,
                    months=months,
                    categories=[c.strip() for c in categories.split(",")] if categories else None,
                )
            except InvalidEvaluation as exc:
                fail(exc.message, EXIT_USAGE, as_json)
    if map_file is not None:
        doc["map"] = _write_evaluation_map(doc, map_file, as_json)
    if as_json:
        print_json(doc)
        return
    print_evaluation(doc)
    if map_file is not None:
        out.print(f"Map: wrote {map_file} ({doc['map']['bytes'] / 1e6:.2f} MB)")


def _write_evaluation_map(doc: dict, path: Path, as_json: bool) -> dict:
    """Write the evaluation map page (scripts inlined) to ``path``."""
    from maps.assets import MissingAssets
    from maps.evaluation import evaluation_map_html
    from maps.settings import MapSettings

    from .output import EXIT_CONFIG

    settings = MapSettings()
    try:
        page = evaluation_map_html(
            doc,
            tile_url=settings.tile_url,
            tile_attribution=settings.tile_attribution,
            assets="inline",
        )
    except MissingAssets as exc:
        fail(str(exc), EXIT_CONFIG, as_json)
    write_text_file(path, page, "--map", as_json)
    return {"file": str(path), "bytes": len(page)}


def print_evaluation(doc: dict) -> None:
    """The plan, the counts per area and window, and the verdict."""
    plan = doc["plan"]
    rec = doc["intervention"]
    out.print(f"[bold]{rec['title']}[/] ({rec['intervention_id']}, {rec['kind']})")
    out.print(
        f"Before: {plan['before'][0][:10]} to {plan['before'][1][:10]}; after: "
        f"{plan['after'][0][:10]} to {plan['after'][1][:10]} (ends exclusive). "
        f"Control: {plan['control']}; buffer {plan['buffer_m']:g} m. Areas (km²): "
        + ", ".join(f"{k} {v:.3f}" for k, v in plan["area_km2"].items())
    )
    counts = _counts(doc["result"])
    if counts:
        table = Table(title="Incidents", title_justify="left")
        for col in ("area", "before", "after", "change"):
            table.add_column(col, justify="left" if col == "area" else "right")
        for area, (b, a) in counts.items():
            change = f"{100 * (a - b) / b:+.0f} %" if b else ""
            table.add_row(area, f"{b:,.0f}", f"{a:,.0f}", change)
        out.print(table)
    out.print(f"[bold]Verdict: {doc['verdict']}.[/] {doc['summary']}")
    for note in doc["result"].get("notes") or []:
        out.print(f"[dim]Note: {note}[/]")


def _counts(result: dict) -> dict[str, tuple[float, float]]:
    """``{area: (before, after)}`` from the evaluation result, if it has counts."""
    counts = result.get("counts")
    found: dict[str, tuple[float, float]] = {}
    if isinstance(counts, dict):
        for area in ("target", "buffer", "control"):
            c = counts.get(area)
            if isinstance(c, dict) and "before" in c and "after" in c:
                found[area] = (float(c["before"]), float(c["after"]))
            elif isinstance(c, list | tuple) and len(c) == 2:
                found[area] = (float(c[0]), float(c[1]))
    return found
