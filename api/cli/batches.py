"""``hotspots batches``, ``delete-batch`` and ``quarantine``: what was loaded and rejected."""

from __future__ import annotations

from pathlib import Path
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
