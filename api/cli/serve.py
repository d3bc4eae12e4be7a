"""``hotspots serve``: the web service (OpenAPI docs at /docs, OGC API at /ogc)."""

from __future__ import annotations

from typing import Annotated

import typer

from .common import StoreOpt, cli_settings
from .output import EXIT_CONFIG, fail, out
from .secret import ENV_VAR, NoSecret, service_secret, signing_settings


def run_server(app_settings, host: str, port: int, workers: int = 1) -> None:
    """Serve the app for these settings with uvicorn until stopped: in this process, or
    (``workers`` > 1, PostGIS) in that many processes, each building the app from the
    same ``HOTSPOTS_*`` variables (uvicorn's ``--factory``)."""
    import uvicorn

    from ..app import create_app
    from ..http_protocol import ProblemHttpToolsProtocol

    options = {
        "host": host,
        "port": port,
        "log_level": "info",
        "http": ProblemHttpToolsProtocol,  # unparseable requests get problem+json too
    }
    if workers > 1:
        uvicorn.run("api.app:create_app", factory=True, workers=workers, **options)
    else:
        uvicorn.run(create_app(app_settings), **options)


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
    store: StoreOpt = None,
    workers: Annotated[
        int, typer.Option(min=1, help="Server processes (PostGIS only): one per core.")
    ] = 1,
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
    run_server(serving, host, port, workers)
