"""``hotspots serve``: the web service (OpenAPI docs at /docs, OGC API at /ogc)."""

from __future__ import annotations

from typing import Annotated

import typer

from .common import StoreOpt, cli_settings
from .output import EXIT_CONFIG, fail, out
from .secret import ENV_VAR, NoSecret, service_secret, signing_settings


def run_server(app_settings, host: str, port: int) -> None:
    """Serve the app for these settings with uvicorn (one process) until stopped."""
    import uvicorn

    from ..app import create_app
    from ..http_protocol import ProblemHttpToolsProtocol

    uvicorn.run(
        create_app(app_settings),
        host=host,
        port=port,
        log_level="info",
        http=ProblemHttpToolsProtocol,  # unparseable requests get problem+json too
    )


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
    store: StoreOpt = None,
    workers: Annotated[int, typer.Option(help="Worker processes (PostGIS only).")] = 1,
) -> None:
    """Run the web service (OpenAPI docs at /docs, OGC API - Features at /ogc).

    Share links are signed with HOTSPOTS_SECRET_KEY. Without it, the embedded store gets a
    key kept beside its file (made once, mode 0600); a PostGIS store needs the variable.
    """
    from geodata.errors import ConfigurationError

    root = cli_settings(store)
    try:
        settings = root.store
        if workers > 1 and not settings.database_url:
            fail("the embedded DuckDB store takes one process: use --workers 1 or PostGIS", 2)
        if workers > 1:
            fail(
                "several workers need an import string: run `uvicorn --factory "
                f"api.app:create_app --workers {workers}` with HOTSPOTS_DATABASE_URL set instead",
                2,
            )
        secret = service_secret(root)
        serving = signing_settings(root, secret)
    except (NoSecret, ConfigurationError) as exc:
        fail(f"cannot start: {getattr(exc, 'message', None) or exc}", EXIT_CONFIG)
    if secret.created:
        out.print(
            f"Made a key for signing share links in {secret.source} (mode 0600); "
            f"set {ENV_VAR} to use your own.",
            soft_wrap=True,
        )
    elif secret.source != ENV_VAR:
        out.print(
            f"Share links are signed with the key in {secret.source} (or set {ENV_VAR}).",
            soft_wrap=True,
        )
    run_server(serving, host, port)
