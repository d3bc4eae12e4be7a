"""``hotspots demo``: load the Gravesham demo, rank its hotspots, share and serve them."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from geodata.stores import Store

    from ..settings import Settings

from .common import JsonOpt, StoreOpt, cli_settings
from .common import open_cli_store as _store
from .coverage import print_coverage as _print_coverage
from .output import (
    err,
    import_progress,
    out,
    print_import_report,
    print_json,
    print_ranked,
    reporting_errors,
)
from .secret import NoSecret, ServiceSecret, service_secret, signing_settings
from .serve import run_server

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


def _demo_secret(settings: Settings) -> ServiceSecret:
    """The signing key as ``hotspots serve`` and ``hotspots share`` find it
    (:func:`api.cli.secret.service_secret`), or a random one for an in-memory store."""
    import secrets

    try:
        return service_secret(settings)
    except NoSecret:
        return ServiceSecret(secrets.token_urlsafe(48), "a random key for this session")


def _demo_links(st: Store, runs, secret: str, base: str) -> list[tuple[str, str]]:
    """A partner-role share link per demo run (no login needed to open it)."""
    from geodata.model import ShareLinkRecord

    from ..security import new_link_id, now_utc, sign_link

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

    from ..usecases.analyse import run_or_reuse
    from ..usecases.analysis_request import AnalysisRequest

    if serve_after is None:
        serve_after = not as_json and sys.stdin.isatty() and sys.stdout.isatty()
    base = f"http://{host}:{port}"
    root = cli_settings(store)
    with reporting_errors(as_json), _store(store, root) as st:
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
        signing = _demo_secret(root)
        secret, secret_from = signing.value, signing.source
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
    out.print(f"Serving on {base} (share links signed with {secret_from}); Ctrl-C stops.")
    with reporting_errors(as_json):
        serving = signing_settings(root, signing)
    run_server(serving, host, port)
