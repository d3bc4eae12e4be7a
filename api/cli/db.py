"""``hotspots db upgrade`` and ``hotspots db status``: the store's schema migrations."""

from __future__ import annotations

import typer

from .common import JsonOpt, StoreOpt
from .common import store_settings as _store_settings
from .output import (
    out,
    print_json,
    reporting_errors,
)

db_app = typer.Typer(help="The store's schema.", no_args_is_help=True)


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
