"""``hotspots map RUN_ID -o map.html``: a run's map as one standalone HTML file.

Registered on the main app by :mod:`api.cli`. Leaflet and its plugins are
inlined, so the file opens offline (base-map tiles aside: the hotspot layers
show on a plain background when tiles cannot load). Exit codes as in
:mod:`api.cli.output` (2 a bad option, 4 the store failed, 5 the map assets
were never fetched, 6 no such run).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..security import ROLES
from .common import StoreOpt, cli_settings, open_cli_store, write_text_file
from .output import EXIT_CONFIG, EXIT_NOT_FOUND, EXIT_USAGE, fail, print_json, reporting_errors


def write_map(
    run_id: Annotated[
        str, typer.Argument(help="The run, e.g. run-0123456789abcdef (see the API's /runs).")
    ],
    output: Annotated[Path, typer.Option("--output", "-o", help="HTML file to write.")] = Path(
        "map.html"
    ),
    role: Annotated[
        str,
        typer.Option(
            "--role",
            help="Whose view: analyst (incident points too), partner, or public "
            "(small counts suppressed).",
        ),
    ] = "partner",
    title: Annotated[str | None, typer.Option("--title", help="Title on the map.")] = None,
    min_count: Annotated[
        int, typer.Option("--min-count", help="public: counts below this are suppressed.")
    ] = 5,
    store: StoreOpt = None,
    risk_zones: Annotated[
        Path | None,
        typer.Option(
            "--risk-zones",
            help="Near-repeat risk zones to draw (GeoJSON from `hotspots knox --zones` or "
            "POST /knox); partner and analyst views only.",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
) -> None:
    """Write a run's map to a standalone HTML file (scripts inlined; works offline)."""
    from maps.assets import MissingAssets

    from ..usecases.maps import run_map_page

    if role not in ROLES:
        fail(f"--role: expected one of {', '.join(ROLES)}; got {role!r}", EXIT_USAGE, as_json)
    zones = _read_zones(risk_zones, as_json) if risk_zones is not None else None
    if zones is not None and role == "public":
        fail("--risk-zones: not drawn on the public view; use --role partner", EXIT_USAGE, as_json)
    if min_count < 1:
        fail(f"--min-count: expected a whole number >= 1; got {min_count}", EXIT_USAGE, as_json)
    settings = cli_settings(store)
    with reporting_errors(as_json), open_cli_store(store, settings) as st:
        run = st.get_run(run_id)
        if run is None:
            fail(f"no run {run_id!r} in the store", EXIT_NOT_FOUND, as_json)
        try:
            page = run_map_page(
                st,
                run,
                role,
                min_count,
                title or f"Hotspots — {run.method}",
                settings.maps,
                assets="inline",
                risk_zones=zones,
            )
        except MissingAssets as exc:
            fail(str(exc), EXIT_CONFIG, as_json)
        write_text_file(output, page, "--output", as_json)
    if as_json:
        print_json({"run_id": run_id, "role": role, "output": str(output), "bytes": len(page)})
    else:
        typer.echo(f"wrote {output} ({len(page) / 1e6:.2f} MB, {role} view of {run_id})")


def _read_zones(path: Path, as_json: bool) -> dict:
    """Risk zones from a GeoJSON file, or ``POST /knox``'s answer (its ``risk_zones``)."""
    import json

    from maps.overlays import InvalidOverlay, risk_zone_features

    from .output import EXIT_INPUT

    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        fail(f"--risk-zones: cannot read {path} ({exc.strerror or exc})", EXIT_USAGE, as_json)
    except ValueError as exc:
        fail(f"--risk-zones: {path} is not JSON ({exc})", EXIT_INPUT, as_json)
    if isinstance(doc, dict) and isinstance(doc.get("risk_zones"), dict):
        doc = doc["risk_zones"]
    try:
        risk_zone_features(doc)
    except InvalidOverlay as exc:
        fail(f"--risk-zones: {path}: {exc}", EXIT_INPUT, as_json)
    return doc
