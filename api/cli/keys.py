"""``hotspots keys create / list / revoke``: API keys for the web service (stored hashed)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from .common import JsonOpt, StoreOpt
from .common import open_cli_store as _store
from .output import (
    EXIT_NOT_FOUND,
    fail,
    out,
    print_json,
    reporting_errors,
)

keys_app = typer.Typer(help="API keys for the web service (stored hashed).", no_args_is_help=True)


@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Argument(help="Who or what the key is for.")],
    role: Annotated[str, typer.Option(help="analyst, partner or public.")] = "partner",
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Make an API key. It is shown once: only its hash is stored."""
    from geodata.model import ApiKeyRecord

    from ..security import ROLES, new_api_key, now_utc

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
    rows = [k.listing() for k in keys]
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
    from ..security import now_utc

    with reporting_errors(as_json), _store(store) as st:
        done = st.revoke_api_key(key_id, now_utc())
    if not done:
        fail(f"no live key {key_id!r}; see `hotspots keys list`", EXIT_NOT_FOUND, as_json)
    if as_json:
        print_json({"revoked": key_id})
    else:
        out.print(f"Revoked {key_id}.")
