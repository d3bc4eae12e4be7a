"""The ``hotspots`` command line: a thin shell over the same functions the API calls.

Every command that reports takes ``--json`` and then prints exactly one JSON
document on stdout. Exit codes are listed in :mod:`api.cli_output`.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from geodata.errors import NotFound

if TYPE_CHECKING:  # commands import the data stack when they run: `hotspots --help` is quick
    from geodata.settings import IngestSettings
    from geodata.stores import Store

from .cli_common import JsonOpt, StoreOpt
from .cli_common import load_concern as _load_concern
from .cli_common import load_harm_weights as _load_harm_weights
from .cli_common import open_cli_store as _store
from .cli_common import parse_when as _parse_when
from .cli_common import store_settings as _store_settings
from .cli_output import (
    EXIT_CONFIG,
    EXIT_NOT_FOUND,
    EXIT_STRICT,
    err,
    fail,
    import_progress,
    out,
    print_import_report,
    print_json,
    print_ranked,
    reporting_errors,
)
from .cli_plan import register as register_plan_commands

app = typer.Typer(
    name="hotspots",
    help="Find where and when crime and anti-social behaviour concentrate, and act on it.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
import_app = typer.Typer(help="Load incidents, boundaries and population.", no_args_is_help=True)
db_app = typer.Typer(help="The store's schema.", no_args_is_help=True)
app.add_typer(import_app, name="import")
app.add_typer(db_app, name="db")
register_plan_commands(app)  # hotspots plan, hotspots briefing

DryRunOpt = Annotated[bool, typer.Option("--dry-run", help="Validate and report; store nothing.")]
StrictOpt = Annotated[bool, typer.Option("--strict", help="Exit 1 when any row is quarantined.")]
StudyAreaOpt = Annotated[
    Path | None,
    typer.Option("--study-area", help="Boundary file; rows outside it are quarantined."),
]
BufferOpt = Annotated[float, typer.Option("--buffer-m", help="Buffer round the study area, m.")]


def _ingest_settings(study_area: Path | None, buffer_m: float) -> IngestSettings:
    from geodata.settings import IngestSettings

    settings = IngestSettings()
    if study_area is not None:
        settings = settings.model_copy(update={"study_area": study_area})
    if buffer_m:
        settings = settings.model_copy(update={"study_area_buffer_m": buffer_m})
    return settings


def _run_import(records, store_path, study_area, buffer_m, dry_run, strict, as_json, title):
    from geodata.ingest import context_for, import_records

    with reporting_errors(as_json), _store(store_path) as store:
        ctx = context_for(store, _ingest_settings(study_area, buffer_m))
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


@app.command("batches")
def list_batches(store: StoreOpt = None, as_json: JsonOpt = False) -> None:
    """List the stored batches (one per source and period)."""
    with reporting_errors(as_json), _store(store) as st:
        batches = st.list_batches()
    if as_json:
        print_json([b.to_dict() for b in batches])
        return
    table = Table(title=f"{len(batches)} batches", title_justify="left")
    for col in ("batch", "accepted", "rejected", "imported", "files"):
        table.add_column(col, justify="right" if col in ("accepted", "rejected") else "left")
    for b in batches:
        table.add_row(
            b.batch_id,
            f"{b.rows_accepted:,}",
            f"{b.rows_rejected:,}",
            f"{b.imported_at:%Y-%m-%d %H:%M}" if b.imported_at else "",
            ", ".join(Path(f.split("!")[-1]).name for f in b.files),
        )
    out.print(table)


@app.command("delete-batch")
def delete_batch(batch_id: str, store: StoreOpt = None, as_json: JsonOpt = False) -> None:
    """Remove one batch with its incidents and quarantined rows."""
    with reporting_errors(as_json), _store(store) as st:
        found = st.delete_batch(batch_id)
    if not found:
        fail(f"no batch {batch_id!r}; see `hotspots batches`", EXIT_NOT_FOUND, as_json)
    if as_json:
        print_json({"deleted": batch_id})
    else:
        out.print(f"Deleted {batch_id}.")


@app.command("quarantine")
def show_quarantine(
    batch: Annotated[str | None, typer.Option(help="Only this batch.")] = None,
    reason: Annotated[str | None, typer.Option(help="Only this reason.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many rows.")] = 50,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show quarantined rows: file, row, reason, field and the row as it was."""
    from geodata.model import REASONS

    if reason is not None and reason not in REASONS:
        fail(f"unknown reason {reason!r}; expected one of {sorted(REASONS)}", 2, as_json)
    with reporting_errors(as_json), _store(store) as st:
        rows = st.read_quarantine(batch_id=batch, reason=reason, limit=limit).to_pylist()
    if as_json:
        print_json(rows)
        return
    table = Table(title=f"{len(rows)} quarantined rows (limit {limit})", title_justify="left")
    for col in ("file", "row", "reason", "detail", "raw"):
        table.add_column(col, overflow="fold")
    for r in rows:
        table.add_row(
            Path(r["file"].split("!")[-1]).name,
            str(r["row_number"]),
            r["reason"],
            r["detail"] or "",
            (r["raw"] or "")[:120],
        )
    out.print(table)


@app.command("categories")
def list_categories(as_json: JsonOpt = False) -> None:
    """The taxonomy: every category slug, its label, group and source."""
    from geodata.settings import IngestSettings
    from geodata.taxonomy import CATEGORIES

    sensitive = IngestSettings().sensitive_categories
    rows = [
        {
            "slug": c.slug,
            "label": c.label,
            "group": c.group,
            "source": c.source,
            "sensitive": c.slug in sensitive,
        }
        for c in CATEGORIES
    ]
    if as_json:
        print_json(rows)
        return
    table = Table(title="Categories", title_justify="left")
    for col in ("slug", "label", "group", "source", "sensitive"):
        table.add_column(col)
    for r in rows:
        table.add_row(
            r["slug"], r["label"], r["group"], r["source"], "yes" if r["sensitive"] else ""
        )
    out.print(table)


@app.command("profiles")
def list_profiles_cmd(as_json: JsonOpt = False) -> None:
    """Column-mapping profiles shipped for council exports."""
    from geodata.readers.council import list_profiles, load_profile

    profiles = [load_profile(name) for name in list_profiles()]
    if as_json:
        print_json([{"name": p.name, "description": p.description} for p in profiles])
        return
    for p in profiles:
        out.print(f"[bold]{p.name}[/]: {p.description}")


@db_app.command("upgrade")
def db_upgrade(store: StoreOpt = None, as_json: JsonOpt = False) -> None:
    """Apply pending schema migrations (PostGIS: migrations/NNNN_*.sql, in order)."""
    from geodata.stores import open_store

    with reporting_errors(as_json), open_store(_store_settings(store), upgrade=False) as st:
        applied = st.upgrade()
        status = st.schema_status()
    if as_json:
        print_json({"applied": applied, **status})
    elif applied:
        out.print("Applied: " + ", ".join(applied))
    else:
        out.print("The schema is up to date.")


@db_app.command("status")
def db_status(store: StoreOpt = None, as_json: JsonOpt = False) -> None:
    """Which migrations are applied and which are pending."""
    from geodata.stores import open_store

    with reporting_errors(as_json), open_store(_store_settings(store), upgrade=False) as st:
        status = st.schema_status()
    if as_json:
        print_json(status)
    else:
        out.print(
            f"current: {status['current']}; applied: {status['applied']}; "
            f"pending: {status['pending']}"
        )


@app.command("analyse")
def analyse(
    method: Annotated[
        str, typer.Option(help="dbscan, hdbscan, hexes, gistar, emerging or kde.")
    ] = "dbscan",
    categories: Annotated[str | None, typer.Option(help="Comma-separated category slugs.")] = None,
    from_: Annotated[
        str | None, typer.Option("--from", help="First month or day (YYYY-MM[-DD]).")
    ] = None,
    to: Annotated[str | None, typer.Option(help="Last month or day, inclusive.")] = None,
    eps_m: Annotated[
        float | None, typer.Option(help="DBSCAN radius, m (default: from data).")
    ] = None,
    min_samples: Annotated[
        int | None, typer.Option(help="DBSCAN/HDBSCAN min samples (default: from data).")
    ] = None,
    min_cluster_size: Annotated[
        int | None, typer.Option(help="HDBSCAN min cluster size (default: from data).")
    ] = None,
    cluster_selection: Annotated[
        str, typer.Option(help="HDBSCAN: leaf (smallest dense places) or eom (most persistent).")
    ] = "leaf",
    resolution: Annotated[
        int | None, typer.Option(help="H3 resolution 7-10 (default: data).")
    ] = None,
    k: Annotated[int, typer.Option(help="Gi* neighbours: k-ring.")] = 1,
    value: Annotated[str, typer.Option(help="Grid value: count or harm.")] = "count",
    permute: Annotated[
        bool, typer.Option(help="Gi*: conditional permutation inference (seeded).")
    ] = False,
    permutations: Annotated[int, typer.Option(help="Permutations when --permute.")] = 999,
    fdr: Annotated[bool, typer.Option(help="Benjamini-Hochberg FDR for Gi* classes.")] = False,
    bandwidth_m: Annotated[float | None, typer.Option(help="KDE bandwidth, m.")] = None,
    cell_m: Annotated[float, typer.Option(help="KDE cell size, m.")] = 50.0,
    seed: Annotated[int, typer.Option(help="Seed for every random step.")] = 0,
    top: Annotated[int, typer.Option(help="How many ranked hotspots to show.")] = 10,
    weights: Annotated[
        str | None,
        typer.Option(help="Ranking weights, e.g. volume=0.25,harm=0.35,trend=0.15,concern=0.25."),
    ] = None,
    concern: Annotated[
        Path | None, typer.Option(help="Your own community-concern profile (TOML).")
    ] = None,
    harm_weights: Annotated[Path | None, typer.Option(help="Your own harm weights (TOML).")] = None,
    output: Annotated[
        Path | None, typer.Option(help="Write the ranked hotspots as GeoJSON.")
    ] = None,
    include_artefacts: Annotated[
        bool,
        typer.Option(help="Keep incidents at recording places (e.g. 'On or near Police Station')."),
    ] = False,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Find hotspots, rank them by volume, harm, trend and community concern."""
    from hotspots.analysis import AnalysisParams

    try:
        params = AnalysisParams(
            method=method,
            categories=tuple(c.strip() for c in categories.split(",")) if categories else None,
            start=_parse_when(from_, end=False),
            end=_parse_when(to, end=True),
            eps_m=eps_m,
            min_samples=min_samples,
            min_cluster_size=min_cluster_size,
            cluster_selection=cluster_selection,
            resolution=resolution,
            k=k,
            value=value,
            permutations=permutations if permute else 0,
            fdr=fdr,
            bandwidth_m=bandwidth_m,
            cell_m=cell_m,
            seed=seed,
        )
        from hotspots.ranking import RankingWeights

        ranking = RankingWeights.parse(weights) if weights else RankingWeights()
    except ValueError as exc:
        fail(str(exc), 2, as_json)
    request = {
        "method": method,
        "categories": list(params.categories) if params.categories else None,
        "from": from_,
        "to": to,
        "eps_m": eps_m,
        "min_samples": min_samples,
        "min_cluster_size": min_cluster_size,
        "cluster_selection": cluster_selection,
        "resolution": resolution,
        "k": k,
        "value": value,
        "permute": permute,
        "permutations": permutations,
        "fdr": fdr,
        "bandwidth_m": bandwidth_m,
        "cell_m": cell_m,
        "seed": seed,
        "weights": ranking.normalised() if weights else None,
        "include_artefacts": include_artefacts,
    }
    with reporting_errors(as_json), _store(store) as st:
        from .service import run_or_reuse

        harm = _load_harm_weights(harm_weights)
        profile = _load_concern(concern)
        run, created = run_or_reuse(
            st,
            request,
            params,
            ranking,
            weights=harm if harm_weights else None,
            concern=profile if concern else None,
        )
    from .disclosure import Disclosure

    doc = Disclosure(role="analyst").run_view(run.result)
    if output is not None:
        output.write_text(json.dumps(doc, default=str), encoding="utf-8")
    if as_json:
        print_json({**doc, "stored": {"run_id": run.run_id, "created": created}})
        return
    print_ranked(doc, top)
    out.print(
        f"Run {run.run_id} {'stored' if created else 'was already stored (same request and data)'}"
        f": `hotspots map {run.run_id} -o map.html`, `hotspots share {run.run_id}`."
    )
    if output is not None:
        out.print(f"Wrote {len(doc['features'])} hotspots to {output}.")


@app.command("rates")
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
    from .area_figures import area_table
    from .filters import Window

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
        if population.empty:
            fail(
                "no LSOA population is loaded; see `hotspots import population`",
                EXIT_NOT_FOUND,
                as_json,
            )
        method = f"ONS LSOA population, {population['year'].max()}"
        if st.boundaries(kind).empty:
            fail(
                f"no {kind} boundaries are loaded; see `hotspots import boundaries`",
                EXIT_NOT_FOUND,
                as_json,
            )
        if kind == "ward":
            method += ", summed to wards by each LSOA's representative point"
        table, borough, _ = area_table(st, kind, cats, Window(start, end))
    period = borough.pop("period", {})
    if as_json:
        print_json(
            {
                "kind": kind,
                "categories": cats,
                "population": method,
                "period": period,
                "borough": borough,
                "areas": table.to_dict("records"),
            }
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
            f"{r.population:,.0f}",
            f"{r.rate:.1f}",
            f"{r.rate_low:.1f}–{r.rate_high:.1f}",
            f"{r.ratio_to_borough:.2f}",
        )
    out.print(t)
    out.print(
        f"Borough: {borough['count']:,} incidents, {borough['population']:,.0f} residents, "
        f"{borough['rate']:.1f} per 1,000; {borough['outside_areas']:,} incidents outside "
        f"these {kind}s. Period: {period.get('label')}."
    )
    for note in (period.get("note"), period.get("previous_note")):
        if note:
            out.print(note)


keys_app = typer.Typer(help="API keys for the web service (stored hashed).", no_args_is_help=True)
app.add_typer(keys_app, name="keys")


@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Argument(help="Who or what the key is for.")],
    role: Annotated[str, typer.Option(help="analyst, partner or public.")] = "partner",
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Make an API key. It is shown once: only its hash is stored."""
    from geodata.model import ApiKeyRecord

    from .security import ROLES, new_api_key, now_utc

    if role not in ROLES:
        fail(f"--role must be one of {ROLES}; got {role!r}", 2, as_json)
    key_id, key, key_hash = new_api_key()
    with reporting_errors(as_json), _store(store) as st:
        st.add_api_key(
            ApiKeyRecord(
                key_id=key_id,
                name=name,
                role=role,
                key_hash=key_hash,
                created_at=now_utc(),
                revoked_at=None,
            )
        )
    if as_json:
        print_json({"key_id": key_id, "name": name, "role": role, "key": key})
    else:
        out.print(
            f"Created {role} key {key_id} for {name}:\n\n  {key}\n\n"
            "Copy it now: it is not shown again. Send it as `X-API-Key`."
        )


@keys_app.command("list")
def keys_list(store: StoreOpt = None, as_json: JsonOpt = False) -> None:
    """List API keys (never the keys themselves)."""
    with reporting_errors(as_json), _store(store) as st:
        keys = st.list_api_keys()
    rows = [
        {
            "key_id": k.key_id,
            "name": k.name,
            "role": k.role,
            "created_at": k.created_at.isoformat(),
            "revoked_at": k.revoked_at.isoformat() if k.revoked_at else None,
        }
        for k in keys
    ]
    if as_json:
        print_json(rows)
        return
    table = Table(title=f"{len(rows)} API keys", title_justify="left")
    for col in ("key_id", "name", "role", "created_at", "revoked_at"):
        table.add_column(col)
    for r in rows:
        table.add_row(
            *[str(r[c] or "") for c in ("key_id", "name", "role", "created_at", "revoked_at")]
        )
    out.print(table)


@keys_app.command("revoke")
def keys_revoke(key_id: str, store: StoreOpt = None, as_json: JsonOpt = False) -> None:
    """Revoke an API key at once."""
    from .security import now_utc

    with reporting_errors(as_json), _store(store) as st:
        done = st.revoke_api_key(key_id, now_utc())
    if not done:
        fail(f"no live key {key_id!r}; see `hotspots keys list`", EXIT_NOT_FOUND, as_json)
    if as_json:
        print_json({"revoked": key_id})
    else:
        out.print(f"Revoked {key_id}.")


def _serve(app_settings, host: str, port: int) -> None:
    import uvicorn

    from .app import create_app
    from .http_protocol import ProblemHttpToolsProtocol

    uvicorn.run(
        create_app(app_settings),
        host=host,
        port=port,
        log_level="info",
        http=ProblemHttpToolsProtocol,  # unparseable requests get problem+json too
    )


@app.command("serve")
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
    store: StoreOpt = None,
    workers: Annotated[int, typer.Option(help="Worker processes (PostGIS only).")] = 1,
) -> None:
    """Run the web service (OpenAPI docs at /docs, OGC API - Features at /ogc)."""
    import os

    from .cli_runs import secret_beside
    from .settings import ApiSettings, Settings

    settings = _store_settings(store)
    given = os.environ.get("HOTSPOTS_SECRET_KEY")
    if not given and not settings.database_url:
        # the embedded store: a key made once and kept beside its file (like the demo's)
        given, where = secret_beside(settings.duckdb_path)
        out.print(f"Share links are signed with the key in {where} (or set HOTSPOTS_SECRET_KEY).")
    try:
        api = ApiSettings(secret_key=given) if given else ApiSettings()  # type: ignore[call-arg]
    except ValueError:
        fail(
            "cannot start: HOTSPOTS_SECRET_KEY must be set to a random string of at least 32 "
            "characters (e.g. `python3 -c 'import secrets; print(secrets.token_urlsafe(48))'`)",
            EXIT_CONFIG,
        )
    if workers > 1 and not settings.database_url:
        fail("the embedded DuckDB store takes one process: use --workers 1 or PostGIS", 2)
    if workers > 1:
        fail(
            "several workers need an import string: run `uvicorn --factory api.app:create_app "
            f"--workers {workers}` with HOTSPOTS_DATABASE_URL set instead",
            2,
        )
    _serve(Settings(api, settings), host, port)


DEMO_ANALYSES = (
    (
        "Violence and sexual offences: density clusters (DBSCAN, scale chosen from the data)",
        {"method": "dbscan", "categories": ["violent-crime"]},
    ),
    (
        "Anti-social behaviour: Gi* hot H3 cells (res 9, FDR-corrected)",
        {"method": "gistar", "categories": ["anti-social-behaviour"], "resolution": 9, "fdr": True},
    ),
)
DEMO_LINK_DAYS = 30


def _demo_secret(st: Store) -> tuple[str, str]:
    """HOTSPOTS_SECRET_KEY, or the key kept beside the demo's DuckDB file (as `hotspots
    serve` and `hotspots share` use), or a random one for an in-memory store."""
    import secrets

    from .cli_runs import service_secret

    try:
        return service_secret(st)
    except LookupError:
        return secrets.token_urlsafe(48), "a random key for this session"


def _demo_links(st: Store, runs, secret: str, base: str) -> list[tuple[str, str]]:
    """A partner-role share link per demo run (no login needed to open it)."""
    from geodata.model import ShareLinkRecord

    from .security import new_link_id, now_utc, sign_link

    links = []
    live = {
        link.run_id: link
        for link in st.list_share_links()
        if link.created_by == "hotspots demo"
        and link.revoked_at is None
        and link.expires_at > now_utc() + timedelta(days=1)
    }
    for name, run in runs:
        if run.run_id in live:  # running the demo again reuses its links
            links.append((name, f"{base}/share/{sign_link(live[run.run_id].link_id, secret)}/"))
            continue
        created = now_utc()
        link = ShareLinkRecord(
            link_id=new_link_id(),
            run_id=run.run_id,
            role="partner",
            filters={"title": name.split(":")[0]},
            created_by="hotspots demo",
            created_at=created,
            expires_at=created + timedelta(days=DEMO_LINK_DAYS),
            revoked_at=None,
        )
        st.add_share_link(link)
        links.append((name, f"{base}/share/{sign_link(link.link_id, secret)}/"))
    return links


@app.command("demo")
def demo(
    store: StoreOpt = None,
    as_json: JsonOpt = False,
    serve_after: Annotated[
        bool | None,
        typer.Option(
            "--serve/--no-serve",
            help="Serve the demo afterwards (default: when run in a terminal).",
        ),
    ] = None,
    host: Annotated[str, typer.Option(help="Address to serve on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to serve on.")] = 8000,
) -> None:
    """Load the Gravesham demo (real police.uk data, 2022), rank its hotspots, serve them."""
    import sys

    from geodata.coverage import coverage_of
    from geodata.demo import ATTRIBUTION, load_demo
    from hotspots.analysis import AnalysisParams

    from .routes.analyses import AnalysisRequest
    from .service import run_or_reuse
    from .settings import ApiSettings, Settings

    if serve_after is None:
        serve_after = not as_json and sys.stdin.isatty() and sys.stdout.isatty()
    base = f"http://{host}:{port}"
    with reporting_errors(as_json), _store(store) as st:
        where = getattr(st, "path", None) or "PostGIS"
        with import_progress(not as_json) as (on_file, on_rows):
            summary = load_demo(st, progress=on_rows, on_file=on_file)
        total = st.count_incidents()
        runs = []
        for name, kw in DEMO_ANALYSES:
            request = AnalysisRequest(**kw).model_dump(mode="json", by_alias=True)
            params = AnalysisParams(**{**kw, "categories": tuple(kw["categories"])})
            run, _ = run_or_reuse(st, request, params)
            runs.append((name, run))
        secret, secret_from = _demo_secret(st)
        links = _demo_links(st, runs, secret, base)
        coverage = coverage_of(st)
    if as_json:
        print_json(
            {
                **summary.to_dict(),
                "store": str(where),
                "incidents_stored": total,
                "analyses": {name: run.result for name, run in runs},
                "run_ids": {name: run.run_id for name, run in runs},
                "share_links": dict(links),
                "coverage": coverage.to_dict(),
                "served": False,
            }
        )
        return
    out.print(f"[bold]Gravesham demo[/] loaded into {where}")
    out.print(
        "Boundaries: "
        + ", ".join(f"{n} {k}" for k, n in summary.boundaries.items())
        + f"; population {summary.population_total:,.0f} (mid-2019, LSOA 2011)"
    )
    print_import_report(summary.report, "police.uk, Kent Police, Gravesham area, 2022")
    out.print(
        f"{total:,} incidents stored. The police.uk extracts also hold rows from neighbouring "
        "districts; those more than 2 km outside Gravesham are quarantined as outside the "
        "study area, by design."
    )
    out.print()
    _print_coverage(coverage)
    for name, run in runs:
        out.print()
        print_ranked(run.result, 5, title=f"{name} — run {run.run_id}")
    out.print("\n[bold]Open in a browser[/] (share links: no login, partner view):")
    for name, url in links:
        out.print(f"  {name.split(':')[0]}: {url}")
    out.print(f"  API docs: {base}/docs    OGC API - Features (QGIS, ArcGIS): {base}/ogc")
    out.print(
        "\nMore: `hotspots analyse --help`, e.g. `hotspots analyse --method emerging "
        "--categories anti-social-behaviour`."
    )
    err.print(f"[dim]{ATTRIBUTION}[/]")
    if not serve_after:
        how = (
            ""
            if secret_from == "HOTSPOTS_SECRET_KEY"
            else f"HOTSPOTS_SECRET_KEY=$(cat {secret_from}) "
        )
        out.print(
            f"Not serving (no terminal). To serve these links: {how}hotspots serve "
            f"--port {port}" + (f" --store {store}" if store is not None else "")
        )
        return
    store_settings = _store_settings(store)
    out.print(f"Serving on {base} (share links signed with {secret_from}); Ctrl-C stops.")
    _serve(Settings(ApiSettings(secret_key=secret), store_settings), host, port)


from .cli_maps import write_map as _write_map  # noqa: E402  (hotspots map RUN_ID -o FILE)

app.command("map")(_write_map)

# Forecast backtests and near-repeat (Knox) tests (api/cli_eval.py).
from .cli_eval import backtest_cmd as _backtest_cmd  # noqa: E402
from .cli_eval import knox_cmd as _knox_cmd  # noqa: E402

app.command("backtest")(_backtest_cmd)
app.command("knox")(_knox_cmd)


# Stored runs and share links (api/cli_runs.py).
from .cli_runs import runs_app, share_cmd  # noqa: E402

app.add_typer(runs_app, name="runs")
app.command("share")(share_cmd)

# Which months are loaded per source (api/cli_coverage.py).
from .cli_coverage import coverage_cmd as _coverage_cmd  # noqa: E402
from .cli_coverage import print_coverage as _print_coverage  # noqa: E402

app.command("coverage")(_coverage_cmd)


# The interventions log and before/after evaluation (api/cli_interventions.py).
from .cli_interventions import evaluate as _evaluate  # noqa: E402
from .cli_interventions import interventions_app  # noqa: E402

app.add_typer(interventions_app, name="interventions")
app.command("evaluate")(_evaluate)


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except NotFound as exc:  # pragma: no cover - commands report their own errors
        err.print(f"error: {exc.message}")
        raise SystemExit(EXIT_NOT_FOUND) from None
