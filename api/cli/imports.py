"""``hotspots import …``: police.uk, council and GIS points, boundaries, population."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from geodata.settings import IngestSettings

from .common import JsonOpt, StoreOpt, cli_settings
from .common import open_cli_store as _store
from .output import (
    EXIT_STRICT,
    import_progress,
    out,
    print_import_report,
    print_json,
    reporting_errors,
)

import_app = typer.Typer(help="Load incidents, boundaries and population.", no_args_is_help=True)

DryRunOpt = Annotated[bool, typer.Option("--dry-run", help="Validate and report; store nothing.")]
StrictOpt = Annotated[bool, typer.Option("--strict", help="Exit 1 when any row is quarantined.")]
StudyAreaOpt = Annotated[
    Path | None,
    typer.Option("--study-area", help="Boundary file; rows outside it are quarantined."),
]
BufferOpt = Annotated[float, typer.Option("--buffer-m", help="Buffer round the study area, m.")]


def _ingest_settings(
    settings: IngestSettings, study_area: Path | None, buffer_m: float
) -> IngestSettings:
    """The import settings of the root settings, with ``--study-area`` and ``--buffer-m``."""
    if study_area is not None:
        settings = settings.model_copy(update={"study_area": study_area})
    if buffer_m:
        settings = settings.model_copy(update={"study_area_buffer_m": buffer_m})
    return settings


def _run_import(records, store_path, study_area, buffer_m, dry_run, strict, as_json, title):
    from geodata.ingest import context_for, import_records

    root = cli_settings(store_path)
    with reporting_errors(as_json), _store(store_path, root) as store:
        ctx = context_for(store, _ingest_settings(root.ingest, study_area, buffer_m))
        with import_progress(not as_json) as (on_file, on_rows):
            report = import_records(
                store, records, ctx, dry_run=dry_run, progress=on_rows, on_file=on_file
            )
    if as_json:
        print_json(report.to_dict())
    else:
        print_import_report(report, title + (" (dry run: nothing stored)" if dry_run else ""))
    if strict and report.rows_rejected:
        raise typer.Exit(EXIT_STRICT)


@import_app.command("police")
def import_police(
    paths: Annotated[list[Path], typer.Argument(help="police.uk street CSVs, folders or zips.")],
    store: StoreOpt = None,
    study_area: StudyAreaOpt = None,
    buffer_m: BufferOpt = 0.0,
    dry_run: DryRunOpt = False,
    strict: StrictOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Import police.uk street-level crime and ASB (one batch per force and month)."""
    from geodata.readers.police import read_police

    records = (rec for path in paths for rec in read_police(path))
    _run_import(records, store, study_area, buffer_m, dry_run, strict, as_json, "police.uk import")


@import_app.command("council")
def import_council(
    path: Annotated[Path, typer.Argument(help="CSV or Excel export from a council system.")],
    profile: Annotated[str, typer.Option(help="Profile name (see `hotspots profiles`) or TOML.")],
    source: Annotated[
        str | None, typer.Option(help="Source name (default council/<profile>).")
    ] = None,
    period: Annotated[
        str | None, typer.Option(help="Batch period (default: from the dates).")
    ] = None,
    store: StoreOpt = None,
    study_area: StudyAreaOpt = None,
    buffer_m: BufferOpt = 0.0,
    dry_run: DryRunOpt = False,
    strict: StrictOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Import a council or fire-service export through a column-mapping profile."""
    from geodata.readers.council import load_profile, read_council

    with reporting_errors(as_json):
        records = [read_council(path, load_profile(profile), source=source, period=period)]
    _run_import(records, store, study_area, buffer_m, dry_run, strict, as_json, "council import")


@import_app.command("points")
def import_points(
    path: Annotated[Path, typer.Argument(help="GeoJSON, GeoPackage or Shapefile of points.")],
    source: Annotated[str, typer.Option(help="Source name, e.g. kfrs/deliberate-fires.")],
    date_field: Annotated[str, typer.Option(help="Field holding the date.")],
    category_field: Annotated[str | None, typer.Option(help="Field holding the type.")] = None,
    category: Annotated[
        str | None, typer.Option(help="Fixed category slug for every point.")
    ] = None,
    ref_field: Annotated[str | None, typer.Option(help="Field holding the reference.")] = None,
    location_field: Annotated[str | None, typer.Option(help="Field holding the street.")] = None,
    layer: Annotated[str | None, typer.Option(help="Layer (GeoPackage).")] = None,
    store: StoreOpt = None,
    study_area: StudyAreaOpt = None,
    buffer_m: BufferOpt = 0.0,
    dry_run: DryRunOpt = False,
    strict: StrictOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Import points from a GIS file (CRS taken from the file)."""
    from geodata.readers.vector import read_points

    with reporting_errors(as_json):
        records = [
            read_points(
                path,
                source,
                category_field=category_field,
                fixed_category=category,
                date_field=date_field,
                ref_field=ref_field,
                location_field=location_field,
                layer=layer,
            )
        ]
    _run_import(records, store, study_area, buffer_m, dry_run, strict, as_json, "points import")


@import_app.command("boundaries")
def import_boundaries(
    path: Annotated[Path, typer.Argument(help="GeoJSON / GeoPackage of polygons.")],
    kind: Annotated[str, typer.Option(help="ward, lsoa, msoa, district or custom.")],
    code_field: Annotated[str | None, typer.Option(help="Field with area codes.")] = None,
    name_field: Annotated[str | None, typer.Option(help="Field with area names.")] = None,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Load (replace) the boundaries of one kind, e.g. wards, for rates and area queries."""
    from geodata.readers.areas import read_boundaries

    with reporting_errors(as_json), _store(store) as st:
        areas = read_boundaries(
            path, kind, code_field=code_field, name_field=name_field, analysis_crs=st.analysis_crs
        )
        n = st.replace_boundaries(kind, areas)
    if as_json:
        print_json({"kind": kind, "areas": n, "file": str(path)})
    else:
        out.print(f"Loaded {n} {kind} boundaries from {path}.")


@import_app.command("population")
def import_population(
    path: Annotated[Path, typer.Argument(help="CSV of population by area code.")],
    kind: Annotated[str, typer.Option(help="Area kind the codes belong to, e.g. lsoa.")] = "lsoa",
    code_column: Annotated[str | None, typer.Option(help="Column with area codes.")] = None,
    population_column: Annotated[str | None, typer.Option(help="Column with counts.")] = None,
    year: Annotated[int | None, typer.Option(help="Year of the estimate.")] = None,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Load (replace) population by area, for rates per 1,000 residents."""
    from geodata.readers.areas import read_population

    with reporting_errors(as_json), _store(store) as st:
        table = read_population(
            path, kind=kind, code_column=code_column, population_column=population_column, year=year
        )
        n = st.replace_population(kind, table)
    total = float(table["population"].sum())
    if as_json:
        print_json({"kind": kind, "areas": n, "population_total": total, "file": str(path)})
    else:
        out.print(f"Loaded population for {n} {kind} areas (total {total:,.0f}) from {path}.")
